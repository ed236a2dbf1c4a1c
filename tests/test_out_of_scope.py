"""A mixed rules tree (SigmaHQ's): rules for other log sources are ``out_of_scope``, apart from CloudTrail
refusals, and do not make ``convert``'s exit code 1; a CloudTrail rule a target refuses still does, unless
``--skip-unsupported``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.cli import main
from sigma_lambda_layer.errors import OutOfScopeError, UnsupportedConstructError
from sigma_lambda_layer.registry import TARGETS
from tests.test_results import REFUSED  # a whole object compared with a string

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "rules" / "aws_attached_malicious_lambda_layer.yml"
WINDOWS = """\
title: Windows process
id: 0b9e7c1a-52f4-4c43-8f3e-6d1e2f3a4b5c
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\\\\whoami.exe'
    condition: selection
"""


def _tree(tmp_path: Path, *, refused: bool) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "good.yml").write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "windows.yml").write_text(WINDOWS, encoding="utf-8")
    if refused:
        (folder / "refused.yml").write_text(REFUSED, encoding="utf-8")
    return folder


def test_out_of_scope_rules_do_not_fail_the_run(tmp_path: Path) -> None:
    folder = _tree(tmp_path, refused=False)
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        main, ["convert", str(folder), "-t", "all", "--no-cache", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "1 rule(s) out of scope" in result.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["summary"]["out_of_scope"] == len(TARGETS) and data["summary"]["error"] == 0
    statuses = {(Path(r["path"]).name, r["status"]) for r in data["results"]}
    assert statuses == {("good.yml", "ok"), ("windows.yml", "out_of_scope")}
    assert "out of scope" in result.stderr.splitlines()[-1]  # the summary line counts them apart


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cloudtrail_refusals_still_fail_unless_skipped(tmp_path: Path, jobs: str) -> None:
    folder = _tree(tmp_path, refused=True)
    base = ["convert", str(folder), "-t", "all", "--no-cache", "--jobs", jobs]
    failing = CliRunner().invoke(main, base)
    assert failing.exit_code == 1, failing.output
    assert "refused.yml" in failing.stderr and "windows.yml" not in failing.stderr
    skipped = CliRunner().invoke(main, [*base, "-s"])
    assert skipped.exit_code == 0, skipped.output


def test_out_of_scope_is_its_own_status_on_every_path(tmp_path: Path) -> None:
    """The batch's quick refusal, a pySigma object through the pipeline, a worker and the cache agree."""
    from sigma.rule import SigmaRule

    folder = _tree(tmp_path, refused=True)
    runs = [
        convert(str(folder), target="all"),
        convert(str(folder), target="all", jobs=2),
        convert(str(folder), target="all", cache_dir=tmp_path / "cache"),
        convert(str(folder), target="all", cache_dir=tmp_path / "cache"),  # answered by the cache
    ]
    for results in runs:
        # duckdb runs a whole-object comparison as the evaluator reads it (never true) instead of refusing it
        # (docs/targets/duckdb.md); every other target refuses it.
        whole_object_on_duckdb = [r for r in results if r.target == "duckdb" and r.path and "refused" in r.path]
        assert [r.status for r in whole_object_on_duckdb] == ["ok"]
        by_file = {(Path(r.path or "").name, r.status) for r in results if r not in whole_object_on_duckdb}
        assert by_file == {
            ("good.yml", "ok"),
            ("windows.yml", "out_of_scope"),
            ("refused.yml", "unsupported"),
        }
        assert all(isinstance(r.error, OutOfScopeError) for r in results if r.status == "out_of_scope")
    objects = convert(SigmaRule.from_yaml(WINDOWS), target="all")
    assert {r.status for r in objects} == {"out_of_scope"}
    error = objects[0].error
    assert isinstance(error, UnsupportedConstructError)  # still "not supported" for code that catches that
    assert objects.summary()["out_of_scope"] == len(TARGETS)
