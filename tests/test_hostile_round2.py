"""Hostile input, round two (issue 16): each reproduction beside a good rule, end to end.

Deep conditions, ReDoS in the loader and in rule tests, special files and unbounded standard input, stored
XSS in the MkDocs rule pages, and the smaller escaping classes (GitHub annotations, SARIF URIs, NDJSON line
separators, the ``[default]`` stanza). Each test fails on the code before the fix.
"""

from __future__ import annotations

import html.parser
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import pytest
import yaml
from click.testing import CliRunner, Result

from sigma_lambda_layer.artifacts.splunk import stanza_name
from sigma_lambda_layer.checks.model import Finding, Severity
from sigma_lambda_layer.checks.sarif import findings_to_sarif
from sigma_lambda_layer.cli import main
from sigma_lambda_layer.engines.logs_insights import tokenize
from sigma_lambda_layer.engines.spl import command_names
from sigma_lambda_layer.errors import RuleLoadError
from sigma_lambda_layer.loading import MAX_CONDITION_DEPTH, MAX_FILE_BYTES, glob_match, read_stdin
from sigma_lambda_layer.outputs import render
from sigma_lambda_layer.pages import render_pages
from sigma_lambda_layer.registry import TARGETS

GOOD: Final = """\
title: Good
id: 00000001-1111-4111-8111-111111111111
status: test
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: ConsoleLogin
    condition: selection
level: high
"""
GOOD_SPLUNK: Final = 'eventName="ConsoleLogin"'


def _rule(condition: str, selection: str = "selection", n: int = 2) -> str:
    """GOOD with another condition, selection name and id."""
    text = GOOD.replace("condition: selection", f"condition: {condition}").replace(
        "    selection:", f"    {selection}:"
    )
    return text.replace("00000001", f"0000000{n}")


def _folder(tmp_path: Path, bad: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "good.yml").write_text(GOOD, encoding="utf-8")
    (folder / "bad.yml").write_text(bad, encoding="utf-8")
    return folder


def _convert(*args: str) -> Result:
    return CliRunner().invoke(main, ["convert", *args, "-t", "all", "--no-cache", "--jobs", "1", "--json"])


def _outcomes(result: Result) -> list[dict[str, object]]:
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# --- (5) one deep condition must not kill the batch ---------------------------------------------------------


def test_deep_not_chain_is_a_located_error_and_the_batch_survives(tmp_path: Path) -> None:
    folder = _folder(tmp_path, _rule("not " * 200 + "selection"))
    result = _convert(str(folder))
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    assert result.exit_code == 1
    outcomes = _outcomes(result)
    good = [o for o in outcomes if str(o["path"]).endswith("good.yml")]
    assert len(good) == len(TARGETS) and all("output" in o and "error" not in o for o in good)
    bad = [o for o in outcomes if str(o["path"]).endswith("bad.yml")]
    assert bad and all(o["error"]["line"] == 10 for o in bad)  # type: ignore[index]
    assert f"over the limit of {MAX_CONDITION_DEPTH}" in result.stderr
    assert re.search(r"bad\.yml:10:16: condition nests 200 levels", result.stderr)
    docs = CliRunner().invoke(main, ["docs", str(folder), "--output-dir", str(tmp_path / "site")])
    assert "Traceback" not in docs.output
    assert (tmp_path / "site" / "good.md").exists() or any((tmp_path / "site").glob("*Good*.md"))


def test_condition_at_the_depth_limit_converts_on_every_target(tmp_path: Path) -> None:
    half = MAX_CONDITION_DEPTH // 2
    condition = "not " * half + "(" * half + "selection" + ")" * half  # half nots: even, so == selection
    result = _convert(str(_folder(tmp_path, _rule(condition))))
    assert result.exit_code == 0, result.output
    assert all("output" in o and "error" not in o for o in _outcomes(result))


# --- (6) ReDoS: 1-of patterns in the loader (ours and pySigma's) --------------------------------------------


def test_glob_match_is_linear_and_exact() -> None:
    name = "a" * 5000
    start = time.perf_counter()
    assert not glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", name)
    assert glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", name)
    assert time.perf_counter() - start < 1.0
    assert glob_match("sel_*", "sel_x") and not glob_match("sel_*", "xsel_x")
    assert glob_match("*", "") and glob_match("a*b*c", "abc") and not glob_match("a*b*c", "acb")


@pytest.mark.parametrize("command", ["convert", "check", "docs"])
def test_many_star_pattern_no_match_is_fast_and_located(tmp_path: Path, command: str) -> None:
    bad = _rule("1 of *a*a*a*a*a*a*a*a*b", selection="a" * 60)
    folder = _folder(tmp_path, bad)
    args = {
        "convert": ["convert", str(folder), "-t", "splunk", "--no-cache", "--jobs", "1"],
        "check": ["check", str(folder)],
        "docs": ["docs", str(folder), "--output-dir", str(tmp_path / "site")],
    }[command]
    start = time.perf_counter()
    result = CliRunner().invoke(main, args)
    assert time.perf_counter() - start < 20  # was over 60 s
    assert "Traceback" not in result.output
    shown = result.output
    if command == "docs":
        shown = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").glob("*.md")).replace(
            "\\", ""
        )
    assert "'*a*a*a*a*a*a*a*a*b' in the condition names no selection" in shown


def test_many_star_pattern_that_matches_converts_like_the_spelled_out_condition(tmp_path: Path) -> None:
    # pySigma's own resolution (re .* per star, fullmatch) would backtrack here: the loader spells it out.
    name = "a" * 59 + "b"
    start = time.perf_counter()
    starred = _convert(str(_folder(tmp_path, _rule("1 of *a*a*a*a*a*a*a*a*b", selection=name))))
    assert time.perf_counter() - start < 20
    other = tmp_path / "other"
    other.mkdir()
    (other / "bad.yml").write_text(_rule(name, selection=name), encoding="utf-8")
    spelled = _convert(str(other))
    assert starred.exit_code == spelled.exit_code == 0, starred.output
    queries = {o["target"]: o["output"] for o in _outcomes(starred) if str(o["path"]).endswith("bad.yml")}
    assert queries == {o["target"]: o["output"] for o in _outcomes(spelled)}


# --- (6) ReDoS: rule tests and check ------------------------------------------------------------------------

CATASTROPHIC: Final = "^(a|aa)+$"  # exponential on re and on the regex package alike


def test_rule_test_with_catastrophic_regex_is_time_bounded(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    text = GOOD.replace("eventName: ConsoleLogin", f"eventName|re: '{CATASTROPHIC}'")
    (folder / "slow.yml").write_text(text, encoding="utf-8")
    record = {"eventName": "a" * 40 + "!", "eventSource": "signin.amazonaws.com"}
    tests = {"entries": [{"expect": "no_match", "record": record}]}
    (folder / "slow.tests.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    start = time.perf_counter()
    result = CliRunner().invoke(main, ["test", str(folder), "--target", "all"])
    elapsed = time.perf_counter() - start
    assert elapsed < 30, elapsed  # re alone: minutes
    assert "Traceback" not in result.output
    assert result.exit_code != 0
    assert "catastrophic backtracking" in result.output


@pytest.mark.parametrize(
    ("pattern", "flagged"),
    [("^(a+)+$", True), (CATASTROPHIC, True), (r"(\w+\s?)*$", True), ("^a+$", False), ("(ab|cd)*x", False)],
)
def test_check_warns_on_catastrophic_patterns_located(tmp_path: Path, pattern: str, flagged: bool) -> None:
    rule = tmp_path / "aws_rule.yml"
    rule.write_text(GOOD.replace("eventName: ConsoleLogin", f"eventName|re: '{pattern}'"), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(rule), "--json"])
    assert "Traceback" not in result.output
    hits = [f for f in json.loads(result.stdout) if f["check"] == "regex_backtracking"]
    if flagged:
        assert len(hits) == 1 and hits[0]["severity"] == "warning"
        assert (hits[0]["line"], hits[0]["column"]) == (9, 23)
    else:
        assert hits == []


# --- (10) special files and standard input -------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
def test_special_files_refused_located_and_the_batch_converts(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "good.yml").write_text(GOOD, encoding="utf-8")
    (folder / "zero.yml").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.yml")
    (folder / "root").symlink_to("/")
    start = time.perf_counter()
    result = _convert(str(folder))
    assert time.perf_counter() - start < 30
    assert result.exit_code == 1
    assert "zero.yml: not a regular file (a character device), refused" in result.stderr
    assert "fifo.yml: not a regular file (a FIFO), refused" in result.stderr
    assert "root: folder symlink points outside the rules folder" in result.stderr
    good = [o for o in _outcomes(result) if str(o["path"]).endswith("good.yml")]
    assert len(good) == len(TARGETS) and all("output" in o for o in good)
    # The other commands that read the folder: check, docs, test (a FIFO named like a rule tests file too).
    os.mkfifo(folder / "good.tests.yml")
    for args in (
        ["check", str(folder)],
        ["docs", str(folder), "--output-dir", str(tmp_path / "site")],
        ["test", str(folder)],
    ):
        start = time.perf_counter()
        other = CliRunner().invoke(main, args)
        assert time.perf_counter() - start < 30, args
        assert "Traceback" not in other.output, other.output
        assert "not a regular file" in other.output + "".join(
            p.read_text(encoding="utf-8") for p in (tmp_path / "site").glob("*.md")
        ), args
    assert (tmp_path / "site" / "index.md").exists()


def test_stdin_is_bounded_like_a_file() -> None:
    with pytest.raises(RuleLoadError, match="standard input is over the"):
        read_stdin(io.BytesIO(b"a" * (MAX_FILE_BYTES + 1)))
    assert read_stdin(io.BytesIO(GOOD.encode())) == GOOD
    result = CliRunner().invoke(
        main, ["convert", "-", "-t", "splunk", "--no-cache"], input="a" * (3 * MAX_FILE_BYTES)
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "over the 1048576-byte limit" in result.output


# --- (4) stored XSS in the MkDocs rule pages -----------------------------------------------------------------


class _Elements(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


HOSTILE_PAGE: Final = {
    "title": "Evil title {: onclick=alert(1) }",
    "description": "Line one\n\nEvil paragraph {: onclick=alert(2) }\n<img src=x onerror=alert(3)>",
    "author": "`<img src=x onerror=alert(4)>`",
    "tags": ["attack.t1078", "x.`<img src=x onerror=alert(5)>`", "cve.2024{: onclick=alert(6) }"],
    "falsepositives": ["&lt;img src=x onerror=alert(7)&gt;", "[link](javascript:alert(8))"],
}


def test_rule_pages_built_by_mkdocs_carry_no_injected_element_or_attribute(tmp_path: Path) -> None:
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).parent / "mkdocs")
    if not Path(mkdocs).exists():
        pytest.skip("mkdocs is not installed (it is in the 'test' extra)")
    rules = tmp_path / "rules"
    rules.mkdir()
    rule = yaml.safe_load(GOOD) | HOSTILE_PAGE
    (rules / "evil`<img src=x onerror=alert(9)>`.yml").write_text(yaml.safe_dump(rule), encoding="utf-8")
    docs = tmp_path / "docs"
    render_pages([str(rules)], docs)
    repo = Path(__file__).resolve().parent.parent
    config = yaml.safe_load((repo / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:")[0])
    site_config = {
        "site_name": "t",
        "docs_dir": str(docs),
        "markdown_extensions": config["markdown_extensions"],
    }
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(site_config), encoding="utf-8")
    subprocess.run(
        [mkdocs, "build", "-q", "-f", str(tmp_path / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        check=True,
        capture_output=True,
    )
    pages = list((tmp_path / "site").rglob("index.html"))
    assert len(pages) == 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        main_part = text[text.find('role="main"') :] if 'role="main"' in text else text
        parser = _Elements()
        parser.feed(main_part)
        assert "img" not in parser.tags, page
        assert not [a for a in parser.attributes if a.startswith("on")], page
        assert "javascript:" not in " ".join(re.findall(r'href="([^"]*)"', main_part))
    evil = next(p for p in pages if "evil" in str(p.parent).lower() or "Evil title" in p.read_text("utf-8"))
    assert "Evil title {: onclick=alert(1) }" in html.unescape(evil.read_text(encoding="utf-8"))


# --- (11, 9) escaping per output format ---------------------------------------------------------------------


def test_github_annotation_escapes_message_and_properties() -> None:
    path = "a,b:c\n::stop-commands::x.yml"
    finding = Finding("x", Severity.ERROR, "title\n::stop-commands::tok%", None, path, 3, 4, None, None)
    line = finding.github_annotation()
    assert "\n" not in line and "\r" not in line
    assert line == (
        "::error file=a%2Cb%3Ac%0A%3A%3Astop-commands%3A%3Ax.yml,line=3,col=4::[x] title%0A::stop-commands::tok%25"
    )


def test_sarif_relative_uri_is_percent_encoded(tmp_path: Path) -> None:
    finding = Finding("x", Severity.ERROR, "m", None, str(tmp_path / "my rule#1%.yml"), 1, 1, None, None)
    sarif = findings_to_sarif([finding], base_dir=tmp_path)
    uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "my%20rule%231%25.yml"


def test_ndjson_escapes_line_separators() -> None:
    text = render({"title": "a\u2028b\u2029c"}, "kibana_ndjson")
    assert "\u2028" not in text and "\u2029" not in text and text.count("\n") == 1
    assert json.loads(text) == {"title": "a\u2028b\u2029c"}


@pytest.mark.parametrize("title", ["default", "DEFAULT", " default "])
def test_savedsearches_stanza_is_never_default(title: str) -> None:
    assert stanza_name(title).strip().lower() != "default"
    assert stanza_name("Default rule") == "Default rule"


# --- (11) large integers ---------------------------------------------------------------------------------


def test_integer_pysigma_would_round_is_refused_located_and_exact_ones_convert(tmp_path: Path) -> None:
    big = GOOD.replace(
        "        eventName: ConsoleLogin\n",
        "        eventName: ConsoleLogin\n        requestParameters.maxResults: 123456789012345678901234567890\n",
    )
    result = _convert(str(_folder(tmp_path, big.replace("00000001", "00000002"))))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(
        r"bad\.yml:10:39: the number '123456789012345678901234567890' cannot be kept", result.stderr
    )
    assert "1.2345678901234568e+29" not in result.stdout
    exact = tmp_path / "exact"
    exact.mkdir()
    (exact / "r.yml").write_text(big.replace("123456789012345678901234567890", str(2**60)), encoding="utf-8")
    ok = _convert(str(exact))
    splunk = [o for o in _outcomes(ok) if o["target"] == "splunk"]
    assert str(2**60) in str(splunk[0]["output"])


# -- field-name injection (issue 16, reproductions 1 and 2) ---------------------------------------------

HOSTILE_FIELDS: Final = (
    "x`)\tor\tispresent(`eventTime",
    'a"b',
    "a'b",
    "a|b",
    "a[b]",
    "a\nb",
    "a\tb",
    "x | delete",
    "x [| makeresults | sendemail to=a@b.c]",
)


def _field_rule(construct: str, name: str) -> str:
    """GOOD with ``name`` used by one construct (a JSON-quoted YAML key, so any character passes YAML)."""
    q = json.dumps
    selection = {
        "value": f"{q(name)}: v",
        "exists": f"{q(name + '|exists')}: true",
        "not_exists": f"{q(name + '|exists')}: false",
        "null": f"{q(name)}: null",
        "fieldref": f"{q(name + '|fieldref')}: eventName",
        "fieldref_target": f"eventName|fieldref: {q(name)}",
        "fields": "eventName: ConsoleLogin",
    }[construct]
    text = GOOD.replace("eventName: ConsoleLogin", selection)
    if construct == "fields":
        text += f"fields:\n    - eventName\n    - {q(name)}\n"
    return text


def _splunk_baseline(construct: str) -> str:
    """The Splunk query of the same construct on a plain field name: the commands a hostile name must keep."""
    from sigma_lambda_layer.api import convert

    (result,) = convert(_field_rule(construct, "plainField"), "splunk", without_pipeline=True)
    return str(result.output)


def _quoted_only(output: str, name: str, quoted: str) -> bool:
    """``name`` appears in ``output`` only as ``quoted``."""
    return name not in output.replace(quoted, "")


@pytest.mark.parametrize("without_pipeline", [False, True], ids=["pipeline", "no-pipeline"])
@pytest.mark.parametrize(
    "construct", ["value", "exists", "not_exists", "null", "fieldref", "fieldref_target", "fields"]
)
@pytest.mark.parametrize("name", HOSTILE_FIELDS, ids=lambda n: repr(n)[1:12])
def test_hostile_field_name_is_refused_located_or_stays_quoted(
    name: str, construct: str, without_pipeline: bool
) -> None:
    """Every target, every construct: a located refusal, or the name only inside its target's quoting.

    Splunk writes names bare and CloudWatch has no escape for a backtick in backtick quoting, so there a
    name with ``|``, ``[``, a backtick or a control character must never reach the query at all."""
    from sigma_lambda_layer.api import convert

    for target in TARGETS:
        (result,) = convert(
            _field_rule(construct, name), target, without_pipeline=without_pipeline, collect_errors=True
        )
        if result.error is not None:
            assert re.search(r":\d+:\d+: ", str(result.error)), (target, str(result.error))
            continue
        text = result.output if isinstance(result.output, str) else json.dumps(result.output)
        if target == "splunk":
            assert name not in text, (target, text)
            good_commands = command_names(_splunk_baseline(construct))
            assert command_names(text) == good_commands, text  # no command or subsearch added
        elif target == "cloudwatch":
            toks = tokenize(text)
            assert "delete" not in {t.text for t in toks if t.kind != "field"}, text
            if name in text:
                assert "`" not in name and not re.search(r"[\x00-\x1f]", name), (name, text)
                assert _quoted_only(text, name, f"`{name}`"), text
                assert any(t.kind == "field" and t.text == name for t in toks), text  # one quoted token
        elif target in ("eql", "esql"):
            assert _quoted_only(text, name, "`" + name.replace("`", "``") + "`"), (target, text)


def test_cloudwatch_exists_backtick_repro_is_refused_and_cli_fails(tmp_path: Path) -> None:
    """Reproduction 1 exactly: ``convert`` exits non-zero instead of emitting a query on another field."""
    rule = tmp_path / "r.yml"
    rule.write_text(_field_rule("exists", "x`)\tor\tispresent(`eventTime"))
    result = CliRunner().invoke(
        main, ["convert", str(rule), "-t", "cloudwatch", "--without-pipeline", "--no-cache"]
    )
    assert result.exit_code != 0, result.output
    assert "ispresent(`eventTime" not in result.stdout
    assert "r.yml:" in result.output


def test_splunk_fields_subsearch_repro_is_refused_in_savedsearches(tmp_path: Path) -> None:
    """Reproduction 2 exactly: a ``fields`` entry cannot put a subsearch into savedsearches.conf."""
    from sigma_lambda_layer.api import convert

    name = "x [| makeresults | sendemail to=a@b.c]"
    (result,) = convert(
        _field_rule("fields", name), "splunk", "savedsearches", without_pipeline=True, collect_errors=True
    )
    assert result.error is not None and "sendemail" in str(result.error)
    (good,) = convert(GOOD + "fields:\n    - eventName\n", "splunk", "savedsearches", without_pipeline=True)
    assert "| table eventName" in str(good.output)


CORRELATION: Final = """\
title: Base
id: 00000001-1111-4111-8111-111111111111
name: base
status: test
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: ConsoleLogin
    condition: selection
---
title: Corr
id: 00000002-1111-4111-8111-111111111111
status: test
correlation:
    type: value_count
    rules:
        - base
    group-by:
        - {name}
    timespan: 5m
    condition:
        gte: 3
        field: {name}
"""


@pytest.mark.parametrize("without_pipeline", [False, True], ids=["pipeline", "no-pipeline"])
@pytest.mark.parametrize("name", HOSTILE_FIELDS, ids=lambda n: repr(n)[1:12])
def test_hostile_correlation_group_by_is_refused_located_or_stays_quoted(
    name: str, without_pipeline: bool
) -> None:
    """Correlation ``group-by`` and value-count ``field`` reach the same field-name function on every target;
    a refusal of the name points at its entry under ``correlation`` when the target has correlations at all."""
    from sigma_lambda_layer.api import convert

    text = CORRELATION.format(name=json.dumps(name))
    for target in TARGETS:
        corr = [r for r in convert(text, target, without_pipeline=without_pipeline, collect_errors=True)]
        (result,) = [r for r in corr if r.title == "Corr"]
        if result.error is not None:
            assert re.search(r":\d+:\d+: ", str(result.error)), (target, str(result.error))
            continue
        output = str(result.output)
        assert target not in ("splunk", "cloudwatch") or "`" not in name, (target, output)
        if target == "splunk":
            assert name not in output and command_names(output)[1:] == ["bin", "stats", "search"], output
        elif target in ("eql", "esql"):
            assert _quoted_only(output, name, "`" + name.replace("`", "``") + "`"), (target, output)


def test_hostile_fields_entry_refusal_points_at_the_entry() -> None:
    from sigma_lambda_layer.api import convert

    (result,) = convert(
        _field_rule("fields", "x | delete"), "splunk", without_pipeline=True, collect_errors=True
    )
    line = _field_rule("fields", "x | delete").splitlines().index('    - "x | delete"') + 1
    assert result.error is not None and f":{line}:7: " in str(result.error)


@pytest.mark.parametrize("pattern", ["^(a+)+$", CATASTROPHIC])
def test_rule_test_with_case_insensitive_catastrophic_regex_is_time_bounded(
    tmp_path: Path, pattern: str
) -> None:
    """``|re|i`` is written back as a case-sensitive pattern (casing.regex_source) and runs bounded like
    ``|re``: '^(a+)+$' is decided at once by the regex package, '^(a|aa)+$' gives up located, within the
    bound (before, both ran on re's compiled tree with no timeout: minutes). ``check`` warns on both."""
    folder = tmp_path / "rules"
    folder.mkdir()
    rule = folder / "slow.yml"
    rule.write_text(GOOD.replace("eventName: ConsoleLogin", f"eventName|re|i: '{pattern}'"), encoding="utf-8")
    record = {"eventName": "A" * 40 + "!", "eventSource": "signin.amazonaws.com"}
    tests = {"entries": [{"expect": "no_match", "record": record}]}
    (folder / "slow.tests.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    start = time.perf_counter()
    result = CliRunner().invoke(main, ["test", str(folder), "--target", "all"])
    elapsed = time.perf_counter() - start
    assert elapsed < 30, elapsed
    assert "Traceback" not in result.output
    if pattern == CATASTROPHIC:
        assert result.exit_code != 0
        assert "catastrophic backtracking" in result.output
        assert re.search(r"slow(\.tests)?\.yml:\d+:\d+", result.output), result.output
    else:
        assert result.exit_code == 0, result.output
    check = CliRunner().invoke(main, ["check", str(rule), "--json"])
    hits = [f for f in json.loads(check.stdout) if f["check"] == "regex_backtracking"]
    assert len(hits) == 1 and (hits[0]["line"], hits[0]["column"]) == (9, 25), hits
