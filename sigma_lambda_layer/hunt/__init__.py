"""Hunting: run Sigma rules over CloudTrail log files on this machine (or on Athena), no SIEM needed.

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

import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sigma_lambda_layer.errors import SigmaLambdaError, UsageError
from sigma_lambda_layer.hunt.inputs import LogInputError, discover, iso_moment
from sigma_lambda_layer.hunt.scan import CompiledRule, Progress, Scanner, dispatch_sql
from sigma_lambda_layer.registry import HUNT_ATHENA_TARGET, HUNT_ENGINES, HUNT_NATIVE, HUNT_TARGET

__all__ = [
    "Hit",
    "HitWriter",
    "HuntResult",
    "LogInputError",
    "RuleStats",
    "RuleSummary",
    "hunt",
    "parse_time",
]

from sigma_lambda_layer.hunt.results import (
    Hit,
    HitCollector,
    HitWriter,
    HuntResult,
    RuleStats,
    RuleSummary,
    stats_of,
)


def parse_time(text: str | datetime | None) -> datetime | None:
    """``--since``/``--until``: ISO 8601 (a date, or a date and time; UTC unless an offset is given)."""
    if text is None or isinstance(text, datetime):
        return text if text is None or text.tzinfo is not None else text.replace(tzinfo=timezone.utc)
    moment = iso_moment(text)
    if moment is None:
        raise UsageError(f"{text!r} is not an ISO 8601 time", hint="e.g. 2024-05-01 or 2024-05-01T12:00:00Z")
    return moment


def compile_rules(rules: Any) -> tuple[list[CompiledRule], list[SigmaLambdaError]]:
    """The rules through the ``duckdb`` target (format ``hunt``); failures are returned, located."""
    from sigma_lambda_layer.api import convert

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
    """``hunt(engine=...)`` for an engine other than the local ones (today: ``athena``; ``progress``
    gets (queries done, queries, bytes scanned so far, 0))."""
    if engine != HUNT_ATHENA_TARGET:
        raise UsageError(f"unknown hunt engine {engine!r}", hint=", ".join(HUNT_ENGINES))
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
    engine: str = HUNT_NATIVE,
    athena: Any = None,
    keep_hits: bool = True,
) -> HuntResult:
    """Run ``rules`` (anything :func:`~sigma_lambda_layer.api.convert` accepts) over CloudTrail ``logs``
    (files, folders searched recursively, ``"-"`` for stdin) and return every hit.

    ``since``/``until`` keep records whose ``eventTime`` is in ``[since, until)``. ``progress`` is called
    after each batch with (files done, files, bytes done, bytes). Bad input never raises: it is returned in
    :attr:`HuntResult.input_errors`.

    ``on_hit`` sees every hit, with its record, as it is found (the CLI streams ``--output`` this way; a
    :class:`HitWriter`'s own ``write`` on a JSON-lines file is recognised, and DuckDB writes its lines).
    ``keep_records`` bounds memory on big hunts: only the first that many hits of each rule keep their
    record in the result (the others keep every other field); None keeps every record. ``keep_hits=False``
    keeps no :class:`Hit` at all: the result holds the per-rule summaries (:attr:`HuntResult.stats`) and
    ``on_hit`` still sees every hit, so memory stays flat however many hits there are (the CLI does this
    unless it writes a ``--report``).

    ``engine`` picks how: ``"native"`` (the default, :mod:`.native`) runs the reference evaluator behind a
    dispatch table on every core; ``"duckdb"`` runs the ``duckdb`` target's SQL on an embedded DuckDB
    (:mod:`.scan`); both report the same hits on CloudTrail's canonical spellings (docs/hunt.md).
    ``engine="athena"`` runs the rules on Amazon Athena instead (``logs`` is ignored, give None): ``athena`` is
    an :class:`.athena.AthenaOptions` or a dict of its fields (database, table, workgroup, output_location,
    region, profile, ...); see :mod:`.athena`.
    """
    start = time.perf_counter()
    window = parse_time(since), parse_time(until)
    if engine not in (HUNT_NATIVE, HUNT_TARGET):  # ---- hook: --engine athena (hunt/athena.py)
        remote = _hunt_elsewhere(engine, athena, rules, window, on_hit, keep_records, progress)
        if not keep_hits:
            remote.stats, remote.hits = stats_of(remote.rules, remote.hits), []
        return remote
    if logs is None:
        raise UsageError("hunt needs logs to scan", hint="files, folders, or - for stdin")
    paths = [logs] if isinstance(logs, (str, Path)) else list(logs)
    if engine == HUNT_NATIVE:
        from sigma_lambda_layer.hunt.parallel import hunt_native

        return hunt_native(
            rules,
            paths,
            since=window[0],
            until=window[1],
            threads=threads,
            progress=progress,
            on_hit=on_hit,
            keep_records=keep_records,
            keep_hits=keep_hits,
            start=start,
        )
    compiled, rule_errors = compile_rules(rules)
    collector = HitCollector(compiled, on_hit, keep_records, keep_hits)

    def collect(rows: list[tuple[Any, ...]]) -> None:
        """One batch's hit rows (see :data:`.scan.HitRow`) as :class:`Hit` objects."""
        add = collector.add
        for index, *values in rows:
            add(index, *values)

    with tempfile.TemporaryDirectory(prefix="sigma-lambda-hunt-") as spool_name:
        spool = Path(spool_name)
        found = discover(paths, spool)
        scanner = Scanner(compiled, spool, since=window[0], until=window[1], threads=threads)
        scanner.on_hits = collect
        if collector.sink is not None:
            scanner.jsonl_sink = collector.sink.append_jsonl
        if collector.engine_keeps is not None:
            scanner.record_quota = [collector.engine_keeps] * len(compiled)
        try:
            scanner.scan(found.files, progress)
        finally:
            scanner.close()
    return HuntResult(
        hits=collector.sorted_hits(),
        rules=compiled,
        rule_errors=rule_errors,
        input_errors=[*found.errors, *scanner.errors],
        records=scanner.totals.records,
        files=scanner.totals.files,
        outside_window=scanner.totals.outside_window,
        notes=found.notes,
        seconds=time.perf_counter() - start,
        engine=HUNT_TARGET,
        stats=collector.stats,
    )
