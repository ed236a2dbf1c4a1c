"""Rule input: every bad file gives one located error and never stops the others from loading."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sigma_lambda_layer.conversion import rules_of as _rules_of
from sigma_lambda_layer.errors import RuleLoadError
from sigma_lambda_layer.loading import (
    MAX_FILE_BYTES,
    STDIN,
    LoadResult,
    _looks_like_yaml_text,
    expand_inputs,
    locate,
    parse_text,
    read_file,
)
from tests.support.rulekit import CONSOLE_LOGIN, rule_yaml

REPO = Path(__file__).resolve().parents[1]
FOUNDING = REPO / "rules" / "aws_attached_malicious_lambda_layer.yml"

GOOD = rule_yaml(CONSOLE_LOGIN, title="Good")


def load(inputs: Sequence[Any] | Any, *, stdin_text: str | None = None) -> LoadResult:
    """Load rules from paths, folders, ``-`` (stdin), YAML strings or pySigma objects (the batch engine's
    reading, without its workers and cache: what these tests check is the loader's).

    Nothing raises for a bad rule: every problem becomes a located :class:`RuleLoadError` in the result, and
    every good rule is still loaded.
    """
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaRuleBase

    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    result = LoadResult()
    paths: list[str | Path] = []
    for item in items:
        if isinstance(item, (SigmaCollection, SigmaRuleBase)):
            result.objects.append(item)
        elif isinstance(item, str) and _looks_like_yaml_text(item):
            try:
                result.files.append(parse_text(item, "<string>"))
            except RuleLoadError as exc:
                result.errors.append(exc)
        elif isinstance(item, (str, Path)):
            paths.append(item)
        else:
            raise TypeError(f"cannot load a rule from {type(item).__name__}")
    for entry in expand_inputs(paths):
        try:
            if isinstance(entry, RuleLoadError):
                raise entry
            if entry == STDIN:
                text = stdin_text if stdin_text is not None else sys.stdin.read()
                result.files.append(parse_text(text, "<stdin>"))
            else:
                assert isinstance(entry, Path)
                result.files.append(read_file(entry))
        except RuleLoadError as exc:
            result.errors.append(exc)
    return result


def _only_error(tmp_path: Path, name: str, content: bytes) -> RuleLoadError:
    bad = tmp_path / name
    bad.write_bytes(content)
    (tmp_path / "good.yml").write_text(GOOD)
    result = load([tmp_path])
    sources, errors = _rules_of(result)
    assert [s.rule.title for s in sources] == ["Good"], "the good rule must still load"
    assert len(errors) == 1, errors
    assert errors[0].location.path == str(bad)
    assert isinstance(errors[0], RuleLoadError)
    return errors[0]


def test_loading_founding_rule() -> None:
    sources, errors = _rules_of(load([FOUNDING]))
    assert errors == []
    assert [s.rule.title for s in sources] == ["AWS Attached Malicious Lambda Layer"]
    assert sources[0].path == str(FOUNDING)


def test_loading_malformed_yaml_has_line_and_column(tmp_path: Path) -> None:
    error = _only_error(tmp_path, "bad.yml", b"title: x\ndetection:\n  sel: [a, b\n  condition: sel\n")
    assert error.location.line is not None and error.location.column is not None
    assert "invalid YAML" in error.message


def test_loading_duplicate_key(tmp_path: Path) -> None:
    error = _only_error(tmp_path, "dup.yml", GOOD.replace("title: Good", "title: A\ntitle: B").encode())
    assert "duplicate key 'title'" in error.message
    assert error.location.line == 2


def test_loading_not_utf8(tmp_path: Path) -> None:
    error = _only_error(tmp_path, "latin.yml", b"title: caf\xe9\n")
    assert "not valid UTF-8" in error.message
    assert (error.location.line, error.location.column) == (1, 11)


def test_loading_binary_file(tmp_path: Path) -> None:
    error = _only_error(tmp_path, "bin.yml", b"\x7fELF\x00\x01\x02")
    assert "binary" in error.message


def test_loading_empty_file(tmp_path: Path) -> None:
    error = _only_error(tmp_path, "empty.yml", b"")
    assert "no Sigma rule" in error.message


def test_loading_list_instead_of_mapping(tmp_path: Path) -> None:
    error = _only_error(tmp_path, "list.yml", b"- a\n- b\n")
    assert "not a mapping" in error.message


def test_loading_huge_file(tmp_path: Path) -> None:
    error = _only_error(tmp_path, "huge.yml", b"#" * (MAX_FILE_BYTES + 1))
    assert "limit" in error.message


def test_loading_billion_laughs_is_bounded(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 9)]
    error = _only_error(tmp_path, "laughs.yml", ("\n".join(lines) + "\n").encode())
    assert "expands to more than" in error.message


def test_loading_symlink_loop_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD)
    (tmp_path / "loop").symlink_to(tmp_path)
    sources, errors = _rules_of(load([tmp_path]))
    assert [s.rule.title for s in sources] == ["Good"]
    assert errors == []


def test_loading_missing_path() -> None:
    result = load(["/nonexistent/rule.yml"])
    assert [str(e.location) for e in result.errors] == ["/nonexistent/rule.yml"]


def test_loading_pysigma_error_is_located(tmp_path: Path) -> None:
    text = GOOD.replace("eventName: ConsoleLogin", "eventName|foo: ConsoleLogin")
    error = _only_error(tmp_path, "mod.yml", text.encode())
    assert "foo" in error.message
    assert error.location.line == 7


def test_loading_multi_document_keeps_good_documents(tmp_path: Path) -> None:
    bad = GOOD.replace("Good", "Bad").replace("condition: selection", "condition: missing_sel")
    (tmp_path / "multi.yml").write_text(GOOD.replace("Good", "First") + "---\n" + bad)
    sources, errors = _rules_of(load([tmp_path / "multi.yml"]))
    assert [s.rule.title for s in sources] == ["First"]
    assert len(errors) == 1
    assert "missing_sel" in errors[0].message
    assert errors[0].location.line == 17  # the condition line of the second document


def test_loading_yaml_string_and_pysigma_objects() -> None:
    from sigma.collection import SigmaCollection

    sources, errors = _rules_of(load([GOOD, SigmaCollection.from_yaml(GOOD.replace("Good", "Obj"))]))
    assert errors == []
    assert sorted(s.rule.title for s in sources) == ["Good", "Obj"]


def test_loading_locate_finds_detection_key() -> None:
    text = FOUNDING.read_text()
    assert locate(text, "something wrong with 'eventName'") == (15, 9)


@pytest.mark.parametrize("name", ["rule.yaml", "rule.yml"])
def test_loading_yaml_extensions(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(GOOD)
    sources, _ = _rules_of(load([tmp_path]))
    assert len(sources) == 1
