"""The labelled test pack (tests/pack/) against the reference evaluator.

Every rule must have at least one true positive and one near miss, and every hand-written label must agree
with the evaluator, except documented expected failures (rules that cannot fire as written, docs/findings.md),
which must disagree exactly as documented. The rules are loaded without any processing pipeline: the labels
are about the rule's Sigma meaning on raw CloudTrail records.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from sigma_lambda_layer.evaluator import evaluate
from tests.support.pack_loader import (
    CLOUDTRAIL,
    REPO,
    SIGMAHQ_AWS_RULES,
    PackEntry,
    load_pack,
    load_pack_file,
    pack_files,
)

FINDINGS = REPO / "docs" / "findings.md"
OUR_RULES = sorted(p for p in (REPO / "rules").glob("*.yml") if not p.name.endswith(".tests.yml"))

requires_corpus = pytest.mark.skipif(
    not SIGMAHQ_AWS_RULES.is_dir() or not CLOUDTRAIL.is_dir(),
    reason="../shared/corpus (SigmaHQ rules and CloudTrail records) is not beside the project; "
    "CI provides it",
)


@cache
def _rule(path: Path) -> SigmaRule:
    rule = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))[0]
    assert isinstance(rule, SigmaRule)
    return rule


def _counts(entries: list[PackEntry]) -> dict[Path, Counter[str]]:
    counts: dict[Path, Counter[str]] = {}
    for entry in entries:
        counts.setdefault(entry.rule_path, Counter())["positive" if entry.should_match else "near_miss"] += 1
    return counts


def _rule_path(pack_file: Path) -> Path:
    entries = load_pack_file(pack_file)
    return entries[0].rule_path if entries else pack_file


def test_pack_covers_our_rules() -> None:
    """Our rules need no corpus: their pack entries are all crafted and always load."""
    counts = _counts(load_pack())
    missing = [
        path.name
        for path in OUR_RULES
        if counts.get(path, Counter())["positive"] < 1 or counts.get(path, Counter())["near_miss"] < 1
    ]
    assert OUR_RULES and missing == []


@requires_corpus
def test_pack_covers_every_sigmahq_aws_rule() -> None:
    rules = sorted(SIGMAHQ_AWS_RULES.glob("*.yml"))
    assert len(rules) == 57
    counts = _counts(load_pack())
    missing = [
        f"{path.name}: {dict(counts.get(path, Counter()))}"
        for path in rules
        if counts.get(path, Counter())["positive"] < 1 or counts.get(path, Counter())["near_miss"] < 1
    ]
    assert missing == []


def test_pack_files_name_their_rule() -> None:
    """One file per rule, named after the rule file's stem (``<stem>.tests.yml`` beside our own rules)."""
    wrong = [
        path.name
        for path in pack_files()
        if _rule_path(path) != path
        and _rule_path(path).stem != path.name.removesuffix(".tests.yml").removesuffix(".yml")
    ]
    assert wrong == []


def test_pack_crafted_records_cite_their_shape() -> None:
    entries = [entry for entry in load_pack() if entry.crafted]
    assert entries
    bad = [
        entry.name
        for entry in entries
        if not str(entry.origin.get("doc", "")).startswith("https://")
        or not re.fullmatch(r"[\w.-]+\.jsonl:\d+", str(entry.origin.get("based_on", "")))
        or "_origin" in entry.record
    ]
    assert bad == []


def test_pack_expected_failures_are_documented() -> None:
    """Each expected failure names a finding that docs/findings.md has as a heading."""
    headings = set(re.findall(r"^## (F\d+)\b", FINDINGS.read_text(encoding="utf-8"), flags=re.MULTILINE))
    undocumented = [
        entry.name
        for entry in load_pack()
        if entry.expected_failure and (entry.finding not in headings or not entry.expected_failure_reason)
    ]
    assert undocumented == []


def test_pack_labels_agree_with_evaluator(capsys: pytest.CaptureFixture[str]) -> None:
    """Collect every disagreement and fail once; print the per-rule summary (run with -s to see it)."""
    entries = load_pack()
    assert entries
    disagreements: list[str] = []
    summary: dict[str, Counter[str]] = {}
    for entry in entries:
        matched = evaluate(_rule(entry.rule_path), entry.record)
        row = summary.setdefault(entry.rule_path.name, Counter())
        row["positive" if entry.should_match else "near_miss"] += 1
        if entry.expected_failure:
            row["expected_failure"] += 1
        if matched is not entry.sigma_verdict:
            label = f"expect {entry.expect}" + (" (expected failure)" if entry.expected_failure else "")
            disagreements.append(f"{entry.name}: {label}, evaluator says {matched}: {entry.reason}")
    with capsys.disabled():
        print(f"\npack: {len(entries)} entries over {len(summary)} rules")
        for name, row in sorted(summary.items()):
            xfail = f"  expected failures {row['expected_failure']}" if row["expected_failure"] else ""
            print(f"  {name:<66} +{row['positive']:<2} -{row['near_miss']:<2}{xfail}")
    assert disagreements == []
