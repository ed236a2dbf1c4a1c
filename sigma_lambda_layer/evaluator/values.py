"""Tests of one leaf value of a record against one Sigma value, compiled once per rule.

``compile_value`` turns each pySigma value object (after modifiers ran) into a small frozen test object; a
field matches when any of its leaf values (see :mod:`.paths`) passes. Wildcard strings become Python regular
expressions here, once, so evaluating a record is only dictionary walks and ``re`` calls.

Decisions on JSON types (documented in ``docs/evaluator.md``):

- A Sigma string is compared with the *JSON text* of a number or boolean (``123``, ``1.5``, ``true``), so
  ``readOnly: 'true'`` matches ``"readOnly": true``. ``null`` and objects never equal a string.
- A Sigma number equals a JSON number of the same value and a string that is a decimal number
  (``eventVersion: 1.08`` matches ``"1.08"``); a Sigma boolean equals a JSON boolean and the strings
  ``true``/``false`` in any case. Comparisons (``gt`` ...) use the same numeric reading.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any, cast

from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
    TimestampPart,
)

from sigma_lambda_layer import casing
from sigma_lambda_layer.evaluator.errors import EvaluationError
from sigma_lambda_layer.evaluator.frozen import rebuild_args
from sigma_lambda_layer.regexsafety import bounded

# JSON's number grammar, without the leading-zero restriction (``"007"`` reads as 7, as in every SIEM).
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


def as_text(value: Any) -> str | None:
    """The text a Sigma string is compared with: strings as they are, numbers and booleans as JSON text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return None  # JSON null and objects have no text to match


def as_number(value: Any) -> int | float | None:
    """The number a Sigma number or comparison sees: JSON numbers and decimal strings, never booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and _DECIMAL.match(value):
        try:
            return int(value)
        except ValueError:
            return float(value)
    return None


class ValueTest:
    """Base of the compiled tests: ``test(value)`` decides one leaf value (never a list)."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # pickled to the hunt workers
        return rebuild_args(self)

    def test(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class StringMatch(ValueTest):
    """A Sigma string: whole-value match (fields) or occurrence anywhere (keywords)."""

    pattern: re.Pattern[str]
    anywhere: bool = False
    #: case-insensitive: the pattern is lowercase and meets the lowercased value (:mod:`sigma_lambda_layer.casing`)
    fold: bool = False
    #: a whole-value match whose pattern is a plain text with at most a ``*`` at either end: that text
    #: (folded like the pattern) and how the (folded) value must hold it, decided without the regex
    #: engine: ``==`` (no star), ``in`` (both), ``startswith`` (star at the end), ``endswith`` (at the start)
    literal: str | None = None
    shape: str = "=="

    def test(self, value: Any) -> bool:
        text = as_text(value)
        if text is None:
            return False
        if self.fold:
            text = casing.fold(text)
        literal = self.literal
        if literal is not None:
            shape = self.shape
            if shape == "==":
                return text == literal
            if shape == "in":
                return literal in text
            return text.startswith(literal) if shape == "startswith" else text.endswith(literal)
        # Time-bounded: a wildcard value with many stars backtracks polynomially (docs/hostile-input.md).
        return bounded(self.pattern, text, full=not self.anywhere)


@dataclass(frozen=True)
class RegexMatch(ValueTest):
    """``|re``: Python ``re.search`` (unanchored, as pySigma defines it) over the value's text."""

    pattern: re.Pattern[str]
    #: the expression as the rule wrote it (``pattern`` is its case-sensitive rewrite under ``|re|i``)
    shown: str | None = None

    def test(self, value: Any) -> bool:
        text = as_text(value)
        # Time-bounded: '^(a+)+$' on 37 characters takes minutes on re (docs/hostile-input.md).
        return text is not None and bounded(self.pattern, text, shown=self.shown)


@dataclass(frozen=True)
class NumberEquals(ValueTest):
    number: int | float

    def test(self, value: Any) -> bool:
        number = as_number(value)
        return number is not None and number == self.number


@dataclass(frozen=True)
class BoolEquals(ValueTest):
    boolean: bool

    def test(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value is self.boolean
        if isinstance(value, str):
            return value.lower() == ("true" if self.boolean else "false")
        return False


@dataclass(frozen=True)
class CidrMatch(ValueTest):
    """``|cidr``: the value is an IP address inside the network; anything else (``AWS Internal``) is not."""

    network: IPv4Network | IPv6Network

    def test(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            address = ip_address(value)
        except ValueError:
            return False
        return address in self.network  # False across IP versions


#: per operator, its test (module-level, not a ClassVar: mypyc would make a dataclass ClassVar a field)
_OPERATORS: dict[CompareOperators, Callable[[Any, Any], bool]] = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}


@dataclass(frozen=True)
class NumericCompare(ValueTest):
    """``|gt``, ``|gte``, ``|lt``, ``|lte`` (and pySigma's not-equal): numeric values only."""

    op: CompareOperators
    number: int | float

    def test(self, value: Any) -> bool:
        number = as_number(value)
        return number is not None and _OPERATORS[self.op](number, self.number)


#: per part, how it is read off a datetime (module-level, as :data:`_OPERATORS`)
_PARTS: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda t: t.minute,
    TimestampPart.HOUR: lambda t: t.hour,
    TimestampPart.DAY: lambda t: t.day,
    TimestampPart.WEEK: lambda t: t.isocalendar()[1],
    TimestampPart.MONTH: lambda t: t.month,
    TimestampPart.YEAR: lambda t: t.year,
}


@dataclass(frozen=True)
class TimestampPartTest(ValueTest):
    """``|minute`` ... ``|year``: read the value as an ISO 8601 time and test one part of it.

    CloudTrail's ``eventTime`` is ISO 8601 in UTC (``2024-01-02T03:04:05Z``); the part is taken in the zone
    written in the value. ``week`` is the ISO week number.
    """

    part: TimestampPart
    inner: ValueTest

    def test(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value  # 3.10 lacks "Z"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return False
        return self.inner.test(_PARTS[self.part](moment))


@dataclass(frozen=True)
class AnyOf(ValueTest):
    """A ``SigmaExpansion`` (``base64offset``, ``windash``): variants are OR-linked, even under ``all``."""

    tests: tuple[ValueTest, ...]

    def test(self, value: Any) -> bool:
        return any(t.test(value) for t in self.tests)


def wildcard_pattern(value: SigmaString) -> re.Pattern[str]:
    """``*`` → any run of characters, ``?`` → one character, escaped specials are already plain text.

    Case-insensitive unless the string is a ``SigmaCasedString`` (``|cased``): then the literal text is
    lowercased here and the value when tested (:class:`StringMatch` ``fold``), which is the project's one
    definition of case-insensitive (:mod:`sigma_lambda_layer.casing`), not ``re.IGNORECASE``'s folding.
    ``DOTALL`` because a Sigma wildcard knows nothing of lines.
    """
    fold = not isinstance(value, SigmaCasedString)
    parts: list[str] = []
    for part in value.s:
        if isinstance(part, str):
            parts.append(re.escape(casing.fold(part) if fold else part))
        elif part is SpecialChars.WILDCARD_MULTI:
            parts.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            parts.append(".")
        elif isinstance(part, Placeholder):
            raise EvaluationError(
                f"placeholder %{part.name}% is not resolved",
                hint="apply a processing pipeline that replaces placeholders before evaluating the rule",
            )
        else:  # pragma: no cover - pySigma defines no other part type
            raise EvaluationError(f"unknown string part {part!r}")
    return re.compile("".join(parts), re.DOTALL)


def _plain_shape(parts: Any, fold: bool) -> tuple[str | None, str]:
    """``(text, shape)`` of a string value that is plain text with at most one ``*`` at either end (see
    :class:`StringMatch`), or ``(None, "==")``. The text is folded part by part, as in :func:`wildcard_pattern`."""
    items = list(parts)
    lead = bool(items) and items[0] is SpecialChars.WILDCARD_MULTI
    trail = len(items) > int(lead) and items[-1] is SpecialChars.WILDCARD_MULTI
    middle = items[int(lead) : len(items) - int(trail)]
    if not all(isinstance(part, str) for part in middle):
        return None, "=="
    text = "".join(casing.fold(part) if fold else part for part in cast(list[str], middle))
    if lead and not middle and not trail:  # a lone "*"
        return "", "in"
    shape = "in" if lead and trail else "endswith" if lead else "startswith" if trail else "=="
    return text, shape


def regex_pattern(value: SigmaRegularExpression) -> re.Pattern[str]:
    if value.regexp.contains_placeholder():
        raise EvaluationError(f"regular expression {value.regexp} holds an unresolved placeholder")
    flags = 0
    for flag in value.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
    try:  # |re|i and (?i) follow the project's case rule, not Python's folding (long s, dotless i)
        return casing.compile_regex(str(value.regexp), flags)
    except ValueError as exc:
        raise EvaluationError(f"regular expression {value.regexp}: {exc}") from exc


def compile_value(value: SigmaType, *, keyword: bool = False) -> ValueTest:
    """The test for one Sigma value bound to a field, or searched anywhere in the record if ``keyword``.

    ``null``, ``exists`` and field references are not leaf tests; the rule compiler handles them and they
    raise here.
    """
    if isinstance(value, SigmaExpansion):
        return AnyOf(tuple(compile_value(v, keyword=keyword) for v in value.values))
    if isinstance(value, SigmaString):
        fold = not isinstance(value, SigmaCasedString)
        literal, shape = (None, "==") if keyword else _plain_shape(value.s, fold)
        return StringMatch(wildcard_pattern(value), anywhere=keyword, fold=fold, literal=literal, shape=shape)
    if isinstance(value, SigmaRegularExpression):
        return RegexMatch(regex_pattern(value), shown=str(value.regexp))
    if keyword:
        if isinstance(value, SigmaBool) or (
            isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart)
        ):
            # A number or boolean keyword is searched as its text, like any other keyword.
            text = json.dumps(value.boolean if isinstance(value, SigmaBool) else value.number)
            return StringMatch(re.compile(re.escape(text)), anywhere=True, fold=True)
        raise EvaluationError(
            f"a {type(value).__name__} value needs a field; it cannot be a keyword search",
            hint="bind the value to a field (field|modifier: value)",
        )
    if isinstance(value, SigmaTimestampPart):
        return TimestampPartTest(value.timestamp_part, NumberEquals(value.number))
    if isinstance(value, SigmaNumber):
        return NumberEquals(value.number)
    if isinstance(value, SigmaBool):
        return BoolEquals(value.boolean)
    if isinstance(value, SigmaCIDRExpression):
        return CidrMatch(value.network)
    if isinstance(value, SigmaCompareExpression):
        compare = NumericCompare(value.op, value.number.number)
        if isinstance(value.number, SigmaTimestampPart):
            return TimestampPartTest(value.number.timestamp_part, compare)
        return compare
    raise EvaluationError(f"the reference evaluator cannot test a {type(value).__name__} value")
