"""Batch conversion: many rule files, many targets, both cores, and a content-hash cache.

The unit of work is one input (a rule file, a YAML string, stdin, or pySigma objects). Each unit is read once,
parsed once and converted for every target. Units are independent, so they can run in worker processes; the
results are put back in input order, so the output does not depend on ``jobs``. A unit's outcome depends only
on its bytes and on the conversion settings, so it can be cached under the hash of both; the cache stores
plain JSON (see :mod:`sigma_lambda_layer.cache`: keyed by the code too, validated on read, best effort).

Rule files that hold correlation rules may refer to rules in other files; when any input holds one, the
whole batch runs in one process so that references resolve across files, exactly as with ``jobs=1``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigma_lambda_layer import errors as error_types
from sigma_lambda_layer.cache import Cache
from sigma_lambda_layer.conversion import Config, build_pipeline, convert_sources, rules_of
from sigma_lambda_layer.errors import Location, OutOfScopeError, RuleLoadError, SigmaLambdaError
from sigma_lambda_layer.loading import (
    STDIN,
    LoadResult,
    decode,
    expand_inputs,
    parse_text,
    read_bytes,
    read_stdin,
)
from sigma_lambda_layer.results import ConversionResult

if TYPE_CHECKING:
    from sigma_lambda_layer.registry import Target

#: A YAML document that is a correlation rule (a top-level ``correlation:`` key).
_CORRELATION = re.compile(rb"^correlation\s*:", re.MULTILINE)
#: Below this many files, worker processes cost more than they save.
MIN_FILES_PER_JOB = 32


@dataclass
class UnitOutcome:
    """One unit's load errors (for no rule in particular) and its rules' results, per rule then target."""

    path: str | None
    errors: list[SigmaLambdaError] = field(default_factory=list)
    results: list[ConversionResult] = field(default_factory=list)

    def results_for(self, config: Config) -> list[ConversionResult]:
        """Every result of the unit: each load error once per target, then the rules' results."""
        failed = [
            ConversionResult(error.location.path, None, None, t, config.format, error=error)
            for error in self.errors
            for t in config.targets
        ]
        return failed + self.results


@dataclass
class _Unit:
    path: str
    data: bytes | None = None
    objects: list[Any] | None = None
    error: RuleLoadError | None = None


# --- gathering inputs -------------------------------------------------------------------------------------


def _looks_like_yaml_text(value: str) -> bool:
    return "\n" in value and ":" in value


def _read(path: Path) -> _Unit:
    try:
        return _Unit(str(path), data=read_bytes(path))
    except RuleLoadError as exc:
        return _Unit(str(path), error=exc)


def gather(inputs: Any, stdin_text: str | None = None) -> list[_Unit]:
    """Inputs to units, in order; reading failures become units that carry their error."""

    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    units: list[_Unit] = []
    for item in items:
        if not isinstance(item, (str, Path)):
            from sigma.collection import SigmaCollection
            from sigma.rule import SigmaRuleBase

            if not isinstance(item, (SigmaCollection, SigmaRuleBase)):
                raise TypeError(f"cannot load a rule from {type(item).__name__}")
            units.append(_Unit("<object>", objects=[item]))
        elif isinstance(item, str) and _looks_like_yaml_text(item):
            units.append(_Unit("<string>", data=item.encode("utf-8")))
        elif isinstance(item, (str, Path)):
            for entry in expand_inputs([item]):
                if isinstance(entry, RuleLoadError):
                    units.append(_Unit(entry.location.path or str(item), error=entry))
                elif entry == STDIN:
                    try:  # bounded like a file (loading.read_stdin)
                        text = stdin_text if stdin_text is not None else read_stdin()
                    except RuleLoadError as exc:
                        units.append(_Unit("<stdin>", error=exc))
                    else:
                        units.append(_Unit("<stdin>", data=text.encode("utf-8")))
                else:
                    assert isinstance(entry, Path)
                    units.append(_read(entry))
    return units


# --- converting units ---------------------------------------------------------------------------------------


def _process(
    units: list[_Unit], config: Config, keep: list[tuple[Any, Any]] | None = None
) -> list[UnitOutcome]:
    """Parse and convert a list of units (in this process). With ``keep``, each converted result is also
    appended there with its rule as parsed, before any pipeline ran (``hunt``'s native engine evaluates it)."""
    loaded = LoadResult()
    outcomes: dict[int, UnitOutcome] = {}
    owner: dict[str, int] = {}
    for index, unit in enumerate(units):
        outcomes[index] = UnitOutcome(unit.path)
        if unit.error is not None:
            outcomes[index].errors.append(unit.error)
        elif unit.objects is not None:
            loaded.objects.extend(unit.objects)
        elif unit.data is not None:
            try:
                parsed = parse_text(decode(unit.data, unit.path), unit.path)
            except RuleLoadError as exc:
                outcomes[index].errors.append(exc)
                continue
            gated = _outside_cloudtrail(parsed, config)
            if gated is not None:
                outcomes[index].results.extend(gated)
            else:
                loaded.files.append(parsed)
                owner[unit.path] = index
    object_unit = next((i for i, u in enumerate(units) if u.objects is not None), None)
    sources, load_errors = rules_of(loaded)
    for error in load_errors:
        outcomes[owner.get(error.location.path or "", 0)].errors.append(error)
    converted = convert_sources(sources, config, reuse_last=keep is None)
    for source, per_target in zip(sources, converted, strict=True):
        index = owner[source.path] if source.file is not None and source.path in owner else object_unit or 0
        path = outcomes[index].path
        results = [replace(r, path=path) for r in per_target.values()]
        outcomes[index].results.extend(results)
        if keep is not None:
            keep.extend((r, source.rule) for r in results)
    return [outcomes[i] for i in range(len(units))]


_LOGSOURCE_LINE = re.compile(r"^logsource\s*:", re.MULTILINE)


def _outside_cloudtrail(parsed: Any, config: Config) -> list[ConversionResult] | None:
    """Rules our CloudTrail pipelines do not cover, refused without a pySigma parse (same error, faster).

    Every target's default pipeline handles only ``logsource: {product: aws, service: cloudtrail}``. A file
    of plain rules for other log sources gets, per rule and target, the "unsupported" error those pipelines
    would raise. Files with collections, correlations or filters, and runs with extra pipelines or
    ``--without-pipeline``, go through pySigma as usual.
    """
    from sigma_lambda_layer.pipelines.builder import OTHER_SOURCE_HINT, covers, outside_message

    if config.pipelines or config.without_pipeline:
        return None
    documents = [d for d in parsed.documents if d is not None]
    for doc in documents:
        logsource = doc.get("logsource")
        if (
            not isinstance(logsource, dict)
            or not isinstance(doc.get("detection"), dict)
            or {"action", "correlation", "filter"} & set(doc)
            or not all(
                isinstance(logsource.get(k), (str, type(None))) for k in ("category", "product", "service")
            )
            or covers(logsource)  # the pipelines' own condition
            or not isinstance(doc.get("title"), str)
        ):
            return None
    starts = [m.start() for m in _LOGSOURCE_LINE.finditer(parsed.text)]
    outcomes: list[ConversionResult] = []
    for number, doc in enumerate(documents):
        line = parsed.text.count("\n", 0, starts[number]) + 1 if number < len(starts) else None
        error = OutOfScopeError(
            outside_message(doc["logsource"]),
            construct="logsource",
            location=Location(parsed.path, line, 1 if line else None),
            hint=OTHER_SOURCE_HINT,
        )
        rid = doc.get("id")
        outcomes.extend(
            ConversionResult(
                parsed.path,
                str(rid) if isinstance(rid, str) else None,
                doc["title"],
                t,
                config.format,
                error=error,
            )
            for t in config.targets
        )
    return outcomes


def _process_portable(units: list[_Unit], config: Config) -> list[dict[str, Any]]:
    """Worker entry point: outcomes as plain data (exceptions do not cross process boundaries intact)."""
    return [_to_data(o) for o in _process(units, config)]


def _error_to_data(error: SigmaLambdaError) -> dict[str, Any]:
    return {"path": error.location.path, **error.to_dict()}


def _error_from_data(data: dict[str, Any]) -> SigmaLambdaError:
    cls = getattr(error_types, data["type"], None)
    if not (isinstance(cls, type) and issubclass(cls, SigmaLambdaError)):
        cls = SigmaLambdaError
    return cls(
        data["message"],
        location=Location(data.get("path"), data.get("line"), data.get("column")),
        hint=data.get("hint"),
    )


def _to_data(outcome: UnitOutcome) -> dict[str, Any]:
    return {
        "path": outcome.path,
        "errors": [_error_to_data(e) for e in outcome.errors],
        "results": [
            {
                "id": r.id,
                "title": r.title,
                "target": r.target,
                "format": r.format,
                "output": r.output,
                "queries": r.queries,
                "error": _error_to_data(r.error) if r.error else None,
            }
            for r in outcome.results
        ],
    }


def _from_data(data: dict[str, Any], path: str | None) -> UnitOutcome:
    """Rebuild an outcome; ``path`` replaces the stored one (a cached file may have moved)."""

    def relocate(error: SigmaLambdaError) -> SigmaLambdaError:
        if error.location.path == data["path"]:
            error.location = Location(path, error.location.line, error.location.column)
        return error

    return UnitOutcome(
        path,
        [relocate(_error_from_data(e)) for e in data["errors"]],
        [
            ConversionResult(
                path,
                r["id"],
                r["title"],
                r["target"],
                r["format"],
                output=r["output"],
                error=relocate(_error_from_data(r["error"])) if r["error"] else None,
                queries=r["queries"],
            )
            for r in data["results"]
        ],
    )


# --- running ------------------------------------------------------------------------------------------------


def _chunks(items: list[int], units: list[_Unit], parts: int) -> list[list[int]]:
    """Split unit indexes into ``parts`` contiguous groups of about equal bytes."""
    total = sum(len(units[i].data or b"") for i in items) or 1
    groups: list[list[int]] = [[]]
    size = 0
    for i in items:
        if size >= total * len(groups) / parts and len(groups) < parts:
            groups.append([])
        groups[-1].append(i)
        size += len(units[i].data or b"")
    return [g for g in groups if g]


def run(
    inputs: Any,
    config: Config,
    *,
    stdin_text: str | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[UnitOutcome]:
    units = gather(inputs, stdin_text)
    report = progress or (lambda done, total: None)
    # A correlation rule's output depends on the rules it names, possibly in other files: such a batch is
    # converted whole, every time, so that references resolve as with jobs=1 and no stale outcome is reused.
    correlated = any(_CORRELATION.search(unit.data or b"") for unit in units)
    cache = Cache(Path(cache_dir), config) if cache_dir is not None and not correlated else None
    outcomes: list[UnitOutcome | None] = [None] * len(units)
    pending: list[int] = []
    for index, unit in enumerate(units):
        hit = _cached(cache, unit)
        if hit is not None:
            outcomes[index] = hit
        else:
            pending.append(index)
    parts = min(jobs, len(pending) // MIN_FILES_PER_JOB)
    if parts > 1 and not correlated and not any(units[i].objects for i in pending):
        import multiprocessing

        groups = _chunks(pending, units, parts * 4)
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        pool = ProcessPoolExecutor(
            max_workers=parts, mp_context=context, initializer=_worker_start, initargs=(os.getpid(),)
        )
        with pool, _workers_end_with_us(pool):
            futures = [pool.submit(_process_portable, [units[i] for i in g], config) for g in groups]
            done = len(units) - len(pending)
            for group, future in zip(groups, futures, strict=True):
                for i, data in zip(group, future.result(), strict=True):
                    outcomes[i] = _from_data(data, units[i].path)
                    if cache is not None:
                        cache.put(units[i].data, data)
                done += len(group)
                report(done, len(units))
    elif pending:
        for i, outcome in zip(pending, _process([units[i] for i in pending], config), strict=True):
            outcomes[i] = outcome
            if cache is not None:
                cache.put(units[i].data, _to_data(outcome))
    report(len(units), len(units))
    if cache is not None:
        cache.finish()
    return [o for o in outcomes if o is not None]


def _worker_start(parent: int) -> None:
    """In each worker, first: die with the parent, whatever kills it.

    On Linux the kernel sends SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``, even for SIGKILL);
    elsewhere a daemon thread watches the parent id. A parent gone before this ran ends the worker at once.
    The parent's SIGTERM handler (inherited through fork) is put back to the default.
    """
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not _parent_death_signal(signal.SIGTERM):
        import threading
        import time

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="sigma-lambda-parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _parent_death_signal(signum: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, signum)`` through libc (Linux only); whether it took."""
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(1, signum, 0, 0, 0) == 0)  # 1 = PR_SET_PDEATHSIG (linux/prctl.h)
    except (OSError, AttributeError):
        return False


@contextmanager
def _workers_end_with_us(pool: ProcessPoolExecutor) -> Iterator[None]:
    """While the pool runs, SIGTERM to this process first ends its workers, then this process as by default.

    Only when SIGTERM has its default action and this is the main thread: a program that handles SIGTERM
    itself keeps its handler (its workers still end with it, see :func:`_worker_start`).
    """
    import signal
    import threading

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
    ):
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        for process in list((getattr(pool, "_processes", None) or {}).values()):  # the pool's own workers
            process.terminate()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _cached(cache: Cache | None, unit: _Unit) -> UnitOutcome | None:
    """A unit's outcome from the cache, or ``None``; the cache validated the entry's shape already."""
    if cache is None or unit.data is None:
        return None
    data = cache.get(unit.data)
    if data is None:
        return None
    try:
        return _from_data(data, unit.path)
    except (KeyError, TypeError, ValueError):  # cannot happen for a valid entry; a miss all the same
        return None


def finalize_batch(target: Target, config: Config, queries: list[Any]) -> Any:
    """The whole batch's output for ``target`` (e.g. one savedsearches.conf), from every rule's queries."""
    if not queries:
        return None
    if config.format == "default" and not config.pipelines:
        # Every backend's default format is the list of queries, and our pipelines have no finalizers.
        return list(queries)
    own = {k: v for k, v in config.options.items() if target.accepts_option(k)}
    backend = target.backend_class()(
        processing_pipeline=build_pipeline(target, config.pipelines, config.without_pipeline), **own
    )
    backend.init_processing_pipeline(config.format)
    return backend.finalize(list(queries), config.format)


def convert_keeping_rules(
    inputs: Any, config: Config, stdin_text: str | None = None
) -> tuple[list[UnitOutcome], list[tuple[Any, Any]]]:
    """:func:`run` in this process, uncached, also returning each result with its rule before any pipeline.

    For ``hunt``'s native engine, which converts the rules for the ``duckdb`` target (the same refusals and
    dispatch values as that engine) and evaluates the rules as written with the reference evaluator.
    """
    keep: list[tuple[Any, Any]] = []
    return _process(gather(inputs, stdin_text), config, keep), keep
