"""EQL and ES|QL mean what the rule means: every rule's match set equals the reference evaluator's.

Spelling tests (``tests/test_eql.py``, ``tests/test_esql.py``) pin what each construct becomes; this module
proves what the queries *mean*. Every SigmaHQ AWS CloudTrail rule, every rule in ``rules/``, the probe rules
below (one or more per modifier and value shape) and the labelled pack are converted through the public API
(our backends and the ``aws_cloudtrail_elastic`` pipeline) and run with :func:`run_eql` / :func:`run_esql`
over ``elastic_view(record)`` of every corpus, pack and probe record. The records a query returns must be
the records the evaluator picks on the raw record (rule parsed without any pipeline).

Some differences are the storage, not the query, and no query can undo them (``docs/targets/eql-esql.md``,
"Data gaps"; ``docs/targets/elastic.md``, "Storage gaps"): the ingest pipeline drops null and empty values
(``""``, ``{}``, ``[]``), so Elastic cannot tell ``errorCode: ""`` from no ``errorCode``; keyword values over
``ignore_above`` and malformed booleans are stored but not indexed; an object whose ``Map.toString()`` reaches
32766 characters gets no flattened copy. A disagreement is accepted for one *record* only when the record
holds such a value in a field the rule names (or an object above it) *and* the evaluator, run on the record
without those values, decides as the engine did: :func:`tests.fidelity.elastic_storage_gap`, the one
definition every Elastic fidelity test shares. Everything else is collected into one table and fails once: a disagreement, a
query the engine rejects, a compiler error that is not a typed "unsupported" error, an unexpected refusal.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.views.elastic import elastic_view
from tests.corpus import AWS_RULES, CLOUDTRAIL, FOUNDING_RULE, OUR_RULES
from tests.engines.eql_engine import EngineError, run_eql
from tests.engines.esql_engine import run_esql
from tests.fidelity import elastic_storage_gap
from tests.pack_loader import load_pack

FILTER: Final = OUR_RULES / "filters" / "lambda_layer_deployment_role.yml"
TARGETS: Final = ("eql", "esql")
#: Typed "the target cannot express this" errors (the API classifies pySigma's own as UnsupportedConstructError).
REFUSALS: Final = (UnsupportedFieldError, UnsupportedConstructError, SigmaFeatureNotSupportedByBackendError)

# ------------------------------------------------------------------------------------------- probe records

LAYER_X: Final = "arn:aws:lambda:us-east-1:123456789012:layer:x:1"
LAYER_Y: Final = "arn:aws:lambda:us-east-1:123456789012:layer:Y:2"

#: A plausible event every probe record starts from.
BASE: Final[dict[str, Any]] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAPROBE:bob",
        "arn": "arn:aws:sts::123456789012:assumed-role/Admin/bob",
        "accountId": "123456789012",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::123456789012:role/Admin",
                "userName": "Admin",
            }
        },
    },
    "eventTime": "2024-05-01T12:34:56Z",
    "eventSource": "lambda.amazonaws.com",
    "eventName": "UpdateFunctionConfiguration20150331v2",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "10.1.2.3",
    "userAgent": "aws-cli/2.15.0 Python/3.11",
    "requestParameters": {
        "functionName": "Billing",
        "userName": "AROAPROBE:bob",
        "attribute": "userData",
        "enable": False,
        "layers": [LAYER_X, LAYER_Y],
        "containerDefinitions": [{"command": ["sh", "-c", "curl $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}],
        "tags": [{"key": "Env", "value": "Prod"}],
        "nested": {"deep": {"key": "Value*Star"}},
        "a.b": "dotted",
        "maxItems": 100,
    },
    "responseElements": {"publiclyAccessible": True, "ConsoleLogin": "Success"},
    "eventType": "AwsApiCall",
    "recipientAccountId": "123456789012",
}


def _variant(name: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    """BASE with dotted-path changes (``None`` deletes the key)."""
    record = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = record
        for p in parents:
            target = target[p]
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return name, record


PROBE_RECORDS: Final[list[tuple[str, dict[str, Any]]]] = [
    _variant("base"),
    # eventName is canonical (fields/domains.py): AWS never writes it in upper case, so only free fields vary
    _variant("upper", requestParameters__attribute="USERDATA", userAgent="AWS-CLI/2.15.0 PYTHON/3.11"),
    _variant(
        "iam", eventSource="iam.amazonaws.com", eventName="CreateUser", requestParameters={"userName": "x"}
    ),
    _variant("error", errorCode="AccessDenied", errorMessage="denied"),
    _variant("error-empty", errorCode=""),
    _variant("internal", sourceIPAddress="AWS Internal", userAgent="AWS Internal"),
    _variant("ipv6", sourceIPAddress="2001:db8::1"),
    _variant("ua-literal", userAgent="tool a*b ?c\\d"),
    _variant("one-layer", requestParameters__layers=[LAYER_Y]),
    _variant("no-layers", requestParameters__layers=None),
    _variant("empty-layers", requestParameters__layers=[]),
    _variant("no-attribute", requestParameters__attribute="kernel"),
    _variant("no-request", requestParameters=None),
    _variant("empty-request", requestParameters={}),
    _variant("object-attribute", requestParameters__attribute={"value": "userData"}),
    _variant("newline-command", requestParameters__containerDefinitions=[{"command": ["a\ncurl", "b"]}]),
    _variant("split-command", requestParameters__containerDefinitions=[{"command": ["cur", "l $x"]}]),
    _variant(
        "fieldref-match", requestParameters__userName="arn:aws:sts::123456789012:assumed-role/Admin/bob"
    ),
    _variant("private", responseElements={"publiclyAccessible": False}),
    _variant("string-bool", requestParameters__enable="FALSE"),
]

# ------------------------------------------------------------------------------------------- probe rules


@dataclass(frozen=True)
class Probe:
    """A probe rule: its detection and the targets expected to refuse it (with a phrase of the reason)."""

    name: str
    detection: str
    refuse: tuple[tuple[str, str], ...] = ()

    def text(self) -> str:
        return (
            f"title: probe {self.name}\nlogsource: {{product: aws, service: cloudtrail}}\n"
            f"detection:\n{self.detection}\n"
        )


_EQL_FLAT = ("eql", "'flattened' field")

_EQL_FIELDREF = ("eql", "another field")

PROBES: Final[tuple[Probe, ...]] = (
    Probe("exact", "  sel: {eventName: updatefunctionconfiguration20150331v2}\n  condition: sel"),
    Probe("startswith", "  sel: {eventName|startswith: UpdateFunction}\n  condition: sel"),
    Probe("endswith", "  sel: {userAgent|endswith: 'PYTHON/3.11'}\n  condition: sel"),
    Probe("contains", "  sel: {userAgent|contains: 'CLI/2'}\n  condition: sel"),
    Probe("single-wildcard", "  sel: {eventName: 'Update?unctionConfiguration*'}\n  condition: sel"),
    Probe("literal-wildcards", "  sel: {userAgent|contains: 'a\\*b \\?c\\\\d'}\n  condition: sel"),
    Probe("list", "  sel:\n    eventName: [CreateUser, 'delete*']\n  condition: sel"),
    Probe("cased", "  sel: {eventName|cased: CreateUser}\n  condition: sel"),
    Probe("cased-upper", "  sel: {userAgent|cased: AWS-CLI/2.15.0 PYTHON/3.11}\n  condition: sel"),
    Probe("re", "  sel: {userAgent|re: '^aws-cli/\\d+\\.'}\n  condition: sel"),
    Probe("re-i", "  sel: {userAgent|re|i: 'PYTHON/3'}\n  condition: sel"),
    Probe("cidr", "  sel: {sourceIPAddress|cidr: 10.0.0.0/8}\n  condition: sel"),
    Probe("cidr-v6", "  sel: {sourceIPAddress|cidr: '2001:db8::/32'}\n  condition: sel"),
    Probe("null", "  sel: {errorCode: null}\n  condition: sel"),
    Probe("exists", "  sel: {errorCode|exists: true}\n  condition: sel"),
    Probe("not-exists", "  sel: {errorCode|exists: false}\n  condition: sel"),
    Probe(
        "not",
        "  sel: {eventSource: lambda.amazonaws.com}\n  f: {errorCode: AccessDenied}\n  condition: sel and not f",
    ),
    Probe(
        "not-and",
        "  f:\n    errorCode: AccessDenied\n    userAgent|contains: cli\n  condition: not f",
    ),
    Probe(
        "fieldref",
        "  sel: {userIdentity.arn|fieldref: requestParameters.userName}\n  condition: sel",
        (_EQL_FIELDREF,),
    ),
    Probe(
        "not-fieldref",
        "  sel: {userIdentity.principalId|fieldref: requestParameters.userName}\n  condition: not sel",
        (_EQL_FLAT,),
    ),
    Probe("flat-exact", "  sel: {requestParameters.attribute: userdata}\n  condition: sel", (_EQL_FLAT,)),
    Probe(
        "flat-cased", "  sel: {requestParameters.attribute|cased: userData}\n  condition: sel", (_EQL_FLAT,)
    ),
    Probe("flat-not", "  sel: {requestParameters.attribute: userData}\n  condition: not sel", (_EQL_FLAT,)),
    Probe(
        "flat-list",
        "  sel:\n    requestParameters.attribute: [kernel, ramdisk]\n  condition: sel",
        (_EQL_FLAT,),
    ),
    Probe(
        "flat-array-exact",
        f"  sel: {{requestParameters.layers: '{LAYER_Y.lower()}'}}\n  condition: sel",
        (_EQL_FLAT,),
    ),
    Probe(
        "flat-array-not",
        f"  sel: {{requestParameters.layers: '{LAYER_X}'}}\n  condition: not sel",
        (_EQL_FLAT,),
    ),
    Probe(
        "flat-only-wildcard",
        "  sel: {requestParameters.layers|contains: '*'}\n  condition: sel",
        (_EQL_FLAT,),
    ),
    Probe(
        "flat-contains",
        "  sel: {requestParameters.containerDefinitions.command|contains: 'CURL $aws'}\n  condition: sel",
        (_EQL_FLAT,),
    ),
    Probe(
        "flat-contains-not",
        "  sel: {requestParameters.containerDefinitions.command|contains: curl}\n  condition: not sel",
        (_EQL_FLAT,),
    ),
    Probe(
        "flat-startswith-scalar",
        "  sel: {requestParameters.functionName|startswith: bill}\n  condition: sel",
        (_EQL_FLAT,),
    ),
    Probe(
        "flat-nested-literal",
        "  sel: {requestParameters.nested.deep.key: 'value\\*star'}\n  condition: sel",
        (_EQL_FLAT,),
    ),
    Probe("flat-dotted-key", "  sel: {requestParameters.a.b: DOTTED}\n  condition: sel", (_EQL_FLAT,)),
    Probe("flat-array-objects", "  sel: {requestParameters.tags.key: env}\n  condition: sel", (_EQL_FLAT,)),
    Probe("flat-bool", "  sel: {requestParameters.enable: false}\n  condition: sel", (_EQL_FLAT,)),
    Probe(
        "flat-bool-text",
        "  sel: {responseElements.publiclyAccessible: 'true'}\n  condition: sel",
        (_EQL_FLAT,),
    ),
    Probe("whole-object-null", "  sel: {requestParameters: null}\n  condition: sel", (_EQL_FLAT,)),
    Probe(
        "flat-array-prefix",
        "  sel: {requestParameters.layers|startswith: 'arn:aws'}\n  condition: sel",
        (_EQL_FLAT, ("esql", "MV_LIKE")),
    ),
    Probe(
        "flat-exists",
        "  sel: {requestParameters.attribute|exists: true}\n  condition: sel",
        (_EQL_FLAT, ("esql", "object")),
    ),
    Probe(
        "flat-number",
        "  sel: {requestParameters.maxItems|gt: 5}\n  condition: sel",
        (_EQL_FLAT, ("esql", "numeric comparison")),
    ),
    Probe(
        "whole-object-value",
        "  sel: {requestParameters|contains: userData}\n  condition: sel",
        (("eql", "JSON object"), ("esql", "JSON object")),
    ),
    Probe(
        "keyword",
        "  kw: [userData]\n  condition: kw",
        (("eql", "keyword"), ("esql", "keyword")),
    ),
)

# ------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Record:
    name: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class RuleCase:
    name: str
    text: str
    refuse: tuple[tuple[str, str], ...] = ()


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    import json

    with path.open(encoding="utf-8") as handle:
        yield from (json.loads(line) for line in handle if line.strip())


@cache
def records() -> tuple[Record, ...]:
    out: list[Record] = []
    if CLOUDTRAIL.is_dir():
        for path in sorted(CLOUDTRAIL.glob("*.jsonl")):
            out += [Record(f"{path.stem}:{n}", r) for n, r in enumerate(_jsonl(path), start=1)]
    out += [Record(f"pack:{e.name}", e.record) for e in load_pack()]
    out += [Record(f"probe:{name}", r) for name, r in PROBE_RECORDS]
    return tuple(out)


@cache
def views() -> tuple[dict[str, Any], ...]:
    return tuple(elastic_view(r.raw) for r in records())


#: Our rules a target refuses, with a phrase of the reason (docs/targets/eql-esql.md, "Limitations").
OUR_RULE_REFUSALS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "aws_lambda_layer_attached_to_function": (_EQL_FLAT, ("esql", "MV_LIKE")),
}


def rule_cases() -> list[RuleCase]:
    cases = [RuleCase(f"sigmahq/{p.stem}", p.read_text()) for p in sorted(AWS_RULES.glob("*.yml"))]
    cases += [
        RuleCase(f"rules/{p.stem}", p.read_text(), OUR_RULE_REFUSALS.get(p.stem, ()))
        for p in sorted(OUR_RULES.glob("*.yml"))
        if not p.name.endswith(".tests.yml")
    ]
    cases += [RuleCase(f"probe/{p.name}", p.text(), p.refuse) for p in PROBES]
    return cases


# ------------------------------------------------------------------------------------------- the test


def _run(target: str, query: str, docs: tuple[dict[str, Any], ...], text: str) -> set[int]:
    if target == "eql":
        return run_eql(query, docs, cased="|cased" in text or "|re" in text)
    return run_esql(query, docs)


def _convert(target: str, rule: str | Path, filters: tuple[Path, ...] = ()) -> str:
    result = convert(rule, target=target, filters=filters, collect_errors=True)[0]
    if result.error is not None:
        raise result.error
    return str(result.output)


@cache
def _fidelity() -> tuple[list[str], list[str], dict[str, dict[str, set[int]]]]:
    """(problems, accepted record-level gaps, rule -> target -> hits)."""
    recs, docs = records(), views()
    problems: list[str] = []
    gaps: list[str] = []
    hits: dict[str, dict[str, set[int]]] = {}
    for case in rule_cases():
        rule = SigmaCollection.from_yaml(case.text).rules[0]
        evaluator = RuleEvaluator(rule)  # type: ignore[arg-type]
        expected = {i for i, r in enumerate(recs) if evaluator.matches(r.raw)}
        refuse = dict(case.refuse)
        for target in TARGETS:
            try:
                query = _convert(target, case.text)
            except REFUSALS as e:
                if target in refuse and refuse[target] in str(e):
                    continue
                if case.name.startswith("sigmahq/") and target not in refuse:
                    hits.setdefault(case.name, {})[target] = set()
                    continue  # the exact refusal lists are pinned in tests/test_eql.py and tests/test_esql.py
                problems.append(f"{case.name} [{target}] refused unexpectedly: {e}")
                continue
            except Exception as e:
                problems.append(f"{case.name} [{target}] bad error {type(e).__name__}: {e}")
                continue
            if target in refuse:
                problems.append(f"{case.name} [{target}] converted, expected a refusal: {query}")
                continue
            try:
                got = _run(target, query, docs, case.text)
            except EngineError as e:
                problems.append(f"{case.name} [{target}] engine rejected the query: {e}\n    {query}")
                continue
            hits.setdefault(case.name, {})[target] = got
            for i in sorted(got ^ expected):
                gap = elastic_storage_gap(rule, recs[i].raw, i in got, evaluator)
                if gap is not None:
                    gaps.append(f"{case.name} [{target}] {recs[i].name}: {gap}")
                    continue
                side = "engine only" if i in got else "evaluator only"
                problems.append(f"{case.name} [{target}] {side}: {recs[i].name}\n    {query}")
    return problems, gaps, hits


def test_eql_esql_fidelity_rules_mean_what_the_evaluator_means() -> None:
    """SigmaHQ rules (when the corpus is present), our rules and the probes; one table of every finding."""
    if not AWS_RULES.is_dir() or not CLOUDTRAIL.is_dir():
        pytest.skip("../shared/corpus (SigmaHQ rules and CloudTrail records) is absent; CI provides it")
    problems, gaps, hits = _fidelity()
    assert not problems, f"{len(problems)} disagreements:\n" + "\n".join(problems)
    # every data gap accepted is record-level and named; none comes from a whole rule
    assert all(": " in g for g in gaps)
    # the rules the issue is about now find their records on ES|QL
    for name in (
        "sigmahq/aws_cloudtrail_console_login_success_without_mfa",
        "sigmahq/aws_new_lambda_layer_attached",
        "sigmahq/aws_ec2_startup_script_change",
    ):
        assert name in hits and "esql" in hits[name], name


def test_eql_esql_fidelity_probes_hit_and_miss() -> None:
    """Every probe that converts matches some probe record and misses some other (no vacuous probe)."""
    if not AWS_RULES.is_dir() or not CLOUDTRAIL.is_dir():
        pytest.skip("../shared/corpus is absent; CI provides it")
    _, _, hits = _fidelity()
    probe_ids = {i for i, r in enumerate(records()) if r.name.startswith("probe:")}
    vacuous = [
        f"{name} [{t}]"
        for name, by_target in hits.items()
        if name.startswith("probe/")
        for t, got in by_target.items()
        if not (got & probe_ids) or probe_ids <= got
    ]
    assert not vacuous, vacuous


def test_eql_esql_fidelity_labelled_pack() -> None:
    """Each pack entry: the engine's verdict for the entry's rule equals the entry's Sigma verdict."""
    entries = load_pack()
    if not entries:
        pytest.skip("the labelled pack is empty without ../shared/corpus")
    index = {r.name: i for i, r in enumerate(records())}
    by_rule: dict[Path, list[Any]] = {}
    for e in entries:
        by_rule.setdefault(e.rule_path, []).append(e)
    docs = views()
    problems = []
    for path, group in by_rule.items():
        rule = SigmaCollection.from_yaml(path.read_text()).rules[0]
        for target in TARGETS:
            try:
                query = _convert(target, path)
            except REFUSALS:
                continue  # the refusal lists are pinned in tests/test_eql.py, tests/test_esql.py
            ids = [index[f"pack:{e.name}"] for e in group]
            got = _run(target, query, tuple(docs[i] for i in ids), path.read_text())
            evaluator = RuleEvaluator(rule)  # type: ignore[arg-type]
            for n, e in enumerate(group):
                if (n in got) is not e.sigma_verdict:
                    if elastic_storage_gap(rule, e.record, n in got, evaluator) is not None:
                        continue
                    problems.append(f"{e.name} [{target}]: engine {n in got}, Sigma {e.sigma_verdict}")
    assert not problems, "\n".join(problems)


def _exempt(record: dict[str, Any]) -> bool:
    """The filter's selections, read from the filter file by hand: deployment role or release tooling."""
    issuer = record.get("userIdentity", {}).get("sessionContext", {}).get("sessionIssuer", {})
    role = issuer.get("arn", "").lower() == "arn:aws:iam::123456789012:role/lambda-deployer"
    tooling = record.get("userIdentity", {}).get("type", "").lower() == "assumedrole" and record.get(
        "userAgent", ""
    ).lower().startswith("apn/1.0 hashicorp/1.0 terraform/")
    return role or tooling


@pytest.mark.parametrize("target", TARGETS)
def test_eql_esql_fidelity_exemption_filter(target: str) -> None:
    """``rules/filters/lambda_layer_deployment_role.yml`` on the founding rule: exempted events stop matching,
    every other event the rule matches still matches."""
    deployer = copy.deepcopy(BASE)
    deployer["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        "arn:aws:iam::123456789012:role/lambda-deployer"
    )
    terraform = copy.deepcopy(BASE)
    terraform["userAgent"] = "APN/1.0 HashiCorp/1.0 Terraform/1.7.0"
    terraform_iam_user = copy.deepcopy(terraform)
    terraform_iam_user["userIdentity"]["type"] = "IAMUser"
    raws = [BASE, deployer, terraform, terraform_iam_user] + [r.raw for r in records()]
    docs = tuple(elastic_view(r) for r in raws)
    rule = SigmaCollection.from_yaml(FOUNDING_RULE.read_text()).rules[0]
    evaluator = RuleEvaluator(rule)  # type: ignore[arg-type]
    matched = {i for i, r in enumerate(raws) if evaluator.matches(r)}
    expected = {i for i in matched if not _exempt(raws[i])}
    plain = _run(target, _convert(target, FOUNDING_RULE), docs, FOUNDING_RULE.read_text())
    filtered = _run(target, _convert(target, FOUNDING_RULE, (FILTER,)), docs, FOUNDING_RULE.read_text())
    assert plain == matched
    assert filtered == expected
    assert {1, 2} <= matched - filtered  # the deployer role and the Terraform release tooling are exempted
    assert {0, 3} <= filtered  # an admin and Terraform under an IAM user are not
