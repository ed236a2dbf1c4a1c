"""What a hunt returns: hits, per-rule summaries, the result object and the hit writer.

A leaf of :mod:`sigma_lambda_layer.hunt`: both engines (the DuckDB scan in ``__init__`` and
:mod:`.athena`) build these objects, so they live apart from either (no import cycle).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sigma_lambda_layer.errors import SigmaLambdaError
from sigma_lambda_layer.hunt.inputs import LogInputError
from sigma_lambda_layer.hunt.stats import RuleStats
from sigma_lambda_layer.registry import HUNT_ATHENA_TARGET, HUNT_TARGET

#: The fields of a hit in JSON lines and CSV output, in order.
HIT_FIELDS = (
    "rule_title",
    "rule_id",
    "rule_level",
    "rule_path",
    "file",
    "event_time",
    "event_source",
    "event_name",
    "aws_region",
    "principal",
    "source_ip",
    "event_id",
    "record",
)


@dataclass(frozen=True, slots=True)  # slots: a big hunt holds many hits
class Hit:
    """One record one rule matched. ``record`` is the CloudTrail record's JSON text (None when the hunt
    kept only the first records of each rule, see ``keep_records``)."""

    rule_title: str
    rule_id: str | None
    rule_level: str | None
    rule_path: str | None
    file: str
    event_time: str | None
    event_source: str | None
    event_name: str | None
    aws_region: str | None
    principal: str | None
    source_ip: str | None
    event_id: str | None
    record: str | None = field(repr=False)

    def to_dict(self, *, parsed_record: bool = True) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in HIT_FIELDS}
        if parsed_record and self.record is not None:
            out["record"] = json.loads(self.record)
        return out


def jsonl_line(hit: Hit) -> str:
    """The hit as one line of ``--output`` JSON lines (``record`` as an object, or null)."""
    # The record is JSON text already (DuckDB's or simdjson's): spliced in, not parsed and dumped again.
    fields = json.dumps(hit.to_dict(parsed_record=False) | {"record": None}, ensure_ascii=False)
    record = hit.record if hit.record is not None else "null"
    return fields[: -len("null}")] + record + "}\n"


class RuleInfo(Protocol):
    """What a hunt's result needs of a rule, whichever engine compiled it."""

    @property
    def title(self) -> str: ...
    @property
    def id(self) -> str | None: ...
    @property
    def path(self) -> str | None: ...
    @property
    def level(self) -> str | None: ...


def _top(counts: Counter[str], n: int) -> tuple[tuple[str, int], ...]:
    """The ``n`` most frequent values, ties in value order (the same whatever order the hits came in)."""
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n])


def stats_of(rules: Sequence[RuleInfo], hits: Sequence[Hit]) -> list[RuleStats]:
    """Each rule's :class:`RuleStats` over ``hits`` (a hit counts for the rule of its title, id and path)."""
    index = {(r.title, r.id, r.path): i for i, r in enumerate(rules)}
    stats = [RuleStats() for _ in rules]
    for hit in hits:
        found = index.get((hit.rule_title, hit.rule_id, hit.rule_path))
        if found is not None:
            stats[found].add(hit.event_time, hit.principal, hit.source_ip)
    return stats


@dataclass(frozen=True)
class RuleSummary:
    """One rule's outcome: its hits, first and last seen, the top principals and source addresses."""

    title: str
    id: str | None
    path: str | None
    level: str | None
    hits: int
    first_seen: str | None
    last_seen: str | None
    top_principals: tuple[tuple[str, int], ...]
    top_source_ips: tuple[tuple[str, int], ...]


@dataclass
class HuntResult:
    """What a hunt found and everything it could not read."""

    hits: list[Hit]
    rules: Sequence[RuleInfo]
    #: rules that could not be compiled (unsupported constructs, bad YAML), located
    rule_errors: list[SigmaLambdaError]
    #: log files, lines or records that could not be read, located
    input_errors: list[LogInputError]
    records: int
    files: int
    outside_window: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: ``engine="athena"``: the queries, bytes scanned and engine time (:class:`.athena.AthenaRun`)
    athena: Any = None
    #: the engine that ran the hunt (``HUNT_ENGINES``: native, duckdb or athena)
    engine: str = HUNT_TARGET
    #: per rule (in the order of ``rules``), the summary kept while scanning; None: computed from ``hits``
    #: (``hunt(keep_hits=False)`` returns no hits, only these)
    stats: list[RuleStats] | None = None

    @property
    def hit_count(self) -> int:
        """How many (rule, record) hits the hunt found (``hits`` may hold none, see ``keep_hits``)."""
        return len(self.hits) if self.stats is None else sum(s.hits for s in self.stats)

    @property
    def errors(self) -> list[SigmaLambdaError]:
        return [*self.rule_errors, *self.input_errors]

    @property
    def ok(self) -> bool:
        """Every rule compiled and every input was read (hits or not)."""
        return not self.rule_errors and not self.input_errors

    def summaries(self, top: int = 3) -> list[RuleSummary]:
        """Per rule, in the order given, hits or not."""
        stats = self.stats if self.stats is not None else stats_of(self.rules, self.hits)
        return [
            RuleSummary(
                rule.title,
                rule.id,
                rule.path,
                rule.level,
                s.hits,
                s.first_seen,
                s.last_seen,
                _top(s.principals, top),
                _top(s.source_ips, top),
            )
            for rule, s in zip(self.rules, stats, strict=True)
        ]

    def scope(self) -> str:
        """What was searched: records and files, or (Athena) the queries, bytes scanned, engine time."""
        if self.athena is not None:
            return str(self.athena.headline())
        return f"{self.records} record(s) in {self.files} file(s)"

    def summary_lines(self) -> list[str]:
        """The terminal summary."""
        if self.athena is not None:  # --engine athena
            lines = [
                f"ran {len(self.rules)} rule(s) in {self.seconds:.1f} s: {self.hit_count} hit(s)",
                self.athena.headline(),
                *self.athena.lines(),
            ]
        else:
            lines = [
                f"scanned {self.records} record(s) in {self.files} file(s) with {len(self.rules)} rule(s) "
                f"in {self.seconds:.1f} s: {self.hit_count} hit(s)"
            ]
        if self.outside_window:
            lines.append(
                f"{self.outside_window} record(s) outside --since/--until (or without a readable eventTime)"
            )
        lines += self.notes
        summaries = self.summaries()
        for s in sorted(summaries, key=lambda s: -s.hits):
            if not s.hits:
                continue
            lines.append(f"  {s.hits:>7}  {s.title}  [{s.level or '-'}]  {s.first_seen} .. {s.last_seen}")
            if s.top_principals:
                lines.append("           principals: " + ", ".join(f"{p} ({n})" for p, n in s.top_principals))
            if s.top_source_ips:
                lines.append("           source IPs: " + ", ".join(f"{p} ({n})" for p, n in s.top_source_ips))
        quiet = sum(1 for s in summaries if not s.hits)
        if quiet:
            lines.append(f"  {quiet} rule(s) without hits")
        for error in self.errors:
            lines.append(f"error: {error}")
        return lines

    def to_summary(self) -> dict[str, Any]:
        """The ``hunt --json`` object: totals, per-rule summaries, errors and (Athena) every query."""
        return {
            "engine": HUNT_ATHENA_TARGET if self.athena is not None else self.engine,
            "seconds": round(self.seconds, 3),
            "records": self.records,
            "files": self.files,
            "outside_window": self.outside_window,
            "hits": self.hit_count,
            "rules": [
                {
                    "title": s.title,
                    "id": s.id,
                    "path": s.path,
                    "level": s.level,
                    "hits": s.hits,
                    "first_seen": s.first_seen,
                    "last_seen": s.last_seen,
                    "top_principals": [list(p) for p in s.top_principals],
                    "top_source_ips": [list(p) for p in s.top_source_ips],
                }
                for s in self.summaries()
            ],
            "errors": [{"location": str(e.location), **e.to_dict()} for e in self.errors],
            "notes": self.notes,
            **({HUNT_ATHENA_TARGET: self.athena.to_dict(self.rules)} if self.athena is not None else {}),
        }

    def to_jsonl(self) -> str:
        return "".join(json.dumps(h.to_dict(), ensure_ascii=False) + "\n" for h in self.hits)

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HIT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for hit in self.hits:
            writer.writerow(hit.to_dict(parsed_record=False))
        return buffer.getvalue()

    def to_pandas(self) -> Any:
        """One row per hit (the JSON lines fields; ``record`` as JSON text). Needs pandas."""
        import pandas as pd

        return pd.DataFrame([h.to_dict(parsed_record=False) for h in self.hits], columns=list(HIT_FIELDS))

    def html_report(self) -> str:
        """A self-contained HTML page: per-rule timelines and every hit (see :mod:`.report`)."""
        from sigma_lambda_layer.hunt.report import html_report

        return html_report(self)

    def _repr_html_(self) -> str:
        from sigma_lambda_layer.hunt.report import summary_table

        return summary_table(self)


def jsonl_sink(on_hit: Any) -> HitWriter | None:
    """The :class:`HitWriter` when ``on_hit`` is its own ``write`` on a JSON-lines file (the CLI's
    ``--output``): an engine then writes the lines itself, and no hit needs its record in Python."""
    writer = getattr(on_hit, "__self__", None)
    is_write = getattr(on_hit, "__func__", None) is HitWriter.write
    return writer if is_write and isinstance(writer, HitWriter) and writer.takes_jsonl else None


class HitCollector:
    """The hits an engine finds, as :class:`Hit` objects: the caller's ``on_hit`` sees each (unless an
    engine writes the JSON lines itself, :func:`jsonl_sink`), and only the first ``keep_records`` hits of
    each rule keep their record (None: every one). Every hit counts in its rule's :class:`RuleStats`;
    with ``keep_hits=False`` none is kept (the stats are the result)."""

    def __init__(
        self, rules: Sequence[RuleInfo], on_hit: Any, keep_records: int | None, keep_hits: bool = True
    ) -> None:
        self.sink = jsonl_sink(on_hit)
        self.per_hit = on_hit if self.sink is None else None
        self.keep_hits = keep_hits
        #: whether an engine has to hand over each hit (else only each rule's stats, :meth:`merge`)
        self.wants_hits = keep_hits or self.per_hit is not None
        #: records per rule the engine still has to hand over (None: all; the caller sees every hit)
        self.engine_keeps = None if self.per_hit is not None else keep_records
        self.hits: list[Hit] = []
        self.stats = [RuleStats() for _ in rules]
        self._keep = keep_records
        self._kept = [0] * len(rules)
        self._rules = [(r.title, r.id, r.level, r.path) for r in rules]
        self._shared: dict[Any, Any] = {}  # one str per distinct source, name, region, principal, address

    def add(self, rule: int, file: str, *values: Any) -> None:
        """One hit: ``values`` are the columns ``event_time`` .. ``event_id`` and the record text or None."""
        moment, source, name, region, principal, address, event_id, text = values
        self.stats[rule].add(moment, principal, address)
        if not self.wants_hits:
            return
        one = self._shared.setdefault
        hit = Hit(
            *self._rules[rule],
            file,
            moment,
            one(source, source),
            one(name, name),
            one(region, region),
            one(principal, principal),
            one(address, address),
            event_id,
            text,
        )
        if self.per_hit is not None:
            self.per_hit(hit)
        if self._keep is not None and text is not None:
            self._kept[rule] += 1
            if self._kept[rule] > self._keep:
                object.__setattr__(hit, "record", None)  # the frozen hit is ours until appended
        if self.keep_hits:
            self.hits.append(hit)

    def merge(self, stats: dict[int, RuleStats]) -> None:
        """Stats an engine kept itself (per rule index), for hits it did not hand over."""
        for rule, found in stats.items():
            self.stats[rule].merge(found)

    def sorted_hits(self) -> list[Hit]:
        self.hits.sort(key=lambda h: (h.event_time or "", h.rule_title))
        return self.hits


class HitWriter:
    """Hits streamed to a file as they are found: JSON lines, or CSV for a ``.csv`` name; written to a
    temporary file beside the target and renamed at the end, so a reader never sees half a file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._handle: Any = None
        self._csv: Any = None

    def __enter__(self) -> HitWriter:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            self._handle = self._tmp.open("w", encoding="utf-8", newline="")
            if self.path.suffix.lower() == ".csv":
                self._csv = csv.DictWriter(self._handle, fieldnames=HIT_FIELDS, lineterminator="\n")
                self._csv.writeheader()
        return self

    def write(self, hit: Hit) -> None:
        if self._csv is not None:
            self._csv.writerow(hit.to_dict(parsed_record=False))
        elif self._handle is not None:
            self._handle.write(jsonl_line(hit))

    @property
    def takes_jsonl(self) -> bool:
        """Whether the target is JSON lines, which :meth:`append_jsonl` can fill without a :class:`Hit`."""
        return self._handle is not None and self._csv is None

    def append_target(self) -> Path:
        """The file JSON lines may be appended to directly (by other processes, opened for appending):
        this writer's own lines written so far are flushed first, and it must write none until they are done."""
        assert self.takes_jsonl
        self._handle.flush()
        return Path(self._tmp)

    def append_jsonl(self, part: Path) -> None:
        """Append a JSON-lines file of hits written by DuckDB (the scan's fast path, see ``hunt()``)."""
        self._handle.flush()
        with part.open("rb") as source:
            shutil.copyfileobj(source, self._handle.buffer, 1 << 20)

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if self._handle is None:
            return
        self._handle.close()
        if kind is None and self.path is not None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
