"""``sigma-lambda list targets|formats|pipelines``: what the registry holds."""

from __future__ import annotations

import click


@click.group("list")
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
