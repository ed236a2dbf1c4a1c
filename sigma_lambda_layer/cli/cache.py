"""``sigma-lambda cache``: the conversion cache's folder (``cache path``) and its removal (``cache clear``)."""

from __future__ import annotations

from pathlib import Path

import click

from sigma_lambda_layer.cli._common import EXIT_OK, EXIT_RULE_ERRORS, print_error

_CACHE_DIR = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),  # not checked here: a cache that cannot be used is a warning, not exit 2
    envvar="SIGMA_LAMBDA_CACHE_DIR",
    help="Cache folder [env SIGMA_LAMBDA_CACHE_DIR; default ~/.cache/sigma-lambda].",
)


@click.group("cache")
def cache_group() -> None:
    """The content-hash cache of 'convert' (see docs/cli.md)."""


def _folder(cache_dir: Path | None) -> Path | None:
    from sigma_lambda_layer.cache import default_folder

    return cache_dir if cache_dir is not None else default_folder()


@cache_group.command("path")
@_CACHE_DIR
def cache_path(cache_dir: Path | None) -> None:
    """Print the cache folder 'convert' uses."""
    folder = _folder(cache_dir)
    click.echo(folder if folder is not None else "(none: no home folder)")


@cache_group.command("clear")
@_CACHE_DIR
@click.pass_context
def cache_clear(ctx: click.Context, cache_dir: Path | None) -> None:
    """Remove every cache entry (only the cache's own layout; other files in the folder stay)."""
    from sigma_lambda_layer.cache import clear

    folder = _folder(cache_dir)
    if folder is None:
        click.echo("no cache folder (no home folder)", err=True)
        ctx.exit(EXIT_OK)
    try:
        removed = clear(folder)
    except OSError as exc:
        print_error(f"error: cannot clear {folder}: {exc.strerror or exc}")
        ctx.exit(EXIT_RULE_ERRORS)
    click.echo(f"cleared {folder} ({removed} cache layout(s) removed)", err=True)
