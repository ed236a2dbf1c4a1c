"""The native hunt engine's processes: the files spread over one worker per core, each scanning whole
files with a :class:`.native.FileScanner`, and the outcomes taken as they come.

Kept apart from :mod:`.native` (the per-record work, compiled with mypyc in a release build: see
docs/hunt.md) so that this part, which runs once per file, stays plain Python.
"""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sigma_lambda_layer.errors import Location, SigmaLambdaError
from sigma_lambda_layer.hunt.inputs import LogFile, LogInputError
from sigma_lambda_layer.hunt.native import FileOutcome, FileScanner, NativeRule, _Job, compile_rules
from sigma_lambda_layer.hunt.results import Hit, HitCollector, HuntResult, RuleStats

#: Below this many bytes of input (on disk) the scan runs in this process: starting workers costs more.
INLINE_BYTES = 8 << 20

Progress = Callable[[int, int, int, int], None]


_WORKER: FileScanner | None = None


def _worker_start(parent: int, job: bytes, lock: Any) -> None:
    from sigma_lambda_layer.batch import _worker_start as die_with_parent

    die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the command stops its workers itself (scan), so a worker
    # must not turn it into a failed task and go on with the next one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _WORKER
    _WORKER = FileScanner(pickle.loads(job))
    _WORKER.lock = lock  # the workers' lock around appending to ``--output``


def _worker_scan(tasks: list[tuple[int, LogFile]]) -> list[FileOutcome]:
    """One task's files, with the rules' stats of all of them on the last outcome: the command then
    unpickles and merges one set per task, not one per file (it shares the cores with the workers)."""
    assert _WORKER is not None
    outcomes = [_WORKER.scan(index, file) for index, file in tasks]
    merged: dict[int, RuleStats] = {}
    for outcome in outcomes:
        for rule, stats in outcome.stats.items():
            found = merged.get(rule)
            if found is None:
                merged[rule] = stats
            else:
                found.merge(stats)
        outcome.stats = {}
    if outcomes:
        outcomes[-1].stats = merged
    return outcomes


@dataclass
class NativeScan:
    """The files scanned: totals, located errors and the hits (in file order per worker)."""

    records: int = 0
    files: int = 0
    outside_window: int = 0
    errors: list[LogInputError] = field(default_factory=list)


def scan(
    rules: Sequence[NativeRule],
    files: Sequence[LogFile],
    *,
    since: datetime | None,
    until: datetime | None,
    threads: int | None,
    keep_records: int | None,
    jsonl_path: Path | None,
    on_outcome: Callable[[LogFile, FileOutcome], None],
    progress: Progress | None = None,
    send_hits: bool = True,
) -> NativeScan:
    """Scan ``files`` with ``rules``; ``on_outcome`` gets each file's outcome as it is done (in no set order):
    its hits, or with ``send_hits=False`` only each rule's stats."""
    job = _Job(
        list(rules), since, until, keep_records, None if jsonl_path is None else str(jsonl_path), send_hits
    )
    totals = NativeScan()
    total_bytes = sum(f.size for f in files)
    done_bytes = 0
    workers = max(1, threads or os.cpu_count() or 1)

    def take(outcome: FileOutcome) -> None:
        nonlocal done_bytes
        file = files[outcome.index]
        totals.files += 1
        totals.records += outcome.records
        totals.outside_window += outcome.outside_window
        totals.errors.extend(
            LogInputError(message, location=Location(file.name, line), hint=hint)
            for message, line, hint in outcome.errors
        )
        on_outcome(file, outcome)
        done_bytes += file.size
        if progress is not None:
            progress(totals.files, len(files), done_bytes, total_bytes)

    if workers == 1 or total_bytes < INLINE_BYTES or not rules or len(files) < 2:
        scanner = FileScanner(job)
        for index, file in enumerate(files):
            take(scanner.scan(index, file))
        return totals
    import multiprocessing

    from sigma_lambda_layer.batch import _workers_end_with_us

    tasks = _tasks(files, workers)
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_start,
        initargs=(os.getpid(), pickle.dumps(job), context.Lock()),
    )
    try:
        with _workers_end_with_us(pool):
            for future in as_completed([pool.submit(_worker_scan, t) for t in tasks]):
                for outcome in future.result():
                    take(outcome)
    except BrokenProcessPool as error:
        _stop(pool)
        raise SigmaLambdaError(
            "a hunt worker process ended abruptly (killed, or out of memory); no result is reported",
            hint="run again with fewer --threads, or look for the OOM killer in the system log",
        ) from error
    except BaseException:  # Ctrl-C (KeyboardInterrupt), or an error while taking an outcome: stop now
        _stop(pool)
        raise
    pool.shutdown()
    return totals


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the workers at once: no queued task starts, none running finishes."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _tasks(files: Sequence[LogFile], workers: int) -> list[list[tuple[int, LogFile]]]:
    """Files in tasks of about 8 MiB on disk (at least one file, at least four tasks per worker)."""
    budget = max(1, min(8 << 20, sum(f.size for f in files) // (workers * 4)))
    tasks: list[list[tuple[int, LogFile]]] = [[]]
    weight = 0
    for index, file in enumerate(files):
        if tasks[-1] and weight + file.size > budget:
            tasks.append([])
            weight = 0
        tasks[-1].append((index, file))
        weight += file.size
    return tasks


def hunt_native(
    rules: Any,
    paths: list[str | Path],
    *,
    since: datetime | None,
    until: datetime | None,
    threads: int | None,
    progress: Progress | None,
    on_hit: Callable[[Hit], None] | None,
    keep_records: int | None,
    start: float,
    keep_hits: bool = True,
) -> HuntResult:
    """``hunt()`` on this engine (see :func:`sigma_lambda_layer.hunt.hunt` for the arguments)."""
    import time

    from sigma_lambda_layer.hunt.inputs import discover
    from sigma_lambda_layer.registry import HUNT_NATIVE

    compiled, rule_errors = compile_rules(rules)
    collector = HitCollector(compiled, on_hit, keep_records, keep_hits)

    def collect(file: LogFile, outcome: FileOutcome) -> None:
        add = collector.add
        for index, *values in outcome.hits:
            add(index, file.name, *values)
        collector.merge(outcome.stats)

    with tempfile.TemporaryDirectory(prefix="sigma-lambda-hunt-") as spool_name:
        spool = Path(spool_name)
        found = discover(paths, spool)
        totals = scan(
            compiled,
            found.files,
            since=since,
            until=until,
            threads=threads,
            keep_records=collector.engine_keeps,
            jsonl_path=collector.sink.append_target() if collector.sink is not None else None,
            on_outcome=collect,
            progress=progress,
            send_hits=collector.wants_hits,
        )
    return HuntResult(
        hits=collector.sorted_hits(),
        rules=compiled,
        rule_errors=rule_errors,
        input_errors=[*found.errors, *totals.errors],
        records=totals.records,
        files=totals.files,
        outside_window=totals.outside_window,
        notes=found.notes,
        seconds=time.perf_counter() - start,
        engine=HUNT_NATIVE,
        stats=collector.stats,
    )
