"""``sigma-lambda convert``: rules in, queries (or a JSON array, per-rule files, a report) out."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from sigma_lambda_layer.cli._common import (
    EXIT_OK,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    FILTER_OPTION,
    describe,
    parse_options,
    print_error,
    write_atomic,
)
from sigma_lambda_layer.cli._sigma_cli import sigma_cli_options


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-t",
    "--target",
    "targets",
    multiple=True,
    required=True,
    help="Target query language (repeatable; 'all' for every target). See 'list targets'.",
)
@click.option(
    "-f", "--format", "fmt", default="default", show_default=True, help="Output format of the target."
)
@click.option(
    "-p",
    "--pipeline",
    "pipelines",
    multiple=True,
    help="Extra processing pipeline (registry id or YAML file), applied after the target's AWS pipeline.",
)
@click.option(
    "--without-pipeline", is_flag=True, help="Do not apply the target's default AWS CloudTrail pipeline."
)
@click.option(
    "--pipeline-check/--disable-pipeline-check",
    default=True,
    help="Refuse a -p pipeline that declares other backends (allowed_backends) than the target.",
)
@click.option(
    "-c",
    "--correlation-method",
    default=None,
    help="Correlation query method (default: the backend's; see each target's page).",
)
@click.option(
    "-O",
    "--option",
    "--backend-option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Backend option, e.g. index=aws or log_group=CloudTrail/logs (repeatable).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write the batch output to this file instead of stdout ('-': stdout).",
)
@click.option(
    "-od",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per rule and target under this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of results (see docs/cli.md).")
@click.option(
    "-s",
    "--skip-unsupported/--fail-unsupported",
    default=False,
    help="Skip rules a target cannot express (exit 0) or count them as failures (default).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JSON report: every rule x target as ok, unsupported or error, with its location.",
)
@click.option("--jobs", type=int, default=0, help="Worker processes (default: one per core; 1 = no workers).")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),  # not checked here: a cache that cannot be used is a warning, not exit 2
    envvar="SIGMA_LAMBDA_CACHE_DIR",
    help="Content-hash cache folder [env SIGMA_LAMBDA_CACHE_DIR; default ~/.cache/sigma-lambda].",
)
@click.option("--no-cache", is_flag=True, help="Convert every rule again; read and write no cache.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("-v", "--verbose", is_flag=True, help="List every rule refused for its log source.")
@FILTER_OPTION
@sigma_cli_options
@click.pass_context
def convert(
    ctx: click.Context,
    inputs: tuple[str, ...],
    targets: tuple[str, ...],
    fmt: str,
    pipelines: tuple[str, ...],
    without_pipeline: bool,
    pipeline_check: bool,
    correlation_method: str | None,
    options: tuple[str, ...],
    output: Path | None,
    output_dir: Path | None,
    as_json: bool,
    skip_unsupported: bool,
    report: Path | None,
    jobs: int,
    cache_dir: Path | None,
    no_cache: bool,
    quiet: bool,
    verbose: bool,
    filters: tuple[Path, ...],
) -> None:
    """Convert Sigma rules (files, folders or - for stdin) for one or more targets."""
    from sigma_lambda_layer.errors import is_out_of_scope, is_unsupported

    debug = ctx.obj.get("debug", False)
    if output and output_dir:
        raise click.UsageError("--output and --output-dir exclude each other")
    output = None if output == Path("-") else output
    if pipeline_check and pipelines:
        _convert(ctx, debug, targets, pipelines, check=True)
    results = _convert(
        ctx,
        debug,
        list(inputs),
        list(targets),
        fmt,
        pipelines=pipelines,
        without_pipeline=without_pipeline,
        correlation_method=correlation_method,
        options=parse_options(options),
        collect_errors=True,
        jobs=jobs or (os.cpu_count() or 1),
        cache_dir=_cache_folder(cache_dir, no_cache),
        progress=None if quiet or not sys.stderr.isatty() else _progress_bar(),
        filters=filters,
    )
    errors = [(r, r.error) for r in results if r.error is not None]
    _report_errors(errors, debug, verbose)
    # Out-of-scope rules (other log sources) never fail the run; CloudTrail refusals do unless -s.
    failed = [e for _, e in errors if not is_out_of_scope(e) and not (skip_unsupported and is_unsupported(e))]
    written = _write_output_dir(output_dir, results, quiet) if output_dir is not None else None
    try:
        _emit(results, as_json, output, output_dir is not None)
    finally:  # the report is written even when an output could not be
        if report is not None:
            write_atomic(report, json.dumps(results.report(written), indent=2, ensure_ascii=False))
    if not quiet and len(results) > 1:
        click.echo(results.summary_line(), err=True)
    ctx.exit(EXIT_RULE_ERRORS if failed or (written and written.failed) else EXIT_OK)


def _cache_folder(cache_dir: Path | None, no_cache: bool) -> Path | None:
    """``--cache-dir`` (or its environment variable), else the XDG cache folder; none with ``--no-cache``
    (or without a home folder, said once on standard error)."""
    if no_cache:
        return None
    if cache_dir is None:
        from sigma_lambda_layer.cache import default_folder

        cache_dir = default_folder()
        if cache_dir is None:
            print_error(
                "warning: cache not used (no home folder; --cache-dir names one); converting without it"
            )
    return cache_dir


def _convert(ctx: click.Context, debug: bool, *args: Any, check: bool = False, **kwargs: Any) -> Any:
    """The API's convert() (``check``: the pipeline check); a usage error exits 2, any other failure of the
    whole run exits 1."""
    import warnings

    from sigma_lambda_layer.api import convert as api_convert
    from sigma_lambda_layer.cache import CacheWarning
    from sigma_lambda_layer.conversion import check_pipelines
    from sigma_lambda_layer.errors import SigmaLambdaError, UsageError

    try:
        if check:
            return check_pipelines(*args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CacheWarning)
            results = api_convert(*args, **kwargs)
        for message in dict.fromkeys(str(w.message) for w in caught if w.category is CacheWarning):
            print_error(f"warning: {message}")  # one line, not Python's warning format
        for w in caught:  # any other warning shows as it would have
            if w.category is not CacheWarning:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        return results
    except UsageError as exc:
        if debug:
            raise
        print_error(f"error: {exc}")
        ctx.exit(EXIT_USAGE)
    except SigmaLambdaError as exc:
        if debug:
            raise
        print_error(str(exc))
        ctx.exit(EXIT_RULE_ERRORS)


def _emit(results: Any, as_json: bool, output: Path | None, wrote_folder: bool) -> None:
    """The results as a JSON array or as the batch text (file or stdout); with ``--output-dir`` only the JSON
    (the files hold the rest)."""
    if wrote_folder and not as_json:
        return
    if as_json:
        text = json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False)
    else:
        text = results.text()
    if output:
        write_atomic(output, text)
    elif text or as_json:
        click.echo(text)


def _report_errors(errors: list[tuple[Any, Any]], debug: bool, verbose: bool) -> None:
    """Print each error once, like a compiler: a load error once, not once per target; the target named when
    one rule fails differently on several. Rules refused only because their log source is not CloudTrail are
    summarised in one line unless ``--verbose``."""
    from sigma_lambda_layer.errors import is_out_of_scope

    targets_of: dict[str, list[str]] = {}
    first: dict[str, Any] = {}
    for r, error in errors:
        key = str(error)
        targets_of.setdefault(key, []).append(r.target)
        first.setdefault(key, error)
    other_sources = [key for key in first if is_out_of_scope(first[key])]
    all_targets = {r.target for r, _ in errors}
    for key, error in first.items():
        if key in other_sources and not verbose:
            continue
        if debug and error.__cause__ is not None:
            import traceback

            traceback.print_exception(error.__cause__)
        names = targets_of[key]
        suffix = "" if len(all_targets) <= 1 or set(names) == all_targets else f"  [{', '.join(names)}]"
        print_error(f"{key}{suffix}")
    if other_sources and not verbose:
        print_error(
            f"{len(other_sources)} rule(s) out of scope: their log source is not AWS CloudTrail; not failures "
            "(--verbose lists them; --without-pipeline converts them with plain field names)"
        )


def _progress_bar() -> Any:
    """A progress callback drawing a bar on standard error (terminals only)."""
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label="converting", file=sys.stderr)
            state["bar"].__enter__()
        bar = state["bar"]
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return update


def _write_output_dir(output_dir: Path, results: Any, quiet: bool) -> Any:
    """One file per rule and target, plus each target's bundle (see docs/cli.md for the layout and contract);
    every file that could not be written is an error line, the others are still written."""
    from sigma_lambda_layer.outputs import WrittenFiles, write_output_dir

    try:
        written = write_output_dir(output_dir, results)
    except OSError as exc:
        written = WrittenFiles(str(output_dir), failed=[{"file": ".", "error": describe(exc)}])
    for failure in written.failed:
        print_error(f"error: cannot write {output_dir / failure['file']}: {failure['error']}")
    if not quiet:
        click.echo(written.summary_line(), err=True)
    return written
