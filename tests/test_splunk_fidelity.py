"""Splunk fidelity: generated SPL, run on the SPL reference interpreter, keeps exactly what Sigma matches.

Every SigmaHQ AWS CloudTrail rule and every rule in ``rules/`` is converted with the Splunk backend and the
``aws_cloudtrail_splunk`` pipeline and run with ``run_spl(strict=True)`` (tests/engines/spl.py, written from
Splunk's documentation) over ``splunk_view`` of every corpus record. The verdicts must equal the reference
evaluator's (``sigma_lambda_layer.evaluator``, rule parsed without a pipeline). ``strict`` makes any verdict
that rests on behaviour Splunk does not document an error, so agreement here is agreement on documented
semantics. Hostile values (quotes, backslashes, ``|``, backticks, newlines, ``*``/``?`` escaped and not,
Unicode) are generated with hypothesis and must match exactly the events holding them, with no query gaining
a command.

The known differences between Splunk and the evaluator are listed in :data:`EXCEPTIONS` with their reason and
handled explicitly (docs/targets/splunk.md, "Fidelity"). Rules that test a value against a whole JSON object
are refused with ``UnsupportedFieldError`` (docs/evaluator.md, choice 4), and must stay refused.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import SetStateTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from sigma_lambda_layer.backends.splunk import CloudTrailSplunkBackend
from sigma_lambda_layer.errors import UnsupportedFieldError
from sigma_lambda_layer.evaluator import RuleEvaluator
from sigma_lambda_layer.fields.splunk import ADDON_FIELDS, splunk_field
from sigma_lambda_layer.pipelines.splunk import STATE_NULL_READINGS, aws_cloudtrail_splunk, null_readings
from sigma_lambda_layer.views.splunk import splunk_view
from tests.engines.spl import SplError, command_names, run_spl

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / ".." / "shared" / "corpus"
AWS_RULES = CORPUS / "sigmahq" / "rules" / "cloud" / "aws" / "cloudtrail"
CLOUDTRAIL = CORPUS / "cloudtrail"

#: Commands a generated query may run: anything else (delete, outputlookup, ...) is an injection.
ALLOWED_COMMANDS = {"search", "eval", "where", "regex"}

#: SigmaHQ rules that test a value against a whole JSON object: refused on every target.
WHOLE_OBJECT_RULES = {
    "aws_disable_bucket_versioning.yml",
    "aws_ec2_vm_export_failure.yml",
    "aws_iam_s3browser_templated_s3_bucket_policy_creation.yml",
}

#: Where Splunk and the evaluator are known to differ, and what the test does about it.
EXCEPTIONS: dict[str, str] = {
    "Add-on field": (
        "A field the Splunk Add-on for AWS computes (status, a CIM field) is absent from raw CloudTrail: the "
        "evaluator and the view both lack it, so the selection never matches either. Agreement on such a "
        "rule is vacuous; the test requires the field in the query and no corpus match, so a change shows."
    ),
}


def _skip_without_corpus() -> None:
    if not AWS_RULES.is_dir() or not CLOUDTRAIL.is_dir():
        pytest.skip(f"SigmaHQ rules or CloudTrail records not found under {CORPUS.resolve()}")


@cache
def _records() -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []
    for path in sorted(CLOUDTRAIL.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            out.extend(json.loads(line) for line in handle if line.strip())
    return tuple(out)


@cache
def _views() -> tuple[dict[str, list[str]], ...]:
    return tuple(splunk_view(record) for record in _records())


def to_spl(rule_yaml: str, null_readings: dict[str, list[bool]] | None = None) -> str:
    """The rule's SPL; ``null_readings`` overrides what the pipeline records from the value domains."""
    pipeline = aws_cloudtrail_splunk()
    if null_readings is not None:
        pipeline += ProcessingPipeline(
            items=[ProcessingItem(SetStateTransformation(STATE_NULL_READINGS, null_readings))]
        )
    backend = CloudTrailSplunkBackend(processing_pipeline=pipeline)
    queries = backend.convert(SigmaCollection.from_yaml(rule_yaml))
    assert len(queries) == 1, queries
    return str(queries[0])


def _fields(detection: SigmaDetection) -> set[str]:
    found: set[str] = set()
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            found |= _fields(item)
        elif isinstance(item, SigmaDetectionItem) and item.field is not None:
            found.add(item.field)
    return found


def rule_fields(rule: SigmaRule) -> set[str]:
    return set().union(*(_fields(d) for d in rule.detection.detections.values()))


def expected_matches(rule: SigmaRule, records: tuple[dict[str, Any], ...]) -> set[int]:
    """The evaluator's verdicts."""
    evaluator = RuleEvaluator(rule)
    return {i for i, record in enumerate(records) if evaluator.matches(record)}


def _without_strings(query: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', query)


def check_query_shape(query: str) -> list[str]:
    """Problems with a query's shape: commands outside the proven set, constructs the docs leave open."""
    problems = []
    if not set(command_names(query)) <= ALLOWED_COMMANDS:
        problems.append(f"commands {command_names(query)}")
    bare = _without_strings(query)
    if "!=" in bare:  # != on a multivalue field is undocumented: NOT field=v is emitted instead
        problems.append("!= in the query")
    # In where/eval, a multivalue ({}) field may only be read per value, by mvfind (where_mv guess)
    for segment in bare.split("|")[1:]:
        if segment.split()[0] in ("where", "eval"):
            for func in re.findall(r"(\w*)\(?'[^']*\{\}[^']*'", segment):
                if func != "mvfind":
                    problems.append(f"multivalue field outside mvfind in: {segment.strip()}")
    return problems


def _corpus_rules() -> list[Path]:
    """SigmaHQ's AWS rules and ours; ``rules/<rule>.tests.yml`` hold a rule's test records, not a rule."""
    ours = [p for p in sorted((REPO / "rules").glob("*.yml")) if not p.name.endswith(".tests.yml")]
    return sorted(AWS_RULES.glob("*.yml")) + ours


def test_splunk_fidelity_corpus_verdicts() -> None:
    """Every AWS rule x every corpus record: run_spl(strict=True) == the evaluator; one table of failures."""
    _skip_without_corpus()
    records, views = _records(), _views()
    rows: list[str] = []
    addon_rules: list[str] = []
    paths = _corpus_rules()
    refused: list[str] = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        rule = SigmaRule.from_yaml(text)
        if path.name in WHOLE_OBJECT_RULES:
            with pytest.raises(UnsupportedFieldError, match="is a JSON object, not a value"):
                to_spl(text)
            refused.append(path.name)
            continue
        try:
            query = to_spl(text)
            got = run_spl(query, views, strict=True)
        except (SplError, AssertionError) as error:
            rows.append(f"| {path.name} | error: {error} |")
            continue
        want = expected_matches(rule, records)
        if addon := sorted(rule_fields(rule) & set(ADDON_FIELDS)):
            addon_rules.append(path.name)
            if want or not all(f"{f}=" in query for f in addon):
                rows.append(
                    f"| {path.name} | Add-on field {addon}: expected no match and the field queried |"
                )
        if problems := check_query_shape(query):
            rows.append(f"| {path.name} | shape: {'; '.join(problems)} |")
        if got != want:
            only_spl = [f"{i}:{records[i].get('eventName')}" for i in sorted(got - want)]
            only_eval = [f"{i}:{records[i].get('eventName')}" for i in sorted(want - got)]
            rows.append(f"| {path.name} | SPL only {only_spl} / evaluator only {only_eval} | `{query}` |")
    assert len(records) == 794
    assert len(paths) >= 59
    assert addon_rules == ["aws_delete_saml_provider.yml"], addon_rules
    assert set(refused) == WHOLE_OBJECT_RULES
    assert not rows, "Splunk disagrees with the evaluator:\n| rule | difference | query |\n" + "\n".join(rows)


# --------------------------------------------------------------------------------------- hostile values

#: Characters that break quoting, escaping, pipelines, macros, wildcards, case folding and lines.
HOSTILE = [*"aZ09 \"\\|`*?\n\t\r'é中ß[](){}=!<>:/.-_%$#@,;&+~^", "\u212a", "\u2028", "\U0001f600"]
FIELDS = ("userAgent", "requestParameters.layers")
MODIFIERS = ("", "|contains", "|startswith", "|endswith", "|cased")
CONDITIONS = ("sel", "not sel", "sel or other")


def sigma_escape(literal: str) -> str:
    """A Sigma string value matching ``literal`` itself: ``\\``, ``*`` and ``?`` escaped."""
    return literal.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def rule_yaml(field: str, modifier: str, value: str, condition: str) -> str:
    rule = {
        "title": "Hostile value",
        "logsource": {"product": "aws", "service": "cloudtrail"},
        "detection": {
            "sel": {f"{field}{modifier}": value},
            "other": {"eventName": "NeverCalled"},
            "condition": condition,
        },
    }
    return yaml.safe_dump(rule, allow_unicode=True)


def make_records(field: str, values: list[str]) -> tuple[dict[str, Any], ...]:
    """One record per value, holding it in ``field`` (beside a decoy for the multivalue field)."""
    if field == "userAgent":
        return tuple({"eventName": "X", "userAgent": v} for v in values)
    return tuple({"eventName": "X", "requestParameters": {"layers": ["decoy", v]}} for v in values)


def variants(literal: str) -> list[str]:
    return [literal, literal.swapcase(), literal.upper(), "x" + literal, literal + "x", literal[:-1], "", "q"]


def _check(field: str, modifier: str, value: str, condition: str, values: list[str]) -> set[int]:
    text = rule_yaml(field, modifier, value, condition)
    query = to_spl(text)
    assert check_query_shape(query) == [], query
    names = command_names(query)
    assert names[0] == "search" and len(names) <= 3, names
    records = make_records(field, values)
    got = run_spl(query, [splunk_view(r) for r in records], strict=True)
    want = expected_matches(SigmaRule.from_yaml(text), records)
    assert got == want, (query, [values[i] for i in sorted(got ^ want)])
    return got


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    literal=st.text(alphabet=st.sampled_from(HOSTILE), min_size=1, max_size=10),
    field=st.sampled_from(FIELDS),
    modifier=st.sampled_from(MODIFIERS),
    condition=st.sampled_from(CONDITIONS),
)
def test_splunk_fidelity_hostile_literals(literal: str, field: str, modifier: str, condition: str) -> None:
    """An escaped literal matches exactly the events holding it (as the modifier says), under any shape."""
    values = variants(literal)
    got = _check(field, modifier, sigma_escape(literal), condition, values)
    if condition == "sel" and modifier == "":
        assert got == {i for i, v in enumerate(values) if v.lower() == literal.lower()}
    if condition == "sel" and modifier == "|cased":
        assert got == {i for i, v in enumerate(values) if v == literal}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pattern=st.lists(st.sampled_from([*HOSTILE, "*", "?", "\\*", "\\?", "\\\\"]), min_size=1, max_size=8).map(
        "".join
    ),
    field=st.sampled_from(FIELDS),
    condition=st.sampled_from(CONDITIONS),
    fill=st.text(alphabet=st.sampled_from(HOSTILE), max_size=3),
)
def test_splunk_fidelity_hostile_wildcards(pattern: str, field: str, condition: str, fill: str) -> None:
    """Sigma wildcards and escapes as written (``*``, ``?``, ``\\*``, ``\\?``, ``\\\\``, stray ``\\``)."""
    literal = pattern.replace("*", fill).replace("?", fill[:1] or "z")
    values = [*variants(literal), pattern, pattern.replace("\\", "")]
    _check(field, "", pattern, condition, values)


def test_splunk_fidelity_no_command_injection() -> None:
    """Values written to break out of their literal stay one literal: the query gains no command."""
    for value in ('x" | delete | search "', 'x\\" | delete', "x\\", "` | delete `", "x\n| delete", "a|b"):
        for condition in CONDITIONS:
            query = to_spl(rule_yaml("userAgent", "", sigma_escape(value), condition))
            assert set(command_names(query)) <= ALLOWED_COMMANDS, query
            assert "delete" not in command_names(query)
            records = make_records("userAgent", [value, "x"])
            got = run_spl(query, [splunk_view(r) for r in records], strict=True)
            assert got == ({0} if condition != "not sel" else {1}), query


#: Values a field may hold that read alike in Splunk: JSON null and the text "null", both "null".
NULLISH: tuple[Any, ...] = (None, "null", "NULL", "", "AccessDenied")


def _at_path(record: dict[str, Any], field: str) -> Any:
    node: Any = record
    for key in field.split("."):
        node = node.get(key, "absent") if isinstance(node, dict) else "absent"
    return node


def _null_records(field: str) -> tuple[dict[str, Any], ...]:
    """One record per value of NULLISH at ``field``, one without it, and decoys: the same key elsewhere
    holding the other reading (a nested ``"null"`` under a JSON null, and the reverse)."""
    *parents, last = field.split(".")

    def at(value: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        node: dict[str, Any] = {last: value}
        for key in reversed(parents):
            node = {key: node}
        return {"eventName": "X", "errorMessage": "NULL", **node, **(extra or {})}

    decoys = [
        at(None, {"additionalEventData": {last: "null", "x": {last: "null"}}}),
        at("null", {"additionalEventData": {last: None}}),
        at(None, {f"{field}x": "null", "tags": [{last: "null"}]}),
    ]
    return (*(at(v) for v in NULLISH), {"eventName": "X", "errorMessage": "null"}, *decoys)


def _admitted(value: Any, readings: tuple[bool, bool]) -> bool:
    """``value`` at the tested field is one the field's domain admits (JSON null; a string that reads null)."""
    json_null, string_null = readings
    if value is None:
        return json_null
    return string_null or not (isinstance(value, str) and value.lower() == "null")


@pytest.mark.parametrize(
    ("field", "readings"),
    [
        # the readings the value domains give (fields/domains.py): errorCode is never null nor "null"
        ("errorCode", None),
        ("requestParameters.userName", None),
        ("resources.ARN", None),
        # a domain admitting a JSON null but no string "null" (pipeline state set by hand)
        ("requestParameters.userName", (True, False)),
    ],
)
def test_splunk_fidelity_json_null(field: str, readings: tuple[bool, bool] | None) -> None:
    """exists / exists: false / null / values matching the text null / fieldref tell a JSON null from the
    string "null" exactly as the evaluator does, on every record the field's domain admits: by the value
    alone where the domain rules one reading out, by the value's place in _raw where it admits both."""
    splunk_name = splunk_field(field)
    used = readings if readings is not None else null_readings(field)
    records = tuple(r for r in _null_records(field) if _admitted(_at_path(r, field), used))
    if field == "resources.ARN":  # an array of objects: any element
        records = tuple(
            {k: ([{"ARN": v["ARN"]}, {"ARN": "other"}] if k == "resources" else v) for k, v in r.items()}
            for r in records
        )
    views = [splunk_view(r) for r in records]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"sel": {f"{field}|exists": True}}, "sel"),
        ({"sel": {f"{field}|exists": False}}, "sel"),
        ({"sel": {field: None}}, "sel"),
        ({"sel": {f"{field}|exists": True}}, "not sel"),
        ({"sel": {field: None}, "other": {"eventName": "Never"}}, "sel or other"),
        ({"sel": {field: "*"}}, "sel"),
        ({"sel": {field: "*"}}, "not sel"),
        ({"sel": {f"{field}|contains": "ul"}}, "sel"),
        ({"sel": {f"{field}|cased": "null"}}, "sel"),
        ({"sel": {f"{field}|re": "^n"}}, "sel"),
        ({"sel": {f"{field}|re": "^n"}, "other": {"eventName": "Never"}}, "sel or other"),
        ({"sel": {field: ["null", "x"]}}, "not sel"),
    ]
    if "." not in field:
        cases.append(({"sel": {f"{field}|fieldref": "errorMessage"}}, "sel"))
    for detection, condition in cases:
        text = yaml.safe_dump(
            {
                "title": "Null",
                "logsource": {"product": "aws", "service": "cloudtrail"},
                "detection": {**detection, "condition": condition},
            }
        )
        query = to_spl(text, None if readings is None else {splunk_name: list(readings)})
        assert check_query_shape(query) == [], query
        if not all(used):  # one reading ruled out: the value alone decides
            assert "_raw" not in query, query
        got = run_spl(query, views, strict=True)
        want = expected_matches(SigmaRule.from_yaml(text), records)
        assert got == want, (detection, condition, query, got, want)
