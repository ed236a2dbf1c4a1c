"""Locating the shared corpus beside the project (present in CI, absent in a user's clone)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
SIGMAHQ = CORPUS / "sigmahq"
AWS_RULES = SIGMAHQ / "rules" / "cloud" / "aws" / "cloudtrail"
CLOUDTRAIL = CORPUS / "cloudtrail"
OUR_RULES = REPO / "rules"
FOUNDING_RULE = OUR_RULES / "aws_attached_malicious_lambda_layer.yml"

requires_corpus = pytest.mark.skipif(
    not AWS_RULES.is_dir() or not CLOUDTRAIL.is_dir(),
    reason="../shared/corpus (SigmaHQ rules and CloudTrail records) is not beside the project; "
    "CI provides it",
)


def aws_rule_paths() -> list[Path]:
    return sorted(AWS_RULES.glob("*.yml"))


@cache
def cloudtrail_records() -> list[dict[str, Any]]:
    """Every corpus record, in file then line order."""
    records: list[dict[str, Any]] = []
    for path in sorted(CLOUDTRAIL.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in handle if line.strip())
    return records


def lambda_layer_record() -> dict[str, Any]:
    """The real UpdateFunctionConfiguration20150331v2 record (Stratus Red Team detonation, with layers)."""
    for record in cloudtrail_records():
        if (
            record.get("eventName") == "UpdateFunctionConfiguration20150331v2"
            and "layers" in (record.get("requestParameters") or {})
            and str(record.get("eventVersion")) == "1.08"
        ):
            return record
    raise LookupError("the real Lambda layer record is missing from the corpus")
