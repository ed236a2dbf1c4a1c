"""The public conversion API: rules in, one result per rule and target out.

Notebooks, CI scripts and the CLI all call :func:`convert`, a thin layer over the conversion core
(:mod:`sigma_lambda_layer.conversion`: request checks, pySigma parse, pipelines and backends) and the batch
engine (:mod:`sigma_lambda_layer.batch`: inputs read once, worker processes, cache). The result types live in
:mod:`sigma_lambda_layer.results`, which imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sigma_lambda_layer.outputs import render
from sigma_lambda_layer.registry import DEFAULT_TARGET
from sigma_lambda_layer.results import ConversionResult, ConversionResults

__all__ = ["ConversionResult", "ConversionResults", "RuleInput", "convert", "render"]

#: Anything :func:`convert` accepts as rules.
RuleInput = Any


def convert(
    rules: RuleInput,
    target: str | Sequence[str] = DEFAULT_TARGET,
    format: str = "default",
    *,
    pipelines: Sequence[str] = (),
    without_pipeline: bool = False,
    options: Mapping[str, Any] | None = None,
    collect_errors: bool | None = None,
    stdin_text: str | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    filters: Sequence[str | Path] = (),
    correlation_method: str | None = None,
) -> ConversionResults:
    """Convert Sigma rules for one or more targets.

    ``rules`` is a path, a folder (recursive ``*.yml``), ``"-"`` for stdin, a YAML string, a pySigma
    ``SigmaRule`` or ``SigmaCollection``, or a list of these. ``target`` is a target id, a list of them, or
    ``"all"``. ``pipelines`` adds pipelines (registry ids or YAML files) after the target's default AWS
    pipeline; ``without_pipeline`` drops the default. ``options`` are backend options (``index``,
    ``log_group``, ...). With ``collect_errors`` every failure is returned as a result whose ``error`` is
    set; with ``collect_errors=False`` the first failure is raised. The default (``None``) collects when
    several targets are asked for (``target="all"`` in a notebook shows every target, a refusal as a
    value) and raises for one target.

    ``filters`` are Sigma filter files or folders (exemptions, see :mod:`sigma_lambda_layer.exemptions`),
    merged into the rules they name before each target's pipeline. ``correlation_method`` picks pySigma's
    correlation method (one every target's backend has; ``None``: each backend's default).

    ``jobs`` > 1 converts rule files in that many processes (the output is identical to ``jobs=1``).
    ``cache_dir`` enables the content-hash cache: a rule file whose bytes, targets, format, options,
    pipelines, exemptions and code (this package's files, pySigma's version) are unchanged is not parsed or
    converted again. The cache is best effort (:mod:`sigma_lambda_layer.cache`): a folder that cannot be
    used, or that other users can write, gives one :class:`~sigma_lambda_layer.cache.CacheWarning` and the
    conversion runs without it.
    """
    from sigma_lambda_layer import batch
    from sigma_lambda_layer.conversion import configure

    targets, config = configure(
        target,
        format,
        pipelines=pipelines,
        without_pipeline=without_pipeline,
        options=options,
        filters=filters,
        correlation_method=correlation_method,
    )
    outcomes = batch.run(
        rules, config, stdin_text=stdin_text, jobs=jobs, cache_dir=cache_dir, progress=progress
    )
    results = [result for outcome in outcomes for result in outcome.results_for(config)]
    if collect_errors is None:  # errors are values as soon as there is more than one target to report on
        collect_errors = len(targets) > 1
    if not collect_errors:
        for result in results:
            if result.error is not None:
                raise result.error
    batch_outputs = {
        t.id: batch.finalize_batch(t, config, [q for r in results if r.target == t.id for q in r.queries])
        for t in targets
    }
    return ConversionResults(results, batch_outputs)
