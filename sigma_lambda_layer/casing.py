"""The one definition of case-insensitive comparison in sigma-lambda.

Sigma compares strings case-insensitively unless ``|cased``. Sigma does not say *which* case folding; the
engines we emit queries for do, and they agree on one rule: **lowercase both sides with the Unicode lowercase
mapping and compare**.

- Splunk's eval ``lower(X)`` returns X in lowercase (Search Reference, "Text functions"); a case-insensitive
  ``where`` is ``lower(field) == "value"``.
- ES|QL ``TO_LOWER(str)`` "returns a new string representing the input string converted to lower case"
  (ES|QL reference, "String functions"); it uses Java's ``String.toLowerCase(Locale.ROOT)``.
- Java ``String.toLowerCase(Locale.ROOT)`` applies Unicode's ``UnicodeData.txt`` lowercase mapping plus the
  unconditional ``SpecialCasing.txt`` entries (``İ`` -> ``i̇``, final sigma), which is what Python's
  ``str.lower()`` does too.

So two strings are equal case-insensitively iff ``a.lower() == b.lower()``. That is *not* Python's
``re.IGNORECASE`` (nor ``str.casefold``): those also equate the long s (U+017F) with ``s``, dotless i (U+0131) and
dotted ``İ`` with ``i``, ``ß`` with ``ss`` (casefold), ``ϑ`` with ``θ`` and a few more, which no target does.
The Kelvin sign ``K`` (U+212A) lowercases to ``k`` and the Ångström sign ``Å`` to ``å``, so under this rule
they *are* equal to ``k``/``K`` and ``å``/``Å``.

Regular expressions and wildcards need the rule one character at a time (a character class per letter): a
character ``d`` matches a pattern character ``c`` iff ``d.lower() == c.lower()``, both single characters.
:func:`char_class` gives that set. The per-character and the whole-string forms differ only where lowercasing
is contextual or changes length (``İ``, whose lowercase is two characters, matches only itself per character;
``Σ`` at the end of a word lowercases to ``ς`` as a string but to small sigma alone); :func:`equal` and
:func:`matches_wildcard` use the whole-string form, as ``lower()``/``TO_LOWER`` do.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterable
from functools import cache
from typing import Any, Final

__all__ = [
    "char_class",
    "class_members",
    "compile_regex",
    "equal",
    "fold",
    "is_cased",
    "literal_regex",
    "matches_wildcard",
    "range_partners",
    "regex_source",
]

#: Every code point a Python ``str`` can hold (surrogates lower to themselves and are left out of the
#: inverse table, which only lists characters whose lowercase differs from themselves).
_MAX_CODE_POINT: Final = sys.maxunicode


def fold(text: str) -> str:
    """The key two strings are compared by: ``fold(a) == fold(b)`` iff they are equal case-insensitively."""
    return text.lower()


def equal(a: str, b: str) -> bool:
    """``a`` and ``b`` are equal case-insensitively (Unicode lowercase of both sides)."""
    return a.lower() == b.lower()


@cache
def _uppers() -> dict[str, frozenset[str]]:
    """lowercase character -> every *other* single character that lowercases to it (built once, ~0.2 s)."""
    table: dict[str, set[str]] = {}
    for code in range(_MAX_CODE_POINT + 1):
        ch = chr(code)
        low = ch.lower()
        if low != ch and len(low) == 1:
            table.setdefault(low, set()).add(ch)
    return {low: frozenset(chars) for low, chars in table.items()}


def char_class(c: str) -> frozenset[str]:
    """Every character equal to ``c`` case-insensitively, ``c`` included: ``{d : d.lower() == c.lower()}``.

    ``char_class("k") == {"k", "K", "\\u212a"}`` (Kelvin sign), ``char_class("s") == {"s", "S"}`` (no long s, U+017F),
    ``char_class("i") == {"i", "I"}`` (no dotless or dotted i). A character whose lowercase is more than one
    character (``İ``) matches only itself. Regexp renderers build ``[kK\\u212a]`` from this.
    """
    if len(c) != 1:
        raise ValueError(f"char_class takes one character, not {c!r}")
    low = c.lower()
    if len(low) != 1:
        return frozenset({c})
    return frozenset({low, *_uppers().get(low, ())}) | {c}


def class_members(chars: Iterable[str]) -> frozenset[str]:
    """The closure of a set of characters under :func:`char_class` (for ``[...]`` classes under ``|re|i``)."""
    out: set[str] = set()
    for c in chars:
        out |= char_class(c)
    return frozenset(out)


def range_partners(lo: str, hi: str) -> frozenset[str]:
    """The characters outside ``lo``-``hi`` equal to some character inside it (the range's class closure
    is the range plus these): ``range_partners("a", "z")`` holds ``A``-``Z`` and the Kelvin sign."""
    out: set[str] = set()
    for low, uppers in _uppers().items():
        group = {low, *uppers}
        if any(lo <= c <= hi for c in group):
            out |= group
    return frozenset(c for c in out if not lo <= c <= hi)


def is_cased(text: str) -> bool:
    """``text`` has a character with another spelling under this rule (so case-insensitivity matters)."""
    return any(len(char_class(c)) > 1 for c in text)


def literal_regex(text: str) -> str:
    """Python regular-expression source matching exactly the strings equal to ``text`` character by
    character under this rule, without any flag: ``"Ks"`` -> ``"[Kk\u212a][Ss]"``. For engines whose own
    case-insensitive mode folds differently (wrap it in ``(?-i:...)`` there)."""
    out = []
    for c in text:
        members = char_class(c)
        out.append(re.escape(c) if len(members) == 1 else "[" + "".join(sorted(members)) + "]")
    return "".join(out)


def matches_wildcard(value: str, pattern: str, *, multi: str = "*", single: str = "?") -> bool:
    """``value`` matches the wildcard ``pattern`` (``*`` any run, ``?`` one character, no escapes)
    case-insensitively: both sides lowercased, then matched exactly, as ``TO_LOWER(f) LIKE`` does."""
    body = "".join(".*" if ch == multi else "." if ch == single else re.escape(ch) for ch in pattern.lower())
    return re.fullmatch(body, value.lower(), re.DOTALL) is not None


# The parser and compiler behind ``re`` (``sre_parse``/``sre_compile`` before 3.11, which warn on import
# from 3.11 on). Only their long-stable tree format is used: (opcode, argument) lists.
_PARSER: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
_COMPILER: Any = importlib.import_module("re._compiler" if sys.version_info >= (3, 11) else "sre_compile")
_C: Any = importlib.import_module("re._constants" if sys.version_info >= (3, 11) else "sre_constants")


#: An inline flag group that turns case-insensitivity on (``(?i)``, ``(?si)``, ``(?i:...)``); a false positive
#: (an escaped parenthesis) only takes the slower, exact path below.
_INLINE_IGNORECASE: Final = re.compile(r"\(\?[aLmsux-]*i[aiLmsux-]*[:)]")


def compile_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, except that case-insensitive parts (``re.IGNORECASE`` or ``(?i)``,
    global or scoped) follow this module's rule instead of Python's folding: every literal and class
    member is replaced by its :func:`char_class`, and the pattern is compiled case-sensitively.

    The result is compiled from *text* (:func:`regex_source`), so its ``.pattern`` holds a case-sensitive
    pattern of identical meaning: ``regexsafety.bounded`` re-compiles it on the ``regex`` package and runs
    it under a time bound, cased or not (docs/hostile-input.md).

    A backreference inside a case-insensitive part raises ``ValueError``: Python can only compare it with
    its own folding, and the rule must not silently differ.
    """
    source, rest = regex_source(pattern, flags)
    return re.compile(source, rest)


def regex_source(pattern: str, flags: int = 0) -> tuple[str, int]:
    """The case-sensitive pattern text and flags that mean what ``pattern`` under ``flags`` means with
    case-insensitive parts following this module's rule (``("[Kk\u212a]", re.UNICODE)`` for ``("k", re.I)``).

    A pattern with nothing case-insensitive is returned as it is. Otherwise it is parsed by ``re``'s own
    parser, its case-insensitive literals and sets are replaced by explicit classes (:func:`_rewrite`), and
    the tree is written back as text (:func:`_source`) that ``re`` and ``regex`` (``VERSION0``) parse into
    the same tree: every literal escaped, every repeat and alternation in its own non-capturing group.
    tests/test_casing.py proves, on generated patterns and strings, that it matches exactly where the
    rewritten tree compiled directly does.
    """
    if not flags & re.IGNORECASE and not _INLINE_IGNORECASE.search(pattern):
        # Nothing case-insensitive: the source as written.
        return pattern, flags
    tree = _PARSER.parse(pattern, flags)
    ignore = bool(tree.state.flags & re.IGNORECASE)
    _rewrite(tree, ignore)
    names = {index: name for name, index in tree.state.groupdict.items()}
    # VERBOSE was consumed by the parser (whitespace and comments are gone from the tree).
    rest = tree.state.flags & ~(re.IGNORECASE | re.VERBOSE)
    return _source(tree, names), rest


def _char(code: int) -> str:
    """One character as pattern text that every parser reads as that literal character."""
    c = chr(code)
    if c.isascii() and c.isalnum():
        return c
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_CATEGORY_TEXT: Final = {
    _C.CATEGORY_DIGIT: "\\d",
    _C.CATEGORY_NOT_DIGIT: "\\D",
    _C.CATEGORY_SPACE: "\\s",
    _C.CATEGORY_NOT_SPACE: "\\S",
    _C.CATEGORY_WORD: "\\w",
    _C.CATEGORY_NOT_WORD: "\\W",
}
_AT_TEXT: Final = {
    _C.AT_BEGINNING: "^",
    _C.AT_END: "$",
    _C.AT_BEGINNING_STRING: "\\A",
    _C.AT_END_STRING: "\\Z",
    _C.AT_BOUNDARY: "\\b",
    _C.AT_NON_BOUNDARY: "\\B",
}
_FLAG_LETTERS: Final = ((re.ASCII, "a"), (re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))


def _flag_text(bits: int) -> str:
    return "".join(letter for flag, letter in _FLAG_LETTERS if bits & flag)


def _set_source(items: Iterable[tuple[Any, Any]]) -> str:
    out = []
    for op, av in items:
        if op is _C.NEGATE:
            out.append("^")
        elif op is _C.LITERAL:
            out.append(_char(av))
        elif op is _C.RANGE:
            out.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is _C.CATEGORY:
            out.append(_CATEGORY_TEXT[av])
        else:  # pragma: no cover - the parser puts nothing else in a set
            raise ValueError(f"unexpected set member {op} in a regular expression")
    return "[" + "".join(out) + "]"


def _source(tree: Any, names: dict[int, str]) -> str:
    """Pattern text for a parsed (sub-)pattern; iterative over the sequence, recursive only over nesting,
    which the parser itself bounds."""
    out: list[str] = []
    for op, av in tree:
        if op is _C.LITERAL:
            out.append(_char(av))
        elif op is _C.NOT_LITERAL:
            out.append(f"[^{_char(av)}]")
        elif op is _C.ANY:
            out.append(".")
        elif op is _C.IN:
            out.append(_set_source(av))
        elif op is _C.CATEGORY:
            out.append(_CATEGORY_TEXT[av])
        elif op is _C.AT:
            out.append(_AT_TEXT[av])
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT) or op is getattr(_C, "POSSESSIVE_REPEAT", None):
            lo, hi, sub = av
            bound = f"{{{lo},}}" if hi == _C.MAXREPEAT else f"{{{lo},{hi}}}"
            mode = "?" if op is _C.MIN_REPEAT else "" if op is _C.MAX_REPEAT else "+"
            out.append(f"(?:{_source(sub, names)}){bound}{mode}")
        elif op is _C.SUBPATTERN:
            group, add, drop, sub = av
            if group is not None:
                name = names.get(group)
                head = f"(?P<{name}>" if name else "("
            elif add or drop:
                head = f"(?{_flag_text(add)}{'-' + _flag_text(drop) if drop else ''}:"
            else:
                head = "(?:"
            out.append(f"{head}{_source(sub, names)})")
        elif op is _C.BRANCH:
            out.append("(?:" + "|".join(_source(sub, names) for sub in av[1]) + ")")
        elif op in (_C.ASSERT, _C.ASSERT_NOT):
            direction, sub = av
            kind = ("=" if op is _C.ASSERT else "!") if direction > 0 else ("<=" if op is _C.ASSERT else "<!")
            out.append(f"(?{kind}{_source(sub, names)})")
        elif op is getattr(_C, "ATOMIC_GROUP", None):
            out.append(f"(?>{_source(av, names)})")
        elif op is _C.GROUPREF:
            out.append(f"(?P={names[av]})" if av in names else _backref(av))
        elif op is _C.GROUPREF_EXISTS:
            group, yes, no = av
            ref = names.get(group, str(group))
            tail = "" if no is None else "|" + _source(no, names)
            out.append(f"(?({ref}){_source(yes, names)}{tail})")
        else:  # pragma: no cover - every opcode the parser emits is handled above
            raise ValueError(f"unexpected element {op} in a regular expression")
    return "".join(out)


def _backref(group: int) -> str:
    if group > 99:  # '\\100' is an octal escape, not a reference
        raise ValueError("a backreference to a group numbered over 99 is not supported with (?i)")
    return f"(?:\\{group})"


def _literals(chars: Iterable[str]) -> list[tuple[Any, int]]:
    return [(_C.LITERAL, ord(c)) for c in sorted(chars)]


def _close_set(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """A ``[...]`` set with every member's case partners added (ranges through the inverse table)."""
    extra: set[str] = set()
    for op, av in items:
        if op is _C.LITERAL:
            extra |= char_class(chr(av))
        elif op is _C.RANGE:
            extra |= range_partners(chr(av[0]), chr(av[1]))
    return items + _literals(extra)


def _rewrite(tree: Any, ignore: bool) -> None:
    """Replace, in place, the case-insensitive parts of a parsed pattern by explicit classes."""
    data = tree.data
    for i, (op, av) in enumerate(data):
        if op is _C.LITERAL and ignore:
            members = char_class(chr(av))
            if len(members) > 1:
                data[i] = (_C.IN, _literals(members))
        elif op is _C.NOT_LITERAL and ignore:
            data[i] = (_C.IN, [(_C.NEGATE, None), *_literals(char_class(chr(av)))])
        elif op is _C.IN and ignore:
            data[i] = (_C.IN, _close_set(list(av)))
        elif op is _C.SUBPATTERN:
            group, add, drop, sub = av
            inner = (ignore or bool(add & re.IGNORECASE)) and not drop & re.IGNORECASE
            _rewrite(sub, inner)
            data[i] = (_C.SUBPATTERN, (group, add & ~re.IGNORECASE, drop & ~re.IGNORECASE, sub))
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT) or op is getattr(_C, "POSSESSIVE_REPEAT", None):
            _rewrite(av[2], ignore)
        elif op is _C.BRANCH:
            for sub in av[1]:
                _rewrite(sub, ignore)
        elif op in (_C.ASSERT, _C.ASSERT_NOT):
            _rewrite(av[1], ignore)
        elif op is getattr(_C, "ATOMIC_GROUP", None):
            _rewrite(av, ignore)
        elif op is _C.GROUPREF_EXISTS:
            _rewrite(av[1], ignore)
            if av[2] is not None:
                _rewrite(av[2], ignore)
        elif op is _C.GROUPREF and ignore:
            raise ValueError("a backreference in a case-insensitive regular expression is not supported")
