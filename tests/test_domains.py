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
from tests.support.corpus import CLOUDTRAIL

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


#: (file, line, root.key) -> why a member's value does not fit botocore's shape for it.
MEMBER_EXEMPT: dict[tuple[str, int, str], str] = {
    ("stratus-red-team_detonation-logs.jsonl", 101, "responseElements.lastUpdateStatusReasonCode"): "AWS is "
    "not consistent: Lambda writes 'Creating', which botocore's LastUpdateStatusReasonCode enum does not "
    "list. Response enums are the models' lists, not closed sets; the canonicalisation step does not use them",
    (PANTHER, 209, "requestParameters.resourcePolicy"): "Panther fixture: the policy document as an object "
    "where CloudTrail logs the string the caller sent",
    (PANTHER, 210, "requestParameters.accessPolicies"): "Panther fixture: policy document as an object",
    (PANTHER, 211, "requestParameters.policy"): "Panther fixture: policy document as an object",
}


def test_domains_hold_every_corpus_member() -> None:
    """requestParameters / responseElements top-level members against botocore's shapes per operation, for
    the protocols whose CloudTrail bodies mirror the model (checks/parameters.RELIABLE_PROTOCOLS); failed
    calls' responseElements (error bodies) are left out."""
    if not CLOUDTRAIL.is_dir():
        pytest.skip(f"the CloudTrail corpus is absent ({CLOUDTRAIL}): nothing to hold the domains against")
    from sigma_lambda_layer.checks.aws import _shapes, default_catalog
    from sigma_lambda_layer.checks.parameters import RELIABLE_PROTOCOLS

    catalog = default_catalog()

    def protocols(source: str) -> frozenset[str]:
        models = catalog.by_source_name.get(source.lower().removesuffix(".amazonaws.com"), ())
        return frozenset().union(*(_shapes(m.path).protocols for m in models))

    offenders: list[str] = []
    used: set[tuple[str, int, str]] = set()
    checked = 0
    for path in sorted(CLOUDTRAIL.glob("*.jsonl")):
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not text.strip():
                continue
            record = json.loads(text)
            source, operation = str(record.get("eventSource", "")), str(record.get("eventName", ""))
            for root in ("requestParameters", "responseElements"):
                body = record.get(root)
                if not isinstance(body, dict) or not protocols(source) & RELIABLE_PROTOCOLS[root]:
                    continue
                if root == "responseElements" and record.get("errorCode"):
                    continue
                for key, value in body.items():
                    dom = domains.member_domain(source, operation, root, key)
                    if dom is None:
                        continue
                    checked += 1
                    if dom.holds(value):
                        continue
                    if (path.name, line, f"{root}.{key}") in MEMBER_EXEMPT:
                        used.add((path.name, line, f"{root}.{key}"))
                        continue
                    offenders.append(f"{path.name}:{line}: {root}.{key} = {str(value)[:60]!r} ({dom.source})")
    stale = [f"{k}: {MEMBER_EXEMPT[k]}" for k in MEMBER_EXEMPT if k not in used]
    assert checked > 800, f"only {checked} members checked"
    assert not offenders, f"{len(offenders)} members outside their domain:\n" + "\n".join(offenders)
    assert not stale, "exemptions that match no record:\n" + "\n".join(stale)


def test_member_domains_from_botocore() -> None:
    lam = "lambda.amazonaws.com"
    runtime = domains.member_domain(
        lam, "UpdateFunctionConfiguration20150331v2", "responseElements", "runtime"
    )
    assert runtime is not None and runtime.kind == "enum" and "python3.12" in runtime.spellings
    layers = domains.member_domain(
        lam, "UpdateFunctionConfiguration20150331v2", "requestParameters", "layers"
    )
    assert layers is not None and layers.shape == "array"
    arn = domains.member_domain(
        lam, "UpdateFunctionConfiguration20150331v2", "responseElements", "functionArn"
    )
    assert arn is not None and arn.pattern and not arn.string_null  # an ARN is never the string "null"
    # request enums echo the caller (a failed call logs what was sent): listed, but free
    attribute = domains.member_domain(
        "ec2.amazonaws.com", "ModifyInstanceAttribute", "requestParameters", "attribute"
    )
    assert attribute is not None and attribute.kind == "free" and "userData" in attribute.spellings
    public = domains.member_domain(
        "rds.amazonaws.com", "RestoreDBInstanceFromDBSnapshot", "responseElements", "publiclyAccessible"
    )
    assert public is not None and public.kind == "boolean"


def test_check_reports_values_outside_a_fixed_domain(tmp_path: Path) -> None:
    """``sigma-lambda check``: a value no CloudTrail record can hold on a listed or lowercase field."""
    from sigma_lambda_layer.checks import check_paths

    rule = tmp_path / "r.yml"
    rule.write_text(
        "title: t\nid: 6f1c3a52-5b2e-4c1e-9d57-0c7a9d1e4b10\nstatus: test\ndescription: d\nauthor: a\n"
        "date: 2024-01-01\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n"
        "    userIdentity.type: IAMUsr\n    responseElements.ConsoleLogin: success\n"
        "    eventSource|cased: IAM.amazonaws.com\n  condition: sel\nlevel: low\n",
        encoding="utf-8",
    )
    found = [f for f in check_paths([rule]) if f.check == "cloudtrail_value_domain"]
    assert [(f.line, f.message.split(",")[0]) for f in found] == [
        (
            10,
            "userIdentity.type: 'IAMUsr' matches none of the values CloudTrail writes in userIdentity.type: AWSAccount",
        ),
        (
            12,
            "eventSource|cased: 'IAM.amazonaws.com' never matches: CloudTrail writes eventSource in lowercase",
        ),
    ]  # responseElements.ConsoleLogin: success is case-insensitive, so it matches Success: no finding
    assert "did you mean 'IAMUser'" in (found[0].hint or "")


def test_domains_operations_file_matches_botocore(request: pytest.FixtureRequest) -> None:
    """sigma_lambda_layer/data/aws_operations.json is generated from the installed botocore's models
    (``--update-golden`` rewrites it); eventName's domain reads it instead of parsing every model."""
    data = domains.operations_data()
    text = domains.operations_text(data)
    if request.config.getoption("--update-golden"):
        domains.OPERATIONS_FILE.write_text(text, encoding="utf-8")
    current = domains.OPERATIONS_FILE.read_text(encoding="utf-8")
    assert current == text, (
        f"aws_operations.json was generated from another botocore than {data['botocore']}: "
        "run pytest tests/test_domains.py --update-golden and review the diff"
    )


def _nulls(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nulls(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for v in value for p in _nulls(v, f"{path}{{}}")]
    return []


def test_no_json_null_below_the_request_and_response_roots() -> None:
    """member_null_readings rules out a JSON null inside requestParameters/responseElements (AWS omits an
    absent member): no corpus record has one there."""
    if not CLOUDTRAIL.is_dir():
        pytest.skip(f"the CloudTrail corpus is absent ({CLOUDTRAIL})")
    import json

    below = []
    for path in sorted(CLOUDTRAIL.glob("*.jsonl")):
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if text.strip():
                record = json.loads(text)
                for root in ("requestParameters", "responseElements"):
                    below += [f"{path.name}:{line}: {p}" for p in _nulls(record.get(root), root) if p != root]
    assert below == []


def test_member_null_readings() -> None:
    """(json_null, string_null) per operation from botocore: a request member echoes the caller (may be
    "null"); a response enum cannot be; a path ending in an object or unknown to the model has none."""
    lam = "lambda.amazonaws.com"
    assert domains.member_null_readings(
        lam, "UpdateFunctionConfiguration20150331v2", "requestParameters.layers"
    )
    assert domains.member_null_readings(lam, "UpdateFunctionConfiguration", "requestParameters.layers") == (
        False,
        True,
    )
    iam = "iam.amazonaws.com"
    assert domains.member_null_readings(iam, "CreateAccessKey", "responseElements.accessKey.status") == (
        False,
        False,
    )
    # userId's pattern [\w]+ admits "null"
    assert domains.member_null_readings(iam, "CreateUser", "responseElements.user.userId") == (False, True)
    # one API version (2014-11-11) has no State member: no answer rather than a guess
    assert domains.member_null_readings(lam, "GetFunction", "responseElements.configuration.state") is None
    rds = "rds.amazonaws.com"
    assert (
        domains.member_null_readings(rds, "ModifyDBInstance", "responseElements.pendingModifiedValues")
        is None
    )
    assert domains.member_null_readings(rds, "ModifyDBInstance", "responseElements.noSuchMember") is None
    assert domains.member_null_readings(rds, "ModifyDBInstance", "eventName") is None
