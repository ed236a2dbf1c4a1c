"""The CLI contract: outputs, --json shape, exit codes, no tracebacks for user errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sigma_lambda_layer.cli import main

REPO = Path(__file__).resolve().parents[1]
FOUNDING = str(REPO / "rules" / "aws_attached_malicious_lambda_layer.yml")
SPLUNK_FOUNDING = (
    'sourcetype=aws:cloudtrail eventSource="lambda.amazonaws.com" eventName="UpdateFunctionConfiguration*"'
)
BAD_MODIFIER = """\
title: Bad modifier
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName|startswit: Update
    condition: selection
"""


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_cli_convert_founding_rule_splunk() -> None:
    code, out, err = run("convert", FOUNDING, "--target", "splunk")
    assert (code, out.strip(), err) == (0, SPLUNK_FOUNDING, "")


def test_cli_convert_json_contract() -> None:
    code, out, _ = run("convert", FOUNDING, "-t", "splunk", "--json")
    assert code == 0
    [item] = json.loads(out)
    assert item == {
        "path": FOUNDING,
        "id": "97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d",
        "title": "AWS Attached Malicious Lambda Layer",
        "target": "splunk",
        "format": "default",
        "output": SPLUNK_FOUNDING,
    }


def test_cli_convert_bad_rule_keeps_batch_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(BAD_MODIFIER)
    (tmp_path / "good.yml").write_text(Path(FOUNDING).read_text())
    code, out, err = run("convert", str(tmp_path), "-t", "splunk", "--json")
    assert code == 1
    items = json.loads(out)
    assert [sorted(i) for i in items] == [
        ["error", "format", "id", "path", "target", "title"],
        ["format", "id", "output", "path", "target", "title"],
    ]
    error = items[0]["error"]
    assert error["type"] == "RuleLoadError"
    assert "startswit" in error["message"]
    assert (error["line"], error["column"]) == (7, 9)
    assert items[1]["output"] == SPLUNK_FOUNDING
    assert f"{tmp_path / 'bad.yml'}:7:9:" in err
    assert "Traceback" not in err


def test_cli_convert_stdin() -> None:
    code, out, _ = run("convert", "-", "-t", "splunk", stdin=Path(FOUNDING).read_text())
    assert (code, out.strip()) == (0, SPLUNK_FOUNDING)


def test_cli_unknown_target_is_usage_error() -> None:
    code, _, err = run("convert", FOUNDING, "-t", "splnuk")
    assert code == 2
    assert "did you mean 'splunk'" in err


def test_cli_unknown_format_is_usage_error() -> None:
    code, _, err = run("convert", FOUNDING, "-t", "splunk", "-f", "nope")
    assert code == 2
    assert "savedsearches" in err


def test_cli_bad_option_syntax() -> None:
    code, _, err = run("convert", FOUNDING, "-t", "splunk", "--option", "novalue")
    assert code == 2
    assert "key=value" in err


def test_cli_index_option() -> None:
    code, out, _ = run("convert", FOUNDING, "-t", "splunk", "--option", "index=aws")
    assert code == 0
    assert out.startswith("index=aws ") or out.startswith('index="aws" ')


def test_cli_output_dir_layout(tmp_path: Path) -> None:
    code, _, _ = run("convert", str(REPO / "rules"), "-t", "splunk", "--output-dir", str(tmp_path / "out"))
    assert code == 0
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*"))
    assert "splunk/aws_attached_malicious_lambda_layer.spl" in written
    text = (tmp_path / "out" / "splunk" / "aws_attached_malicious_lambda_layer.spl").read_text()
    assert text == SPLUNK_FOUNDING + "\n"


def test_cli_output_file_savedsearches(tmp_path: Path) -> None:
    target = tmp_path / "savedsearches.conf"
    code, _, _ = run("convert", FOUNDING, "-t", "splunk", "-f", "savedsearches", "-o", str(target))
    assert code == 0
    text = target.read_text()
    assert "[AWS Attached Malicious Lambda Layer]" in text
    assert SPLUNK_FOUNDING in text


def test_cli_list_commands() -> None:
    code, out, _ = run("list", "targets")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "splunk",
        "lucene",
        "eql",
        "esql",
        "cloudwatch",
        "duckdb",
        "athena",
        "securitylake",
        "eventbridge",
    ]
    code, out, _ = run("list", "pipelines")
    assert code == 0 and "aws_cloudtrail_splunk" in out
    code, out, _ = run("list", "formats", "splunk")
    assert code == 0 and "savedsearches" in out


def test_cli_version_in_subprocess_does_not_import_pysigma() -> None:
    code = (
        "import sys; from sigma_lambda_layer.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print('sigma.conversion' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["sigma-lambda, version 0.1.0", "False"]


def test_cli_real_subprocess_founding_rule() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sigma_lambda_layer", "convert", FOUNDING, "--target", "splunk"],
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, SPLUNK_FOUNDING, "")


def test_cli_test_command_our_rules_with_corpus() -> None:
    from tests.support.corpus import CLOUDTRAIL

    args = ["test", str(REPO / "rules")]
    if CLOUDTRAIL.is_dir():
        args += ["--corpus", str(CLOUDTRAIL)]
    code, out, err = run(*args)
    assert code == 0, out
    assert "PASS" in out and "FAIL" not in out
    assert err.strip().endswith("2 passed, 0 failed")
    if CLOUDTRAIL.is_dir():
        assert "skip" not in out  # the real Stratus record resolved


def test_cli_test_command_reports_a_wrong_label(tmp_path: Path) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text(Path(FOUNDING).read_text())
    (tmp_path / "rule.tests.yml").write_text(
        "entries:\n"
        "- id: wrong\n  expect: no_match\n  reason: deliberately wrong label\n"
        "  record: {eventSource: lambda.amazonaws.com, eventName: UpdateFunctionConfiguration20150331v2}\n"
    )
    code, out, _ = run("test", str(tmp_path))
    assert code == 1
    assert "fail: wrong: expected no_match, got match" in out


def test_cli_check_founding_rule_has_no_cloudtrail_findings() -> None:
    code, out, _ = run("check", FOUNDING, "--json")
    assert code == 0
    assert [f["check"] for f in json.loads(out)] == ["attacktag"]


def test_cli_check_bad_config_is_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "check.yml"
    config.write_text("fail_on: catastrophic\n")
    code, _, err = run("check", FOUNDING, "--config", str(config))
    assert code == 2
    assert "invalid check configuration" in err


def test_cli_convert_with_exemption_filter() -> None:
    code, out, _ = run(
        "convert", FOUNDING, "-t", "splunk", "--filter", str(REPO / "rules" / "filters"), "--no-cache"
    )
    assert code == 0
    assert out.startswith(SPLUNK_FOUNDING + " NOT (")
    assert "lambda-deployer" in out


def test_cli_report_json(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, _, _ = run("convert", str(REPO / "rules"), "-t", "all", "--report", str(report), "-q")
    data = json.loads(report.read_text())
    from sigma_lambda_layer.registry import TARGETS

    assert data["summary"]["rules"] == 2 and data["summary"]["targets"] == len(TARGETS)
    statuses = {(r["target"], r["status"]) for r in data["results"]}
    assert ("splunk", "ok") in statuses
    assert code == (1 if any(s != "ok" for _, s in statuses) else 0)


def test_cli_bundled_rules_are_ours() -> None:
    from sigma_lambda_layer import bundled_rules

    names = sorted(p.name for p in bundled_rules().glob("*.yml") if not p.name.endswith(".tests.yml"))
    assert names == ["aws_attached_malicious_lambda_layer.yml", "aws_lambda_layer_attached_to_function.yml"]
    assert (bundled_rules() / "filters").is_dir()


def test_cli_unknown_option_is_usage_error() -> None:
    code, _, err = run("convert", FOUNDING, "-t", "all", "--option", "log_grop=x", "--no-cache")
    assert code == 2
    assert err.startswith("error: unknown option 'log_grop'")
    assert "log_group" in err


def test_cli_bad_option_value_is_usage_error_not_traceback() -> None:
    code, _, err = run("convert", FOUNDING, "-t", "cloudwatch", "--option", "limit=abc", "--no-cache")
    assert code == 2
    assert "invalid Logs Insights option limit='abc'" in err and "hint: 1 to 10000" in err
    assert "Traceback" not in err


def test_cli_option_for_one_of_several_targets() -> None:
    code, out, _ = run("convert", FOUNDING, "-t", "splunk", "-t", "cloudwatch", "-O", "log_group=CT", "-q")
    assert code == 0
    assert out.startswith("# splunk\n" + SPLUNK_FOUNDING)


def test_declared_options_are_read_by_their_backends() -> None:
    """Each option a backend declares is also named where it is read (its backend's or pipeline's source)."""
    import inspect
    import sys

    from sigma_lambda_layer.registry import TARGETS, get_pipeline

    for target in TARGETS.values():
        cls = target.backend_class()
        source = inspect.getsource(sys.modules[cls.__module__])
        source += inspect.getsource(sys.modules[get_pipeline(target.pipeline_id).build.__module__])
        for module in (
            "sigma_lambda_layer.backends.eql",
            "sigma_lambda_layer.backends._elastic",
            f"sigma_lambda_layer.pipelines.{target.pipeline_id.split('_')[-1]}",
            # the artifacts a backend's formats write read their options there (savedsearches, Kibana rules)
            "sigma_lambda_layer.artifacts.splunk",
            "sigma_lambda_layer.artifacts.kibana",
        ):
            __import__(module)
            source += inspect.getsource(sys.modules[module])
        # Once in the declaration, at least once where it is read (``backend_<name>`` in pipeline vars).
        missing = [o.name for o in target.options if len(re.findall(rf'["_]{re.escape(o.name)}', source)) < 2]
        assert not missing, f"{target.id}: {missing}"


def test_cli_list_options_and_formats_read_the_declarations() -> None:
    from sigma_lambda_layer.registry import TARGETS

    code, out, _ = run("list", "options")
    assert code == 0
    rows = [line.split()[:2] for line in out.splitlines()]
    assert rows == [[t.id, o.shown] for t in TARGETS.values() for o in t.options]
    code, out, _ = run("list", "formats")
    assert code == 0
    rows = [line.split()[:4] for line in out.splitlines()]
    expected = []
    for t in TARGETS.values():
        for name in t.formats():
            file = t.format_file(name)
            expected.append([t.id, name, file.kind, "." + file.extension])
    assert rows == expected


def test_cli_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(
        "convert", FOUNDING, "-t", "splunk", "-o", str(blocker / "sub" / "out.spl"), "--no-cache"
    )
    assert code == 1
    assert "cannot write" in err and "Traceback" not in err


def test_cli_test_and_docs_refuse_missing_inputs(tmp_path: Path) -> None:
    for args in (["test", "nothere.yml"], ["docs", "nothere.yml", "-o", str(tmp_path)]):
        code, _, err = run(*args)
        assert code == 2
        assert "does not exist" in err
