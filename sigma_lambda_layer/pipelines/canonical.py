"""The ``cloudtrail_canonical_values`` step: case-insensitive values on canonical fields become exact ones.

Sigma compares strings case-insensitively, and most targets pay for it: a regexp with a class per letter
(Lucene), ``TO_LOWER`` (ES|QL), ``=~ /(?i)^v$/`` where ``=`` could use a field index (CloudWatch). But AWS
writes many CloudTrail fields in one spelling only (:mod:`sigma_lambda_layer.fields.domains`): on such a field,
comparing case-insensitively with ``createuser`` *is* comparing exactly with ``CreateUser``, on every record
AWS can write. This step rewrites the value to that spelling and marks it cased (a
:class:`CanonicalString`, which is a pySigma ``SigmaCasedString``, as ``|cased`` makes), so every backend
emits its plain exact term.

The rule, per value of a detection item on a canonical field (before the field is renamed for the target):

- ``lowercase`` domains (``eventSource``, ``awsRegion``): AWS writes every value in lowercase, so the value
  (or pattern) lowercased and cased matches the same records.
- listed domains (``eventName``, ``userIdentity.type``, ...): the domain values the value matches
  case-insensitively are found; if they all match one canonical-case form of the value (the literal parts
  respelled as the first of them spells them) exactly, the value becomes that form. ``createuser`` -> ``CreateUser``
  (one spelling), ``UpdateFunctionConfiguration*`` stays as it is but cased (every matching operation,
  versioned or not, shares the spelling); ``createdbinstance`` stays case-insensitive, since botocore has both
  ``CreateDBInstance`` (RDS) and ``CreateDbInstance`` (Lightsail)... unless the same selection pins
  ``eventSource`` to plain values, in which case only those services' names count (when none of them
  matches, all names do: a superset of what AWS writes there proves the rewrite as well).
- anything else (free text, a value matching no domain value, ``|re``, placeholders) is left alone; ``sigma-
  lambda check`` already reports an ``eventName``/``eventSource`` that matches no known one.

Why this is exact, and where it could not be, is in docs/value-domains.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from sigma.conditions import ConditionAND
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem
from sigma.processing.transformations.base import ValueTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import Placeholder, SigmaCasedString, SigmaString, SigmaType, SpecialChars

from sigma_lambda_layer import casing
from sigma_lambda_layer.fields import domains

#: The processing item's identifier (stable: sigma-cli users and pipeline YAML files may name it).
IDENTIFIER: Final = "cloudtrail_canonical_values"

Part = str | SpecialChars


class CanonicalString(SigmaCasedString):
    """A value the canonicalisation step respelled: cased, *and* proven equal to the case-insensitive
    comparison on the field's domain, so a backend may compare it either way (a plain Splunk term needs no
    ``CASE()``)."""


def _escaped(parts: tuple[Part, ...]) -> str:
    """The Sigma text of ``parts`` (literal ``*``, ``?`` and ``\\`` escaped), for ``SigmaString``."""
    out = []
    for p in parts:
        if p is SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif p is SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        else:
            out.append(re.sub(r"([*?\\])", r"\\\1", str(p)))
    return "".join(out)


def _regex(parts: tuple[Part, ...], *, groups: bool) -> re.Pattern[str]:
    body = []
    for p in parts:
        if p is SpecialChars.WILDCARD_MULTI:
            body.append(".*")
        elif p is SpecialChars.WILDCARD_SINGLE:
            body.append(".")
        else:
            body.append(f"({re.escape(str(p))})" if groups else re.escape(str(p)))
    return re.compile("".join(body), re.DOTALL)


@lru_cache(maxsize=64)
def _folded_index(names: frozenset[str]) -> dict[str, list[str]]:
    """Lowercased name -> its spellings (the exact-value lookup; ~16,000 operation names)."""
    index: dict[str, list[str]] = {}
    for name in names:
        index.setdefault(casing.fold(name), []).append(name)
    return index


def _matches(names: frozenset[str], parts: tuple[Part, ...]) -> list[str]:
    """The names equal to ``parts`` case-insensitively (lowercase both sides, :mod:`casing`)."""
    folded = tuple(p if isinstance(p, SpecialChars) else casing.fold(p) for p in parts)
    if all(isinstance(p, str) for p in folded):
        return sorted(_folded_index(names).get("".join(map(str, folded)), []))
    rx = _regex(folded, groups=False)
    return sorted(n for n in names if rx.fullmatch(casing.fold(n)))


def canonical_parts(
    field: str, parts: tuple[Part, ...], event_sources: frozenset[str] | None = None
) -> tuple[Part, ...] | None:
    """The canonical-case form of a case-insensitive pattern on ``field``, if the domain proves it exact.

    ``event_sources`` (plain, lowercase) narrow an ``eventName`` domain to those services' names.
    """
    dom = domains.domain(field)
    if dom is None or not dom.canonical or dom.kind in ("boolean", "number"):
        return None
    if dom.kind == "lowercase":
        return tuple(p if isinstance(p, SpecialChars) else casing.fold(p) for p in parts)
    found: list[str] = []
    if dom.kind == "operations" and event_sources:
        names = frozenset().union(*(domains.event_names(s) for s in sorted(event_sources)))
        found = _matches(names, parts)
    if not found:  # no pinned service, or none of its names matches: every name AWS writes (a superset)
        found = _matches(dom.values() or frozenset(), parts)
    if not found:
        return None  # matches nothing AWS writes: leave it to the rule author (and sigma-lambda check)
    # Respell the literal parts as the first match spells them; the folded regex aligns them.
    folded = tuple(p if isinstance(p, SpecialChars) else casing.fold(p) for p in parts)
    sample = next((n for n in found if len(casing.fold(n)) == len(n)), None)
    if sample is None:
        return None
    m = _regex(folded, groups=True).fullmatch(casing.fold(sample))
    if m is None:  # pragma: no cover - found by the same pattern
        return None
    spelled: list[Part] = []
    group = 0
    for p in parts:
        if isinstance(p, SpecialChars):
            spelled.append(p)
        else:
            group += 1
            spelled.append(sample[m.start(group) : m.end(group)])
    exact = _regex(tuple(spelled), groups=False)
    if all(exact.fullmatch(n) for n in found):
        return tuple(spelled)
    return None


def _plain_sources(detection: SigmaDetection) -> frozenset[str] | None:
    """Lowercase ``eventSource`` values an AND-linked selection pins (plain strings only), else None."""
    if detection.item_linking is not ConditionAND:
        return None
    for item in detection.detection_items:
        if not isinstance(item, SigmaDetectionItem) or item.field != "eventSource" or item.modifiers:
            continue
        texts = [
            "".join(map(str, v.s)) if all(isinstance(p, str) for p in v.s) else None
            for v in item.value
            if isinstance(v, SigmaString)
        ]
        if texts and len(texts) == len(item.value) and None not in texts:
            return frozenset(casing.fold(t) for t in texts if t is not None)
    return None


@dataclass
class CanonicalValuesTransformation(ValueTransformation):
    """Rewrite case-insensitive values on canonical CloudTrail fields to their canonical, cased spelling.

    Runs before the target's field mapping, so ``field`` is the CloudTrail path.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sources: frozenset[str] | None = None

    def apply_detection(self, detection: SigmaDetection) -> None:
        outer, self._sources = self._sources, _plain_sources(detection)
        try:
            super().apply_detection(detection)
        finally:
            self._sources = outer

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | None:
        if field is None or type(val) is not SigmaString:  # |cased, |re, numbers...: as they are
            return None
        if any(isinstance(p, Placeholder) for p in val.s):
            return None
        parts: tuple[Part, ...] = tuple(val.s)  # type: ignore[arg-type]
        spelled = canonical_parts(field, parts, self._sources)
        if spelled is None:
            return None
        return CanonicalString(_escaped(spelled))


def canonical_values_item() -> ProcessingItem:
    """The processing item every sigma-lambda pipeline lists first (before field names change)."""
    return ProcessingItem(
        identifier=IDENTIFIER,
        transformation=CanonicalValuesTransformation(),
        rule_conditions=[LogsourceCondition(product="aws", service="cloudtrail")],  # type: ignore[list-item]
    )
