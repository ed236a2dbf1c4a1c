"""Every record of the CloudTrail corpus against the value domains (sigma_lambda_layer/fields/domains.py).

The canonicalisation step rewrites ``eventName: createuser`` to the exact ``CreateUser`` because AWS writes
each value of a canonical field in one spelling. A real record with another spelling (or a value outside a
listed domain) would make that rewrite miss it, so every canonical field of every record is checked, all
offenders are collected, and the test fails once with the whole list.

Panther's rule-test fixtures are "partly synthetic or redacted" (the corpus's SOURCE.md): the values below are
theirs, not AWS's, and are exempt one by one with the reason; an exemption that no longer matches fails too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sigma_lambda_layer.fields import domains
from tests.corpus import CLOUDTRAIL

PANTHER = "panther-analysis_rule_test_logs.jsonl"

#: (file, line or None for every line, field) -> why the value is not one AWS writes.
EXEMPT: dict[tuple[str, int | None, str], str] = {
    (PANTHER, None, "sessionCredentialFromConsole"): "Panther's normalised fixtures hold a JSON boolean; "
    "CloudTrail writes the string 'true' (User Guide, record contents; every real record in the corpus)",
    (PANTHER, 30, "eventName"): "'ListBucket' is the IAM action; S3 logs the ListObjects API",
    (PANTHER, 45, "userIdentity.sessionContext.sessionIssuer.type"): "'lambda' is a made-up issuer type",
    (PANTHER, 74, "readOnly"): "the string 'True' where CloudTrail writes a JSON boolean",
    (PANTHER, 74, "managementEvent"): "the string 'True' where CloudTrail writes a JSON boolean",
    (PANTHER, 111, "eventName"): "'NotCreateUser' is a fixture's negative example",
    (PANTHER, 118, "eventName"): "'DetachUserGroup' is no IAM operation (RemoveUserFromGroup is)",
    (PANTHER, 258, "eventName"): "'DescribeTrail': the CloudTrail API is DescribeTrails",
    (PANTHER, 289, "eventName"): "'ListAllMyBuckets' is the IAM action; S3 logs the ListBuckets API",
}

_MISSING = object()


def _leaf(record: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(record, dict) or key not in record:
            return _MISSING
        record = record[key]
    return record


def test_domains_hold_every_corpus_record() -> None:
    if not CLOUDTRAIL.is_dir():
        pytest.skip(f"the CloudTrail corpus is absent ({CLOUDTRAIL}): nothing to hold the domains against")
    fields = list(domains.canonical_fields())
    offenders: list[str] = []
    used: set[tuple[str, int | None, str]] = set()
    records = 0
    for path in sorted(CLOUDTRAIL.glob("*.jsonl")):
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not text.strip():
                continue
            records += 1
            record = json.loads(text)
            for field in fields:
                value = _leaf(record, field)
                dom = domains.domain(field)
                if value is _MISSING or dom is None or dom.admits(value):
                    continue
                key = next(
                    (k for k in ((path.name, line, field), (path.name, None, field)) if k in EXEMPT), None
                )
                if key is not None:
                    used.add(key)
                    continue
                offenders.append(f"{path.name}:{line}: {field} = {value!r} ({dom.kind} domain)")
    stale = [f"{k}: {EXEMPT[k]}" for k in EXEMPT if k not in used]
    assert records > 700, f"only {records} corpus records read"
    assert not offenders, f"{len(offenders)} non-canonical values in canonical fields:\n" + "\n".join(
        offenders
    )
    assert not stale, "exemptions that match no record:\n" + "\n".join(stale)


def test_domains_are_canonical_one_spelling_each() -> None:
    """A listed domain never holds two spellings of one value (else the rewrite would have to choose)."""
    for field, dom in domains.DOMAINS.items():
        if dom.kind == "enum":
            folded = [v.lower() for v in dom.spellings]
            assert len(folded) == len(set(folded)), field
        if dom.canonical:
            assert "null" not in {v.lower() for v in dom.values() or ()}, field
    # eventName is canonical per event source; across services botocore has a few pairs (CreateDBInstance,
    # CreateDbInstance), which the canonicalisation step leaves case-insensitive unless the service is pinned.
    for source in ("iam.amazonaws.com", "lambda.amazonaws.com", "s3.amazonaws.com", "signin.amazonaws.com"):
        names = domains.event_names(source)
        assert len({n.lower() for n in names}) == len(names), source


def test_domains_event_names_cover_lambda_versions_and_console_events() -> None:
    names = domains.event_names()
    assert {
        "UpdateFunctionConfiguration20150331v2",
        "ConsoleLogin",
        "CreateUser",
        "CreateDBInstance",
    } <= names
    assert domains.domain("eventName") is not None and domains.domain("eventName").admits("ConsoleLogin")  # type: ignore[union-attr]
    assert not domains.domain("eventSource").admits("Lambda.amazonaws.com")  # type: ignore[union-attr]
    assert domains.domain("additionalEventData.MFAUsed").canonical is False  # type: ignore[union-attr]


def test_domains_table_in_the_docs_is_generated(request: pytest.FixtureRequest) -> None:
    """docs/value-domains.md shows the domains from the data; ``--update-golden`` rewrites the table."""
    page = Path(__file__).resolve().parents[1] / "docs" / "value-domains.md"
    text = page.read_text(encoding="utf-8")
    start, end = "<!-- value-domains:start -->\n", "\n<!-- value-domains:end -->"
    table = domains.markdown_table()
    current = text[text.index(start) + len(start) : text.index(end)]
    if request.config.getoption("--update-golden") and current != table:
        page.write_text(text.replace(start + current + end, start + table + end), encoding="utf-8")
        current = table
    assert current == table, (
        "docs/value-domains.md: the table differs from fields/domains.py; --update-golden"
    )
