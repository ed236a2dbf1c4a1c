"""Elasticsearch EQL over the Elastic AWS integration (``logs-aws.cloudtrail-*``).

The stock :class:`~sigma.backends.elasticsearch.EqlBackend` writes ``field:"value"`` for plain values but
``==`` for IPs and empty strings, ``regex~`` with Sigma's (Python) regex unchanged, and ``not`` without
regard for events that lack the field. This subclass keeps its output formats and fixes the meaning:

* EQL reference, "Comparison operators" (elastic/elasticsearch
  ``docs/reference/query-languages/eql/eql-syntax.md``; elastic.co/guide/en/elasticsearch/reference/current/
  eql-syntax.html): ``==`` is case-sensitive and has no wildcards, ``:`` is case-insensitive and takes ``*``
  and ``?`` wildcards and lists; ``like``/``regex`` are case-sensitive, ``like~``/``regex~`` are not;
  ``in``/``in~``. So Sigma's default matching becomes ``:`` and ``|cased`` becomes ``==``/``like``/``in``.
* ``regex``/``regex~`` take a Lucene regular expression (Query DSL "Regular expression syntax"), which
  matches the whole value. Sigma ``|re`` is a Python regex with ``re.search`` semantics, so it is
  translated (:mod:`._lucene_regexp`, shared with Lucene and ES|QL), or rejected where Lucene has no
  equivalent. A case-insensitive ``|re|i`` is written with explicit case classes under ``regex``, not as
  ``regex~``: Elasticsearch's case-insensitive regexps fold ASCII letters only (Lucene
  ``RegExp.ASCII_CASE_INSENSITIVE``), which is not the project's case rule (:mod:`~sigma_lambda_layer.casing`).
* ``:`` and ``like`` hand the pattern to a Lucene wildcard query, where ``\\`` is an escape character
  (``WildcardQuery.toAutomaton``; QL ``WildcardPattern``). Values holding a literal ``*``, ``?`` or ``\\`` are
  therefore matched with a Lucene regexp instead, whose escaping is documented.
* "Comparing fields": EQL cannot compare a field to another field, so ``|fieldref`` is an error.
* Flattened fields (``aws.cloudtrail.flattened.*``, where ``requestParameters.X`` and friends live) cannot
  be used in EQL: EQL maps ``flattened`` to its UNSUPPORTED type and its verifier rejects such fields
  ("Cannot use field [...] with unsupported type [flattened]", elastic/elasticsearch#101985); the QL
  ``IndexResolver`` marks every field below an unsupported parent as unsupported too (#50823), and keyed
  sub-fields are not in ``field_caps`` at all, so ``?field`` (optional field) would read them as null and
  silently match nothing. They are an error naming the field.
* A value test on a whole free-form object (``requestParameters|contains: x``) is an error: Sigma compares
  values with scalars only, so the rule matches no event, while the integration's ``Map.toString()`` keyword
  (``aws.cloudtrail.request_parameters``) would match the object's text: a different rule.
* Negation: the EQL reference does not define ``not`` over a missing value, so a negated comparison is
  written ``(?field == null or not <comparison>)``; ``?`` marks the field optional ("Optional fields").
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.backends.elasticsearch import EqlBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.types import (
    SigmaCIDRExpression,
    SigmaString,
)

from sigma_lambda_layer.backends._elastic import (
    ComparisonDispatch,
    DetectionRuleFormats,
    StringPattern,
    condition_regexp,
    is_case_free,
    quote_field,
    quote_string,
    refuse_cidr_on_non_ip,
    refuse_whole_object,
)
from sigma_lambda_layer.dialect import FormatFile
from sigma_lambda_layer.errors import unsupported
from sigma_lambda_layer.fields.elastic import INDEX_PATTERN


class CloudTrailEqlBackend(ComparisonDispatch, DetectionRuleFormats, EqlBackend):
    """EQL whose comparisons mean what the Sigma rule means on ``logs-aws.cloudtrail-*``."""

    name: ClassVar[str] = "Elasticsearch EQL for AWS CloudTrail (Elastic AWS integration)"
    query_language: ClassVar[str] = "EQL"
    detection_rule_type: ClassVar[str] = "eql"
    detection_rule_language: ClassVar[str] = "eql"
    format_files: ClassVar[dict[str, FormatFile]] = {
        **DetectionRuleFormats.format_files,
        "eqlapi": FormatFile("json", "json"),
    }
    # EQL, like most languages, binds "and" tighter than "or" (the stock backend lists OR before AND).
    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (  # type: ignore[assignment]
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    # With the precedence right, group only where needed (the stock backend parenthesises everything).
    parenthesize: bool = False
    # ``?field == null``: the field has no value, also where the mapping lacks it ("Optional fields").
    null_expression: ClassVar[str] = "?{field} == null"
    not_null_expression: ClassVar[str] = "?{field} != null"
    # A negated comparison also holds for events without the field (Sigma: a missing field equals nothing).
    negation_expression: ClassVar[str] = "({guard} or not {expr})"

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """``|gt`` and friends: refused on a whole object (CloudTrail holds an object there), as elsewhere."""
        refuse_whole_object(cond.field, "a numeric comparison")
        return str(super().convert_condition_field_compare_op_val(cond, state))

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **kwargs: Any):
        kwargs.setdefault("index_names", [INDEX_PATTERN])
        super().__init__(processing_pipeline, collect_errors, **kwargs)

    def compare_precedence(self, outer: Any, inner: Any) -> bool:
        """A value list (one ``:``/``in`` lookup) and a null test are atoms: no grouping needed."""
        if isinstance(inner, ConditionOR) and self.decide_convert_condition_as_in_expression(
            inner, ConversionState()
        ):
            return True
        if isinstance(inner, ConditionFieldEqualsValueExpression):
            return True
        return bool(TextQueryBackend.compare_precedence(self, outer, inner))

    # ----------------------------------------------------------------- fields and values

    def escape_and_quote_field(self, field_name: str) -> str:
        return quote_field(field_name)

    def _string_match(self, field: str, values: list[SigmaString], cased: bool) -> str:
        """One comparison of ``field`` with one or more (OR-ed) string values."""
        refuse_whole_object(field, f"a string match ({', '.join(repr(str(v)) for v in values)})")
        f = quote_field(field)
        patterns = [StringPattern.of(v) for v in values]
        # A literal *, ? or \ cannot be written portably in a ':'/like wildcard pattern: use a regexp.
        needs_regexp = any(
            isinstance(part, str) and any(c in part for c in "*?\\") for p in patterns for part in p.parts
        )
        if needs_regexp:  # case-insensitive by explicit classes: regex~ folds ASCII only before Lucene 10
            op = "regex"
            regexps = [quote_string(p.to_lucene_regexp(ignorecase=not cased)) for p in patterns]
        elif all(not p.has_wildcards for p in patterns) and (
            cased or all(is_case_free(p.text) for p in patterns)
        ):
            texts = [quote_string(p.text) for p in patterns]
            if len(texts) == 1:
                return f"{f} == {texts[0]}"
            return f"{f} in ({', '.join(texts)})"
        else:
            op = "like" if cased else ":"
            regexps = [quote_string(p.to_wildcard(lambda s: s)) for p in patterns]
        if len(regexps) == 1:
            return f"{f} {op} {regexps[0]}"
        return f"{f} {op} ({', '.join(regexps)})"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"{quote_field(cond.field)} regex {quote_string(condition_regexp(cond))}"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaCIDRExpression)
        refuse_cidr_on_non_ip(cond.field)
        return f"cidrMatch({quote_field(cond.field)}, {quote_string(str(cond.value.network))})"

    def presence_test(self, field: str, present: bool) -> str:
        """``?f != null`` / ``?f == null`` (shared with :func:`negate`)."""
        template = self.not_null_expression if present else self.null_expression
        return template.format(field=quote_field(field))

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> str:
        unsupported(
            "EQL cannot compare a field with another field (|fieldref); see the EQL reference, "
            "'Comparing fields'",
            source=cond.source,
            construct="|fieldref",
            field=cond.field,
        )

    def target_indices(self, state: ConversionState) -> list[str]:
        """The EQL rule reads the pipeline's index, else the backend's ``index_names``."""
        indexes = state.processing_state.get("index") or self.index_names
        return list(indexes) if isinstance(indexes, (list, tuple)) else [str(indexes)]
