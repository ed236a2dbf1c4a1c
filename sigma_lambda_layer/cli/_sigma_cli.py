"""sigma-cli's ``sigma convert`` spellings that ``sigma-lambda convert`` does not honour: refused with a hint.

``sigma-lambda convert`` takes sigma-cli 3.1's options with their meaning where it has that meaning (``-t``,
``-p``, ``--without-pipeline``, ``--pipeline-check``, ``-f``, ``-c``, ``--filter``, ``-s``, ``-o`` with ``-``
for stdout, ``-od``, ``-e utf-8``, ``-O``, ``--verbose``). The others would be misread or silently ignored
(sigma-cli's ``-j`` is a JSON indent, ours was a worker count), so each is an option that exits 2 with a
hint saying what to type instead. ``tests/test_cli.py::test_sigma_cli_convert_options`` walks sigma-cli's own
``convert`` command and fails on any spelling in neither list. Only click is imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import click

#: sigma-cli spelling(s) -> (takes a value, hint).
REFUSED: Final[dict[tuple[str, ...], tuple[bool, str]]] = {
    ("-P", "--file-pattern"): (
        True,
        "sigma-lambda reads every *.yml and *.yaml file under a folder (rule tests excepted); "
        "name the files to convert, e.g. with a shell glob",
    ),
    ("-ot", "--output-filename-template"): (
        True,
        "--output-dir writes DIR/<target>/<rule file stem>.<extension> (docs/ci.md's layout); "
        "rename the files afterwards if you need another layout",
    ),
    ("-j", "--json-indent"): (
        True,
        "sigma-cli's -j is the JSON indent: sigma-lambda indents JSON by 2 spaces; "
        "its worker count is --jobs N",
    ),
    ("--enable-template-vars",): (
        False,
        "pipeline template variables are not supported: they can run code from untrusted rules",
    ),
    ("--template-vars-path",): (
        True,
        "pipeline template variables are not supported: they can run code from untrusted rules",
    ),
}

#: The only output encoding: queries and files are written as UTF-8.
ENCODINGS: Final = ("utf-8", "utf8")


def _refuse(hint: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value not in (None, False, ()):
            spelling = "/".join(param.opts)
            raise click.UsageError(f"{spelling} (a sigma-cli option) is not supported: {hint}", ctx=ctx)

    return callback


def _encoding(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and value.lower() not in ENCODINGS:
        raise click.UsageError(
            f"-e/--encoding {value!r} is not supported: sigma-lambda writes UTF-8 (-e utf-8 is accepted)",
            ctx=ctx,
        )


def sigma_cli_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the refused sigma-cli spellings (hidden from ``--help``; listed in docs/cli.md) and ``-e``."""
    command = click.option(
        "-e",
        "--encoding",
        expose_value=False,
        callback=_encoding,
        help="Output encoding: utf-8 only (sigma-cli's option, accepted for its one value here).",
    )(command)
    for names, (takes_value, hint) in REFUSED.items():
        command = click.option(
            *names, is_flag=not takes_value, expose_value=False, hidden=True, callback=_refuse(hint)
        )(command)
    return command
