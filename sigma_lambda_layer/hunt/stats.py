"""Each rule's summary of a hunt, kept as the hits stream by.

Apart from :mod:`.results` so that the release build compiles it with the per-record modules (mypyc, see
docs/hunt.md): the native engine's workers add every hit to one, so a hit costs a direct call, not a Python
frame. A leaf: both engines and :mod:`.results` build these.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RuleStats:
    """One rule's summary kept as the hits stream by (what :class:`RuleSummary` reports), so a hunt need
    not hold its hits to summarise them: counts and first/last seen, mergeable across worker processes."""

    hits: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    principals: Counter[str] = field(default_factory=Counter)
    source_ips: Counter[str] = field(default_factory=Counter)

    def add(self, moment: str | None, principal: str | None, address: str | None) -> None:
        self.hits += 1
        if moment:
            if self.first_seen is None or moment < self.first_seen:
                self.first_seen = moment
            if self.last_seen is None or moment > self.last_seen:
                self.last_seen = moment
        if principal:
            self.principals[principal] += 1
        if address:
            self.source_ips[address] += 1

    def merge(self, other: RuleStats) -> None:
        self.hits += other.hits
        if other.first_seen and (self.first_seen is None or other.first_seen < self.first_seen):
            self.first_seen = other.first_seen
        if other.last_seen and (self.last_seen is None or other.last_seen > self.last_seen):
            self.last_seen = other.last_seen
        self.principals.update(other.principals)
        self.source_ips.update(other.source_ips)
