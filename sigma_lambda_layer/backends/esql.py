"""Elasticsearch ES|QL over the Elastic AWS integration (``from logs-aws.cloudtrail-*``).

The stock :class:`~sigma.backends.elasticsearch.ESQLBackend` reads ``from *``, compares with ``==`` / ``like``
/ ``starts_with`` (all case-sensitive in ES|QL), passes Sigma's Python regex to ``rlike`` unchanged, and
negates with a bare ``not``. This subclass keeps its output formats and fixes the meaning. Facts from the
ES|QL reference (elastic.co/guide/en/elasticsearch/reference/current/esql-*.html; elastic/elasticsearch
``docs/reference/query-languages/esql``):

* ``==``, ``IN``, ``LIKE``, ``RLIKE``, ``STARTS_WITH`` and ``ENDS_WITH`` are case-sensitive. Case-insensitive
  matching lowercases the field with ``TO_LOWER`` and compares with the lowercased value. (``=~``, the
  case-insensitive equality of elastic/elasticsearch#103656/#104844, only covers equality and is not in every
  8.x release, so it is not used.)
* ``LIKE`` wildcards are ``*`` and ``?``, escaped with ``\\`` (itself escaped in the string literal).
  ``RLIKE`` takes a Lucene regular expression that must match the whole value; Sigma ``|re`` is translated
  by :func:`~sigma_lambda_layer.backends.eql.to_lucene_regexp`.
* Three-valued logic: a comparison with a null (missing) field is null and ``WHERE`` drops null rows, so
  ``NOT (field == "x")`` is not true for events without the field (elastic/elasticsearch#129125, #114050).
  A negated comparison is therefore written ``(field IS NULL OR NOT (<comparison>))``.
* ``flattened`` is an unsupported type ("ES|QL limitations", unsupported types), so the integration's
  ``aws.cloudtrail.flattened.*`` fields are an error.
* Multivalued fields: functions and comparisons on a field with several values return null
  ("ES|QL multivalued fields"), which would silently drop events; fields that hold arrays in CloudTrail
  records (``aws.cloudtrail.resources.*``, ``related.*``) are an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from sigma.backends.elasticsearch import ESQLBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRuleTag
from sigma.types import (
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
)

from sigma_lambda_layer.backends.eql import (
    CLOUDTRAIL_INDEX,
    StringPattern,
    is_case_free,
    negate,
    quote_field,
    quote_string,
    to_lucene_regexp,
)
from sigma_lambda_layer.errors import UnsupportedFieldError

#: Elastic fields that hold several values for one CloudTrail record (CloudTrail ``resources[]``; ECS
#: ``related.*``).
MULTIVALUED_PREFIXES: tuple[str, ...] = ("aws.cloudtrail.resources.", "related.")


def like_escape(text: str) -> str:
    """Literal text inside an ES|QL LIKE pattern: ``\\``, ``*`` and ``?`` are escaped with ``\\``."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def esql_field(field: str) -> str:
    """A field name for ES|QL, rejecting the field types ES|QL cannot compare reliably."""
    if field.startswith(MULTIVALUED_PREFIXES):
        raise UnsupportedFieldError(
            f"field {field!r} is multivalued for CloudTrail records with several entries; ES|QL "
            "comparisons on multivalued fields return null and would silently miss events",
            hint="use the eql or lucene target for this rule",
        )
    return quote_field(field)


class CloudTrailEsqlBackend(ESQLBackend):
    """ES|QL whose comparisons mean what the Sigma rule means on ``logs-aws.cloudtrail-*``."""

    name: ClassVar[str] = "Elasticsearch ES|QL for AWS CloudTrail (Elastic AWS integration)"
    state_defaults: ClassVar[dict[str, str]] = {
        "index": CLOUDTRAIL_INDEX,
        "metadata": "_id, _index, _version",
    }
    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (  # type: ignore[assignment]
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    null_expression: ClassVar[str] = "{field} IS NULL"
    not_null_expression: ClassVar[str] = "{field} IS NOT NULL"
    # A negated comparison also holds for events without the field (Sigma: a missing field equals nothing).
    negation_expression: ClassVar[str] = "({guard} or not ({expr}))"

    def escape_and_quote_field(self, field_name: str) -> str:
        return esql_field(field_name)

    def compare_precedence(self, outer: Any, inner: Any) -> bool:
        """A value list (one ``IN``) is an atom: no grouping needed."""
        if isinstance(inner, ConditionOR) and self.decide_convert_condition_as_in_expression(
            inner, ConversionState()
        ):
            return True
        return bool(super().compare_precedence(outer, inner))

    # ----------------------------------------------------------------- strings

    def _string_match(self, field: str, values: list[SigmaString], cased: bool) -> str:
        """One comparison of ``field`` with one or more (OR-ed) string values."""
        f = esql_field(field)
        patterns = [StringPattern.of(v) for v in values]
        fold = not cased and not all(is_case_free(p.text) for p in patterns)
        subject = f"TO_LOWER({f})" if fold else f

        def lit(text: str) -> str:
            return quote_string(text.lower() if fold else text)

        if len(patterns) > 1 and all(not p.has_wildcards for p in patterns):
            return f"{subject} in ({', '.join(lit(p.text) for p in patterns)})"
        parts = []
        for p in patterns:
            kind, literal = p.shape()
            if kind == "exact":
                parts.append(f"{subject} == {lit(literal)}")
            elif kind == "prefix":
                parts.append(f"STARTS_WITH({subject}, {lit(literal)})")
            elif kind == "suffix":
                parts.append(f"ENDS_WITH({subject}, {lit(literal)})")
            else:
                pattern = p.to_wildcard(lambda s: like_escape(s.lower() if fold else s))
                parts.append(f"{subject} like {quote_string(pattern)}")
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaString)
        return self._string_match(cond.field, [cond.value], cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaString)
        return self._string_match(cond.field, [cond.value], cased=True)

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        """Plain string lists of one kind (all cased or all not) on one field become ``IN``."""
        if not super().decide_convert_condition_as_in_expression(cond, state):
            return False
        values = [arg.value for arg in cond.args if isinstance(arg, ConditionFieldEqualsValueExpression)]
        if not all(isinstance(v, SigmaString) for v in values):
            return False
        return len({isinstance(v, SigmaCasedString) for v in values}) == 1

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str:
        args = [arg for arg in cond.args if isinstance(arg, ConditionFieldEqualsValueExpression)]
        values = [arg.value for arg in args if isinstance(arg.value, SigmaString)]
        return self._string_match(args[0].field, values, cased=isinstance(values[0], SigmaCasedString))

    # ----------------------------------------------------------------- other values

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        flags = value.flags
        fold = SigmaRegularExpressionFlag.IGNORECASE in flags
        regexp = to_lucene_regexp(
            str(value.regexp),
            fold_case=fold,
            multiline=SigmaRegularExpressionFlag.MULTILINE in flags,
            dotall=SigmaRegularExpressionFlag.DOTALL in flags,
        )
        f = esql_field(cond.field)
        subject = f"TO_LOWER({f})" if fold else f
        return f"{subject} rlike {quote_string(regexp)}"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaCIDRExpression)
        return f"CIDR_MATCH({esql_field(cond.field)}, {quote_string(str(cond.value.network))})"

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.null_expression.format(field=esql_field(cond.field))

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.not_null_expression.format(field=esql_field(cond.field))

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.null_expression.format(field=esql_field(cond.field))

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaExists)
        if cond.value.exists:
            return self.convert_condition_field_exists(cond, state)
        return self.convert_condition_field_not_exists(cond, state)

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> str:
        """``|fieldref``: case-insensitive equality of two fields (null, so false, if either is missing)."""
        ref = cond.value
        assert isinstance(ref, SigmaFieldReference)
        if ref.starts_with or ref.ends_with:
            raise SigmaFeatureNotSupportedByBackendError(
                "ES|QL backend: |fieldref combined with |startswith or |endswith is not supported",
                source=cond.source,
            )
        return f"TO_LOWER({esql_field(cond.field)}) == TO_LOWER({esql_field(ref.field)})"

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            "keyword (unbound value) search is not supported for ES|QL: name the field", source=cond.source
        )

    convert_condition_val_num = convert_condition_val_str  # type: ignore[assignment]
    convert_condition_val_re = convert_condition_val_str  # type: ignore[assignment]

    def finalize_output_threat_model(self, tags: list[SigmaRuleTag]) -> Iterable[dict[str, Any]]:
        """The stock method imports pySigma's MITRE ATT&CK data, which is downloaded on first use, before
        checking whether the rule has the two ATT&CK tags it needs; skip that import when it cannot
        matter, so the SIEM rule formats of such rules work offline."""
        if sum(1 for t in tags if t.namespace == "attack") < 2:
            return []
        return super().finalize_output_threat_model(tags)

    # ----------------------------------------------------------------- negation

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> str:
        """Negation pushed down to comparisons (De Morgan), each guarded for missing fields."""
        return negate(self, cond.args[0], state)
