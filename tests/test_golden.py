"""The cross-target golden matrix: each case of tests/golden/matrix.yml is one Sigma detection with its
query on every target, side by side (sqlglot's ``validate_all`` reading).

A case that a target cannot express is recorded as ``ERROR: <message>``, so the matrix also pins which
constructs fail and how. Run ``pytest tests/test_golden.py --update-golden`` to rewrite the expected
queries from the current compiler (for every registry target, so a new target gets its column), and review
the diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.registry import TARGETS

MATRIX: Final = Path(__file__).parent / "golden" / "matrix.yml"
HEADER: Final = (
    "# One Sigma detection per case and its query on every target (ERROR: <message> where a target refuses\n"
    "# it). Regenerate the queries with `pytest tests/test_golden.py --update-golden` and review the diff.\n"
)


def load_matrix() -> dict[str, dict[str, Any]]:
    matrix: dict[str, dict[str, Any]] = yaml.safe_load(MATRIX.read_text(encoding="utf-8"))
    return matrix


def dump_matrix(matrix: dict[str, dict[str, Any]]) -> str:
    """The matrix as YAML: cases in order, each query on one line (no folding), Unicode kept."""
    body = yaml.safe_dump(
        matrix, sort_keys=False, allow_unicode=True, width=1_000_000, default_flow_style=False
    )
    return HEADER + body


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


def compile_all(name: str, detection: dict[str, Any]) -> dict[str, str]:
    """The case's query (or ``ERROR: <message>``) per registry target, in registry order."""
    results = convert(rule_yaml(name, detection), target=list(TARGETS), collect_errors=True)
    return {r.target: (r.output if r.error is None else f"ERROR: {r.error.message}") for r in results}


def test_golden_matrix_has_every_target(request: pytest.FixtureRequest) -> None:
    """Every case has a query for exactly the registry's targets (``--update-golden`` rewrites them all)."""
    matrix = load_matrix()
    if request.config.getoption("--update-golden"):
        for name, case in matrix.items():
            case["expected"] = compile_all(name, case["detection"])
        MATRIX.write_text(dump_matrix(matrix), encoding="utf-8")
    stale = [name for name, case in matrix.items() if list(case["expected"]) != list(TARGETS)]
    assert not stale, f"cases without a query per target (run --update-golden): {stale}"


@pytest.mark.parametrize("name", list(load_matrix()))
def test_golden_case(name: str) -> None:
    """One detection, its query on every target."""
    case = load_matrix()[name]
    actual = compile_all(name, case["detection"])
    mismatches = [
        f"{target}:\n  expected {case['expected'].get(target)!r}\n  actual   {query!r}"
        for target, query in actual.items()
        if case["expected"].get(target) != query
    ]
    assert not mismatches, "\n".join(mismatches)
