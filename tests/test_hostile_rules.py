"""Bad and malicious rule files, end to end through the CLI, for every target.

Each bad file sits in a folder beside good rules. ``sigma-lambda convert <folder> -t all`` must: exit 1, give
the bad file located errors (path, and line and column where the parser knows them) with no Python
traceback, and still convert and write every good rule for every target. ``check`` and ``test`` must survive
the same folders. :mod:`tests.test_loading` covers the loader's unit behaviour; this is the user's view.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Final

import click
import pytest
from click.testing import CliRunner, Result

from sigma_lambda_layer.cli import main
from sigma_lambda_layer.loading import MAX_FILE_BYTES
from sigma_lambda_layer.outputs import output_path, safe_stem
from sigma_lambda_layer.registry import TARGETS as REGISTRY
from tests.support.rulekit import CONSOLE_LOGIN, rule_yaml

TARGETS: Final = tuple(REGISTRY)

GOOD: Final = """\
title: Good {n}
id: 0000000{n}-1111-4111-8111-111111111111
status: test
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: lambda.amazonaws.com
        eventName|startswith: UpdateFunctionConfiguration
    condition: selection
level: high
"""

RULE: Final = rule_yaml(CONSOLE_LOGIN, title="Bad")


def _laughs() -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 12)]
    return ("\n".join(lines) + "\n").encode()


#: name -> (file bytes, words the error must contain, expected 1-based line or None when none is known).
BAD: Final[dict[str, tuple[bytes, str, int | None]]] = {
    "malformed_yaml": (b"title: x\ndetection:\n  sel: [a, b\n  condition: sel\n", "invalid YAML", 4),
    "detection_is_a_list": (
        RULE.replace(
            "    selection:\n        eventName: ConsoleLogin\n    condition: selection\n", "  - a\n  - b\n"
        )
        .replace("detection:\n", "detection:\n")
        .encode(),
        "detection must be",
        5,
    ),
    "title_is_a_number": (RULE.replace("title: Bad", "title: 42").encode(), "title must be a string", 1),
    "logsource_is_null": (
        RULE.replace("logsource:\n    product: aws\n    service: cloudtrail\n", "logsource:\n").encode(),
        "logsource",
        2,
    ),
    "misspelled_modifier": (
        RULE.replace("eventName:", "eventName|contians:").encode(),
        "Unknown modifier 'contians'",
        7,
    ),
    "missing_condition": (RULE.replace("    condition: selection\n", "").encode(), "condition", 5),
    "invalid_condition": (
        RULE.replace("condition: selection", "condition: selection and and (").encode(),
        "Expected",
        8,
    ),
    "undefined_selection": (
        RULE.replace("condition: selection", "condition: selection and filter").encode(),
        "'filter' not defined",
        8,
    ),
    "empty_detection": (
        RULE.replace(
            "detection:\n    selection:\n        eventName: ConsoleLogin\n    condition: selection\n",
            "detection: {}\n",
        ).encode(),
        "condition",
        5,
    ),
    "duplicate_key": (
        RULE.replace("eventName: ConsoleLogin", "eventName: ConsoleLogin\n        eventName: Other").encode(),
        "duplicate key 'eventName'",
        8,
    ),
    "not_utf8": (RULE.replace("Bad", "Caf\xe9").encode("latin-1"), "not valid UTF-8", 1),
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)), "binary", None),
    "empty": (b"", "no Sigma rule", None),
    "only_comments": (b"# nothing here\n", "no Sigma rule", None),
    "multi_document_one_bad": (
        (
            GOOD.format(n=8) + "---\n" + RULE.replace("condition: selection", "condition: missing_selection")
        ).encode(),
        "'missing_selection' not defined",
        21,
    ),
    "huge": (b"#" * (MAX_FILE_BYTES + 1), "limit", None),
    "deep_nesting": (
        b"title: deep\nlogsource: {product: aws}\ndetection:\n  sel: " + b"[" * 100 + b"]" * 100 + b"\n",
        "nested deeper",
        None,
    ),
    "very_deep_nesting": (b"title: deep\nsel: " + b"[" * 20000 + b"]" * 20000 + b"\n", "nesting", None),
    "billion_laughs": (_laughs(), "expands to more than", None),
    "python_tag": (
        RULE.replace("title: Bad", 'title: !!python/object/apply:os.system ["touch /tmp/pwned"]').encode(),
        "tag",
        1,
    ),
    "scalar_document": (b"just a string\n", "not a mapping", 1),
}


def _folder(tmp_path: Path, name: str, content: bytes) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for n in (1, 2):
        (folder / f"good_{n}.yml").write_text(GOOD.format(n=n), encoding="utf-8")
    (folder / f"{name}.yml").write_bytes(content)
    return folder


def _convert(*args: str) -> Result:
    return CliRunner().invoke(main, ["convert", *args, "-t", "all", "--no-cache", "--jobs", "1", "-q"])


def _assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@pytest.mark.parametrize("name", sorted(BAD))
def test_all_targets_bad_rule_is_located_and_others_converted(tmp_path: Path, name: str) -> None:
    content, words, line = BAD[name]
    folder = _folder(tmp_path, name, content)
    started = time.monotonic()
    result = _convert(str(folder), "--json")
    assert time.monotonic() - started < 20, "a hostile file must not hang the batch"
    _assert_no_traceback(result)
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)
    bad_path = str(folder / f"{name}.yml")
    errors = [r for r in rows if r.get("error")]
    assert errors, rows
    assert {r["path"] for r in errors} == {bad_path}
    for row in errors:
        assert words in row["error"]["message"], row
        assert "internal error" not in row["error"]["message"], row
        if line is not None:
            assert row["error"]["line"] == line, row
    ok = {(r["title"], r["target"]) for r in rows if "output" in r}
    expected = {(f"Good {n}", t) for n in (1, 2) for t in TARGETS}
    if name == "multi_document_one_bad":
        expected |= {("Good 8", t) for t in TARGETS}
    assert ok == expected


@pytest.mark.parametrize("name", ["malformed_yaml", "misspelled_modifier", "binary", "invalid_condition"])
def test_all_targets_bad_rule_text_errors_and_output_dir(tmp_path: Path, name: str) -> None:
    """Without --json: ``path:line:col: message`` on stderr, good rules written under --output-dir."""
    content, words, line = BAD[name]
    folder = _folder(tmp_path, name, content)
    out = tmp_path / "out"
    result = _convert(str(folder), "--output-dir", str(out))
    _assert_no_traceback(result)
    assert result.exit_code == 1
    prefix = f"{folder / (name + '.yml')}:{line}:" if line else f"{folder / (name + '.yml')}:"
    assert prefix in result.stderr and words in result.stderr, result.stderr
    for target in TARGETS:
        written = sorted(p.name for p in (out / target).iterdir() if not p.name.startswith("_"))
        assert [w.split(".")[0] for w in written] == ["good_1", "good_2"], (target, written)


def test_all_targets_debug_shows_traceback_only_when_asked(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "invalid_condition", BAD["invalid_condition"][0])
    quiet = _convert(str(folder))
    assert "Traceback" not in quiet.stderr
    loud = CliRunner().invoke(
        main, ["--debug", "convert", str(folder), "-t", "splunk", "--no-cache", "--jobs", "1", "-q"]
    )
    assert "Traceback" in loud.stderr


def test_all_targets_symlink_loop_and_dangling_link(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "good_3", GOOD.format(n=3).encode())
    (folder / "loop").symlink_to(folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "back").symlink_to(folder)
    (folder / "dangling.yml").symlink_to(tmp_path / "nowhere.yml")
    result = _convert(str(folder), "--json")
    _assert_no_traceback(result)
    rows = json.loads(result.stdout)
    assert {r["title"] for r in rows if "output" in r} == {"Good 1", "Good 2", "Good 3"}
    errors = [r for r in rows if r.get("error")]
    assert {r["path"] for r in errors} == {str(folder / "dangling.yml")}
    assert result.exit_code == 1


def _reads_denied(path: Path) -> bool:
    try:
        path.read_bytes()
    except PermissionError:
        return True
    return False


def test_all_targets_unreadable_file_and_folder(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "locked", RULE.encode())
    locked_dir = folder / "locked_dir"
    locked_dir.mkdir()
    (locked_dir / "inner.yml").write_text(RULE)
    os.chmod(folder / "locked.yml", 0)
    os.chmod(locked_dir, 0)
    try:
        if not _reads_denied(folder / "locked.yml"):
            pytest.skip("root reads mode-000 files here; the setpriv variant below runs instead")
        result = _convert(str(folder), "--json")
        _assert_no_traceback(result)
        rows = json.loads(result.stdout)
        errors = {r["path"]: r["error"]["message"] for r in rows if r.get("error")}
        assert set(errors) == {str(folder / "locked.yml"), str(locked_dir)}, errors
        assert all("cannot read" in m for m in errors.values())
        assert {r["title"] for r in rows if "output" in r} == {"Good 1", "Good 2"}
        assert result.exit_code == 1
    finally:
        os.chmod(folder / "locked.yml", 0o644)
        os.chmod(locked_dir, 0o755)


def test_all_targets_missing_input_path(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "good_3", GOOD.format(n=3).encode())
    result = _convert(str(folder), str(tmp_path / "absent.yml"), "--json")
    _assert_no_traceback(result)
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert {r["path"] for r in rows if r.get("error")} == {str(tmp_path / "absent.yml")}


def test_all_targets_api_collects_every_bad_rule(tmp_path: Path) -> None:
    """The API view: one folder holding every bad file at once; each fails alone, located, no crash."""
    from sigma_lambda_layer.api import convert

    folder = tmp_path / "all"
    folder.mkdir()
    (folder / "good_1.yml").write_text(GOOD.format(n=1))
    for name, (content, _, _) in BAD.items():
        (folder / f"{name}.yml").write_bytes(content)
    results = convert([folder], target=list(TARGETS), collect_errors=True)
    failed = {r.path for r in results if r.error is not None}
    assert failed == {str(folder / f"{name}.yml") for name in BAD}
    assert all("internal error" not in r.error.message for r in results if r.error is not None)
    good = [r for r in results if r.error is None]
    assert {(r.title, r.target) for r in good} >= {("Good 1", t) for t in TARGETS}


def test_all_targets_check_and_test_survive_bad_rules(tmp_path: Path) -> None:
    folder = tmp_path / "all"
    folder.mkdir()
    (folder / "good_1.yml").write_text(GOOD.format(n=1))
    for name, (content, _, _) in BAD.items():
        (folder / f"{name}.yml").write_bytes(content)
    (folder / "loop").symlink_to(folder)
    for command in (["check", str(folder)], ["check", "--json", str(folder)], ["test", str(folder)]):
        result = CliRunner().invoke(main, command)
        _assert_no_traceback(result)
        assert result.exit_code in (0, 1), (command, result.output)
    checked = CliRunner().invoke(main, ["check", "--json", str(folder)])
    paths = {f["path"] for f in json.loads(checked.stdout)}
    assert str(folder / "malformed_yaml.yml") in paths


# --------------------------------------------------------------------------------------- safe by construction


def test_all_targets_yaml_tags_never_construct_objects(tmp_path: Path) -> None:
    """Safe loading only: a python tag is refused before anything is built, so nothing runs."""
    marker = tmp_path / "pwned"
    for tag in (
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/name:os.system",
    ):
        text = RULE.replace("title: Bad", f'title: {tag} ["touch {marker}"]')
        folder = tmp_path / safe_stem(tag)
        folder.mkdir()
        (folder / "tag.yml").write_text(text)
        result = _convert(str(folder), "--json")
        assert result.exit_code == 1
        (row, *_) = json.loads(result.stdout)
        assert "tag" in row["error"]["message"] and row["error"]["line"] == 1
    assert not marker.exists()


def test_all_targets_pipeline_yaml_is_loaded_safely(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    pipeline = tmp_path / "evil.yml"
    pipeline.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\ntransformations: []\n')
    folder = _folder(tmp_path, "good_3", GOOD.format(n=3).encode())
    result = CliRunner().invoke(
        main, ["convert", str(folder), "-t", "splunk", "-p", str(pipeline), "--no-cache", "--jobs", "1", "-q"]
    )
    _assert_no_traceback(result)
    assert result.exit_code == 2
    assert not marker.exists()


class _Result:
    """The fields of a ConversionResult that output_path reads."""

    def __init__(self, path: str | None, id: str | None, title: str | None) -> None:
        self.path, self.id, self.title = path, id, title
        self.target, self.format, self.output = "splunk", "default", "q"


HOSTILE_NAMES: Final = (
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "a/../../b",
    "x\x00y",
    "C:\\Windows\\evil",
    "~root/.ssh/authorized_keys",
    "\n\r\t",
    "..\\..\\evil",
    "a" * 5000,
    "é" * 300,
    "",
)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_all_targets_output_path_stays_in_output_dir(tmp_path: Path, name: str) -> None:
    out = (tmp_path / "out").resolve()
    candidates: list[Any] = [
        _Result(None, name, None),
        _Result(None, None, name),
        _Result("<string>", None, name),
        _Result(f"/rules/{name}.yml", None, None),
    ]
    for result in candidates:
        path = output_path(out, result).resolve()
        assert path.is_relative_to(out), (name, path)
        assert len(path.name.encode()) <= 255
        assert "\x00" not in str(path)


def test_all_targets_output_dir_from_titles_and_ids(tmp_path: Path) -> None:
    """Rules from stdin named by hostile titles and ids write only inside --output-dir."""
    out = tmp_path / "out"
    docs = [
        GOOD.format(n=1)
        .replace("title: Good 1", "title: ../../../escaped")
        .replace("00000001-1111-4111-8111-111111111111", "00000009-1111-4111-8111-111111111111"),
        GOOD.format(n=2).replace("title: Good 2", "title: /tmp/escaped_abs"),
    ]
    result = CliRunner().invoke(
        main,
        ["convert", "-", "-t", "all", "--output-dir", str(out), "--no-cache", "--jobs", "1", "-q"],
        input="---\n".join(docs),
    )
    _assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to(out.resolve()) for p in written), written
    assert not Path("/tmp/escaped_abs.spl").exists()


def test_all_targets_output_written_atomically(tmp_path: Path) -> None:
    """A crash while writing leaves the previous file whole and no temporary file behind."""
    from sigma_lambda_layer.cli._common import write_atomic
    from tests.support.limits import file_size_limit

    target = tmp_path / "q.spl"
    target.write_text("previous\n")
    with file_size_limit(4096), pytest.raises(click.ClickException, match=r"cannot write .*q\.spl: File too large"):
        write_atomic(target, "new" * 10_000)  # fails half way, as on a full disk
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["q.spl"]


def test_all_targets_unreadable_file_and_folder_as_root_without_dac_override(tmp_path: Path) -> None:
    """The same check where the one above cannot run: as root, drop the capabilities that let root read
    mode-000 files (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) for a real CLI subprocess, with setpriv."""
    import shutil
    import subprocess
    import sys

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("not root, or no setpriv: the chmod test above covers unreadable files here")
    folder = _folder(tmp_path, "locked", RULE.encode())
    locked_dir = folder / "locked_dir"
    locked_dir.mkdir()
    (locked_dir / "inner.yml").write_text(RULE)
    os.chmod(folder / "locked.yml", 0)
    os.chmod(locked_dir, 0)
    try:
        proc = subprocess.run(
            [
                setpriv,
                "--bounding-set",
                "-dac_override,-dac_read_search",
                "--",
                sys.executable,
                "-m",
                "sigma_lambda_layer",
                "convert",
                str(folder),
                "-t",
                "all",
                "--no-cache",
                "--jobs",
                "1",
                "-q",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        rows = json.loads(proc.stdout)
        errors = {r["path"]: r["error"]["message"] for r in rows if r.get("error")}
        assert set(errors) == {str(folder / "locked.yml"), str(locked_dir)}, errors
        assert all("cannot read" in m for m in errors.values())
        assert {r["title"] for r in rows if "output" in r} == {"Good 1", "Good 2"}
        assert proc.returncode == 1
    finally:
        os.chmod(folder / "locked.yml", 0o644)
        os.chmod(locked_dir, 0o755)


#: The finding families that report a file convert cannot load (the others lint rules that load).
_LOAD_CHECKS: Final = ("input", "yaml_syntax", "sigma_parse", "sigma_condition")


@pytest.mark.parametrize("name", sorted(BAD))
def test_check_and_convert_give_the_same_line_and_column(tmp_path: Path, name: str) -> None:
    """The same problem at the same place: ``check`` locates with ``convert``'s machinery (and SARIF reads the
    findings), not pySigma's bare 1:1."""
    folder = tmp_path / "rules"
    folder.mkdir()
    bad = folder / f"{name}.yml"
    bad.write_bytes(BAD[name][0])
    converted = CliRunner().invoke(
        main, ["convert", str(bad), "-t", "splunk", "--no-cache", "--jobs", "1", "--json"]
    )
    convert_at = {
        (r["error"]["line"], r["error"]["column"]) for r in json.loads(converted.stdout) if r.get("error")
    }
    checked = CliRunner().invoke(main, ["check", "--json", str(bad)])
    check_at = {
        (f["line"], f["column"])
        for f in json.loads(checked.stdout)
        if f["check"] in _LOAD_CHECKS and f["severity"] == "error"
    }
    assert convert_at, converted.output
    assert check_at == convert_at, (checked.stdout, converted.stdout)
