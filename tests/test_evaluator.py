"""The Sigma reference evaluator against hand-labelled cases.

Every expected verdict below is reasoned from the Sigma specification (and the choices in
``docs/evaluator.md``), not taken from running the evaluator. Each test names one modifier or condition
shape, holds its rule inline and lists (record, expected verdict) pairs.
"""

from __future__ import annotations

import base64
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from sigma_lambda_layer.evaluator import EvaluationError, RuleEvaluator, evaluate
from tests.support.rulekit import CONSOLE_LOGIN, rule_yaml

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / ".." / "shared" / "corpus"
CLOUDTRAIL = CORPUS / "cloudtrail"
AWS_RULES = CORPUS / "sigmahq" / "rules" / "cloud" / "aws" / "cloudtrail"


def make_rule(detection: str) -> SigmaRule:
    """A CloudTrail rule whose ``detection:`` block is ``detection`` (YAML, any indentation)."""
    return SigmaRule.from_yaml(rule_yaml(detection))


def verdicts(detection: str, records: list[Any]) -> list[bool]:
    """The rule's verdict on each record (records are JSON-like dicts; ``Any`` because mixed literals
    infer as ``object``)."""
    evaluator = RuleEvaluator(make_rule(detection))
    return [evaluator.matches(record) for record in records]


# --- strings -------------------------------------------------------------------------------------


def test_evaluator_plain_string_is_case_insensitive_whole_value() -> None:
    detection = """
        selection:
            eventName: CreateUser
        condition: selection
    """
    records = [
        {"eventName": "CreateUser"},
        {"eventName": "createuser"},
        {"eventName": "CREATEUSER"},
        {"eventName": "CreateUserX"},  # whole value, not a prefix
        {"eventName": "XCreateUser"},
        {},  # missing field never equals a value
        {"eventName": None},
    ]
    assert verdicts(detection, records) == [True, True, True, False, False, False, False]


def test_evaluator_empty_string_matches_only_empty_string() -> None:
    detection = """
        selection:
            errorCode: ''
        condition: selection
    """
    records = [{"errorCode": ""}, {"errorCode": "x"}, {}, {"errorCode": None}]
    assert verdicts(detection, records) == [True, False, False, False]


def test_evaluator_cased_modifier() -> None:
    detection = """
        selection:
            eventName|cased: CreateUser
        condition: selection
    """
    records = [{"eventName": "CreateUser"}, {"eventName": "createuser"}, {"eventName": "CREATEUSER"}]
    assert verdicts(detection, records) == [True, False, False]


def test_evaluator_wildcards() -> None:
    detection = """
        selection:
            eventName: 'Get*Policy?'
        condition: selection
    """
    records = [
        {"eventName": "GetBucketPolicyX"},  # * = "Bucket", ? = "X"
        {"eventName": "getpolicyz"},  # * may be empty; case-insensitive
        {"eventName": "GetBucketPolicy"},  # ? needs exactly one character
        {"eventName": "GetBucketPolicyXY"},  # ... and no more
        {"eventName": "ListPolicyX"},
        {"eventName": "Get\nPolicy!"},  # wildcards cross line breaks
    ]
    assert verdicts(detection, records) == [True, True, False, False, False, True]


def test_evaluator_escaped_wildcards_are_literals() -> None:
    # YAML single quotes keep backslashes: the Sigma values are a\*b\?c, C:\Windows\* and a\\*
    detection = r"""
        sel_literal:
            f: 'a\*b\?c'
        sel_backslash_plain:
            g: 'C:\Windows\*'
        sel_escaped_backslash:
            h: 'a\\*'
        condition: sel_literal or sel_backslash_plain or sel_escaped_backslash
    """
    records = [
        {"f": "a*b?c"},  # escaped * and ? are the characters themselves
        {"f": "aXbYc"},  # ... not wildcards
        {"g": "C:\\Windows*"},  # \W is a plain backslash, \* a literal star
        {"g": "C:\\Windows\\x"},
        {"h": "a\\anything"},  # \\ is one backslash, then * is a wildcard
        {"h": "a\\"},
        {"h": "anything"},
    ]
    assert verdicts(detection, records) == [True, False, True, False, True, True, False]


def test_evaluator_contains_startswith_endswith() -> None:
    detection = """
        sel_contains:
            a|contains: 'mid'
        sel_startswith:
            b|startswith: 'Update'
        sel_endswith:
            c|endswith: '.amazonaws.com'
        condition: 1 of sel_*
    """
    records = [
        {"a": "xxMIDxx"},
        {"a": "mi-d"},
        {"b": "UpdateFunctionConfiguration20150331v2"},
        {"b": "XUpdate"},
        {"c": "lambda.AMAZONAWS.com"},
        {"c": "lambda.amazonaws.com.evil"},
        {"c": "lambdaXamazonawsXcom"},  # the dots are literal, not regex dots
    ]
    assert verdicts(detection, records) == [True, False, True, False, True, False, False]


def test_evaluator_value_list_is_or() -> None:
    detection = """
        selection:
            eventName:
                - StopLogging
                - DeleteTrail
        condition: selection
    """
    records = [{"eventName": "StopLogging"}, {"eventName": "deletetrail"}, {"eventName": "UpdateTrail"}]
    assert verdicts(detection, records) == [True, True, False]


def test_evaluator_all_modifier_is_and() -> None:
    detection = """
        selection:
            userAgent|contains|all:
                - 'S3 Browser'
                - 'Windows'
        condition: selection
    """
    records = [
        {"userAgent": "S3 Browser 9.5.5 on windows 10"},
        {"userAgent": "S3 Browser 9.5.5"},
        {"userAgent": "Windows"},
    ]
    assert verdicts(detection, records) == [True, False, False]


def test_evaluator_map_is_and_list_of_maps_is_or() -> None:
    detection = """
        sel_map:
            eventSource: iam.amazonaws.com
            eventName: CreateUser
        sel_list:
            - eventName: DeleteTrail
            - sourceIPAddress: 10.0.0.1
        condition: sel_map or sel_list
    """
    records = [
        {"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"},
        {"eventSource": "iam.amazonaws.com", "eventName": "DeleteUser"},
        {"eventSource": "sts.amazonaws.com", "eventName": "CreateUser"},
        {"eventName": "DeleteTrail"},
        {"sourceIPAddress": "10.0.0.1"},
    ]
    assert verdicts(detection, records) == [True, False, False, True, True]


# --- fields: paths, arrays, JSON types -----------------------------------------------------------


def test_evaluator_nested_path() -> None:
    detection = """
        selection:
            userIdentity.sessionContext.sessionIssuer.type: Role
        condition: selection
    """
    records = [
        {"userIdentity": {"sessionContext": {"sessionIssuer": {"type": "Role"}}}},
        {"userIdentity": {"sessionContext": {"sessionIssuer": {"type": "User"}}}},
        {"userIdentity": {"sessionContext": {}}},
        {"userIdentity": "Role"},  # a string where an object is expected: no such field
        {"type": "Role"},
    ]
    assert verdicts(detection, records) == [True, False, False, False, False]


def test_evaluator_arrays_match_if_any_element_matches() -> None:
    detection = """
        sel_objects:
            resources.ARN|endswith: ':trail/main'
        sel_strings:
            requestParameters.layers|contains: 'evil-layer'
        condition: sel_objects or sel_strings
    """
    records = [
        {"resources": [{"ARN": "arn:aws:s3:::bucket"}, {"ARN": "arn:aws:cloudtrail:x:1:trail/main"}]},
        {"resources": [{"ARN": "arn:aws:s3:::bucket"}, {"type": "AWS::CloudTrail::Trail"}]},
        {"requestParameters": {"layers": ["arn:good-layer:1", "arn:EVIL-LAYER:3"]}},
        {"requestParameters": {"layers": [["arn:evil-layer:1"]]}},  # nested arrays are flattened
        {"requestParameters": {"layers": []}},
        {"requestParameters": {"layers": ["arn:good-layer:1"]}},
    ]
    assert verdicts(detection, records) == [True, False, True, True, False, False]


def test_evaluator_key_containing_a_dot() -> None:
    detection = """
        selection:
            requestParameters.tag.Name: prod
        condition: selection
    """
    records = [
        {"requestParameters": {"tag.Name": "prod"}},
        {"requestParameters.tag.Name": "prod"},
        {"requestParameters": {"tag": {"Name": "prod"}}},
        {"requestParameters": {"tag.Name": "dev"}},
    ]
    assert verdicts(detection, records) == [True, True, True, False]


def test_evaluator_object_field_never_matches_a_value() -> None:
    # requestParameters is an object in CloudTrail: a value (even "*") is not compared with an object.
    detection = """
        sel_contains:
            requestParameters|contains: 'Allow'
        sel_any:
            responseElements: '*'
        condition: sel_contains or sel_any
    """
    records = [
        {"requestParameters": {"policyDocument": "Allow"}},
        {"responseElements": {}},
        {"responseElements": "anything"},  # a string there is a value like any other
    ]
    assert verdicts(detection, records) == [False, False, True]


def test_evaluator_string_against_json_number_and_bool() -> None:
    detection = """
        sel_bool:
            readOnly: 'true'
        sel_number:
            responseElements.size|startswith: '12'
        condition: sel_bool or sel_number
    """
    records = [
        {"readOnly": True},  # compared by its JSON text "true"
        {"readOnly": "TRUE"},
        {"readOnly": False},
        {"responseElements": {"size": 123}},  # JSON text "123" starts with "12"
        {"responseElements": {"size": 312}},
        {"responseElements": {"size": None}},
    ]
    assert verdicts(detection, records) == [True, True, False, True, False, False]


def test_evaluator_number_value() -> None:
    detection = """
        selection:
            responseElements.count: 123
        condition: selection
    """
    records = [
        {"responseElements": {"count": 123}},
        {"responseElements": {"count": 123.0}},
        {"responseElements": {"count": "123"}},  # a numeric string is a number
        {"responseElements": {"count": "123abc"}},
        {"responseElements": {"count": 124}},
        {"responseElements": {"count": True}},  # a boolean is not a number
    ]
    assert verdicts(detection, records) == [True, True, True, False, False, False]


def test_evaluator_decimal_number_value() -> None:
    detection = """
        selection:
            eventVersion: 1.08
        condition: selection
    """
    records = [{"eventVersion": "1.08"}, {"eventVersion": 1.08}, {"eventVersion": "1.09"}]
    assert verdicts(detection, records) == [True, True, False]


def test_evaluator_boolean_value() -> None:
    detection = """
        selection:
            managementEvent: true
        condition: selection
    """
    records = [
        {"managementEvent": True},
        {"managementEvent": "true"},
        {"managementEvent": "True"},
        {"managementEvent": False},
        {"managementEvent": 1},  # a number is not a boolean
        {},
    ]
    assert verdicts(detection, records) == [True, True, True, False, False, False]


# --- null, exists, negation ----------------------------------------------------------------------


def test_evaluator_null_means_absent_or_json_null() -> None:
    detection = """
        selection:
            errorCode: null
        condition: selection
    """
    records = [
        {},
        {"errorCode": None},
        {"errorCode": []},  # an empty array holds no value
        {"errorCode": [None]},
        {"errorCode": ""},  # empty string is a value
        {"errorCode": "AccessDenied"},
    ]
    assert verdicts(detection, records) == [True, True, True, True, False, False]


def test_evaluator_exists_modifier() -> None:
    detection = """
        sel_present:
            eventName: X
            errorCode|exists: true
        sel_absent:
            eventName: Y
            errorCode|exists: false
        condition: 1 of sel_*
    """
    records = [
        {"eventName": "X", "errorCode": "AccessDenied"},
        {"eventName": "X", "errorCode": ""},  # empty string exists
        {"eventName": "X"},
        {"eventName": "X", "errorCode": None},  # JSON null counts as absent
        {"eventName": "Y"},
        {"eventName": "Y", "errorCode": None},
        {"eventName": "Y", "errorCode": "x"},
    ]
    assert verdicts(detection, records) == [True, True, False, False, True, True, False]


def test_evaluator_not_is_true_when_field_missing() -> None:
    detection = """
        selection:
            eventName: CreateUser
        filter:
            userIdentity.type: Root
        condition: selection and not filter
    """
    records = [
        {"eventName": "CreateUser", "userIdentity": {"type": "IAMUser"}},
        {"eventName": "CreateUser", "userIdentity": {"type": "root"}},
        {"eventName": "CreateUser"},  # no userIdentity.type: "not filter" holds
        {"eventName": "DeleteUser"},
    ]
    assert verdicts(detection, records) == [True, False, True, False]


def test_evaluator_neq_modifier() -> None:
    detection = """
        selection:
            eventSource: iam.amazonaws.com
            eventName|neq: CreateUser
        condition: selection
    """
    records = [
        {"eventSource": "iam.amazonaws.com", "eventName": "DeleteUser"},
        {"eventSource": "iam.amazonaws.com", "eventName": "createuser"},
        {"eventSource": "iam.amazonaws.com"},  # not equal, because missing never equals
    ]
    assert verdicts(detection, records) == [True, False, True]


# --- type modifiers ------------------------------------------------------------------------------


def test_evaluator_re_is_case_sensitive_and_unanchored() -> None:
    detection = """
        selection:
            userIdentity.arn|re: ':assumed-role/aws:.+'
        condition: selection
    """
    records = [
        {"userIdentity": {"arn": "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1"}},  # found inside
        {"userIdentity": {"arn": "arn:aws:sts::1:ASSUMED-ROLE/aws:ec2-instance/i-1"}},  # case matters
        {"userIdentity": {"arn": "arn:aws:sts::1:assumed-role/aws:"}},  # .+ needs one character
    ]
    assert verdicts(detection, records) == [True, False, False]


def test_evaluator_re_flags() -> None:
    detection = """
        sel_i:
            a|re|i: '^getobject$'
        sel_m:
            b|re|m: '^second$'
        sel_s:
            c|re|s: 'one.two'
        condition: 1 of sel_*
    """
    records = [
        {"a": "GetObject"},
        {"a": "GetObjectAcl"},
        {"b": "first\nsecond\nthird"},  # ^ and $ at line boundaries
        {"b": "first second"},
        {"c": "one\ntwo"},  # . matches a newline
        {"c": "onetwo"},
    ]
    assert verdicts(detection, records) == [True, False, True, False, True, False]
    without_flags = """
        sel_m:
            b|re: '^second$'
        sel_s:
            c|re: 'one.two'
        condition: 1 of sel_*
    """
    assert verdicts(without_flags, [{"b": "first\nsecond\nthird"}, {"c": "one\ntwo"}]) == [False, False]


def test_evaluator_cidr_ipv4_and_ipv6() -> None:
    detection = """
        selection:
            sourceIPAddress|cidr:
                - 10.0.0.0/8
                - 2001:db8::/32
        condition: selection
    """
    records = [
        {"sourceIPAddress": "10.1.2.3"},
        {"sourceIPAddress": "11.1.2.3"},
        {"sourceIPAddress": "2001:db8:0:1::5"},
        {"sourceIPAddress": "2001:db9::1"},
        {"sourceIPAddress": "AWS Internal"},  # not an IP address: no match, no error
        {"sourceIPAddress": "lambda.amazonaws.com"},
        {"sourceIPAddress": 167772161},  # a number is not an address string
        {},
    ]
    assert verdicts(detection, records) == [True, False, True, False, False, False, False, False]


def test_evaluator_numeric_comparisons() -> None:
    detection = """
        sel_gt:
            a|gt: 10
        sel_gte:
            b|gte: 10
        sel_lt:
            c|lt: 1.5
        sel_lte:
            d|lte: -2
        condition: 1 of sel_*
    """
    records = [
        {"a": 11},
        {"a": 10},
        {"a": "10.5"},  # numeric string
        {"a": "eleven"},
        {"a": True},
        {"b": 10},
        {"b": 9.99},
        {"c": 1.4},
        {"c": 1.5},
        {"d": -2},
        {"d": "-3"},
        {"d": -1},
    ]
    expected = [True, False, True, False, False, True, False, True, False, True, True, False]
    assert verdicts(detection, records) == expected


def test_evaluator_fieldref() -> None:
    detection = """
        sel_equal:
            userIdentity.userName|fieldref: requestParameters.userName
        condition: sel_equal
    """
    records = [
        {"userIdentity": {"userName": "alice"}, "requestParameters": {"userName": "ALICE"}},
        {"userIdentity": {"userName": "alice"}, "requestParameters": {"userName": "bob"}},
        {"userIdentity": {"userName": "alice"}},  # reference missing
        {"requestParameters": {"userName": "alice"}},  # field missing
    ]
    assert verdicts(detection, records) == [True, False, False, False]


def test_evaluator_fieldref_with_contains_startswith_endswith() -> None:
    detection = """
        sel_contains:
            kind: c
            a|fieldref|contains: b
        sel_startswith:
            kind: s
            a|fieldref|startswith: b
        sel_endswith:
            kind: e
            a|fieldref|endswith: b
        condition: 1 of sel_*
    """
    records = [
        {"kind": "c", "a": "xxBobxx", "b": "bob"},
        {"kind": "c", "a": "xxBoxx", "b": "bob"},
        {"kind": "s", "a": "bob-admin", "b": "Bob"},
        {"kind": "s", "a": "admin-bob", "b": "bob"},
        {"kind": "e", "a": "admin-bob", "b": "bob"},
        {"kind": "e", "a": "bob-admin", "b": "bob"},
    ]
    assert verdicts(detection, records) == [True, False, True, False, True, False]


def test_evaluator_base64() -> None:
    detection = """
        sel_exact:
            a|base64: 'abc'
        sel_contains:
            b|base64|contains: 'abc'
        condition: 1 of sel_*
    """
    records = [
        {"a": "YWJj"},  # base64("abc")
        {"a": "ywjj"},  # Sigma strings stay case-insensitive after encoding, as pySigma emits them
        {"a": "YWJjZA=="},
        {"b": "xxYWJjxx"},
        {"b": "YWJ"},
    ]
    assert verdicts(detection, records) == [True, True, False, True, False]


def test_evaluator_base64offset() -> None:
    detection = """
        selection:
            requestParameters.userData|base64offset|contains: 'http://evil'
        condition: selection
    """

    def encoded(plain: str) -> dict[str, Any]:
        return {"requestParameters": {"userData": base64.b64encode(plain.encode()).decode()}}

    records = [
        encoded("curl http://evil/x"),  # "http://evil" at offset 5 (5 mod 3 = 2)
        encoded("wget http://evil/x"),  # offset 5 again, different prefix
        encoded("x http://evil/x"),  # offset 2
        encoded("xy http://evil/x"),  # offset 3 (0 mod 3)
        encoded("http://evil"),  # offset 0, whole value
        encoded("curl http://good/x"),
    ]
    assert verdicts(detection, records) == [True, True, True, True, True, False]


def test_evaluator_windash() -> None:
    detection = """
        selection:
            commandLine|windash|contains: ' -enc '
        condition: selection
    """
    records = [
        {"commandLine": "powershell -enc AAAA"},
        {"commandLine": "powershell /enc AAAA"},
        {"commandLine": "powershell \u2013enc AAAA"},  # en dash
        {"commandLine": "powershell \u2014enc AAAA"},  # em dash
        {"commandLine": "powershell \u2015enc AAAA"},  # horizontal bar
        {"commandLine": "powershell enc AAAA"},
    ]
    assert verdicts(detection, records) == [True, True, True, True, True, False]


def test_evaluator_all_with_expansion_keeps_variants_or_linked() -> None:
    # windash expands each value into variants; |all ANDs the values, but the variants stay OR-linked.
    detection = """
        selection:
            commandLine|windash|contains|all:
                - ' -a '
                - ' -b '
        condition: selection
    """
    records = [
        {"commandLine": "x /a /b "},
        {"commandLine": "x -a /b "},
        {"commandLine": "x -a "},
    ]
    assert verdicts(detection, records) == [True, True, False]


def test_evaluator_wide_and_utf16_encodings() -> None:
    # pySigma encodes each character to UTF-16 and keeps the result as text: "ab" becomes "a\0b\0" (wide,
    # utf16le), "\0a\0b" (utf16be) and "\ufeffa\0b\0" (utf16, with a byte order mark).
    detection = """
        sel_wide:
            w|wide: 'ab'
        sel_be:
            x|utf16be: 'ab'
        sel_bom:
            y|utf16: 'ab'
        sel_b64:
            z|wide|base64offset|contains: 'ping'
        condition: 1 of sel_*
    """
    wide_ping = base64.b64encode("cmd /c ping x".encode("utf-16le")).decode()
    records = [
        {"w": "a\x00b\x00"},
        {"w": "ab"},
        {"x": "\x00a\x00b"},
        {"x": "a\x00b\x00"},
        {"y": "\ufeffa\x00b\x00"},
        {"y": "a\x00b\x00"},
        {"z": wide_ping},
        {"z": base64.b64encode(b"cmd /c ping x").decode()},  # not UTF-16
    ]
    assert verdicts(detection, records) == [True, False, True, False, True, False, True, False]


def test_evaluator_timestamp_parts() -> None:
    detection = """
        sel_hour:
            eventTime|hour: 21
        sel_late:
            eventTime|month|gte: 11
        condition: 1 of sel_*
    """
    records = [
        {"eventTime": "2024-07-30T21:57:20Z"},
        {"eventTime": "2024-07-30T20:57:20Z"},
        {"eventTime": "2024-12-01T00:00:00Z"},
        {"eventTime": "not a time"},
    ]
    assert verdicts(detection, records) == [True, False, True, False]


# --- keywords ------------------------------------------------------------------------------------


def test_evaluator_keywords_search_every_scalar_value() -> None:
    detection = """
        keywords:
            - 'evil'
            - 'ma?ware'
        condition: keywords
    """
    records = [
        {"requestParameters": {"policy": {"Statement": ["allow", "xxEVILxx"]}}},  # deep, in an array
        {"userAgent": "malware-kit/1.0"},
        {"evil": "innocent"},  # keys are not searched
        {"userAgent": "good"},
    ]
    assert verdicts(detection, records) == [True, True, False, False]


def test_evaluator_keywords_all_and_numbers() -> None:
    detection = """
        keywords:
            '|all':
                - 'S3 Browser'
                - 'PutUserPolicy'
        number:
            - 4040
        condition: keywords or number
    """
    records = [
        {"eventName": "PutUserPolicy", "userAgent": "S3 Browser 9"},
        {"eventName": "PutUserPolicy", "userAgent": "aws-cli"},
        {"responseElements": {"port": 4040}},  # a number is searched by its JSON text
        {"responseElements": {"note": "port 14040"}},
        {"responseElements": {"port": 404}},
    ]
    assert verdicts(detection, records) == [True, False, True, True, False]


# --- conditions ----------------------------------------------------------------------------------


def test_evaluator_and_or_not_precedence_and_brackets() -> None:
    detection = """
        a:
            a: 1
        b:
            b: 1
        c:
            c: 1
        condition: a or b and not c
    """
    # not > and > or: a or (b and (not c))
    records = [{"a": 1, "c": 1}, {"b": 1}, {"b": 1, "c": 1}, {"c": 1}]
    assert verdicts(detection, records) == [True, True, False, False]
    bracketed = detection.replace("a or b and not c", "(a or b) and not c")
    assert verdicts(bracketed, records) == [False, True, False, False]


def test_evaluator_one_of_and_all_of_patterns() -> None:
    detection = """
        selection_x:
            x: 1
        selection_y:
            y: 1
        filter_z:
            z: 1
        condition: {quantifier} of selection_*
    """
    records = [{"x": 1}, {"x": 1, "y": 1}, {"z": 1}]
    assert verdicts(detection.format(quantifier="1"), records) == [True, True, False]
    assert verdicts(detection.format(quantifier="all"), records) == [False, True, False]


def test_evaluator_one_of_and_all_of_them() -> None:
    # "them" covers every search identifier except those starting with an underscore.
    detection = """
        sel_x:
            x: 1
        sel_y:
            y: 1
        _helper:
            h: 1
        condition: {quantifier} of them
    """
    records = [{"x": 1}, {"x": 1, "y": 1}, {"h": 1}]
    assert verdicts(detection.format(quantifier="1"), records) == [True, True, False]
    assert verdicts(detection.format(quantifier="all"), records) == [False, True, False]


def test_evaluator_not_one_of_filters() -> None:
    detection = """
        selection:
            eventName: ConsoleLogin
        filter_main_a:
            sourceIPAddress: 10.0.0.1
        filter_main_b:
            userAgent|contains: 'Mozilla'
        condition: selection and not 1 of filter_main_*
    """
    records = [
        {"eventName": "ConsoleLogin", "sourceIPAddress": "1.2.3.4", "userAgent": "curl"},
        {"eventName": "ConsoleLogin", "sourceIPAddress": "10.0.0.1", "userAgent": "curl"},
        {"eventName": "ConsoleLogin", "userAgent": "Mozilla/5.0"},
        {"eventName": "ConsoleLogin"},
    ]
    assert verdicts(detection, records) == [True, False, False, True]


def test_evaluator_condition_list_is_or() -> None:
    detection = """
        a:
            a: 1
        b:
            b: 1
        condition:
            - a
            - b
    """
    assert verdicts(detection, [{"a": 1}, {"b": 1}, {"c": 1}]) == [True, True, False]


# --- API and errors ------------------------------------------------------------------------------


def test_evaluator_evaluate_function_and_reuse() -> None:
    rule = make_rule(
        """
        selection:
            eventSource: lambda.amazonaws.com
        condition: selection
        """
    )
    evaluator = RuleEvaluator(rule)
    record = {"eventSource": "lambda.amazonaws.com"}
    assert evaluate(rule, record) is True
    assert evaluate(rule, {"eventSource": "s3.amazonaws.com"}) is False
    assert [evaluator.matches(record), evaluator.matches({}), evaluator.matches(record)] == [
        True,
        False,
        True,
    ]


def test_evaluator_correlation_rule_is_rejected() -> None:
    from sigma.collection import SigmaCollection

    collection = SigmaCollection.from_yaml(
        rule_yaml(CONSOLE_LOGIN, title="base", name="base_rule")
        + textwrap.dedent(
            """\
            ---
            title: many logins
            correlation:
                type: event_count
                rules:
                    - base_rule
                group-by:
                    - sourceIPAddress
                timespan: 5m
                condition:
                    gte: 10
            """
        )
    )
    correlation = collection.rules[1]
    with pytest.raises(EvaluationError, match="correlation rules"):
        RuleEvaluator(correlation)  # type: ignore[arg-type]
    assert issubclass(EvaluationError, SigmaError)


def test_evaluator_unresolved_placeholder_is_rejected() -> None:
    rule = make_rule(
        """
        selection:
            userIdentity.userName|expand: '%Administrators%'
        condition: selection
        """
    )
    with pytest.raises(EvaluationError, match="placeholder %Administrators%"):
        RuleEvaluator(rule)


def test_evaluator_keyword_that_needs_a_field_is_rejected() -> None:
    rule = make_rule(
        """
        keywords:
            '|cidr': 10.0.0.0/8
        condition: keywords
        """
    )
    with pytest.raises(EvaluationError, match="needs a field"):
        RuleEvaluator(rule)


def test_evaluator_selector_matching_nothing_is_rejected() -> None:
    # pySigma leaves a hole (None) where "1 of filter*" names no detection; the evaluator will not guess
    # whether the hole meant "nothing matched" or "dropped by a pipeline".
    rule = make_rule(
        """
        selection:
            eventName: ConsoleLogin
        condition: selection and not 1 of filter*
        """
    )
    with pytest.raises(EvaluationError, match="selects no detection"):
        RuleEvaluator(rule)


# --- the corpus ----------------------------------------------------------------------------------


def _corpus_records() -> list[dict[str, Any]]:
    if not CLOUDTRAIL.is_dir():
        pytest.skip(f"CloudTrail corpus not found at {CLOUDTRAIL.resolve()}")
    return [
        json.loads(line)
        for path in sorted(CLOUDTRAIL.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_evaluator_founding_rule_matches_real_update_function_configuration() -> None:
    stratus = CLOUDTRAIL / "stratus-red-team_detonation-logs.jsonl"
    if not stratus.is_file():
        pytest.skip(f"Stratus Red Team corpus file not found at {stratus.resolve()}")
    rule = SigmaRule.from_yaml((REPO / "rules" / "aws_attached_malicious_lambda_layer.yml").read_text())
    records = [json.loads(line) for line in stratus.read_text(encoding="utf-8").splitlines() if line]
    evaluator = RuleEvaluator(rule)
    matched = [r["eventName"] for r in records if evaluator.matches(r)]
    assert matched == ["UpdateFunctionConfiguration20150331v2"]


def test_evaluator_sigmahq_aws_rules_over_corpus() -> None:
    records = _corpus_records()
    if not AWS_RULES.is_dir():
        pytest.skip(f"SigmaHQ AWS rules not found at {AWS_RULES.resolve()}")
    rules = [SigmaRule.from_yaml(p.read_text(encoding="utf-8")) for p in sorted(AWS_RULES.glob("*.yml"))]
    assert (len(rules), len(records)) == (57, 794)

    start = time.perf_counter()
    evaluators = [RuleEvaluator(rule) for rule in rules]
    hits = {rule.title: sum(e.matches(r) for r in records) for rule, e in zip(rules, evaluators, strict=True)}
    elapsed = time.perf_counter() - start

    matching = sorted(title for title, count in hits.items() if count)
    print(f"\n{len(matching)} of {len(rules)} SigmaHQ AWS rules match at least one of {len(records)} records")
    print(f"compiled and evaluated {len(rules)} x {len(records)} in {elapsed:.2f}s")
    for title in matching:
        print(f"  {hits[title]:4d}  {title}")
    # The research counted 27; the 28th is "AWS New Lambda Layer Attached", which tests
    # requestParameters.layers, a JSON array: it matches once array elements are searched.
    assert len(matching) == 28
    assert hits["AWS New Lambda Layer Attached"] == 1
    assert elapsed < 5.0
