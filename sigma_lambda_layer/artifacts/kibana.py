"""Kibana artifacts of the three Elastic targets: detection rules (rule import) and saved objects (Discover).

* Detection rules: :func:`detection_rule` builds the rule-import form of every Elastic target, from the rule
  and the backend options it checks (:data:`RULE_OPTIONS`, :func:`check_rule_options`); :func:`title_rule_id`
  is the stable id of a rule without one (also the id of a Lucene saved search).
* Saved objects (Lucene's ``kibana_ndjson``): :func:`saved_search` per rule, :func:`saved_objects` for the
  import file with each :func:`data_view` once.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from sigma.rule import SigmaRule

from sigma_lambda_layer.dialect import BackendOption, truthy, validate, whole_number

# ----------------------------------------------------------------- Kibana detection rules

#: Sigma level -> (Kibana ``severity``, ``risk_score``). Kibana's rule schema (``Severity`` and ``RiskScore`` in
#: ``common_attributes.schema.yaml`` of the detection-engine API) allows low/medium/high/critical and scores
#: 0-21 low, 22-47 medium, 48-73 high, 74-100 critical; each level takes the top of its band, as Elastic's
#: own rules do (low 21, medium 47, high 73, critical 99), and ``informational``, which Kibana lacks, is
#: ``low`` with the lowest score. A rule without a level is treated as ``low``.
ELASTIC_SEVERITY: Final[dict[str, tuple[str, int]]] = {
    "informational": ("low", 1),
    "low": ("low", 21),
    "medium": ("medium", 47),
    "high": ("high", 73),
    "critical": ("critical", 99),
}
#: Defaults of the detection-rule schedule (backend options ``rule_interval``, ``rule_from``,
#: ``timestamp_override``). CloudTrail reaches Elasticsearch minutes after the API call, so, like Elastic's
#: prebuilt CloudTrail rules, rules select events by ingest time (``event.ingested``) over a window one
#: minute longer than the interval: every event is seen by one run at least, whatever its delivery delay.
RULE_DEFAULTS: Final[dict[str, str]] = {
    "rule_interval": "5m",
    "rule_from": "now-6m",
    "timestamp_override": "event.ingested",
}
#: Kibana date-math pieces accepted for the schedule options: ``5m``, ``now-6m`` (RuleInterval, RuleIntervalFrom).
_INTERVAL: Final[re.Pattern[str]] = re.compile(r"^[1-9][0-9]*[smhd]$")
_FROM: Final[re.Pattern[str]] = re.compile(r"^now-[1-9][0-9]*[smhd]$")
#: ``--option`` names, defaults and checks of the detection-rule formats (Kibana's rule schema), declared on
#: the backends through :class:`~sigma_lambda_layer.backends._elastic.DetectionRuleFormats`'s ``options``.
RULE_OPTIONS: Final[tuple[BackendOption, ...]] = (
    BackendOption(
        "rule_interval",
        "detection rules: how often the rule runs (interval)",
        RULE_DEFAULTS["rule_interval"],
        lambda v: _INTERVAL.match(v) is not None,
        "rule_interval like 5m, rule_from like now-6m (units s, m, h, d)",
        "detection-rule schedule",
    ),
    BackendOption(
        "rule_from",
        "detection rules: start of the searched window (from)",
        RULE_DEFAULTS["rule_from"],
        lambda v: _FROM.match(v) is not None,
        "rule_interval like 5m, rule_from like now-6m (units s, m, h, d)",
        "detection-rule schedule",
    ),
    BackendOption(
        "timestamp_override",
        "detection rules: the time field events are selected by (none: @timestamp)",
        RULE_DEFAULTS["timestamp_override"],
    ),
    BackendOption("enabled", "detection rules: enabled on import", "true"),
    BackendOption("license", "detection rules: licence of rules that name none", "DRL-1.1"),
    BackendOption(
        "max_signals",
        "detection rules: most alerts per run",
        "100",
        whole_number(1),
        "a whole number >= 1",
        "detection-rule",
    ),
)


def _option(options: dict[str, Any], name: str) -> str:
    value = options.get(name)
    return RULE_DEFAULTS[name] if value is None else str(value)


def check_rule_options(options: dict[str, Any]) -> None:
    """Refuse detection-rule options Kibana would reject, before any rule is converted."""
    validate(RULE_OPTIONS, options)


def detection_rule(
    rule: Any, *, rule_type: str, language: str, query: str, index: list[str] | None, options: dict[str, Any]
) -> dict[str, Any]:
    """A Kibana detection rule, as the rule-import API (``POST /api/detection_engine/rules/_import``) reads one
    NDJSON line: ``RuleToImport`` in Kibana's ``rule_to_import.ts``, i.e. the create-rule fields of
    ``rule_schemas.schema.yaml`` with ``rule_id`` required.

    ``rule_id`` is the Sigma id, so re-importing with ``overwrite=true`` updates the rule in place. No ``id``
    (it must be a Kibana object UUID and import ignores it) and no ``immutable``/``output_index`` (deprecated).
    ``index`` is left out for ES|QL, whose query names its own source (the schema: "not supported for ES|QL
    rules"). Backend options: ``rule_interval``, ``rule_from``, ``timestamp_override`` (``none`` drops it),
    ``enabled`` (default true), ``license`` (for rules without one; default ``DRL-1.1``, SigmaHQ's licence),
    ``max_signals`` (default 100).
    """
    from sigma_lambda_layer.attack import threat_entries

    check_rule_options(options)
    interval, start = _option(options, "rule_interval"), _option(options, "rule_from")
    level = rule.level.name.lower() if rule.level is not None else "low"
    severity, risk_score = ELASTIC_SEVERITY[level]
    title = str(rule.title)
    description = (rule.description or "").strip() or title
    authors = [a.strip() for a in re.split(r",|\band\b", rule.author or "") if a.strip()]
    out: dict[str, Any] = {
        "rule_id": str(rule.id) if rule.id is not None else title_rule_id(title),
        "name": title,
        "description": description,
        "type": rule_type,
        "language": language,
        "query": query,
    }
    if index is not None:
        out["index"] = list(index)
    out.update(
        {
            "severity": severity,
            "risk_score": risk_score,
            "enabled": truthy(options.get("enabled", True)),
            "interval": interval,
            "from": start,
            "to": "now",
            "author": authors,
            "license": str(getattr(rule, "license", None) or options.get("license") or "DRL-1.1"),
            "references": [str(r) for r in rule.references],
            "false_positives": [str(f) for f in rule.falsepositives],
            "tags": ["Sigma", *(f"{t.namespace}.{t.name}" for t in rule.tags)],
            "threat": threat_entries(rule.tags),
            "max_signals": int(options.get("max_signals", 100)),
            "version": 1,
            "setup": "Requires CloudTrail events from Elastic's AWS integration (data stream logs-aws.cloudtrail-*).",
        }
    )
    if (override := _option(options, "timestamp_override")) != "none":
        out["timestamp_override"] = override
    if rule_type != "esql":
        out["filters"] = []
    return out


def title_rule_id(title: str) -> str:
    """A stable ``rule_id`` for a Sigma rule without an id (Kibana requires one on import)."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sigma-lambda:" + title))


# ----------------------------------------------------------------- Kibana saved objects

#: The reference name under which a saved search names its data view (Kibana ``extractReferences`` in
#: ``data/common/search/search_source/extract_references.ts``; ``injectReferences`` resolves it on load).
SEARCH_INDEX_REF: Final = "kibanaSavedObjectMeta.searchSourceJSON.index"


def data_view(pattern: str) -> dict[str, Any]:
    """The ``index-pattern`` saved object (a data view) over ``pattern``.

    Its id is the pattern itself, as Fleet names the data views it installs (``logs-*``, ``metrics-*``):
    stable across runs and batches, so importing again with overwrite replaces it instead of adding a copy.
    ``timeFieldName`` ``@timestamp`` is the integration's event time; ``allowNoIndex`` lets the data view load
    before any CloudTrail data has arrived (Fleet sets it on its data views for the same reason).
    """
    return {
        "id": pattern,
        "type": "index-pattern",
        "attributes": {"title": pattern, "timeFieldName": "@timestamp", "allowNoIndex": True},
        "references": [],
    }


def saved_search(rule: SigmaRule, query: str, index: list[str]) -> dict[str, Any]:
    """A Kibana saved search (saved object ``type: search``) holding a Lucene query.

    The search source is the serialized form Kibana stores since 7.0: the query as ``{query, language}`` (a
    bare ``query_string`` object is a legacy query to Kibana, whose ``migrateLegacyQuery`` makes the whole
    object the query text), no filters, and the data view named by ``indexRefName`` through a reference
    (the search migration ``migrateDataView`` moves a legacy inline ``index`` there; written this way, every
    migration run on import leaves the object as it is). The attributes are those of the ``search`` type's
    schema (``saved_search/server/saved_objects/schema_legacy.ts``, ``SCHEMA_SEARCH_BASE``), which Kibana 9
    turns into a one-tab Discover session on import. Several index patterns make one comma-separated data
    view.
    """
    title = str(rule.title)
    source = {
        "query": {"query": query, "language": "lucene"},
        "filter": [],
        "indexRefName": SEARCH_INDEX_REF,
    }
    return {
        "id": str(rule.id) if rule.id is not None else title_rule_id(title),
        "type": "search",
        "attributes": {
            "title": title,
            "description": (rule.description or "").strip(),
            "columns": [],
            "sort": [["@timestamp", "desc"]],
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source, ensure_ascii=False)},
        },
        "references": [{"id": ",".join(index), "name": SEARCH_INDEX_REF, "type": "index-pattern"}],
    }


def saved_objects(searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The import file: each data view the searches read, once, then the searches (Kibana's own export
    order: referenced objects first). Every file imports on its own, without a missing-reference stop.

    Saved objects are keyed by type and id, so a rule whose Sigma id an earlier rule of the batch already
    has (a copy of a rule, say) gets ``<id>-2``, ``<id>-3``, ...: it would otherwise replace the other.
    """
    views: dict[str, dict[str, Any]] = {}
    unique_searches: list[dict[str, Any]] = []
    ids: set[str] = set()
    for search in searches:
        for ref in search["references"]:
            views.setdefault(ref["id"], data_view(ref["id"]))
        unique, n = search["id"], 1
        while unique in ids:
            n += 1
            unique = f"{search['id']}-{n}"
        ids.add(unique)
        unique_searches.append(search if unique == search["id"] else {**search, "id": unique})
    return [*views.values(), *unique_searches]
