"""``sigma-lambda check``: lint Sigma rules offline, with CloudTrail-aware checks, and report located
findings.

Three families of checks run on every rule file:

* pySigma's built-in validators and the SigmaHQ conventions validators (pySigma-validators-sigmaHQ), with
their
  reference data (MITRE ATT&CK, SigmaHQ taxonomy) loaded from files we ship, never downloaded;
* parse errors (YAML, Sigma structure, condition) as ``yaml_syntax`` / ``sigma_parse`` / ``sigma_condition``;
* for ``logsource: {product: aws, service: cloudtrail}`` rules, CloudTrail checks against botocore's service
  models: real ``eventSource`` endpoints, real ``eventName`` operations (Lambda's versioned names understood),
  patterns that can match something, and field names of the CloudTrail record schema.

``check_paths`` is what the CLI and a notebook call; ``findings_to_sarif`` renders the result for code
scanning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from sigma_lambda_layer.checks.model import CheckConfig, Finding, Severity
from sigma_lambda_layer.checks.sarif import findings_to_sarif

__all__ = ["CheckConfig", "Finding", "Severity", "check_paths", "findings_to_sarif", "iter_rule_files"]

RULE_SUFFIXES = (".yml", ".yaml")


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sigma-lambda-layer")
    except PackageNotFoundError:
        return "0.0.0"


def iter_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, folders walked for ``*.yml``/``*.yaml`` in sorted order (stable output)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        else:
            yield path


def check_paths(paths: list[Path], config: CheckConfig | None = None) -> list[Finding]:
    """Check every rule file under ``paths`` and return the findings sorted by path, line and column.

    Excluded checks do not run; findings suppressed by ``config.suppress`` or by the rule's own
    ``# sigma-lambda: ignore[...]`` comments are dropped. A path that does not exist is reported as an
    ``input`` error finding rather than raised, so one bad argument does not hide the other rules' findings.
    """
    from sigma_lambda_layer.checks.runner import run

    config = config or CheckConfig()
    return run(list(iter_rule_files(paths)), config)
