"""Findings as a SARIF 2.1.0 log, the format GitHub code scanning shows inline on pull requests.

Follows the OASIS SARIF 2.1.0 specification (errata 01): one ``run`` whose ``tool.driver.rules`` lists each
check
that fired, and one ``result`` per finding with ``ruleId``/``ruleIndex``, ``level`` (error, warning, note),
``message.text`` and a ``physicalLocation`` (artifact URI relative to ``base_dir`` when given, so GitHub can
map it
onto the repository, and a 1-based ``region``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from sigma_lambda_layer.checks.model import Finding, Severity

SARIF_SCHEMA: Final = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_LEVEL: Final = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_INFO_URI: Final = "https://github.com/sigma-lambda/sigma-lambda/blob/main/docs/check.md"


def _uri(path: str | None, base_dir: Path) -> str:
    if path is None:
        return "<input>"
    p = Path(path)
    with contextlib.suppress(ValueError, OSError):  # outside base_dir: keep the path as given
        p = p.resolve().relative_to(base_dir.resolve())
    return p.as_uri() if p.is_absolute() else p.as_posix()


def tool_version() -> str:
    """The installed sigma-lambda version, as SARIF's ``tool.driver.version`` (0.0.0 from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sigma-lambda-layer")
    except PackageNotFoundError:
        return "0.0.0"


def findings_to_sarif(findings: Iterable[Finding], *, base_dir: Path | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log (a JSON-ready dict) of ``findings``, in their given order.

    Artifact URIs are relative to ``base_dir`` (default: the current directory, the repository root in CI)
    so that GitHub code scanning can place them on the repository's files.
    """
    findings = list(findings)
    rule_ids = sorted({f.check for f in findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    worst = {rid: max(f.severity for f in findings if f.check == rid) for rid in rule_ids}
    rules = [
        {
            "id": rid,
            "name": rid,
            "shortDescription": {"text": rid.replace("_", " ")},
            "helpUri": _INFO_URI,
            "defaultConfiguration": {"level": _LEVEL[worst[rid]]},
        }
        for rid in rule_ids
    ]
    results = []
    for f in findings:
        region: dict[str, int] = {}
        if f.line is not None:
            region["startLine"] = f.line
            if f.column is not None:
                region["startColumn"] = f.column
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.path, base_dir or Path.cwd())}}
        if region:
            location["region"] = region
        text = f.message + (f"\nhint: {f.hint}" if f.hint else "")
        result: dict[str, Any] = {
            "ruleId": f.check,
            "ruleIndex": index[f.check],
            "level": _LEVEL[f.severity],
            "message": {"text": text},
            "locations": [{"physicalLocation": location}],
        }
        properties = {k: v for k, v in (("ruleTitle", f.rule_title), ("sigmaRuleId", f.rule_id)) if v}
        if properties:
            result["properties"] = properties
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sigma-lambda",
                        "version": tool_version(),
                        "informationUri": _INFO_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
