"""Splunk target: exact SPL for each Sigma construct, the SigmaHQ AWS corpus, the field table and the view."""

from __future__ import annotations

from pathlib import Path

import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import SetStateTransformation

from sigma_lambda_layer.backends.splunk import CloudTrailSplunkBackend, spl_quote, text_null_regex
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError, UsageError
from sigma_lambda_layer.fields.splunk import mapping_rows, markdown_table, splunk_field
from sigma_lambda_layer.pipelines.splunk import STATE_NULL_READINGS, aws_cloudtrail_splunk
from sigma_lambda_layer.views.splunk import splunk_view

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / ".." / "shared" / "corpus"
ST = "sourcetype=aws:cloudtrail"
#: SigmaHQ rules that test a value against a whole JSON object (requestParameters|contains): refused.
WHOLE_OBJECT_RULES = [
    "aws_disable_bucket_versioning.yml",
    "aws_ec2_vm_export_failure.yml",
    "aws_iam_s3browser_templated_s3_bucket_policy_creation.yml",
]


def text_null(field: str) -> str:
    """The eval test that ``field`` holds the string "null" (not a JSON null), as the backend writes it."""
    return f"(isnotnull(mvfind('{field}', \"(?s)^null(?!.)\")) AND match(_raw, {spl_quote(text_null_regex(field))}))"


#: A request parameter: the domains say nothing about it, so it may hold a JSON null and the string "null".
UN = "requestParameters.userName"


def exists(field: str) -> str:
    """The eval test for Sigma's exists: a value other than JSON null."""
    return f"isnotnull(mvfind('{field}', \"(?s)^(?s-i:(?!null(?!.)))\")) OR {text_null(field)}"


def convert(detection: str, condition: str = "sel", output_format: str = "default", **options: str) -> str:
    """Convert a CloudTrail rule with the given detection block; return the single query (or output)."""
    rule = (
        "title: Test rule\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n"
        + detection
        + f"\n    condition: {condition}\n"
    )
    backend = CloudTrailSplunkBackend(processing_pipeline=aws_cloudtrail_splunk(), **options)
    result = backend.convert(SigmaCollection.from_yaml(rule), output_format)
    return result if isinstance(result, str) else "\n".join(result)


def sel(*lines: str) -> str:
    return "    sel:\n" + "".join(f"        {line}\n" for line in lines)


def test_splunk_founding_rule() -> None:
    rule = (REPO / "rules" / "aws_attached_malicious_lambda_layer.yml").read_text()
    backend = CloudTrailSplunkBackend(processing_pipeline=aws_cloudtrail_splunk())
    assert backend.convert(SigmaCollection.from_yaml(rule)) == [
        f'{ST} eventSource="lambda.amazonaws.com" eventName="UpdateFunctionConfiguration*"'
    ]


def test_splunk_index_option() -> None:
    assert convert(sel("eventName: X"), index="aws") == f'index=aws {ST} eventName="X"'
    with pytest.raises(UsageError, match="invalid Splunk index"):
        convert(sel("eventName: X"), index='aws" | delete')


def test_splunk_string_modifiers() -> None:
    assert convert(
        sel("eventName|startswith: Get", "userAgent|endswith: /1.0", "errorMessage|contains: denied")
    ) == (f'{ST} eventName="Get*" userAgent="*/1.0" errorMessage="*denied*"')


def test_splunk_single_char_wildcard_goes_to_eval() -> None:
    # Splunk search has no one-character wildcard: the stock backend turned ? into * (a wider match).
    # The search keeps the prefix term (index-friendly), the eval regex decides; (?!.) is the absolute end.
    assert convert(sel("eventName: 'Get?bject'")) == (
        f'{ST} eventName="Get*" | where isnotnull(mvfind(\'eventName\', "(?is)^Get.bject(?!.)"))'
    )


def test_splunk_literal_asterisk_goes_to_eval() -> None:
    # A backslash cannot escape * in Splunk search (Search Manual, Wildcards).
    assert (
        convert(sel("eventName: 'a\\*b'"))
        == f'{ST} eventName="a*" | where isnotnull(mvfind(\'eventName\', "(?is)^a\\\\*b(?!.)"))'
    )


def test_splunk_inner_wildcard_in_punctuated_value_goes_to_eval() -> None:
    # Search Manual, "Wildcards": a wildcard in the middle of a string with punctuation "might cause
    # inconsistent results"; a trailing-wildcard prefix term is safe, the regex decides exactly.
    assert convert(sel("userIdentity.arn: 'arn:aws:iam::*:root'")) == (
        f'{ST} userIdentity.arn="arn:aws:iam::*"'
        " | where isnotnull(mvfind('userIdentity.arn', \"(?is)^arn:aws:iam::.*:root(?!.)\"))"
    )
    # no punctuation, or wildcards only at the ends: a plain search term
    assert convert(sel("eventName: 'Get*Policy'", "userAgent|contains: 'aws-cli/'")) == (
        f'{ST} eventName="Get*Policy" userAgent="*aws-cli/*"'
    )


def test_splunk_cased_wildcard_in_eval() -> None:
    assert convert(sel("eventName|cased: 'Get?x'")) == (
        f'{ST} eventName=CASE("Get*") | where isnotnull(mvfind(\'eventName\', "(?s)^Get.x(?!.)"))'
    )


def test_splunk_control_characters_and_backticks_as_hex() -> None:
    # A newline would end a savedsearches.conf line; a backtick is macro syntax: neither is ever written.
    assert convert(sel('userAgent: "a\\nb`c"')) == (
        f'{ST} userAgent="a*" | where isnotnull(mvfind(\'userAgent\', "(?is)^a\\\\x0ab\\\\x60c(?!.)"))'
    )
    # in a user's regex too; an escaped backtick loses its backslash, an escaped backslash keeps both
    assert convert(sel("userAgent|re: 'a`b\\`c\\\\`'")) == (
        f'{ST} | regex userAgent="a\\\\x60b\\\\x60c\\\\\\\\\\\\x60"'
    )


def test_splunk_backslash_before_wildcard_goes_to_eval() -> None:
    # '\\*' in a search string is undocumented (Search Manual, "Backslashes")
    assert convert(sel("userAgent: 'C:\\\\*'")) == (
        f'{ST} userAgent="C:*" | where isnotnull(mvfind(\'userAgent\', "(?is)^C:\\\\\\\\.*(?!.)"))'
    )


def test_splunk_cased() -> None:
    assert convert(sel("eventName|cased: UpdateFunction")) == f'{ST} eventName=CASE("UpdateFunction")'
    assert convert(sel("eventName|cased|startswith: Update")) == f'{ST} eventName=CASE("Update*")'


def test_splunk_re() -> None:
    # Backslashes doubled: SPL quoted strings turn \\ into \ before the regex engine sees them.
    assert convert(sel("userAgent|re: 'aws-cli/\\d+'")) == f'{ST} | regex userAgent="aws-cli/\\\\d+"'


def test_splunk_re_flags() -> None:
    assert convert(sel("userAgent|re|i|m|s: '^boto'")) == f'{ST} | regex userAgent="(?ims)^boto"'


def test_splunk_re_under_or_uses_eval_flag() -> None:
    query = convert(sel("userAgent|re: '^boto'") + "    sel2:\n        eventName: X", "sel or sel2")
    assert query == (
        f"{ST} | eval sigma_match1=if(isnotnull(mvfind('userAgent', \"^boto\")), 1, 0)"
        ' | search (sigma_match1=1 OR eventName="X")'
    )


def test_splunk_re_on_multivalued_field() -> None:
    assert convert(sel("requestParameters.layers|re: ':layer:evil'")) == (
        f"{ST} | where isnotnull(mvfind('requestParameters.layers{{}}', \":layer:evil\"))"
    )


def test_splunk_fieldref() -> None:
    # userIdentity.arn is never null nor "null" (fields/domains.py): equal lowercase text is a real value on
    # both sides, so the comparison alone is exact.
    assert convert(sel("userIdentity.arn|fieldref: requestParameters.userName")) == (
        f"{ST} | where lower('userIdentity.arn')=lower('requestParameters.userName')"
    )
    # two fields that may each hold a JSON null and the string "null": both must hold a value
    assert convert(sel("requestParameters.userName|fieldref: requestParameters.roleName")) == (
        f"{ST} | where lower('requestParameters.userName')=lower('requestParameters.roleName')"
        f" AND ({exists(UN)}) AND ({exists('requestParameters.roleName')})"
    )


def test_splunk_fieldref_negated() -> None:
    detection = sel("eventName: X") + "    f:\n        userIdentity.arn|fieldref: requestParameters.userName"
    # the base search keeps the rule's own terms; only the flag is searched after the eval
    assert convert(detection, "sel and not f") == (
        f"{ST} eventName=\"X\" | eval sigma_match1=if(lower('userIdentity.arn')=lower('requestParameters.userName')"
        ", 1, 0) | search NOT sigma_match1=1"
    )


def test_splunk_cidr() -> None:
    assert convert(sel("sourceIPAddress|cidr: 10.0.0.0/8")) == f'{ST} sourceIPAddress="10.0.0.0/8"'


def test_splunk_exists() -> None:
    # errorCode is never a JSON null (fields/domains.py): field=* and NOT field=* say it exactly.
    assert convert(sel("errorCode|exists: true", "userIdentity.arn|exists: false")) == (
        f"{ST} errorCode=* NOT userIdentity.arn=*"
    )
    # A JSON null and the text "null" both read "null" in Splunk: where a field may hold either, _raw decides.
    assert convert(sel(f"{UN}|exists: true", "requestParameters.roleName|exists: false")) == (
        f'{ST} {UN}=* (NOT requestParameters.roleName=* OR requestParameters.roleName="null")'
        f" | where {exists(UN)} | where NOT ({exists('requestParameters.roleName')})"
    )


def test_splunk_null() -> None:
    assert convert(sel("errorCode: null")) == f"{ST} NOT errorCode=*"
    assert convert(sel(f"{UN}: null")) == f'{ST} (NOT {UN}=* OR {UN}="null") | where NOT ({exists(UN)})'


def test_splunk_null_under_or() -> None:
    assert convert(sel("eventName: X") + "    n:\n        errorCode: null", "sel or n") == (
        f'{ST} (eventName="X" OR NOT errorCode=*)'
    )
    assert convert(sel("eventName: X") + f"    n:\n        {UN}: null", "sel or n") == (
        f'{ST} | eval sigma_match1=if(NOT ({exists(UN)}), 1, 0) | search (eventName="X" OR sigma_match1=1)'
    )


def test_splunk_value_matching_null_text_excludes_json_null() -> None:
    # '*' and 'n*' match the text null, which is also how Splunk shows a JSON null.
    not_null = "(?s-i:(?!null(?!.)))"
    assert convert(sel(f"{UN}: '*'")) == (
        f'{ST} {UN}="*" | where isnotnull(mvfind(\'{UN}\', "(?is)^{not_null}.*(?!.)")) OR {text_null(UN)}'
    )
    assert convert(sel(f"{UN}|cased: 'n*'")) == (
        f'{ST} {UN}=CASE("n*") | where isnotnull(mvfind(\'{UN}\', "(?s)^{not_null}n.*(?!.)"))'
        f" OR {text_null(UN)}"
    )
    assert convert(sel(f"{UN}|re: '^nu'")) == (
        f"{ST} | where isnotnull(mvfind('{UN}', \"\\\\A{not_null}(?s:.*?)(?:^nu)\")) OR {text_null(UN)}"
    )
    # a value that cannot match the text null stays a plain search term
    assert convert(sel(f"{UN}|cased: 'N*'")) == f'{ST} {UN}=CASE("N*")'
    assert convert(sel(f"{UN}: ['Nu*', 'x']")) == (
        f"{ST} | eval sigma_match1=if(isnotnull(mvfind('{UN}', \"(?is)^{not_null}Nu.*(?!.)\"))"
        f' OR {text_null(UN)}, 1, 0) | search sigma_match1=1 OR {UN}="x"'
    )
    # on a field that is never a JSON null, every value is a plain term
    assert convert(sel("errorCode: '*'")) == f'{ST} errorCode="*"'
    assert convert(sel("errorCode|re: '^nu'")) == f'{ST} | regex errorCode="^nu"'
    assert convert(sel("errorCode: ['Nu*', 'x']")) == f'{ST} errorCode IN ("Nu*", "x")'


def test_splunk_json_null_without_string_null_needs_no_raw() -> None:
    """A field whose domain admits a JSON null but not the string "null": a value "null" is the JSON null,
    so a test on the value alone is exact and _raw is never read."""
    not_null = "(?s-i:(?!null(?!.)))"
    mv = f"isnotnull(mvfind('{UN}', \"(?s)^{not_null}\"))"
    pipeline = aws_cloudtrail_splunk() + ProcessingPipeline(
        items=[ProcessingItem(SetStateTransformation(STATE_NULL_READINGS, {UN: [True, False]}))]
    )

    def only_json_null(detection: str) -> str:
        rule = (
            "title: T\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n"
            + detection
            + "\n    condition: sel\n"
        )
        return str(
            CloudTrailSplunkBackend(processing_pipeline=pipeline).convert(SigmaCollection.from_yaml(rule))[0]
        )

    assert only_json_null(sel(f"{UN}|exists: true")) == f"{ST} {UN}=* | where {mv}"
    assert only_json_null(sel(f"{UN}: null")) == f'{ST} (NOT {UN}=* OR {UN}="null") | where NOT ({mv})'
    assert "_raw" not in only_json_null(sel(f"{UN}: '*'"))


def test_splunk_text_null_regex_walks_the_json_path() -> None:
    jstr = r'"(?:[^"\\]++|\\.)*+"'
    assert text_null_regex("resources{}.ARN") == (
        r'^\s*+\{\s*+(?:(?&jmem)\s*+,\s*+)*?"resources"\s*+:\s*+\[\s*+(?:(?&jval)\s*+,\s*+)*?'
        r'\{\s*+(?:(?&jmem)\s*+,\s*+)*?"ARN"\s*+:\s*+"null"'
        rf"(?(DEFINE)(?<jstr>{jstr})(?<jval>(?&jstr)|\{{\s*+(?:(?&jmem)\s*+(?:,\s*+(?&jmem)\s*+)*+)?+\}}"
        r"|\[\s*+(?:(?&jval)\s*+(?:,\s*+(?&jval)\s*+)*+)?+\]|[-+.0-9A-Za-z]++)"
        r"(?<jmem>(?&jstr)\s*+:\s*+(?&jval)))"
    )
    with pytest.raises(UnsupportedConstructError, match="cannot be located"):
        text_null_regex("a{}b")


def test_splunk_compare() -> None:
    assert convert(sel("responseElements.count|gt: 5", "responseElements.size|lte: 10")) == (
        f"{ST} responseElements.count>5 responseElements.size<=10"
    )


def test_splunk_bool_and_number() -> None:
    assert convert(sel("readOnly: false", "eventVersion: 1")) == f"{ST} readOnly=false eventVersion=1"


def test_splunk_keywords() -> None:
    assert convert("    keywords:\n        - 'evil'\n" + sel("eventName: X"), "keywords and sel") == (
        f'{ST} eventName="X" | regex _raw="(?is)evil"'
    )


def test_splunk_not_is_emitted_as_not() -> None:
    detection = sel("eventName: X") + "    f:\n        userIdentity.type: Root"
    assert convert(detection, "sel and not f") == f'{ST} eventName="X" NOT userIdentity.type="Root"'


def test_splunk_and_or_brackets() -> None:
    detection = "    a:\n        eventName: A\n    b:\n        eventName: B\n    c:\n        eventSource: C"
    # eventSource is canonical (lowercase): the canonicalisation step spells C as c
    assert convert(detection, "a or (b and c)") == f'{ST} (eventName="A" OR (eventName="B" eventSource="c"))'


def test_splunk_value_list() -> None:
    assert convert(sel("eventName:", "  - A", "  - B*")) == f'{ST} eventName IN ("A", "B*")'


def test_splunk_escaping() -> None:
    assert convert(sel("userAgent: 'a\"b|c'")) == f'{ST} userAgent="a\\"b|c"'
    # A value cannot close its quotes and start a command.
    assert convert(sel("userAgent: 'x\" | delete'")) == f'{ST} userAgent="x\\" | delete"'
    with pytest.raises(UnsupportedConstructError, match="control character"):
        spl_quote("a\nb")
    with pytest.raises(UnsupportedConstructError, match="backtick"):
        spl_quote("a`b")


def test_splunk_array_field_names() -> None:
    assert convert(
        sel("resources.ARN|endswith: ':function:x'", "requestParameters.layers|contains: evil")
    ) == (f'{ST} resources{{}}.ARN="*:function:x" requestParameters.layers{{}}="*evil*"')


def test_splunk_unknown_field_rejected() -> None:
    with pytest.raises(UnsupportedFieldError, match=r"'foo\.bar'"):
        convert(sel("foo.bar: x"))


def test_splunk_unsafe_field_name_rejected() -> None:
    with pytest.raises(UnsupportedFieldError, match="cannot carry safely"):
        convert(sel("requestParameters.a'b: x"))


def test_splunk_whole_object_refused() -> None:
    # Sigma compares values with strings; an object is not one (docs/evaluator.md, choice 4).
    for detection in (
        "requestParameters|contains: Suspended",
        "userIdentity: x",
        "userIdentity.sessionContext|exists: true",
        "responseElements: null",
    ):
        with pytest.raises(UnsupportedFieldError, match="is a JSON object, not a value"):
            convert(sel(detection))


def test_splunk_savedsearches() -> None:
    assert convert(sel("eventName: X"), output_format="savedsearches") == (
        "# savedsearches.conf generated by sigma-lambda from Sigma rules (AWS CloudTrail, Splunk Add-on for AWS).\n"
        "# Place in $SPLUNK_HOME/etc/apps/<app>/local/savedsearches.conf; see docs/artifacts.md.\n\n"
        "[Test rule]\ndescription = Test rule\n"
        f'search = {ST} eventName="X"\n'
        "enableSched = 1\ncron_schedule = */15 * * * *\ndispatch.earliest_time = -20m@m\n"
        "dispatch.latest_time = -5m@m\ncounttype = number of events\nrelation = greater than\nquantity = 0\n"
        "alert.severity = 3\nalert.digest_mode = 1\nalert.track = 1\nalert.suppress = 0\n"
        "request.ui_dispatch_app = search\n"
    )


def test_splunk_sigmahq_corpus_converts() -> None:
    folder = CORPUS / "sigmahq" / "rules" / "cloud" / "aws" / "cloudtrail"
    if not folder.is_dir():
        pytest.skip(f"SigmaHQ corpus not found at {folder}")
    failures: list[str] = []
    paths = sorted(folder.glob("*.yml"))
    refused: list[str] = []
    for path in paths:
        backend = CloudTrailSplunkBackend(processing_pipeline=aws_cloudtrail_splunk())
        try:
            queries = backend.convert(SigmaCollection.from_yaml(path.read_text()))
            if len(queries) != 1 or not queries[0].startswith(ST):
                failures.append(f"{path.name}: {queries}")
        except UnsupportedFieldError as e:
            if "is a JSON object, not a value" not in str(e):
                failures.append(f"{path.name}: {e}")
            refused.append(path.name)
        except SigmaError as e:
            failures.append(f"{path.name}: {e}")
    assert len(paths) == 57
    assert failures == []
    assert refused == WHOLE_OBJECT_RULES


def test_splunk_field_table() -> None:
    assert splunk_field("resources.ARN") == "resources{}.ARN"
    assert splunk_field("requestParameters.ipPermissions.items.ipRanges.items.cidrIp") == (
        "requestParameters.ipPermissions.items{}.ipRanges.items{}.cidrIp"
    )
    assert ("resources.ARN", "resources{}.ARN", "multi-valued (array element)") in mapping_rows()
    table = markdown_table()
    assert table.startswith("| CloudTrail field | Splunk field | Note |\n|---|---|---|\n")
    assert "| `requestParameters.layers` | `requestParameters.layers{}` |" in table
    assert "| `userIdentity.sessionContext` | - | JSON object, not a value: refused" in table


def test_splunk_view() -> None:
    record = {
        "eventName": "UpdateFunctionConfiguration20150331v2",
        "readOnly": False,
        "errorCode": None,
        "userIdentity": {"type": "IAMUser", "sessionContext": {}},
        "requestParameters": {"layers": ["arn:a", "arn:b"], "memorySize": 128, "ratio": 1.5},
        "resources": [{"ARN": "arn:1", "type": "AWS::Lambda::Function"}, {"ARN": "arn:2"}],
        "additionalEventData": [],
    }
    assert splunk_view(record, index="aws") == {
        "eventName": ["UpdateFunctionConfiguration20150331v2"],
        "readOnly": ["false"],
        "errorCode": ["null"],
        "userIdentity.type": ["IAMUser"],
        "requestParameters.layers{}": ["arn:a", "arn:b"],
        "requestParameters.memorySize": ["128"],
        "requestParameters.ratio": ["1.5"],
        "resources{}.ARN": ["arn:1", "arn:2"],
        "resources{}.type": ["AWS::Lambda::Function"],
        "sourcetype": ["aws:cloudtrail"],
        "_raw": [
            '{"eventName":"UpdateFunctionConfiguration20150331v2","readOnly":false,"errorCode":null,'
            '"userIdentity":{"type":"IAMUser","sessionContext":{}},"requestParameters":{"layers":["arn:a",'
            '"arn:b"],"memorySize":128,"ratio":1.5},"resources":[{"ARN":"arn:1","type":"AWS::Lambda::Function"},'
            '{"ARN":"arn:2"}],"additionalEventData":[]}'
        ],
        "index": ["aws"],
    }


#: The SigmaHQ rule aws_new_lambda_layer_attached's selection: a request member beside a fixed operation.
LAYERS = (
    "eventSource: lambda.amazonaws.com",
    "eventName|startswith: UpdateFunctionConfiguration",
    "requestParameters.layers|contains: '*'",
)


def test_splunk_member_readings_come_from_the_operation() -> None:
    """A member item in one selection beside a fixed eventSource and eventName has that operation's readings
    (botocore: never a JSON null below the roots), so '*' is the plain term; elsewhere the field-wide ones."""
    plain = f'{ST} eventSource="lambda.amazonaws.com" eventName="UpdateFunctionConfiguration*"'
    assert convert(sel(*LAYERS)) == f'{plain} requestParameters.layers{{}}="*"'
    # under not, the AND still decides only on those operations: the same plain term, negated
    assert convert(sel(*LAYERS), condition="not sel") == (
        f'{ST} NOT (eventSource="lambda.amazonaws.com" eventName="UpdateFunctionConfiguration*"'
        ' requestParameters.layers{}="*")'
    )
    # a response member nested two levels deep (aws_rds_change_master_password)
    assert convert(
        sel(
            "eventSource: rds.amazonaws.com",
            "eventName: ModifyDBInstance",
            "responseElements.pendingModifiedValues.masterUserPassword|contains: '*'",
        )
    ) == (
        f'{ST} eventSource="rds.amazonaws.com" eventName="ModifyDBInstance"'
        ' responseElements.pendingModifiedValues.masterUserPassword="*"'
    )
    no_context = [
        convert(sel(*LAYERS[::2])),  # no eventName
        convert(sel(LAYERS[0], "eventName|neq: UpdateFunctionConfiguration", LAYERS[2])),  # not a fixed value
        convert(sel(*LAYERS[1:])),  # no eventSource
        convert(
            sel(*LAYERS[::2]) + "    op:\n        eventName: UpdateFunctionConfiguration\n", "sel and op"
        ),
        convert(sel("eventSource: lambda.amazonaws.com", "eventName: NoSuchOperation", LAYERS[2])),
    ]
    assert all("_raw" in query for query in no_context), no_context


def test_splunk_member_readings_on_the_engine() -> None:
    """The plain term on real record shapes: a layer written as the string "null" matches, as Sigma's '*'
    does; a record without layers, or of another operation, does not."""
    from tests.engines.spl import run_spl

    query = convert(sel(*LAYERS))

    def record(name: str, params: dict[str, object] | None) -> dict[str, object]:
        return {"eventSource": "lambda.amazonaws.com", "eventName": name, "requestParameters": params}

    records = [
        record("UpdateFunctionConfiguration20150331v2", {"layers": ["arn:aws:lambda:r:1:layer:x:1"]}),
        record("UpdateFunctionConfiguration20150331v2", {"layers": ["null"]}),
        record("UpdateFunctionConfiguration", {"functionName": "f"}),
        record("UpdateFunctionConfiguration", None),
        record("PublishLayerVersion20181031", {"layers": ["arn:aws:lambda:r:1:layer:x:1"]}),
    ]
    assert run_spl(query, [splunk_view(r) for r in records]) == {0, 1}
