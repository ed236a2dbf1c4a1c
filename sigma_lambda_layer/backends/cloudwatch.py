"""Amazon CloudWatch Logs Insights (Logs Insights QL) backend.

No Sigma backend for Logs Insights existed, so this one is written on pySigma's ``TextQueryBackend``: the
boolean skeleton (``and``/``or``/``not``, grouping, field quoting, ``ispresent``) is declarative, and the
value leaves are overridden because Logs Insights has no case-insensitive string comparison. Sources (AWS
CloudWatch Logs User Guide): CWL_QuerySyntax (commands, ``like``/``=~``, ``(?i)``), CWL_QuerySyntax-Filter,
CWL_QuerySyntax-operations-functions (``ispresent``, ``tolower``, ``isValidIp``, ``isIpInSubnet``),
CWL_AnalyzeLogData-discoverable-fields (dot paths, ``.0`` array elements, backtick rule), and the StartQuery
API model (``queryString`` at most 10,000 characters).

Choices that keep Sigma's meaning, each because the documented operators would not:

* ``like``/``=~`` and ``=`` are case-sensitive, so a case-insensitive Sigma string becomes an anchored
  ``(?i)`` regex (``f =~ /(?i)^value$/``); ``=`` with a string literal is used only for ``|cased`` values and
  values whose case cannot vary, and only when the value needs no escaping in a string literal (the docs do
  not define string-literal escapes).
* In a regex literal the regex metacharacters and quote characters of a value are backslash-escaped (PCRE
  treats ``\\X`` as the literal ``X`` for any non-alphanumeric ``X``), ``/`` becomes ``\\/`` (the form the
  docs' own ``parse`` example uses), and control characters become ``\\n``, ``\\t``, ``\\r`` or ``\\xHH``.
  ``#`` and ``|``, which start a comment and separate commands outside literals, become ``\\x23`` and
  ``\\x7c`` so that no lexer can mistake them. No value can leave its literal.
* What ``not f = "x"`` does when ``f`` is absent is undocumented, so every leaf under a ``not`` is guarded
  with ``ispresent(f) and ...``: the leaf is then plainly false for an event without the field, and ``not``
  makes it true, as Sigma wants.
* ``cidr`` uses ``isIpInSubnet`` behind ``isValidIp``, so values such as ``AWS Internal`` or a service host
  name in ``sourceIPAddress`` simply do not match.
* A value list of exact literals on one field is ``f in ["a", "b"]`` (CWL_QuerySyntax-Filter): the same
  complete, case-sensitive match as ``=``, and the other comparison a field index serves.
* A test on an array field under ``and`` only reads every element: ``fields jsonParse(@message) as record |
  unnest record.<array> into element1 | filter ... | sort ... | dedup @ptr | limit N`` (CWL_QuerySyntax-Unnest,
  CWL_QuerySyntax-Dedup); elsewhere the OR of the first elements' fields the pipeline lists (docs/targets/
  cloudwatch.md, "Arrays").
* JSON booleans: how Logs Insights renders ``true``/``false`` is undocumented (the console shows ``1``/``0``),
  so a rule value ``true``/``false`` matches either form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, ClassVar, cast

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer.artifacts.cloudwatch import (
    cloudformation_query,
    cloudformation_template,
    query_definition,
    start_query,
)
from sigma_lambda_layer.dialect import BackendOption, FormatFile, validate, whole_number
from sigma_lambda_layer.errors import unsupported
from sigma_lambda_layer.pipelines.cloudwatch import DEFAULT_ARRAY_ELEMENTS

#: StartQuery ``queryString`` maximum length (botocore ``logs`` model, shape ``QueryString``).
MAX_QUERY_LENGTH = 10_000
#: Fields shown by default: what an analyst triages a CloudTrail hit with.
DEFAULT_FIELDS: tuple[str, ...] = (
    "@timestamp",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "recipientAccountId",
    "userIdentity.type",
    "userIdentity.arn",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
)
DEFAULT_SORT = "@timestamp desc"
#: Logs Insights returns at most 10,000 rows per query page (CWL_QuerySyntax-Limit).
DEFAULT_LIMIT = 10_000

# Characters that are meaningful to the query lexer outside literals; hex-escaped inside regex literals.
_LEXICAL = {"#": r"\x23", "|": r"\x7c", "/": r"\/", "\\": r"\\"}
_CONTROL = {"\n": r"\n", "\t": r"\t", "\r": r"\r"}
# Regex metacharacters, and the quote characters (escaped so the regex literal reads unambiguously).
_ESCAPED = frozenset(".^$*+?()[]{}\"'`")
# A string literal may hold these without any escaping (no quote, backslash or control character).
_SAFE_LITERAL = re.compile(r'^[^"\\\x00-\x1f\x7f]*$')
# Regex constructs Hyperscan (the engine behind Logs Insights) rejects: lookaround and back-references.
_UNSUPPORTED_RE = re.compile(r"\(\?<?[=!]|\(\?P[=<]|\\[1-9]|\\k<|\\g")
_BOOL_WORDS = {"true": 1, "false": 0}
#: Pipeline state key written by pipelines/cloudwatch.py: array field -> {"elements": [...], "unnest": [...]}.
STATE_ARRAYS = "cloudwatch_arrays"
#: Conversion state keys of this backend: the unnest commands of a rule, and the alias per anchor node.
_STATE_UNNEST = "cloudwatch_unnest"
_STATE_ANCHORS = "cloudwatch_unnest_anchors"
#: The record as a MAP (CWL_QuerySyntax-operations-functions, "JSON functions"), which unnest reads.
_RECORD_NAME = "record"
_UNNEST_HEAD = f"fields jsonParse(@message) as {_RECORD_NAME} | "
#: Characters a backtick-quoted Logs Insights field name cannot hold (no escape exists for a backtick).
_UNQUOTABLE_FIELD = re.compile(r"[`\x00-\x1f\x7f]")
#: Value types an element can be tested for one element at a time (not null, exists or a field reference).
_ELEMENT_VALUES = (
    SigmaString,
    SigmaRegularExpression,
    SigmaNumber,
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
)
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9.]+$")


def _is_control(c: str) -> bool:
    return ord(c) < 0x20 or ord(c) == 0x7F


def _control(c: str) -> str:
    """A control character inside ``/.../``: ``\\n``, ``\\t``, ``\\r`` or ``\\xHH`` (never raw in the query)."""
    return _CONTROL.get(c, f"\\x{ord(c):02x}")


def _regex_char(c: str) -> str:
    """One literal character of a value, as it must appear inside ``/.../``."""
    if c in _LEXICAL:
        return _LEXICAL[c]
    if c in _CONTROL:
        return _CONTROL[c]
    if ord(c) < 0x20 or ord(c) == 0x7F:
        return f"\\x{ord(c):02x}"
    if c in _ESCAPED:
        return "\\" + c
    return c


def regex_literal_body(value: SigmaString) -> tuple[str, bool, bool]:
    """Translate a Sigma string (``*``/``?`` wildcards) into a regex body.

    Returns ``(body, anchored_start, anchored_end)``: a leading or trailing ``*`` drops the anchor instead of
    emitting ``[\\s\\S]*``, which keeps ``contains``/``startswith``/``endswith`` short and readable.
    ``[\\s\\S]`` rather than ``.`` because Sigma's ``*`` also spans newlines.
    """
    parts: list[Any] = list(cast(Any, value))  # SigmaString iterates character by character
    start = end = True
    while parts and parts[0] == SpecialChars.WILDCARD_MULTI:
        parts.pop(0)
        start = False
    if not parts:
        end = False
    while parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
        parts.pop()
        end = False
    out: list[str] = []
    for p in parts:
        if p == SpecialChars.WILDCARD_MULTI:
            out.append(r"[\s\S]*")
        elif p == SpecialChars.WILDCARD_SINGLE:
            out.append(r"[\s\S]")
        elif isinstance(p, str):
            out.append(_regex_char(p))
        else:
            unsupported(
                f"placeholder {p!r} left in a value; resolve it with a pipeline before converting",
                construct="placeholder",
                value=p,
            )
    return "".join(out), start, end


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


class LogsInsightsBackend(TextQueryBackend):
    """CloudTrail in CloudWatch Logs -> Logs Insights QL queries.

    Backend options (``--option key=value``): ``log_group`` (repeatable, or comma-separated), ``fields``
    (comma-separated), ``sort``, ``limit``, ``start_time``/``end_time`` (epoch seconds, ``start_query``
    format) and ``lookback`` (seconds before ``end_time``, default 86400).
    """

    name: ClassVar[str] = "Amazon CloudWatch Logs Insights"
    formats: ClassVar[dict[str, str]] = {
        "default": "Logs Insights query text",
        "query_definition": "JSON for `aws logs put-query-definition --cli-input-json` (one per rule)",
        "start_query": "JSON for `aws logs start-query --cli-input-json` / boto3 start_query (one per rule)",
        "cloudformation": "CloudFormation template with an AWS::Logs::QueryDefinition per rule",
    }
    format_files: ClassVar[dict[str, FormatFile]] = {
        "query_definition": FormatFile("json", "json"),
        "start_query": FormatFile("json", "json"),
        "cloudformation": FormatFile("json", "json"),
    }
    requires_pipeline: ClassVar[bool] = True
    correlation_methods: ClassVar[dict[str, str]] = {
        "default": "stats ... by bin(timespan): counts per fixed time bucket",
    }

    # Operator precedence: NOT binds tighter than AND, AND tighter than OR (the default order).
    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    group_expression: ClassVar[str] = "({expr})"  # parentheses group, as in the docs' filter examples
    # The relative precedence of "and" and "or" is undocumented: parenthesize every nested group.
    parenthesize: bool = True
    token_separator: str = " "
    or_token: ClassVar[str] = "or"  # Boolean operators are lower-case words (CWL_QuerySyntax)
    and_token: ClassVar[str] = "and"
    not_token: ClassVar[str] = "not"
    eq_token: ClassVar[str] = " = "  # used only for cased / case-invariant literals

    # Field names with characters other than letters, digits, "@" and "." need backticks (CWL_QuerySyntax).
    field_quote: ClassVar[str] = "`"
    field_quote_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9@.]+$")
    field_quote_pattern_negation: ClassVar[bool] = True

    str_quote: ClassVar[str] = '"'  # string literals in double quotes
    escape_char: ClassVar[str] = "\\"
    field_exists_expression: ClassVar[str] = "ispresent({field})"  # General functions: ispresent
    field_not_exists_expression: ClassVar[str] = "not ispresent({field})"
    field_null_expression: ClassVar[str] = "not ispresent({field})"  # Sigma null: the field is absent
    compare_op_expression: ClassVar[str] = "{field} {operator} {value}"  # comparison operators
    compare_operators: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<",
        CompareOperators.LTE: "<=",
        CompareOperators.GT: ">",
        CompareOperators.GTE: ">=",
    }
    re_expression: ClassVar[str] = "{field} =~ /{regex}/"  # "=~" regex match (CWL_QuerySyntax-regex)
    cidr_expression: ClassVar[str] = 'isValidIp({field}) and isIpInSubnet({field}, "{value}")'
    field_equals_field_expression: ClassVar[str] = "tolower({field1}) = tolower({field2})"
    keyword_field: ClassVar[str] = "@message"  # the raw record: CloudTrail's JSON text

    #: ``--option`` names, defaults and checks (StartQuery's parameters, CWL_QuerySyntax ``limit``).
    options: ClassVar[tuple[BackendOption, ...]] = (
        BackendOption("log_group", "log group(s) searched (repeatable, or comma-separated)"),
        BackendOption(
            "fields", "comma-separated fields shown (the fields command)", ",".join(DEFAULT_FIELDS)
        ),
        BackendOption("sort", "sort order of the results", DEFAULT_SORT),
        BackendOption(
            "limit", "most rows returned", str(DEFAULT_LIMIT), whole_number(1, 10_000), "1 to 10000 (rows)"
        ),
        BackendOption(
            "start_time", "start_query: start (epoch seconds)", None, whole_number(), "epoch seconds"
        ),
        BackendOption("end_time", "start_query: end (epoch seconds)", None, whole_number(), "epoch seconds"),
        BackendOption("lookback", "start_query: seconds before end_time", "86400", whole_number(), "seconds"),
        BackendOption(
            "array_elements",
            "elements of each CloudTrail array searched (the pipeline's array fields)",
            str(DEFAULT_ARRAY_ELEMENTS),
            whole_number(1),
            "a whole number >= 1",
        ),
    )

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **options: Any):
        super().__init__(processing_pipeline, collect_errors, **options)
        validate(self.options, options, "Logs Insights")
        self._negation_depth = 0
        self.log_groups: list[str] = _as_list(options.get("log_group"))
        self.fields: list[str] = _as_list(options.get("fields")) or list(DEFAULT_FIELDS)
        self.sort: str = str(options.get("sort") or DEFAULT_SORT)
        self.limit: int = int(options.get("limit") or DEFAULT_LIMIT)
        self.start_time: int | None = int(options["start_time"]) if options.get("start_time") else None
        self.end_time: int | None = int(options["end_time"]) if options.get("end_time") else None
        self.lookback: int = int(options.get("lookback") or 86_400)

    # ------------------------------------------------------------------ negation tracking and guards

    def convert_condition_not(
        self, cond: ConditionNOT, state: ConversionState
    ) -> str | DeferredQueryExpression | None:
        """Count open ``not`` scopes so that leaves below one are guarded with ``ispresent``."""
        self._negation_depth += 1
        try:
            arg = cond.args[0]
            if isinstance(arg, (ConditionFieldEqualsValueExpression, ConditionValueExpression)):
                # The precedence of ``not`` against ``=~``/``=`` is undocumented: always parenthesize.
                expr = self.convert_condition(arg, state)
                if isinstance(expr, DeferredQueryExpression):
                    return expr.negate()
                return f"{self.not_token} ({expr})"
            return super().convert_condition_not(cond, state)
        finally:
            self._negation_depth -= 1

    def escape_and_quote_field(self, field_name: str) -> str:
        """The one field-name quoting of this backend: every path (values, exists, null, fieldref, keywords,
        correlation group-by, the ``fields`` command) reaches it, pySigma's own templates included.

        Logs Insights has no escape for a backtick inside a backtick-quoted name (CWL_QuerySyntax), so a
        name holding one would leave its quoting and test another field; control characters (a newline or
        tab inside the quotes) are refused too rather than trusted to the parser."""
        if _UNQUOTABLE_FIELD.search(field_name):
            unsupported(
                f"field name {field_name!r} contains a backtick or a control character, which Logs Insights "
                "field quoting cannot express",
                construct="field name",
                field=field_name,
            )
        return super().escape_and_quote_field(field_name)

    def _field(self, name: str) -> str:
        return self.escape_and_quote_field(name)

    def _guard(self, field: str, expr: str) -> str:
        """``expr`` about ``field``, made plainly false for events without the field when under a ``not``."""
        if self._negation_depth > 0 and field != self.keyword_field and not expr.startswith("ispresent("):
            return f"(ispresent({field}) and {expr})"
        return expr

    # ------------------------------------------------------------------ value leaves

    @staticmethod
    def _equals_literal(value: SigmaString, cased: bool) -> str | None:
        """The string literal ``value`` equals with ``=``, or None when ``=`` cannot say it: a wildcard, a
        case-insensitive value whose case can vary, a JSON boolean word, or text a literal cannot hold
        unescaped (the docs define no string escapes)."""
        plain = None if value.contains_special() else value.to_plain()
        if plain is None or plain == "" or not _SAFE_LITERAL.match(plain):
            return None
        if not cased and (plain.lower() in _BOOL_WORDS or plain.lower() != plain.upper()):
            return None
        return plain

    # ------------------------------------------------------------------ arrays: unnest or the enumeration

    @staticmethod
    def _arrays(state: ConversionState) -> dict[str, Any]:
        return cast(dict[str, Any], state.processing_state).get(STATE_ARRAYS) or {}

    def _unnest_anchor(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> Any:
        """The node whose truth "some element matches" decides, or None when unnest would change the rule.

        ``unnest`` replaces an event by one record per element, and ``dedup @ptr`` keeps the events with at
        least one record the filter keeps. That is "some element matches the leaf" exactly when only ``and``
        lies above the leaf (an event whose array is empty or missing fails the ``and`` either way), or an
        ``or`` of leaves on the same array (some element matches one of them = one of them matches some
        element), which then share one unnest. Under ``not``, or an ``or`` with anything else, it is not."""
        if not isinstance(cond.value, _ELEMENT_VALUES):
            return None
        anchor: Any = cond
        node: Any = cond
        while (parent := node.parent) is not None:
            if isinstance(parent, ConditionNOT):
                return None
            if isinstance(parent, ConditionOR):
                if not self._same_array_leaves(parent, cond.field):
                    return None
                anchor = parent
            node = parent
        return anchor

    def _same_array_leaves(self, node: Any, field: str) -> bool:
        if isinstance(node, ConditionOR):
            return all(self._same_array_leaves(arg, field) for arg in node.args)
        return (
            isinstance(node, ConditionFieldEqualsValueExpression)
            and node.field == field
            and isinstance(node.value, _ELEMENT_VALUES)
        )

    def _element_field(self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> str | None:
        """The name that holds one element for ``cond`` after its ``unnest`` commands, or None (enumerate)."""
        pieces: list[str] = self._arrays(state)[cond.field]["unnest"]
        if not all(_PLAIN_PATH.match(p) for p in pieces if p):
            return None
        anchor = self._unnest_anchor(cond, state)
        if anchor is None:
            return None
        ps = cast(dict[str, Any], state.processing_state)
        anchors: dict[int, str] = ps.setdefault(_STATE_ANCHORS, {})
        commands: list[str] = ps.setdefault(_STATE_UNNEST, [])
        if id(anchor) not in anchors:
            source = f"{_RECORD_NAME}.{pieces[0]}"
            for piece in pieces[1:-1]:
                alias = f"element{len(commands) + 1}"
                commands.append(f"unnest {source} into {alias}")
                source = f"{alias}.{piece}"
            alias = f"element{len(commands) + 1}"
            commands.append(f"unnest {source} into {alias}")
            anchors[id(anchor)] = alias
        tail = pieces[-1]
        return f"{anchors[id(anchor)]}.{tail}" if tail else anchors[id(anchor)]

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        """A leaf on an array field: on one element after ``unnest`` where that keeps the rule's meaning
        (:meth:`_unnest_anchor`), else the OR of the first elements' fields (pipelines/cloudwatch.py)."""
        info = self._arrays(state).get(cond.field)
        if info is None:
            return super().convert_condition_field_eq_val(cond, state)
        original = cond.field
        try:
            element = self._element_field(cond, state)
            if element is not None:
                cond.field = element
                return super().convert_condition_field_eq_val(cond, state)
            parts = []
            for name in info["elements"]:
                cond.field = name
                parts.append(str(super().convert_condition_field_eq_val(cond, state)))
            return "(" + " or ".join(parts) + ")"
        finally:
            cond.field = original

    def finish_query(self, rule: SigmaRule | SigmaCorrelationRule, query: Any, state: ConversionState) -> Any:
        """A rule that matches array elements opens with its ``unnest`` commands (see :meth:`_filter_query`)."""
        query = super().finish_query(rule, query, state)
        ps = cast(dict[str, Any], state.processing_state)
        ps.pop(_STATE_ANCHORS, None)  # each of a rule's conditions is its own query
        commands = ps.pop(_STATE_UNNEST, None)
        if commands and isinstance(query, str):
            return _UNNEST_HEAD + " | ".join(commands) + f" | filter {query}"
        return query

    def _in_candidate(self, arg: Any, state: ConversionState) -> bool:
        """A leaf ``in`` can hold: an exact string literal on a field that is not an array."""
        return (
            isinstance(arg, ConditionFieldEqualsValueExpression)
            and isinstance(arg.value, SigmaString)
            and self._equals_literal(arg.value, isinstance(arg.value, SigmaCasedString)) is not None
            and arg.field not in self._arrays(state)
        )

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        """An OR of exact literals on one field becomes ``f in ["a", "b"]``: set membership is a complete,
        case-sensitive match like ``=``, and a field index serves it (CWL_QuerySyntax-Filter, "Indexed fields
        and the filter command")."""
        args = cond.args
        return (
            isinstance(cond, ConditionOR)
            and len(args) > 1
            and all(self._in_candidate(arg, state) for arg in args)
            and len({cast(ConditionFieldEqualsValueExpression, arg).field for arg in args}) == 1
        )

    def _in_expression(self, args: list[ConditionFieldEqualsValueExpression]) -> str:
        field = self._field(args[0].field)
        literals = [
            self._equals_literal(cast(SigmaString, a.value), isinstance(a.value, SigmaCasedString))
            for a in args
        ]
        values = ", ".join(dict.fromkeys(f'"{lit}"' for lit in literals))
        return self._guard(field, f"{field} in [{values}]")

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str:
        return self._in_expression(cast(list[ConditionFieldEqualsValueExpression], cond.args))

    def convert_condition_or(
        self, cond: ConditionOR, state: ConversionState
    ) -> str | DeferredQueryExpression | None:
        """An OR with two or more exact literals on one field, beside other tests (a value list mixing
        canonical and free values): the literals as one ``in`` where the first of them stood, the rest as they
        are. An OR is commutative, so this is the same test."""
        exact = [a for a in cond.args if self._in_candidate(a, state)]
        fields = {cast(ConditionFieldEqualsValueExpression, a).field for a in exact}
        if len(exact) < 2 or len(fields) != 1:
            return super().convert_condition_or(cond, state)
        parts: list[str] = []
        for arg in cond.args:
            if arg is exact[0]:
                parts.append(self._in_expression(cast(list[ConditionFieldEqualsValueExpression], exact)))
            elif not any(arg is e for e in exact):
                converted = (
                    self.convert_condition(arg, state)
                    if self.compare_precedence(cond, arg)
                    else self.convert_condition_group(arg, state)
                )
                if converted is not None and not isinstance(converted, DeferredQueryExpression):
                    parts.append(str(converted))
        return f" {self.or_token} ".join(parts)

    def _string_expr(self, field: str, value: SigmaString, cased: bool) -> str:
        plain = None if value.contains_special() else value.to_plain()
        word = plain.lower() if plain is not None else None
        if word in _BOOL_WORDS and not cased:
            # JSON booleans: rendered as true/false or 1/0, undocumented; accept both (module docstring).
            regex = f"{field} =~ /(?i)^{word}$/"
            return f"({regex} or {field} = {_BOOL_WORDS[word]})"
        if (literal := self._equals_literal(value, cased)) is not None:
            return f'{field} = "{literal}"'
        body, start, end = regex_literal_body(value)
        if not body and not start and not end:  # only "*": any value at all
            return f"ispresent({field})"
        flags = "" if cased else "(?i)"
        return f"{field} =~ /{flags}{'^' if start else ''}{body}{'$' if end else ''}/"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field = self._field(cond.field)
        return self._guard(field, self._string_expr(field, cast(SigmaString, cond.value), cased=False))

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field = self._field(cond.field)
        value = cast(SigmaCasedString, cond.value)
        return self._guard(field, self._string_expr(field, value, cased=True))

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field = self._field(cond.field)
        value = cast(SigmaNumber, cond.value)
        return self._guard(field, f"{field} = {value.number}")

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field = self._field(cond.field)
        value = cast(SigmaBool, cond.value)
        return self._guard(field, self._string_expr(field, SigmaString(str(value.boolean).lower()), False))

    def _regex(self, r: SigmaRegularExpression) -> str:
        pattern = r.regexp.to_plain() if isinstance(r.regexp, SigmaString) else str(r.regexp)
        if _UNSUPPORTED_RE.search(pattern):
            unsupported(
                f"regular expression {pattern!r} uses lookaround or a back-reference, which Hyperscan "
                "(the Logs Insights regex engine) does not support",
                construct="|re",
                value=pattern,
            )
        out: list[str] = []
        i = 0
        while i < len(pattern):
            c = pattern[i]
            if c == "\\" and i + 1 < len(pattern):
                nxt = pattern[i + 1]
                # An escaped control character is that character (re.escape writes '\\<LF>'): its escape
                # alone, not a backslash before it ('\\\\n' would match a backslash and an 'n').
                out.append(r"\/" if nxt == "/" else _control(nxt) if _is_control(nxt) else c + nxt)
                i += 2
                continue
            out.append(r"\/" if c == "/" else _control(c) if _is_control(c) else c)
            i += 1
        letters = {
            SigmaRegularExpressionFlag.IGNORECASE: "i",
            SigmaRegularExpressionFlag.MULTILINE: "m",
            SigmaRegularExpressionFlag.DOTALL: "s",
        }
        flags = "".join(sorted(letters[f] for f in r.flags))
        return (f"(?{flags})" if flags else "") + "".join(out)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field = self._field(cond.field)
        regex = self._regex(cast(SigmaRegularExpression, cond.value))
        return self._guard(field, self.re_expression.format(field=field, regex=regex))

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field = self._field(cond.field)
        value = cast(SigmaCIDRExpression, cond.value)
        expr = self.cidr_expression.format(field=field, value=str(value.network))
        return f"({expr})" if self._negation_depth == 0 else self._guard(field, expr)

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field = self._field(cond.field)
        value = cast(SigmaCompareExpression, cond.value)
        expr = self.compare_op_expression.format(
            field=field, operator=self.compare_operators[value.op], value=value.number.number
        )
        return self._guard(field, expr)

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        ref = cast(SigmaFieldReference, cond.value)
        if ref.starts_with or ref.ends_with:
            unsupported(
                "fieldref with startswith/endswith has no Logs Insights equivalent",
                construct="|fieldref",
                field=cond.field,
            )
        f1, f2 = self._field(cond.field), self._field(ref.field)
        # Both must be present: Sigma never equates a missing field (the comparison is undocumented).
        expr = self.field_equals_field_expression.format(field1=f1, field2=f2)
        return f"(ispresent({f1}) and ispresent({f2}) and {expr})"

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        unsupported(
            "timestamp-part modifiers (minute, hour, ...) are not supported by the Logs Insights backend",
            construct="timestamp-part modifier",
            field=cond.field,
        )

    def convert_condition_field_eq_query_expr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        unsupported(
            "query expressions are not supported for Logs Insights",
            construct="query expression",
            field=cond.field,
        )

    # Keywords: searched in @message, the raw JSON record, as a case-insensitive substring.
    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        body, _, _ = regex_literal_body(cast(SigmaString, cond.value))
        return f"{self.keyword_field} =~ /(?i){body}/" if body else f"ispresent({self.keyword_field})"

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        body, _, _ = regex_literal_body(SigmaString(str(cast(SigmaNumber, cond.value).number)))
        return f"{self.keyword_field} =~ /{body}/"

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: ConversionState) -> str:
        regex = self._regex(cast(SigmaRegularExpression, cond.value))
        return self.re_expression.format(field=self.keyword_field, regex=regex)

    # ------------------------------------------------------------------ query assembly

    def _head(self) -> str:
        return "fields " + ", ".join(self._field(f) for f in self.fields)

    def _tail(self) -> str:
        return f"sort {self.sort} | limit {self.limit}"

    def _assemble(self, rule: SigmaRule | SigmaCorrelationRule, query: str) -> str:
        text = query if isinstance(rule, SigmaCorrelationRule) else self._filter_query(query)
        if len(text) > MAX_QUERY_LENGTH:
            unsupported(
                f"the Logs Insights query for rule {rule.title!r} is {len(text)} characters long, over the "
                f"{MAX_QUERY_LENGTH}-character limit of StartQuery",
                hint="split the rule's value lists into several rules",
                construct="query",
            )
        return text

    def _filter_query(self, expr: str) -> str:
        if expr.startswith(_UNNEST_HEAD):
            # One record per element: dedup @ptr gives each event back once; only limit may follow dedup
            # (CWL_QuerySyntax-Dedup), so it stands between sort and limit.
            return f"{self._head()} | {expr} | sort {self.sort} | dedup @ptr | limit {self.limit}"
        return f"{self._head()} | filter {expr} | {self._tail()}"

    def finalize_query_default(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> str:
        return self._assemble(rule, query)

    def _name(self, rule: SigmaRule | SigmaCorrelationRule) -> str:
        return (rule.title or str(rule.id) or "sigma rule")[:255]

    def finalize_query_query_definition(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> str:
        return json.dumps(
            query_definition(self._name(rule), self._assemble(rule, query), self.log_groups), indent=2
        )

    def finalize_query_start_query(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> str:
        return json.dumps(
            start_query(
                self._assemble(rule, query),
                self.log_groups,
                start_time=self.start_time,
                end_time=self.end_time,
                lookback=self.lookback,
                limit=self.limit,
            ),
            indent=2,
        )

    def finalize_query_cloudformation(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> dict[str, Any]:
        return cloudformation_query(
            self._name(rule), str(rule.id or ""), self._assemble(rule, query), self.log_groups
        )

    def finalize_output_query_definition(self, queries: list[str]) -> list[str]:
        return queries

    def finalize_output_start_query(self, queries: list[str]) -> list[str]:
        return queries

    def finalize_output_cloudformation(self, queries: list[dict[str, Any]]) -> str:
        return cloudformation_template(queries)

    # ------------------------------------------------------------------ correlation rules

    _CORRELATION_OPS: ClassVar[dict[SigmaCorrelationConditionOperator, str]] = {
        SigmaCorrelationConditionOperator.LT: "<",
        SigmaCorrelationConditionOperator.LTE: "<=",
        SigmaCorrelationConditionOperator.GT: ">",
        SigmaCorrelationConditionOperator.GTE: ">=",
        SigmaCorrelationConditionOperator.EQ: "=",
    }

    @staticmethod
    def _bin(seconds: int) -> str:
        for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
        return f"{seconds}s"

    def _correlation(self, rule: SigmaCorrelationRule, aggregate: Callable[[], str], alias: str) -> list[str]:
        exprs: list[str] = []
        for ref in rule.rules or []:
            results = ref.rule.get_conversion_result()
            if any(str(r).startswith(_UNNEST_HEAD) for r in results):
                unsupported(
                    "a correlation over a rule that matches array elements: stats would count one record per "
                    "element that unnest makes, not one per event",
                    construct="correlation",
                )
            exprs.extend(f"({r})" for r in results)
        if not exprs:
            unsupported("correlation rule references no convertible rule", construct="correlation")
        cond = rule.condition
        if not isinstance(cond, SigmaCorrelationCondition):
            unsupported(
                "extended (boolean) correlation conditions are not supported for Logs Insights",
                construct="correlation",
            )
        op = self._CORRELATION_OPS.get(cond.op)
        if op is None:
            unsupported(f"correlation condition {cond.op} not supported", construct="correlation")
        by = [f"bin({self._bin(rule.timespan.seconds)}) as window"]
        by += [self._field(f) for f in rule.group_by or []]
        return [
            f"filter {' or '.join(exprs)} | stats {aggregate()} as {alias} by {', '.join(by)}"
            f" | filter {alias} {op} {cond.count} | sort window desc | limit {self.limit}"
        ]

    def convert_correlation_event_count_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[str]:
        return self._correlation(rule, lambda: "count(*)", "event_count")

    def convert_correlation_value_count_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[str]:
        fieldref = getattr(rule.condition, "fieldref", None)
        if not isinstance(fieldref, str):
            unsupported("value_count needs exactly one field", construct="correlation")
        return self._correlation(rule, lambda: f"count_distinct({self._field(fieldref)})", "value_count")

    def _unsupported_correlation(self, *args: Any, **kwargs: Any) -> list[str]:
        unsupported(
            "only event_count and value_count correlations can be expressed in one Logs Insights query",
            construct="correlation",
        )

    convert_correlation_temporal_rule = _unsupported_correlation
    convert_correlation_temporal_ordered_rule = _unsupported_correlation
    convert_correlation_extended_temporal_rule = _unsupported_correlation
    convert_correlation_extended_temporal_ordered_rule = _unsupported_correlation
    convert_correlation_value_sum_rule = _unsupported_correlation
    convert_correlation_value_avg_rule = _unsupported_correlation
    convert_correlation_value_percentile_rule = _unsupported_correlation
    convert_correlation_value_median_rule = _unsupported_correlation
