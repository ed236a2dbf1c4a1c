"""Sigma ``|re`` (a Python regular expression, ``re.search`` semantics) as a Lucene regexp, for every Elastic
target: Lucene ``field:/.../``, EQL ``regex`` and ES|QL ``RLIKE`` all hand the pattern to Lucene's ``RegExp``
(Query DSL "Regular expression syntax"), so one translator serves all three.

Semantics, which are the reference evaluator's (:mod:`sigma_lambda_layer.evaluator`, Python ``re`` on ``str``
patterns, case-insensitivity from :mod:`sigma_lambda_layer.casing`) and nothing else:

- **Matching.** Lucene regexps match the whole term; Sigma's ``|re`` is an unanchored search. An unanchored
  side gets ``.*``; a leading ``^``/``\\A`` and a trailing ``$``/``\\Z`` of a top-level alternative drop it.
  Python's ``$`` also matches before a final line break, so it becomes ``(\\n)?``. Anchors anywhere else,
  and any anchor under the multi-line flag, are refused.
- **``.``** is any character but a line break, unless the dot-all flag (``|re|s``, ``(?s)``): Lucene's ``.``
  is any character, so without the flag it is written ``[^\\n]``.
- **``\\d`` and ``\\s``** are Python's Unicode classes (``str.isdecimal``, ``str.isspace``) written out as
  ranges; under a leading ``(?a)`` they are the ASCII classes ``[0-9]`` and ``[ \\t\\n\\r\\f\\v]``. Lucene 8
  reads ``\\d`` as the letter ``d``, and Lucene 9's ``\\d`` is ASCII only, so neither is ever emitted.
- **``\\w``** is Python's Unicode word class (every letter and digit in Unicode, some 700 ranges); written
  out, the automaton next to ``.*`` takes Lucene seconds per query, so ``\\w``/``\\W`` are refused unless
  a leading ``(?a)`` makes them ``[0-9A-Z_a-z]``. An ASCII class without the flag would silently change the
  meaning.
- **Case.** ``|re|i`` or a leading ``(?i)`` make the pattern case-insensitive by the project's rule
  (:func:`sigma_lambda_layer.casing.char_class`: ``d`` matches ``c`` iff ``d.lower() == c.lower()``), written as
  explicit classes (``[kK\\u212a]``; no long s U+017F for ``s``, no dotless or dotted i for ``i``) in
  a case-sensitive regexp.
  No engine's own case-insensitive mode is used: Elasticsearch's ``case_insensitive`` regexps (EQL
  ``regex~``) fold ASCII only before Lucene 10, so the classes are what makes every target agree.
- **Flags.** Sigma's ``i``, ``s``, ``m`` and one leading global group of ``i``, ``s``, ``m``, ``a`` (Python only
  accepts global flags at the start); scoped flags ``(?i:...)`` and ``x``/``u``/``L`` are refused.
- Lazy quantifiers become greedy (whole-term matching makes them equivalent); possessive and repeated
  quantifiers, back-references, look-around, ``\\b``/``\\B``, conditionals and POSIX classes are refused.

A refusal is a :class:`RegexTranslationError` naming the construct. ``tests/test_lucene_regexp.py`` holds
every translation against Python ``re`` on generated strings.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from typing import Final

from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag

from sigma_lambda_layer import casing
from sigma_lambda_layer.errors import UnsupportedConstructError, refusal

__all__ = ["RegexTranslationError", "literal_regexp", "re_literal", "translate", "translate_sigma"]

_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "0": "\0"}
_QUANT_BRACE = re.compile(r"\{(\d*)(,?)(\d*)\}")
#: Python's class escapes: letter -> (negated, class name).
_CLASS_ESCAPES: dict[str, tuple[bool, str]] = {
    "d": (False, "d"),
    "D": (True, "d"),
    "w": (False, "w"),
    "W": (True, "w"),
    "s": (False, "s"),
    "S": (True, "s"),
}
_ASCII_CLASSES: dict[str, frozenset[int]] = {
    "d": frozenset(range(ord("0"), ord("9") + 1)),
    "w": frozenset(ord(c) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"),
    "s": frozenset(ord(c) for c in " \t\n\r\f\v"),
}


class RegexTranslationError(UnsupportedConstructError):
    """A Sigma ``|re`` pattern that has no faithful Lucene RegExp equivalent."""


#: Characters with a meaning in a Lucene regexp (Query DSL "Regular expression syntax": the reserved
#: characters, and the optional operators ``# @ & < > ~`` that ``flags: ALL`` enables). A backslash makes any
#: of them literal. (``/``, which ends a query_string ``/regexp/``, is the Lucene backend's to escape.)
_RESERVED: Final = frozenset('.?+*|{}[]()"\\#@&<>~')
#: Inside ``[...]``: also ``^`` (complement) and ``-`` (range).
_CLASS_RESERVED: Final = _RESERVED | {"^", "-"}


def re_literal(c: str) -> str:
    """One literal character in a Lucene regexp (outside a class)."""
    return "\\" + c if c in _RESERVED else c


def _class_literal(c: str) -> str:
    return "\\" + c if c in _CLASS_RESERVED else c


def _ci_literal(c: str) -> str:
    members = casing.char_class(c)
    if len(members) == 1:
        return re_literal(c)
    return "[" + "".join(_class_literal(m) for m in sorted(members)) + "]"


def literal_regexp(text: str, *, ignorecase: bool) -> str:
    """A Lucene regexp matching exactly ``text`` (case-insensitively by :mod:`~sigma_lambda_layer.casing`
    when ``ignorecase``): the literal pieces of a wildcard value rendered as a regexp."""
    return "".join(_ci_literal(c) if ignorecase else re_literal(c) for c in text)


def _class_body(members: frozenset[int] | set[int]) -> str:
    """A Lucene character-class body for a set of code points, runs of three or more as ranges."""
    out: list[str] = []
    points = sorted(members)
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{_class_literal(chr(points[i]))}-{_class_literal(chr(points[j]))}")
        else:
            out.extend(_class_literal(chr(p)) for p in points[i : j + 1])
        i = j + 1
    return "".join(out)


@functools.cache
def _unicode_class(name: str) -> frozenset[int]:
    """Code points of Python's ``\\d`` (``str.isdecimal``), ``\\w`` (alphanumerics and ``_``) or ``\\s``
    (``str.isspace``): what these escapes mean in a ``str`` pattern (sre's ``Py_UNICODE_IS*``)."""
    test = {"d": str.isdecimal, "w": lambda ch: ch.isalnum() or ch == "_", "s": str.isspace}[name]
    return frozenset(cp for cp in range(sys.maxunicode + 1) if test(chr(cp)))


@dataclass
class _Translator:
    """Recursive descent over the Python pattern, writing Lucene syntax as it goes."""

    p: str
    ignorecase: bool
    dotall: bool
    multiline: bool
    ascii: bool = False
    i: int = 0

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
            raise self.fail(f"an unbalanced ')' at offset {self.i}")
        padded = []
        for start, body, end in alternatives:
            if self.multiline and (start or end is not None):
                raise self.fail("an anchor under the multi-line flag")
            padded.append(("" if start else ".*") + body + (".*" if end is None else end))
        return padded[0] if len(padded) == 1 else "(" + "|".join(padded) + ")"

    def _leading_flags(self) -> None:
        m = re.match(r"\(\?([a-zA-Z]+)\)", self.p)
        if not m:
            return
        for flag in m.group(1):
            if flag == "i":
                self.ignorecase = True
            elif flag == "s":
                self.dotall = True
            elif flag == "m":
                self.multiline = True
            elif flag == "a":
                self.ascii = True
            else:
                raise self.fail(f"the inline flag (?{flag})")
        self.i = m.end()

    def _alternatives(self, top: bool) -> list[tuple[bool, str, str | None]]:
        """``a|b|c`` up to ``)`` or the end; each item: (anchored start, body, end suffix or None)."""
        out = []
        while True:
            start = False
            if self.p.startswith("^", self.i) or self.p.startswith("\\A", self.i):
                if not top:
                    raise self.fail("an anchor inside a group")
                start = True
                self.i += 1 if self.p[self.i] == "^" else 2
            body, end = self._sequence(top)
            out.append((start, body, end))
            if self.p.startswith("|", self.i):
                self.i += 1
                continue
            return out

    def _sequence(self, top: bool) -> tuple[str, str | None]:
        parts: list[str] = []
        while self.i < len(self.p) and self.p[self.i] not in "|)":
            c = self.p[self.i]
            if c == "$" or self.p.startswith("\\Z", self.i):
                self.i += 1 if c == "$" else 2
                if not top:
                    raise self.fail("an anchor inside a group")
                if self.i < len(self.p) and self.p[self.i] != "|":
                    raise self.fail("an anchor that does not end the pattern")
                # Python's $ also matches before a final newline; \Z only at the very end.
                return "".join(parts), ("(\n)?" if c == "$" else "")
            atom = self._atom()
            parts.append(atom + self._quantifier())
        if top and self.p.startswith(")", self.i):
            raise self.fail(f"an unbalanced ')' at offset {self.i}")
        return "".join(parts), None

    def _quantifier(self) -> str:
        if self.i >= len(self.p):
            return ""
        c = self.p[self.i]
        if c in "*+?":
            q = c
            self.i += 1
        elif c == "{":
            if not self._brace_is_quantifier():
                return ""  # a literal '{', read by the next _atom call
            m = _QUANT_BRACE.match(self.p, self.i)
            assert m is not None
            lo, comma, hi = m.groups()
            if lo and hi and int(lo) > int(hi):
                raise self.fail(f"the empty repetition {m.group(0)}")
            q = "{" + (lo or "0") + comma + hi + "}"
            self.i = m.end()
        else:
            return ""
        if self.p.startswith("?", self.i):
            self.i += 1  # lazy: the same set of matching strings under whole-term matching
        elif self.p.startswith("+", self.i):
            raise self.fail("a possessive quantifier")
        if self.p[self.i : self.i + 1] in ("*", "+", "?") or self._brace_is_quantifier():
            raise self.fail("a repeated quantifier")
        return q

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
        if c == "{" and self._brace_is_quantifier():
            raise self.fail(f"a quantifier without operand at offset {self.i}")
        self.i += 1
        return self._literal(c)

    def _brace_is_quantifier(self) -> bool:
        """``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` and ``{,}`` repeat (Python's parser); ``{}``, ``{x`` are text."""
        m = _QUANT_BRACE.match(self.p, self.i)
        return bool(m and (m.group(1) or m.group(2) or m.group(3)))

    def _literal(self, c: str) -> str:
        return _ci_literal(c) if self.ignorecase else re_literal(c)

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
        if not self.p.startswith(")", self.i):
            raise self.fail("an unterminated group")
        self.i += 1
        return "(" + "|".join(body for _, body, _ in alternatives) + ")"

    def _named_class(self, escape: str) -> frozenset[int]:
        name = _CLASS_ESCAPES[escape][1]
        if self.ascii:
            return _ASCII_CLASSES[name]
        if name == "w":
            raise RegexTranslationError(
                f"regular expression {self.p!r}: \\{escape} means every Unicode letter and digit (Python "
                "str patterns), too large a class for a Lucene regexp",
                hint="write the class you mean, e.g. [A-Za-z0-9_], or start the pattern with (?a) for "
                "ASCII \\w, \\d and \\s",
            )
        return _unicode_class(name)

    def _escape(self) -> str:
        """An escape outside a class."""
        e = self.p[self.i + 1 : self.i + 2]
        if e in _CLASS_ESCAPES:
            members = self._named_class(e)
            self.i += 2
            return ("[^" if _CLASS_ESCAPES[e][0] else "[") + _class_body(members) + "]"
        return self._literal(self._char_escape())

    def _char_escape(self) -> str:
        """The literal character of an escape (``\\n``, ``\\x41``, ``\\.``) at ``self.i``, consumed."""
        e = self.p[self.i + 1 : self.i + 2]
        if not e:
            raise self.fail("a trailing backslash")
        self.i += 2
        if e in _CHAR_ESCAPES:
            if e == "0" and self.i < len(self.p) and self.p[self.i] in "01234567":
                raise self.fail("an octal escape")
            return _CHAR_ESCAPES[e]
        if e in ("x", "u", "U"):
            n = {"x": 2, "u": 4, "U": 8}[e]
            digits = self.p[self.i : self.i + n]
            if len(digits) != n or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise self.fail("a malformed hexadecimal escape")
            self.i += n
            return chr(int(digits, 16))
        if e.isalnum():
            raise self.fail(f"the escape \\{e}")
        return e

    def _class(self) -> str:
        """``[...]``: the set of code points it matches (case-insensitive: closed under the casing rule)."""
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
            if self.p.startswith("[:", self.i):
                raise self.fail("a POSIX class")
            lo = self._class_char(members)
            if lo is None:
                continue
            if self.p.startswith("-", self.i) and not self.p.startswith("-]", self.i):
                self.i += 1
                if self.i >= len(self.p):
                    raise self.fail("an unterminated character class")
                hi = self._class_char(members)
                if hi is None:
                    raise self.fail("a range ending in a class escape")
                if ord(lo) > ord(hi):
                    raise self.fail(f"the empty range {lo}-{hi}")
            else:
                hi = lo
            members.update(range(ord(lo), ord(hi) + 1))
            if self.ignorecase:
                members.update(ord(m) for m in casing.range_partners(lo, hi))
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
        if e in _CLASS_ESCAPES:
            if _CLASS_ESCAPES[e][0]:
                raise self.fail(f"\\{e} inside a character class")
            members.update(self._named_class(e))
            self.i += 2
            return None
        if e == "b":
            self.i += 2
            return "\b"  # inside a class, \b is the backspace character
        try:
            return self._char_escape()
        except RegexTranslationError:
            raise self.fail(f"the escape \\{e} in a character class") from None


def translate(
    pattern: str, *, ignorecase: bool = False, dotall: bool = False, multiline: bool = False
) -> str:
    """Lucene RegExp (no ``/`` delimiters, no escaping for the host language) matching exactly the values in
    which Python's ``re.search(pattern, value)`` finds a match, under the given flags and the project's
    case rule; raises :class:`RegexTranslationError` for a construct without a faithful translation."""
    return _Translator(pattern, ignorecase=ignorecase, dotall=dotall, multiline=multiline).translate()


def translate_sigma(regex: SigmaRegularExpression) -> str:
    """:func:`translate` for a Sigma ``|re`` value, its ``|i``, ``|s`` and ``|m`` modifiers as flags."""
    flags = regex.flags
    return translate(
        regex.regexp.original,
        ignorecase=SigmaRegularExpressionFlag.IGNORECASE in flags,
        dotall=SigmaRegularExpressionFlag.DOTALL in flags,
        multiline=SigmaRegularExpressionFlag.MULTILINE in flags,
    )
