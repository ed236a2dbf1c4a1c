"""The ``sigma-lambda`` command line: a thin layer over the public API, one module per command.

Exit codes (documented in docs/cli.md): 0 everything converted, 1 some rule failed (all others were still
converted and written), 2 usage error. Heavy imports happen inside the commands so that ``--help`` and
``--version`` stay instant. The summaries, the ``--report`` document and the ``test`` JSON are methods of the
API's result objects (:mod:`sigma_lambda_layer.results`, :mod:`sigma_lambda_layer.testing`), so a notebook
gets the same.
"""

from __future__ import annotations

import click

from sigma_lambda_layer._version import __version__
from sigma_lambda_layer.cli import check, convert, docs, listing, rule_tests
from sigma_lambda_layer.cli._common import EXIT_OK, EXIT_RULE_ERRORS, EXIT_USAGE

__all__ = ["EXIT_OK", "EXIT_RULE_ERRORS", "EXIT_USAGE", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="sigma-lambda")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Compile Sigma rules for AWS CloudTrail into SIEM queries that mean what the rule means."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# The modules keep their names (``cli.convert`` is the module, ``cli.convert.convert`` its command).
for _command in (convert.convert, listing.list_group, check.check, rule_tests.test_command, docs.docs):
    main.add_command(_command)
