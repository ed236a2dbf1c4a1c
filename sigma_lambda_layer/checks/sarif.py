"""Findings as a SARIF 2.1.0 log, the format GitHub code scanning shows inline on pull requests.

Follows the OASIS SARIF 2.1.0 specification (errata 01): one ``run`` whose ``tool.driver.rules`` lists each
check that fired (its description, and a fixed ``defaultConfiguration.level``: the check's documented
severity, not the worst one seen in this run), and one ``result`` per finding with ``ruleId``/``ruleIndex``,
``level`` (error, warning, note), ``message.text``, a ``physicalLocation`` (artifact URI relative to
``base_dir``, so GitHub can map it onto the repository, and a 1-based ``region``) and ``partialFingerprints``.

Fingerprints hash the file, the check, the Sigma rule id and the message, not the line: GitHub matches alerts
between runs by them, so an edit elsewhere in the file does not close an alert and open the same one again
(findings that hash alike are told apart by their order of position). GitHub keeps at most 5,000 results
per run, by severity, and rejects over 25,000 (docs.github.com, "SARIF results exceed limits"): the log keeps
the ``max_results`` most severe and says in ``invocations[0].toolExecutionNotifications`` how many it left out.

Written here rather than with a SARIF library: sarif-kit 0.3 (PyPI) builds similar logs but rewrites every
``file:`` URI into a relative path and drops ``columnKind``; sarif-om and sarif-pydantic are not on the
package index this project is built from. sarif-kit's copy of the OASIS schema validates our output in the
tests.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from sigma_lambda_layer.checks.model import Finding, Severity

SARIF_SCHEMA: Final = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_LEVEL: Final = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_INFO_URI: Final = "https://github.com/sigma-lambda/sigma-lambda/blob/main/docs/check.md"
#: GitHub code scanning's displayed results per run (it drops the rest, by severity; rejects > 25,000).
MAX_RESULTS: Final = 5000
#: ``partialFingerprints`` key: bump the version only if the hash changes (that reopens every alert once).
FINGERPRINT_KEY: Final = "sigmaLambda/v1"

#: Our own checks: (documented severity, description), as docs/check.md's table says.
CHECKS: Final[dict[str, tuple[Severity, str]]] = {
    "input": (
        Severity.ERROR,
        "A path that does not exist or cannot be read, or a file that is not a rule's text",
    ),
    "yaml_syntax": (Severity.ERROR, "The file is not valid YAML for the safe loader"),
    "sigma_parse": (Severity.ERROR, "pySigma cannot build a rule from the document"),
    "sigma_condition": (Severity.ERROR, "The condition does not parse or names no selection"),
    "d3fend_tag_unverified": (Severity.INFO, "A d3fend tag: no offline D3FEND data to verify it against"),
    "cloudtrail_event_source": (Severity.ERROR, "An eventSource value that is no AWS service endpoint"),
    "cloudtrail_event_source_pattern": (Severity.ERROR, "An eventSource pattern that matches no endpoint"),
    "cloudtrail_event_name": (Severity.ERROR, "An eventName value that is no operation of its service(s)"),
    "cloudtrail_event_name_pattern": (
        Severity.ERROR,
        "An eventName pattern that matches no operation of its service(s)",
    ),
    "cloudtrail_event_name_unversioned": (
        Severity.WARNING,
        "A Lambda event name that CloudTrail only logs with a version suffix",
    ),
    "cloudtrail_field_name": (Severity.WARNING, "A field that is not in the CloudTrail record schema"),
    "cloudtrail_object_field": (Severity.WARNING, "A string value on a field that holds a JSON object"),
    "cloudtrail_request_parameter": (
        Severity.WARNING,
        "A requestParameters key that none of the pinned operations has",
    ),
    "cloudtrail_response_element": (
        Severity.WARNING,
        "A responseElements key that none of the pinned operations returns",
    ),
}


def _describe(check: str) -> tuple[str, str]:
    """A check's fixed default level and its description: ours from :data:`CHECKS`, a pySigma or SigmaHQ
    validator's from its class docstring (``warning``: validators declare no severity before they run)."""
    if check in CHECKS:
        severity, text = CHECKS[check]
        return _LEVEL[severity], text
    from sigma_lambda_layer.checks.validators import available

    doc = (getattr(available().get(check), "__doc__", None) or "").strip()
    first = doc.split("\n\n")[0].replace("\n", " ").strip() if doc else ""
    return "warning", first or f"pySigma validator {check}"


def _fingerprints(findings: list[Finding], uris: list[str]) -> list[str]:
    """One stable fingerprint per finding (see the module docstring): the hash of what does not move when
    unrelated lines do, and a suffix that tells findings with the same hash apart by their position order."""
    bases = []
    for f, uri in zip(findings, uris, strict=True):
        h = hashlib.sha256()
        for part in (uri, f.check, f.rule_id or "", f.message):
            h.update(part.encode("utf-8") + b"\0")
        bases.append(h.hexdigest()[:32])
    order = sorted(
        range(len(findings)), key=lambda i: (bases[i], findings[i].line or 0, findings[i].column or 0)
    )
    seen: dict[str, int] = {}
    result = [""] * len(findings)
    for i in order:
        result[i] = f"{bases[i]}:{seen.get(bases[i], 0)}"
        seen[bases[i]] = seen.get(bases[i], 0) + 1
    return result


def _uri(path: str | None, base_dir: Path) -> str:
    if path is None:
        return quote("<input>")
    p = Path(path)
    with contextlib.suppress(ValueError, OSError):  # outside base_dir: keep the path as given
        p = p.resolve().relative_to(base_dir.resolve())
    # A relative reference is percent-encoded like as_uri() does for absolute ones (RFC 3986: a space, '#',
    # '?' or '%' in a file name would otherwise change the reference).
    return p.as_uri() if p.is_absolute() else quote(p.as_posix(), safe="/")


def tool_version() -> str:
    """The installed sigma-lambda version, as SARIF's ``tool.driver.version`` (0.0.0 from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sigma-lambda-layer")
    except PackageNotFoundError:
        return "0.0.0"


def findings_to_sarif(
    findings: Iterable[Finding], *, base_dir: Path | None = None, max_results: int = MAX_RESULTS
) -> dict[str, Any]:
    """A SARIF 2.1.0 log (a JSON-ready dict) of ``findings``, in their given order (the ``max_results`` most
    severe of them when there are more, with a notification saying how many were left out).

    Artifact URIs are relative to ``base_dir`` (default: the current directory, the repository root in CI)
    so that GitHub code scanning can place them on the repository's files.
    """
    findings = list(findings)
    uris = [_uri(f.path, base_dir or Path.cwd()) for f in findings]
    fingerprints = _fingerprints(findings, uris)
    kept = sorted(range(len(findings)), key=lambda i: (-findings[i].severity.rank, i))[:max_results]
    kept.sort()
    rule_ids = sorted({findings[i].check for i in kept})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    rules = []
    for rid in rule_ids:
        level, description = _describe(rid)
        rules.append(
            {
                "id": rid,
                "name": rid,
                "shortDescription": {"text": description},
                "helpUri": _INFO_URI,
                "defaultConfiguration": {"level": level},
            }
        )
    results = [_result(findings[i], uris[i], fingerprints[i], index) for i in kept]
    notifications = []
    if len(kept) < len(findings):
        notifications.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{len(findings) - len(kept)} of {len(findings)} findings left out: the log keeps "
                    f"the {max_results} most severe (GitHub code scanning shows at most 5,000 per run)"
                },
            }
        )
    invocation = {"executionSuccessful": True, "toolExecutionNotifications": notifications}
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
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _result(f: Finding, uri: str, fingerprint: str, index: dict[str, int]) -> dict[str, Any]:
    region: dict[str, int] = {}
    if f.line is not None:
        region["startLine"] = f.line
        if f.column is not None:
            region["startColumn"] = f.column
    location: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if region:
        location["region"] = region
    text = f.message + (f"\nhint: {f.hint}" if f.hint else "")
    result: dict[str, Any] = {
        "ruleId": f.check,
        "ruleIndex": index[f.check],
        "level": _LEVEL[f.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    }
    properties = {k: v for k, v in (("ruleTitle", f.rule_title), ("sigmaRuleId", f.rule_id)) if v}
    if properties:
        result["properties"] = properties
    return result
