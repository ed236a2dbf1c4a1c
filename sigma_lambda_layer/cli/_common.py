"""What every command shares: exit codes, ``--option`` parsing, atomic writes, error printing.

Only click and the standard library are imported here, so that ``--help`` and ``--version`` stay instant.
"""

from __future__ import annotations

import re
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
    """Write one file through the tool's one writer (:mod:`sigma_lambda_layer.writer`: temporary file and
    rename, never through a link), so a reader never sees half a file.

    A file that cannot be written is a clear error (exit code 1), not a traceback.
    """
    from sigma_lambda_layer.writer import write_file

    try:
        write_file(path, text if text.endswith("\n") or not text else text + "\n")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {describe(exc)}") from None


def describe(error: OSError) -> str:
    """An operating-system error as one short line (the file it names, when not the one already named)."""
    text = error.strerror or str(error)
    return f"{text}: {error.filename}" if error.filename and error.strerror else text


def print_error(message: str) -> None:
    click.secho(message, fg="red", err=True) if sys.stderr.isatty() else click.echo(message, err=True)


#: A top-level key that only a Sigma document has (rule, correlation, filter): how ``--rules-only`` tells a
#: rule from the other YAML files of a repository (``.pre-commit-config.yaml``, workflows, mkdocs.yml).
_SIGMA_KEY = re.compile(r"""^["']?(?:detection|correlation|filter|logsource)["']?[ \t]*:""", re.MULTILINE)

#: ``--rules-only``, shared by ``check`` and ``test`` (the pre-commit hooks pass every YAML file).
RULES_ONLY_OPTION = click.option(
    "--rules-only",
    is_flag=True,
    help="Ignore YAML files without a detection, correlation, filter or logsource key (pre-commit hooks).",
)


def is_sigma_document(path: Path) -> bool:
    """Whether ``path`` looks like a Sigma document: one of its lines starts with a top-level key only a rule,
    correlation or filter has. A file that cannot be read counts as one, so that the command reports it; a
    rule missing all four keys (or written in flow style) is not recognised, which is why the flag is opt-in
    and only the pre-commit hooks use it."""
    try:
        with path.open("rb") as handle:
            text = handle.read(1 << 20).decode("utf-8", errors="replace")
    except OSError:
        return True
    return _SIGMA_KEY.search(text) is not None


def rule_inputs(inputs: Sequence[Path], rules_only: bool) -> list[Path]:
    """The inputs a command reads: as given, or with ``rules_only`` every file named or found under a folder
    that :func:`is_sigma_document` accepts (a path that does not exist is kept, for the command to report)."""
    if not rules_only:
        return list(inputs)
    from sigma_lambda_layer.loading import expand_inputs

    kept: list[Path] = []
    for item in expand_inputs(list(inputs)):
        if isinstance(item, Path):
            if is_sigma_document(item):
                kept.append(item)
        elif not isinstance(item, str) and item.location.path:  # a missing file, an unreadable folder
            kept.append(Path(item.location.path))
    return kept
