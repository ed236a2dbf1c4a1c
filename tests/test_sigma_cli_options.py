"""sigma-cli 3.1's ``sigma convert`` spellings in ``sigma-lambda convert``: honoured with sigma-cli's meaning, or
refused with a hint; never misread. The table is checked against sigma-cli's own click command, so a new
sigma-cli option fails here until it is placed in one column."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import click
import pytest
from click.testing import CliRunner

from sigma_lambda_layer.cli import main
from sigma_lambda_layer.cli._sigma_cli import REFUSED
from sigma_lambda_layer.cli.convert import convert as our_convert

sigma_cli = pytest.importorskip("sigma.cli.convert")
sigma_main = pytest.importorskip("sigma.cli.main")

ROOT = Path(__file__).resolve().parent.parent
RULE = ROOT / "rules" / "aws_attached_malicious_lambda_layer.yml"

#: sigma-cli spelling -> the name of our parameter that honours it with the same meaning.
HONOURED: Final = {
    "-t": "targets",
    "--target": "targets",
    "-p": "pipelines",
    "--pipeline": "pipelines",
    "--without-pipeline": "without_pipeline",
    "--pipeline-check": "pipeline_check",
    "--disable-pipeline-check": "pipeline_check",
    "-f": "fmt",
    "--format": "fmt",
    "-c": "correlation_method",
    "--correlation-method": "correlation_method",
    "--filter": "filters",
    "-s": "skip_unsupported",
    "--skip-unsupported": "skip_unsupported",
    "--fail-unsupported": "skip_unsupported",
    "-o": "output",
    "--output": "output",
    "-od": "output_dir",
    "--output-dir": "output_dir",
    "-e": "encoding",  # utf-8, the one encoding written
    "--encoding": "encoding",
    "-O": "options",
    "--backend-option": "options",
    "--verbose": "verbose",
    "-h": "_click_default_help",
    "--help": "_click_default_help",
}
REFUSED_SPELLINGS: Final = {spelling: names for names in REFUSED for spelling in names}


def _spellings(
    command: click.Command, settings: Mapping[str, Any] = main.context_settings
) -> dict[str, click.Parameter]:
    ctx = click.Context(command, **settings)  # the group's -h/--help
    return {
        spelling: param
        for param in command.get_params(ctx)
        for spelling in (*param.opts, *param.secondary_opts)
        if spelling.startswith("-")
    }


def test_every_sigma_cli_spelling_is_honoured_or_refused() -> None:
    theirs = set(_spellings(sigma_cli.convert, sigma_main.CONTEXT_SETTINGS))
    assert theirs == set(HONOURED) | set(REFUSED_SPELLINGS), "place each sigma-cli option in one table"
    assert not set(HONOURED) & set(REFUSED_SPELLINGS)


@pytest.mark.parametrize("spelling", sorted(HONOURED))
def test_honoured_spelling_is_our_option_of_that_meaning(spelling: str) -> None:
    ours = _spellings(our_convert)
    assert spelling in ours, spelling
    assert ours[spelling].name == HONOURED[spelling]
    # sigma-cli's flag pairs keep their sense: the first spelling turns the option on.
    theirs = _spellings(sigma_cli.convert, sigma_main.CONTEXT_SETTINGS)[spelling]
    if theirs.secondary_opts:
        assert (spelling in theirs.secondary_opts) == (spelling in ours[spelling].secondary_opts)


@pytest.mark.parametrize("spelling", sorted(REFUSED_SPELLINGS))
def test_refused_spelling_exits_2_with_a_hint(spelling: str) -> None:
    takes_value, hint = REFUSED[REFUSED_SPELLINGS[spelling]]
    args = ["convert", str(RULE), "-t", "splunk", spelling, *(["4"] if takes_value else [])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "(a sigma-cli option) is not supported" in result.output and hint[:40] in result.output


def test_output_dir_short_spelling_writes_the_folder(tmp_path: Path) -> None:
    """``-od out`` was read as ``-o d`` plus an input ``out``."""
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(RULE), "-t", "splunk", "-od", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert (out / "splunk" / f"{RULE.stem}.spl").is_file()
    assert not (Path.cwd() / "d").exists()


def test_output_dash_is_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    plain = CliRunner().invoke(main, ["convert", str(RULE), "-t", "splunk"])
    dashed = CliRunner().invoke(main, ["convert", str(RULE), "-t", "splunk", "-o", "-"])
    assert dashed.exit_code == 0 and dashed.stdout == plain.stdout and plain.stdout.strip()
    assert not (tmp_path / "-").exists()


def test_skip_unsupported_short_spelling(tmp_path: Path) -> None:
    rule = tmp_path / "cased.yml"
    # A Windows rule: not CloudTrail, refused on every target; -s skips it like --skip-unsupported.
    rule.write_text(
        "title: w\nlogsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {Image: x}, condition: sel}\n",
        encoding="utf-8",
    )
    long = CliRunner().invoke(main, ["convert", str(rule), "-t", "splunk", "--skip-unsupported"])
    short = CliRunner().invoke(main, ["convert", str(rule), "-t", "splunk", "-s"])
    assert short.exit_code == long.exit_code == 0


def test_correlation_method(tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["convert", str(RULE), "-t", "splunk", "-c", "stats"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, ["convert", str(RULE), "-t", "splunk", "-c", "temporal"])
    assert bad.exit_code == 2
    assert "no correlation method 'temporal'" in bad.output and "stats" in bad.output


def test_correlation_method_reaches_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """``-c`` is passed to pySigma's ``convert_correlation_rule`` as its ``method``."""
    from sigma_lambda_layer.api import convert

    seen: list[str | None] = []
    from sigma.conversion.base import Backend

    original = Backend.convert_correlation_rule

    def spy(self, rule, output_format=None, method=None, callback=None):  # type: ignore[no-untyped-def]
        seen.append(method)
        return original(self, rule, output_format, method, callback)

    monkeypatch.setattr(Backend, "convert_correlation_rule", spy)
    rules = RULE.read_text(encoding="utf-8") + (
        "---\ntitle: twice\ncorrelation:\n  type: event_count\n  rules: [" + _rule_id() + "]\n"
        "  group-by: [userIdentity.arn]\n  timespan: 1h\n  condition: {gte: 2}\n"
    )
    results = convert(rules, "splunk", correlation_method="stats", collect_errors=True)
    assert seen == ["stats"], [r.error for r in results]


def _rule_id() -> str:
    import yaml

    return str(yaml.safe_load(RULE.read_text(encoding="utf-8"))["id"])


def test_encoding_utf8_only() -> None:
    ok = CliRunner().invoke(main, ["convert", str(RULE), "-t", "splunk", "-e", "UTF-8"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, ["convert", str(RULE), "-t", "splunk", "-e", "latin-1"])
    assert bad.exit_code == 2 and "writes UTF-8" in bad.output


def test_pipeline_check(tmp_path: Path) -> None:
    pipeline = tmp_path / "lucene_only.yml"
    pipeline.write_text(
        "name: lucene only\nallowed_backends: [lucene]\ntransformations: []\n", encoding="utf-8"
    )
    args = ["convert", str(RULE), "-t", "splunk", "-p", str(pipeline), "--json"]
    checked = CliRunner().invoke(main, args)
    assert checked.exit_code == 2
    assert (
        "intended for lucene, not splunk" in checked.output and "--disable-pipeline-check" in checked.output
    )
    forced = CliRunner().invoke(main, [*args, "--disable-pipeline-check"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)[0]["output"]
    for_lucene = CliRunner().invoke(main, ["convert", str(RULE), "-t", "lucene", "-p", str(pipeline)])
    assert for_lucene.exit_code == 0, for_lucene.output
