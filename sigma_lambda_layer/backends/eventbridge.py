"""Amazon EventBridge event-pattern backend: a Sigma rule as the JSON pattern of an EventBridge rule.

An event pattern is not a text query: it is a JSON object whose keys are ANDed, whose value lists are ORed,
with ``$or`` for an OR across fields. So this backend is written on pySigma's ``Backend`` (not
``TextQueryBackend``): each ``convert_condition_*`` returns a small intermediate form (:class:`Conj`, a set of
field tests ANDed, and :class:`Alt`, an OR of them), and ``finalize_query`` renders it as JSON.

Operator semantics (Amazon EventBridge User Guide, "Comparison operators for use in event patterns" and
"Content filtering in Amazon EventBridge event patterns"; the aws/event-ruler README, the library the service
runs on):

* plain values match exactly, case-sensitively; ``equals-ignore-case``, and ``prefix``/``suffix`` with an
  ``equals-ignore-case`` body, ignore case; ``wildcard`` (``*`` only) is case-sensitive, so a case-insensitive
  Sigma value with letters and an inner ``*`` (``contains``) has no form and is refused; a value whose
  characters have no case (or a ``|cased`` value) uses ``wildcard``;
* ``anything-but`` matches a present value (JSON ``null`` included) that is not the one given, never a
  missing field: Sigma's ``not field: x`` is true for a missing field, so it becomes
  ``$or: [{field: [{anything-but: x}]}, {field: [{exists: false}]}]``;
* an event array matches when any element matches: ``anything-but`` on an array would match when *some*
  element differs, which is not Sigma's ``not``, so a negated array field is refused;
* two conditions on one field cannot be ANDed (a duplicate key keeps the last one): refused, never emitted;
* limits: the pattern text at most 4,096 characters (PutRule ``EventPattern``, botocore ``events`` model), at
  most 1,000 ``$or`` combinations (the content-filtering page): refused with the figure;
* no regular expressions, no field references, no keyword search and no correlation: refused, with the
  cloudwatch target as the alternative.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, NoReturn, cast

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import SigmaBool, SigmaCIDRExpression, SigmaNumber, SigmaString, SpecialChars

from sigma_lambda_layer.dialect import BackendOption, FormatFile, matching, validate
from sigma_lambda_layer.errors import unsupported

#: PutRule ``EventPattern`` maximum length (botocore ``events`` 2015-10-07 model, shape ``EventPattern``).
MAX_PATTERN_LENGTH: Final = 4096
#: ``$or`` combinations above which PutRule fails (EventBridge User Guide, content filtering, "$or").
MAX_COMBINATIONS: Final = 1000
#: Rule states (PutRule ``State``): plain ``ENABLED`` does not receive read-only management events.
ENABLED: Final = "ENABLED"
ENABLED_ALL_MANAGEMENT: Final = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
STATE_ENVELOPE: Final = "eventbridge_envelope"  # the pipeline's state key (pipelines/eventbridge.py)
_CLOUDWATCH_HINT: Final = "use the cloudwatch target (Logs Insights), which can say it"


def _refuse(message: str, *, construct: str, field: str | None = None, hint: str | None = None) -> NoReturn:
    unsupported(
        f"EventBridge event patterns cannot express {message}",
        construct=construct,
        field=field,
        hint=hint or _CLOUDWATCH_HINT,
    )


# ------------------------------------------------------------------------------ intermediate form


@dataclass(frozen=True)
class Test:
    """One element of a field's value list. ``op`` names the operator; ``not`` wraps positive tests."""

    #: exact | ignore-case | prefix | suffix | wildcard | exists | numeric | cidr | null | not, and
    #: ``present`` (Sigma's non-null value: no pattern form, only its negation has one)
    op: str
    value: Any
    ignore_case: bool = False

    def json(self) -> Any:
        if self.op == "exact":
            return self.value
        if self.op == "null":
            return None
        if self.op == "ignore-case":
            return {"equals-ignore-case": self.value}
        if self.op in ("prefix", "suffix"):
            return {self.op: {"equals-ignore-case": self.value} if self.ignore_case else self.value}
        if self.op == "numeric":
            return {"numeric": ["=", self.value]}
        if self.op == "not":
            return {"anything-but": _anything_but(self.value)}
        if self.op == "present":
            _refuse(
                "'exists: true' (or 'not null') as Sigma means it, a non-null value: the exists operator "
                "also matches a JSON null",
                construct="field exists",
                hint="compare with a value instead, or use the cloudwatch target",
            )
        return {self.op: self.value}  # wildcard, exists, cidr

    @property
    def presence(self) -> bool:
        """Tests about presence rather than value (never merged into another field's list)."""
        return self.op in ("exists", "null", "present")


def _anything_but(tests: tuple[Test, ...]) -> Any:
    op = tests[0].op
    values = [t.value for t in tests]
    body: Any = values[0] if len(values) == 1 else values
    if op == "exact":
        return body
    if op == "ignore-case":
        return {"equals-ignore-case": body}
    return {op: body}  # prefix, suffix, wildcard (case-sensitive)


@dataclass(frozen=True)
class Conj:
    """Field tests ANDed (each field's tests ORed), and ORs (:class:`Alt`) ANDed with them."""

    fields: dict[str, tuple[Test, ...]] = field(default_factory=dict)
    alts: tuple[Alt, ...] = ()


@dataclass(frozen=True)
class Alt:
    """An OR of conjunctions; ``negation_of``: the conjunction this OR is the Sigma negation of."""

    branches: tuple[Conj, ...]
    negation_of: Conj | None = None


Node = Conj | Alt


def or_(nodes: Iterable[Node]) -> Node:
    """OR: alternatives flattened, single-field alternatives on the same field merged into one list."""
    branches: list[Conj] = []
    for node in nodes:
        for b in node.branches if isinstance(node, Alt) and node.negation_of is None else [node]:
            if isinstance(b, Alt):
                b = Conj(alts=(b,))
            ((path, tests),) = b.fields.items() if len(b.fields) == 1 and not b.alts else ((None, ()),)
            merged = False
            if path is not None and not any(t.presence for t in tests):
                for i, other in enumerate(branches):
                    same = list(other.fields) == [path] and not other.alts
                    if same and not any(t.presence for t in other.fields[path]):
                        branches[i] = Conj({path: other.fields[path] + tests})
                        merged = True
                        break
            if not merged:
                branches.append(b)
    return branches[0] if len(branches) == 1 else Alt(tuple(branches))


def and_(nodes: Iterable[Node]) -> Node:
    """AND: fields united (the same field twice is refused unless one side only says "present")."""
    fields: dict[str, tuple[Test, ...]] = {}
    alts: list[Alt] = []
    for node in nodes:
        if isinstance(node, Alt):
            alts.append(node)
            continue
        alts.extend(node.alts)
        for path, tests in node.fields.items():
            fields[path] = _and_same_field(path, fields[path], tests) if path in fields else tests
    if not fields and len(alts) == 1:
        return alts[0]
    return Conj(fields, tuple(alts))


def _and_same_field(path: str, a: tuple[Test, ...], b: tuple[Test, ...]) -> tuple[Test, ...]:
    present = (Test("present", None),)
    if a == present and not any(t.presence for t in b):
        return b
    if b == present and not any(t.presence for t in a):
        return a
    _refuse(
        f"two conditions on one field ANDed ('{path}'): a pattern key appears once, and a duplicate keeps the "
        "last condition",
        construct="same-field AND",
        field=path,
    )


def negate(node: Node, arrays: Sequence[str]) -> Node:
    """Sigma's NOT pushed down to the leaves (De Morgan), with Sigma's missing-field reading."""
    if isinstance(node, Alt):
        if node.negation_of is not None:
            return node.negation_of
        return and_(negate(b, arrays) for b in node.branches)
    parts: list[Node] = [_negate_field(p, tests, arrays) for p, tests in node.fields.items()]
    parts += [negate(a, arrays) for a in node.alts]
    return or_(parts)


def _negate_field(path: str, tests: tuple[Test, ...], arrays: Sequence[str]) -> Node:
    if any(path == a or path.startswith(a + ".") for a in arrays):
        _refuse(
            f"'not' on the array field {path}: anything-but matches when any element differs, Sigma's not "
            "when no element matches",
            construct="not on an array field",
            field=path,
        )
    if tests == (Test("present", None),):  # not (a non-null value): missing, or JSON null
        return null_or_missing(path)
    if any(t.presence for t in tests):
        _refuse(
            f"'not null' / 'exists: true' on '{path}': exists matches a JSON null too",
            construct="field exists",
            field=path,
            hint="compare with a value instead, or use the cloudwatch target",
        )
    ops = {t.op for t in tests}
    caseless = all(isinstance(t.value, str) and _caseless(t.value) for t in tests if t.op == "exact")
    if ops == {"exact", "ignore-case"} and caseless:  # exact values without case: the same ignoring case
        tests = tuple(Test("ignore-case", t.value) if t.op == "exact" else t for t in tests)
        ops = {"ignore-case"}
    ignore_case = any(t.ignore_case for t in tests)
    if len(ops) != 1 or ops & {"numeric", "cidr", "not"} or (ops & {"prefix", "suffix"} and ignore_case):
        _refuse(
            f"this negated condition on '{path}' ({', '.join(sorted(ops))}"
            f"{', ignoring case' if ignore_case else ''}): anything-but takes one kind of value list, and "
            "no case-insensitive prefix or suffix",
            construct="not",
            field=path,
        )
    if "exact" in ops and len({type(t.value) for t in tests}) > 1:
        _refuse(f"a negated mix of strings and numbers on '{path}'", construct="not", field=path)
    return Alt(
        (Conj({path: (Test("not", tests),)}), Conj({path: (Test("exists", False),)})),
        negation_of=Conj({path: tests}),
    )


def null_or_missing(path: str) -> Alt:
    """Sigma's ``field: null`` (absent, or JSON null; docs/evaluator.md); ``exists: false`` is only the first."""
    return Alt(
        (Conj({path: (Test("null", None),)}), Conj({path: (Test("exists", False),)})),
        negation_of=Conj({path: (Test("present", None),)}),
    )


def _caseless(text: str) -> bool:
    """No character of ``text`` has another case (COMMON casing rule: ``c.lower() == c.upper()``)."""
    return all(c.lower() == c.upper() for c in text)


def combinations(node: Node) -> int:
    """How many plain AND patterns the ``$or``s stand for (the product of their arities, nested)."""
    if isinstance(node, Alt):
        return sum(combinations(b) for b in node.branches)
    return math.prod(combinations(a) for a in node.alts)


# ------------------------------------------------------------------------------ rendering


def _put(obj: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        child = obj.setdefault(key, {})
        if not isinstance(child, dict):
            _refuse(f"a value and sub-fields on '{key}' at once", construct="field", field=path)
        obj = child
    if leaf in obj:
        _refuse(f"two conditions on one field ANDed ('{path}')", construct="same-field AND", field=path)
    obj[leaf] = value


def render(conj: Conj, scope: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The pattern object of ``conj``; ``scope``: the fields already tested by enclosing objects."""
    out: dict[str, Any] = {}
    for path, tests in conj.fields.items():
        clash = [s for s in scope if s == path or s.startswith(path + ".") or path.startswith(s + ".")]
        if clash:
            _refuse(
                f"two conditions on one field ANDed ('{path}'): an $or branch cannot test a field its "
                "enclosing pattern tests",
                construct="same-field AND",
                field=path,
            )
        _put(out, path, [t.json() for t in tests])
    if conj.alts:
        first, rest = conj.alts[0], conj.alts[1:]
        inner = scope | frozenset(conj.fields)
        out["$or"] = [
            render(Conj(b.fields, b.alts + rest), inner)
            if isinstance(b, Conj)
            else render(Conj(alts=(b, *rest)), inner)
            for b in first.branches
        ]
    return out


# ------------------------------------------------------------------------------ the backend


class EventBridgeBackend(Backend):
    """Sigma rules as Amazon EventBridge event patterns over CloudTrail events (the ``eventbridge`` target)."""

    name: ClassVar[str] = "Amazon EventBridge event patterns"
    formats: ClassVar[dict[str, str]] = {
        "default": "Event pattern JSON (one per rule), for PutRule EventPattern / aws events test-event-pattern",
        "put_rule": "JSON for `aws events put-rule --cli-input-json` (one per rule): pattern, state, description",
        "cloudformation": "CloudFormation template: an AWS::Events::Rule per rule and one SNS topic",
        "terraform": "Terraform JSON (.tf.json): aws_cloudwatch_event_rule and _target per rule",
    }
    format_files: ClassVar[dict[str, FormatFile]] = {
        "put_rule": FormatFile("json", "json"),
        "cloudformation": FormatFile("json", "json"),
        "terraform": FormatFile("json", "tf.json"),
    }
    requires_pipeline: ClassVar[bool] = True
    #: ``--option`` names and defaults (PutRule ``EventBusName``: name or ARN, 1 to 1600 characters).
    options: ClassVar[tuple[BackendOption, ...]] = (
        BackendOption(
            "event_bus",
            "event bus the rules watch (put_rule; default of the templates' parameter/variable)",
            "default",
            matching(r"[/.\-_A-Za-z0-9:]{1,1600}"),
            "an event bus name or ARN",
        ),
    )

    def __init__(self, processing_pipeline: Any = None, collect_errors: bool = False, **options: Any):
        super().__init__(processing_pipeline, collect_errors, **options)
        validate(self.options, options, "EventBridge")
        self.event_bus: str = str(options.get("event_bus") or "default")

    # ---------------------------------------------------------------- boolean skeleton

    def _arrays(self, state: ConversionState) -> Sequence[str]:
        envelope = state.processing_state.get(STATE_ENVELOPE) or {}
        arrays: Sequence[str] = envelope.get("arrays", ())
        return arrays

    def decide_convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> bool:
        return False  # value lists are what or_() builds

    def convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> Any:
        raise NotImplementedError  # pragma: no cover - never chosen (above)

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> Node:
        return or_(self.convert_condition(a, state) for a in cond.args)  # type: ignore[arg-type]

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> Node:
        return and_(self.convert_condition(a, state) for a in cond.args)  # type: ignore[arg-type]

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Node:
        return negate(self.convert_condition(cond.args[0], state), self._arrays(state))  # type: ignore[arg-type]

    # ---------------------------------------------------------------- values

    @staticmethod
    def _leaf(cond: ConditionFieldEqualsValueExpression, *tests: Test) -> Conj:
        return Conj({cond.field: tests})

    def _string(self, cond: ConditionFieldEqualsValueExpression, cased: bool) -> Conj:
        value = cast(SigmaString, cond.value)
        parts: list[Any] = []
        for p in value.s:
            if p == SpecialChars.WILDCARD_SINGLE:
                _refuse(f"the '?' wildcard (in '{cond.field}')", construct="wildcard ?", field=cond.field)
            if not isinstance(p, (str, SpecialChars)):
                unsupported(
                    f"placeholder {p!r} left in a value; resolve it with a pipeline before converting",
                    construct="placeholder",
                    field=cond.field,
                    value=p,
                )
            if p == SpecialChars.WILDCARD_MULTI and parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
                continue  # Sigma's "**" is "*"; the wildcard operator refuses consecutive stars
            if isinstance(p, str) and parts and isinstance(parts[-1], str):
                parts[-1] += p
            else:
                parts.append(p)
        text = "".join(p for p in parts if isinstance(p, str))
        exact = cased or _caseless(text)
        star = SpecialChars.WILDCARD_MULTI
        stars = [i for i, p in enumerate(parts) if p == star]
        if not stars:
            tests = [Test("exact", text) if exact else Test("ignore-case", text)]
            # A Sigma string equals the JSON text of a number or boolean (docs/evaluator.md).
            if text.lower() in ("true", "false") and (not cased or text in ("true", "false")):
                tests.append(Test("exact", text.lower() == "true"))
            elif text.isdigit() and (text == "0" or not text.startswith("0")):
                tests.append(Test("exact", int(text)))
            return self._leaf(cond, *tests)
        if len(parts) == 2 and stars == [1]:
            return self._leaf(cond, Test("prefix", text, ignore_case=not exact))
        if len(parts) == 2 and stars == [0]:
            return self._leaf(cond, Test("suffix", text, ignore_case=not exact))
        if not exact:
            what = "contains" if stars == [0, len(parts) - 1] else "inner wildcard"
            _refuse(
                f"a case-insensitive {what} on '{cond.field}' ({value}): the wildcard operator is "
                "case-sensitive and there is no contains operator",
                construct=f"{what} (case-insensitive)",
                field=cond.field,
                hint="add |cased if the value's case is fixed, or use the cloudwatch target",
            )
        pattern = "".join(
            "*" if p == star else p.replace("\\", "\\\\").replace("*", "\\*")
            for p in parts  # type: ignore[union-attr]
        )
        return self._leaf(cond, Test("wildcard", pattern))

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        return self._string(cond, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        return self._string(cond, cased=True)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        number = cond.value.number if isinstance(cond.value, SigmaNumber) else cond.value
        return self._leaf(cond, Test("numeric", number), Test("exact", json.dumps(number)))

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        flag = bool(cond.value.boolean) if isinstance(cond.value, SigmaBool) else bool(cond.value)
        word = "true" if flag else "false"
        return self._leaf(cond, Test("exact", flag), Test("ignore-case", word))

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        value = cast(SigmaCIDRExpression, cond.value)
        return self._leaf(cond, Test("cidr", str(value.network)))

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        return null_or_missing(cond.field)

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        return self._leaf(cond, Test("present", None))  # refused when rendered, unless negated

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        return self.convert_condition_field_eq_val_null(cond, state)

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Node:
        if cond.value:
            return self.convert_condition_field_exists(cond, state)
        return self.convert_condition_field_not_exists(cond, state)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> NoReturn:
        _refuse(f"a regular expression (|re on '{cond.field}')", construct="re", field=cond.field)

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> NoReturn:
        _refuse(
            f"a numeric comparison on '{cond.field}' with Sigma's meaning: the numeric operator matches JSON "
            "numbers only, and CloudTrail writes many numbers as strings",
            construct="compare",
            field=cond.field,
        )

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> NoReturn:
        _refuse(f"a field reference (|fieldref on '{cond.field}')", construct="fieldref", field=cond.field)

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> NoReturn:
        _refuse(f"a timestamp part ('{cond.field}')", construct="timestamp part", field=cond.field)

    def convert_condition_field_eq_query_expr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> NoReturn:
        _refuse(f"a query expression ('{cond.field}')", construct="query expression", field=cond.field)

    def _keyword(self, cond: ConditionValueExpression, state: ConversionState) -> NoReturn:
        _refuse(f"a keyword search ({cond.value}): a pattern only tests named fields", construct="keywords")

    convert_condition_val_str = _keyword
    convert_condition_val_num = _keyword
    convert_condition_val_re = _keyword
    convert_condition_query_expr = _keyword

    def convert_condition_val(self, cond: ConditionValueExpression, state: ConversionState) -> NoReturn:
        self._keyword(cond, state)

    # ---------------------------------------------------------------- correlation rules

    def convert_correlation_rule(self, rule: SigmaCorrelationRule, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(
            "a correlation rule: an event pattern matches one event at a time",
            construct="correlation",
            hint="match the base rules and count downstream (a Lambda target), or use the cloudwatch target",
        )

    def _no_correlation(self, *args: Any, **kwargs: Any) -> NoReturn:  # pragma: no cover - see above
        _refuse("a correlation rule", construct="correlation")

    convert_correlation_event_count_rule = _no_correlation
    convert_correlation_value_count_rule = _no_correlation
    convert_correlation_temporal_rule = _no_correlation
    convert_correlation_temporal_ordered_rule = _no_correlation
    convert_correlation_extended_temporal_rule = _no_correlation
    convert_correlation_extended_temporal_ordered_rule = _no_correlation
    convert_correlation_value_sum_rule = _no_correlation
    convert_correlation_value_avg_rule = _no_correlation
    convert_correlation_value_percentile_rule = _no_correlation
    convert_correlation_value_median_rule = _no_correlation

    # ---------------------------------------------------------------- the pattern and its rule state

    def pattern(self, query: Node, state: ConversionState) -> dict[str, Any]:
        """The whole event pattern: the envelope conditions, then ``detail``'s (limits checked)."""
        count = combinations(query)
        if count > MAX_COMBINATIONS:
            _refuse(
                f"this rule in one pattern: its ORs make {count} combinations, above EventBridge's "
                f"{MAX_COMBINATIONS}",
                construct="$or combinations",
                hint="split the rule into several rules, or use the cloudwatch target",
            )
        conj = query if isinstance(query, Conj) else Conj(alts=(query,))
        envelope = state.processing_state.get(STATE_ENVELOPE) or {}
        out: dict[str, Any] = {}
        sources = pinned(conj, envelope.get("event_source_field", "detail.eventSource"))
        from sigma_lambda_layer.pipelines.eventbridge import detail_types  # data lives in the pipeline

        if sources is not None and all(s in envelope.get("sources", {}) for s in sources):
            out["source"] = sorted({envelope["sources"][s] for s in sources})
        out["detail-type"] = detail_types(sources)
        out.update(render(conj, frozenset()))
        text = json.dumps(out)
        if len(text) > MAX_PATTERN_LENGTH:
            _refuse(
                f"this rule in one pattern: it is {len(text)} characters, above EventBridge's "
                f"{MAX_PATTERN_LENGTH}",
                construct="pattern length",
                hint="split the rule into several rules, or use the cloudwatch target",
            )
        return out

    def finish_query(self, rule: SigmaRule | SigmaCorrelationRule, query: Any, state: ConversionState) -> Any:
        return self.pattern(query, state)

    def finalize_query_default(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> str:
        return json.dumps(query)

    def finalize_query_cloudformation(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> dict[str, Any]:
        return rule_entry(rule, query, self.event_bus)

    finalize_query_terraform = finalize_query_cloudformation

    def finalize_query_put_rule(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> str:
        from sigma_lambda_layer.artifacts.eventbridge import put_rule

        return json.dumps(put_rule(rule_entry(rule, query, self.event_bus)), indent=2)

    def finalize_output_put_rule(self, queries: list[str]) -> list[str]:
        return queries

    def finalize_output_default(self, queries: list[Any]) -> list[Any]:
        return queries

    def finalize_output_cloudformation(self, queries: list[dict[str, Any]]) -> str:
        from sigma_lambda_layer.artifacts.eventbridge import cloudformation_template

        return cloudformation_template(queries)

    def finalize_output_terraform(self, queries: list[dict[str, Any]]) -> str:
        from sigma_lambda_layer.artifacts.eventbridge import terraform_json

        return terraform_json(queries)


def pinned(conj: Conj, path: str) -> frozenset[str] | None:
    """The string values ``path`` is pinned to on every branch, or ``None`` if not pinned."""
    tests = conj.fields.get(path)
    if tests is not None:
        # Case-insensitive values count in lowercase: AWS writes event sources in lowercase (CloudTrail User
        # Guide, "CloudTrail record contents": eventSource), and the pin only narrows the envelope.
        if all(t.op in ("exact", "ignore-case") and isinstance(t.value, str) for t in tests):
            return frozenset(t.value if t.op == "exact" else t.value.lower() for t in tests)
        return None
    for alt in conj.alts:
        per_branch = [pinned(b if isinstance(b, Conj) else Conj(alts=(b,)), path) for b in alt.branches]
        if all(p is not None for p in per_branch):
            return frozenset().union(*per_branch)  # type: ignore[arg-type]
    return None


def rule_state(pattern: dict[str, Any]) -> str:
    """``ENABLED`` when no read-only (Get/List/Describe) event name can match the pattern's ``eventName``
    tests, else the state that also delivers read-only management events (they reach EventBridge only in
    that state). The names are the ``eventName`` value domain; each test runs on them with the reference
    matcher's semantics, so a prefix, suffix, wildcard or anything-but is judged by what it matches."""
    from sigma_lambda_layer.engines.eventbridge import test_matches
    from sigma_lambda_layer.pipelines.eventbridge import READ_ONLY_VERBS, read_only_event_names

    tests = _all_event_name_tests(pattern)
    if tests is None:
        return ENABLED_ALL_MANAGEMENT  # any event name, read-only ones included
    for test in tests:
        if isinstance(test, str) and test.startswith(READ_ONLY_VERBS):
            return ENABLED_ALL_MANAGEMENT  # a read-only name, known to the domain or not
        if isinstance(test, dict) and any(test_matches(test, name) for name in read_only_event_names()):
            return ENABLED_ALL_MANAGEMENT
    return ENABLED


def _all_event_name_tests(pattern: dict[str, Any]) -> list[Any] | None:
    """Every ``detail.eventName`` test on every branch; ``None`` when some branch does not test it."""
    return _tests_at(pattern, ("detail", "eventName"))


def _tests_at(obj: dict[str, Any], keys: tuple[str, ...]) -> list[Any] | None:
    own = obj.get(keys[0])
    if len(keys) == 1 and isinstance(own, list):
        return list(own)
    if len(keys) > 1 and isinstance(own, dict) and (found := _tests_at(own, keys[1:])) is not None:
        return found
    branches = obj.get("$or")
    if not isinstance(branches, list):
        return None
    out: list[Any] = []
    for branch in branches:
        found = _tests_at(branch, keys)
        if found is None:
            return None
        out += found
    return out


def rule_entry(
    rule: SigmaRule | SigmaCorrelationRule, pattern: dict[str, Any], event_bus: str = "default"
) -> dict[str, Any]:
    """What the artifact builders need of one rule."""
    return {
        "event_bus": event_bus,
        "title": rule.title or str(rule.id or "sigma rule"),
        "id": str(rule.id or ""),
        "description": (rule.description or "").strip(),
        "level": rule.level.name.lower() if rule.level is not None else "",
        "pattern": pattern,
        "state": rule_state(pattern),
    }
