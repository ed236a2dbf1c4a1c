"""Hunting: run Sigma rules over CloudTrail log files on an embedded DuckDB, no SIEM needed.

``hunt(rules, logs)`` compiles the rules for the ``duckdb`` target (the same compiler, pipeline and
refusals as ``convert --target duckdb``), scans the log files in bounded batches (:mod:`.scan`) and returns
a :class:`HuntResult`: every hit with the record, per-rule summaries, and a located error for every file,
line or record that could not be read. A bad file never stops the scan of the others.

    from sigma_lambda_layer.hunt import hunt

    result = hunt("rules/", ["AWSLogs/"], since="2024-01-01")
    result               # a table in a notebook
    result.to_pandas()   # one row per hit
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sigma_lambda_layer.errors import SigmaLambdaError, UsageError
from sigma_lambda_layer.hunt.inputs import LogInputError, discover
from sigma_lambda_layer.hunt.scan import CompiledRule, Progress, Scanner, dispatch_sql

__all__ = ["Hit", "HitWriter", "HuntResult", "LogInputError", "RuleSummary", "hunt", "parse_time"]

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
    rules: list[CompiledRule]
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

    @property
    def errors(self) -> list[SigmaLambdaError]:
        return [*self.rule_errors, *self.input_errors]

    @property
    def ok(self) -> bool:
        """Every rule compiled and every input was read (hits or not)."""
        return not self.rule_errors and not self.input_errors

    def summaries(self, top: int = 3) -> list[RuleSummary]:
        """Per rule, in the order given, hits or not."""
        by_rule: dict[tuple[str, str | None, str | None], list[Hit]] = {
            (r.title, r.id, r.path): [] for r in self.rules
        }
        for hit in self.hits:
            by_rule.setdefault((hit.rule_title, hit.rule_id, hit.rule_path), []).append(hit)
        out = []
        for rule in self.rules:
            hits = by_rule[(rule.title, rule.id, rule.path)]
            times = sorted(h.event_time for h in hits if h.event_time)
            out.append(
                RuleSummary(
                    rule.title,
                    rule.id,
                    rule.path,
                    rule.level,
                    len(hits),
                    times[0] if times else None,
                    times[-1] if times else None,
                    tuple(Counter(h.principal for h in hits if h.principal).most_common(top)),
                    tuple(Counter(h.source_ip for h in hits if h.source_ip).most_common(top)),
                )
            )
        return out

    def scope(self) -> str:
        """What was searched: records and files, or (Athena) the queries, bytes scanned, engine time."""
        if self.athena is not None:
            return str(self.athena.headline())
        return f"{self.records} record(s) in {self.files} file(s)"

    def summary_lines(self) -> list[str]:
        """The terminal summary."""
        if self.athena is not None:  # --engine athena
            lines = [
                f"ran {len(self.rules)} rule(s) in {self.seconds:.1f} s: {len(self.hits)} hit(s)",
                self.athena.headline(),
                *self.athena.lines(),
            ]
        else:
            lines = [
                f"scanned {self.records} record(s) in {self.files} file(s) with {len(self.rules)} rule(s) "
                f"in {self.seconds:.1f} s: {len(self.hits)} hit(s)"
            ]
        if self.outside_window:
            lines.append(
                f"{self.outside_window} record(s) outside --since/--until (or without a readable eventTime)"
            )
        lines += self.notes
        for s in sorted(self.summaries(), key=lambda s: -s.hits):
            if not s.hits:
                continue
            lines.append(f"  {s.hits:>7}  {s.title}  [{s.level or '-'}]  {s.first_seen} .. {s.last_seen}")
            if s.top_principals:
                lines.append("           principals: " + ", ".join(f"{p} ({n})" for p, n in s.top_principals))
            if s.top_source_ips:
                lines.append("           source IPs: " + ", ".join(f"{p} ({n})" for p, n in s.top_source_ips))
        quiet = sum(1 for s in self.summaries() if not s.hits)
        if quiet:
            lines.append(f"  {quiet} rule(s) without hits")
        for error in self.errors:
            lines.append(f"error: {error}")
        return lines

    def to_summary(self) -> dict[str, Any]:
        """The ``hunt --json`` object: totals, per-rule summaries, errors and (Athena) every query."""
        return {
            "engine": "athena" if self.athena is not None else "duckdb",
            "seconds": round(self.seconds, 3),
            "records": self.records,
            "files": self.files,
            "outside_window": self.outside_window,
            "hits": len(self.hits),
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
            **({"athena": self.athena.to_dict(self.rules)} if self.athena is not None else {}),
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
            # The record is DuckDB's JSON text already: spliced in, not parsed and dumped again.
            fields = json.dumps(hit.to_dict(parsed_record=False) | {"record": None}, ensure_ascii=False)
            record = hit.record if hit.record is not None else "null"
            self._handle.write(fields[: -len("null}")] + record + "}\n")

    @property
    def takes_jsonl(self) -> bool:
        """Whether the target is JSON lines, which :meth:`append_jsonl` can fill without a :class:`Hit`."""
        return self._handle is not None and self._csv is None

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


def parse_time(text: str | datetime | None) -> datetime | None:
    """``--since``/``--until``: ISO 8601 (a date, or a date and time; UTC unless an offset is given)."""
    if text is None or isinstance(text, datetime):
        moment = text
    else:
        value = text.strip()
        value = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise UsageError(
                f"{text!r} is not an ISO 8601 time", hint="e.g. 2024-05-01 or 2024-05-01T12:00:00Z"
            ) from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def compile_rules(rules: Any) -> tuple[list[CompiledRule], list[SigmaLambdaError]]:
    """The rules through the ``duckdb`` target (format ``hunt``); failures are returned, located."""
    from sigma_lambda_layer.api import convert
    from sigma_lambda_layer.registry import HUNT_TARGET

    compiled: list[CompiledRule] = []
    errors: list[SigmaLambdaError] = []
    for result in convert(rules, target=HUNT_TARGET, format="hunt", collect_errors=True):
        if result.error is not None:
            errors.append(result.error)
            continue
        parts = result.output if isinstance(result.output, list) else [result.output]
        sql = " OR ".join(
            f"({dispatch_sql(p['condition'], p['eventSource'], p['eventName'])})" for p in parts
        )
        compiled.append(
            CompiledRule(
                result.title or result.id or "untitled", result.id, result.path, parts[0]["level"], sql
            )
        )
    return compiled, errors


def _hunt_elsewhere(
    engine: str,
    options: Any,
    rules: Any,
    window: tuple[datetime | None, datetime | None],
    on_hit: Callable[[Hit], None] | None,
    keep_records: int | None,
    progress: Progress | None,
) -> HuntResult:
    """``hunt(engine=...)`` for an engine other than the embedded DuckDB (today: ``athena``; ``progress``
    gets (queries done, queries, bytes scanned so far, 0))."""
    if engine != "athena":
        raise UsageError(f"unknown hunt engine {engine!r}", hint="duckdb or athena")
    from sigma_lambda_layer.hunt.athena import AthenaOptions, hunt_athena

    if not isinstance(options, AthenaOptions):
        options = AthenaOptions(**(options or {}))
    return hunt_athena(
        rules,
        options=options,
        since=window[0],
        until=window[1],
        on_hit=on_hit,
        keep_records=keep_records,
        progress=progress,
    )


def hunt(
    rules: Any,
    logs: str | Path | Sequence[str | Path] | None = None,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    on_hit: Callable[[Hit], None] | None = None,
    keep_records: int | None = None,
    engine: str = "duckdb",
    athena: Any = None,
) -> HuntResult:
    """Run ``rules`` (anything :func:`~sigma_lambda_layer.api.convert` accepts) over CloudTrail ``logs``
    (files, folders searched recursively, ``"-"`` for stdin) and return every hit.

    ``since``/``until`` keep records whose ``eventTime`` is in ``[since, until)``. ``progress`` is called
    after each batch with (files done, files, bytes done, bytes). Bad input never raises: it is returned in
    :attr:`HuntResult.input_errors`.

    ``on_hit`` sees every hit, with its record, as it is found (the CLI streams ``--output`` this way; a
    :class:`HitWriter`'s own ``write`` on a JSON-lines file is recognised, and DuckDB writes its lines).
    ``keep_records`` bounds memory on big hunts: only the first that many hits of each rule keep their
    record in the result (the others keep every other field); None keeps every record.

    ``engine="athena"`` runs the rules on Amazon Athena instead (``logs`` is ignored, give None): ``athena`` is
    an :class:`.athena.AthenaOptions` or a dict of its fields (database, table, workgroup, output_location,
    region, profile, ...); see :mod:`.athena`.
    """
    start = time.perf_counter()
    window = parse_time(since), parse_time(until)
    if engine != "duckdb":  # ---- hook: --engine athena (hunt/athena.py)
        return _hunt_elsewhere(engine, athena, rules, window, on_hit, keep_records, progress)
    if logs is None:
        raise UsageError("hunt needs logs to scan", hint="files, folders, or - for stdin")
    compiled, rule_errors = compile_rules(rules)
    hits: list[Hit] = []
    # The CLI's --output writer (``on_hit=writer.write``) on JSON lines: DuckDB writes the lines itself, and
    # no hit needs its record in Python unless the caller keeps some.
    writer = getattr(on_hit, "__self__", None)
    is_write = getattr(on_hit, "__func__", None) is HitWriter.write
    sink = writer if is_write and isinstance(writer, HitWriter) and writer.takes_jsonl else None
    per_hit = on_hit if sink is None else None

    kept = [0] * len(compiled)
    rules = [(r.title, r.id, r.level, r.path) for r in compiled]

    def collect(rows: list[tuple[Any, ...]]) -> None:
        """One batch's hit rows (see :data:`.scan.HitRow`) as :class:`Hit` objects."""
        append = hits.append
        for index, *values in rows:
            hit = Hit(*rules[index], *values)
            if per_hit is not None:
                per_hit(hit)
                if keep_records is not None:
                    kept[index] += 1
                    if kept[index] > keep_records:
                        object.__setattr__(hit, "record", None)  # the frozen hit is ours until appended
            append(hit)

    paths = [logs] if isinstance(logs, (str, Path)) else list(logs)
    with tempfile.TemporaryDirectory(prefix="sigma-lambda-hunt-") as spool_name:
        spool = Path(spool_name)
        found = discover(paths, spool)
        scanner = Scanner(compiled, spool, since=window[0], until=window[1], threads=threads)
        scanner.on_hits = collect
        if sink is not None:
            scanner.jsonl_sink = sink.append_jsonl
        if keep_records is not None and per_hit is None:
            scanner.record_quota = [keep_records] * len(compiled)
        try:
            scanner.scan(found.files, progress)
        finally:
            scanner.close()
    hits.sort(key=lambda h: (h.event_time or "", h.rule_title))
    return HuntResult(
        hits=hits,
        rules=compiled,
        rule_errors=rule_errors,
        input_errors=[*found.errors, *scanner.errors],
        records=scanner.totals.records,
        files=scanner.totals.files,
        outside_window=scanner.totals.outside_window,
        notes=found.notes,
        seconds=time.perf_counter() - start,
    )
