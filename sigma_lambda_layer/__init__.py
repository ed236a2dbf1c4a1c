"""sigma-lambda: Sigma rules for AWS CloudTrail, compiled for your SIEM.

Convert a rule for one or more targets::

    from sigma_lambda_layer import convert

    results = convert("rules/aws_attached_malicious_lambda_layer.yml", target="splunk")
    print(results[0].output)          # the SPL query
    results = convert("rules/", target=["lucene", "cloudwatch"], collect_errors=True)
    for r in results:
        print(r.path, r.target, r.error or r.output)

``rules`` may be a path, a folder, a YAML string, ``"-"`` for stdin, a pySigma ``SigmaRule`` or
``SigmaCollection``, or a list of these. Targets: ``splunk``, ``lucene``, ``eql``, ``esql``, ``cloudwatch``
(``"all"`` for every one). Each :class:`ConversionResult` carries the rule's path, id, title, the target, the
format and the output (a query string, or a structured object for structured formats). Errors are
:class:`SigmaLambdaError` subclasses (themselves pySigma ``SigmaError``\\ s) that name the file, line and
column; pass ``collect_errors=True`` to get them as results instead of exceptions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigma_lambda_layer._version import __version__
from sigma_lambda_layer.errors import (
    ConversionError,
    Location,
    RuleLoadError,
    SigmaLambdaError,
    UnsupportedConstructError,
    UnsupportedFieldError,
    UsageError,
)

if TYPE_CHECKING:
    from sigma_lambda_layer.api import ConversionResult, ConversionResults, convert

__all__ = [
    "ConversionError",
    "ConversionResult",
    "ConversionResults",
    "Location",
    "RuleLoadError",
    "SigmaLambdaError",
    "UnsupportedConstructError",
    "UnsupportedFieldError",
    "UsageError",
    "__version__",
    "bundled_rules",
    "convert",
]


def bundled_rules() -> Path:
    """The folder of sigma-lambda's own rules (``rules/`` in the repository, shipped inside the wheel)."""
    packaged = Path(__file__).resolve().parent / "rules"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "rules"


def __getattr__(name: str) -> Any:
    # The API pulls in pySigma; load it on first use so that `import sigma_lambda_layer` stays cheap.
    if name in ("convert", "ConversionResult", "ConversionResults"):
        from sigma_lambda_layer import api

        return getattr(api, name)
    raise AttributeError(f"module 'sigma_lambda_layer' has no attribute {name!r}")
