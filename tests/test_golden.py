"""The cross-target golden table: each case of tests/golden/cases.yml compiled for every target.

A case that a target cannot express is recorded as ``ERROR: <message>``, so the table also pins which
constructs fail and how. Run ``pytest tests/test_golden.py --update-golden`` to rewrite expected.json
after a deliberate change, and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.registry import TARGETS

GOLDEN = Path(__file__).parent / "golden"
CASES: dict[str, Any] = yaml.safe_load((GOLDEN / "cases.yml").read_text())
EXPECTED_PATH = GOLDEN / "expected.json"


def rule_yaml(name: str, detection: dict[str, Any]) -> str:
    rule = {
        "title": f"golden {name}",
        "id": "00000000-0000-4000-8000-000000000000",
        "status": "test",
        "logsource": {"product": "aws", "service": "cloudtrail"},
        "detection": detection,
        "level": "medium",
    }
    return yaml.safe_dump(rule, sort_keys=False)


def compile_all(name: str) -> dict[str, str]:
    results = convert(rule_yaml(name, CASES[name]), target=list(TARGETS), collect_errors=True)
    return {r.target: (r.output if r.error is None else f"ERROR: {r.error.message}") for r in results}


def _table() -> dict[str, dict[str, str]]:
    return {name: compile_all(name) for name in CASES}


def test_golden_table_covers_every_case(request: pytest.FixtureRequest) -> None:
    actual = _table()
    if request.config.getoption("--update-golden"):
        EXPECTED_PATH.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(EXPECTED_PATH.read_text())
    mismatches = [
        f"{case} / {target}:\n  expected {expected.get(case, {}).get(target)!r}"
        f"\n  actual   {actual[case][target]!r}"
        for case in actual
        for target in actual[case]
        if expected.get(case, {}).get(target) != actual[case][target]
    ]
    assert not mismatches, "\n".join(mismatches)
    assert set(expected) == set(actual), "expected.json has stale cases"
