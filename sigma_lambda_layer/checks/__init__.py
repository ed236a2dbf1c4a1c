"""``sigma-lambda check``: lint Sigma rules offline, with CloudTrail-aware checks, and report located
findings.

Three families of checks run on every rule file:

* pySigma's built-in validators and the SigmaHQ conventions validators (pySigma-validators-sigmaHQ), with
  their reference data (MITRE ATT&CK, SigmaHQ taxonomy) loaded from files we ship, never downloaded;
* parse errors (YAML, Sigma structure, condition) as ``yaml_syntax`` / ``sigma_parse`` / ``sigma_condition``;
* for ``logsource: {product: aws, service: cloudtrail}`` rules, CloudTrail checks against botocore's service
  models: real ``eventSource`` endpoints, real ``eventName`` operations (Lambda's versioned names understood),
  patterns that can match something, field names of the CloudTrail record schema, and
  ``requestParameters`` / ``responseElements`` keys that the pinned operations have (botocore's shapes).

``check_paths`` is what the CLI and a notebook call; ``findings_to_sarif`` renders the result for code
scanning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from sigma_lambda_layer.checks.model import CheckConfig, Finding, Severity
from sigma_lambda_layer.checks.sarif import findings_to_sarif, tool_version

__all__ = [
    "CheckConfig",
    "Finding",
    "Severity",
    "check_paths",
    "findings_to_sarif",
    "iter_rule_files",
    "tool_version",
]

RULE_SUFFIXES = (".yml", ".yaml")


def iter_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Rule files under ``paths``, walked like every other command (``loading.expand_inputs``: sorted, symlink
    loops skipped, ``*.tests.yml`` rule-test files and ``*.tests/`` folders left out)."""
    from sigma_lambda_layer.loading import expand_inputs

    for item in expand_inputs(list(paths)):
        if isinstance(item, Path):
            yield item


def check_paths(paths: list[Path], config: CheckConfig | None = None) -> list[Finding]:
    """Check every rule file under ``paths`` and return the findings sorted by path, line and column.

    Excluded checks do not run; findings suppressed by ``config.suppress`` or by the rule's own
    ``# sigma-lambda: ignore[...]`` comments are dropped. A path that does not exist or cannot be read is an
    ``input`` error finding rather than an exception, so one bad argument does not hide the other findings.
    """
    from sigma_lambda_layer.checks.runner import run
    from sigma_lambda_layer.loading import expand_inputs

    files: list[Path] = []
    problems: list[Finding] = []
    for item in expand_inputs(list(paths)):
        if isinstance(item, Path):
            files.append(item)
        elif not isinstance(item, str):  # a RuleLoadError: missing file, unreadable folder
            problems.append(Finding("input", Severity.ERROR, item.message, item.hint, item.location.path))
    return run(files, config or CheckConfig(), problems)
