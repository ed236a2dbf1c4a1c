"""Code the three Elastic backends (Lucene, EQL, ES|QL) share, kept out of any one backend's module.

* Kibana detection rules: :class:`DetectionRuleFormats` hands the finished query to
  :func:`sigma_lambda_layer.artifacts.kibana.detection_rule`.
* EQL and ES|QL spell strings, field names and regular expressions alike: double-quoted literals
  (:func:`quote_string`), backticked names (:func:`quote_name`), Lucene regexps for ``regex``/``RLIKE``
  (:func:`condition_regexp`, by :mod:`._lucene_regexp`), Sigma values as literal text and wildcards (:class:`StringPattern`), and
  negation pushed down to guarded comparisons (:func:`negate`).
* Backend mixins: :class:`DetectionRuleFormats` (the Kibana rule formats of all three targets) and
  :class:`ComparisonDispatch` (the pySigma conversion points EQL and ES|QL route alike to their own string
  match and presence test).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.types import (
    SigmaCasedString,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer.artifacts.kibana import RULE_OPTIONS, check_rule_options, detection_rule
from sigma_lambda_layer.backends._lucene_regexp import literal_regexp, translate_sigma
from sigma_lambda_layer.dialect import BackendOption, FormatFile
from sigma_lambda_layer.errors import UnsupportedFieldError, unsupported
from sigma_lambda_layer.fields.elastic import OBJECT_TEXT_FIELDS, field_type

# ----------------------------------------------------------------- EQL / ES|QL spelling


def condition_regexp(cond: ConditionFieldEqualsValueExpression) -> str:
    """The Lucene regexp for the ``|re`` comparison ``cond`` (:mod:`._lucene_regexp`: case-insensitivity as
    explicit classes, so the regexp goes to a case-sensitive ``regex``/``RLIKE``), refused on a whole object."""
    value = cond.value
    assert isinstance(value, SigmaRegularExpression)
    refuse_whole_object(cond.field, "a regular expression (|re)")
    return translate_sigma(value)


@dataclass(frozen=True)
class StringPattern:
    """A Sigma string value as literal text and wildcards, classified by the shape EQL/ES|QL can use."""

    parts: tuple[str | SpecialChars, ...]

    @classmethod
    def of(cls, value: SigmaString) -> StringPattern:
        merged: list[str | SpecialChars] = []
        for part in value.s:
            if isinstance(part, str):
                if merged and isinstance(merged[-1], str):
                    merged[-1] += part
                else:
                    merged.append(part)
            elif isinstance(part, SpecialChars):
                merged.append(part)
            else:
                unsupported(
                    f"value {value!s}: unexpanded placeholder",
                    hint="expand placeholders in a pipeline",
                    construct="placeholder",
                    value=str(value),
                )
        return cls(tuple(merged))

    @property
    def text(self) -> str:
        """The literal text (meaningful when the pattern has no wildcards)."""
        return "".join(p for p in self.parts if isinstance(p, str))

    @property
    def has_wildcards(self) -> bool:
        return any(isinstance(p, SpecialChars) for p in self.parts)

    @property
    def only_multi_wildcards(self) -> bool:
        return all(p is SpecialChars.WILDCARD_MULTI for p in self.parts if isinstance(p, SpecialChars))

    def shape(self) -> tuple[str, str]:
        """``(kind, literal)``: kind is exact, prefix, suffix, contains or wildcard."""
        p = self.parts
        multi = SpecialChars.WILDCARD_MULTI
        if not self.has_wildcards:
            return "exact", self.text
        if len(p) == 2 and isinstance(p[0], str) and p[1] is multi:
            return "prefix", p[0]
        if len(p) == 2 and p[0] is multi and isinstance(p[1], str):
            return "suffix", p[1]
        if len(p) == 3 and p[0] is multi and isinstance(p[1], str) and p[2] is multi:
            return "contains", p[1]
        return "wildcard", ""

    def render(self, multi: str, single: str, escape: Callable[[str], str]) -> str:
        """The pattern with ``*`` and ``?`` written as ``multi`` and ``single``, literal text through ``escape``."""
        out = []
        for part in self.parts:
            if part is SpecialChars.WILDCARD_MULTI:
                out.append(multi)
            elif part is SpecialChars.WILDCARD_SINGLE:
                out.append(single)
            else:
                assert isinstance(part, str)
                out.append(escape(part))
        return "".join(out)

    def to_lucene_regexp(self, *, ignorecase: bool) -> str:
        """The pattern as a Lucene regexp (whole-value match, like the wildcard pattern), case-insensitive by
        explicit classes (:func:`._lucene_regexp.literal_regexp`) when ``ignorecase``."""
        return self.render(".*", ".", lambda text: literal_regexp(text, ignorecase=ignorecase))

    def to_wildcard(self, escape: Callable[[str], str]) -> str:
        """The pattern as a ``*``/``?`` wildcard string, literal text passed through ``escape``."""
        return self.render("*", "?", escape)


def is_case_free(text: str) -> bool:
    """True if case-(in)sensitive comparison of ``text`` cannot differ (no letters with case)."""
    return text.lower() == text.upper()


def quote_string(text: str) -> str:
    """A double-quoted EQL / ES|QL string literal (both escape ``\\``, ``"``, CR, LF and tab)."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return '"' + escaped + '"'


#: Prefix of the integration's ``flattened`` copies of requestParameters, responseElements, ...
FLATTENED_PREFIX = "aws.cloudtrail.flattened."


def check_field(field: str) -> None:
    """Reject fields EQL cannot read (``flattened`` fields and their keyed sub-fields)."""
    if field.startswith(FLATTENED_PREFIX) or field + "." == FLATTENED_PREFIX:
        unsupported(
            f"field {field!r} is a 'flattened' field (or a key of one), which EQL cannot query: EQL treats "
            "the flattened type as unsupported (elastic/elasticsearch#101985)",
            hint="use the esql target (Elasticsearch 9.5 or later, FIELD_EXTRACT) or the lucene target",
            field=field,
            kind=UnsupportedFieldError,
        )


def refuse_whole_object(field: str, what: str) -> None:
    """A value test on a whole free-form object never matches in Sigma (values are compared with scalars),
    while the object's ``Map.toString()`` keyword would match its text: refuse rather than change the rule."""
    if field in OBJECT_TEXT_FIELDS:
        unsupported(
            f"{what} on {field!r}: CloudTrail holds a JSON object in this field, and Sigma compares values "
            "with scalars only, so the rule as written matches no event",
            hint="test a key of the object (requestParameters.<key>) instead",
            construct=what,
            field=field,
        )


#: Mapping types whose values are text: EQL and ES|QL refuse comparing them with a number (a type error).
_TEXT_TYPES: Final = frozenset({"keyword", "constant_keyword", "wildcard", "text", "match_only_text"})


def refuse_number_on_text(field: str, value: Any) -> None:
    """A Sigma number on a text field (``userAgent: 42``): EQL (``Expected string not number``) and ES|QL
    (a type mismatch) reject ``field == 42``, and a string comparison would miss ``042`` and ``42.0``, which
    Sigma's number equals (the Lucene target matches every decimal text with a regexp)."""
    try:
        kind = field_type(field)
    except KeyError:
        return  # a field from a custom pipeline: the stock comparison
    if kind in _TEXT_TYPES:
        unsupported(
            f"the number {value} on {field!r}: a {kind} field holds text, which EQL and ES|QL do not compare "
            f"with a number, and Sigma's number also equals texts such as '0{value}' and '{value}.0'",
            hint=f"quote the value ('{value}') to match exactly that text, or use the lucene target",
            construct=f"the number {value}",
            field=field,
            value=str(value),
        )


def refuse_cidr_on_non_ip(field: str) -> None:
    """``|cidr`` on a field not mapped ``ip``: EQL's ``cidrMatch`` and ES|QL's ``CIDR_MATCH`` take ip fields
    only (EQL reference, "cidrMatch": "supports only the ip field type"; ES|QL ``CIDR_MATCH(ip, ...)``), so
    ``cidrMatch(user_agent.original, ...)`` is an invalid query; the Lucene target refuses it alike."""
    try:
        kind = field_type(field)
    except KeyError:
        return  # a field from a custom pipeline: the stock rendering
    if kind not in ("ip", "flattened"):  # a flattened key has its own refusal
        unsupported(
            f"a CIDR match (|cidr) on {field!r}: only ip fields take CIDR matches, not {kind}",
            construct="a CIDR match (|cidr)",
            field=field,
        )


_IDENTIFIER = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@]*(\.[A-Za-z_@][A-Za-z0-9_@]*)*$")


def quote_field(field: str) -> str:
    """A field name EQL can read, quoted by :func:`quote_name`."""
    check_field(field)
    return quote_name(field)


def quote_name(field: str) -> str:
    """A field name, in backticks (inner backticks doubled) unless it is a plain dotted identifier."""
    if _IDENTIFIER.match(field):
        return field
    return "`" + field.replace("`", "``") + "`"


def negate(backend: Any, node: Any, state: ConversionState) -> str:
    """Convert ``not node`` so that a comparison on a missing field counts as false before negation.

    ``backend`` supplies ``convert_condition`` (positive form), ``presence_test``, ``null_expression``,
    ``negation_expression`` and ``decide_convert_condition_as_in_expression``. Shared by EQL and ES|QL.
    """

    def group(parts: list[str], joiner: str) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {joiner} ".join(parts) + ")"

    if isinstance(node, ConditionNOT):
        inner = backend.convert_condition(node.args[0], state)
        return inner if isinstance(node.args[0], ConditionFieldEqualsValueExpression) else f"({inner})"
    if isinstance(node, ConditionOR) and not backend.decide_convert_condition_as_in_expression(node, state):
        return group([negate(backend, a, state) for a in node.args], backend.and_token)
    if isinstance(node, ConditionAND):
        return group([negate(backend, a, state) for a in node.args], backend.or_token)
    if isinstance(node, ConditionOR):  # a value list on one field
        first = node.args[0]
        assert isinstance(first, ConditionFieldEqualsValueExpression)
        field = first.field
    elif isinstance(node, ConditionFieldEqualsValueExpression):
        field = node.field
        value = node.value
        if isinstance(value, SigmaExpansion):
            return negate(
                backend,
                ConditionOR([ConditionFieldEqualsValueExpression(field, v) for v in value.values]),
                state,
            )
        if isinstance(value, SigmaNull):
            return str(backend.presence_test(field, present=True))
        if isinstance(value, SigmaExists):
            return str(backend.presence_test(field, present=not value.exists))
    else:
        unsupported(
            f"cannot negate a {type(node).__name__} in this target",
            source=getattr(node, "source", None),
            construct="not",
        )
    guarded = [field]
    if isinstance(node, ConditionFieldEqualsValueExpression) and isinstance(node.value, SigmaFieldReference):
        guarded.append(node.value.field)
    guard = f" {backend.or_token} ".join(
        backend.null_expression.format(field=backend.escape_and_quote_field(f)) for f in guarded
    )
    positive = backend.convert_condition(node, state)
    return backend.negation_expression.format(guard=guard, expr=positive)


# ----------------------------------------------------------------- backend mixins


class DetectionRuleFormats(TextQueryBackend):
    """The Kibana rule formats every Elastic target writes the same way.

    A backend names its rule ``type`` and ``language`` and the indices a rule reads
    (:meth:`target_indices`); the rule is then :func:`detection_rule`'s, with ATT&CK ``threat`` entries
    from the shipped data (see :mod:`sigma_lambda_layer.attack`): no download, each technique under its own
    tactics, and rules with a single ATT&CK tag keep it. Detection-rule options (schedule, ``max_signals``)
    are refused when the backend is made, before any rule is converted.
    """

    #: Kibana's ``type`` and ``language`` of the rule (``query``/``lucene``, ``eql``/``eql``, ``esql``/``esql``).
    detection_rule_type: ClassVar[str]
    detection_rule_language: ClassVar[str]
    format_files: ClassVar[dict[str, FormatFile]] = {
        "siem_rule": FormatFile("json", "json"),
        "siem_rule_ndjson": FormatFile("ndjson", "ndjson"),
    }
    #: ``--option`` names, defaults and checks of the detection-rule formats (Kibana's rule schema).
    options: ClassVar[tuple[BackendOption, ...]] = RULE_OPTIONS

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **backend_options: Any):
        super().__init__(processing_pipeline, collect_errors, **backend_options)
        check_rule_options(self.backend_options)

    @abstractmethod
    def target_indices(self, state: ConversionState) -> list[str] | None:
        """The indices a rule's query reads (its ``index`` field), or ``None`` where the query names them."""

    def finalize_output_threat_model(self, tags: list[Any]) -> list[dict[str, Any]]:
        from sigma_lambda_layer.attack import threat_entries

        return threat_entries(tags)

    def finalize_query_siem_rule_ndjson(  # type: ignore[override]
        self, rule: Any, query: str, index: int, state: ConversionState
    ) -> dict[str, Any]:
        """One Kibana detection rule, as rule import reads it: see :func:`detection_rule`."""
        return detection_rule(
            rule,
            rule_type=self.detection_rule_type,
            language=self.detection_rule_language,
            query=self.finalize_query_default(rule, query, index, state),
            index=self.target_indices(state),
            options=self.backend_options,
        )


class ComparisonDispatch(TextQueryBackend):
    """The pySigma conversion points that EQL and ES|QL route alike.

    Every string comparison (one value, ``|cased`` or not, or a list of them on one field) goes to the
    backend's ``_string_match``; null and exists tests to its ``presence_test``; ``not`` to :func:`negate`.
    Numbers and booleans keep the stock spelling, but not on a whole free-form object (Sigma compares values
    with scalars only).
    A keyword search (a value without a field) is refused: both languages search named fields only.
    """

    #: The query language, as error messages name it.
    query_language: ClassVar[str]

    @abstractmethod
    def _string_match(self, field: str, values: list[SigmaString], cased: bool) -> str:
        """One comparison of ``field`` with one or more (OR-ed) string values."""

    @abstractmethod
    def presence_test(self, field: str, present: bool) -> str:
        """The field has a value (``present``) or has none (shared with :func:`negate`)."""

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
        """Lists only of strings of one kind (all cased or all not) on one field: one ``_string_match``."""
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

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        refuse_whole_object(cond.field, f"the number {cond.value}")
        refuse_number_on_text(cond.field, cond.value)
        return str(super().convert_condition_field_eq_val_num(cond, state))

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        refuse_whole_object(cond.field, f"the boolean {cond.value}")
        return str(super().convert_condition_field_eq_val_bool(cond, state))

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.presence_test(cond.field, present=False)

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.presence_test(cond.field, present=True)

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.presence_test(cond.field, present=False)

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaExists)
        return self.presence_test(cond.field, present=cond.value.exists)

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        unsupported(
            f"keyword (unbound value) search is not supported for {self.query_language}: name the field",
            source=cond.source,
            construct="keyword",
            value=str(cond.value),
        )

    convert_condition_val_num = convert_condition_val_str  # type: ignore[assignment]
    convert_condition_val_re = convert_condition_val_str  # type: ignore[assignment]

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> str:
        """Negation pushed down to comparisons (De Morgan), each guarded for missing fields."""
        return negate(self, cond.args[0], state)
