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

import itertools
import json
import re
from typing import Any, ClassVar

from sigma.backends.elasticsearch import LuceneBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma_lambda_layer.errors import UnsupportedConstructError
from sigma_lambda_layer.fields.elastic import INDEX_PATTERN, field_type

#: Characters with a meaning in query_string syntax (plus whitespace), escaped with ``\`` in field names
#: and values. Source: Elasticsearch reference, query_string "Reserved characters".
_QS_RESERVED = '+-=&|!(){}[]^"~*?:\\/<> '
_FIELD_ESCAPE = re.compile(r"[\s+\-=&|!(){}\[\]^\"~*?:\\/<>]")


def _has_cased(text: str) -> bool:
    return any(c.lower() != c.upper() for c in text)


def _case_set(c: str) -> list[str]:
    """The single characters that match ``c`` case-insensitively (``c`` itself first)."""
    out = [c]
    for v in (c.lower(), c.upper()):
        if len(v) == 1 and v not in out:
            out.append(v)
    return out


def _re_literal(c: str) -> str:
    """One literal character in a Lucene regexp: ``\\`` makes any non-alphanumeric character literal."""
    return c if c.isalnum() else "\\" + c


def _re_literal_ci(c: str) -> str:
    variants = _case_set(c)
    if len(variants) == 1:
        return _re_literal(c)
    return "[" + "".join(_re_literal(v) for v in variants) + "]"


def _qs_escape(text: str) -> str:
    return "".join("\\" + c if c in _QS_RESERVED else c for c in text)


# --- Sigma |re (Python re.search) -> Lucene RegExp -----------------------------------------------------

_PY_CLASS_ESCAPES: dict[str, tuple[bool, str]] = {
    # escape -> (negated, members). ASCII meaning: see docs/targets/elastic.md (limitations).
    "d": (False, "0-9"),
    "D": (True, "0-9"),
    "w": (False, "A-Za-z0-9_"),
    "W": (True, "A-Za-z0-9_"),
    "s": (False, " \t\n\r\f\v"),
    "S": (True, " \t\n\r\f\v"),
}
_PY_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "0": "\0"}
_QUANT_BRACE = re.compile(r"\{(\d*)(,?)(\d*)\}")


class RegexTranslationError(UnsupportedConstructError):
    """A Sigma ``|re`` pattern that has no faithful Lucene RegExp equivalent."""


def _class_member(c: str, ci: bool) -> str:
    """A literal character inside a Lucene character class."""
    if ci:
        return "".join(_re_literal(v) for v in _case_set(c))
    return _re_literal(c)


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
        return RegexTranslationError(
            f"regular expression {self.p!r}: {what} has no Lucene regexp equivalent",
            hint="rewrite the |re value with plain groups, classes and quantifiers, or use wildcards",
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
            return self._escape(in_class=False)
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

    def _escape(self, in_class: bool) -> str:
        if self.i + 1 >= len(self.p):
            raise self.fail("a trailing backslash")
        e = self.p[self.i + 1]
        self.i += 2
        if e in _PY_CLASS_ESCAPES:
            negated, members = _PY_CLASS_ESCAPES[e]
            if in_class:
                if negated:
                    raise self.fail(f"\\{e} inside a character class")
                return "".join(m if m == "-" else _re_literal(m) for m in members) if e == "s" else members
            return (
                ("[^" if negated else "[")
                + ("".join(_re_literal(m) for m in members) if e in "sS" else members)
                + "]"
            )
        if e in _PY_CHAR_ESCAPES:
            return self._lit(_PY_CHAR_ESCAPES[e], in_class)
        if e == "x":
            return self._lit(self._hex(2), in_class)
        if e == "u":
            return self._lit(self._hex(4), in_class)
        if e == "U":
            return self._lit(self._hex(8), in_class)
        if e.isalnum():
            raise self.fail(f"the escape \\{e}")
        return self._lit(e, in_class)

    def _hex(self, n: int) -> str:
        digits = self.p[self.i : self.i + n]
        if len(digits) != n or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise self.fail("a malformed hexadecimal escape")
        self.i += n
        return chr(int(digits, 16))

    def _lit(self, c: str, in_class: bool) -> str:
        if in_class:
            return _class_member(c, self.ci)
        return _re_literal_ci(c) if self.ci else _re_literal(c)

    def _class(self) -> str:
        self.i += 1
        negated = self.p.startswith("^", self.i)
        if negated:
            self.i += 1
        members: list[str] = []
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
            lo = self._class_char()
            if lo is not None and self.p.startswith("-", self.i) and not self.p.startswith("-]", self.i):
                self.i += 1
                hi = self._class_char()
                if hi is None:
                    raise self.fail("a range ending in a class escape")
                members.append(self._range(lo, hi))
            elif lo is not None:
                members.append(_class_member(lo, self.ci))
            else:
                members.append(self._last_class_escape)
        return "[" + ("^" if negated else "") + "".join(members) + "]"

    _last_class_escape: str = ""

    def _class_char(self) -> str | None:
        """One literal character of a class, or ``None`` after a class escape (kept in _last_class_escape)."""
        c = self.p[self.i]
        if c != "\\":
            self.i += 1
            return c
        e = self.p[self.i + 1 : self.i + 2]
        if e in _PY_CLASS_ESCAPES:
            self._last_class_escape = self._escape(in_class=True)
            return None
        if e in _PY_CHAR_ESCAPES:
            self.i += 2
            return _PY_CHAR_ESCAPES[e]
        if e in ("x", "u", "U"):
            self.i += 2
            return self._hex({"x": 2, "u": 4, "U": 8}[e])
        if not e or e.isalnum():
            raise self.fail(f"the escape \\{e} in a character class")
        self.i += 2
        return e

    def _range(self, lo: str, hi: str) -> str:
        if ord(lo) > ord(hi):
            raise self.fail(f"the empty range {lo}-{hi}")
        rng = f"{_re_literal(lo)}-{_re_literal(hi)}"
        if not self.ci:
            return rng
        span = "".join(chr(o) for o in range(ord(lo), ord(hi) + 1)) if ord(hi) - ord(lo) < 512 else None
        if span is None:
            raise self.fail("a very wide range under case-insensitive matching")
        if lo.isascii() and hi.isascii() and (lo + hi).isalpha() and lo.islower() == hi.islower():
            return rng + f"{_re_literal(lo.swapcase())}-{_re_literal(hi.swapcase())}"
        if not _has_cased(span):
            return rng
        raise self.fail(f"the range {lo}-{hi} under case-insensitive matching")


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


# --- the backend ---------------------------------------------------------------------------------------


class CloudTrailLuceneBackend(LuceneBackend):
    """Lucene ``query_string`` queries that mean what the Sigma rule means on the CloudTrail data stream."""

    name: ClassVar[str] = "Elasticsearch Lucene for Elastic's AWS CloudTrail data stream"
    field_escape_pattern: ClassVar[re.Pattern[str]] = _FIELD_ESCAPE

    #: Upper bound on the case variants spelled out for a case-insensitive match on a flattened sub-field
    #: (2 per cased letter: 8 cased letters). Each variant is one term query in a ``bool`` of at most
    #: ``indices.query.bool.max_clause_count`` (>= 1024) clauses.
    max_case_variants: ClassVar[int] = 256

    # --- helpers -------------------------------------------------------------------------------------

    def _type(self, field: str) -> str:
        try:
            return field_type(field)
        except KeyError:
            return "keyword"  # a field from a custom pipeline: assume the common case, a plain keyword

    def _unsupported(
        self, what: str, field: str, why: str, hint: str | None = None
    ) -> UnsupportedConstructError:
        return UnsupportedConstructError(f"{what} on {field!r}: {why}", hint=hint)

    def _string_value(self, field: str, value: SigmaString, cased: bool) -> str:
        """The value part of ``field:<value>`` for a Sigma string on ``field``, with Sigma's meaning."""
        kind = self._type(field)
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
            return _qs_escape(literal) + ("*" if prefix else "")
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
        return "(" + " OR ".join(_qs_escape(v) + ("*" if prefix else "") for v in variants) + ")"

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
        values = [
            self._string_value(field, a.value, isinstance(a.value, SigmaCasedString))
            if isinstance(a.value, SigmaString)
            else self._number_value(field, a.value)
            for a in args
        ]
        return (
            f"{self.escape_and_quote_field(field)}{self.or_in_operator}({self.list_separator.join(values)})"
        )

    # --- other value types -------------------------------------------------------------------------------

    def _number_value(self, field: str, value: Any) -> str:
        kind = self._type(field)
        if kind in ("keyword", "constant_keyword", "flattened"):
            return _qs_escape(str(value))  # CloudTrail numbers are indexed as their JSON text
        raise self._unsupported(f"the number {value}", field, f"{kind} fields do not hold numbers")

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        value = self._number_value(cond.field, cond.value)
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{value}"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaBool)
        kind = self._type(cond.field)
        if kind in ("date", "ip"):
            raise self._unsupported("a boolean", cond.field, f"{kind} fields do not hold booleans")
        value = "true" if cond.value.boolean else "false"
        return f"{self.escape_and_quote_field(cond.field)}{self.eq_token}{value}"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaRegularExpression)
        kind = self._type(cond.field)
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
        kind = self._type(cond.field)
        if kind != "ip":
            raise self._unsupported(
                "a CIDR match (|cidr)", cond.field, f"only ip fields take CIDR queries, not {kind}"
            )
        return super().convert_condition_field_eq_val_cidr(cond, state)

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        raise self._unsupported(
            "a numeric comparison (|lt, |lte, |gt, |gte)",
            cond.field,
            f"the field is a {self._type(cond.field)}; its ranges compare text, not numbers",
        )

    def convert_condition_field_eq_field(self, cond: Any, state: ConversionState) -> Any:
        raise UnsupportedConstructError(
            f"a field reference (|fieldref) on {cond.field!r}: Lucene query_string cannot compare two fields",
            hint="use the esql or eql target, or a script query",
        )

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        raise UnsupportedConstructError(
            f"a keyword search (value {str(cond.value)!r} without a field): on keyword fields it would be "
            "case-sensitive and search every field",
            hint="name the CloudTrail field the value belongs to",
        )

    convert_condition_val_num = convert_condition_val_str
    convert_condition_val_re = convert_condition_val_str

    # --- output formats: the index comes from the pipeline state -----------------------------------------

    def _index(self, state: ConversionState) -> list[str]:
        index = state.processing_state.get("index", INDEX_PATTERN)
        return list(index) if isinstance(index, (list, tuple)) else [str(index)]

    def finalize_query_kibana_ndjson(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> dict:
        out: dict = super().finalize_query_kibana_ndjson(rule, query, index, state)
        pattern = ",".join(self._index(state))
        source = json.loads(out["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        source["index"] = pattern
        out["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"] = json.dumps(source)
        out["references"][0]["id"] = pattern
        return out

    def finalize_query_siem_rule(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> dict:
        out: dict = super().finalize_query_siem_rule(rule, query, index, state)
        out["params"]["index"] = self._index(state)
        return out

    def finalize_query_siem_rule_ndjson(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> dict:
        out: dict = super().finalize_query_siem_rule_ndjson(rule, query, index, state)
        out["index"] = self._index(state)
        return out
