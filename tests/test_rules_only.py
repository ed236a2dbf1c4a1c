"""``--rules-only`` (the pre-commit hooks): non-rule YAML is skipped, rules are not, and ``test`` given a tests
file or a test record runs its rule."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from sigma_lambda_layer.cli import main
from sigma_lambda_layer.cli._common import is_sigma_document
from sigma_lambda_layer.testing import rule_of

ROOT = Path(__file__).resolve().parent.parent
RULE = ROOT / "rules" / "aws_attached_malicious_lambda_layer.yml"
TESTS = RULE.with_name(RULE.stem + ".tests.yml")


def _repo(tmp_path: Path) -> Path:
    shutil.copy(RULE, tmp_path / RULE.name)
    shutil.copy(TESTS, tmp_path / TESTS.name)
    (tmp_path / ".pre-commit-config.yaml").write_text("repos:\n  - repo: local\n    hooks: []\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: x\n")
    (tmp_path / "missing_detection.yml").write_text("title: x\nlogsource: {product: aws}\n")
    return tmp_path


def test_is_sigma_document(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert is_sigma_document(repo / RULE.name)
    assert is_sigma_document(repo / "missing_detection.yml")  # a broken rule is still linted
    assert not is_sigma_document(repo / ".pre-commit-config.yaml")
    assert not is_sigma_document(repo / "mkdocs.yml")


def test_check_rules_only_skips_other_yaml(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    files = [str(p) for p in sorted(repo.iterdir()) if p.name != TESTS.name]
    plain = json.loads(CliRunner().invoke(main, ["check", "--json", *files]).stdout)
    only = json.loads(CliRunner().invoke(main, ["check", "--json", "--rules-only", *files]).stdout)
    assert {Path(f["path"]).name for f in plain} >= {".pre-commit-config.yaml", "mkdocs.yml"}
    assert {Path(f["path"]).name for f in only} <= {RULE.name, "missing_detection.yml"}
    assert "missing_detection.yml" in {Path(f["path"]).name for f in only if f["severity"] == "error"}
    assert json.loads(CliRunner().invoke(main, ["check", "--json", "--rules-only", str(repo)]).stdout) == only


def test_rule_of_tests_file_and_record(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert rule_of(repo / TESTS.name) == repo / RULE.name
    folder = repo / (RULE.stem + ".tests") / "match"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text("{}")
    assert rule_of(folder / "a.json") == repo / RULE.name
    assert rule_of(repo / RULE.name) is None
    assert rule_of(repo / "orphan.tests.yml") is None


def test_test_command_runs_the_rule_of_a_tests_file(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    by_tests = CliRunner().invoke(main, ["test", "--json", "--rules-only", str(repo / TESTS.name)])
    by_rule = CliRunner().invoke(main, ["test", "--json", str(repo / RULE.name)])
    assert by_tests.exit_code == by_rule.exit_code == 0, by_tests.output
    assert json.loads(by_tests.stdout) == json.loads(by_rule.stdout)
    config = CliRunner().invoke(main, ["test", "--json", "--rules-only", str(repo / "mkdocs.yml")])
    assert config.exit_code == 0 and json.loads(config.stdout) == []
