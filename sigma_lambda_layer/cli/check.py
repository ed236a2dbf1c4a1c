"""``sigma-lambda check``: lint rules offline (pySigma and SigmaHQ validators, CloudTrail-aware checks)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sigma_lambda_layer.cli._common import (
    EXIT_OK,
    EXIT_RULE_ERRORS,
    EXIT_USAGE,
    RULES_ONLY_OPTION,
    print_error,
    rule_inputs,
    write_atomic,
)

if TYPE_CHECKING:
    from sigma_lambda_layer.checks import CheckConfig


@click.command()
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
@RULES_ONLY_OPTION
@click.pass_context
def check(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    excluded: tuple[str, ...],
    config_file: Path | None,
    fail_on: str | None,
    as_json: bool,
    sarif: Path | None,
    rules_only: bool,
) -> None:
    """Lint rules offline: pySigma and SigmaHQ validators plus CloudTrail-aware checks."""
    from sigma_lambda_layer.checks import check_paths, findings_to_sarif
    from sigma_lambda_layer.checks.model import summary_line

    config = _config(ctx, config_file, excluded, fail_on)
    findings = check_paths(rule_inputs(inputs, rules_only), config)
    if sarif is not None:
        write_atomic(sarif, json.dumps(findings_to_sarif(findings), indent=2))
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for f in findings:
            click.echo(f.github_annotation())
    click.echo(summary_line(findings), err=True)
    ctx.exit(EXIT_RULE_ERRORS if config.failed(findings) else EXIT_OK)


def _config(
    ctx: click.Context, config_file: Path | None, excluded: tuple[str, ...], fail_on: str | None
) -> CheckConfig:
    """The check configuration: the ``--config`` file, then ``--exclude`` and ``--fail-on`` over it; a file
    that cannot be read or is not a valid configuration exits 2."""
    import dataclasses

    import yaml

    from sigma_lambda_layer.checks import CheckConfig, Severity

    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            print_error(f"error: {config_file}: cannot read check configuration: {exc}")
            ctx.exit(EXIT_USAGE)
    try:
        config = CheckConfig.from_dict(data)
    except (ValueError, TypeError, AttributeError) as exc:
        print_error(f"error: {config_file}: invalid check configuration: {exc}")
        ctx.exit(EXIT_USAGE)
    if excluded:
        config = dataclasses.replace(config, exclude=config.exclude | frozenset(excluded))
    if fail_on is not None:
        config = dataclasses.replace(config, fail_on=None if fail_on == "never" else Severity.parse(fail_on))
    return config
