"""Regular expressions from rule text, run with a time bound, and a static warning for catastrophic ones.

A rule's ``|re`` value (and a wildcard value, which becomes a regular expression) runs on backtracking
engines: Python's ``re`` in the reference evaluator and ``check``, PCRE in Splunk, Java in OpenSearch.
``'^(a+)+$'`` against 37 ``a`` and a ``!`` takes minutes on ``re``, which has no timeout. Here:

* :func:`bounded` runs a match on the ``regex`` package (``VERSION0``, the ``re``-compatible mode: same
  syntax, same simple case folding) with its ``timeout`` argument, raising :class:`RegexTimeout`;
* :func:`catastrophic` finds the nested quantifier that makes a pattern exponential (``(a+)+``, ``(.*)*``,
  ``(\\w+\\s?)*``), for ``check`` to warn about before any engine runs it.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

import regex

from sigma_lambda_layer.errors import SigmaLambdaError

try:  # Python 3.11+: the parser behind re; 3.10 names it sre_parse
    import re._parser as _sre_parse  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef,unused-ignore]

#: Longest one match may take, in seconds. A well-formed pattern decides a CloudTrail value in microseconds.
MATCH_TIMEOUT: Final = 1.0


class RegexTimeout(SigmaLambdaError):
    """A regular expression from a rule did not decide a value within :data:`MATCH_TIMEOUT`."""


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str, flags: int) -> Any:
    # re and regex share the bits of I, L, M, S, X (2, 4, 8, 16, 64); re.UNICODE is regex's default for str;
    # re.ASCII (256) is regex.VERSION1's bit, so it is translated to regex.ASCII (128).
    shared = flags & (re.IGNORECASE | re.LOCALE | re.MULTILINE | re.DOTALL | re.VERBOSE)
    return regex.compile(pattern, shared | (regex.ASCII if flags & re.ASCII else 0) | regex.VERSION0)


def bounded(pattern: re.Pattern[str], text: str, *, full: bool = False, shown: str | None = None) -> bool:
    """Whether ``pattern`` matches ``text`` (``search``, or ``fullmatch`` when ``full``), within the bound.
    ``shown`` is the pattern as the rule wrote it, for the timeout message (``pattern`` may be its rewrite).

    Every rule pattern has source text: ``casing.compile_regex`` writes a case-insensitive ``|re|i`` back
    as an equivalent case-sensitive pattern, so cased or not it runs here, bounded (docs/hostile-input.md).
    """
    compiled = _compile(pattern.pattern, pattern.flags)
    try:
        found = (
            compiled.fullmatch(text, timeout=MATCH_TIMEOUT)
            if full
            else compiled.search(text, timeout=MATCH_TIMEOUT)
        )
    except TimeoutError:
        raise _timeout(shown or pattern.pattern, text) from None
    return found is not None


def _timeout(pattern: str, text: str) -> RegexTimeout:
    shown = pattern if len(pattern) <= 80 else pattern[:77] + "..."
    return RegexTimeout(
        f"regular expression {shown!r} took over {MATCH_TIMEOUT:g} s on a {len(text)}-character value "
        "(catastrophic backtracking)",
        hint="avoid a quantifier on a group that itself repeats, e.g. write '^a+$' for '^(a+)+$'",
    )


_REPEATS: Final = frozenset(
    op
    for op in (
        getattr(_sre_parse, "MAX_REPEAT", None),
        getattr(_sre_parse, "MIN_REPEAT", None),
    )
    if op is not None
)
_MAXREPEAT: Final = getattr(_sre_parse, "MAXREPEAT", 2**32 - 1)


def _unbounded(op: Any, av: Any) -> bool:
    """A repeat with no upper bound or a large one (``+``, ``*``, ``{2,}``, ``{1,100}``)."""
    return op in _REPEATS and (av[1] == _MAXREPEAT or av[1] > 10)


def _items(av: Any) -> list[Any]:
    """Sub-patterns of one parsed node's argument (groups, alternations, repeats, lookarounds)."""
    subs: list[Any] = []
    if isinstance(av, _sre_parse.SubPattern):
        subs.append(av)
    elif isinstance(av, (tuple, list)):
        for part in av:
            if isinstance(part, _sre_parse.SubPattern):
                subs.append(part)
            elif isinstance(part, (tuple, list)):
                subs.extend(p for p in part if isinstance(p, _sre_parse.SubPattern))
    return subs


def _has_repeat(sub: Any) -> bool:
    stack = [sub]
    while stack:
        for op, av in stack.pop():
            if _unbounded(op, av):
                return True
            stack.extend(_items(av))
    return False


def catastrophic(pattern: str, flags: int = 0) -> str | None:
    """The nested quantifier that makes ``pattern`` backtrack exponentially, as text, or None.

    A repeat (``+``, ``*``, ``{n,}``) over a sub-pattern that holds another unbounded repeat can match one
    string in exponentially many ways, and a failing match tries them all. The pattern is parsed with the
    parser of Python's ``re`` (iteratively walked); an invalid pattern gives None (pySigma reports it).
    """
    try:
        parsed = _sre_parse.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    stack = [parsed]
    while stack:
        for op, av in stack.pop():
            if _unbounded(op, av):
                if any(_has_repeat(s) for s in _items(av)):
                    return "a repeated group that itself repeats"
                if any(_overlapping(s) for s in _items(av)):
                    return "a repeated alternation whose branches start alike"
            stack.extend(_items(av))
    return None


def _overlapping(sub: Any) -> bool:
    """Whether ``sub`` holds an alternation with two branches starting alike (``a|ab``, which re's parser
    factors into ``a(|b)``: a branch that is empty), so a repeat over it can split one string many ways."""
    stack = [sub]
    while stack:
        for op, av in stack.pop():
            if op == _sre_parse.BRANCH:
                branches = [list(b) for b in av[1]]
                starts = [repr(b[:1]) for b in branches]
                if any(not b for b in branches) or len(set(starts)) < len(starts):
                    return True
            stack.extend(_items(av))
    return False


class BoundedPattern:
    """A compiled pattern whose every match runs under :data:`MATCH_TIMEOUT` (see :func:`bounded`).

    Drop-in for the ``search``/``fullmatch``/``match`` calls the reference engines make; compiled once with
    ``re`` (its syntax and errors decide validity, unless ``engine`` is ``regex`` for PCRE recursion).
    """

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0, *, recursive: bool = False) -> None:
        if not recursive:
            flags = re.compile(pattern, flags).flags  # validates with re, as before
        self.pattern = pattern
        self.flags = flags
        self._compiled = _compile(pattern, flags)

    def _run(self, method: str, text: str) -> Any:
        try:
            return getattr(self._compiled, method)(text, timeout=MATCH_TIMEOUT)
        except TimeoutError:
            raise _timeout(self.pattern, text) from None

    def search(self, text: str) -> Any:
        return self._run("search", text)

    def fullmatch(self, text: str) -> Any:
        return self._run("fullmatch", text)

    def match(self, text: str) -> Any:
        return self._run("match", text)
