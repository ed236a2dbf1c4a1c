"""A reference matcher of Amazon EventBridge event patterns, written from the documentation.

Sources: Amazon EventBridge User Guide, "Creating event patterns", "Comparison operators for use in event
patterns", "Content filtering in Amazon EventBridge event patterns", "Matching on null values and empty
strings", and the aws/event-ruler README (the library EventBridge runs on). What it implements:

- a pattern is a JSON object; its keys are ANDed; a nested object descends into the event; a leaf holds a
  non-empty list of tests, ORed; ``$or`` holds two or more objects, ORed;
- the event's values at a path are its leaves there: arrays (of values or of objects) contribute each
  element, so a test matches when any element matches; an object is not a leaf value;
- exact values match by JSON type and text (``"a"`` a string, ``5`` the number whose text is 5, ``true``,
  ``null``); ``prefix``/``suffix`` (optionally with ``equals-ignore-case``), ``equals-ignore-case``,
  ``wildcard`` (``*`` only, ``\\*``/``\\\\`` escapes, case-sensitive), ``anything-but`` (a present value other
  than the ones given: JSON null included, a missing field never), ``exists``, ``numeric``, ``cidr``;
- limits: pattern text at most 4,096 characters, at most 1,000 ``$or`` combinations.

Case-insensitive comparison follows the project's definition (``a.lower() == b.lower()``), since the docs only
say "regardless of case". Where several fields of one array element are tested, this matcher takes each
field's values on their own (the event-ruler README's ``rulesForEvent``); the service may require the same
element (``rulesForJSONEvent``): a known limit of this reference, documented in docs/targets/eventbridge.md.
Anything outside this subset raises :class:`PatternError` (the engine's refusal).
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_PATTERN_LENGTH = 4096
MAX_COMBINATIONS = 1000
_NUMERIC_OPS = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


_VALIDATE: Any = {}  # the sentinel event of compile_pattern's check (identity, never a real event)


class PatternError(ValueError):
    """The pattern is invalid or outside the documented subset."""


def _leaves(node: Any, keys: list[str]) -> list[Any]:
    """The leaf values at ``keys`` below ``node`` (arrays crushed); objects are not leaves."""
    if isinstance(node, list):
        return [v for element in node for v in _leaves(element, keys)]
    if not keys:
        return [] if isinstance(node, Mapping) else [node]
    if not isinstance(node, Mapping) or keys[0] not in node:
        return []
    return _leaves(node[keys[0]], keys[1:])


def _text(value: Any) -> str:
    return json.dumps(value)


def _wildcard(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in "*\\":
                raise PatternError(f"invalid escape in wildcard {pattern!r}")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            if i + 1 < len(pattern) and pattern[i + 1] == "*":
                raise PatternError(f"consecutive wildcard characters in {pattern!r}")
            out.append("[\\s\\S]*")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _strings(body: Any) -> list[str]:
    values = body if isinstance(body, list) else [body]
    if not values or not all(isinstance(v, str) for v in values):
        raise PatternError(f"expected a string or a list of strings, got {body!r}")
    return values


def _string_test(op: str, body: Any, value: Any) -> bool:
    """prefix / suffix / equals-ignore-case / wildcard on one leaf value."""
    if op in ("prefix", "suffix"):
        if isinstance(body, Mapping):
            if set(body) != {"equals-ignore-case"}:
                raise PatternError(f"unknown {op} form {body!r}")
            needles = [s.lower() for s in _strings(body["equals-ignore-case"])]
            hay = value.lower() if isinstance(value, str) else None
        else:
            needles, hay = _strings(body), value if isinstance(value, str) else None
        if hay is None:
            return False
        return any(hay.startswith(n) if op == "prefix" else hay.endswith(n) for n in needles)
    if op == "equals-ignore-case":
        return isinstance(value, str) and any(value.lower() == s.lower() for s in _strings(body))
    if op == "wildcard":
        return isinstance(value, str) and any(_wildcard(s).fullmatch(value) for s in _strings(body))
    raise PatternError(f"unknown operator {op!r}")


def _numeric(spec: Any, value: Any) -> bool:
    if not isinstance(spec, list) or not spec or len(spec) % 2 or len(spec) > 4:
        raise PatternError(f"invalid numeric {spec!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    x = float(value)
    for op, n in zip(spec[::2], spec[1::2], strict=True):
        if op not in _NUMERIC_OPS or isinstance(n, bool) or not isinstance(n, (int, float)):
            raise PatternError(f"invalid numeric {spec!r}")
        if not _NUMERIC_OPS[op](x, float(n)):
            return False
    return True


def _anything_but(body: Any, values: list[Any]) -> bool:
    """True when some present leaf value is none of ``body`` (a missing field: no value, so false)."""
    if isinstance(body, Mapping):
        if len(body) != 1:
            raise PatternError(f"invalid anything-but {body!r}")
        ((op, inner),) = body.items()
        return any(not (isinstance(v, str) and _string_test(op, inner, v)) for v in values)
    excluded = body if isinstance(body, list) else [body]
    if not excluded or not (
        all(isinstance(e, str) for e in excluded)
        or all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in excluded)
    ):
        raise PatternError(f"anything-but takes strings or numbers, got {body!r}")
    texts = {_text(e) for e in excluded}
    return any(_text(v) not in texts for v in values)


def _test(test: Any, values: list[Any]) -> bool:
    if not isinstance(test, Mapping):
        if isinstance(test, list):
            raise PatternError("a test cannot be a list")
        return any(_text(v) == _text(test) for v in values)  # JSON type and text
    if len(test) != 1:
        raise PatternError(f"one operator per test object, got {test!r}")
    ((op, body),) = test.items()
    if op == "exists":
        if not isinstance(body, bool):
            raise PatternError("exists takes true or false")
        return bool(values) == body
    if op == "anything-but":
        return _anything_but(body, values)
    if op == "numeric":
        return any(_numeric(body, v) for v in values)
    if op == "cidr":
        try:
            network = ipaddress.ip_network(body, strict=False)
        except (TypeError, ValueError) as exc:
            raise PatternError(f"invalid cidr {body!r}") from exc
        for v in values:
            try:
                if isinstance(v, str) and ipaddress.ip_address(v) in network:
                    return True
            except ValueError:
                continue
        return False
    return any(_string_test(op, body, v) for v in values)


def test_matches(test: Any, value: Any) -> bool:
    """Does one element of a pattern's value list match one leaf value?"""
    return _test(test, [value])


def _match(pattern: Mapping[str, Any], event: Any, prefix: list[str]) -> bool:
    for key, value in pattern.items():
        if key == "$or":
            if (
                not isinstance(value, list)
                or len(value) < 2
                or not all(isinstance(b, Mapping) for b in value)
            ):
                raise PatternError("$or takes a list of two or more objects")
            if not any(_match(b, event, prefix) for b in value):
                return False
        elif isinstance(value, Mapping):
            if not value:
                raise PatternError(f"empty object at {'.'.join([*prefix, key])}")
            if not _match(value, event, [*prefix, key]):
                return False
        elif isinstance(value, list):
            if not value:
                raise PatternError(f"empty value list at {'.'.join([*prefix, key])}")
            values = _leaves(event, [*prefix, key])
            if event is _VALIDATE:  # compile_pattern: run each test once on sample values, for its errors
                for t in value:
                    _test(t, ["", 0, None])
                continue
            if not any(_test(t, values) for t in value):
                return False
        else:
            raise PatternError(f"the value at {'.'.join([*prefix, key])} must be a list or an object")
    return True


def combinations(pattern: Any) -> int:
    """The ``$or`` combinations of a pattern (product of the arities, nested)."""
    if not isinstance(pattern, Mapping):
        return 1
    count = 1
    for key, value in pattern.items():
        if key == "$or" and isinstance(value, list):
            count *= sum(combinations(b) for b in value)
        elif isinstance(value, Mapping):
            count *= combinations(value)
    return count


def compile_pattern(text: str) -> dict[str, Any]:
    """Parse and check a pattern (JSON text, the limits); raises :class:`PatternError`."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"pattern of {len(text)} characters, above {MAX_PATTERN_LENGTH}")
    try:
        pattern = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PatternError(f"not JSON: {exc}") from exc
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError("a pattern is a non-empty JSON object")
    if (count := combinations(pattern)) > MAX_COMBINATIONS:
        raise PatternError(f"{count} $or combinations, above {MAX_COMBINATIONS}")
    _match(pattern, _VALIDATE, [])  # validates every test
    return pattern


def matches(pattern: str | Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Does the EventBridge ``event`` match ``pattern``?"""
    compiled = compile_pattern(pattern if isinstance(pattern, str) else json.dumps(pattern))
    return _match(compiled, event, [])


def run_event_pattern(query: str, events: Iterable[Mapping[str, Any]]) -> list[int]:
    """Indexes of the ``events`` (EventBridge envelopes) the pattern matches: the registry's engine."""
    pattern = compile_pattern(query)
    return [i for i, event in enumerate(events) if _match(pattern, event, [])]


__all__ = ["PatternError", "compile_pattern", "matches", "run_event_pattern", "test_matches"]
