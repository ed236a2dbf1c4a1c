"""``sigma-lambda hunt``: Sigma rules over CloudTrail log files, a thin layer over :func:`..hunt.hunt`.

Exit codes (docs/hunt.md): 0 every input scanned and every rule compiled, hits or not; 1 some file, line or
record could not be read, or some rule could not be compiled (everything else was still scanned); 2 usage
error; 3 with ``--fail-on-hit``, no error and at least one hit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_HITS = 0, 1, 2, 3


def _progress(enabled: bool) -> object:
    """A one-line progress display on stderr (files and bytes), or None."""
    if not enabled:
        return None

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


@click.command("hunt")
@click.argument("rules", nargs=-1, required=True)
@click.option(
    "--logs",
    "logs",
    multiple=True,
    required=True,
    help="CloudTrail log file or folder (recursive, e.g. an AWSLogs/ S3 copy), or - for stdin (repeatable).",
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
@click.option("--threads", type=click.IntRange(1, 256), help="DuckDB threads (default: every core).")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary (errors are still printed).")
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
) -> None:
    """Run Sigma RULES (files or folders) over CloudTrail log files on an embedded DuckDB."""
    from sigma_lambda_layer.cli._common import print_error, write_atomic
    from sigma_lambda_layer.errors import UsageError
    from sigma_lambda_layer.hunt import HitWriter, hunt
    from sigma_lambda_layer.hunt.report import REPORT_HITS_PER_RULE

    progress = _progress(not quiet and sys.stderr.isatty())
    try:
        with HitWriter(output) as writer:
            result = hunt(
                list(rules),
                list(logs),
                since=since,
                until=until,
                threads=threads,
                progress=progress,  # type: ignore[arg-type]
                on_hit=writer.write,
                # Records stay on disk (--output); the report lists the first hits of each rule.
                keep_records=REPORT_HITS_PER_RULE if report is not None else 0,
            )
    except UsageError as exc:
        print_error(f"error: {exc}")
        ctx.exit(EXIT_USAGE)
    except OSError as exc:
        print_error(f"error: cannot write {output}: {exc.strerror or exc}")
        ctx.exit(EXIT_ERRORS)
    if report is not None:
        write_atomic(report, result.html_report())
    for line in result.summary_lines():
        if line.startswith("error: "):
            print_error(line)
        elif not quiet:
            click.echo(line, err=True)
    if not result.ok:
        ctx.exit(EXIT_ERRORS)
    ctx.exit(EXIT_HITS if fail_on_hit and result.hits else EXIT_OK)
