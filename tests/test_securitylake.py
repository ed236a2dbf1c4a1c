"""The securitylake target's data: Security Lake's OCSF table, the CloudTrail -> OCSF field table, the pipeline.

The mapping is proved without any backend first: every rule of the fidelity table, renamed by the pipeline, is
evaluated by the reference evaluator on each record's OCSF row (``ocsf_row``, JSON-text columns read back as
JSON) and must match exactly the records the original rule matches on the CloudTrail record. A rename to the
wrong column, a lost value or a wrong boolean shows up there as a disagreement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND, ConditionOR
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.fields import ocsf
from sigma_lambda_layer.fields.athena import duckdb_type
from sigma_lambda_layer.fields.ocsf import FIELD_MAP, REFUSED, ROW, SOURCES, complete, ocsf_row
from sigma_lambda_layer.pipelines.securitylake import aws_cloudtrail_securitylake
from tests.support.corpus import cloudtrail_records, requires_corpus
from tests.support.rulekit import rule_yaml


def _renamed(detection: str) -> SigmaRule:
    rule = SigmaCollection.from_yaml(rule_yaml(detection)).rules[0]
    assert isinstance(rule, SigmaRule)
    aws_cloudtrail_securitylake().apply(rule)
    return rule


def _evaluable(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the evaluator walks it: the JSON-text columns parsed (a query reads inside them)."""
    doc: dict[str, Any] = json.loads(json.dumps(row))
    for side in ("request", "response"):
        member = doc.get("api", {}).get(side, {})
        if "data" in member:
            member["data"] = json.loads(member["data"])
    return doc


def test_securitylake_field_table_points_at_columns_of_the_table() -> None:
    for name, home in FIELD_MAP.items():
        assert ocsf.column(home.path) is not None, (name, home.path)
        assert home.source in SOURCES, name
    for target in ocsf.JSON_SUBTREES.values():
        assert getattr(ocsf.column(target), "kind", None) == "json"
    assert getattr(ocsf.column("unmapped.tlsDetails.tlsVersion"), "kind", None) == "string"  # the map's value
    assert getattr(ocsf.column("resources.owner.account.uid"), "kind", None) == "string"
    assert getattr(ocsf.column("time_dt"), "kind", None) == "timestamp"
    assert ocsf.column("api.nonexistent") is None
    for name in REFUSED:
        with pytest.raises(ocsf.NoOcsfHome):
            ocsf.ocsf_field(name)


@requires_corpus
def test_securitylake_rows_load_into_the_table_types() -> None:
    """Every corpus record's row fits the declared column types (DuckDB's strict JSON-to-STRUCT cast)."""
    import duckdb

    rows = [complete(ROW, ocsf_row(r)) for r in cloudtrail_records()]
    con = duckdb.connect()
    con.execute("CREATE TABLE j (id INTEGER, doc JSON)")
    con.executemany("INSERT INTO j VALUES (?, ?)", [(i, json.dumps(r)) for i, r in enumerate(rows)])
    con.execute(f"CREATE TABLE t AS SELECT id, unnest(CAST(doc AS {duckdb_type(ROW)})) FROM j")
    total, operations, times, sources = con.execute(
        "SELECT count(*), count(api.operation), count(time_dt), "
        "count(coalesce(src_endpoint.ip, src_endpoint.domain)) FROM t"
    ).fetchone() or (0, 0, 0, 0)
    records = cloudtrail_records()
    assert total == len(records)
    assert operations == sum(1 for r in records if r.get("eventName") is not None)
    assert sources == sum(1 for r in records if r.get("sourceIPAddress") is not None)
    assert times == sum(1 for r in records if ocsf._time(r.get("eventTime")) is not None)


@requires_corpus
def test_securitylake_rows_keep_every_mapped_string() -> None:
    """A copied field's value is in its column; an unmapped fixed field's under its dotted path."""
    for record in cloudtrail_records():
        row = ocsf_row(record)
        for name, home in FIELD_MAP.items():
            value = ocsf._get(record, name)
            if home.storage == "copy" and not name.startswith("resources.") and isinstance(value, str):
                assert ocsf._get(row, home.path) == value, (name, record.get("eventID"))
        for name in ocsf.unmapped_fields():
            value = ocsf._get(record, name)
            if isinstance(value, str):
                assert row["unmapped"][name] == value, name


def test_securitylake_source_ip_reads_both_columns_and_null_needs_both_empty() -> None:
    rule = _renamed("sel:\n  sourceIPAddress:\n    - 203.0.113.7\n    - null\ncondition: sel")
    (detection,) = rule.detection.detections.values()
    (either,) = detection.detection_items
    assert isinstance(either, SigmaDetection)
    value_test, null_test = either.detection_items
    assert isinstance(value_test, SigmaDetection) and isinstance(null_test, SigmaDetection)
    fields = [
        [i.field for i in d.detection_items if isinstance(i, SigmaDetectionItem)]
        for d in (value_test, null_test)
    ]
    assert fields == [["src_endpoint.ip", "src_endpoint.domain"]] * 2
    assert value_test.item_linking is ConditionOR and null_test.item_linking is ConditionAND
    records: list[dict[str, Any]] = [
        {"sourceIPAddress": "203.0.113.7"},
        {"sourceIPAddress": "lambda.amazonaws.com"},
        {"sourceIPAddress": None},
        {},
    ]
    got = {i for i, r in enumerate(records) if RuleEvaluator(rule).matches(_evaluable(ocsf_row(r)))}
    assert got == {0, 2, 3}


@pytest.mark.parametrize(
    ("detection", "records", "expected"),
    [
        (
            "sel:\n  userIdentity.sessionContext.attributes.mfaAuthenticated: 'false'\ncondition: sel",
            [
                {"userIdentity": {"sessionContext": {"attributes": {"mfaAuthenticated": "false"}}}},
                {"userIdentity": {"sessionContext": {"attributes": {"mfaAuthenticated": "true"}}}},
                {},
            ],
            {0},
        ),
        (
            "sel:\n  additionalEventData.MFAUsed: 'no'\ncondition: not sel",
            [{"additionalEventData": {"MFAUsed": "No"}}, {"additionalEventData": {"MFAUsed": "YES"}}, {}],
            {1, 2},
        ),
        (
            "sel:\n  tlsDetails.tlsVersion|startswith: TLSv1\ncondition: sel",
            [{"tlsDetails": {"tlsVersion": "TLSv1.3"}}, {"tlsDetails": {"tlsVersion": "SSLv3"}}, {}],
            {0},
        ),
        (
            "sel:\n  requestParameters.bucketName|contains: logs\ncondition: sel",
            [{"requestParameters": {"bucketName": "my-logs"}}, {"requestParameters": {}}, {}],
            {0},
        ),
        (
            "sel:\n  resources.accountId: '111122223333'\ncondition: sel",
            [{"resources": [{"ARN": "a"}, {"accountId": "111122223333"}]}, {"resources": [{"ARN": "b"}]}],
            {0},
        ),
    ],
)
def test_securitylake_renamed_rule_means_the_rule_on_the_row(
    detection: str, records: list[dict[str, Any]], expected: set[int]
) -> None:
    original = RuleEvaluator(SigmaCollection.from_yaml(rule_yaml(detection)).rules[0])  # type: ignore[arg-type]
    assert {i for i, r in enumerate(records) if original.matches(r)} == expected, "the evaluator disagrees"
    renamed = RuleEvaluator(_renamed(detection))
    assert {i for i, r in enumerate(records) if renamed.matches(_evaluable(ocsf_row(r)))} == expected


@pytest.mark.parametrize(
    ("detection", "kind", "says"),
    [
        ("sel:\n  userIdentity.principalId: AIDA\ncondition: sel", UnsupportedFieldError, "uid_alt"),
        ("sel:\n  userIdentity.userName: bob\ncondition: sel", UnsupportedFieldError, "actor.user.name"),
        ("sel:\n  eventCategory: Management\ncondition: sel", UnsupportedFieldError, "default value"),
        ("sel:\n  status: Success\ncondition: sel", UnsupportedFieldError, "not a CloudTrail record field"),
        ("sel:\n  eventTime|startswith: '2024'\ncondition: sel", UnsupportedFieldError, "timestamp"),
        ("sel:\n  eventTime|exists: true\ncondition: sel", UnsupportedFieldError, "no timestamp"),
        ("sel:\n  additionalEventData.MFAUsed: null\ncondition: sel", UnsupportedFieldError, "presence"),
        (
            "sel:\n  additionalEventData.MFAUsed|cased: 'Yes'\ncondition: sel",
            UnsupportedFieldError,
            "boolean",
        ),
        ("sel:\n  addendum.updatedFields: x\ncondition: sel", UnsupportedFieldError, "array"),
        ("sel:\n  - AccessDenied\ncondition: sel", UnsupportedConstructError, "keyword"),
    ],
)
def test_securitylake_refuses_what_ocsf_cannot_say(detection: str, kind: type[Exception], says: str) -> None:
    with pytest.raises(kind, match=says):
        _renamed(detection)


@requires_corpus
def test_securitylake_mapping_agrees_with_the_evaluator_on_every_rule_and_record() -> None:
    """The backend-free differential: original rule x CloudTrail record == renamed rule x OCSF row."""
    from tests.support.fidelity import load_inputs, oracle

    inputs, expected = load_inputs(), oracle()
    rows = [_evaluable(ocsf_row(r.data)) for r in inputs.records]
    disagreements, compared = [], 0
    for case in inputs.rules:
        want = expected[case.key]
        if isinstance(want, str):  # the evaluator cannot decide the rule
            continue
        try:
            renamed = _renamed_text(case.text)
        except (UnsupportedFieldError, UnsupportedConstructError):
            continue
        compared += 1
        evaluator = RuleEvaluator(renamed)
        got = {i for i, r in enumerate(rows) if evaluator.matches(r)}
        if got != want:
            disagreements.append((case.key, sorted(want - got)[:5], sorted(got - want)[:5]))
    assert compared > 0.9 * len(inputs.rules)
    assert not disagreements, disagreements


def _renamed_text(text: str) -> SigmaRule:
    rule = SigmaCollection.from_yaml(text).rules[0]
    assert isinstance(rule, SigmaRule)
    aws_cloudtrail_securitylake().apply(rule)
    return rule


def _on_proxy(detection: str, records: list[dict[str, Any]], expected: set[int]) -> str:
    """The compiled query run on the proxy over the records' rows; the evaluator must agree first."""
    from sigma_lambda_layer import convert
    from sigma_lambda_layer.engines.securitylake import run_securitylake
    from sigma_lambda_layer.views.securitylake import securitylake_view

    text = rule_yaml(detection)
    original = RuleEvaluator(SigmaCollection.from_yaml(text).rules[0])  # type: ignore[arg-type]
    assert {i for i, r in enumerate(records) if original.matches(r)} == expected, "the evaluator disagrees"
    query = str(convert(text, target="securitylake")[0].output)
    assert set(run_securitylake(query, [securitylake_view(r) for r in records])) == expected, query
    return query


def test_securitylake_source_ip_on_the_proxy() -> None:
    records: list[dict[str, Any]] = [
        {"sourceIPAddress": "10.1.2.3"},
        {"sourceIPAddress": "lambda.amazonaws.com"},
        {"sourceIPAddress": "2001:db8::1"},
        {},
    ]
    query = _on_proxy("sel:\n  sourceIPAddress|cidr: 10.0.0.0/8\ncondition: sel", records, {0})
    assert "src_endpoint.ip" in query and "src_endpoint.domain" in query
    _on_proxy("sel:\n  sourceIPAddress|endswith: .amazonaws.com\ncondition: sel", records, {1})
    _on_proxy("sel:\n  sourceIPAddress: null\ncondition: sel", records, {3})
    _on_proxy("sel:\n  sourceIPAddress|cidr: 2001:db8::/32\ncondition: not sel", records, {0, 1, 3})


def test_securitylake_unmapped_booleans_and_arrays_on_the_proxy() -> None:
    records: list[dict[str, Any]] = [
        {"recipientAccountId": "111122223333", "readOnly": False, "resources": [{"ARN": "arn:aws:s3:::b"}]},
        {"recipientAccountId": "444455556666", "readOnly": True, "resources": [{"type": "AWS::S3::Bucket"}]},
        {"userIdentity": {"sessionContext": {"attributes": {"mfaAuthenticated": "true"}}}},
    ]
    query = _on_proxy("sel:\n  recipientAccountId: '111122223333'\ncondition: sel", records, {0})
    assert "element_at(unmapped, 'recipientAccountId')" in query
    _on_proxy("sel:\n  readOnly: true\ncondition: sel", records, {1})
    _on_proxy("sel:\n  resources.ARN|startswith: 'arn:aws:s3'\ncondition: sel", records, {0})
    query = _on_proxy(
        "sel:\n  userIdentity.sessionContext.attributes.mfaAuthenticated: 'true'\ncondition: sel",
        records,
        {2},
    )
    assert "actor.session.is_mfa" in query


def test_securitylake_default_names_and_options() -> None:
    from sigma_lambda_layer import convert

    text = rule_yaml("sel:\n  eventName: ConsoleLogin\ncondition: sel")
    (default,) = convert(text, target="securitylake")
    assert str(default.output).startswith(
        'SELECT * FROM "amazon_security_lake_glue_db_us_east_1".'
        '"amazon_security_lake_table_us_east_1_cloud_trail_mgmt_2_0" WHERE '
    )
    (other,) = convert(
        text,
        target="securitylake",
        options={
            "table": "amazon_security_lake_table_eu_west_1_cloud_trail_mgmt_2_0",
            "database": "amazon_security_lake_glue_db_eu_west_1",
        },
    )
    assert '"amazon_security_lake_glue_db_eu_west_1"."amazon_security_lake_table_eu_west_1' in str(
        other.output
    )
    (hunt,) = convert(
        rule_yaml("sel:\n  eventSource: iam.amazonaws.com\n  eventName: CreateUser\ncondition: sel"),
        target="securitylake",
        format="hunt",
    )
    assert isinstance(hunt.output, dict)
    assert (hunt.output["eventSource"], hunt.output["eventName"]) == (["iam.amazonaws.com"], ["createuser"])


@requires_corpus
def test_securitylake_rows_lose_no_value() -> None:
    """Every scalar (or array) of every corpus record is in an OCSF column or under its path in ``unmapped``."""
    lost = []

    def walk(prefix: str, value: Any, row: dict[str, Any], record: dict[str, Any]) -> None:
        if value is None or prefix in ocsf._CONSUMED:
            return
        if isinstance(value, dict):
            for key, child in value.items():
                walk(f"{prefix}.{key}" if prefix else key, child, row, record)
        elif (row.get("unmapped") or {}).get(prefix) != ocsf._text(value):
            lost.append((record.get("eventID"), prefix))

    for record in cloudtrail_records():
        walk("", record, ocsf_row(record), record)
    assert not lost, lost[:20]


@requires_corpus
def test_securitylake_every_query_parses_as_trino_and_the_smoke_query_runs() -> None:
    """Every SigmaHQ AWS query reads back as the same Trino tree; the documented smoke query is the one in
    the engine, and binds every column it names on the proxy's table."""
    import sqlglot

    from sigma_lambda_layer import convert
    from sigma_lambda_layer.engines.athena import to_duckdb
    from sigma_lambda_layer.engines.securitylake import SMOKE_QUERY, securitylake_records
    from sigma_lambda_layer.views.securitylake import securitylake_view
    from tests.support.corpus import aws_rule_paths

    texts = [p.read_text(encoding="utf-8") for p in aws_rule_paths()]
    queries = [str(r.output) for r in convert(texts, target="securitylake", collect_errors=True) if r.ok]
    assert len(queries) == 53
    for query in queries:
        tree = sqlglot.parse_one(query, read="trino")
        assert sqlglot.parse_one(tree.sql(dialect="trino"), read="trino") == tree, query
    page = (Path(__file__).parents[1] / "docs" / "targets" / "securitylake.md").read_text(encoding="utf-8")
    assert SMOKE_QUERY in page
    database = securitylake_records([securitylake_view(r) for r in cloudtrail_records()])
    unbounded = SMOKE_QUERY.replace("WHERE time_dt > CURRENT_TIMESTAMP - INTERVAL '1' DAY\n", "")
    rows = database.connection.execute(to_duckdb(unbounded.replace("LIMIT 20", ""))).fetchall()
    assert len(rows) == len(cloudtrail_records())
    assert all(any(row[i] is not None for row in rows) for i in range(len(rows[0])))


@requires_corpus
def test_securitylake_time_window_on_time_dt() -> None:
    """The hunt's window as Security Lake prunes it (``time_dt``), run on the proxy over the corpus rows."""
    from datetime import datetime, timedelta, timezone

    from sigma_lambda_layer.backends.securitylake import DEFAULT_DATABASE, DEFAULT_TABLE, time_window
    from sigma_lambda_layer.engines.securitylake import securitylake_records
    from sigma_lambda_layer.views.securitylake import securitylake_view

    records = cloudtrail_records()
    database = securitylake_records([securitylake_view(r) for r in records])
    since = datetime(2023, 1, 1, tzinfo=timezone(timedelta(hours=2)))  # 2022-12-31 22:00 UTC
    until = datetime(2024, 1, 1)
    times = [ocsf._time(r.get("eventTime")) for r in records]
    expected = {
        i for i, t in enumerate(times) if t is not None and since <= t < until.replace(tzinfo=timezone.utc)
    }
    assert 0 < len(expected) < len(records)
    table = f'"{DEFAULT_DATABASE}"."{DEFAULT_TABLE}"'
    assert database.hits(f"SELECT * FROM {table} WHERE {time_window(since, until)}") == expected
    assert time_window() == "TRUE"


def test_securitylake_source_ip_exists_and_all_on_the_proxy() -> None:
    records: list[dict[str, Any]] = [
        {"sourceIPAddress": "10.1.2.3"},
        {"sourceIPAddress": "AWS Internal"},
        {"sourceIPAddress": None},
        {},
    ]
    _on_proxy("sel:\n  sourceIPAddress|exists: true\ncondition: sel", records, {0, 1})
    _on_proxy("sel:\n  sourceIPAddress|exists: false\ncondition: sel", records, {2, 3})
    _on_proxy("sel:\n  sourceIPAddress|contains|all: ['AWS', 'Internal']\ncondition: sel", records, {1})
    _on_proxy(
        "sel:\n  sourceIPAddress|contains|all: ['AWS', '10.']\ncondition: not sel", records, {0, 1, 2, 3}
    )
