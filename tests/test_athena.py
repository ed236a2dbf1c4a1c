"""The athena target: the table as the SerDe reads it, the DDL, and each construct on the offline proxy.

Each construct case names the records that must match (the evaluator is checked to agree, so a case cannot
pass on a wrong expectation), converts the rule for ``athena`` and runs the Trino query on the proxy: the
records' Athena rows in DuckDB, in the DDL's column types, the query transpiled by sqlglot
(sigma_lambda_layer/engines/athena.py). Every query the golden matrix holds is also parsed with sqlglot's
Trino dialect and regenerated without loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlglot
import yaml
from sigma.collection import SigmaCollection

from sigma_lambda_layer import convert
from sigma_lambda_layer.engines.athena import AthenaRecords, load_records, to_duckdb
from sigma_lambda_layer.errors import UnsupportedConstructError, UsageError, is_unsupported
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.fields import athena as table
from sigma_lambda_layer.fields.athena import CLOUDTRAIL, Location, as_record, athena_row, ddl, duckdb_type
from tests.support.corpus import aws_rule_paths
from tests.support.rulekit import rule_yaml

GOLDEN = Path(__file__).parent / "golden" / "matrix.yml"


def _check(detection: str, records: Sequence[Any], expected: set[int]) -> str:
    text = rule_yaml(detection)
    evaluator = RuleEvaluator(SigmaCollection.from_yaml(text).rules[0])  # type: ignore[arg-type]
    assert {i for i, r in enumerate(records) if evaluator.matches(r)} == expected, "the evaluator disagrees"
    query = convert(text, target="athena")[0].output
    assert load_records(records).hits(query) == expected, query
    return str(query)


def _refused(detection: str) -> Any:
    result = convert(rule_yaml(detection), target="athena", collect_errors=True)[0]
    assert result.error is not None and is_unsupported(result.error), result.output
    assert result.error.location.line is not None  # located in the rule file
    return result.error


# ------------------------------------------------------------------------------ the row the SerDe reads


def test_athena_row_matches_keys_lowercased_last_colliding_key_wins() -> None:
    row = athena_row(
        {
            "eventName": "A",
            "EVENTNAME": "B",  # the later of two colliding keys
            "userIdentity": {"principalId": "p1", "principalid": "p2", "sessioncontext": {"attributes": {}}},
            "resources": [{"ARN": "arn:1"}, {"arn": "arn:2", "accountId": "1"}, "not an object"],
        }
    )
    assert row["eventname"] == "B"
    assert row["useridentity"]["principalid"] == "p2"
    assert row["useridentity"]["sessioncontext"]["attributes"] == {
        "mfaauthenticated": None,
        "creationdate": None,
    }
    assert [r and r["arn"] for r in row["resources"]] == ["arn:1", "arn:2", None]


def test_athena_row_types_scalars_as_text_and_json_columns_as_json_text() -> None:
    row = athena_row(
        {
            "readOnly": True,
            "eventVersion": 1.08,
            "requestParameters": {"bucketName": "b", "n": [1, None]},
            "responseElements": None,
            "managementEvent": True,  # no column: dropped
            "p_custom": "x",
        }
    )
    assert row["readonly"] == "true" and row["eventversion"] == "1.08"
    assert row["requestparameters"] == '{"bucketName":"b","n":[1,null]}'
    assert row["responseelements"] is None
    assert set(row) == {c.name for c in CLOUDTRAIL.columns}


def test_athena_as_record_is_the_record_the_row_stands_for() -> None:
    record = {"userIdentity": {"type": "Root", "sessioncontext": {"sessionIssuer": {"type": "Role"}}}}
    back = as_record(athena_row(record))
    assert back == {"userIdentity": {"type": "Root", "sessionContext": {"sessionIssuer": {"type": "Role"}}}}


def test_athena_every_column_type_loads_in_duckdb() -> None:
    """The proxy's table is the DDL's shape: the DuckDB types exist and take every corpus-like row."""
    database = AthenaRecords([athena_row({"eventName": "x", "resources": [{"ARN": "a"}]})])
    described = {
        row[0]: row[1]
        for row in database.connection.execute('DESCRIBE "default"."cloudtrail_logs"').fetchall()
    }
    resources = CLOUDTRAIL.column("resources")
    assert resources is not None
    assert described["resources"].replace('"', "") == duckdb_type(resources).replace('"', "")
    assert described["useridentity"].startswith("STRUCT(")


# ------------------------------------------------------------------------------ DDL


def test_athena_ddl_single_trail_partition_projection() -> None:
    text = ddl(Location("my-trail-bucket", "logs", accounts=["111122223333"], regions=["eu-west-1"]))
    assert text.startswith("CREATE EXTERNAL TABLE `default`.`cloudtrail_logs` (\n    eventversion STRING,")
    assert "    useridentity STRUCT<type:STRING, principalid:STRING," in text
    assert "    resources ARRAY<STRUCT<arn:STRING, accountid:STRING, type:STRING>>," in text
    assert "PARTITIONED BY (`timestamp` string)" in text
    assert "LOCATION 's3://my-trail-bucket/logs/AWSLogs/111122223333/CloudTrail/eu-west-1/'" in text
    assert (
        "'storage.location.template'='s3://my-trail-bucket/logs/AWSLogs/111122223333/CloudTrail/eu-west-1/${timestamp}'"
        in text
    )
    assert "'projection.timestamp.format'='yyyy/MM/dd'" in text


def test_athena_ddl_organisation_trail_projects_account_and_region() -> None:
    location = Location(
        "org-bucket",
        org_id="o-abcdefghij",
        accounts=["111122223333", "444455556666"],
        regions=["us-east-1", "eu-west-1"],
    )
    text = ddl(location, table="org_trail", database="security")
    assert "PARTITIONED BY (`account` string, `region` string, `timestamp` string)" in text
    assert "'projection.account.values'='111122223333,444455556666'" in text
    assert (
        "'storage.location.template'='s3://org-bucket/AWSLogs/o-abcdefghij/${account}/CloudTrail/${region}/${timestamp}'"
        in text
    )


@pytest.mark.parametrize(
    "location",
    [
        Location("bucket' LOCATION 'x", accounts=["111122223333"], regions=["us-east-1"]),
        Location("b-1", prefix="a'b", accounts=["111122223333"], regions=["us-east-1"]),
        Location("b-1", accounts=["1111'"], regions=["us-east-1"]),
        Location("b-1", accounts=["111122223333", "444455556666"], regions=["us-east-1"]),  # not an org trail
    ],
)
def test_athena_ddl_refuses_what_aws_would_not_name_so(location: Location) -> None:
    with pytest.raises(ValueError):
        ddl(location)


def test_athena_ddl_format_and_its_options() -> None:
    founding = Path(__file__).parents[1] / "rules" / "aws_attached_malicious_lambda_layer.yml"
    options = {"bucket": "trail-logs", "accounts": "123456789012", "regions": "us-west-2", "table": 'ct"x'}
    (result,) = convert(founding, target="athena", format="ddl", options=options)
    assert 'CREATE EXTERNAL TABLE `default`.`ct"x`' in result.output
    assert "s3://trail-logs/AWSLogs/123456789012/CloudTrail/us-west-2/" in result.output
    with pytest.raises((UsageError, UnsupportedConstructError)):
        convert(founding, target="athena", format="ddl", options={"bucket": "x' y"})


# ------------------------------------------------------------------------------ constructs on the proxy


def test_athena_canonical_values_are_plain_equalities_free_text_is_lowered() -> None:
    records = [
        {"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "userAgent": "AWS-CLI/2"},
        {"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "userAgent": "boto3"},
        {"eventSource": "iam.amazonaws.com", "eventName": "DeleteUser", "userAgent": "aws-cli"},
    ]
    query = _check(
        "sel:\n  eventSource: iam.amazonaws.com\n  eventName: createuser\n  userAgent|contains: aws-cli\n"
        "condition: sel",
        records,
        {0},
    )
    assert query.startswith(
        'SELECT * FROM "default"."cloudtrail_logs" WHERE eventsource = \'iam.amazonaws.com\' '
        "AND eventname = 'CreateUser' AND lower("
    )


def test_athena_dotted_capital_i_follows_the_project_definition() -> None:
    values = ["ConsoleLogİn", "consolelogi\u0307n", "CONSOLELOGIN"]
    records = [{"errorCode": v} for v in values]
    _check("sel:\n  errorCode: ConsoleLogin\ncondition: sel", records, {2})
    _check("sel:\n  errorCode: ConsoleLogİn\ncondition: sel", records, {0, 1})
    # Wildcards are per character (duckdb's rule too): İ matches only İ (and ? or *), never i.
    query = convert(rule_yaml("sel:\n  errorCode|startswith: Consolelogi\ncondition: sel"), target="athena")[
        0
    ].output
    assert load_records(records).hits(query) == {1, 2}


def test_athena_wildcards_escape_like_metacharacters() -> None:
    records = [{"userAgent": "a%b_c\\d"}, {"userAgent": "aXbYc\\d"}, {"userAgent": "A%B_C\\D-tail"}]
    _check("sel:\n  userAgent|startswith: 'a%b_c\\'\ncondition: sel", records, {0, 2})
    _check("sel:\n  userAgent: 'a?b?c*'\ncondition: sel", records, {0, 1, 2})


def test_athena_missing_null_and_exists() -> None:
    records = [{"errorCode": "AccessDenied"}, {"errorCode": None}, {}]
    _check("sel:\n  errorCode: AccessDenied\ncondition: not sel", records, {1, 2})
    _check("sel:\n  errorCode: null\ncondition: sel", records, {1, 2})
    _check("sel:\n  errorCode|exists: true\ncondition: sel", records, {0})
    json_records = [{"requestParameters": {"userName": None}}, {"requestParameters": {"userName": "u"}}, {}]
    _check("sel:\n  requestParameters.userName: null\ncondition: sel", json_records, {0, 2})
    _check("sel:\n  requestParameters.userName|exists: true\ncondition: sel", json_records, {1})


def test_athena_array_of_structs_any_element() -> None:
    records = [
        {"resources": [{"ARN": "arn:a"}, {"ARN": "arn:b"}]},
        {"resources": [{"ARN": "arn:c"}]},
        {"resources": []},
        {},
    ]
    query = _check("sel:\n  resources.ARN: arn:b\ncondition: sel", records, {0})
    assert query.endswith("WHERE any_match(resources, r0 -> coalesce(lower(r0.arn) = 'arn:b', false))")
    _check("sel:\n  resources.ARN: arn:b\ncondition: not sel", records, {1, 2, 3})
    _check("sel:\n  resources.ARN: null\ncondition: sel", records, {2, 3})


def test_athena_json_text_arrays_nested_arrays_and_dotted_keys() -> None:
    records = [
        {"requestParameters": {"items": [[{"k": "x"}], [{"k": "y"}]]}},
        {"requestParameters": {"items": {"k": "y"}}},
        {"requestParameters": {"items.k": "y"}},
        {"requestParameters": {"items": {"K": "y"}}},  # JSON keys are case-sensitive
        {"requestParameters": {"policyArns": ["arn:x", "arn:y"]}},
    ]
    _check("sel:\n  requestParameters.items.k: y\ncondition: sel", records, {0, 1, 2})
    _check("sel:\n  requestParameters.policyArns: arn:y\ncondition: sel", records, {4})


def test_athena_json_keys_that_need_quoting() -> None:
    records = [
        {"requestParameters": {"x/y~z": "v"}},
        {"requestParameters": {"q'": "v"}},
        {"requestParameters": {"a b": "v"}},
    ]
    _check("sel:\n  requestParameters.x/y~z: v\ncondition: sel", records, {0})
    _check("sel:\n  requestParameters.q': v\ncondition: sel", records, {1})
    query = _check("sel:\n  requestParameters.a b: v\ncondition: sel", records, {2})
    assert "'$[\"a b\"]'" in query


def test_athena_numbers_and_booleans_as_cloudtrail_types_them() -> None:
    records = [
        {"readOnly": True},
        {"readOnly": "TRUE"},
        {"readOnly": False},
        {"requestParameters": {"maxResults": 50}},
        {"requestParameters": {"maxResults": "50"}},
        {"requestParameters": {"maxResults": 50.0}},
        {"requestParameters": {"maxResults": "5e1"}},
    ]
    _check("sel:\n  readOnly: true\ncondition: sel", records, {0, 1})
    _check("sel:\n  readOnly: 'true'\ncondition: sel", records, {0, 1})
    _check("sel:\n  requestParameters.maxResults: 50\ncondition: sel", records, {3, 4, 5, 6})
    _check("sel:\n  requestParameters.maxResults|gt: 49\ncondition: sel", records, {3, 4, 5, 6})


def test_athena_cidr_ipv4_ipv6_and_service_names() -> None:
    records = [
        {"sourceIPAddress": "10.1.2.3"},
        {"sourceIPAddress": "010.1.2.3"},  # a leading zero: not an address for Python's ipaddress
        {"sourceIPAddress": "lambda.amazonaws.com"},
        {"sourceIPAddress": "2001:db8::1"},
        {"sourceIPAddress": "2001:DB8:0:0:0:0:0:ff"},
        {"sourceIPAddress": "::ffff:10.1.2.3"},
        {"sourceIPAddress": "2001:db8::1::2"},
        {"sourceIPAddress": "fe80::1%eth0"},
        {"sourceIPAddress": "AWS Internal"},
        {"sourceIPAddress": "1::2:3:4:5:6:7:8"},  # "::" must stand for at least one group
    ]
    _check("sel:\n  sourceIPAddress|cidr: 10.0.0.0/8\ncondition: sel", records, {0})
    _check("sel:\n  sourceIPAddress|cidr: '2001:db8::/32'\ncondition: sel", records, {3, 4})
    _check("sel:\n  sourceIPAddress|cidr: '::ffff:0:0/96'\ncondition: sel", records, {5})
    _check("sel:\n  sourceIPAddress|cidr: 'fe80::/10'\ncondition: sel", records, {7})
    _check("sel:\n  sourceIPAddress|cidr: '::/0'\ncondition: sel", records, {3, 4, 5, 7})
    _check("sel:\n  sourceIPAddress|cidr: 10.0.0.0/8\ncondition: not sel", records, set(range(1, 10)))


def test_athena_regex_python_meaning_on_every_engine() -> None:
    records = [
        {"userAgent": "abc\n"},
        {"userAgent": "abc"},
        {"userAgent": "x٣"},
        {"userAgent": "ABC"},
        {"userAgent": "a\rc"},
        {"userAgent": "\u212aelvin"},  # the Kelvin sign lowercases to k
        {"userAgent": "\u017fx"},  # the long s does not lowercase to s
    ]
    _check("sel:\n  userAgent|re: 'abc$'\ncondition: sel", records, {0, 1})
    _check("sel:\n  userAgent|re: 'x\\d'\ncondition: sel", records, {2})
    _check("sel:\n  userAgent|re|i: '^abc'\ncondition: sel", records, {0, 1, 3})
    _check("sel:\n  userAgent|re: '^a.c$'\ncondition: sel", records, {0, 1, 4})
    _check("sel:\n  userAgent|re|i: '^kelvin'\ncondition: sel", records, {5})
    _check("sel:\n  userAgent|re|i: '^[s-t]x'\ncondition: sel", records, set())


def test_athena_fieldref_compares_case_insensitively() -> None:
    records = [
        {"userIdentity": {"userName": "Alice"}, "requestParameters": {"userName": "alice"}},
        {"userIdentity": {"userName": "Alice"}, "requestParameters": {"userName": "bob"}},
        {"userIdentity": {"userName": "Alice"}},
    ]
    _check("sel:\n  requestParameters.userName|fieldref: userIdentity.userName\ncondition: sel", records, {0})


def test_athena_no_injection_through_values_or_keys() -> None:
    hostile = "x') OR true OR ('"
    records = [{"errorCode": hostile}, {"errorCode": "other"}]
    query = _check(f'sel:\n  errorCode|cased: "{hostile}"\ncondition: sel', records, {0})
    assert "errorcode = 'x'') OR true OR ('''" in query
    _check(
        'sel:\n  "requestParameters.a\') OR (1=1": v\ncondition: sel',
        [{"requestParameters": {"a') OR (1=1": "v"}}, {}],
        {0},
    )


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("detection", "words"),
    [
        ("sel:\n  managementEvent: true\ncondition: sel", "has no column"),
        ("sel:\n  userIdentity.identityProvider: x\ncondition: sel", "has no column"),
        ("sel:\n  eventname: x\ncondition: sel", "not a CloudTrail field the Athena table declares"),
        ("sel:\n  resources.arn: x\ncondition: sel", "not a CloudTrail field the Athena table declares"),
        ("sel:\n  requestParameters: x\ncondition: sel", "JSON object"),
        ("keywords:\n  - needle\ncondition: keywords", "keywords"),
        ("sel:\n  userAgent|re: 'a(?=b)'\ncondition: sel", "lookaround"),
        ("sel:\n  userAgent|re: '(?P<n>a)'\ncondition: sel", "named group"),
        ("sel:\n  userAgent|re: '[a[b]'\ncondition: sel", "inside a character class"),
        ("sel:\n  userAgent|re: '(?i)a'\ncondition: sel", "inline flag"),
        ("sel:\n  userAgent: ΟΔΟΣ\ncondition: sel", "sigma"),
    ],
)
def test_athena_refuses_with_a_located_reason(detection: str, words: str) -> None:
    error = _refused(detection)
    assert words in str(error), error


# ------------------------------------------------------------------------------ Trino syntax


def _golden_queries() -> list[str]:
    matrix = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
    return [
        case["expected"]["athena"]
        for case in matrix.values()
        if not case["expected"]["athena"].startswith("ERROR")
    ]


def _sigmahq_queries() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in aws_rule_paths()]
    return [r.output for r in convert(texts, target="athena", collect_errors=True) if r.error is None]


def test_athena_every_query_parses_as_trino_without_loss() -> None:
    """sqlglot's Trino dialect reads every query (golden matrix and SigmaHQ AWS rules) and writes it back to
    a text that reads as the same tree; the proxy's DuckDB text is also produced for each."""
    queries = _golden_queries() + _sigmahq_queries()
    assert len(queries) > 50
    for query in queries:
        tree = sqlglot.parse_one(query, read="trino")
        again = sqlglot.parse_one(tree.sql(dialect="trino"), read="trino")
        assert again == tree, query
        assert to_duckdb(query)


def test_athena_sigmahq_rules_convert_or_are_refused_for_a_stated_reason() -> None:
    """The SigmaHQ AWS rules refused on athena are exactly the four every Elastic target refuses too (a whole
    JSON object as a value, and the undocumented field ``status``)."""
    paths = aws_rule_paths()
    if not paths:
        pytest.skip("no SigmaHQ corpus beside the project")
    results = list(
        convert([p.read_text(encoding="utf-8") for p in paths], target="athena", collect_errors=True)
    )
    refused = {p.name: str(r.error) for p, r in zip(paths, results, strict=True) if r.error is not None}
    assert all(is_unsupported(r.error) for r in results if r.error is not None)
    assert set(refused) == {
        "aws_delete_saml_provider.yml",
        "aws_disable_bucket_versioning.yml",
        "aws_ec2_vm_export_failure.yml",
        "aws_iam_s3browser_templated_s3_bucket_policy_creation.yml",
    }, refused


def test_athena_backend_reads_the_schema_the_pipeline_names() -> None:
    """Schema-driven: another table (a JSON-text column ``data``, a struct ``actor``) registered and named in
    the pipeline state gets the syntax its node kinds call for, from the same backend."""
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldMappingTransformation, SetStateTransformation

    from sigma_lambda_layer.backends.athena import AthenaBackend

    other = table.TableSchema(
        "test_other",
        (table.Node("actor", "struct", (table.Node("uid", "string"),)), table.Node("data", "json")),
        "a test table",
    )
    table.SCHEMAS["test_other"] = "tests.test_athena:_OTHER"
    globals()["_OTHER"] = other
    try:
        pipeline = ProcessingPipeline(
            items=[
                ProcessingItem(SetStateTransformation(table.STATE_SCHEMA, "test_other")),
                ProcessingItem(
                    FieldMappingTransformation({"user": "actor.uid", "bucket": "data.bucketName"})
                ),
            ]
        )
        rule = SigmaCollection.from_yaml(
            rule_yaml("sel:\n  user|cased: Alice\n  bucket|cased: b\ncondition: sel")
        )
        (query,) = AthenaBackend(pipeline).convert(rule, "condition")
    finally:
        del table.SCHEMAS["test_other"]
        table.schema.cache_clear()
    assert query.startswith("actor.uid = 'Alice' AND (CASE WHEN TRY_CAST(json_extract(data, '$.bucketName')")


def test_athena_documented_smoke_query_holds_on_the_proxy() -> None:
    """The query docs/targets/athena.md asks a user to run once on Athena is the one the proxy passes: every
    column true (on Athena, a false column names the assumption that does not hold there)."""
    from sigma_lambda_layer.engines.athena import SMOKE_QUERY

    page = (Path(__file__).parents[1] / "docs" / "targets" / "athena.md").read_text(encoding="utf-8")
    assert SMOKE_QUERY in page
    (row,) = AthenaRecords([]).connection.execute(to_duckdb(SMOKE_QUERY)).fetchall()
    assert all(row) and len(row) == len(sqlglot.parse_one(SMOKE_QUERY, read="trino").expressions)


def test_athena_partition_window_prunes_by_day() -> None:
    from datetime import date

    from sigma_lambda_layer.backends.athena import partition_window

    records = [
        {"eventTime": t, "eventName": "x"}
        for t in ("2024-04-30T23:59:59Z", "2024-05-01T00:00:00Z", "2024-05-03T10:00:00Z")
    ]
    window = partition_window(date(2024, 5, 1), date(2024, 5, 2))
    assert window == "\"timestamp\" >= '2024/05/01' AND \"timestamp\" <= '2024/05/02'"
    query = f'SELECT * FROM "default"."cloudtrail_logs" WHERE {window}'
    assert load_records(records).hits(query) == {1}
    assert partition_window() == "TRUE"


def test_athena_value_lists_are_in_lists_and_not_in_keeps_missing_fields() -> None:
    records = [{"eventName": "StopLogging"}, {"eventName": "DeleteTrail"}, {"eventName": "GetTrail"}, {}]
    query = _check(
        "sel:\n  eventName:\n    - StopLogging\n    - DeleteTrail\ncondition: sel", records, {0, 1}
    )
    assert query.endswith("WHERE eventname IN ('StopLogging', 'DeleteTrail')")
    _check("sel:\n  eventName:\n    - StopLogging\n    - DeleteTrail\ncondition: not sel", records, {2, 3})
    agents = [{"userAgent": "AWS-CLI"}, {"userAgent": "Boto3"}, {"userAgent": "x"}]
    query = _check("sel:\n  userAgent:\n    - aws-cli\n    - boto3\ncondition: sel", agents, {0, 1})
    assert query.endswith("WHERE lower(replace(useragent, 'İ', 'i\u0307')) IN ('aws-cli', 'boto3')")


def test_athena_json_column_proven_an_object_is_read_by_key() -> None:
    """``requestParameters`` is a JSON object in every record AWS writes (``fields.cloudtrail.OBJECT_FIELDS``,
    from the record contents page), so the schema marks its column ``json_object`` and the query reads its keys
    without trying the column itself as an array; an array below the key is still walked. A ``json`` node
    the schema does not prove an object keeps the walk over the column (its gate names ``$``)."""
    node = CLOUDTRAIL.column("requestparameters")
    assert node is not None and node.json_object
    records = [
        {"requestParameters": {"userName": ["u", "v"]}},
        {"requestParameters": {"userName": "v"}},
        {"requestParameters": {"userName": "u"}},
        {"requestParameters": None},
        {},
    ]
    query = _check("sel:\n  requestParameters.userName: v\ncondition: sel", records, {0, 1})
    assert "json_extract(requestparameters, '$')" not in query
    from sigma_lambda_layer.backends.athena import AthenaBackend

    walked = AthenaBackend()._json_access("c", "userName", is_object=False)
    assert walked.gate is not None and "json_extract(c, '$')" in walked.gate


def test_athena_field_table_of_another_schema_maps_fields_and_subtrees() -> None:
    """A table with its own field table (``renames``, as an OCSF table has): fixed fields by name, a free-form
    root with its keys carried; anything else has no column."""
    other = table.TableSchema(
        "test_renames",
        (table.Node("api", "struct", (table.Node("operation", "string"), table.Node("request", "json"))),),
        "a test table",
        renames={"eventName": "api.operation", "requestParameters": "api.request"},
    )
    assert table.cloudtrail_path("eventName", other) == "api.operation"
    assert table.cloudtrail_path("requestParameters.bucketName", other) == "api.request.bucketName"
    assert table.cloudtrail_path("eventSource", other) is None
