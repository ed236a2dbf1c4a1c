"""Compiling a rule's condition tree into match nodes, and running them on records.

pySigma already resolves identifiers, ``1 of x*`` / ``all of them`` selectors and value lists into a tree of
``ConditionAND`` / ``ConditionOR`` / ``ConditionNOT`` over two kinds of leaves: a field compared with one
value, and a keyword value. This module walks that tree once per rule and builds a mirror tree of frozen
nodes whose ``matches(record)`` decides the Sigma meaning on one CloudTrail record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import SigmaExists, SigmaFieldReference, SigmaNull, SigmaType

from sigma_lambda_layer import casing
from sigma_lambda_layer.errors import Location
from sigma_lambda_layer.evaluator.errors import EvaluationError
from sigma_lambda_layer.evaluator.frozen import rebuild_args
from sigma_lambda_layer.evaluator.paths import FieldPath, scalar_leaves
from sigma_lambda_layer.evaluator.values import ValueTest, as_text, compile_value

Record = Mapping[str, Any]


class Node:
    """A compiled piece of the condition."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # pickled to the hunt workers
        return rebuild_args(self)

    def matches(self, record: Record) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class AllOf(Node):
    children: tuple[Node, ...]

    def matches(self, record: Record) -> bool:
        # Loops, not all()/any() over a generator: these run for every record of a hunt.
        for child in self.children:  # noqa: SIM110
            if not child.matches(record):
                return False
        return True


@dataclass(frozen=True)
class AnyOf(Node):
    children: tuple[Node, ...]

    def matches(self, record: Record) -> bool:
        for child in self.children:  # noqa: SIM110
            if child.matches(record):
                return True
        return False


@dataclass(frozen=True)
class Not(Node):
    child: Node

    def matches(self, record: Record) -> bool:
        return not self.child.matches(record)


@dataclass(frozen=True)
class FieldTest(Node):
    """``field: value``: some leaf value of the field passes. A record without the field never matches."""

    path: FieldPath
    test: ValueTest

    def matches(self, record: Record) -> bool:
        test = self.test  # its method called on it, not bound once: compiled, that is a direct call
        for value in self.path.values(record):  # noqa: SIM110
            if test.test(value):
                return True
        return False


@dataclass(frozen=True)
class FieldIsNull(Node):
    """``field: null``: the field is absent, or every value it holds is JSON null (an empty array too)."""

    path: FieldPath

    def matches(self, record: Record) -> bool:
        return all(value is None for value in self.path.values(record))


@dataclass(frozen=True)
class FieldExists(Node):
    """``field|exists: true/false``: exists means holds a non-null value, so ``exists: false`` ≡ ``null``."""

    path: FieldPath
    expected: bool

    def matches(self, record: Record) -> bool:
        present = any(value is not None for value in self.path.values(record))
        return present is self.expected


@dataclass(frozen=True)
class FieldReference(Node):
    """``field|fieldref: other``: some value of ``field`` equals (case-insensitively, as text) some value
    of ``other``; with ``contains``/``startswith``/``endswith`` it contains, starts or ends with it."""

    path: FieldPath
    other: FieldPath
    starts_with: bool
    ends_with: bool

    def matches(self, record: Record) -> bool:
        references = [
            casing.fold(text) for text in map(as_text, self.other.values(record)) if text is not None
        ]
        if not references:
            return False
        for text in map(as_text, self.path.values(record)):
            if text is not None and any(self._compare(casing.fold(text), ref) for ref in references):
                return True
        return False

    def _compare(self, text: str, ref: str) -> bool:
        if self.starts_with and self.ends_with:
            return ref in text
        if self.starts_with:
            return text.startswith(ref)
        if self.ends_with:
            return text.endswith(ref)
        return text == ref


@dataclass(frozen=True)
class Keyword(Node):
    """A field-less value: it occurs in some scalar value anywhere in the record (not in the keys)."""

    test: ValueTest

    def matches(self, record: Record) -> bool:
        return any(self.test.test(value) for value in scalar_leaves(record, []))


def compile_field(name: str, value: SigmaType) -> Node:
    path = FieldPath(name)
    if isinstance(value, SigmaNull):
        return FieldIsNull(path)
    if isinstance(value, SigmaExists):
        return FieldExists(path, value.exists)
    if isinstance(value, SigmaFieldReference):
        return FieldReference(path, FieldPath(value.field), value.starts_with, value.ends_with)
    return FieldTest(path, compile_value(value))


def compile_keyword(value: SigmaType) -> Node:
    if isinstance(value, (SigmaNull, SigmaExists, SigmaFieldReference)):
        raise EvaluationError(
            f"a {type(value).__name__} value needs a field; it cannot be a keyword search",
            hint="bind the value to a field (field|modifier: value)",
        )
    return Keyword(compile_value(value, keyword=True))


def compile_condition(item: Any) -> Node:
    """Mirror one node of pySigma's postprocessed condition tree."""
    if isinstance(item, ConditionAND):
        return AllOf(tuple(compile_condition(arg) for arg in item.args))
    if isinstance(item, ConditionOR):
        return AnyOf(tuple(compile_condition(arg) for arg in item.args))
    if isinstance(item, ConditionNOT):
        return Not(compile_condition(item.args[0]))
    if isinstance(item, ConditionFieldEqualsValueExpression):
        return compile_field(item.field, item.value)
    if isinstance(item, ConditionValueExpression):
        return compile_keyword(item.value)
    if item is None:
        raise EvaluationError("the condition selects no detection (for example `1 of x*` matching none)")
    raise EvaluationError(f"the reference evaluator does not know the condition element {item!r}")


class RuleEvaluator:
    """A Sigma rule compiled once, to decide many CloudTrail records.

    The rule's log source is not checked: the caller gives records of the rule's log source. Several
    conditions (a ``condition`` list) are OR-linked, as the specification says.
    """

    def __init__(self, rule: SigmaRule) -> None:
        location = _location(rule)
        if isinstance(rule, SigmaCorrelationRule):
            raise EvaluationError(
                "correlation rules aggregate many events and cannot be decided on one record",
                location=location,
                hint="evaluate the rules the correlation refers to instead",
            )
        if not isinstance(rule, SigmaRule):
            raise EvaluationError(f"expected a SigmaRule, got {type(rule).__name__}", location=location)
        if rule.errors:
            raise EvaluationError(f"the rule has errors: {rule.errors[0]}", location=location)
        self.rule = rule
        try:
            roots = tuple(compile_condition(cond.parse()) for cond in rule.detection.parsed_condition)
        except EvaluationError as error:
            raise EvaluationError(error.message, location=location, hint=error.hint) from error
        self.root: Node = roots[0] if len(roots) == 1 else AnyOf(roots)

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether the rule matches one CloudTrail record (a dict as parsed from JSON)."""
        return self.root.matches(event)


def evaluate(rule: SigmaRule, event: Mapping[str, Any]) -> bool:
    """One-off convenience: compile ``rule`` and decide ``event``. Reuse a RuleEvaluator for many events."""
    return RuleEvaluator(rule).matches(event)


def _location(rule: Any) -> Location:
    source = getattr(rule, "source", None)
    path = getattr(source, "path", None)
    return Location(path=None if path is None else str(path))
