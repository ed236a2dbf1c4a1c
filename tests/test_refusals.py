"""Every refusal is an unsupported error through one path, located at the YAML node it refuses.

A rule of another log source is refused on every target, however it arrives (a YAML file, or a pySigma
object in a notebook, which skips the batch engine's quick check); a target's refusal of a field or
construct points at that field or value in the rule, not at the top of the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaRuleLocation

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.errors import UnsupportedConstructError, is_unsupported, unsupported
from sigma_lambda_layer.registry import TARGETS
from tests.support.corpus import aws_rule_paths, requires_corpus

WINDOWS_RULE: Final = """\
title: Command shell started
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\\\cmd.exe'
    condition: selection
"""


@pytest.mark.parametrize("target", list(TARGETS))
def test_non_cloudtrail_rule_object_is_refused(target: str, tmp_path: Path) -> None:
    """The notebook path: a pySigma rule object goes straight to the target's pipeline."""
    path = tmp_path / "windows.yml"
    path.write_text(WINDOWS_RULE)
    rule = SigmaCollection.from_yaml(WINDOWS_RULE, source=SigmaRuleLocation(path)).rules[0]
    [result] = convert(rule, target=target, collect_errors=True)
    assert result.output is None and isinstance(result.error, UnsupportedConstructError)
    assert is_unsupported(result.error)
    assert "is not AWS CloudTrail" in result.error.message and result.error.hint
    assert result.error.location.path == str(path)


@pytest.mark.parametrize("target", list(TARGETS))
def test_non_cloudtrail_rule_through_the_pipeline_is_located(target: str, tmp_path: Path) -> None:
    """With an extra pipeline the file goes through pySigma: the pipeline refuses it, at ``logsource:``."""
    path = tmp_path / "windows.yml"
    path.write_text(WINDOWS_RULE)
    extra = tmp_path / "extra.yml"
    extra.write_text("name: nothing\npriority: 100\ntransformations: []\n")
    [result] = convert(path, target=target, pipelines=[str(extra)], collect_errors=True)
    assert isinstance(result.error, UnsupportedConstructError)
    assert (result.error.location.line, result.error.location.column) == (2, 1)


def test_unsupported_raises_our_error_with_what_it_refuses() -> None:
    with pytest.raises(UnsupportedConstructError) as caught:
        unsupported("no", construct="|re", field="eventName", value="a.*", hint="h")
    error = caught.value
    assert (error.construct, error.field, error.value, error.hint) == ("|re", "eventName", "a.*", "h")
    assert is_unsupported(error)


def _segment(name: str) -> str:
    return name.split("|")[0].rsplit(".", 1)[-1].replace("_", "").lower()


def _node_at(text: str, line: int, column: int) -> tuple[str, int] | None:
    """The scalar (key or value) that starts at ``line:column``, and the line of ``detection:``."""
    root = yaml.compose(text)
    assert isinstance(root, yaml.MappingNode)
    detection_line = next(k.start_mark.line + 1 for k, _ in root.value if k.value == "detection")
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if (node.start_mark.line + 1, node.start_mark.column + 1) == (line, column):
                return str(node.value), detection_line
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
        elif isinstance(node, yaml.MappingNode):
            stack += [n for pair in node.value for n in pair]
    return None


@requires_corpus
def test_every_refusal_of_a_sigmahq_rule_points_at_its_node() -> None:
    """Over SigmaHQ's AWS rules: each target's refusal names a line and column, and the YAML node there is
    the detection key or value the message is about (its field's last path segment is in the message)."""
    paths = aws_rule_paths()
    results = convert(paths, target=list(TARGETS), collect_errors=True)
    refused = [r for r in results if r.error is not None]
    assert refused, "no SigmaHQ AWS rule is refused on any target: the test would prove nothing"
    problems = []
    for result in refused:
        error = result.error
        assert error is not None and result.path is not None
        where = f"{Path(result.path).name} on {result.target}: {error.location.line}:{error.location.column}"
        if not is_unsupported(error):
            problems.append(f"{where}: not an unsupported error: {error.message}")
            continue
        line, column = error.location.line, error.location.column
        if line is None or column is None:
            problems.append(f"{where}: no exact position: {error.message}")
            continue
        found = _node_at(Path(result.path).read_text(), line, column)
        if found is None or line <= found[1]:
            problems.append(f"{where}: not a detection key or value: {error.message}")
            continue
        segment = _segment(found[0])
        mentioned = {_segment(m) for m in re.findall(r"'([^']+)'", error.message)}
        if segment not in mentioned:
            problems.append(f"{where}: points at {found[0]!r}, the message names {sorted(mentioned)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "logsource",
    [
        {"product": "aws", "service": "cloudtrail"},
        {"product": "aws", "service": "cloudtrail", "category": "anything"},
        {"product": "AWS", "service": "cloudtrail"},
        {"product": "aws"},
        {"product": "windows", "category": "process_creation"},
        {"service": "cloudtrail"},
    ],
)
def test_batch_quick_check_is_the_pipeline_condition(logsource: dict[str, str]) -> None:
    """``builder.covers`` (the batch engine's check before parsing) agrees with the pipelines' condition."""
    from sigma.rule import SigmaRule

    from sigma_lambda_layer.pipelines.builder import cloudtrail_condition, covers

    rule = SigmaRule.from_dict(
        {"title": "t", "logsource": logsource, "detection": {"sel": {"a": "b"}, "condition": "sel"}}
    )
    assert covers(logsource) is cloudtrail_condition().match(rule)


def test_empty_log_source_is_not_cloudtrail() -> None:
    from sigma_lambda_layer.pipelines.builder import covers

    assert covers({}) is False and covers({"definition": "x"}) is False


@requires_corpus
def test_refusal_locations_survive_workers_and_the_cache(tmp_path: Path) -> None:
    """Errors cross processes and the cache as data: class, line and column must come back the same."""

    def shape(results: list[Any]) -> list[tuple[Any, ...]]:
        return [
            (r.path, r.target, type(r.error).__name__, r.error.location.line, r.error.location.column)
            for r in results
            if r.error is not None
        ]

    paths = aws_rule_paths()
    alone = shape(convert(paths, target=list(TARGETS), collect_errors=True))
    assert alone
    assert shape(convert(paths, target=list(TARGETS), collect_errors=True, jobs=2)) == alone
    for _ in range(2):  # filling the cache, then reading it
        assert shape(convert(paths, target=list(TARGETS), collect_errors=True, cache_dir=tmp_path)) == alone
