"""``sigma-lambda test``: rules' sample-event tests with the reference evaluator and on target engines."""

from __future__ import annotations

from pathlib import Path

import click

from sigma_lambda_layer.cli._common import (
    EXIT_OK,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    RULES_ONLY_OPTION,
    print_error,
    rule_inputs,
)


@click.command("test")
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
@RULES_ONLY_OPTION
@click.pass_context
def test_command(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    corpus: Path | None,
    require_tests: bool,
    targets: tuple[str, ...],
    as_json: bool,
    rules_only: bool,
) -> None:
    """Run rules' sample-event tests (<rule>.tests.yml or <rule>.tests/) with the reference evaluator,
    and with --target on that target's compiled query and reference engine. A tests file (or a record in a
    tests folder) named as an input stands for its rule, so pre-commit can pass the files that changed."""
    from sigma_lambda_layer.errors import UsageError
    from sigma_lambda_layer.loading import expand_inputs
    from sigma_lambda_layer.testing import resolve_targets, rule_of, run_rule_tests

    try:
        wanted = resolve_targets(targets)
    except UsageError as exc:
        print_error(f"error: {exc}")
        ctx.exit(EXIT_USAGE)
    named = dict.fromkeys(rule_of(p) or p for p in inputs)  # a tests file stands for its rule, once
    rule_paths = [p for p in expand_inputs(rule_inputs(list(named), rules_only)) if isinstance(p, Path)]
    reports = run_rule_tests(rule_paths, corpus=corpus, require_tests=require_tests, targets=wanted)
    if as_json:
        click.echo(reports.to_json())
    else:
        for report in reports:
            for line in report.lines():
                click.echo(line)
    click.echo(reports.summary_line(), err=True)
    ctx.exit(EXIT_RULE_ERRORS if reports.failed else EXIT_OK)
