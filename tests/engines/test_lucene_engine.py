"""The Lucene harness behaves as Elasticsearch's query_string does on our mappings.

Each test indexes a few hand-written documents and checks, for each query, the documents it must match (by
index in the list) or that it must fail, with the reasoning next to the case. docs/engines/lucene.md cites the
Elasticsearch source for each behaviour.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.engines.lucene_engine import LuceneEngine, LuceneQueryError

_MISSING = LuceneEngine.missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"Lucene harness unavailable: {_MISSING}")

FLAT = "aws.cloudtrail.flattened.request_parameters"

TYPES = {
    "source.ip": "ip",
    "message": "text",
    "aws.cloudtrail.request_parameters.text": "text",  # a multi-field of the keyword string
    "aws.cloudtrail.read_only": "boolean",
    "bytes": "long",
    "@timestamp": "date",
    FLAT: "flattened",
}


def request_parameters(params: dict[str, Any], **other: Any) -> dict[str, Any]:
    """A document whose CloudTrail requestParameters sit in the flattened field."""
    return {"aws": {"cloudtrail": {"flattened": {"request_parameters": params}}}, **other}


def field_type(path: str) -> str:
    """A small mapping in the shape of the Elastic AWS integration's: keyword unless listed."""
    return TYPES.get(path, "keyword")


Expected = set[int] | str  # matching doc indexes, or a substring of the expected error


@pytest.fixture(scope="module")
def engine() -> LuceneEngine:
    return LuceneEngine()


def check(
    engine: LuceneEngine, docs: Sequence[Mapping[str, Any]], cases: Mapping[str, Expected], **kw: Any
) -> None:
    """Run all cases in one batch and fail once, listing every query whose outcome differs."""
    queries = list(cases)
    results = engine.search_many(queries, docs, field_type, **kw)
    wrong = []
    for query, result in zip(queries, results, strict=True):
        expected = cases[query]
        if isinstance(expected, str):
            ok = isinstance(result, LuceneQueryError) and expected in result.message
        else:
            ok = result == expected
        if not ok:
            wrong.append(f"{query!r}: expected {expected!r}, got {result!r}")
    assert not wrong, "\n".join(wrong)


def test_lucene_keyword_exact_case_sensitive(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"event": {"action": "UpdateFunctionConfiguration20150331v2"}},
        {"event": {"action": "updatefunctionconfiguration"}},
        {"event": {"action": "Update Function"}},
    ]
    check(
        engine,
        docs,
        {
            "event.action:updatefunctionconfiguration": {1},  # exact and case-sensitive
            "event.action:UpdateFunctionConfiguration": set(),  # no substring match on a keyword
            'event.action:"UpdateFunctionConfiguration20150331v2"': {0},  # a quoted keyword is one term too
            'event.action:"Update Function"': {2},
            r"event.action:Update\ Function": {2},  # escaped space: one term
            "event.action:(Update Function)": {2},  # whitespace is no operator: the whole text is one term
            # unparenthesised, "Function" goes to the default field, and no action is just "Update"
            "event.action:Update Function": set(),
            "event.action:(updatefunctionconfiguration OR foo)": {1},
        },
    )


def test_lucene_keyword_wildcard_prefix(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"event": {"action": "UpdateFunctionConfiguration"}},
        {"event": {"action": "updatefunctionconfiguration"}},
        {"event": {"action": "Get*Policy"}},
        {"event": {"action": "GetBucketPolicy"}},
    ]
    check(
        engine,
        docs,
        {
            "event.action:UpdateFunction*": {0},  # prefix, case-sensitive
            "event.action:*configuration": {1},  # leading wildcard allowed
            "event.action:*Function*": {0},
            "event.action:?pdate*": {0, 1},
            "event.action:Get*Policy": {2, 3},  # * is a wildcard
            r"event.action:Get\*Policy": {2},  # \* is a literal star (a plain term)
            r"event.action:Get\**": {2},  # literal star, then a prefix
            r"event.action:*\*Policy": {2},  # literal star inside a wildcard query
            "event.action:*": {0, 1, 2, 3},  # field:* is an exists query
        },
    )


def test_lucene_keyword_regexp_anchored(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"event": {"action": "UpdateFunctionConfiguration"}},
        {"event": {"action": "^Update"}},
        {"event": {"action": "path/to/x"}},
    ]
    check(
        engine,
        docs,
        {
            "event.action:/Update.*/": {0},  # a Lucene regexp matches the whole value
            "event.action:/Update/": set(),  # anchored: no substring match
            "event.action:/.*Function.*/": {0},
            "event.action:/^Update.*/": {1},  # ^ is not an anchor in Lucene RegExp but a literal "^"
            r"event.action:/\^Update/": {1},  # (escaped or not)
            "event.action:/update.*/": set(),  # case-sensitive
            "event.action:/[uU]pdate.*/": {0},
            r"event.action:/path\/to\/x/": {2},  # "/" is escaped inside /.../
            "event.action:/.*Function.*&~(.*Config.*)/": set(),  # & and ~ operators (RegExp.ALL)
            "event.action:/Update.*/ AND NOT event.action:/.*ation/": set(),
        },
    )


def test_lucene_escapes(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"user_agent": {"original": 'Mozilla (compatible; "x") a:b'}},
        {"user_agent": {"original": "back\\slash"}},
        {"user_agent": {"original": "a+b-c!d"}},
    ]
    check(
        engine,
        docs,
        {
            r'user_agent.original:"Mozilla (compatible; \"x\") a:b"': {0},  # \" inside a phrase
            r"user_agent.original:Mozilla\ \(compatible\;\ \"x\"\)\ a\:b": {0},  # every special char escaped
            r"user_agent.original:back\\slash": {1},  # \\ is one backslash
            r"user_agent.original:*\\*": {1},  # a literal backslash inside a wildcard
            r"user_agent.original:a\+b\-c\!d": {2},
            r"user_agent.original:*\!d": {2},
            "user_agent.original:a:b": "Cannot parse",  # an unescaped second colon is a syntax error
        },
    )


def test_lucene_syntax_errors(engine: LuceneEngine) -> None:
    docs = [{"event": {"action": "x"}}]
    check(
        engine,
        docs,
        {
            "event.action:(x": "Cannot parse",
            'event.action:"x': "Cannot parse",
            "event.action:x AND": "Cannot parse",
            "": set(),  # an empty query matches nothing (QueryStringQueryParser.parse)
        },
    )


def test_lucene_ip_cidr(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"source": {"ip": "10.1.2.3"}},
        {"source": {"ip": "192.168.0.1"}},
        {"source": {"ip": "2001:db8::1"}},
        {"source": {"ip": "AWS Internal"}},  # not an IP: left out of the ip field (ignore_malformed)
        {"source": {"ip": "::ffff:10.9.9.9"}},  # an IPv4-mapped IPv6 address is that IPv4 address
    ]
    check(
        engine,
        docs,
        {
            'source.ip:"10.0.0.0/8"': {0, 4},  # a value with "/" is a CIDR block
            r"source.ip:10.0.0.0\/8": {0, 4},  # the same with an escaped slash
            "source.ip:10.0.0.0/8": "Cannot parse",  # an unescaped / starts a regexp: syntax error
            "source.ip:10.1.2.3": {0},
            'source.ip:"2001:db8::/32"': {2},
            r"source.ip:2001\:db8\:\:1": {2},
            "source.ip:0.0.0.0/0": "Cannot parse",
            'source.ip:"0.0.0.0/0"': {0, 1, 4},  # IPv4 space only
            'source.ip:"10.1.2.3/33"': "illegal prefixLength",
            "source.ip:[10.0.0.0 TO 10.255.255.255]": {0, 4},
            # IPv4 is indexed as IPv4-mapped IPv6 (InetAddressPoint), so an open upper bound takes in IPv6 too
            "source.ip:{10.1.2.3 TO *]": {1, 2, 4},
            'source.ip:"AWS Internal"': "is not an IP string literal",  # the search fails (lenient: false)
            "source.ip:foo": "is not an IP string literal",
            "source.ip:010.1.2.3": "is not an IP string literal",  # no leading zeros
            "source.ip:10.*": "Can only use prefix queries on keyword, text and wildcard fields",
            "source.ip:*.3": "Can only use wildcard queries",
            "source.ip:/10.*/": "Can only use regexp queries",
            "source.ip:*": {0, 1, 2, 4},  # exists: the malformed value is not indexed
        },
    )


def test_lucene_ip_lenient(engine: LuceneEngine) -> None:
    docs = [{"source": {"ip": "10.1.2.3"}}, {"source": {"ip": "AWS Internal"}}]
    check(
        engine,
        docs,
        {
            "source.ip:foo": set(),  # lenient: the clause matches nothing instead of failing
            "source.ip:foo OR source.ip:10.1.2.3": {0},
            "NOT source.ip:foo": {0, 1},
            f"{FLAT}.x:*a*": set(),
        },
        lenient=True,
    )


def test_lucene_text_standard_analyzer(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"message": "User Alice created the Lambda function"},
        {"message": "function deleted"},
        {"message": "LAMBDA-layer"},
    ]
    check(
        engine,
        docs,
        {
            "message:lambda": {0, 2},  # lowercased tokens
            "message:LAMBDA": {0, 2},  # the query text is analysed too
            'message:"lambda function"': {0},  # a phrase: adjacent tokens in order
            'message:"function lambda"': set(),
            "message:(alice deleted)": {0, 1},  # two tokens, OR
            "message:Lamb*": {0, 2},  # a prefix is normalised (lowercased), not analysed
            "message:*ELET*": {1},
            "message:/lamb.*/": {0, 2},  # a regexp runs on the tokens, unnormalised
            "message:/Lamb.*/": set(),
        },
    )


def test_lucene_flattened_term_prefix(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        request_parameters({"functionName": "MyFn", "layers": ["arn:a", "arn:b"]}),
        request_parameters({"functionName": "myfn", "other": "MyFn"}),
        request_parameters({"config": {"memorySize": 128, "tracing": True}}),
    ]
    check(
        engine,
        docs,
        {
            f"{FLAT}.functionName:MyFn": {0},  # keyed: only this key's values, case-sensitive
            f"{FLAT}.functionName:myfn": {1},
            f'{FLAT}.layers:"arn:b"': {0},  # arrays: any element
            rf"{FLAT}.layers:arn\:a": {0},
            f"{FLAT}.functionName:My*": {0},  # a trailing * is a prefix query: supported
            f"{FLAT}.config.memorySize:128": {2},  # nested keys are dotted; numbers as their JSON text
            f"{FLAT}.config.tracing:true": {2},
            f"{FLAT}:MyFn": {0, 1},  # the root field holds every leaf value, whatever the key
            f"{FLAT}.functionName:[a TO n]": {1},  # keyed range with both bounds (lexicographic)
        },
    )


def test_lucene_flattened_refuses_wildcard_regexp_fuzzy(engine: LuceneEngine) -> None:
    docs = [request_parameters({"functionName": "MyFn"})]
    check(
        engine,
        docs,
        {
            f"{FLAT}.functionName:*Fn": "[wildcard] queries are not currently supported on keyed [flattened]",
            f"{FLAT}.functionName:M?Fn": "[wildcard] queries are not currently supported",
            f"{FLAT}.functionName:*Fn*": "[wildcard] queries are not currently supported",
            f"{FLAT}.functionName:/My.*/": "[regexp] queries are not currently supported on keyed",
            f"{FLAT}.functionName:MyFm~1": "[fuzzy] queries are not currently supported on keyed",
            f"{FLAT}.functionName:>M": "[range] queries on keyed [flattened] fields must include both",
            # one failing clause fails the whole search, however it is combined
            f"{FLAT}.functionName:MyFn OR {FLAT}.functionName:*x": "[wildcard] queries are not currently",
            f"{FLAT}:*Fn": {0},  # the root field accepts wildcards
        },
    )


def test_lucene_exists(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"event": {"action": "x"}, "source": {"ip": "10.0.0.1"}},
        {"event": {"outcome": "success"}, "source": {"ip": "AWS Internal"}},
        request_parameters({"functionName": "f", "cfg": {"a": 1}}),
        {"event": {"action": None}, "tags": []},  # null and empty arrays are not indexed
    ]
    check(
        engine,
        docs,
        {
            "_exists_:event.action": {0},
            "event.action:*": {0},  # the same query
            "_exists_:event": {0, 1},  # an object exists when any field below it does
            "_exists_:source.ip": {0},  # a malformed ip is not indexed
            "_exists_:source": {0},  # (and an object of no indexed fields does not exist)
            "_exists_:tags": set(),
            f"_exists_:{FLAT}.functionName": {2},  # keyed: that key has a value
            f"{FLAT}.functionName:*": {2},
            f"_exists_:{FLAT}.cfg.a": {2},
            f"_exists_:{FLAT}.cfg": set(),  # a keyed exists is for a leaf key only (prefix "cfg\0")
            f"_exists_:{FLAT}": {2},
            "_exists_:aws.cloudtrail": {2},
            "NOT _exists_:event.action": {1, 2, 3},
            "_exists_:nothing.here": set(),
        },
    )


def test_lucene_pure_negative(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"event": {"action": "a", "outcome": "success"}},
        {"event": {"action": "b", "outcome": "failure"}},
        {"event": {"action": "c"}},
    ]
    check(
        engine,
        docs,
        {
            # a query of only negative clauses gets a match-all (Queries.fixNegativeQueryIfNeeded)
            "NOT event.outcome:failure": {0, 2},  # includes the doc without the field
            "-event.outcome:failure": {0, 2},
            "event.action:* AND (NOT event.outcome:failure)": {0, 2},  # also inside a sub-clause
            "(NOT event.action:a) AND (NOT event.action:b)": {2},
            "NOT (event.action:a OR event.action:b)": {2},
            "event.action:a OR (NOT event.outcome:success)": {0, 1, 2},
            # without parentheses NOT is a MUST_NOT clause of the same boolean query: Lucene's OR/NOT
            # precedence makes this "a, and not success", not "a or not success"
            "event.action:a OR NOT event.outcome:success": set(),
            "event.action:(a OR b) AND NOT event.outcome:failure": {0},
        },
    )


def test_lucene_arrays(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"related": {"user": ["alice", "bob"]}},
        {
            "aws": {
                "cloudtrail": {"resources": [{"arn": "arn:1", "type": "A"}, {"arn": "arn:2", "type": "B"}]}
            }
        },
        {"related": {"user": "carol"}},
    ]
    check(
        engine,
        docs,
        {
            "related.user:bob": {0},  # any element
            "related.user:(alice AND bob)": {0},  # an array holds both values
            'aws.cloudtrail.resources.arn:"arn:2"': {1},  # arrays of objects flatten to dotted paths
            # ... and lose their pairing (not nested): arn:1 and type B come from different objects
            'aws.cloudtrail.resources.arn:"arn:1" AND aws.cloudtrail.resources.type:B': {1},
            "NOT related.user:alice": {1, 2},
        },
    )


def test_lucene_boolean_long_date(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"aws": {"cloudtrail": {"read_only": True}}, "bytes": 10, "@timestamp": "2024-03-01T12:00:00Z"},
        {
            "aws": {"cloudtrail": {"read_only": "false"}},
            "bytes": "250",
            "@timestamp": "2024-03-02T00:00:00.000Z",
        },
    ]
    check(
        engine,
        docs,
        {
            "aws.cloudtrail.read_only:true": {0},
            "aws.cloudtrail.read_only:false": {1},
            "aws.cloudtrail.read_only:yes": "Can't parse boolean value [yes]",
            "bytes:10": {0},
            "bytes:10.5": set(),  # a long never equals a decimal
            "bytes:>=100": {1},
            "bytes:[10 TO 250}": {0},
            "bytes:ten": "For input string",
            "bytes:1*": "Can only use prefix queries",
            "@timestamp:2024-03-01": {0},  # a date is the whole day
            "@timestamp:[2024-03-01T12:00:00Z TO 2024-03-02]": {0, 1},
            "@timestamp:{2024-03-01 TO *]": {1},  # after the whole first day
            "@timestamp:<2024-03-02": {0},
        },
    )


def test_lucene_default_field(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {"event": {"action": "GetObject"}, "source": {"ip": "10.0.0.1"}},
        {"user": {"name": "GetObject"}},
        {"message": "getobject failed"},
    ]
    check(
        engine,
        docs,
        {
            "GetObject": {0, 1, 2},  # every field (index.query.default_field "*"), text analysed
            "GetObj*": {0, 1, 2},  # on the text field the prefix is lowercased, so "getobject" matches
            "10.0.0.1": {0},  # the ip field takes part; fields that cannot parse a value are lenient
            r"user.\*:GetObject": {1},  # a field name pattern (the * escaped)
            "user.*:GetObject": "Cannot parse",  # an unescaped * ends the field name
        },
    )


def test_lucene_batch_performance(engine: LuceneEngine) -> None:
    docs: list[dict[str, Any]] = [
        {
            "event": {"action": f"Action{i % 50}", "provider": "lambda.amazonaws.com"},
            "source": {"ip": f"10.0.{i % 256}.{i % 7}"},
            **request_parameters({"functionName": f"fn{i}"}),
        }
        for i in range(1000)
    ]
    queries = [f'event.action:Action{i % 50}* AND NOT source.ip:"10.0.{i}.0/24"' for i in range(100)]
    start = time.monotonic()
    results = engine.search_many(queries, docs, field_type)
    elapsed = time.monotonic() - start
    assert not [r for r in results if isinstance(r, LuceneQueryError)]
    # Action1* matches Action1 and Action10..Action19 (11 of 50 actions, 20 docs each), less 10.0.1.0/24
    assert results[1] == {i for i in range(1000) if i % 50 in {1, *range(10, 20)} and i % 256 != 1}
    assert elapsed < 10, f"100 queries x 1000 docs took {elapsed:.1f}s"


def test_lucene_keyword_ignore_above(engine: LuceneEngine) -> None:
    long_value = "{functionName=f, layers=[" + "x" * 1100 + "]}"
    docs: list[dict[str, Any]] = [
        {"aws": {"cloudtrail": {"request_parameters": long_value}}},
        {"aws": {"cloudtrail": {"request_parameters": "{functionName=f, layers=[arn]}"}}},
    ]
    check(
        engine,
        docs,
        {
            # Fleet maps keywords with ignore_above 1024: a longer value is not indexed at all
            "aws.cloudtrail.request_parameters:*layers*": {1},
            "_exists_:aws.cloudtrail.request_parameters": {1},
            # ... but the text multi-field of the same value is
            "aws.cloudtrail.request_parameters.text:layers": {0, 1},
        },
    )
    unlimited = LuceneEngine(keyword_ignore_above=None)
    assert unlimited.search("aws.cloudtrail.request_parameters:*layers*", docs, field_type) == {0, 1}


def test_lucene_unmapped_fields(engine: LuceneEngine) -> None:
    def strict_types(path: str) -> str:
        """Like the Elastic view's field_type: a KeyError for a path the mapping lacks."""
        return {"event.action": "keyword", "source.ip": "ip"}[path]

    docs: list[dict[str, Any]] = [{"event": {"action": "a"}, "extra": {"field": "v"}}]
    results = engine.search_many(
        ["event.action:a", "nothing:a", "_exists_:nothing", "extra.field:v", "source.ip:x"],
        docs,
        strict_types,
    )
    # an unmapped query field matches nothing; a document's unmapped value is dynamically a keyword
    assert results[:4] == [{0}, set(), set(), {0}]
    assert isinstance(results[4], LuceneQueryError)


def test_lucene_cloudtrail_corpus(engine: LuceneEngine) -> None:
    corpus = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "cloudtrail"
    if not corpus.is_dir():
        pytest.skip(f"CloudTrail corpus not found at {corpus}")
    elastic = pytest.importorskip("sigma_lambda_layer.views.elastic")
    records = [
        json.loads(line) for path in sorted(corpus.glob("*.jsonl")) for line in path.open() if line.strip()
    ]
    docs = [elastic.elastic_view(record) for record in records]

    def where(predicate: Callable[[dict[str, Any]], bool]) -> set[int]:
        return {i for i, record in enumerate(records) if predicate(record)}

    lambda_updates = where(
        lambda r: (
            r.get("eventSource") == "lambda.amazonaws.com"
            and str(r.get("eventName", "")).startswith("UpdateFunctionConfiguration")
        )
    )
    queries = {
        "event.provider:lambda.amazonaws.com": where(
            lambda r: r.get("eventSource") == "lambda.amazonaws.com"
        ),
        "event.provider:lambda.amazonaws.com AND event.action:UpdateFunctionConfiguration*": lambda_updates,
        "data_stream.dataset:aws.cloudtrail": set(range(len(records))),
    }
    results = engine.search_many(list(queries), docs, elastic.field_type)
    assert results == list(queries.values())
    assert lambda_updates  # the founding rule's events are in the corpus
