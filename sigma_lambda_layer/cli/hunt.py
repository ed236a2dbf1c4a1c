"""``sigma-lambda hunt``: Sigma rules over CloudTrail log files, a thin layer over :func:`..hunt.hunt`.

Exit codes (docs/hunt.md): 0 every input scanned and every rule compiled, hits or not; 1 some file, line or
record could not be read, or some rule could not be compiled (everything else was still scanned); 2 usage
error; 3 with ``--fail-on-hit``, no error and at least one hit; 130 interrupted (``--engine athena``: every
running query was stopped first).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from sigma_lambda_layer.registry import HUNT_ATHENA_TARGET, HUNT_ENGINES, HUNT_NATIVE

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_HITS = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


def _progress(enabled: bool, engine: str = HUNT_NATIVE) -> object:
    """A one-line progress display on stderr (files and bytes; Athena: queries and bytes scanned), or None."""
    if not enabled:
        return None

    def queries(done: int, total: int, scanned: int, _: int) -> None:
        end = "\n" if done == total else ""
        click.echo(
            f"\rathena: {done}/{total} quer(ies) done, {scanned / 1e9:.2f} GB scanned" + end,
            err=True,
            nl=False,
        )

    if engine == HUNT_ATHENA_TARGET:
        return queries

    def show(done_files: int, files: int, done_bytes: int, total: int) -> None:
        end = "\n" if done_files == files else ""
        share = done_bytes / total if total else 1.0
        click.echo(
            f"\rscanning: {done_files}/{files} file(s), {done_bytes / 1e6:.1f}/{total / 1e6:.1f} MB "
            f"({share:.0%})" + end,
            err=True,
            nl=False,
        )

    return show


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while the hunt runs, so that it stops as Ctrl-C does (a container
    or CI job is ended by SIGTERM): Athena's queries are stopped, local workers ended, and the half-written
    --output file removed."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: no handler, Ctrl-C still stops the queries
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _athena_options(**given: Any) -> Any:
    """``--engine athena``'s options as :class:`..hunt.athena.AthenaOptions` (unset ones keep its defaults)."""
    from sigma_lambda_layer.hunt.athena import AthenaOptions

    options = {k: v for k, v in given.items() if v is not None}
    if options.get("partition_column") == "":  # --partition-column '': a table without the partition
        options["partition_column"] = None
    if "max_queries" in options:
        options["max_running"] = options.pop("max_queries")
    return AthenaOptions(**options)


def _check_engine_options(
    engine: str, logs: tuple[str, ...], threads: int | None, athena: dict[str, Any]
) -> None:
    """Options that belong to the other engine are usage errors, not silently ignored."""
    from sigma_lambda_layer.errors import UsageError

    if engine != HUNT_ATHENA_TARGET and not logs:
        raise UsageError(
            f"--logs is required with --engine {engine}", hint="a file, a folder, or - for stdin"
        )
    if engine != HUNT_ATHENA_TARGET and any(v is not None for v in athena.values()):
        given = ", ".join("--" + k.replace("_", "-") for k, v in athena.items() if v is not None)
        raise UsageError(f"{given}: only with --engine athena")
    if engine == HUNT_ATHENA_TARGET and logs:
        raise UsageError("--logs is for the local engines: Athena reads the table's S3 objects itself")
    if engine == HUNT_ATHENA_TARGET and threads:
        raise UsageError("--threads is for the local engines", hint="--max-queries bounds Athena's queries")


def _finish(
    ctx: click.Context, result: Any, *, report: Path | None, as_json: bool, quiet: bool, fail_on_hit: bool
) -> None:
    """The report file, the --json summary, the terminal summary and the exit code of a finished hunt."""
    from sigma_lambda_layer.cli._common import print_error, write_atomic

    if report is not None:
        write_atomic(report, result.html_report())
    if as_json:
        click.echo(json.dumps(result.to_summary(), ensure_ascii=False, indent=2))
    for line in result.summary_lines():
        if line.startswith("error: "):
            print_error(line)
        elif not quiet and not as_json:
            click.echo(line, err=True)
    if not result.ok:
        ctx.exit(EXIT_ERRORS)
    ctx.exit(EXIT_HITS if fail_on_hit and result.hit_count else EXIT_OK)


@click.command("hunt")
@click.argument("rules", nargs=-1, required=True)
@click.option(
    "--logs",
    "logs",
    multiple=True,
    help="CloudTrail log file or folder (recursive, e.g. an AWSLogs/ S3 copy), or - for stdin (repeatable; "
    "not with --engine athena).",
)
@click.option(
    "--engine",
    type=click.Choice(list(HUNT_ENGINES)),
    default=HUNT_NATIVE,
    show_default=True,
    help="native: scan --logs here with the reference evaluator on every core; duckdb: scan them with the "
    "duckdb target's SQL; athena: query the CloudTrail table on Amazon Athena (see docs/hunt.md).",
)
@click.option("--since", help="Only records with eventTime at or after this ISO 8601 time (UTC by default).")
@click.option("--until", help="Only records with eventTime before this ISO 8601 time.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every hit to this file: JSON lines, or CSV if the name ends in .csv.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report (timeline per rule, every hit).",
)
@click.option("--fail-on-hit", is_flag=True, help="Exit 3 when there is at least one hit (for CI).")
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    help="Worker processes (native) or DuckDB threads (duckdb); default: every core.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary (errors are still printed).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.option("--database", help="Athena: the CloudTrail table's database (default: default).")
@click.option("--table", help="Athena: the CloudTrail table (default: cloudtrail_logs).")
@click.option("--catalog", help="Athena: the data catalog (default: AwsDataCatalog).")
@click.option("--workgroup", help="Athena: the workgroup to run in (default: the account's primary).")
@click.option("--output-location", help="Athena: s3:// URI for query results (default: the workgroup's).")
@click.option("--region", help="Athena: the AWS region (default: boto3's, e.g. AWS_REGION or the profile's).")
@click.option("--profile", help="Athena: the AWS profile (default: boto3's credential chain).")
@click.option(
    "--partition-column",
    help="Athena: the yyyy/MM/dd partition column --since/--until prune (default: timestamp; '' for none).",
)
@click.option(
    "--max-queries", type=click.IntRange(1, 100), help="Athena: queries running at once (default: 4)."
)
@click.pass_context
def hunt_command(
    ctx: click.Context,
    rules: tuple[str, ...],
    logs: tuple[str, ...],
    since: str | None,
    until: str | None,
    output: Path | None,
    report: Path | None,
    fail_on_hit: bool,
    threads: int | None,
    quiet: bool,
    engine: str,
    as_json: bool,
    **athena: Any,
) -> None:
    """Run Sigma RULES (files or folders) over CloudTrail log files with the reference evaluator on every core
    (--engine duckdb: the duckdb target's SQL on an embedded DuckDB), or (--engine athena) over the CloudTrail
    table on Amazon Athena."""
    from sigma_lambda_layer.cli._common import print_error
    from sigma_lambda_layer.errors import SigmaLambdaError, UsageError
    from sigma_lambda_layer.hunt import HitWriter, hunt
    from sigma_lambda_layer.hunt.report import REPORT_HITS_PER_RULE

    progress = _progress(not quiet and sys.stderr.isatty(), engine)
    try:
        _check_engine_options(engine, logs, threads, athena)
        options = _athena_options(**athena) if engine == HUNT_ATHENA_TARGET else None
        with HitWriter(output) as writer, _sigterm_interrupts():
            result = hunt(
                list(rules),
                list(logs),
                since=since,
                until=until,
                threads=threads,
                progress=progress,  # type: ignore[arg-type]
                on_hit=writer.write if output is not None else None,
                # Records stay on disk (--output); only the report lists hits (the first of each rule).
                keep_records=REPORT_HITS_PER_RULE if report is not None else 0,
                keep_hits=report is not None,
                engine=engine,
                athena=options,
            )
    except UsageError as exc:
        print_error(f"error: {exc}")
        ctx.exit(EXIT_USAGE)
    except SigmaLambdaError as exc:  # the hunt could not run to the end (a worker process died)
        print_error(f"error: {exc}")
        ctx.exit(EXIT_ERRORS)
    except KeyboardInterrupt:
        print_error(
            "interrupted"
            + (": every running Athena query was stopped" if engine == HUNT_ATHENA_TARGET else "")
        )
        ctx.exit(EXIT_INTERRUPTED)
    except OSError as exc:
        print_error(f"error: cannot write {output}: {exc.strerror or exc}")
        ctx.exit(EXIT_ERRORS)
    _finish(ctx, result, report=report, as_json=as_json, quiet=quiet, fail_on_hit=fail_on_hit)
