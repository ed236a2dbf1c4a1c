"""Generated probe rules for the differential test, each with crafted matching and near-miss records.

The SigmaHQ rules and the corpus exercise what real rules and real records hold; they leave most edge cases
untouched (a rule with a ``?`` wildcard, a value with a quote, a ``not`` over a field the record lacks).
Probes fill that gap: one small rule per construct, with values drawn by hypothesis from an alphabet mixing
cased letters and every character some target treats specially, and records derived from each value so that
the rule *almost* matches: the exact value, its case variants, one character more or less, the field
missing. The reference evaluator labels every record; the labels here are only what the probe aims at.

Generation is seeded and bounded (:data:`EXAMPLES_PER_CONSTRUCT` values per construct), so the probe set is
the same on every run and the differential test stays within CI's time budget.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import yaml
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from sigma_lambda_layer.fields import domains

#: How many hypothesis values each construct gets. Raising it widens the net and slows CI linearly.
EXAMPLES_PER_CONSTRUCT: Final = 4
SEED: Final = 20240501
_NAMESPACE: Final = uuid.UUID("6f1c3a52-5b2e-4c1e-9d57-0c7a9d1e4b10")

#: Letters with case (ASCII and two Latin-1 ones whose case mapping is one character each way).
LETTERS: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéÉüÜ"
DIGITS: Final = "0123456789"
#: Characters with a meaning in at least one target's syntax: quotes and escapes everywhere, Lucene's
#: ``+ - && || ! ( ) { } [ ] ^ " ~ * ? : \\ /``, SPL's ``| = [ ]`` and major breakers, Logs Insights' regex
#: delimiter ``/`` and backtick, YAML's ``: # , &``, and whitespace.
HOSTILE: Final = " \"'\\:()|/=<>!&+-^~[]{},;$#@%`._\t"

#: A plausible CloudTrail management event every probe record starts from.
BASE_RECORD: Final[dict[str, Any]] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAPROBEPROBEPROBE01",
        "arn": "arn:aws:iam::123456789012:user/alice",
        "accountId": "123456789012",
        "accessKeyId": "AKIAPROBEPROBEPROBE1",
        "userName": "alice",
    },
    "eventTime": "2024-05-01T12:34:56Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateUser",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1",
    "requestParameters": {"userName": "bob", "maxItems": 50},
    "responseElements": None,
    "requestID": "0a1b2c3d-0000-4000-8000-000000000001",
    "eventID": "0a1b2c3d-0000-4000-8000-000000000002",
    "readOnly": False,
    "resources": [
        {"accountId": "123456789012", "type": "AWS::IAM::User", "ARN": "arn:aws:iam::123456789012:user/bob"}
    ],
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
}

#: String fields the probes rotate through: keyword fields on every target, plus one free-form
#: ``requestParameters`` key (a keyed ``flattened`` sub-field on Elastic).
STRING_FIELDS: Final = (
    "eventName",
    "userAgent",
    "errorMessage",
    "userIdentity.arn",
    "eventSource",
    "requestParameters.userName",
)


@dataclass(frozen=True)
class ProbeRecord:
    """A crafted record and what the probe means it to be (the evaluator has the last word)."""

    name: str
    intent: str  # "match" or "near-miss"
    record: dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """One generated rule exercising one construct, with records derived from its values."""

    name: str
    construct: str
    rule: str
    records: tuple[ProbeRecord, ...]


# --------------------------------------------------------------------------------------- record helpers


def set_path(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``record`` with the dotted ``path`` set (objects created as needed)."""
    out = copy.deepcopy(record)
    node = out
    *parents, last = path.split(".")
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value
    return out


def drop_path(record: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of ``record`` without the dotted ``path``."""
    out = copy.deepcopy(record)
    node: Any = out
    *parents, last = path.split(".")
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return out
    if isinstance(node, dict):
        node.pop(last, None)
    return out


def sigma_escape(text: str) -> str:
    """``text`` as a literal Sigma string: ``*``, ``?`` and ``\\`` escaped."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def _swapcase(text: str) -> str:
    return text.swapcase()


def _mutate(text: str) -> str:
    """One character replaced by a different one of the same class, so the value is a near miss."""
    for i in range(len(text) - 1, -1, -1):
        c = text[i]
        if c.isalpha():
            return text[:i] + ("q" if c.lower() != "q" else "z") + text[i + 1 :]
        if c.isdigit():
            return text[:i] + ("1" if c != "1" else "2") + text[i + 1 :]
    return text + "q"


def _rule(name: str, detection: dict[str, Any]) -> str:
    doc = {
        "title": f"Probe {name}",
        "id": str(uuid.uuid5(_NAMESPACE, name)),
        "status": "test",
        "description": "Generated by tests/support/probes.py for the differential fidelity test.",
        "author": "sigma-lambda tests",
        "date": "2024-05-01",
        "logsource": {"product": "aws", "service": "cloudtrail"},
        "detection": detection,
        "level": "low",
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1_000_000)


# --------------------------------------------------------------------------------------- value strategies


def _chunk(alphabet: str, lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=lo, max_size=hi)


#: A value with cased letters around hostile characters: ``ab"c:De``.
VALUES: Final = st.builds(
    lambda a, h, b: a + h + b,
    _chunk(LETTERS, 1, 5),
    _chunk(HOSTILE + DIGITS, 0, 3),
    _chunk(LETTERS + DIGITS, 1, 4),
)
#: A value for wildcard probes: two cased parts whose middle becomes ``*`` or ``?``.
SPLIT_VALUES: Final = st.tuples(_chunk(LETTERS + HOSTILE, 1, 5), _chunk(LETTERS, 1, 3), _chunk(LETTERS, 1, 5))


def _networks(version: int, shortest: int) -> st.SearchStrategy[str]:
    """A CIDR network of IP ``version``, prefix from ``shortest`` to the full address length."""
    longest = 32 if version == 4 else 128
    assert version in (4, 6)
    return st.ip_addresses(v=4 if version == 4 else 6).flatmap(
        lambda a: st.integers(shortest, longest).map(
            lambda p: str(ipaddress.ip_network(f"{a}/{p}", strict=False))
        )
    )


def _draw(strategy: st.SearchStrategy[Any], salt: int) -> list[Any]:
    """``EXAMPLES_PER_CONSTRUCT`` distinct values from ``strategy``, the same on every run."""
    out: list[Any] = []

    @seed(SEED + salt)
    @settings(
        max_examples=EXAMPLES_PER_CONSTRUCT * 6,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        if value not in out and len(out) < EXAMPLES_PER_CONSTRUCT:
            out.append(value)

    collect()
    return out


# --------------------------------------------------------------------------------------- constructs

Builder = Callable[[str, Any, str], tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]]


def _case_intent(cased: bool, sample: str, variant: str) -> str:
    return "match" if not cased or variant == sample else "near-miss"


def _string_variants(field: str, sample: str, cased: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """Records for a value that should match exactly: the value, its case variants, near misses."""
    r = BASE_RECORD
    swapped, upper = _swapcase(sample), sample.upper()
    out = [
        ("exact", "match", set_path(r, field, sample)),
        ("swapcase", _case_intent(cased, sample, swapped), set_path(r, field, swapped)),
        ("upper", _case_intent(cased, sample, upper), set_path(r, field, upper)),
        ("longer", "near-miss", set_path(r, field, sample + "x")),
        ("prefixed", "near-miss", set_path(r, field, "x" + sample)),
        ("mutated", "near-miss", set_path(r, field, _mutate(sample))),
        ("missing", "near-miss", drop_path(r, field)),
    ]
    if len(sample) > 1:
        out.append(("shorter", "near-miss", set_path(r, field, sample[:-1])))
    return out


def _eq(field: str, v: str, modifier: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    detection = {"sel": {f"{field}{modifier}": sigma_escape(v)}, "condition": "sel"}
    return detection, _string_variants(field, v, "cased" in modifier)


def _contains_like(
    field: str, v: str, modifier: str
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    r = BASE_RECORD
    contains = "contains" in modifier
    records = [
        ("inside", "match" if contains else "near-miss", set_path(r, field, "Ab/" + v + ":cD")),
        (
            "prefix",
            "match" if contains or "startswith" in modifier else "near-miss",
            set_path(r, field, v + " tail"),
        ),
        (
            "suffix",
            "match" if contains or "endswith" in modifier else "near-miss",
            set_path(r, field, "head " + v),
        ),
        (
            "exact-swapcase",
            _case_intent("cased" in modifier, v, _swapcase(v)),
            set_path(r, field, _swapcase(v)),
        ),
        ("mutated", "near-miss", set_path(r, field, "Ab/" + _mutate(v) + ":cD")),
        ("missing", "near-miss", drop_path(r, field)),
    ]
    return {"sel": {f"{field}{modifier}": sigma_escape(v)}, "condition": "sel"}, records


def _wildcard_middle(
    field: str, parts: tuple[str, str, str], wildcard: str
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    a, mid, b = parts
    value = sigma_escape(a) + (wildcard if wildcard == "*" else "?" * len(mid)) + sigma_escape(b)
    r = BASE_RECORD

    def fills(middle: str) -> str:
        return "match" if wildcard == "*" or len(middle) == len(mid) else "near-miss"

    records = [
        ("filled", "match", set_path(r, field, a + mid + b)),
        ("filled-swapcase", "match", set_path(r, field, _swapcase(a + mid + b))),
        ("empty-middle", fills(""), set_path(r, field, a + b)),
        ("longer-middle", fills(mid + "xY"), set_path(r, field, a + mid + "xY" + b)),
        ("newline-middle", fills("\n"), set_path(r, field, a + "\n" + b)),
        ("wrong-end", "near-miss", set_path(r, field, a + mid + _mutate(b))),
        ("literal-wildcard", fills(wildcard), set_path(r, field, a + wildcard + b)),
    ]
    return {"sel": {field: value}, "condition": "sel"}, records


def _escaped_wildcard(
    field: str, parts: tuple[str, str, str], wildcard: str
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """``a\\*b`` is the literal text ``a*b``; a backslash before a plain character stays a backslash."""
    a, mid, b = parts
    literal = a + wildcard + b
    r = BASE_RECORD
    records = [
        ("literal", "match", set_path(r, field, literal)),
        ("literal-swapcase", "match", set_path(r, field, _swapcase(literal))),
        ("as-wildcard", "near-miss", set_path(r, field, a + mid + b)),
        ("as-wildcard-1", "near-miss", set_path(r, field, a + "Z" + b)),
        ("backslash", "near-miss", set_path(r, field, a + "\\" + wildcard + b)),
    ]
    # A lone backslash before a letter is kept as written (pySigma: only \\*, \\? and \\\\ are escapes).
    return {"sel": {field: sigma_escape(a) + "\\" + wildcard + sigma_escape(b)}, "condition": "sel"}, records


def _regex(field: str, v: str, flags: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """An unanchored regex from the value: literal chunks around a class, a repetition and a group."""
    import re

    head, tail = v[: max(1, len(v) // 2)], v[max(1, len(v) // 2) :]
    pattern = re.escape(head) + "[0-9]+" + "(?:" + re.escape(tail or "z") + "|zz)"
    sample = head + "42" + (tail or "z")
    r = BASE_RECORD
    records = [
        ("sample", "match", set_path(r, field, sample)),
        ("embedded", "match", set_path(r, field, "<<" + sample + ">>")),
        ("swapcase", "match" if "i" in flags else "near-miss", set_path(r, field, _swapcase(sample))),
        ("no-digits", "near-miss", set_path(r, field, head + (tail or "z"))),
        ("alternative", "match", set_path(r, field, head + "7zz")),
        ("missing", "near-miss", drop_path(r, field)),
    ]
    return {"sel": {f"{field}|re{flags}": pattern}, "condition": "sel"}, records


def _regex_anchored(
    field: str, v: str, _: str
) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    import re

    pattern = "^" + re.escape(v) + ".?$"
    r = BASE_RECORD
    records = [
        ("exact", "match", set_path(r, field, v)),
        ("one-more", "match", set_path(r, field, v + "!")),
        ("prefixed", "near-miss", set_path(r, field, "x" + v)),
        ("two-more", "near-miss", set_path(r, field, v + "!!")),
        ("swapcase", "near-miss", set_path(r, field, _swapcase(v))),
    ]
    return {"sel": {f"{field}|re": pattern}, "condition": "sel"}, records


def _not_missing(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """``not sel`` is true for a record without the field: the field never equals the value."""
    r = BASE_RECORD
    records = [
        ("missing", "match", drop_path(r, field)),
        ("null", "match", set_path(r, field, None)),
        ("other", "match", set_path(r, field, _mutate(v))),
        ("equal", "near-miss", set_path(r, field, v)),
        ("equal-swapcase", "near-miss", set_path(r, field, _swapcase(v))),
    ]
    return {"sel": {f"{field}|contains": sigma_escape(v)}, "condition": "not sel"}, records


def _and_not(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """``sel and not filter`` with the filter on a field many records lack (SigmaHQ's usual shape)."""
    r = set_path(BASE_RECORD, "eventName", "PutProbe")
    records = [
        ("filter-missing", "match", drop_path(r, "errorCode")),
        ("filter-other", "match", set_path(r, "errorCode", "Other")),
        ("filter-hit", "near-miss", set_path(r, "errorCode", v)),
        ("filter-hit-upper", "near-miss", set_path(r, "errorCode", v.upper())),
        ("sel-miss", "near-miss", set_path(drop_path(r, "errorCode"), "eventName", "GetProbe")),
    ]
    detection = {
        "sel": {"eventName|startswith": "Put"},
        "filter": {"errorCode": [sigma_escape(v), "AccessDenied"]},
        "condition": "sel and not filter",
    }
    return detection, records


def _contains_all(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    a, b = v[: max(1, len(v) // 2)], "Kx" + v[max(1, len(v) // 2) :]
    r = BASE_RECORD
    records = [
        ("both", "match", set_path(r, field, b + "-" + a)),
        ("both-swapcase", "match", set_path(r, field, _swapcase(a + b))),
        ("first-only", "near-miss", set_path(r, field, a + "-" + _mutate(b))),
        ("second-only", "near-miss", set_path(r, field, _mutate(a) + "-" + b)),
    ]
    return {"sel": {f"{field}|contains|all": [sigma_escape(a), sigma_escape(b)]}, "condition": "sel"}, records


def _one_of(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """``1 of sel_*`` over two selections, one of them a value list."""
    r = BASE_RECORD
    records = [
        ("first", "match", set_path(r, field, v)),
        # errorCode is free text (fields/domains.py); awsRegion, canonical, never holds "EU-West-3"
        ("second", "match", set_path(r, "errorCode", "ACCESSDenied")),
        ("list-second", "match", set_path(r, field, "Zeta" + v)),
        ("neither", "near-miss", set_path(r, field, v + "-no")),
    ]
    detection = {
        "sel_a": {field: [sigma_escape(v), "zeta" + sigma_escape(v)]},
        "sel_b": {"errorCode": "AccessDenied"},
        "condition": "1 of sel_*",
    }
    return detection, records


def _array(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """An array of objects: any element's ARN may match."""
    arn = f"arn:aws:s3:::{v}"
    first = {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::unrelated"}
    records = [
        ("second-element", "match", set_path(BASE_RECORD, "resources", [first, {"ARN": arn.upper()}])),
        ("first-element", "match", set_path(BASE_RECORD, "resources", [{"ARN": arn}, first])),
        ("no-element", "near-miss", set_path(BASE_RECORD, "resources", [first])),
        ("empty", "near-miss", set_path(BASE_RECORD, "resources", [])),
    ]
    return {"sel": {"resources.ARN|endswith": sigma_escape(":::" + v)}, "condition": "sel"}, records


def _exists(field: str, v: str, flag: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    records = [
        ("present", "match" if flag == "true" else "near-miss", set_path(BASE_RECORD, field, v)),
        ("empty-string", "match" if flag == "true" else "near-miss", set_path(BASE_RECORD, field, "")),
        ("null", "near-miss" if flag == "true" else "match", set_path(BASE_RECORD, field, None)),
        # The text "null" is a value; Splunk's JSON extraction renders a JSON null as that same text.
        ("null-text", "match" if flag == "true" else "near-miss", set_path(BASE_RECORD, field, "null")),
        ("missing", "near-miss" if flag == "true" else "match", drop_path(BASE_RECORD, field)),
    ]
    return {"sel": {f"{field}|exists": flag == "true"}, "condition": "sel"}, records


def _null(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    records = [
        ("missing", "match", drop_path(BASE_RECORD, field)),
        ("null", "match", set_path(BASE_RECORD, field, None)),
        ("present", "near-miss", set_path(BASE_RECORD, field, v)),
        ("empty-string", "near-miss", set_path(BASE_RECORD, field, "")),
        ("null-text", "near-miss", set_path(BASE_RECORD, field, "null")),
    ]
    return {"sel": {"eventSource|endswith": ".amazonaws.com", field: None}, "condition": "sel"}, records


def _cidr(_: str, net: Any, __: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    network = ipaddress.ip_network(net)
    inside = network.network_address + (1 if network.num_addresses > 1 else 0)
    outside = (
        network.broadcast_address + 1
        if int(network.broadcast_address) < (2**network.max_prefixlen - 1)
        else network.network_address - 1
    )
    f = "sourceIPAddress"
    records = [
        ("inside", "match", set_path(BASE_RECORD, f, str(inside))),
        ("first", "match", set_path(BASE_RECORD, f, str(network.network_address))),
        ("outside", "near-miss", set_path(BASE_RECORD, f, str(outside))),
        ("service", "near-miss", set_path(BASE_RECORD, f, "lambda.amazonaws.com")),
        ("internal", "near-miss", set_path(BASE_RECORD, f, "AWS Internal")),
    ]
    return {"sel": {f"{f}|cidr": str(network)}, "condition": "sel"}, records


def _base64offset(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    ascii_v = "".join(c for c in v if c.isascii()) or "probe"
    records = []
    for shift in range(3):
        encoded = base64.b64encode(("x" * shift + ascii_v + "yz").encode()).decode()
        records.append((f"offset-{shift}", "match", set_path(BASE_RECORD, field, "data:" + encoded)))
    records.append(("plain", "near-miss", set_path(BASE_RECORD, field, ascii_v)))
    return {"sel": {f"{field}|base64offset|contains": sigma_escape(ascii_v)}, "condition": "sel"}, records


def _numeric(field: str, n: int, op: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    f = "requestParameters.maxItems"
    records = [
        ("equal", "match" if op in ("gte", "lte") else "near-miss", set_path(BASE_RECORD, f, n)),
        ("above", "match" if op.startswith("g") else "near-miss", set_path(BASE_RECORD, f, n + 7)),
        ("below", "near-miss" if op.startswith("g") else "match", set_path(BASE_RECORD, f, n - 7)),
        ("text", "near-miss", set_path(BASE_RECORD, f, "many")),
    ]
    return {"sel": {f"{f}|{op}": n}, "condition": "sel"}, records


def _keyword(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    records = [
        ("in-user-agent", "match", set_path(BASE_RECORD, "userAgent", "tool " + v + " 1.0")),
        ("absent", "near-miss", set_path(BASE_RECORD, "userAgent", "tool " + _mutate(v))),
    ]
    return {"keywords": [sigma_escape(v)], "condition": "keywords"}, records


def _fieldref(field: str, v: str, _: str) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    r = set_path(BASE_RECORD, "requestParameters.userName", v)
    records = [
        ("same", "match", set_path(r, "userIdentity.userName", v)),
        ("same-swapcase", "match", set_path(r, "userIdentity.userName", _swapcase(v))),
        ("other", "near-miss", set_path(r, "userIdentity.userName", _mutate(v))),
    ]
    return {
        "sel": {"requestParameters.userName|fieldref": "userIdentity.userName"},
        "condition": "sel",
    }, records


@dataclass(frozen=True)
class Construct:
    """A probe family: how to build the rule and its records from one drawn value."""

    name: str
    build: Builder
    values: st.SearchStrategy[Any]
    arg: str = ""
    fields: tuple[str, ...] = STRING_FIELDS


CONSTRUCTS: Final[tuple[Construct, ...]] = (
    Construct("equals", _eq, VALUES),
    Construct("cased", _eq, VALUES, "|cased"),
    Construct("contains", _contains_like, VALUES, "|contains"),
    Construct("startswith", _contains_like, VALUES, "|startswith"),
    Construct("endswith", _contains_like, VALUES, "|endswith"),
    Construct("cased-contains", _contains_like, VALUES, "|cased|contains"),
    Construct("wildcard-star-middle", _wildcard_middle, SPLIT_VALUES, "*"),
    Construct("wildcard-question-middle", _wildcard_middle, SPLIT_VALUES, "?"),
    Construct("escaped-star", _escaped_wildcard, SPLIT_VALUES, "*"),
    Construct("escaped-question", _escaped_wildcard, SPLIT_VALUES, "?"),
    Construct("re", _regex, VALUES, ""),
    Construct("re-i", _regex, VALUES, "|i"),
    Construct("re-anchored", _regex_anchored, VALUES),
    Construct(
        "not-missing",
        _not_missing,
        VALUES,
        fields=("errorCode", "errorMessage", "requestParameters.userName"),
    ),
    Construct("and-not-filter", _and_not, VALUES, fields=("errorCode",)),
    Construct("contains-all", _contains_all, VALUES),
    Construct("one-of", _one_of, VALUES),
    Construct("array-any", _array, VALUES, fields=("resources.ARN",)),
    Construct("exists-true", _exists, VALUES, "true", fields=("errorCode", "requestParameters.userName")),
    Construct("exists-false", _exists, VALUES, "false", fields=("errorCode", "requestParameters.userName")),
    Construct("null", _null, VALUES, fields=("errorCode", "errorMessage", "requestParameters.userName")),
    Construct("cidr-v4", _cidr, _networks(4, 8), fields=("sourceIPAddress",)),
    Construct("cidr-v6", _cidr, _networks(6, 16), fields=("sourceIPAddress",)),
    Construct("base64offset", _base64offset, VALUES, fields=("userAgent",)),
    Construct("gt", _numeric, st.integers(-100, 10_000), "gt", fields=("requestParameters.maxItems",)),
    Construct("lte", _numeric, st.integers(-100, 10_000), "lte", fields=("requestParameters.maxItems",)),
    Construct("keyword", _keyword, VALUES, fields=("userAgent",)),
    Construct("fieldref", _fieldref, VALUES, fields=("requestParameters.userName",)),
)


def _build(construct: Construct, index: int, value: Any) -> Probe:
    field = construct.fields[index % len(construct.fields)]
    name = f"{construct.name}-{index:02d}"
    detection, records = construct.build(field, value, construct.arg)
    return Probe(
        name=name,
        construct=construct.name,
        rule=_rule(name, detection),
        records=tuple(
            ProbeRecord(f"{name}/{rname}", intent, rec)
            for rname, intent, rec in records
            if _writable(rec, field)
        ),
    )


def _writable(record: dict[str, Any], field: str) -> bool:
    """False for a record AWS cannot write: a JSON null, or the string "null", where the field's value domain
    rules it out (fields/domains.py; ``errorCode`` is never either). Targets may rely on the domains, so such
    a record proves nothing about a query."""
    known = domains.domain(field)
    node: Any = record
    for key in field.split("."):
        if not isinstance(node, dict) or key not in node:
            return True
        node = node[key]
    if known is None:
        return True
    if node is None:
        return known.json_null
    return known.string_null or not (isinstance(node, str) and node.lower() == "null")


def _iter_probes() -> Iterator[Probe]:
    for salt, construct in enumerate(CONSTRUCTS):
        for index, value in enumerate(_draw(construct.values, salt)):
            yield _build(construct, index, value)


@cache
def probes() -> tuple[Probe, ...]:
    """Every probe, in construct then value order (deterministic)."""
    return tuple(_iter_probes())
