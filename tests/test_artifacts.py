"""Deployable artifacts, whole batches, validated offline against each product's published format.

- Splunk ``savedsearches.conf``: a parser and key table written from Splunk's ``savedsearches.conf.spec``
  (Splunk Enterprise 10.x: stanzas, ``key = value``, a trailing backslash continues a value; the settings
  below, each with its documented values).
- Kibana detection rules (``siem_rule_ndjson``): no schema ships in any package we can install (Elastic's
  ``detection-rules`` repository, which holds JSON schemas, is not on PyPI), so :func:`kibana_rule_problems`
  is a structural validator written from Kibana's detection-engine API: ``rule_to_import.ts`` (import needs
  the create-rule fields plus ``rule_id``), ``rule_schemas.schema.yaml`` (per-type fields) and
  ``common_attributes.schema.yaml`` (severity, risk score, threat, ...), and the "Import rules" API page
  (``POST <kibana>/api/detection_engine/rules/_import``, an NDJSON file, one rule per line).
- Kibana saved searches (``kibana_ndjson``): :func:`kibana_saved_object_problems`, written from the saved-objects
  import API page (``POST <kibana>/api/saved_objects/_import``: NDJSON, one object per line; a reference to an
  object neither in the file nor in Kibana fails as ``missing_references``) and Kibana's sources: the
  ``search`` type's attribute schema (``saved_search/server/saved_objects/schema_legacy.ts``), the serialized
  search source (``data/common/search/search_source/extract_references.ts``, ``migrate_legacy_query.ts``) and
  the data-view type (``data_views/server/saved_objects/data_views.ts``).
- CloudWatch: botocore's ``logs`` service model for ``PutQueryDefinition``; the CloudFormation template is
  checked for the template anatomy and ``AWS::Logs::QueryDefinition`` properties, which are the API's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sigma_lambda_layer.api import ConversionResults, convert
from sigma_lambda_layer.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
FOUNDING = RULES / "aws_attached_malicious_lambda_layer.yml"
SIGMAHQ_AWS = REPO / ".." / "shared" / "corpus" / "sigmahq" / "rules" / "cloud" / "aws" / "cloudtrail"


def rule_yaml(
    title: str = "Test rule",
    *,
    level: str | None = "high",
    description: str | None = None,
    tags: tuple[str, ...] = (),
    rule_id: str | None = "5f1a2b3c-0000-4000-8000-000000000001",
) -> str:
    lines = [f"title: {json.dumps(title)}"]
    if rule_id:
        lines.append(f"id: {rule_id}")
    if description is not None:
        lines.append(f"description: {json.dumps(description)}")
    if level:
        lines.append(f"level: {level}")
    if tags:
        lines.append("tags:\n" + "".join(f"    - {t}\n" for t in tags).rstrip("\n"))
    lines += [
        "logsource:\n    product: aws\n    service: cloudtrail",
        "detection:\n    sel:\n        eventName: X\n    condition: sel",
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------
# Splunk savedsearches.conf: a parser from savedsearches.conf.spec

_BOOL = {"0", "1", "true", "false"}
#: Settings of savedsearches.conf.spec that our files may hold, each with a check of its documented value.
SPEC_SETTINGS: dict[str, Any] = {
    "description": lambda v: True,
    "search": lambda v: bool(v) and "\n" not in v,
    "disabled": lambda v: v in _BOOL,
    "enableSched": lambda v: v in {"0", "1"},  # "The only acceptable values for this setting are 0 and 1."
    "cron_schedule": lambda v: len(v.split()) == 5,
    "dispatch.earliest_time": lambda v: bool(v),
    "dispatch.latest_time": lambda v: bool(v),
    "counttype": lambda v: (
        v in {"number of events", "number of hosts", "number of sources", "custom", "always"}
    ),
    "relation": lambda v: (
        v in {"greater than", "less than", "equal to", "not equal to", "drops by", "rises by"}
    ),
    "quantity": lambda v: v.isdigit(),
    "alert.severity": lambda v: v in {"1", "2", "3", "4", "5", "6"},
    "alert.digest_mode": lambda v: v in _BOOL,
    "alert.track": lambda v: v in _BOOL | {"auto"},
    "alert.suppress": lambda v: v in _BOOL,
    "alert.suppress.period": lambda v: re.fullmatch(r"\d+[smhd]?", v) is not None,
    "alert.suppress.fields": lambda v: bool(v),
    "request.ui_dispatch_app": lambda v: bool(v),
}
#: ``action.<action_name> = <boolean>`` and ``action.<action_name>.<parameter> = <value>`` (the spec).
_ACTION = re.compile(r"^action\.[A-Za-z0-9_]+(\.[A-Za-z0-9_.]+)?$")


def parse_conf(text: str) -> dict[str, dict[str, str]]:
    """Stanza -> settings, as Splunk reads a .conf file; raises AssertionError on anything the spec forbids
    or that this project never writes (settings outside a stanza, repeated stanzas or keys, unknown keys,
    values outside their documented range)."""
    stanzas: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("["):
            assert line.endswith("]") and line.count("[") == 1 and line.count("]") == 1, line
            name = line[1:-1]
            assert name.strip() and name not in stanzas, f"empty or repeated stanza {name!r}"
            current = stanzas[name] = {}
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"not a setting inside a stanza: {line!r}"
        key, value = key.strip(), value.strip()
        while value.endswith("\\"):  # a trailing backslash continues the value on the next line
            value = value[:-1].rstrip(" \t") + "\n" + lines[i].strip()
            i += 1
        assert key not in current, f"repeated key {key}"
        check = SPEC_SETTINGS.get(key)
        assert check is not None or _ACTION.match(key), f"key not in savedsearches.conf.spec: {key}"
        assert check is None or check(value), f"{key} = {value!r} is outside the spec's values"
        current[key] = value
    return stanzas


def splunk(rules: Any, **options: Any) -> ConversionResults:
    return convert(rules, target="splunk", format="savedsearches", options=options, collect_errors=True)


def test_splunk_savedsearches_batch_validates() -> None:
    sources: list[Any] = [RULES]
    if SIGMAHQ_AWS.is_dir():
        sources.append(SIGMAHQ_AWS)
    results = splunk(sources)
    plain = convert(sources, target="splunk", collect_errors=True)
    converted = [r for r in results if r.ok]
    assert len(converted) >= 2
    stanzas = parse_conf(results.batch_text("splunk"))
    assert len(stanzas) == len(converted)
    queries = {r.title: r.output for r in plain if r.ok}
    for result in converted:
        settings = parse_conf(result.output)
        [(name, stanza)] = settings.items()
        assert stanzas[name] == stanza
        assert stanza["search"] == queries[result.title]
        assert stanza["enableSched"] == "1"


def test_splunk_savedsearches_defaults() -> None:
    [stanza] = parse_conf(splunk(rule_yaml(level="high")).batch_text("splunk")).values()
    assert stanza == {
        "description": "Test rule\nSigma rule id: 5f1a2b3c-0000-4000-8000-000000000001\nLevel: high",
        "search": 'sourcetype=aws:cloudtrail eventName="X"',
        "enableSched": "1",
        "cron_schedule": "*/15 * * * *",
        "dispatch.earliest_time": "-20m@m",
        "dispatch.latest_time": "-5m@m",
        "counttype": "number of events",
        "relation": "greater than",
        "quantity": "0",
        "alert.severity": "5",
        "alert.digest_mode": "1",
        "alert.track": "1",
        "alert.suppress": "0",
        "request.ui_dispatch_app": "search",
    }


def test_splunk_savedsearches_options() -> None:
    text = splunk(
        rule_yaml(),
        cron_schedule="*/10 * * * *",
        earliest_time="-15m",
        latest_time="now",
        alert_threshold="2",
        suppress="1h",
        suppress_fields="userIdentity.arn",
        digest_mode="0",
        actions="email",
        **{"action.email.to": "soc@example.com"},
        correlation_search="true",
    ).batch_text("splunk")
    [stanza] = parse_conf(text).values()
    assert (stanza["cron_schedule"], stanza["dispatch.earliest_time"], stanza["dispatch.latest_time"]) == (
        "*/10 * * * *",
        "-15m",
        "now",
    )
    assert (stanza["quantity"], stanza["alert.digest_mode"]) == ("2", "0")
    assert (stanza["alert.suppress"], stanza["alert.suppress.period"]) == ("1", "1h")
    assert stanza["alert.suppress.fields"] == "userIdentity.arn"
    assert (stanza["action.email"], stanza["action.email.to"]) == ("1", "soc@example.com")
    assert (stanza["action.correlationsearch.enabled"], stanza["action.correlationsearch.label"]) == (
        "1",
        "Test rule",
    )


def test_splunk_savedsearches_severity_from_level() -> None:
    levels = {"informational": "2", "low": "3", "medium": "4", "high": "5", "critical": "6", None: "3"}
    for level, severity in levels.items():
        [stanza] = parse_conf(splunk(rule_yaml(level=level)).batch_text("splunk")).values()
        assert stanza["alert.severity"] == severity, level
    [stanza] = parse_conf(splunk(rule_yaml(), alert_severity="1").batch_text("splunk")).values()
    assert stanza["alert.severity"] == "1"


def test_splunk_savedsearches_multiline_description_cannot_inject() -> None:
    hostile = "First line\n[Evil]\nsearch = | delete\nalert.severity = 1\\\n\n# not a comment"
    stanzas = parse_conf(splunk(rule_yaml(description=hostile)).batch_text("splunk"))
    assert list(stanzas) == ["Test rule"]
    stanza = stanzas["Test rule"]
    assert stanza["search"] == 'sourcetype=aws:cloudtrail eventName="X"'
    assert stanza["alert.severity"] == "5"
    assert stanza["description"].startswith(
        "First line\n[Evil]\nsearch = | delete\nalert.severity = 1\n\n# not a comment\n"
    )


def test_splunk_savedsearches_stanza_names() -> None:
    text = splunk(
        [
            rule_yaml("Odd [name] here"),
            rule_yaml("Same", rule_id="5f1a2b3c-0000-4000-8000-00000000000a"),
            rule_yaml("Same", rule_id="5f1a2b3c-0000-4000-8000-00000000000b"),
        ]
    ).batch_text("splunk")
    assert list(parse_conf(text)) == [
        "Odd (name) here",
        "Same",
        "Same (5f1a2b3c-0000-4000-8000-00000000000b)",
    ]


def test_splunk_savedsearches_attack_annotations() -> None:
    [stanza] = parse_conf(
        splunk(rule_yaml(tags=("attack.persistence", "attack.t1098.001", "attack.t1078"))).batch_text(
            "splunk"
        )
    ).values()
    assert json.loads(stanza["action.correlationsearch.annotations"]) == {
        "mitre_attack": ["T1078", "T1098.001"]
    }
    assert "ATT&CK: attack.persistence, attack.t1098.001, attack.t1078" in stanza["description"]


@pytest.mark.parametrize(
    "option",
    [
        {"cron_schedule": "every 5 minutes"},
        {"earliest_time": "-15m\nsearch = x"},
        {"alert_type": "lots"},
        {"alert_severity": "7"},
        {"enable_sched": "yes"},
        {"action.email.to": "a@b"},  # the action is not listed in actions
        {"suppress": "forever"},
    ],
)
def test_splunk_savedsearches_bad_option(option: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="invalid Splunk savedsearches option"):
        splunk(rule_yaml(), **option)


# ------------------------------------------------------------------------------------------------------
# Kibana detection rules: a structural validator from Kibana's detection-engine API schemas

_STRINGS = ("author", "false_positives", "references", "tags", "index")
#: Fields a rule to import may carry (BaseCreateProps, the type-specific create fields, and the
#: ResponseFields that import accepts and ignores), for the three rule types we write.
_KNOWN = {
    "name", "description", "risk_score", "severity", "rule_name_override", "timestamp_override",
    "timestamp_override_fallback_disabled", "timeline_id", "timeline_title", "license", "note",
    "building_block_type", "output_index", "namespace", "meta", "investigation_fields", "throttle",
    "response_actions", "version", "tags", "enabled", "risk_score_mapping", "severity_mapping", "interval",
    "from", "to", "actions", "exceptions_list", "author", "false_positives", "references", "max_signals",
    "threat", "setup", "related_integrations", "required_fields", "rule_id", "id", "immutable",
    "rule_source", "updated_at", "updated_by", "created_at", "created_by", "revision", "type", "query",
    "language", "index", "data_view_id", "filters", "saved_id", "alert_suppression",
    "event_category_override", "tiebreaker_field", "timestamp_field",
}  # fmt: skip
_TYPE_FIELDS = {
    "query": {"language": {"kuery", "lucene"}, "forbidden": {"event_category_override"}},
    "eql": {"language": {"eql"}, "forbidden": {"saved_id"}},
    "esql": {"language": {"esql"}, "forbidden": {"index", "filters", "data_view_id", "saved_id"}},
}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def kibana_rule_problems(rule: dict[str, Any]) -> list[str]:
    """Everything in ``rule`` that Kibana's rule import would reject (or that we never want to write)."""
    problems: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    for field in ("name", "description", "rule_id"):
        need(isinstance(rule.get(field), str) and bool(rule[field]), f"{field}: a non-empty string")
    need(rule.get("severity") in {"low", "medium", "high", "critical"}, "severity: low|medium|high|critical")
    risk = rule.get("risk_score")
    need(isinstance(risk, int) and not isinstance(risk, bool) and 0 <= risk <= 100, "risk_score: 0-100")
    kind = _TYPE_FIELDS.get(rule.get("type", ""))
    need(kind is not None, "type: query|eql|esql")
    if kind is not None:
        need(rule.get("language") in kind["language"], f"language of a {rule['type']} rule")
        need(not (kind["forbidden"] & rule.keys()), f"fields a {rule['type']} rule cannot have")
        need(isinstance(rule.get("query"), str) and bool(rule["query"]), "query: a non-empty string")
    need(not (rule.keys() - _KNOWN), f"unknown fields {sorted(rule.keys() - _KNOWN)}")
    need("id" not in rule or bool(_UUID.match(str(rule["id"]))), "id: a UUID (RuleObjectId)")
    for field in _STRINGS:
        value = rule.get(field, [])
        need(isinstance(value, list) and all(isinstance(v, str) for v in value), f"{field}: strings")
    need(rule.get("enabled", True) in (True, False), "enabled: a boolean")
    need(re.fullmatch(r"\d+[smhd]", rule.get("interval", "5m")) is not None, "interval: like 5m")
    need(re.fullmatch(r"now(-\d+[smhd])?", rule.get("from", "now-6m")) is not None, "from: date math")
    need(isinstance(rule.get("version", 1), int) and rule.get("version", 1) >= 1, "version >= 1")
    need(isinstance(rule.get("max_signals", 1), int) and rule.get("max_signals", 1) >= 1, "max_signals >= 1")
    for entry in rule.get("threat", []):
        ref = {"id", "name", "reference"}
        need(entry.get("framework") == "MITRE ATT&CK", "threat.framework")
        need(ref <= entry.get("tactic", {}).keys(), "threat.tactic: id, name, reference")
        for technique in entry.get("technique", []):
            need(ref <= technique.keys(), "threat.technique: id, name, reference")
            need(all(ref <= s.keys() for s in technique.get("subtechnique", [])), "threat.subtechnique")
    return problems


def ndjson(objects: list[dict[str, Any]]) -> str:
    """The import file: one JSON object per line."""
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)


def elastic_rules(target: str, rules: Any, **options: Any) -> tuple[ConversionResults, list[dict[str, Any]]]:
    results = convert(rules, target=target, format="siem_rule_ndjson", options=options, collect_errors=True)
    text = ndjson(results.batch_outputs.get(target) or [])
    return results, [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("target", ["eql", "esql", "lucene"])
def test_elastic_siem_rule_ndjson_batch_validates(target: str) -> None:
    sources: list[Any] = [RULES]
    if SIGMAHQ_AWS.is_dir():
        sources.append(SIGMAHQ_AWS)
    results, lines = elastic_rules(target, sources)
    assert len(lines) == sum(r.ok for r in results) >= 10 if SIGMAHQ_AWS.is_dir() else len(lines) >= 1
    problems = {rule["name"]: p for rule in lines if (p := kibana_rule_problems(rule))}
    assert not problems
    # rule_id is the Sigma id (SigmaHQ's copy of the founding rule shares its id, on purpose).
    assert {rule["rule_id"] for rule in lines} == {r.id for r in results if r.ok}


def test_elastic_lucene_rule_fields() -> None:
    """Lucene rules come from the same builder as EQL and ES|QL: every level maps into Kibana's severity
    enum, and none of the stock extras (``id``, ``immutable``, ``output_index``, ``throttle``, ``meta``)."""
    levels = ("informational", "low", "medium", "high", "critical", None)
    _, lines = elastic_rules(
        "lucene",
        [
            rule_yaml(level=lv, rule_id=f"5f1a2b3c-0000-4000-8000-00000000010{i}")
            for i, lv in enumerate(levels)
        ],
    )
    assert [kibana_rule_problems(rule) for rule in lines] == [[]] * len(levels)
    assert [(rule["severity"], rule["risk_score"]) for rule in lines] == [
        ("low", 1),
        ("low", 21),
        ("medium", 47),
        ("high", 73),
        ("critical", 99),
        ("low", 21),
    ]
    rule = lines[3]
    assert (rule["type"], rule["language"], rule["index"]) == ("query", "lucene", ["logs-aws.cloudtrail-*"])
    assert rule["query"] == convert(rule_yaml(), target="lucene")[0].output
    assert (rule["name"], rule["rule_id"]) == ("Test rule", "5f1a2b3c-0000-4000-8000-000000000103")
    assert (rule["license"], rule["timestamp_override"], rule["tags"]) == (
        "DRL-1.1",
        "event.ingested",
        ["Sigma"],
    )
    assert not {"id", "immutable", "output_index", "throttle", "meta"} & rule.keys()


def test_elastic_eql_rule_fields() -> None:
    _, [rule] = elastic_rules(
        "eql",
        rule_yaml(
            level="critical", description="Why it matters.", tags=("attack.persistence", "attack.t1098")
        ),
    )
    assert rule["rule_id"] == "5f1a2b3c-0000-4000-8000-000000000001"
    assert (rule["type"], rule["language"], rule["index"]) == ("eql", "eql", ["logs-aws.cloudtrail-*"])
    assert (rule["severity"], rule["risk_score"]) == ("critical", 99)
    assert rule["query"] == 'any where data_stream.dataset == "aws.cloudtrail" and event.action : "X"'
    assert (rule["interval"], rule["from"], rule["timestamp_override"]) == ("5m", "now-6m", "event.ingested")
    assert rule["license"] == "DRL-1.1"
    assert rule["threat"] == [
        {
            "framework": "MITRE ATT&CK",
            "tactic": {
                "id": "TA0003",
                "name": "Persistence",
                "reference": "https://attack.mitre.org/tactics/TA0003/",
            },
            "technique": [
                {
                    "id": "T1098",
                    "name": "Account Manipulation",
                    "reference": "https://attack.mitre.org/techniques/T1098/",
                    "subtechnique": [],
                }
            ],
        }
    ]
    assert "id" not in rule and "immutable" not in rule


def test_elastic_esql_rule_carries_index_in_query() -> None:
    _, [rule] = elastic_rules("esql", rule_yaml(level="informational"))
    assert rule["query"].startswith("from logs-aws.cloudtrail-* metadata _id, _index, _version | where ")
    assert "index" not in rule and "filters" not in rule
    assert (rule["severity"], rule["risk_score"]) == ("low", 1)


def test_elastic_founding_rule_metadata() -> None:
    _, [rule] = elastic_rules("eql", FOUNDING)
    assert rule["rule_id"] == "97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d"
    assert rule["author"] == ["Austin Songer"]
    assert rule["references"] == [
        "https://docs.aws.amazon.com/lambda/latest/dg/API_UpdateFunctionConfiguration.html"
    ]
    assert len(rule["false_positives"]) == 2
    assert [t["tactic"]["id"] for t in rule["threat"]] == ["TA0004"]


def test_elastic_rule_options() -> None:
    _, [rule] = elastic_rules(
        "esql",
        rule_yaml(),
        rule_interval="10m",
        rule_from="now-70m",
        timestamp_override="none",
        enabled="false",
    )
    assert (rule["interval"], rule["from"], rule["enabled"]) == ("10m", "now-70m", False)
    assert "timestamp_override" not in rule
    with pytest.raises(UsageError, match="schedule"):
        elastic_rules("eql", rule_yaml(), rule_from="yesterday")


def test_elastic_rule_without_id_gets_stable_rule_id() -> None:
    _, [first] = elastic_rules("eql", rule_yaml(rule_id=None))
    _, [again] = elastic_rules("eql", rule_yaml(rule_id=None))
    assert first["rule_id"] == again["rule_id"] and _UUID.match(first["rule_id"])


def test_elastic_batch_text_is_ndjson() -> None:
    results, lines = elastic_rules("eql", RULES)
    assert results.batch_text("eql") == ndjson(lines)


#: Attributes of the ``search`` saved-object type (``SCHEMA_SEARCH_BASE``, the model every later version extends).
_SEARCH_ATTRIBUTES = {
    "title", "description", "columns", "sort", "grid", "rowHeight", "rowsPerPage", "hideChart",
    "breakdownField", "kibanaSavedObjectMeta", "isTextBasedQuery", "usesAdHocDataView", "timeRestore",
    "timeRange", "refreshInterval", "viewMode", "hideAggregatedPreview", "hits", "version",
}  # fmt: skip
#: Attributes of a data view (``index-pattern``) that we may write.
_DATA_VIEW_ATTRIBUTES = {"title", "timeFieldName", "allowNoIndex", "name"}


def kibana_saved_object_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Everything in an import file of saved searches and data views that Kibana's saved-objects import would
    reject, report as a missing reference, or load as something else than a Lucene search."""
    problems: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    present = {(o.get("type"), o.get("id")) for o in objects}
    need(len(present) == len(objects), "two objects with the same type and id")
    for o in objects:
        kind, oid, attributes = o.get("type"), o.get("id"), o.get("attributes")
        where = f"{kind} {oid!r}"
        need(isinstance(oid, str) and bool(oid), f"{where}: id a non-empty string")
        need(isinstance(attributes, dict), f"{where}: attributes an object")
        references = o.get("references", [])
        need(
            isinstance(references, list) and all(set(r) == {"id", "name", "type"} for r in references),
            f"{where}: references as {{id, name, type}}",
        )
        for ref in references:
            # The import API: a reference to an object neither in the file nor in Kibana is missing_references.
            need((ref["type"], ref["id"]) in present, f"{where}: reference {ref['name']} not in the file")
        if not isinstance(attributes, dict):
            continue
        if kind == "index-pattern":
            need(not (attributes.keys() - _DATA_VIEW_ATTRIBUTES), f"{where}: unknown data-view attributes")
            need(isinstance(attributes.get("title"), str) and bool(attributes["title"]), f"{where}: title")
            continue
        need(kind == "search", f"{where}: type index-pattern or search")
        need(not (attributes.keys() - _SEARCH_ATTRIBUTES), f"{where}: attributes outside the search schema")
        need(isinstance(attributes.get("title"), str) and bool(attributes["title"]), f"{where}: title")
        need(isinstance(attributes.get("description", ""), str), f"{where}: description a string")
        need(all(isinstance(c, str) for c in attributes.get("columns", [])), f"{where}: columns strings")
        sort = attributes.get("sort", [])
        need(all(isinstance(p, list) and len(p) == 2 for p in sort), f"{where}: sort as [[field, dir]]")
        meta = attributes.get("kibanaSavedObjectMeta", {})
        need(set(meta) == {"searchSourceJSON"}, f"{where}: kibanaSavedObjectMeta holds searchSourceJSON")
        try:
            source = json.loads(meta.get("searchSourceJSON", ""))
        except ValueError:
            problems.append(f"{where}: searchSourceJSON is not JSON")
            continue
        query = source.get("query")
        # A query without "language" is a legacy one: Kibana wraps the whole object as a Lucene query string.
        need(
            isinstance(query, dict)
            and set(query) == {"query", "language"}
            and isinstance(query["query"], str)
            and query["language"] in {"kuery", "lucene"},
            f"{where}: query as {{query: string, language}}",
        )
        need(source.get("filter", []) == [], f"{where}: no filters")
        need("index" not in source, f"{where}: a legacy inline index (migrated into a second reference)")
        ref_names = {r["name"] for r in references}
        need(source.get("indexRefName") in ref_names, f"{where}: indexRefName names one of its references")
    return problems


def saved_objects(rules: Any) -> tuple[ConversionResults, list[dict[str, Any]]]:
    results = convert(rules, target="lucene", format="kibana_ndjson", collect_errors=True)
    text = results.batch_text("lucene")
    return results, [json.loads(line) for line in text.splitlines()]


def test_elastic_kibana_saved_search_ndjson() -> None:
    """The Lucene saved search as modern Kibana's saved-object import reads it: the data view first, then
    the search, whose search source holds the query with its language and names the data view by reference."""
    results, [view, saved] = saved_objects(FOUNDING)
    query = convert(FOUNDING, target="lucene")[0].output
    assert view == {
        "id": "logs-aws.cloudtrail-*",
        "type": "index-pattern",
        "attributes": {"title": "logs-aws.cloudtrail-*", "timeFieldName": "@timestamp", "allowNoIndex": True},
        "references": [],
    }
    assert (saved["type"], saved["id"]) == ("search", "97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d")
    assert saved["attributes"]["title"] == "AWS Attached Malicious Lambda Layer"
    assert saved["attributes"]["sort"] == [["@timestamp", "desc"]]
    assert json.loads(saved["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]) == {
        "query": {"query": query, "language": "lucene"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    assert saved["references"] == [
        {
            "id": "logs-aws.cloudtrail-*",
            "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
            "type": "index-pattern",
        }
    ]
    assert kibana_saved_object_problems([view, saved]) == []
    # The per-rule output is the same self-contained file: the data view and the rule's search.
    assert results[0].output == [view, saved]


def test_elastic_kibana_ndjson_batch_validates() -> None:
    sources: list[Any] = [RULES]
    if SIGMAHQ_AWS.is_dir():
        sources.append(SIGMAHQ_AWS)
    results, objects = saved_objects(sources)
    assert kibana_saved_object_problems(objects) == []
    # One data view, before every search; one search per converted rule, in the order of the results.
    assert [o["type"] for o in objects] == ["index-pattern"] + ["search"] * sum(r.ok for r in results)
    per_rule = [r.output[1] for r in results if r.ok]
    assert [{**o, "id": ""} for o in objects[1:]] == [{**o, "id": ""} for o in per_rule]
    # Ids stay unique: SigmaHQ's copy of the founding rule shares its Sigma id, and is numbered.
    ids = [o["id"] for o in objects[1:]]
    assert len(set(ids)) == len(ids) and set(ids) >= {r.id for r in results if r.ok}
    if SIGMAHQ_AWS.is_dir():
        assert "97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d-2" in ids
        assert len(per_rule) >= 10


def test_elastic_kibana_ndjson_rule_without_id() -> None:
    _, [_, first] = saved_objects(rule_yaml(rule_id=None, description=None))
    _, [_, again] = saved_objects(rule_yaml(rule_id=None, description=None))
    assert first["id"] == again["id"] and _UUID.match(first["id"])
    assert first["attributes"]["description"] == ""


def test_elastic_kibana_ndjson_validator_catches_the_stock_format() -> None:
    """The validator refuses what pySigma's stock format writes (a legacy query object, an inline index,
    a reference to a data view that the file lacks)."""
    stock = {
        "id": "x",
        "type": "search",
        "attributes": {
            "title": "SIGMA - t",
            "description": None,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps(
                    {"index": "beats-*", "filter": [], "query": {"query_string": {"query": "a:b"}}}
                )
            },
        },
        "references": [
            {"id": "beats-*", "name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern"}
        ],
    }
    assert kibana_saved_object_problems([stock]) == [
        "search 'x': reference kibanaSavedObjectMeta.searchSourceJSON.index not in the file",
        "search 'x': description a string",
        "search 'x': query as {query: string, language}",
        "search 'x': a legacy inline index (migrated into a second reference)",
        "search 'x': indexRefName names one of its references",
    ]


# ------------------------------------------------------------------------------------------------------
# CloudWatch: query definitions and one CloudFormation template for a batch


def _logs_input_shape(operation: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("logs").operation_model(operation).input_shape


def test_cloudwatch_query_definition_batch_validates() -> None:
    from botocore.validate import ParamValidator

    results = convert(
        RULES, target="cloudwatch", format="query_definition", options={"log_group": "CloudTrail/logs"}
    )
    batch = results.batch_outputs["cloudwatch"]
    assert len(batch) == len(results) == 2
    shape = _logs_input_shape("PutQueryDefinition")
    for text, result in zip(batch, results, strict=True):
        params = json.loads(text)
        assert params == json.loads(result.output)
        assert params["logGroupNames"] == ["CloudTrail/logs"]
        report = ParamValidator().validate(params, shape)
        assert not report.has_errors(), report.generate_report()


def test_cloudwatch_cloudformation_batch_is_one_template() -> None:
    from botocore.validate import ParamValidator

    sources: list[Any] = [RULES]
    if SIGMAHQ_AWS.is_dir():
        sources.append(SIGMAHQ_AWS)
    results = convert(
        sources, target="cloudwatch", format="cloudformation", options={"log_group": "g"}, collect_errors=True
    )
    template = json.loads(results.batch_text("cloudwatch"))
    assert set(template) == {"AWSTemplateFormatVersion", "Description", "Resources"}
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    resources = template["Resources"]
    assert len(resources) == sum(r.ok for r in results)
    shape = _logs_input_shape("PutQueryDefinition")
    for logical_id, resource in resources.items():
        # Logical ids: alphanumeric, at most 255 characters (CloudFormation "Resources" section).
        assert re.fullmatch(r"[A-Za-z0-9]{1,255}", logical_id), logical_id
        assert resource["Type"] == "AWS::Logs::QueryDefinition"
        assert set(resource["Properties"]) <= {"Name", "QueryString", "LogGroupNames"}
        params = {k[0].lower() + k[1:]: v for k, v in resource["Properties"].items()}
        report = ParamValidator().validate(params, shape)
        assert not report.has_errors(), report.generate_report()
