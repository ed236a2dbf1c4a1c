"""Code the three Elastic backends (Lucene, EQL, ES|QL) share, kept out of any one backend's module.

* Kibana detection rules: :class:`DetectionRuleFormats` hands the finished query to
  :func:`sigma_lambda_layer.artifacts.kibana.detection_rule`.
* EQL and ES|QL spell strings, field names and regular expressions alike: double-quoted literals
  (:func:`quote_string`), backticked names (:func:`quote_name`), Lucene regexps for ``regex``/``RLIKE``
  (:func:`to_lucene_regexp`), Sigma values as literal text and wildcards (:class:`StringPattern`), and
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
from typing import Any, ClassVar

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
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer.artifacts.kibana import RULE_OPTIONS, check_rule_options, detection_rule
from sigma_lambda_layer.dialect import BackendOption, FormatFile
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError, refusal, unsupported
from sigma_lambda_layer.fields.elastic import OBJECT_TEXT_FIELDS

# ----------------------------------------------------------------- EQL / ES|QL spelling

#: Characters with a meaning in Lucene regexps (Query DSL "Regular expression syntax", reserved characters,
#: plus the optional operators ``# @ & < > ~`` that ``flags: ALL`` enables). A backslash makes any of them
#: literal; escaping a character that needs none is harmless.
LUCENE_REGEXP_RESERVED = frozenset('.?+*|{}[]()"\\#@&<>~')

_QUANTIFIER = re.compile(r"\{(\d*)(,(\d*))?\}")
_ASCII_CLASSES: dict[str, tuple[bool, list[tuple[str, str]]]] = {
    "d": (False, [("0", "9")]),
    "D": (True, [("0", "9")]),
    "w": (False, [("0", "9"), ("A", "Z"), ("a", "z"), ("_", "_")]),
    "W": (True, [("0", "9"), ("A", "Z"), ("a", "z"), ("_", "_")]),
    "s": (False, [(c, c) for c in " \t\n\r\f\v"]),
    "S": (True, [(c, c) for c in " \t\n\r\f\v"]),
}
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}


def lucene_escape(text: str) -> str:
    """A Lucene regexp that matches ``text`` literally."""
    return "".join("\\" + c if c in LUCENE_REGEXP_RESERVED else c for c in text)


def _unsupported_re(pattern: str, what: str) -> UnsupportedConstructError:
    return refusal(
        f"regular expression {pattern!r}: {what} has no Lucene regexp equivalent",
        hint="Lucene regexps (used by EQL regex and ES|QL RLIKE) lack anchors inside the pattern, "
        "lookaround, backreferences and word boundaries; rewrite the rule without them",
        construct="|re",
        value=pattern,
    )


@dataclass
class _RegexTranslator:
    """Recursive-descent translation of a Python regex (Sigma ``|re``) into a Lucene regexp.

    ``fold_case`` lowercases letters (for ES|QL, which matches ``TO_LOWER(field)`` instead of having a
    case-insensitive RLIKE); character classes then also get the lowercase twins of their ``A-Z`` ranges.
    """

    pattern: str
    fold_case: bool
    pos: int = 0

    def error(self, what: str) -> UnsupportedConstructError:
        return _unsupported_re(self.pattern, what)

    def peek(self, n: int = 0) -> str:
        i = self.pos + n
        return self.pattern[i] if i < len(self.pattern) else ""

    def literal(self, c: str) -> str:
        if self.fold_case and len(c.lower()) == 1:
            c = c.lower()
        return lucene_escape(c)

    def alternation(self, depth: int) -> tuple[str, bool]:
        branches = [self.sequence(depth)]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence(depth))
        return "|".join(branches), len(branches) > 1

    def sequence(self, depth: int) -> str:
        out: list[str] = []
        while self.pos < len(self.pattern) and self.peek() not in "|)":
            atom = self.atom(depth)
            out.append(atom + self.quantifier())
        if depth > 0 and self.peek() == "":
            raise self.error("an unbalanced parenthesis")
        return "".join(out)

    def quantifier(self) -> str:
        c = self.peek()
        q = ""
        if c in ("*", "+", "?"):
            q = c
            self.pos += 1
        elif c == "{":
            m = _QUANTIFIER.match(self.pattern, self.pos)
            if m is None or (m.group(1) == "" and m.group(2) is None):
                return ""
            lo, hi = m.group(1) or "0", m.group(3)
            q = "{" + lo + ("" if m.group(2) is None else "," + (hi or "")) + "}"
            self.pos = m.end()
        else:
            return ""
        nxt = self.peek()
        if nxt == "?":  # lazy: the same set of matching values
            self.pos += 1
        elif nxt == "+":
            raise self.error("a possessive quantifier")
        return q

    def atom(self, depth: int) -> str:
        c = self.peek()
        self.pos += 1
        if c == "(":
            if self.peek() == "?":
                if self.pattern.startswith("?:", self.pos):
                    self.pos += 2
                elif self.pattern.startswith("?P<", self.pos):
                    end = self.pattern.find(">", self.pos)
                    if end < 0:
                        raise self.error("a malformed named group")
                    self.pos = end + 1
                else:
                    raise self.error("a lookaround, inline flag or conditional group")
            body, _ = self.alternation(depth + 1)
            if self.peek() != ")":
                raise self.error("an unbalanced parenthesis")
            self.pos += 1
            return "(" + body + ")"
        if c == "[":
            return self.char_class()
        if c == ".":
            return "."
        if c in ("^", "$"):
            raise self.error(f"an anchor {c!r} inside the pattern")
        if c in ("*", "+", "?"):
            raise self.error(f"a quantifier {c!r} without an operand")
        if c == ")":
            raise self.error("an unbalanced parenthesis")
        if c == "\\":
            return self.escape()
        return self.literal(c)

    def escape(self) -> str:
        c = self.peek()
        if c == "":
            raise self.error("a trailing backslash")
        self.pos += 1
        if c in _ASCII_CLASSES:
            negated, ranges = _ASCII_CLASSES[c]
            return self.render_class(negated, list(ranges))
        if c in _CHAR_ESCAPES:
            return self.literal(_CHAR_ESCAPES[c])
        if c in ("x", "u", "U"):
            return self.literal(self.hex_escape(c))
        if c.isalnum():
            raise self.error(f"the escape \\{c}")
        return self.literal(c)

    def hex_escape(self, kind: str) -> str:
        width = {"x": 2, "u": 4, "U": 8}[kind]
        digits = self.pattern[self.pos : self.pos + width]
        if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise self.error(f"a malformed \\{kind} escape")
        self.pos += width
        return chr(int(digits, 16))

    def class_char(self) -> tuple[str, list[tuple[str, str]] | None, bool]:
        """One class member: (char, expanded ranges of a shorthand or None, shorthand negated)."""
        c = self.peek()
        if c == "":
            raise self.error("an unterminated character class")
        self.pos += 1
        if c != "\\":
            return c, None, False
        e = self.peek()
        self.pos += 1
        if e in _ASCII_CLASSES:
            negated, ranges = _ASCII_CLASSES[e]
            return "", list(ranges), negated
        if e in _CHAR_ESCAPES:
            return _CHAR_ESCAPES[e], None, False
        if e in ("x", "u", "U"):
            return self.hex_escape(e), None, False
        if e == "" or e.isalnum():
            raise self.error(f"the escape \\{e} in a character class")
        return e, None, False

    def char_class(self) -> str:
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        ranges: list[tuple[str, str]] = []
        first = True
        while True:
            if self.peek() == "]" and not first:
                self.pos += 1
                break
            first = False
            lo, expanded, shorthand_negated = self.class_char()
            if expanded is not None:
                if shorthand_negated:
                    raise self.error("a negated shorthand (\\D, \\W, \\S) inside a character class")
                ranges.extend(expanded)
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                hi, hi_expanded, _ = self.class_char()
                if hi_expanded is not None:
                    raise self.error("a range ending in a shorthand class")
                if ord(hi) < ord(lo):
                    raise self.error("a reversed character range")
                ranges.append((lo, hi))
            else:
                ranges.append((lo, lo))
        return self.render_class(negated, ranges)

    def render_class(self, negated: bool, ranges: list[tuple[str, str]]) -> str:
        if self.fold_case:
            twins = []
            for lo, hi in ranges:
                a, b = max(ord(lo), ord("A")), min(ord(hi), ord("Z"))
                if a <= b:
                    twins.append((chr(a + 32), chr(b + 32)))
            ranges = ranges + twins

        def esc(c: str) -> str:
            return c if c.isalnum() or c in "_ \t\n\r\f\v" else "\\" + c

        body = "".join(esc(lo) if lo == hi else esc(lo) + "-" + esc(hi) for lo, hi in ranges)
        return "[" + ("^" if negated else "") + body + "]"


def to_lucene_regexp(
    pattern: str, *, fold_case: bool = False, multiline: bool = False, dotall: bool = False
) -> str:
    """Translate a Sigma ``|re`` value (Python syntax, ``re.search`` semantics) into a Lucene regexp.

    Lucene regexps match the whole value, so an unanchored pattern gets ``.*`` on the open side(s); a
    leading ``^`` or trailing ``$`` anchors that side. ``\\d``, ``\\w``, ``\\s`` become their ASCII classes.
    Lucene's ``.`` also matches a line break and ``$`` does not match before a final line break, so the
    translation differs from Python for values that contain line breaks (not found in CloudTrail fields).
    Anything Lucene cannot express raises :class:`UnsupportedConstructError`.
    """
    del dotall  # Lucene's "." always matches line breaks: the translation is exact only without them
    body = pattern
    start_anchor = body.startswith("^")
    if start_anchor:
        body = body[1:]
    end_anchor = False
    if body.endswith("$"):
        backslashes = len(body[:-1]) - len(body[:-1].rstrip("\\"))
        if backslashes % 2 == 0:
            end_anchor = True
            body = body[:-1]
    if multiline and (start_anchor or end_anchor):
        raise _unsupported_re(pattern, "an anchor with the multi-line flag (|m)")
    translator = _RegexTranslator(body, fold_case)
    translated, has_alternatives = translator.alternation(0)
    if translator.pos != len(body):
        raise _unsupported_re(pattern, "an unbalanced parenthesis")
    if has_alternatives:
        if start_anchor or end_anchor:
            raise _unsupported_re(pattern, "an anchor next to a top-level alternation")
        translated = "(" + translated + ")"
    return ("" if start_anchor else ".*") + translated + ("" if end_anchor else ".*")


def condition_regexp(cond: ConditionFieldEqualsValueExpression, *, fold_ignorecase: bool) -> tuple[str, bool]:
    """``(Lucene regexp, case-insensitive)`` for the ``|re`` comparison ``cond``, refused on a whole object.

    With ``fold_ignorecase`` an ``|re|i`` pattern is lowercased to meet a ``TO_LOWER`` subject (ES|QL has no
    case-insensitive RLIKE); without, it is kept for a case-insensitive operator (EQL ``regex~``).
    """
    value = cond.value
    assert isinstance(value, SigmaRegularExpression)
    refuse_whole_object(cond.field, "a regular expression (|re)")
    flags = value.flags
    ignorecase = SigmaRegularExpressionFlag.IGNORECASE in flags
    regexp = to_lucene_regexp(
        str(value.regexp),
        fold_case=fold_ignorecase and ignorecase,
        multiline=SigmaRegularExpressionFlag.MULTILINE in flags,
        dotall=SigmaRegularExpressionFlag.DOTALL in flags,
    )
    return regexp, ignorecase


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

    def to_lucene_regexp(self) -> str:
        """The pattern as a Lucene regexp (whole-value match, like the wildcard pattern)."""
        return self.render(".*", ".", lucene_escape)

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
