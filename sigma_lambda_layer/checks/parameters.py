"""Does a selection test a request parameter (or response element) that none of its operations has?

CloudTrail's ``requestParameters`` are the API call's input members and ``responseElements`` its output
members, for the protocols where that holds (measured on the corpus, ``docs/check.md``). A selection that pins
``eventSource`` and ``eventName`` and also requires ``requestParameters.<key>...`` can only match when ``<key>``
is a member of the input shape of at least one pinned operation; when it is a member of none, the selection
never matches. ``aws_ecs_task_definition_cred_endpoint_query`` (docs/findings.md F7) pins DescribeTaskDefinition,
RegisterTaskDefinition and RunTask with ``requestParameters.containerDefinitions.command``: only
RegisterTaskDefinition has ``containerDefinitions``, so the other two event names are dead branches.

A "selection" is one AND of detection items after the condition is expanded into a disjunction of
conjunctions (pySigma parses the condition; its identifiers and ``1 of``/``all of`` selectors are resolved
here against the rule as written, so each item keeps its line). Negated items are dropped: a negation never
makes a field required, and dropping a constraint only lets the selection match more, so every finding stays
true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import product
from typing import Final

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.rule import SigmaRule

from sigma_lambda_layer.checks import cloudtrail_events as ct
from sigma_lambda_layer.checks.aws import AwsCatalog, OperationShape
from sigma_lambda_layer.checks.model import Finding, Severity
from sigma_lambda_layer.checks.source import DetectionItem, RuleSource

#: Protocols whose CloudTrail keys are the shape's top-level members (compared case-insensitively), from the
#: corpus measurement in docs/check.md: requestParameters keys of real records found in the input shape are
#: json 96 %, query 99 %, rest-json 98 %, smithy-rpc-v2-cbor 100 % (the rest are the CloudTrail-only keys in
#: ``cloudtrail_events.EXTRA_REQUEST_PARAMETERS``), but ec2 51 % (``instancesSet.items``) and rest-xml 11 %
#: (S3's ``bucketName``, ``Host``). responseElements: json 100 %, rest-json 97 % (error bodies, covered by the
#: error shapes), query 19 % (RDS logs the unwrapped DBInstance), so query is left out there.
RELIABLE_PROTOCOLS: Final[dict[str, frozenset[str]]] = {
    "requestParameters": frozenset({"json", "rest-json", "query", "smithy-rpc-v2-cbor"}),
    "responseElements": frozenset({"json", "rest-json", "smithy-rpc-v2-cbor"}),
}
#: A failed call's responseElements is its JSON error body: ``{"message": ..., "__type": ...}`` (corpus:
#: splunk_security_content_example_logs.jsonl:15 and :17, GuardDuty). botocore's error shapes name the type
#: member ``type``, so both keys are accepted on top of the error shapes' members.
JSON_ERROR_KEYS: Final = frozenset({"__type", "message"})
CHECK_IDS: Final = {
    "requestParameters": "cloudtrail_request_parameter",
    "responseElements": "cloudtrail_response_element",
}
_WHAT: Final = {"requestParameters": "a parameter", "responseElements": "a response element"}
#: Beyond this many conjunctions (a condition over many lists of selections) the rule is not analysed.
MAX_CONJUNCTIONS: Final = 256
#: A pattern eventSource matching more services than this is not narrowing anything worth checking.
MAX_SOURCES: Final = 16
_HINT_NAMES: Final = 40

Conjunction = frozenset[int]  # indices into RuleSource.items
Candidate = tuple[str, str]  # (event source, operation name without version suffix)
Matcher = Callable[[str], bool]


def conjunctions(rule: SigmaRule, src: RuleSource) -> list[Conjunction] | None:
    """The rule's condition(s) as a disjunction of conjunctions of positive detection items; None when the
    expansion is too large or the condition cannot be read."""
    alternatives: dict[str, list[Conjunction]] = {}
    for name in rule.detection.detections:
        groups: dict[int, set[int]] = {}
        keyword = False
        for index, item in enumerate(src.items):
            if item.detection != name:
                continue
            if item.field is None:
                keyword = True
            else:
                groups.setdefault(item.group, set()).add(index)
        alts = [frozenset(g) for _, g in sorted(groups.items())]
        alternatives[name] = [*alts, frozenset()] if keyword or not alts else alts

    out: list[Conjunction] = []
    for condition in rule.detection.parsed_condition:
        tree = condition.parse(postprocess=False)
        expanded = _dnf(tree, False, alternatives, rule)
        if expanded is None:
            return None
        out.extend(expanded)
    return out if len(out) <= MAX_CONJUNCTIONS else None


def _dnf(
    node: object, negated: bool, alternatives: dict[str, list[Conjunction]], rule: SigmaRule
) -> list[Conjunction] | None:
    if isinstance(node, ConditionNOT):
        return _dnf(node.args[0], not negated, alternatives, rule)
    if isinstance(node, ConditionIdentifier):
        return [frozenset()] if negated else alternatives.get(node.identifier, [frozenset()])
    if isinstance(node, ConditionSelector):
        refs = node.resolve_referenced_detections(rule.detection)
        linked = node.cond_class(list(refs))
        return _dnf(linked, negated, alternatives, rule)
    if isinstance(node, ConditionAND | ConditionOR):
        parts = [_dnf(arg, negated, alternatives, rule) for arg in node.args]
        if any(p is None for p in parts):
            return None
        lists = [p for p in parts if p is not None]
        if isinstance(node, ConditionAND) != negated:  # AND, or OR under a negation (De Morgan)
            size = 1
            for p in lists:
                size *= max(len(p), 1)
            if size > MAX_CONJUNCTIONS:
                return None
            return [frozenset().union(*combo) for combo in product(*lists)]
        return [c for p in lists for c in p]
    return [frozenset()]  # a construct this walk does not model: no constraint


def tested_key(item: DetectionItem) -> tuple[str, str] | None:
    """``("requestParameters", "containerDefinitions")`` for an item that can only match a record having
    ``requestParameters.containerDefinitions...``; None for any other item."""
    root, _, rest = (item.field or "").partition(".")
    if root not in RELIABLE_PROTOCOLS or not rest:
        return None
    mods = set(item.modifiers)
    if not item.values or "fieldref" in mods:
        return None
    if any(v.value is None for v in item.values):
        return None  # ``field: null`` matches a record without the field
    if "exists" in mods and not all(str(v.value).lower() == "true" for v in item.values):
        return None
    return root, rest.split(".", 1)[0]


@dataclass
class _Verdict:
    """What the conjunctions say about one field item (and each eventName value beside it)."""

    alive: bool = False
    analysed: bool = False
    dead: dict[Candidate, tuple[OperationShape, ...]] = field(default_factory=dict)
    #: (eventName item index, value index) -> dead in every conjunction analysed so far
    value_dead: dict[tuple[int, int], bool] = field(default_factory=dict)
    value_ops: dict[tuple[int, int], set[Candidate]] = field(default_factory=dict)


class ParameterChecker:
    """Runs the request-parameter / response-element check for one rule."""

    def __init__(
        self,
        catalog: AwsCatalog,
        matcher: Callable[[str, frozenset[str]], Matcher | None],
        is_plain: Callable[[str, frozenset[str]], bool],
    ) -> None:
        self.catalog = catalog
        self.matcher = matcher
        self.is_plain = is_plain

    # -- what a conjunction pins ----------------------------------------------------------------------------

    def _sources(self, items: list[DetectionItem]) -> set[str] | None:
        """Event sources every eventSource item of the conjunction allows; None if it pins none we model."""
        allowed: set[str] | None = None
        for item in items:
            matched = self._source_matches(item)
            if matched is not None:  # an item we cannot read narrows nothing
                allowed = matched if allowed is None else allowed & matched
        return allowed

    def _source_matches(self, item: DetectionItem) -> set[str] | None:
        mods = frozenset(item.modifiers)
        if "all" in mods and len(item.values) > 1:
            return None
        universe = self.catalog.event_sources() | set(ct.EXTRA_EVENT_SOURCES)
        matched: set[str] = set()
        for v in item.values:
            if not isinstance(v.value, str):
                return None
            if self.is_plain(v.value, mods):
                matched.add(v.value.lower())
                continue
            test = self.matcher(v.value, mods)
            if test is None:
                return None
            matched.update(s for s in universe if test(s))
        return matched

    def _name_matches(self, sources: set[str], value: str, mods: frozenset[str]) -> set[Candidate] | None:
        """(source, operation) pairs one eventName value matches; None when the value is not modelled."""
        out: set[Candidate] = set()
        if self.is_plain(value, mods):
            base = ct.VERSION_SUFFIX_RE.sub("", value)
            for source in sources:
                for op in self._names(source):
                    if (
                        op in (value, base)
                        if "cased" in mods
                        else op.lower() in (value.lower(), base.lower())
                    ):
                        out.add((source, op))
            return out
        test = self.matcher(value, mods)
        if test is None:
            return None
        for source in sources:
            suffixes = ("", *ct.VERSION_SUFFIXES.get(source, ()))
            out.update((source, op) for op in self._names(source) if any(test(op + s) for s in suffixes))
        return out

    def _names(self, source: str) -> frozenset[str]:
        return (self.catalog.operations(source) or frozenset()) | frozenset(
            ct.EXTRA_EVENT_NAMES.get(source, {})
        )

    def _has_key(
        self, root: str, key: str, candidate: Candidate
    ) -> tuple[bool | None, tuple[OperationShape, ...]]:
        """True/False: ``key`` is/is not a top-level member for that operation; None: cannot tell."""
        source, op = candidate
        if source in ct.UNMIRRORED_SOURCES:
            return None, ()
        shapes = self.catalog.operation_shapes(source, op)
        if not shapes or any(not s.protocols <= RELIABLE_PROTOCOLS[root] for s in shapes):
            return None, shapes
        names = {
            n.lower()
            for s in shapes
            for n in (s.inputs if root == "requestParameters" else s.outputs | s.errors)
        }
        if root == "requestParameters":
            extra = ct.EXTRA_REQUEST_PARAMETERS.get(source, {})
            names.update(k.lower() for k in (*extra.get("*", {}), *extra.get(op, {})))
        else:
            names.update(JSON_ERROR_KEYS)
        return key.lower() in names, shapes

    # -- the check ------------------------------------------------------------------------------------------

    def check(self, rule: SigmaRule, src: RuleSource, make: Callable[..., Finding]) -> Iterator[Finding]:
        expanded = conjunctions(rule, src)
        if not expanded:
            return
        items = src.items
        verdicts: dict[int, _Verdict] = {}
        for conj in expanded:
            tested = {i: tk for i in sorted(conj) if (tk := tested_key(items[i])) is not None}
            if not tested:
                continue
            name_items = [(i, items[i]) for i in sorted(conj) if items[i].field == "eventName"]
            sources = self._sources([items[i] for i in conj if items[i].field == "eventSource"])
            analysis = None
            if (
                name_items
                and sources
                and len(sources) <= MAX_SOURCES
                and all(self.catalog.operations(s) is not None for s in sources)
            ):
                analysis = self._candidates(sources, name_items)
            values_here = [(i, vi) for i, item in name_items for vi in range(len(item.values))]
            for index, (root, key) in tested.items():
                verdict = verdicts.setdefault(index, _Verdict())
                candidates, per_value = analysis or (set(), {})
                for at in values_here:  # a value this conjunction cannot judge keeps the field possible
                    if at not in per_value:
                        verdict.value_dead[at] = False
                if analysis is None:
                    verdict.alive = True
                    continue
                status = {c: self._has_key(root, key, c) for c in candidates}
                verdict.analysed = True
                if any(ok is not False for ok, _ in status.values()):
                    verdict.alive = True
                for c, (ok, shapes) in status.items():
                    if ok is False:
                        verdict.dead.setdefault(c, shapes)
                for at, matched in per_value.items():
                    dead = bool(matched) and all(status[c][0] is False for c in matched)
                    verdict.value_dead[at] = verdict.value_dead.get(at, True) and dead
                    verdict.value_ops.setdefault(at, set()).update(matched)

        for index, verdict in verdicts.items():
            item = items[index]
            root, key = tested_key(item) or ("", "")
            shown = f"{root}.{key}"
            if verdict.analysed and not verdict.alive:
                ops = sorted({op for _, op in verdict.dead})
                yield make(
                    CHECK_IDS[root],
                    Severity.WARNING,
                    f"{shown} is not {_WHAT[root]} of {', '.join(ops)}: this selection can never match",
                    _hint(root, verdict.dead),
                    item,
                )
                continue
            for (name_index, value_index), dead in sorted(verdict.value_dead.items()):
                if not dead:
                    continue
                value = items[name_index].values[value_index]
                ops = sorted({op for _, op in verdict.value_ops[name_index, value_index]})
                yield make(
                    CHECK_IDS[root],
                    Severity.WARNING,
                    f"{shown} (line {item.pos.line}) is not {_WHAT[root]} of {', '.join(ops)}: "
                    f"eventName {value.value!r} can never match in this selection",
                    _hint(root, {c: s for c, s in verdict.dead.items() if c[1] in ops}),
                    value,
                )

    def _candidates(
        self, sources: set[str], name_items: list[tuple[int, DetectionItem]]
    ) -> tuple[set[Candidate], dict[tuple[int, int], set[Candidate]]] | None:
        """The (source, operation) pairs the conjunction allows, and the pairs of each eventName value."""
        allowed: set[Candidate] | None = None
        per_value: dict[tuple[int, int], set[Candidate]] = {}
        for index, item in name_items:
            mods = frozenset(item.modifiers)
            matched: set[Candidate] = set()
            values: dict[tuple[int, int], set[Candidate]] = {}
            modelled = True
            for vi, v in enumerate(item.values):
                got = self._name_matches(sources, v.value, mods) if isinstance(v.value, str) else None
                if got is None:
                    modelled = False
                    break
                values[index, vi] = got
                matched = matched & got if "all" in mods and values.keys() != {(index, vi)} else matched | got
            if not modelled:
                continue  # an item we cannot read narrows nothing
            allowed = matched if allowed is None else allowed & matched
            if "all" not in mods:
                per_value.update(values)
        if allowed is None or not allowed:
            return None  # no modelled eventName, or none that exists (the event-name checks report that)
        if any(op not in (self.catalog.operations(s) or frozenset()) for s, op in allowed):
            return None  # a CloudTrail-only event name: no shape to compare with
        return allowed, {at: got & allowed for at, got in per_value.items()}


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _hint(root: str, dead: dict[Candidate, tuple[OperationShape, ...]]) -> str:
    what = "parameters" if root == "requestParameters" else "response elements"
    by_op: dict[str, set[str]] = {}
    for (_, op), shapes in dead.items():
        names = by_op.setdefault(op, set())
        for s in shapes:
            names.update(s.inputs if root == "requestParameters" else s.outputs)
    parts = []
    for op, names in sorted(by_op.items()):
        shown = sorted({_lower_first(n) for n in names}, key=str.lower)
        listed = ", ".join(shown[:_HINT_NAMES]) + (", ..." if len(shown) > _HINT_NAMES else "")
        parts.append(f"{what} of {op}: {listed or '(none)'}")
    return "; ".join(parts) + " (botocore's shapes; keys are compared case-insensitively)"
