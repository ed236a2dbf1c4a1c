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
  by :mod:`~sigma_lambda_layer.backends._lucene_regexp` (shared with Lucene and EQL), ``|re|i`` with explicit
  case classes on the field itself: the regexp matches per character, as the reference evaluator does, where
  ``TO_LOWER`` of the whole value would differ on ``İ`` and a final sigma.
* Three-valued logic: a comparison with a null (missing) field is null and ``WHERE`` drops null rows, so
  ``NOT (field == "x")`` is not true for events without the field (elastic/elasticsearch#129125, #114050).
  A negated comparison is therefore written ``(field IS NULL OR NOT (<comparison>))``.
* ``flattened`` fields (the integration's ``aws.cloudtrail.flattened.request_parameters`` and friends, where
  ``requestParameters.X`` lives): ES|QL reads only the root, and ``FIELD_EXTRACT(root, "X")`` returns the
  keyword value(s) of the keyed sub-field ``X`` ("ES|QL and flattened fields"; "FIELD_EXTRACT", technical
  preview in 9.5.0, GA in 9.6.0: elastic/elasticsearch#148290, #151841, #156976). Before 9.5 ``flattened``
  is an unsupported type. Backend option ``esql_flattened``: ``field_extract`` (default) or ``error`` for
  older stacks. :class:`FlattenedKey` documents the comparisons used on extracted values.
* Multivalued fields: functions and comparisons on a field with several values return null
  ("ES|QL multivalued fields"), which would silently drop events; fields that hold arrays in CloudTrail
  records (``aws.cloudtrail.resources.*``, ``related.*``) are an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

from sigma.backends.elasticsearch import ESQLBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
)
from sigma.conversion.state import ConversionState
from sigma.types import (
    SigmaBool,
    SigmaCIDRExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer.backends._elastic import (
    ComparisonDispatch,
    DetectionRuleFormats,
    StringPattern,
    condition_regexp,
    is_case_free,
    quote_field,
    quote_name,
    quote_string,
    refuse_cidr_on_non_ip,
    refuse_whole_object,
)
from sigma_lambda_layer.dialect import BackendOption, FormatFile, one_of, validate
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError, refusal, unsupported
from sigma_lambda_layer.fields.cloudtrail import array_prefixes
from sigma_lambda_layer.fields.elastic import INDEX_PATTERN, flattened_root, subtree_of_flattened

#: Elastic fields that hold several values for one CloudTrail record (CloudTrail ``resources[]``; ECS
#: ``related.*``).
MULTIVALUED_PREFIXES: tuple[str, ...] = ("aws.cloudtrail.resources.", "related.")


#: Values of the backend option ``esql_flattened``.
FLATTENED_MODES: Final = ("field_extract", "error")

#: Separators tried for ``MV_CONCAT`` (the first one the searched text does not contain is used).
_CONCAT_SEPARATORS: Final = ("\n", "\t", "|", "\u0001", "\u001f")


def like_escape(text: str) -> str:
    """Literal text inside an ES|QL LIKE pattern: ``\\``, ``*`` and ``?`` are escaped with ``\\``."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def _folds(patterns: list[StringPattern], cased: bool) -> bool:
    """A case-insensitive match lowercases both sides, unless no pattern has a letter with case."""
    return not cased and not all(is_case_free(p.text) for p in patterns)


def _literal(text: str, fold: bool) -> str:
    """A string literal, lowercased to meet a ``TO_LOWER`` subject when ``fold``."""
    return quote_string(text.lower() if fold else text)


def _single_value_test(subject: str, pattern: StringPattern, fold: bool) -> str:
    """``subject`` (one value, lowercased when ``fold``) matches ``pattern``: ``==``, ``STARTS_WITH``,
    ``ENDS_WITH`` or ``LIKE``, all case-sensitive."""
    kind, literal = pattern.shape()
    if kind == "exact":
        return f"{subject} == {_literal(literal, fold)}"
    if kind == "prefix":
        return f"STARTS_WITH({subject}, {_literal(literal, fold)})"
    if kind == "suffix":
        return f"ENDS_WITH({subject}, {_literal(literal, fold)})"
    like = pattern.to_wildcard(lambda s: like_escape(s.lower() if fold else s))
    return f"{subject} like {quote_string(like)}"


def _any_of(tests: list[str]) -> str:
    """Comparisons ORed, grouped when there are several."""
    return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"


@dataclass(frozen=True)
class FlattenedKey:
    """A keyed sub-field of a ``flattened`` field, read with ``FIELD_EXTRACT(root, "key")``.

    ``FIELD_EXTRACT`` returns keyword values: strings as they are, numbers and booleans as their text, one
    value per array element (arrays of objects contribute each element's key, as the flattened mapping
    indexes them), null for a missing key and for a key that holds an object. A key may hold an array in
    some records, so comparisons must not assume one value: exact values use ``MV_CONTAINS`` (any value
    equals, 9.2), ``contains`` searches ``MV_CONCAT`` of the values with a separator the searched text does
    not contain (so a hit cannot straddle two values), and a pattern of only ``*`` is a presence test.
    Prefix, suffix, other wildcards and regular expressions have no any-value form before ``MV_LIKE``
    (elastic/elasticsearch#154475, not in 9.5): they use the single-value operators, and are refused on
    keys that :data:`~sigma_lambda_layer.fields.cloudtrail.ARRAY_FIELDS` lists as arrays.
    """

    root: str
    key: str
    cloudtrail: str | None

    @classmethod
    def of(cls, field: str) -> FlattenedKey | None:
        root = flattened_root(field)
        if root is None or field == root:
            return None
        sub = subtree_of_flattened(field)
        key = field[len(root) + 1 :]
        return cls(root, key, f"{sub.cloudtrail}.{key}" if sub is not None else None)

    @property
    def expression(self) -> str:
        return f"FIELD_EXTRACT({quote_name(self.root)}, {quote_string(self.key)})"

    @property
    def known_array(self) -> bool:
        return self.cloudtrail is not None and bool(array_prefixes(self.cloudtrail))

    def refuse(self, what: str, why: str, hint: str | None = None) -> UnsupportedConstructError:
        name = self.cloudtrail or self.key
        return refusal(
            f"{what} on {name!r} (ES|QL FIELD_EXTRACT): {why}", hint=hint, construct=what, field=name
        )


def _flattened_error(field: str) -> UnsupportedFieldError:
    return refusal(
        f"field {field!r} is a 'flattened' field (or a key of one), which ES|QL before 9.5 cannot read",
        hint="drop the option esql_flattened=error on Elasticsearch 9.5 or later (FIELD_EXTRACT), "
        "or use the lucene target",
        field=field,
        kind=UnsupportedFieldError,
    )


def esql_field(field: str) -> str:
    """A field name for ES|QL, rejecting the field types ES|QL cannot compare reliably."""
    if field.startswith(MULTIVALUED_PREFIXES):
        unsupported(
            f"field {field!r} is multivalued for CloudTrail records with several entries; ES|QL "
            "comparisons on multivalued fields return null and would silently miss events",
            hint="use the eql or lucene target for this rule",
            field=field,
            kind=UnsupportedFieldError,
        )
    return quote_field(field)


class CloudTrailEsqlBackend(ComparisonDispatch, DetectionRuleFormats, ESQLBackend):
    """ES|QL whose comparisons mean what the Sigma rule means on ``logs-aws.cloudtrail-*``.

    Backend option ``esql_flattened`` (``--option esql_flattened=error``): ``field_extract`` (default) reads
    ``requestParameters.X`` and friends with ``FIELD_EXTRACT`` (Elasticsearch 9.5 or later); ``error``
    refuses them, for older stacks where ``flattened`` is an unsupported type.
    """

    name: ClassVar[str] = "Elasticsearch ES|QL for AWS CloudTrail (Elastic AWS integration)"
    query_language: ClassVar[str] = "ES|QL"
    detection_rule_type: ClassVar[str] = "esql"
    detection_rule_language: ClassVar[str] = "esql"
    format_files: ClassVar[dict[str, FormatFile]] = {
        **DetectionRuleFormats.format_files,
        "kibana_ndjson": FormatFile("ndjson", "ndjson"),
    }
    state_defaults: ClassVar[dict[str, str]] = {
        "index": INDEX_PATTERN,
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

    options: ClassVar[tuple[BackendOption, ...]] = (
        *DetectionRuleFormats.options,
        BackendOption(
            "esql_flattened",
            "keyed flattened sub-fields: field_extract (Elasticsearch 9.5+) or error for older stacks",
            FLATTENED_MODES[0],
            one_of("", *FLATTENED_MODES),  # empty: the default
            f"valid values: {', '.join(FLATTENED_MODES)}",
            "ES|QL",
        ),
    )

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **options: Any):
        super().__init__(processing_pipeline, collect_errors, **options)
        validate(self.options, options)
        self.flattened_mode: str = str(options.get("esql_flattened") or FLATTENED_MODES[0])

    # ----------------------------------------------------------------- fields

    def _flattened_key(self, field: str) -> FlattenedKey | None:
        """The keyed flattened sub-field ``field`` names (refused when the option says so), else ``None``."""
        key = FlattenedKey.of(field)
        if key is not None and self.flattened_mode == "error":
            raise _flattened_error(field)
        return key

    def escape_and_quote_field(self, field_name: str) -> str:
        """A column, or the ``FIELD_EXTRACT`` of a flattened key (used by null guards of negations)."""
        key = self._flattened_key(field_name)
        if key is not None:
            return key.expression
        if flattened_root(field_name) is not None:
            if self.flattened_mode == "error":
                raise _flattened_error(field_name)
            return quote_name(field_name)  # a flattened root: readable from 9.5, used for presence tests
        return esql_field(field_name)

    def presence_test(self, field: str, present: bool) -> str:
        """``IS NOT NULL`` / ``IS NULL``, except on a flattened key, where an object value reads as null."""
        key = self._flattened_key(field)
        if key is not None:
            raise key.refuse(
                "a null or exists test",
                "FIELD_EXTRACT returns null for a key that holds an object, which Sigma counts as present",
                hint="to test for a scalar value write `field: '*'` (and `not` it for absence)",
            )
        template = self.not_null_expression if present else self.null_expression
        return template.format(field=self.escape_and_quote_field(field))

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
        refuse_whole_object(field, f"a string match ({', '.join(repr(str(v)) for v in values)})")
        patterns = [StringPattern.of(v) for v in values]
        key = self._flattened_key(field)
        if key is not None:
            return self._flattened_match(key, patterns, cased)
        f = esql_field(field)
        fold = _folds(patterns, cased)
        subject = f"TO_LOWER({f})" if fold else f
        if len(patterns) > 1 and all(not p.has_wildcards for p in patterns):
            return f"{subject} in ({', '.join(_literal(p.text, fold) for p in patterns)})"
        return _any_of([_single_value_test(subject, p, fold) for p in patterns])

    def _flattened_match(self, key: FlattenedKey, patterns: list[StringPattern], cased: bool) -> str:
        """Any value of a flattened key matches one of ``patterns`` (see :class:`FlattenedKey`)."""
        fold = _folds(patterns, cased)
        values = f"TO_LOWER({key.expression})" if fold else key.expression
        parts = []
        for p in patterns:
            kind, literal = p.shape()
            if p.has_wildcards and all(part is SpecialChars.WILDCARD_MULTI for part in p.parts):
                parts.append(f"{key.expression} IS NOT NULL")
            elif kind == "exact":
                parts.append(f"MV_CONTAINS({values}, {_literal(literal, fold)})")
            elif kind == "contains":
                needle = literal.lower() if fold else literal
                sep = next((c for c in _CONCAT_SEPARATORS if c not in needle), None)
                if sep is None:
                    raise key.refuse(f"|contains {literal!r}", "no separator for MV_CONCAT is free")
                joined = f"MV_CONCAT({key.expression}, {quote_string(sep)})"
                subject = f"TO_LOWER({joined})" if fold else joined
                parts.append(f"{subject} like {quote_string('*' + like_escape(needle) + '*')}")
            elif key.known_array:
                raise key.refuse(
                    f"the pattern {p.to_wildcard(lambda s: s)!r}",
                    "the key holds an array, and ES|QL has no any-value pattern match before MV_LIKE",
                    hint="use the lucene target, or match exact values or |contains",
                )
            else:
                parts.append(_single_value_test(values, p, fold))
        return _any_of(parts)

    # ----------------------------------------------------------------- other values

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """A Sigma boolean on a flattened key is its text (``true``/``false``, any case); elsewhere stock."""
        assert isinstance(cond.value, SigmaBool)
        if self._flattened_key(cond.field) is not None:
            text = SigmaString("true" if cond.value.boolean else "false")
            return self._string_match(cond.field, [text], cased=False)
        return super().convert_condition_field_eq_val_bool(cond, state)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        key = self._flattened_key(cond.field)
        if key is not None:
            raise key.refuse(
                f"the number {cond.value}",
                "FIELD_EXTRACT returns text, and Sigma compares numbers by value (1.5 equals 1.50)",
                hint="quote the number to match its text",
            )
        return super().convert_condition_field_eq_val_num(cond, state)

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        key = self._flattened_key(cond.field)
        if key is not None:
            raise key.refuse(
                "a numeric comparison (|gt, |gte, |lt, |lte)",
                "FIELD_EXTRACT returns text; a TO_DOUBLE of a value that is no number is null, which would "
                "turn `not` into no match",
            )
        refuse_whole_object(cond.field, "a numeric comparison")
        return str(super().convert_condition_field_compare_op_val(cond, state))

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        regexp = condition_regexp(cond)
        key = self._flattened_key(cond.field)
        if key is not None and key.known_array:
            raise key.refuse(
                "a regular expression (|re)",
                "the key holds an array, and ES|QL has no any-value regexp match before MV_RLIKE",
                hint="use the lucene target",
            )
        f = key.expression if key is not None else esql_field(cond.field)
        return f"{f} rlike {quote_string(regexp)}"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaCIDRExpression)
        key = self._flattened_key(cond.field)
        if key is not None:
            raise key.refuse(
                "a CIDR match (|cidr)",
                "FIELD_EXTRACT returns keyword, and TO_IP on a value that is no address is null, which "
                "would turn `not` into no match",
            )
        refuse_cidr_on_non_ip(cond.field)
        return f"CIDR_MATCH({esql_field(cond.field)}, {quote_string(str(cond.value.network))})"

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> str:
        """``|fieldref``: some value of one field equals some value of the other, case-insensitively.

        Plain fields: ``TO_LOWER(f) == TO_LOWER(g)`` (null, so false, if either is missing). A flattened key
        may hold several values: ``MV_CONTAINS(TO_LOWER(key values), TO_LOWER(g))``, with ``g IS NOT NULL``
        because ``MV_CONTAINS`` reads a null subset as empty, hence contained.
        """
        ref = cond.value
        assert isinstance(ref, SigmaFieldReference)
        if ref.starts_with or ref.ends_with:
            unsupported(
                "ES|QL backend: |fieldref combined with |startswith or |endswith is not supported",
                source=cond.source,
                construct="|fieldref",
                field=cond.field,
            )
        for f in (cond.field, ref.field):
            refuse_whole_object(f, "a field reference (|fieldref)")
        keys = [(f, self._flattened_key(f)) for f in (cond.field, ref.field)]
        flattened = [(f, k) for f, k in keys if k is not None]
        if not flattened:
            return f"TO_LOWER({esql_field(cond.field)}) == TO_LOWER({esql_field(ref.field)})"
        if len(flattened) == 2:
            raise flattened[0][1].refuse(
                "a field reference (|fieldref) between two flattened keys",
                "ES|QL has no any-value-equals-any-value test for two multivalued expressions",
            )
        (_, key), (other, _) = flattened[0], next((f, k) for f, k in keys if k is None)
        column = esql_field(other)
        return f"({column} IS NOT NULL and MV_CONTAINS(TO_LOWER({key.expression}), TO_LOWER({column})))"

    def target_indices(self, state: ConversionState) -> None:
        """None: the ES|QL query opens with its own ``from <index> metadata _id, _index, _version`` (the metadata
        lets Kibana deduplicate alerts across overlapping runs), so the rule has no ``index`` field."""
        return None
