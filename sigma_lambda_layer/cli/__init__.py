"""The ``sigma-lambda`` command line: a thin layer over the public API.

Exit codes (documented in docs/cli.md): 0 everything converted, 1 some rule failed (all others were still
converted and written), 2 usage error. Heavy imports happen inside the commands so that ``--help`` and
``--version`` stay instant.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from sigma_lambda_layer._version import __version__

EXIT_OK = 0
EXIT_RULE_ERRORS = 1
EXIT_USAGE = 2


#: Exemptions (Sigma filters), shared by the commands that compile rules.
FILTER_OPTION = click.option(
    "--filter",
    "filters",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Sigma filter file or folder of exemptions, merged into the rules they name (repeatable).",
)


def _parse_options(values: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs; a key given several times becomes a list (e.g. several log groups)."""
    options: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--option")
        if key in options:
            previous = options[key]
            options[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            options[key] = value
    return options


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file.

    A file that cannot be written is a clear error (exit code 1), not a traceback.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text if text.endswith("\n") or not text else text + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _print_error(message: str) -> None:
    click.secho(message, fg="red", err=True) if sys.stderr.isatty() else click.echo(message, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="sigma-lambda")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Compile Sigma rules for AWS CloudTrail into SIEM queries that mean what the rule means."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@main.command()
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
    "-O",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Backend option, e.g. index=aws or log_group=CloudTrail/logs (repeatable).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the batch output to this file instead of stdout.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per rule and target under this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of results (see docs/cli.md).")
@click.option(
    "--skip-unsupported/--fail-unsupported",
    default=False,
    help="Skip rules a target cannot express (exit 0) or count them as failures (default).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JSON report: every rule x target as ok, unsupported or error, with its location.",
)
@click.option(
    "-j", "--jobs", type=int, default=0, help="Worker processes (default: one per core; 1 = no workers)."
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SIGMA_LAMBDA_CACHE_DIR",
    help="Content-hash cache folder [env SIGMA_LAMBDA_CACHE_DIR; default ~/.cache/sigma-lambda].",
)
@click.option("--no-cache", is_flag=True, help="Convert every rule again; read and write no cache.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("-v", "--verbose", is_flag=True, help="List every rule refused for its log source.")
@FILTER_OPTION
@click.pass_context
def convert(
    ctx: click.Context,
    inputs: tuple[str, ...],
    targets: tuple[str, ...],
    fmt: str,
    pipelines: tuple[str, ...],
    without_pipeline: bool,
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
    from sigma_lambda_layer.api import convert as api_convert
    from sigma_lambda_layer.errors import SigmaLambdaError, UsageError, is_unsupported

    debug = ctx.obj.get("debug", False)
    if output and output_dir:
        raise click.UsageError("--output and --output-dir exclude each other")
    if no_cache:
        cache_dir = None
    elif cache_dir is None:
        cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sigma-lambda"
    try:
        results = api_convert(
            list(inputs),
            list(targets),
            fmt,
            pipelines=pipelines,
            without_pipeline=without_pipeline,
            options=_parse_options(options),
            collect_errors=True,
            jobs=jobs or (os.cpu_count() or 1),
            cache_dir=cache_dir,
            progress=None if quiet or not sys.stderr.isatty() else _progress_bar(),
            filters=filters,
        )
    except UsageError as exc:
        if debug:
            raise
        _print_error(f"error: {exc}")
        ctx.exit(EXIT_USAGE)
    except SigmaLambdaError as exc:
        if debug:
            raise
        _print_error(str(exc))
        ctx.exit(EXIT_RULE_ERRORS)

    errors = [(r, r.error) for r in results if r.error is not None]
    _report_errors(errors, debug, verbose)
    failed = [r for r, error in errors if not (skip_unsupported and is_unsupported(error))]

    if as_json:
        text = json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False)
        if output:
            _write_atomic(output, text)
        else:
            click.echo(text)
    elif output_dir is not None:
        _write_output_dir(output_dir, results)
    else:
        target_ids = list(dict.fromkeys(r.target for r in results))
        present = [t for t in target_ids if results.batch_outputs.get(t) is not None]
        if len(target_ids) > 1:
            parts = [f"# {t}\n{results.batch_text(t)}" for t in present]
        else:
            parts = [results.batch_text(t) for t in present]
        text = "\n".join(p for p in parts if p)
        if output:
            _write_atomic(output, text)
        elif text:
            click.echo(text)
    summary = _summary(results)
    if report is not None:
        _write_atomic(report, json.dumps(_report(results, summary), indent=2, ensure_ascii=False))
    if not quiet and len(results) > 1:
        click.echo(
            f"{summary['rules']} rule(s) x {summary['targets']} target(s): {summary['ok']} converted, "
            f"{summary['unsupported']} unsupported, {summary['error']} failed",
            err=True,
        )
    ctx.exit(EXIT_RULE_ERRORS if failed else EXIT_OK)


def _report_errors(errors: list[tuple[Any, Any]], debug: bool, verbose: bool) -> None:
    """Print each error once, like a compiler: a load error once, not once per target; the target named when
    one rule fails differently on several. Rules refused only because their log source is not CloudTrail are
    summarised in one line unless ``--verbose``."""
    targets_of: dict[str, list[str]] = {}
    first: dict[str, Any] = {}
    for r, error in errors:
        key = str(error)
        targets_of.setdefault(key, []).append(r.target)
        first.setdefault(key, error)
    other_sources = [key for key in first if " is not AWS CloudTrail: " in first[key].message]
    all_targets = {r.target for r, _ in errors}
    for key, error in first.items():
        if key in other_sources and not verbose:
            continue
        if debug and error.__cause__ is not None:
            import traceback

            traceback.print_exception(error.__cause__)
        names = targets_of[key]
        suffix = "" if len(all_targets) <= 1 or set(names) == all_targets else f"  [{', '.join(names)}]"
        _print_error(f"{key}{suffix}")
    if other_sources and not verbose:
        _print_error(
            f"{len(other_sources)} rule(s) skipped: their log source is not AWS CloudTrail "
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


def _status(error: Exception | None) -> str:
    from sigma_lambda_layer.errors import is_unsupported

    if error is None:
        return "ok"
    return "unsupported" if is_unsupported(error) else "error"


def _summary(results: Any) -> dict[str, int]:
    statuses = [_status(r.error) for r in results]
    return {
        "rules": len({(r.path, r.id, r.title) for r in results}),
        "targets": len({r.target for r in results}),
        "ok": statuses.count("ok"),
        "unsupported": statuses.count("unsupported"),
        "error": statuses.count("error"),
    }


def _report(results: Any, summary: dict[str, int]) -> dict[str, Any]:
    """The --report document (stable keys, documented in docs/cli.md)."""
    return {
        "tool": {"name": "sigma-lambda", "version": __version__},
        "summary": summary,
        "results": [
            {
                "path": r.path,
                "id": r.id,
                "title": r.title,
                "target": r.target,
                "format": r.format,
                "status": _status(r.error),
                **({"error": r.error.to_dict()} if r.error is not None else {}),
            }
            for r in results
        ],
    }


def _write_output_dir(output_dir: Path, results: Any) -> None:
    """One file per rule and target, plus each target's bundle (see docs/cli.md for the layout)."""
    from sigma_lambda_layer.api import render
    from sigma_lambda_layer.outputs import bundle_path, output_path

    used: dict[Path, str | None] = {}
    for r in results:
        if not r.ok:
            continue
        path = output_path(output_dir, r)
        if path in used and used[path] != r.id:
            path = path.with_name(f"{path.stem}-{r.id or len(used)}{path.suffix}")
        used[path] = r.id
        _write_atomic(path, render(r.output, r.format))
    for target, batch_output in results.batch_outputs.items():
        if batch_output is not None:
            fmt = next(r.format for r in results if r.target == target)
            _write_atomic(bundle_path(output_dir, target, fmt, batch_output), render(batch_output, fmt))


@main.group("list")
def list_group() -> None:
    """List targets, output formats, backend options or pipelines."""


@list_group.command("targets")
def list_targets() -> None:
    """Targets and their default AWS CloudTrail pipeline."""
    from sigma_lambda_layer.registry import TARGETS

    for t in TARGETS.values():
        click.echo(f"{t.id:<12} {t.pipeline_id:<28} {t.description}")


@list_group.command("formats")
@click.argument("target", required=False)
def list_formats(target: str | None) -> None:
    """Output formats of one target (or of all)."""
    from sigma_lambda_layer.errors import UsageError
    from sigma_lambda_layer.registry import TARGETS, get_target

    try:
        chosen = [get_target(target)] if target else list(TARGETS.values())
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    for t in chosen:
        for name, description in t.formats().items():
            file = t.format_file(name)
            click.echo(f"{t.id:<12} {name:<18} {file.kind:<7} .{file.extension:<13} {description}")


@list_group.command("options")
@click.argument("target", required=False)
def list_options(target: str | None) -> None:
    """Backend options (--option key=value) of one target (or of all), with their defaults."""
    from sigma_lambda_layer.errors import UsageError
    from sigma_lambda_layer.registry import TARGETS, get_target

    try:
        chosen = [get_target(target)] if target else list(TARGETS.values())
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    for t in chosen:
        for option in t.options:
            default = "" if option.default is None else f" (default: {option.default})"
            click.echo(f"{t.id:<12} {option.shown:<20} {option.doc}{default}")


@list_group.command("pipelines")
def list_pipelines() -> None:
    """Processing pipelines shipped with sigma-lambda."""
    from sigma_lambda_layer.registry import PIPELINES

    for p in PIPELINES.values():
        click.echo(f"{p.id:<28} {p.description}")


def _github_annotation(level: str, path: str | None, line: int | None, col: int | None, message: str) -> str:
    """A GitHub Actions workflow command, shown inline on the pull request."""
    props = ",".join(f"{k}={v}" for k, v in (("file", path), ("line", line), ("col", col)) if v is not None)
    text = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{level} {props}::{text}" if props else f"::{level}::{text}"


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--exclude", "excluded", multiple=True, metavar="CHECK", help="Do not run this check (repeatable)."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML file with exclude, suppress (rule id -> checks) and fail_on.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info", "never"]),
    default=None,
    help="Lowest severity that makes the exit code 1 (default: error).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON array.")
@click.option(
    "--sarif", type=click.Path(dir_okay=False, path_type=Path), help="Write SARIF 2.1.0 to this file."
)
@click.pass_context
def check(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    excluded: tuple[str, ...],
    config_file: Path | None,
    fail_on: str | None,
    as_json: bool,
    sarif: Path | None,
) -> None:
    """Lint rules offline: pySigma and SigmaHQ validators plus CloudTrail-aware checks."""
    import dataclasses

    import yaml

    from sigma_lambda_layer.checks import CheckConfig, Severity, check_paths, findings_to_sarif

    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            _print_error(f"error: {config_file}: cannot read check configuration: {exc}")
            ctx.exit(EXIT_USAGE)
    try:
        config = CheckConfig.from_dict(data)
    except (ValueError, TypeError, AttributeError) as exc:
        _print_error(f"error: {config_file}: invalid check configuration: {exc}")
        ctx.exit(EXIT_USAGE)
    if excluded:
        config = dataclasses.replace(config, exclude=config.exclude | frozenset(excluded))
    if fail_on is not None:
        config = dataclasses.replace(config, fail_on=None if fail_on == "never" else Severity.parse(fail_on))
    findings = check_paths(list(inputs), config)
    if sarif is not None:
        _write_atomic(sarif, json.dumps(findings_to_sarif(findings), indent=2))
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for f in findings:
            level = {"error": "error", "warning": "warning"}.get(f.severity.value, "notice")
            click.echo(_github_annotation(level, f.path, f.line, f.column, f"[{f.check}] {f.message}"))
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no findings"
    click.echo(f"checked: {summary}", err=True)
    ctx.exit(EXIT_RULE_ERRORS if config.failed(findings) else EXIT_OK)


@main.command("test")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder that 'corpus:' references in tests files are resolved against.",
)
@click.option("--require-tests", is_flag=True, help="Fail rules that have no tests.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="Also run each entry on this target's reference engine (repeatable; splunk, cloudwatch, or all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per rule.")
@click.pass_context
def test_command(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    corpus: Path | None,
    require_tests: bool,
    targets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run rules' sample-event tests (<rule>.tests.yml or <rule>.tests/) with the reference evaluator,
    and with --target on that target's compiled query and reference engine."""
    from sigma_lambda_layer.errors import UsageError
    from sigma_lambda_layer.loading import expand_inputs
    from sigma_lambda_layer.testing import resolve_targets, run_rule_tests

    try:
        wanted = resolve_targets(targets)
    except UsageError as exc:
        _print_error(f"error: {exc}")
        ctx.exit(EXIT_USAGE)
    rule_paths = [p for p in expand_inputs(list(inputs)) if isinstance(p, Path)]
    reports = run_rule_tests(rule_paths, corpus=corpus, require_tests=require_tests, targets=wanted)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "rule": r.rule_path,
                        "tests": r.tests_path,
                        "passed": r.passed,
                        "error": r.error,
                        **(
                            {
                                "targets": {
                                    t: {"status": r.target_status(t), "unsupported": r.unsupported.get(t)}
                                    for t in r.targets
                                }
                            }
                            if r.targets
                            else {}
                        ),
                        "outcomes": [
                            {
                                "id": o.case.id,
                                "expect": o.case.expect,
                                "actual": o.actual,
                                "status": o.status,
                                "message": o.message,
                                **(
                                    {
                                        "targets": {
                                            t: {
                                                "actual": to.actual,
                                                "status": to.status,
                                                "message": to.message,
                                            }
                                            for t, to in o.targets.items()
                                        }
                                    }
                                    if r.targets
                                    else {}
                                ),
                            }
                            for o in r.outcomes
                        ],
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
    else:
        for r in reports:
            if r.tests_path is None and r.error is None:
                continue
            mark = "PASS" if r.passed else "FAIL"
            counts = ", ".join(f"{n} {s}" for s, n in sorted(r.counts().items()))
            click.echo(f"{mark} {r.rule_path} ({counts or r.error})")
            for o in r.outcomes:
                if o.status in ("fail", "error", "xpass"):
                    click.echo(f"  {o.status}: {o.case.id}: {o.message or o.case.reason} [{o.case.source}]")
            if r.error is not None:
                continue
            for t in r.targets:
                status = r.target_status(t)
                if status == "unsupported":
                    click.echo(f"  {t}: unsupported on {t}: {r.unsupported[t]}")
                    continue
                t_counts = ", ".join(f"{n} {s}" for s, n in sorted(r.target_counts(t).items()))
                click.echo(f"  {t}: {status.upper()} ({t_counts or 'no entries'})")
                for o in r.outcomes:
                    to = o.targets.get(t)
                    if to is not None and to.status in ("fail", "error", "xpass"):
                        click.echo(
                            f"    {to.status}: {o.case.id}: {to.message or o.case.reason} [{o.case.source}]"
                        )
    tested = [r for r in reports if r.tests_path is not None or r.error]
    failed = [r for r in tested if not r.passed]
    click.echo(f"{len(tested) - len(failed)} passed, {len(failed)} failed", err=True)
    ctx.exit(EXIT_RULE_ERRORS if failed else EXIT_OK)


@main.command("docs")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the pages (created if missing): <rule>.md per rule and index.md.",
)
@FILTER_OPTION
@click.pass_context
def docs(ctx: click.Context, inputs: tuple[Path, ...], output_dir: Path, filters: tuple[Path, ...]) -> None:
    """Write a Markdown page per rule (metadata, ATT&CK, every target's query, exemptions) and an index."""
    from sigma_lambda_layer.errors import SigmaLambdaError
    from sigma_lambda_layer.pages import render_pages

    try:
        written = render_pages(list(inputs), output_dir, filters=list(filters))
    except SigmaLambdaError as exc:  # a filter file that is not a valid Sigma filter
        if ctx.obj and ctx.obj.get("debug"):
            raise
        _print_error(f"error: {exc}")
        ctx.exit(EXIT_USAGE)
    click.echo(f"wrote {len(written) - 1} rule page(s) and {written[-1]}", err=True)


from sigma_lambda_layer.cli.hunt import hunt_command  # noqa: E402  (one module per command)

main.add_command(hunt_command)
