"""What every command shares: exit codes, ``--option`` parsing, atomic writes, error printing.

Only click and the standard library are imported here, so that ``--help`` and ``--version`` stay instant.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

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


def parse_options(values: Sequence[str]) -> dict[str, Any]:
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


def write_atomic(path: Path, text: str) -> None:
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


def print_error(message: str) -> None:
    click.secho(message, fg="red", err=True) if sys.stderr.isatty() else click.echo(message, err=True)
