"""``sigma-lambda test --target``: rule tests run on each target's compiled query and reference engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sigma_lambda_layer.cli import main
from sigma_lambda_layer.errors import UsageError
from sigma_lambda_layer.registry import TARGETS
from sigma_lambda_layer.testing import run_rule_tests

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
CORPUS = REPO / ".." / "shared" / "corpus" / "cloudtrail"
#: The targets with a shipped reference engine (the registry's), in the order the command lists them.
_ENGINE_TARGETS = tuple(sorted(t.id for t in TARGETS.values() if t.engine_ref is not None))

RULE = """title: Layer attached
id: 5b3f4a39-3a6f-4b38-9d0e-2f7f5f3c6c11
status: test
logsource:
    product: aws
    service: cloudtrail
detection:
    sel:
        eventSource: lambda.amazonaws.com
        eventName|startswith: UpdateFunctionConfiguration
    condition: sel
level: high
"""

LOOKAROUND_RULE = RULE.replace(
    "eventName|startswith: UpdateFunctionConfiguration", "eventName|re: 'Update(?!Alias)'"
)

TESTS = """entries:
  - id: attach
    expect: {expect}
    reason: the layer update
    record:
      eventSource: lambda.amazonaws.com
      eventName: UpdateFunctionConfiguration20150331v2
  - id: other-service
    expect: no_match
    reason: not lambda
    record:
      eventSource: s3.amazonaws.com
      eventName: UpdateFunctionConfiguration20150331v2
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_rule(tmp_path: Path, rule: str, expect: str = "match") -> Path:
    path = tmp_path / "layer.yml"
    path.write_text(rule, encoding="utf-8")
    (tmp_path / "layer.tests.yml").write_text(TESTS.format(expect=expect), encoding="utf-8")
    return path


def test_targets_own_rules_pass_on_splunk_and_cloudwatch() -> None:
    code, out, _ = invoke("test", str(RULES), "--target", "splunk", "--target", "cloudwatch")
    assert code == 0, out
    assert out.count("  splunk: PASS (") == 2
    assert out.count("  cloudwatch: PASS (") == 2


def test_targets_own_rules_pass_on_corpus_records() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    reports = run_rule_tests(sorted(RULES.glob("*.yml")), corpus=CORPUS, targets=("all",))
    tested = [r for r in reports if r.tests_path is not None]
    assert len(tested) == 2
    for report in tested:
        assert report.passed, report.rule_path
        assert report.targets == _ENGINE_TARGETS
        read = [o for o in report.outcomes if o.case.source.startswith(str(CORPUS.resolve()))]
        assert read and all(o.status == "pass" for o in read), "the corpus entries must have been read"
        for outcome in report.outcomes:
            assert {t: o.status for t, o in outcome.targets.items()} == dict.fromkeys(report.targets, "pass")


def test_targets_wrong_label_fails_on_each_target(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, RULE, expect="no_match")
    code, out, _ = invoke("test", str(rule), "--target", "splunk", "--target", "cloudwatch")
    assert code == 1
    assert "  splunk: FAIL (1 fail, 1 pass)" in out
    assert "  cloudwatch: FAIL (1 fail, 1 pass)" in out
    assert "    fail: attach: expected no_match, got match: the layer update" in out


def test_targets_correct_label_passes(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, RULE)
    [report] = run_rule_tests([rule], targets=("splunk", "cloudwatch"))
    assert report.passed
    assert [
        (o.case.id, o.targets["splunk"].actual, o.targets["cloudwatch"].actual) for o in report.outcomes
    ] == [
        ("attach", "match", "match"),
        ("other-service", "no_match", "no_match"),
    ]


def test_targets_unsupported_construct_is_reported_not_failed(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, LOOKAROUND_RULE)
    code, out, _ = invoke("test", str(rule), "--target", "all")
    assert code == 0, out
    assert "  cloudwatch: unsupported on cloudwatch: " in out
    assert "lookaround" in out
    assert "  splunk: PASS (2 pass)" in out
    [report] = run_rule_tests([rule], targets=("cloudwatch",))
    assert report.target_status("cloudwatch") == "unsupported"
    assert all(not o.targets for o in report.outcomes)


def test_targets_expected_failure_is_respected(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, RULE, expect="no_match")
    tests = tmp_path / "layer.tests.yml"
    tests.write_text(
        tests.read_text(encoding="utf-8").replace(
            "    reason: the layer update\n", "    reason: x\n    expected_failure: true\n"
        ),
        encoding="utf-8",
    )
    [report] = run_rule_tests([rule], targets=("splunk", "cloudwatch"))
    assert report.passed
    assert [o.targets["splunk"].status for o in report.outcomes] == ["xfail", "pass"]
    assert [o.targets["cloudwatch"].status for o in report.outcomes] == ["xfail", "pass"]


def test_targets_without_engine_are_a_usage_error(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, RULE)
    code, _, err = invoke("test", str(rule), "--target", "lucene")
    assert code == 2
    accepted = ", ".join(_ENGINE_TARGETS)
    assert f"no reference engine for target 'lucene'; --target accepts {accepted} or all" in err
    with pytest.raises(UsageError, match="'esql'"):
        run_rule_tests([rule], targets=("esql",))


def test_targets_json_has_per_target_outcomes(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, LOOKAROUND_RULE, expect="no_match")
    code, out, _ = invoke("test", str(rule), "--target", "splunk", "--target", "cloudwatch", "--json")
    assert code == 1
    [report] = json.loads(out)
    assert report["targets"]["splunk"] == {"status": "fail", "unsupported": None}
    assert report["targets"]["cloudwatch"]["status"] == "unsupported"
    assert "lookaround" in report["targets"]["cloudwatch"]["unsupported"]
    assert report["outcomes"][0]["targets"] == {
        "splunk": {
            "actual": "match",
            "status": "fail",
            "message": "expected no_match, got match: the layer update",
        }
    }


def test_targets_json_without_targets_is_unchanged(tmp_path: Path) -> None:
    rule = write_rule(tmp_path, RULE)
    code, out, _ = invoke("test", str(rule), "--json")
    assert code == 0
    [report] = json.loads(out)
    assert "targets" not in report
    assert "targets" not in report["outcomes"][0]
