"""Elasticsearch Lucene (``query_string``) over Elastic's AWS integration, CloudTrail data stream.

The stock :class:`sigma.backends.elasticsearch.LuceneBackend` writes ``field:value`` and ``field:*value*``
for every field. On the integration's mappings that is wrong in three ways, which this subclass fixes:

- **Case.** The CloudTrail fields are ``keyword`` fields without a normalizer, so term and wildcard queries
  are case-sensitive, while Sigma matching is case-insensitive unless ``|cased``. A value with cased letters
  becomes a Lucene regexp with character classes (``event.action:/[uU][pP][dD].*/``); a value without cased
  letters, or a ``|cased`` one, stays an exact term or wildcard.
- **Regular expressions.** Lucene regexps match the whole term and have their own syntax; Sigma's ``|re`` is
  an unanchored, Python-flavoured search. :func:`translate_regex` rewrites one into the other, or refuses.
- **Flattened fields.** ``requestParameters.X`` lives in a keyed sub-field of a ``flattened`` field, which
  refuses wildcard and regexp queries (Elasticsearch ``FlattenedFieldMapper.KeyedFlattenedFieldType``) and
  compares case-sensitively. Exact and prefix matches work there: a case-insensitive one is spelled out as
  the OR of the value's case variants, up to :attr:`CloudTrailLuceneBackend.max_case_variants`; anything
  else (contains, endswith, inner wildcards, regexps) raises, naming the field.

Everything the target cannot express with the rule's meaning raises
:class:`~sigma_lambda_layer.errors.UnsupportedConstructError`. The field types come from
:mod:`sigma_lambda_layer.fields.elastic`; this module never renames a field.

Query syntax: Elasticsearch reference, "Query string query" (query_string syntax: reserved characters,
``_exists_``, ``/regexp/``) and "Regular expression syntax" (Lucene ``RegExp`` with ``ALL`` flags:
``#``, ``@``, ``&``, ``~``, ``<>`` are operators, ``^``/``$`` are literals, the whole term must match).
"""

from __future__ import annotations

import _sre
import functools
import ipaddress
import itertools
import re
import sys
from typing import Any, ClassVar

from sigma.backends.elasticsearch import LuceneBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer.artifacts.kibana import saved_objects, saved_search
from sigma_lambda_layer.backends._elastic import DetectionRuleFormats, refuse_whole_object
from sigma_lambda_layer.dialect import FormatFile
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError, refusal, unsupported
from sigma_lambda_layer.fields.elastic import (
    INDEX_PATTERN,
    IP_TEXT_FIELDS,
    field_type,
    subtree_of_flattened,
)

#: Characters with a meaning in query_string syntax, escaped with ``\`` in field names and values. Source:
#: Elasticsearch reference, query_string "Reserved characters". Whitespace is escaped too (:func:`_qs_escape`):
#: the classic QueryParser ends a term at space, tab, CR, LF and U+3000 (its ``_WHITESPACE`` token).
_QS_RESERVED = '+-=&|!(){}[]^"~*?:\\/<>'
_FIELD_ESCAPE = re.compile(r"[\s+\-=&|!(){}\[\]^\"~*?:\\/<>]")
#: Bare words the classic QueryParser reads as operators wherever a term could stand (``field:AND`` does not
#: parse); ``&&``, ``||`` and ``!`` are escaped character by character.
_QS_OPERATOR_WORDS = frozenset({"AND", "OR", "NOT"})


def _extra_cases() -> dict[int, tuple[int, ...]]:
    """Lower-case letters Python's ``re`` also treats as equal under IGNORECASE (``i``/U+0131, ``s``/U+017F).

    The reference evaluator and pySigma match with Python's ``re``, so "case-insensitive" means exactly its
    rule: a character ``d`` matches a cased ``c`` when ``tolower(d)`` is ``tolower(c)`` or one of these.
    """
    try:
        from re._casefix import _EXTRA_CASES  # Python >= 3.11

        return dict(_EXTRA_CASES)
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_compile

        return dict(sre_compile._ignorecase_fixes)  # type: ignore[attr-defined]


#: No character above this code point has a case mapping (Unicode 15: the last cased letters are Adlam,
#: U+1E900-U+1E943), so the inverse lower-case table needs no more.
_LAST_CASED = 0x1F000


@functools.cache
def _lower_inverse() -> dict[int, tuple[int, ...]]:
    """``tolower`` code point -> the other code points with that simple lower-case mapping (``k`` -> ``K``,
    KELVIN SIGN). Built once per process, on the first case-insensitive value (~50 ms)."""
    inverse: dict[int, list[int]] = {}
    for cp in range(_LAST_CASED):
        lower = _sre.unicode_tolower(cp)
        if lower != cp:
            inverse.setdefault(lower, []).append(cp)
    return {k: tuple(v) for k, v in inverse.items()}


@functools.cache
def _case_set(c: str) -> tuple[str, ...]:
    """Every character that matches ``c`` under Python's ``re.IGNORECASE`` (``c`` itself first).

    Python lowers both sides with the *simple* Unicode mapping (U+0130 -> ``i``) and adds a few equivalences,
    so ``k`` also matches U+212A (KELVIN SIGN) and ``s`` matches U+017F (LONG S); an uncased character matches itself.
    """
    cp = ord(c)
    if not _sre.unicode_iscased(cp):
        return (c,)
    lower = _sre.unicode_tolower(cp)
    targets = (lower, *_extra_cases().get(lower, ()))
    inverse = _lower_inverse()
    members = {m for t in targets for m in (t, *inverse.get(t, ()))}
    members.discard(cp)
    return (c, *(chr(m) for m in sorted(members)))


def _has_cased(text: str) -> bool:
    return any(len(_case_set(c)) > 1 for c in text)


def _re_literal(c: str) -> str:
    """One literal character in a Lucene regexp: ``\\`` makes any non-alphanumeric character literal."""
    return c if c.isalnum() else "\\" + c


def _re_literal_ci(c: str) -> str:
    variants = _case_set(c)
    if len(variants) == 1:
        return _re_literal(c)
    return "[" + "".join(_re_literal(v) for v in variants) + "]"


def _class_body(members: set[int]) -> str:
    """A Lucene character-class body for a set of code points, runs of three or more as ranges."""
    out: list[str] = []
    points = sorted(members)
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        lo, hi = chr(points[i]), chr(points[j])
        if j - i >= 2:
            out.append(f"{_re_literal(lo)}-{_re_literal(hi)}")
        else:
            out.extend(_re_literal(chr(p)) for p in points[i : j + 1])
        i = j + 1
    return "".join(out)


@functools.cache
def _unicode_class(escape: str) -> frozenset[int]:
    """Code points of Python's Unicode ``\\d`` (Nd digits), ``\\w`` (alphanumerics and ``_``) or ``\\s``
    (``str.isspace``), the meaning of these escapes in a ``str`` pattern."""
    test = {"d": str.isdecimal, "w": lambda ch: ch.isalnum() or ch == "_", "s": str.isspace}[escape]
    return frozenset(cp for cp in range(sys.maxunicode + 1) if test(chr(cp)))


#: CloudTrail's timestamp format (``eventTime``, ``creationDate``): a term on a date field matches the instant.
_CLOUDTRAIL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
#: Where Elasticsearch's ip fields keep IPv4 addresses.
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _number_regexp(number: int | float) -> str:
    """Lucene regexp of the decimal texts the evaluator reads as ``number``: optional leading zeros, and for
    an integer an optional ``.0...`` (``50``, ``050``, ``50.00``). Exponent notation is not covered."""
    text = repr(number)
    if any(c in text for c in "eEnN"):
        raise ValueError(f"{text} needs exponent notation, which a decimal-text regexp does not cover")
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    fraction = fraction.rstrip("0")
    whole = whole.lstrip("0")
    if not whole and not fraction:
        return "\\-?(0+(\\.0+)?|0*\\.0+)"
    sign = "\\-" if negative else ""
    if not fraction:
        return f"{sign}0*{whole}(\\.0+)?"
    return f"{sign}0*{whole}\\.{fraction}0*"


def _qs_escape(text: str) -> str:
    """``text`` as one query_string token: reserved characters and every whitespace character escaped.

    Escaping more than the parser splits on is harmless: an escaped character is taken literally in terms,
    prefixes and wildcard patterns alike (Lucene ``QueryParserBase.discardEscapeChar``, ``WildcardQuery``).
    """
    return "".join("\\" + c if c in _QS_RESERVED or c.isspace() else c for c in text)


def _qs_term(text: str) -> str:
    """``text`` as one exact term (no wildcards) that Elasticsearch reads as a term query and nothing else.

    Escaping is not enough for two kinds of value, which are quoted instead (a quoted single token on a
    keyword or keyed flattened field is the same term query): a leading ``<`` or ``>``, which
    ``QueryStringQueryParser.getFieldQuery`` reads as a one-sided range *after* unescaping (``field:\\<x`` is
    ``field < "x"``), and the operator words ``AND``, ``OR``, ``NOT``.
    """
    if text.startswith(("<", ">")) or text in _QS_OPERATOR_WORDS:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _qs_escape(text)


# --- Sigma |re (Python re.search) -> Lucene RegExp -----------------------------------------------------

#: Python class escape -> (negated, the Unicode class it names). Python's ``\d``, ``\w``, ``\s`` are Unicode
#: in ``str`` patterns, so they are spelled out as Lucene classes of the same code points.
_PY_CLASS_ESCAPES: dict[str, tuple[bool, str]] = {
    "d": (False, "d"),
    "D": (True, "d"),
    "w": (False, "w"),
    "W": (True, "w"),
    "s": (False, "s"),
    "S": (True, "s"),
}
_PY_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "0": "\0"}
_QUANT_BRACE = re.compile(r"\{(\d*)(,?)(\d*)\}")


class RegexTranslationError(UnsupportedConstructError):
    """A Sigma ``|re`` pattern that has no faithful Lucene RegExp equivalent."""


class _RegexTranslator:
    """Recursive-descent rewrite of a Python regular expression into Lucene RegExp syntax.

    Only constructs with the same meaning in both are accepted; ``^``/``$`` only at the edges of a top-level
    alternative (where they become "no ``.*`` padding" on that side); lazy quantifiers become greedy (whole-
    term matching makes them equivalent). Back-references, look-around, ``\\b`` and inline flags other than a
    leading ``(?i)``/``(?s)`` raise.
    """

    def __init__(self, pattern: str, ignorecase: bool, dotall: bool, multiline: bool) -> None:
        self.p = pattern
        self.i = 0
        self.ci = ignorecase
        self.dotall = dotall
        self.multiline = multiline

    def fail(self, what: str) -> RegexTranslationError:
        return refusal(
            f"regular expression {self.p!r}: {what} has no Lucene regexp equivalent",
            hint="rewrite the |re value with plain groups, classes and quantifiers, or use wildcards",
            construct="|re",
            value=self.p,
            kind=RegexTranslationError,
        )

    def translate(self) -> str:
        self._leading_flags()
        alternatives = self._alternatives(top=True)
        if self.i != len(self.p):
            raise self.fail(f"unbalanced ')' at offset {self.i}")
        padded = []
        for start, body, end in alternatives:
            if self.multiline and (start or end):
                raise self.fail("an anchor under the multi-line flag")
            padded.append(
                ("" if start else ".*") + body + ("" if end == "" else ".*" if end is None else end)
            )
        return padded[0] if len(padded) == 1 else "(" + "|".join(padded) + ")"

    def _leading_flags(self) -> None:
        m = re.match(r"\(\?([a-zA-Z]+)\)", self.p)
        if not m:
            return
        for flag in m.group(1):
            if flag == "i":
                self.ci = True
            elif flag == "s":
                self.dotall = True
            else:
                raise self.fail(f"the inline flag (?{flag})")
        self.i = m.end()

    def _alternatives(self, top: bool) -> list[tuple[bool, str, str | None]]:
        """Parse ``a|b|c`` up to ``)`` or the end. Each item: (anchored start, body, end suffix or None)."""
        out = []
        while True:
            start = False
            if (self.i < len(self.p) and self.p[self.i] == "^") or self.p.startswith("\\A", self.i):
                if not top:
                    raise self.fail("an anchor inside a group")
                start = True
                self.i += 1 if self.p[self.i] == "^" else 2
            body, end = self._sequence(top)
            out.append((start, body, end))
            if self.i < len(self.p) and self.p[self.i] == "|":
                self.i += 1
                continue
            return out

    def _sequence(self, top: bool) -> tuple[str, str | None]:
        parts: list[str] = []
        while self.i < len(self.p) and self.p[self.i] not in "|)":
            c = self.p[self.i]
            if c == "$" or self.p.startswith("\\Z", self.i):
                self.i += 1 if c == "$" else 2
                if not top or (self.i < len(self.p) and self.p[self.i] not in "|)"):
                    raise self.fail("an anchor that does not end the pattern")
                if self.i < len(self.p) and self.p[self.i] == ")":
                    raise self.fail("an anchor inside a group")
                # Python's $ also matches before a final newline; \Z only at the very end.
                return "".join(parts), ("(\n)?" if c == "$" else "")
            atom = self._atom()
            parts.append(atom + self._quantifier())
        if self.i < len(self.p) and self.p[self.i] == ")" and top:
            raise self.fail(f"unbalanced ')' at offset {self.i}")
        return "".join(parts), None

    def _quantifier(self) -> str:
        if self.i >= len(self.p):
            return ""
        c = self.p[self.i]
        q = ""
        if c in "*+?":
            q = c
            self.i += 1
        elif c == "{":
            m = _QUANT_BRACE.match(self.p, self.i)
            if not m or (not m.group(1) and not m.group(3)):
                return ""  # a literal '{', handled by the next _atom call
            lo, comma, hi = m.groups()
            q = "{" + (lo or "0") + comma + hi + "}"
            self.i = m.end()
        else:
            return ""
        if self.i < len(self.p) and self.p[self.i] == "?":
            self.i += 1  # lazy: same set of matching strings under whole-term matching
        elif self.i < len(self.p) and self.p[self.i] == "+":
            raise self.fail("a possessive quantifier")
        if self.i < len(self.p) and self.p[self.i] in "*+?{" and self._is_quantifier_here():
            raise self.fail("a repeated quantifier")
        return q

    def _is_quantifier_here(self) -> bool:
        c = self.p[self.i]
        return c != "{" or bool(_QUANT_BRACE.match(self.p, self.i))

    def _atom(self) -> str:
        c = self.p[self.i]
        if c == "(":
            return self._group()
        if c == "[":
            return self._class()
        if c == ".":
            self.i += 1
            return "." if self.dotall else "[^\n]"
        if c == "\\":
            return self._escape()
        if c in "*+?":
            raise self.fail(f"a quantifier without operand at offset {self.i}")
        if c in "^$":
            raise self.fail("an anchor inside the pattern")
        self.i += 1
        return _re_literal_ci(c) if self.ci else _re_literal(c)

    def _group(self) -> str:
        self.i += 1
        if self.p.startswith("?", self.i):
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?P<", self.i):
                close = self.p.find(">", self.i)
                if close < 0:
                    raise self.fail("an unterminated group name")
                self.i = close + 1
            elif self.p.startswith("?#", self.i):
                close = self.p.find(")", self.i)
                if close < 0:
                    raise self.fail("an unterminated comment")
                self.i = close + 1
                return ""
            else:
                raise self.fail(f"the group construct '(?{self.p[self.i + 1 : self.i + 2]}'")
        alternatives = self._alternatives(top=False)
        if self.i >= len(self.p) or self.p[self.i] != ")":
            raise self.fail("an unterminated group")
        self.i += 1
        return "(" + "|".join(body for _, body, _ in alternatives) + ")"

    def _escape(self) -> str:
        """An escape outside a class."""
        if self.i + 1 >= len(self.p):
            raise self.fail("a trailing backslash")
        e = self.p[self.i + 1]
        if e in _PY_CLASS_ESCAPES:
            self._refuse_word_class(e)
            self.i += 2
            negated, name = _PY_CLASS_ESCAPES[e]
            return ("[^" if negated else "[") + _class_body(set(_unicode_class(name))) + "]"
        c = self._char_escape()
        return _re_literal_ci(c) if self.ci else _re_literal(c)

    def _char_escape(self) -> str:
        """The literal character of an escape (``\\n``, ``\\x41``, ``\\.``) at ``self.i``, consumed."""
        e = self.p[self.i + 1 : self.i + 2]
        if not e:
            raise self.fail("a trailing backslash")
        self.i += 2
        if e in _PY_CHAR_ESCAPES:
            return _PY_CHAR_ESCAPES[e]
        if e in ("x", "u", "U"):
            return self._hex({"x": 2, "u": 4, "U": 8}[e])
        if e.isalnum():
            raise self.fail(f"the escape \\{e}")
        return e

    def _refuse_word_class(self, escape: str) -> None:
        """Python's ``\\w`` is every Unicode letter and digit: some 700 ranges, whose automaton next to ``.*``
        takes Lucene seconds per query. An ASCII class instead would silently change the meaning."""
        if escape in "wW":
            unsupported(
                f"regular expression {self.p!r}: \\{escape} means every Unicode letter and digit in Python, "
                "too large a class for a Lucene regexp",
                hint="write the class you mean, e.g. [A-Za-z0-9_]",
                construct="|re",
                value=self.p,
                kind=RegexTranslationError,
            )

    def _hex(self, n: int) -> str:
        digits = self.p[self.i : self.i + n]
        if len(digits) != n or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise self.fail("a malformed hexadecimal escape")
        self.i += n
        return chr(int(digits, 16))

    def _class(self) -> str:
        """``[...]``: the set of code points it matches (under IGNORECASE: closed under Python's case rule)."""
        self.i += 1
        negated = self.p.startswith("^", self.i)
        if negated:
            self.i += 1
        members: set[int] = set()
        first = True
        while True:
            if self.i >= len(self.p):
                raise self.fail("an unterminated character class")
            c = self.p[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[" and self.p.startswith("[:", self.i):
                raise self.fail("a POSIX class")
            lo = self._class_char(members)
            if lo is None:
                continue
            if self.p.startswith("-", self.i) and not self.p.startswith("-]", self.i):
                self.i += 1
                hi = self._class_char(members)
                if hi is None:
                    raise self.fail("a range ending in a class escape")
                if ord(lo) > ord(hi):
                    raise self.fail(f"the empty range {lo}-{hi}")
                span = range(ord(lo), ord(hi) + 1)
            else:
                span = range(ord(lo), ord(lo) + 1)
            if self.ci:
                if len(span) > _LAST_CASED:
                    raise self.fail("a very wide range under case-insensitive matching")
                members.update(ord(v) for cp in span for v in _case_set(chr(cp)))
            else:
                members.update(span)
        if not members:
            raise self.fail("an empty character class")
        return "[" + ("^" if negated else "") + _class_body(members) + "]"

    def _class_char(self, members: set[int]) -> str | None:
        """One literal character of a class, or ``None`` after a class escape (added to ``members``)."""
        c = self.p[self.i]
        if c != "\\":
            self.i += 1
            return c
        e = self.p[self.i + 1 : self.i + 2]
        if e in _PY_CLASS_ESCAPES:
            self._refuse_word_class(e)
            negated, name = _PY_CLASS_ESCAPES[e]
            if negated:
                raise self.fail(f"\\{e} inside a character class")
            self.i += 2
            members.update(_unicode_class(name))
            return None
        try:
            return self._char_escape()
        except RegexTranslationError:
            raise self.fail(f"the escape \\{e} in a character class") from None


def translate_regex(regex: SigmaRegularExpression) -> str:
    """Lucene RegExp (without ``/`` delimiters) matching the terms in which ``regex`` finds a match.

    Sigma ``|re`` follows Python ``re.search``: unanchored, case-sensitive unless ``|i``. Raises
    :class:`RegexTranslationError` when the pattern uses a construct without a faithful translation.
    """
    flags = regex.flags
    translator = _RegexTranslator(
        regex.regexp.original,
        ignorecase=SigmaRegularExpressionFlag.IGNORECASE in flags,
        dotall=SigmaRegularExpressionFlag.DOTALL in flags,
        multiline=SigmaRegularExpressionFlag.MULTILINE in flags,
    )
    return translator.translate()


def _expanded_values(value: Any) -> list[Any]:
    """The leaf values of a (possibly nested) :class:`SigmaExpansion`: an OR of ORs is one OR."""
    if isinstance(value, SigmaExpansion):
        return [leaf for v in value.values for leaf in _expanded_values(v)]
    return [value]


# --- the backend ---------------------------------------------------------------------------------------


class CloudTrailLuceneBackend(DetectionRuleFormats, LuceneBackend):
    """Lucene ``query_string`` queries that mean what the Sigma rule means on the CloudTrail data stream."""

    name: ClassVar[str] = "Elasticsearch Lucene for Elastic's AWS CloudTrail data stream"
    detection_rule_type: ClassVar[str] = "query"
    detection_rule_language: ClassVar[str] = "lucene"
    format_files: ClassVar[dict[str, FormatFile]] = {
        **DetectionRuleFormats.format_files,
        "kibana_ndjson": FormatFile("ndjson", "ndjson"),
        "dsl_lucene": FormatFile("json", "json"),
    }
    field_escape_pattern: ClassVar[re.Pattern[str]] = _FIELD_ESCAPE

    #: Upper bound on the case variants spelled out for a case-insensitive match on a flattened sub-field
    #: (2 per ASCII letter, 3 for k and s, 4 for i: ``Success`` has 432). Each variant is one term query in a
    #: ``bool`` of at most ``indices.query.bool.max_clause_count`` (>= 1024) clauses.
    max_case_variants: ClassVar[int] = 1024

    # A negation is always its own group: in Lucene ``a OR NOT b`` makes ``NOT b`` a MUST_NOT clause of the
    # same boolean query, i.e. "a and not b" (docs/engines/lucene.md). pySigma groups a ConditionNOT and a
    # null test itself; ``exists: false`` is a plain leaf to it, so it carries its own parentheses.
    field_not_exists_expression: ClassVar[str] = "(NOT _exists_:{field})"

    # --- helpers -------------------------------------------------------------------------------------

    def escape_and_quote_field(self, field_name: str) -> str:
        """The field name escaped, or refused when query_string would read it as a pattern of field names.

        Elasticsearch unescapes the field name and then treats a ``*`` in it as a wildcard over the mapped
        field names (``QueryStringQueryParser.extractMultiFields``, ``Regex.isSimpleMatchPattern``), so
        ``requestParameters.a\\*`` also searches ``requestParameters.ab``; no escape keeps it literal. A ``?``
        is refused alike: the query would be one rewrite away from the same mistake.
        """
        self._refuse_field_pattern(field_name)
        name: str = super().escape_and_quote_field(field_name)
        return name

    def _refuse_field_pattern(self, field: str) -> None:
        if "*" in field or "?" in field:
            unsupported(
                f"field {field!r}: Lucene query_string reads '*' and '?' in a field name as a pattern "
                "over field names, even when escaped, so the query would search other fields too",
                hint="name the field without '*' or '?', or use the esql or eql target",
                field=field,
                kind=UnsupportedFieldError,
            )

    def _type(self, field: str) -> str:
        try:
            return field_type(field)
        except KeyError:
            return "keyword"  # a field from a custom pipeline: assume the common case, a plain keyword

    def _unsupported(
        self, what: str, field: str, why: str, hint: str | None = None
    ) -> UnsupportedConstructError:
        return refusal(f"{what} on {field!r}: {why}", hint=hint, construct=what, field=field)

    def _string_value(self, field: str, value: SigmaString, cased: bool) -> str:
        """The value part of ``field:<value>`` for a Sigma string on ``field``, with Sigma's meaning."""
        kind = self._type(field)
        refuse_whole_object(field, f"a string match ({str(value)!r})")
        parts = tuple(value.s)
        literal = "".join(p for p in parts if isinstance(p, str))
        specials = [p for p in parts if not isinstance(p, str)]
        if any(p not in (SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE) for p in specials):
            raise self._unsupported("a placeholder", field, "unresolved placeholder in value", None)
        if not parts:
            raise self._unsupported(
                "an empty-string match",
                field,
                "Elastic's ingest pipeline drops empty values, so no document holds an empty string",
            )
        if parts == (SpecialChars.WILDCARD_MULTI,):
            return "*"  # query_string turns field:* into an exists query, valid on every field type
        ci = not cased and _has_cased(literal)
        if kind in ("keyword", "constant_keyword"):
            if ci:
                return "/" + "".join(self._re_piece(p) for p in parts) + "/"
            return self._wildcard_term(value)
        if kind == "flattened":
            return self._flattened_value(field, parts, literal, ci)
        if kind == "boolean":
            if specials or literal.lower() not in ("true", "false"):
                raise self._unsupported(
                    f"the value {str(value)!r}", field, "a boolean field holds true or false"
                )
            return literal.lower()
        if kind == "date" and (specials or not _CLOUDTRAIL_TIME.fullmatch(literal)):
            raise self._unsupported(
                f"the string {str(value)!r}",
                field,
                "a date field keeps the instant, not the text: only a whole CloudTrail timestamp "
                "(YYYY-MM-DDTHH:MM:SSZ) can be matched; a wildcard or shorter date would match differently",
                hint="write the full timestamp, e.g. 2024-05-01T12:34:56Z",
            )
        if kind in ("date", "ip"):
            if specials:
                raise self._unsupported("a wildcard", field, f"{kind} fields take no wildcard queries")
            return '"' + literal.replace("\\", "\\\\").replace('"', '\\"') + '"'
        raise self._unsupported("a string match", field, f"{kind} fields are analysed; matching would differ")

    def _re_piece(self, p: object) -> str:
        if p == SpecialChars.WILDCARD_MULTI:
            return ".*"
        if p == SpecialChars.WILDCARD_SINGLE:
            return "."
        assert isinstance(p, str)
        return "".join(_re_literal_ci(c) for c in p)

    def _wildcard_term(self, value: SigmaString) -> str:
        """Exact term or wildcard pattern: reserved characters escaped, ``*``/``?`` kept as wildcards."""
        if all(isinstance(p, str) for p in value.s):
            return _qs_term("".join(p for p in value.s if isinstance(p, str)))
        return "".join(
            _qs_escape(p) if isinstance(p, str) else "*" if p == SpecialChars.WILDCARD_MULTI else "?"
            for p in value.s
        )

    def _flattened_value(self, field: str, parts: tuple[Any, ...], literal: str, ci: bool) -> str:
        prefix = parts[-1] == SpecialChars.WILDCARD_MULTI
        body = parts[:-1] if prefix else parts
        if any(not isinstance(p, str) for p in body):
            raise self._unsupported(
                "a wildcard match other than a prefix",
                field,
                "keyed flattened sub-fields refuse wildcard queries (Elasticsearch FlattenedFieldMapper)",
                hint=f"match the whole value or a prefix, or use the {field.split('.')[2]} string field "
                "(the object's Map.toString) if an approximate match is acceptable",
            )
        if not ci:
            return _qs_escape(literal) + "*" if prefix else _qs_term(literal)
        choices = [_case_set(c) for c in literal]
        count = 1
        for ch in choices:
            count *= len(ch)
        if count > self.max_case_variants:
            raise self._unsupported(
                "a case-insensitive match",
                field,
                f"keyed flattened sub-fields are case-sensitive and {literal!r} has {count} case variants "
                f"(limit {self.max_case_variants})",
                hint="use |cased with the exact spelling stored in CloudTrail",
            )
        variants = ["".join(v) for v in itertools.product(*choices)]
        return "(" + " OR ".join(_qs_escape(v) + "*" if prefix else _qs_term(v) for v in variants) + ")"

    def _refuse_presence_on_flattened_key(self, field: str, what: str) -> None:
        """``null``/``exists`` on ``requestParameters.X``: Sigma counts an object value as present, but a keyed
        flattened exists query only sees a leaf at exactly that key, so ``X: {...}`` would read as absent."""
        self._refuse_field_pattern(field)  # the clearer of the two refusals
        if self._type(field) == "flattened" and subtree_of_flattened(field) is not None:
            raise self._unsupported(
                what,
                field,
                "a keyed flattened sub-field only exists where that key holds a scalar, so an object value "
                "would read as missing",
                hint="to test for a scalar value write `field: '*'` (and `not` it for absence)",
            )

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        arg = cond.args[0]
        if isinstance(arg, ConditionFieldEqualsValueExpression) and isinstance(arg.value, SigmaNull):
            self._refuse_presence_on_flattened_key(arg.field, "a null test")  # the stock NOT null shortcut
        return super().convert_condition_not(cond, state)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        self._refuse_presence_on_flattened_key(cond.field, "a null test")
        return super().convert_condition_field_eq_val_null(cond, state)

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        self._refuse_presence_on_flattened_key(cond.field, "an exists test (|exists)")
        return super().convert_condition_field_exists(cond, state)

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        self._refuse_presence_on_flattened_key(cond.field, "an exists test (|exists)")
        return super().convert_condition_field_not_exists(cond, state)

    # --- strings ---------------------------------------------------------------------------------------

    def _string_expr(self, cond: ConditionFieldEqualsValueExpression, cased: bool) -> str:
        assert isinstance(cond.value, SigmaString)
        value = self._string_value(cond.field, cond.value, cased)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{value}"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_expr(cond, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_expr(cond, cased=True)

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str:
        args = [a for a in cond.args if isinstance(a, ConditionFieldEqualsValueExpression)]
        field = args[0].field
        values = [self._list_value(field, a.value) for a in args]
        return (
            f"{self.escape_and_quote_field(field)}{self.or_in_operator}({self.list_separator.join(values)})"
        )

    def _list_value(self, field: str, value: Any) -> str:
        if isinstance(value, SigmaString):
            return self._string_value(field, value, isinstance(value, SigmaCasedString))
        if isinstance(value, SigmaBool):
            return self._bool_value(field, value)
        return self._number_value(field, value)

    # --- other value types -------------------------------------------------------------------------------

    def _number_value(self, field: str, value: SigmaNumber) -> str:
        """A Sigma number equals every decimal text of the same value (``50``, ``050``, ``50.0``)."""
        kind = self._type(field)
        refuse_whole_object(field, f"the number {value}")
        if kind in ("keyword", "constant_keyword"):
            try:
                return "/" + _number_regexp(value.number) + "/"
            except ValueError as e:
                raise self._unsupported(f"the number {value}", field, str(e)) from None
        if kind == "flattened":
            raise self._unsupported(
                f"the number {value}",
                field,
                "a number also equals texts such as '050' and '50.0', which keyed flattened sub-fields "
                "(exact terms and prefixes only) cannot match",
                hint=f"quote the value ('{value}') to match exactly that text",
            )
        raise self._unsupported(f"the number {value}", field, f"{kind} fields do not hold numbers")

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        value = self._number_value(cond.field, cond.value)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{value}"

    def _bool_value(self, field: str, value: SigmaBool) -> str:
        """A Sigma boolean equals JSON ``true``/``false`` and those strings in any case."""
        kind = self._type(field)
        refuse_whole_object(field, f"the boolean {value}")
        text = "true" if value.boolean else "false"
        if kind == "boolean":
            return text
        if kind in ("date", "ip"):
            raise self._unsupported("a boolean", field, f"{kind} fields do not hold booleans")
        return self._string_value(field, SigmaString(text), cased=False)

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaBool)
        value = self._bool_value(cond.field, cond.value)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{value}"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaRegularExpression)
        kind = self._type(cond.field)
        refuse_whole_object(cond.field, "a regular expression (|re)")
        if kind not in ("keyword", "constant_keyword"):
            why = (
                "keyed flattened sub-fields refuse regexp queries (Elasticsearch FlattenedFieldMapper)"
                if kind == "flattened"
                else f"{kind} fields take no regexp queries"
            )
            raise self._unsupported("a regular expression (|re)", cond.field, why)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}/{translate_regex(cond.value)}/"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        """``field:"net/len"``: an ip term query with a ``/`` is a CIDR query (quoted: ``/`` starts a regexp).

        Elasticsearch stores IPv4 addresses as IPv4-mapped IPv6 (``::ffff:a.b.c.d``), so an IPv6 network that
        overlaps ``::ffff:0:0/96`` would also take in every IPv4 address, which Sigma's ``|cidr`` never does:
        the raw address text (``source.address``, :data:`~sigma_lambda_layer.fields.elastic.IP_TEXT_FIELDS`)
        must hold a colon for an IPv6 network and none for an IPv4 one, as Python's ``ipaddress`` decides.
        """
        assert isinstance(cond.value, SigmaCIDRExpression)
        kind = self._type(cond.field)
        if kind != "ip":
            raise self._unsupported(
                "a CIDR match (|cidr)", cond.field, f"only ip fields take CIDR queries, not {kind}"
            )
        field = self.escape_and_quote_field(cond.field)
        network = cond.value.network
        query = f'{field}:"{network}"'
        raw = IP_TEXT_FIELDS.get(cond.field)
        if raw is None:
            if network.version == 6 and network.overlaps(_IPV4_MAPPED):
                raise self._unsupported(
                    "an IPv6 CIDR match (|cidr) overlapping ::ffff:0:0/96",
                    cond.field,
                    "ip fields store IPv4 addresses there, and no raw-text field tells them apart",
                )
            return query
        # IPv4 and IPv4-mapped IPv6 addresses share one ip value; the raw text tells them apart (a colon).
        colon = f"{self.escape_and_quote_field(raw)}:*\\:*"
        guard = colon if network.version == 6 else f"(NOT {colon})"
        return f"({query} AND {guard})"

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        raise self._unsupported(
            "a numeric comparison (|lt, |lte, |gt, |gte)",
            cond.field,
            f"the field is a {self._type(cond.field)}; its ranges compare text, not numbers",
        )

    def convert_condition_field_eq_expansion(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        """The values of a ``|base64offset`` or ``|windash`` expansion, ORed.

        The stock backend fails inside pySigma (AttributeError) when the values cannot form an ``(a OR b)``
        list, and on nested expansions (``|windash|base64offset``: every offset of every dash variant), which
        are flattened here into one OR. Field references (``|base64offset|fieldref``: each encoded variant
        taken as a field *name*) are refused by name instead.
        """
        values = _expanded_values(cond.value)
        if any(isinstance(v, SigmaFieldReference) for v in values):
            unsupported(
                f"a field reference (|fieldref) after a value-expanding modifier (|base64offset, |windash) on "
                f"{cond.field!r}: the expanded variants would be read as field names, and Lucene query_string "
                "cannot compare two fields",
                hint="drop |fieldref, or use |fieldref alone on the esql target",
                construct="|fieldref",
                field=cond.field,
            )
        or_cond = ConditionOR(
            [ConditionFieldEqualsValueExpression(cond.field, v) for v in values],
            getattr(cond, "source", None),
        )
        if self.decide_convert_condition_as_in_expression(or_cond, state):
            return self.convert_condition_as_in_expression(or_cond, state)
        return self.convert_condition_or(or_cond, state)

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> Any:
        unsupported(
            f"a field reference (|fieldref) on {cond.field!r}: Lucene query_string cannot compare two fields",
            hint="use the esql or eql target, or a script query",
            construct="|fieldref",
            field=cond.field,
        )

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        unsupported(
            f"a keyword search (value {str(cond.value)!r} without a field): on keyword fields it would be "
            "case-sensitive and search every field",
            hint="name the CloudTrail field the value belongs to",
            construct="keyword",
            value=str(cond.value),
        )

    convert_condition_val_num = convert_condition_val_str
    convert_condition_val_re = convert_condition_val_str

    # --- output formats: the index comes from the pipeline state -----------------------------------------

    def target_indices(self, state: ConversionState) -> list[str]:
        """The pipeline's index (default: the integration's data stream), for rules and saved searches."""
        index = state.processing_state.get("index", INDEX_PATTERN)
        return list(index) if isinstance(index, (list, tuple)) else [str(index)]

    def finalize_query_kibana_ndjson(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> dict[str, Any]:
        """One Kibana saved search (Discover), as saved-object import reads it: see :func:`saved_search`."""
        return saved_search(
            rule, self.finalize_query_default(rule, query, index, state), self.target_indices(state)
        )

    def finalize_output_kibana_ndjson(  # type: ignore[override]
        self, queries: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return saved_objects(queries)

    def finalize_query_siem_rule(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> dict:
        """The stock alerting-API rule (as the EQL and ES|QL targets write it), reading our index."""
        out: dict = super().finalize_query_siem_rule(rule, query, index, state)
        out["params"]["index"] = self.target_indices(state)
        return out
