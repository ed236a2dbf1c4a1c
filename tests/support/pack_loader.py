"""The labelled CloudTrail test pack: hand-labelled records for every SigmaHQ AWS rule and every rule of ours.

A rule that matches no corpus record is only "proven" to match nothing, which a broken query also does. The
pack gives each rule at least one true positive and one near miss, with a verdict written by hand (never
copied from a compiler or the evaluator) and a reason.

Format: one YAML file per rule in ``tests/pack/<rule-file-stem>.yml``::

    rule: rules/aws_lambda_layer_attached_to_function.yml        # relative to the repository, or
    # rule: sigmahq/rules/cloud/aws/cloudtrail/<file>.yml         # relative to ../shared/corpus
    entries:
      - id: layer-attached                # unique within the file
        expect: match                     # or no_match: the verdict the rule's author meant
        reason: successful update naming a layer version ARN
        record: {...}                     # a crafted record, with an ``_origin`` key, or
        # corpus: stratus-red-team_detonation-logs.jsonl:101    # a real record by file and line
        expected_failure: true            # optional: the rule as written cannot give ``expect``
        expected_failure_reason: ...      #   (documented in docs/findings.md, see ``finding``)
        finding: F1                       # optional: the docs/findings.md section it illustrates

Crafted records carry ``_origin`` (``crafted``, ``based_on`` a corpus record, ``doc`` the documentation page
the shape follows, optional ``note``); :func:`load_pack` moves it to :attr:`PackEntry.origin`, so
:attr:`PackEntry.record` is exactly what a SIEM would hold. Corpus records are resolved from
``../shared/corpus/cloudtrail``; SigmaHQ rules from ``../shared/corpus/sigmahq``. When the corpus is absent
those entries are left out (``load_pack`` never fails for it), and only our own rules' crafted entries remain.

Usage::

    from tests.support.pack_loader import load_pack
    for entry in load_pack():
        rule = SigmaCollection.from_yaml(entry.rule_path.read_text())[0]
        assert evaluate(rule, entry.record) is entry.sigma_verdict

:attr:`PackEntry.sigma_verdict` is what a faithful implementation of the rule *as written* returns:
``expect``, or its opposite for a documented expected failure. Targets are compared with it; ``expect`` says
what the rule should have done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "tests" / "pack"
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
CLOUDTRAIL = CORPUS / "cloudtrail"
SIGMAHQ_AWS_RULES = CORPUS / "sigmahq" / "rules" / "cloud" / "aws" / "cloudtrail"

Verdict = Literal["match", "no_match"]


@dataclass(frozen=True)
class PackEntry:
    """One labelled record for one rule."""

    #: the pack file it comes from (``tests/pack/<rule-stem>.yml``)
    pack_file: Path
    #: the Sigma rule file the label is about
    rule_path: Path
    #: unique within its pack file; ``<pack stem>::<id>`` is unique in the pack
    entry_id: str
    #: the CloudTrail record, without ``_origin``
    record: dict[str, Any] = field(repr=False)
    #: the verdict the rule's author meant, written by hand
    expect: Verdict
    #: why, in a few words
    reason: str
    #: ``{"corpus": "file.jsonl:line"}`` for a real record, the ``_origin`` dict for a crafted one
    origin: dict[str, Any]
    #: True when the rule as written cannot give ``expect`` (see docs/findings.md)
    expected_failure: bool = False
    expected_failure_reason: str | None = None
    #: the docs/findings.md finding id, when the entry illustrates one
    finding: str | None = None

    @property
    def name(self) -> str:
        return f"{self.pack_file.stem}::{self.entry_id}"

    @property
    def should_match(self) -> bool:
        return self.expect == "match"

    @property
    def sigma_verdict(self) -> bool:
        """Whether the rule as written matches the record (``expect``, flipped for an expected failure)."""
        return self.should_match is not self.expected_failure

    @property
    def crafted(self) -> bool:
        return bool(self.origin.get("crafted"))


class PackError(ValueError):
    """A malformed pack file (a bug in the pack, not a missing corpus)."""


def pack_files() -> list[Path]:
    """The pack: ``tests/pack/*.yml`` plus our own rules' tests, ``rules/<rule>.tests.yml``."""
    return sorted(PACK.glob("*.yml")) + sorted((REPO / "rules").glob("*.tests.yml"))


def resolve_rule(reference: str) -> Path:
    """``sigmahq/...`` is relative to the shared corpus, anything else to the repository."""
    if reference.startswith("sigmahq/"):
        return CORPUS / reference
    return REPO / reference


@cache
def _corpus_lines(name: str) -> tuple[str, ...]:
    return tuple((CLOUDTRAIL / name).read_text(encoding="utf-8").splitlines())


def corpus_record(reference: str) -> dict[str, Any] | None:
    """The real record ``file.jsonl:line`` (1-based), or None when the corpus is absent."""
    name, _, line = reference.rpartition(":")
    if not name or not line.isdigit():
        raise PackError(f"corpus reference {reference!r} is not file.jsonl:line")
    if not (CLOUDTRAIL / name).is_file():
        return None
    lines = _corpus_lines(name)
    number = int(line)
    if not 1 <= number <= len(lines):
        raise PackError(f"corpus reference {reference!r}: {name} has {len(lines)} lines")
    record = json.loads(lines[number - 1])
    if not isinstance(record, dict):
        raise PackError(f"corpus reference {reference!r} is not a JSON object")
    return record


def _entry(path: Path, rule_path: Path, raw: dict[str, Any]) -> PackEntry | None:
    where = f"{path.name}: entry {raw.get('id')!r}"
    if raw.get("expect") not in ("match", "no_match"):
        raise PackError(f"{where}: expect must be match or no_match")
    if not raw.get("reason"):
        raise PackError(f"{where}: a hand-written reason is required")
    if ("record" in raw) == ("corpus" in raw):
        raise PackError(f"{where}: give exactly one of record and corpus")
    if "corpus" in raw:
        record = corpus_record(str(raw["corpus"]))
        if record is None:
            return None
        origin: dict[str, Any] = {"corpus": raw["corpus"]}
    else:
        record = dict(raw["record"])
        origin = record.pop("_origin", None) or {}
        if not origin.get("crafted") or not origin.get("doc"):
            raise PackError(f"{where}: a crafted record needs _origin with crafted: true and doc")
    expected_failure = bool(raw.get("expected_failure", False))
    if expected_failure and not raw.get("expected_failure_reason"):
        raise PackError(f"{where}: an expected failure needs expected_failure_reason")
    return PackEntry(
        pack_file=path,
        rule_path=rule_path,
        entry_id=str(raw["id"]),
        record=record,
        expect=raw["expect"],
        reason=str(raw["reason"]),
        origin=origin,
        expected_failure=expected_failure,
        expected_failure_reason=raw.get("expected_failure_reason"),
        finding=raw.get("finding"),
    )


def load_pack_file(path: Path) -> list[PackEntry]:
    """The usable entries of one pack file ([] when its rule or corpus records are absent)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    sibling = path.name.endswith(".tests.yml")  # a rule's own tests file names no rule: it is its sibling
    if (
        not isinstance(data, dict)
        or not ("rule" in data or sibling)
        or not isinstance(data.get("entries"), list)
    ):
        raise PackError(f"{path.name}: expected a mapping with rule and entries")
    if "rule" in data:
        rule_path = resolve_rule(str(data["rule"]))
    else:
        rule_path = path.with_name(path.name.removesuffix(".tests.yml") + ".yml")
    if not rule_path.is_file():
        return []
    entries = [_entry(path, rule_path, raw) for raw in data["entries"]]
    ids = [raw.get("id") for raw in data["entries"]]
    if len(set(ids)) != len(ids):
        raise PackError(f"{path.name}: entry ids must be unique")
    return [entry for entry in entries if entry is not None]


def load_pack() -> list[PackEntry]:
    """Every usable entry of the pack, in file then entry order."""
    return [entry for path in pack_files() for entry in load_pack_file(path)]
