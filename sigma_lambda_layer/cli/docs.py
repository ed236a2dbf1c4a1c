"""``sigma-lambda docs``: a Markdown page per rule and an index."""

from __future__ import annotations

from pathlib import Path

import click

from sigma_lambda_layer.cli._common import EXIT_USAGE, FILTER_OPTION, print_error


@click.command("docs")
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
        print_error(f"error: {exc}")
        ctx.exit(EXIT_USAGE)
    click.echo(f"wrote {len(written) - 1} rule page(s) and {written[-1]}", err=True)
