"""The eventbridge target's deployable artifacts: the CloudFormation template passes cfn-lint, the Terraform
JSON names a rule and a target per Sigma rule, each with the rule's pattern and state."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sigma_lambda_layer import convert
from sigma_lambda_layer.backends.eventbridge import ENABLED, ENABLED_ALL_MANAGEMENT
from tests.support.corpus import OUR_RULES

#: the rules in rules/ (their tests and filters are not rules)
RULES = len(convert(str(OUR_RULES), target="eventbridge"))


def _batch(fmt: str) -> dict[str, Any]:
    results = convert(str(OUR_RULES), target="eventbridge", format=fmt)
    assert results.ok and len(results) == RULES
    document: dict[str, Any] = json.loads(results.batch_text("eventbridge"))  # one document for the batch
    return document


def test_eventbridge_cloudformation_template_passes_cfn_lint(tmp_path: Path) -> None:
    lint = shutil.which("cfn-lint") or str(Path(sys.executable).with_name("cfn-lint"))
    if not Path(lint).exists():
        pytest.skip("cfn-lint is not installed (test extra)")
    template = _batch("cloudformation")
    rules = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Events::Rule"}
    assert len(rules) == RULES
    for rule in rules.values():
        assert rule["Properties"]["State"] in (ENABLED, ENABLED_ALL_MANAGEMENT)
        assert rule["Properties"]["EventPattern"]["detail"]
        assert rule["Metadata"]["SigmaId"] in rule["Properties"]["Description"]
    assert "us-east-1" in template["Description"]
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(template))
    done = subprocess.run([lint, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_eventbridge_terraform_rule_and_target_per_rule() -> None:
    config = _batch("terraform")
    rules = config["resource"]["aws_cloudwatch_event_rule"]
    targets = config["resource"]["aws_cloudwatch_event_target"]
    assert set(rules) == set(targets) and len(rules) == RULES
    for key, rule in rules.items():
        assert json.loads(rule["event_pattern"])["detail"]
        assert targets[key]["rule"] == f"${{aws_cloudwatch_event_rule.{key}.name}}"


def _sigma_cli() -> str | None:
    found = Path(sys.executable).with_name("sigma")
    return str(found) if found.exists() else shutil.which("sigma")


@pytest.mark.skipif(_sigma_cli() is None, reason="sigma-cli is not installed")
def test_eventbridge_sigma_cli_plugin() -> None:
    """sigma-cli finds the backend through the plugin shim (registry targets marked sigma_cli_backend)."""
    cli = _sigma_cli()
    assert cli is not None
    targets = subprocess.run([cli, "list", "targets"], capture_output=True, text=True, check=True).stdout
    if "eventbridge" not in targets:
        pytest.skip("the installed sigma-lambda predates the eventbridge target")
    out = subprocess.run(
        [
            cli,
            "convert",
            "-t",
            "eventbridge",
            "-p",
            "aws_cloudtrail_eventbridge",
            str(OUR_RULES / "aws_attached_malicious_lambda_layer.yml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pattern = json.loads(out.strip().splitlines()[-1])
    assert pattern["detail"]["eventName"] == [{"prefix": "UpdateFunctionConfiguration"}]
