"""The EQL and ES|QL engines: their own semantics, and the generated queries run over Elastic-view records."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from sigma.collection import SigmaCollection

from sigma_lambda_layer.backends.eql import CloudTrailEqlBackend
from sigma_lambda_layer.backends.esql import CloudTrailEsqlBackend
from sigma_lambda_layer.evaluator.rule import evaluate
from sigma_lambda_layer.pipelines.elastic import aws_cloudtrail_elastic
from sigma_lambda_layer.views.elastic import elastic_view
from tests.corpus import FOUNDING_RULE, cloudtrail_records, requires_corpus
from tests.engines.eql_engine import EngineError, lucene_regexp_matches, run_eql
from tests.engines.esql_engine import parse_where, run_esql

DOCS: list[dict[str, Any]] = [
    {"event": {"provider": "lambda.amazonaws.com", "action": "UpdateFunctionConfiguration20150331v2"}},
    {"event.provider": "LAMBDA.amazonaws.com", "event.action": "updatefunctionconfiguration"},
    {"event": {"provider": "s3.amazonaws.com", "action": "Update*Thing"}},
    {"event": {"provider": "lambda.amazonaws.com"}},
    {"event": {"provider": "lambda.amazonaws.com", "action": ["A", "B"]}, "source": {"ip": "10.1.2.3"}},
]


def test_lucene_regexp_is_anchored_and_escaped() -> None:
    assert lucene_regexp_matches("ab.*", "abc")
    assert not lucene_regexp_matches("b", "abc")
    assert lucene_regexp_matches(r"a\*b", "a*b")
    assert lucene_regexp_matches("[^0-9]x", "ax")
    assert lucene_regexp_matches("ABC", "abc", case_insensitive=True)
    with pytest.raises(EngineError, match="unescaped operator"):
        lucene_regexp_matches("a@b", "a@b")
    with pytest.raises(EngineError, match="ambiguous"):
        lucene_regexp_matches(r"\d", "1")


def test_eql_engine_matches_case_insensitively_with_colon() -> None:
    assert run_eql('any where event.provider : "lambda.amazonaws.com"', DOCS) == {0, 1, 3, 4}
    assert run_eql('any where event.action : "update*"', DOCS[:4]) == {0, 1, 2}


def test_eql_engine_rejects_case_sensitive_operators_without_cased() -> None:
    with pytest.raises(EngineError, match="case-sensitive '=='"):
        run_eql('any where user_agent.original == "Update"', DOCS)
    with pytest.raises(EngineError, match="startsWith"):
        run_eql('any where startsWith(user_agent.original, "Update")', DOCS)
    with pytest.raises(EngineError, match="case-sensitive '=='"):  # canonical field, not a canonical spelling
        run_eql('any where event.action == "updatefunctionconfiguration"', DOCS)


def test_eql_engine_accepts_canonical_spellings_on_canonical_fields() -> None:
    """``event.action`` holds eventName, which AWS spells one way (fields/domains.py): ``==`` with the
    canonical spelling is what the canonicalisation step emits for a rule without ``|cased``."""
    assert run_eql('any where event.action == "UpdateFunctionConfiguration"', DOCS[:4]) == set()
    assert run_eql('any where event.action like "UpdateFunctionConfiguration*"', DOCS[:4]) == {0}


def test_eql_engine_case_sensitive_operators_when_cased() -> None:
    assert run_eql('any where event.action like "Update*"', DOCS[:4], cased=True) == {0, 2}
    assert run_eql('any where event.action == "updatefunctionconfiguration"', DOCS[:4], cased=True) == {1}


def test_eql_engine_regex_is_anchored_lucene() -> None:
    assert run_eql('any where event.action regex~ "update.*"', DOCS[:4]) == {0, 1, 2}
    assert run_eql('any where event.action regex~ "function"', DOCS[:4]) == set()
    assert run_eql('any where event.action regex~ "update\\\\*thing"', DOCS[:4]) == {2}


def test_eql_engine_missing_field_and_not() -> None:
    query = 'any where (?event.action == null or not event.action : "update*")'
    assert run_eql(query, DOCS[:4]) == {3}


def test_eql_engine_multivalued_fields_match_any_value() -> None:
    assert run_eql('any where event.action : "A"', DOCS) == {4}
    assert run_eql('any where event.action : "B" and event.action : "A"', DOCS) == {4}
    assert run_eql('any where (?event.action == null or not event.action : "B")', DOCS) == {0, 1, 2, 3}
    resources = [{"aws": {"cloudtrail": {"resources": [{"arn": "x"}, {"arn": "arn:y"}]}}}]
    assert run_eql('any where aws.cloudtrail.resources.arn : "arn:*"', resources) == {0}


def test_esql_engine_three_valued_not() -> None:
    assert run_esql('from x | where not (event.action == "A")', DOCS) == {0, 1, 2}
    assert run_esql('from x | where event.action IS NULL or not (event.action == "A")', DOCS) == {0, 1, 2, 3}
    assert run_esql("from x | where event.action IS NOT NULL", DOCS) == {0, 1, 2, 4}


def test_esql_engine_multivalued_field_is_null() -> None:
    assert run_esql('from x | where event.action == "A"', DOCS) == set()
    assert run_esql("from x | where event.action IS NULL", DOCS) == {3}


def test_esql_engine_like_rlike_and_case() -> None:
    assert run_esql('from x | where event.action like "Update*"', DOCS) == {0, 2}
    assert run_esql('from x | where TO_LOWER(event.action) like "update\\\\*thing"', DOCS) == {2}
    assert run_esql('from x | where event.action rlike "update.*"', DOCS) == {1}
    assert run_esql('from x | where STARTS_WITH(TO_LOWER(event.action), "update")', DOCS) == {0, 1, 2}
    assert run_esql('from x | where CIDR_MATCH(source.ip, "10.0.0.0/8")', DOCS) == {4}


def test_esql_engine_rejects_what_it_does_not_model() -> None:
    with pytest.raises(EngineError, match="outside the subset"):
        run_esql("from x | where LENGTH(event.action) > 3", DOCS)
    with pytest.raises(EngineError, match="outside the subset"):
        run_esql("from x | where event.action IS NULL | limit 3", DOCS)
    with pytest.raises(EngineError, match="syntax"):
        run_esql("from x | where event.action ==", DOCS)


FLAT_DOCS: list[dict[str, Any]] = [
    {
        "aws": {
            "cloudtrail": {"flattened": {"request_parameters": {"attribute": "userData", "enable": False}}}
        }
    },
    {
        "aws": {
            "cloudtrail": {
                "flattened": {
                    "request_parameters": {
                        "containerDefinitions": [{"command": ["sh", "-c", "curl $URI"]}, {"command": ["ls"]}],
                        "a": {"b": 1.5},
                        "a.c": "dotted",
                    }
                }
            }
        }
    },
    {"event": {"action": "X"}},
]
ROOT = "aws.cloudtrail.flattened.request_parameters"


def _fe(key: str) -> str:
    return f'FIELD_EXTRACT({ROOT}, "{key}")'


def test_esql_engine_field_extract_reads_flattened_leaves() -> None:
    assert run_esql(f'from x | where {_fe("attribute")} == "userData"', FLAT_DOCS) == {0}
    assert run_esql(f'from x | where {_fe("enable")} == "false"', FLAT_DOCS) == {0}  # booleans as text
    assert run_esql(f'from x | where {_fe("a.b")} == "1.5"', FLAT_DOCS) == {1}  # nested objects: dotted keys
    assert run_esql(f'from x | where {_fe("a.c")} == "dotted"', FLAT_DOCS) == {1}  # dotted keys as written
    assert run_esql(f"from x | where {_fe('a')} IS NULL", FLAT_DOCS) == {0, 1, 2}  # an object reads as null
    assert run_esql(f"from x | where {ROOT} IS NOT NULL", FLAT_DOCS) == {0, 1}


def test_esql_engine_field_extract_arrays_are_multivalued() -> None:
    command = _fe("containerDefinitions.command")
    assert run_esql(f'from x | where {command} == "ls"', FLAT_DOCS) == set()  # multivalued: null
    assert run_esql(f'from x | where MV_CONTAINS({command}, "ls")', FLAT_DOCS) == {1}
    assert run_esql(f'from x | where not MV_CONTAINS({command}, "ls")', FLAT_DOCS) == {0, 2}
    assert run_esql(f'from x | where MV_CONTAINS(TO_LOWER({command}), "sh")', FLAT_DOCS) == {1}
    assert run_esql(f'from x | where MV_CONCAT({command}, "\\n") like "*curl $uri*"', FLAT_DOCS) == set()
    assert run_esql(
        f'from x | where TO_LOWER(MV_CONCAT({command}, "\\n")) like "*curl $uri*"', FLAT_DOCS
    ) == {1}


def test_esql_engine_flattened_roots_only_through_field_extract() -> None:
    with pytest.raises(EngineError, match="sub-field"):
        run_esql(f'from x | where {ROOT}.attribute == "userData"', FLAT_DOCS)
    with pytest.raises(EngineError, match="flattened root"):
        run_esql(f'from x | where TO_LOWER({ROOT}) == "x"', FLAT_DOCS)
    with pytest.raises(EngineError, match="must be flattened"):
        run_esql('from x | where FIELD_EXTRACT(event.action, "k") IS NULL', FLAT_DOCS)
    with pytest.raises(EngineError, match=r"9\.4"):
        parse_where(f"from x | where {_fe('k')} IS NULL", stack_version="9.4.0")


def _query(backend: type, text: str) -> str:
    return str(backend(aws_cloudtrail_elastic()).convert(SigmaCollection.from_yaml(text))[0])


@cache
def _corpus() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records = cloudtrail_records()
    return records, [elastic_view(r) for r in records]


@requires_corpus
def test_eql_esql_founding_rule_finds_the_real_lambda_record() -> None:
    records, docs = _corpus()
    real = next(
        i
        for i, r in enumerate(records)
        if r.get("eventName") == "UpdateFunctionConfiguration20150331v2"
        and r.get("requestParameters", {}).get("layers")
        and "stratus-red-team" in str(r.get("requestParameters"))
    )
    rule = SigmaCollection.from_yaml(FOUNDING_RULE.read_text()).rules[0]
    expected = {i for i, r in enumerate(records) if evaluate(rule, r)}
    text = FOUNDING_RULE.read_text()
    eql_hits = run_eql(_query(CloudTrailEqlBackend, text), docs, cased=True)
    esql_hits = run_esql(_query(CloudTrailEsqlBackend, text), docs)
    assert real in eql_hits
    assert real in esql_hits
    assert eql_hits == esql_hits == expected
