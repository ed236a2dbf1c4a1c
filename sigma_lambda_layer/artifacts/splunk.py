"""Splunk savedsearches.conf: one scheduled alert per rule, from the rule's metadata and the finished SPL.

The backend (:mod:`sigma_lambda_layer.backends.splunk`) builds the search; this module writes what Splunk
reads around it: the stanza (:func:`savedsearch`), the options it takes (:data:`SAVEDSEARCH_OPTIONS`, with
the checks across options in :func:`savedsearch_options`), and the file (:func:`savedsearches_conf`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from sigma.rule import SigmaRule

from sigma_lambda_layer.dialect import BackendOption, matching, one_line, one_of, truthy, whole_number
from sigma_lambda_layer.errors import UsageError, unsupported

#: Sigma level -> ``alert.severity`` (savedsearches.conf.spec: 1-debug, 2-info, 3-warn, 4-error, 5-severe,
#: 6-fatal). A rule without a level alerts as ``low``.
ALERT_SEVERITY: Final[dict[str, int]] = {
    "informational": 2,
    "low": 3,
    "medium": 4,
    "high": 5,
    "critical": 6,
}
#: Defaults of the savedsearches options (backend option -> value). A 15-minute schedule over the 15
#: minutes that ended 5 minutes ago: consecutive runs cover contiguous windows, and events (timestamped
#: with CloudTrail's eventTime) get 5 minutes to arrive, as CloudTrail delivers within about 5 minutes.
SAVEDSEARCH_DEFAULTS: Final[dict[str, str]] = {
    "cron_schedule": "*/15 * * * *",
    "earliest_time": "-20m@m",
    "latest_time": "-5m@m",
    "enable_sched": "1",
    "alert_type": "number of events",
    "alert_relation": "greater than",
    "alert_threshold": "0",
    "digest_mode": "1",
    "track": "1",
    "app": "search",
}
#: savedsearches.conf.spec values of ``counttype`` and ``relation``.
_COUNTTYPES: Final[frozenset[str]] = frozenset(
    {"number of events", "number of hosts", "number of sources", "always"}
)
_RELATIONS: Final[frozenset[str]] = frozenset(
    {"greater than", "less than", "equal to", "not equal to", "drops by", "rises by"}
)
_CRON_FIELD: Final[re.Pattern[str]] = re.compile(r"^[0-9*/,\-]+$")
_TIME_SPEC: Final[re.Pattern[str]] = re.compile(
    r"^(?:now|[+-]?[0-9]*[A-Za-z]*(?:@[A-Za-z0-9]+)?|rt[-+A-Za-z0-9@]*|[0-9]+)$"
)
_DURATION: Final[re.Pattern[str]] = re.compile(r"^[0-9]+[smhd]?$")
_ACTION_NAME: Final[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9_]+$")
_ACTION_KEY: Final[re.Pattern[str]] = re.compile(r"^action\.([A-Za-z0-9_]+)\.[A-Za-z0-9_.]+$")
_STANZA_UNSAFE: Final[re.Pattern[str]] = re.compile(r"[\x00-\x1f\x7f]+")
#: The words before "option" in a savedsearches option error.
_SAVED: Final = "Splunk savedsearches"


#: The savedsearches backend options, declared on the backend class through its ``options``
#: (:class:`~sigma_lambda_layer.backends.splunk.CloudTrailSplunkBackend`): names, defaults and checks following
#: savedsearches.conf.spec, so that a bad value is a usage error rather than a file Splunk reads differently.
#: The checks that span several options are :func:`savedsearch_options`'s.
SAVEDSEARCH_OPTIONS: Final[tuple[BackendOption, ...]] = tuple(
    BackendOption(name, doc, SAVEDSEARCH_DEFAULTS.get(name), one_line(check), expected, _SAVED)
    for name, doc, check, expected in (
        (
            "cron_schedule",
            "savedsearches: when the alert runs (cron)",
            lambda v: len(v.split()) == 5 and all(_CRON_FIELD.match(f) for f in v.split()),
            'five cron fields of digits, "*", "/", ",", "-", e.g. "*/15 * * * *"',
        ),
        (
            "earliest_time",
            "savedsearches: start of the searched window",
            matching(_TIME_SPEC.pattern),
            "a Splunk time modifier such as -20m@m, -1h or now",
        ),
        (
            "latest_time",
            "savedsearches: end of the searched window",
            matching(_TIME_SPEC.pattern),
            "a Splunk time modifier such as -20m@m, -1h or now",
        ),
        (
            "enable_sched",
            "savedsearches: schedule the alert (enableSched)",
            one_of("0", "1"),
            "0 or 1",
        ),
        (
            "alert_type",
            "savedsearches: what is counted (counttype)",
            one_of(*_COUNTTYPES),
            ", ".join(sorted(_COUNTTYPES)),
        ),
        (
            "alert_relation",
            "savedsearches: how the count is compared (relation)",
            one_of(*_RELATIONS),
            ", ".join(sorted(_RELATIONS)),
        ),
        (
            "alert_threshold",
            "savedsearches: the count compared (quantity)",
            whole_number(),
            "a whole number",
        ),
        (
            "alert_severity",
            "savedsearches: alert.severity (default: from the rule's level)",
            lambda v: v in {"", "1", "2", "3", "4", "5", "6"},
            "1-debug, 2-info, 3-warn, 4-error, 5-severe, 6-fatal",
        ),
        (
            "digest_mode",
            "savedsearches: one alert per run (1) or per result (0)",
            one_of("0", "1"),
            "0 or 1",
        ),
        ("track", "savedsearches: list triggered alerts (alert.track)", one_of("0", "1"), "0 or 1"),
        (
            "suppress",
            "savedsearches: throttle period (alert.suppress.period)",
            lambda v: v == "" or _DURATION.match(v) is not None,
            "a period such as 1h or 30m",
        ),
        (
            "suppress_fields",
            "savedsearches: fields the throttle is per (alert.suppress.fields)",
            None,
            "",
        ),
        (
            "actions",
            "savedsearches: comma-separated alert actions",
            lambda v: all(_ACTION_NAME.match(a) for a in v.split(",") if a),
            "comma-separated action names such as email,webhook",
        ),
        (
            "action.",
            "savedsearches: settings action.NAME.PARAMETER of an action listed in actions",
            matching(r".*"),
            "",
        ),
        (
            "correlation_search",
            "savedsearches: mark as an Enterprise Security correlation search (1/true)",
            None,
            "",
        ),
        (
            "app",
            "savedsearches: app context (request.ui_dispatch_app)",
            lambda v: _ACTION_NAME.match(v) is not None,
            "a Splunk app directory name",
        ),
    )
)


def _conf_value(key: str, value: str) -> str:
    """``key = value`` for a .conf file, a multi-line value continued with a trailing backslash per line.

    Splunk .conf values end at the line end unless the line ends with ``\\`` (the continuation the spec's
    multi-line ``search`` relies on), so every line but the last gets one and no line of the value can start
    a new key or stanza. A line of the value that itself ends with backslashes would read as a
    continuation of its own: those are dropped from free text (description) by :func:`_text`.
    """
    lines = value.split("\n")
    return f"{key} = " + " \\\n".join(lines)


def _text(value: str) -> str:
    """Free text (description) made safe for :func:`_conf_value`: ``\\r`` and other control characters but
    the newline removed, trailing whitespace and backslashes cut from each line, empty lines kept as one space
    (an empty continued line would end the value in some parsers)."""
    lines = []
    for line in value.replace("\r\n", "\n").split("\n"):
        line = _STANZA_UNSAFE.sub(" ", line).rstrip().rstrip("\\").rstrip()
        lines.append(line or " ")
    while lines and lines[-1] == " ":
        lines.pop()
    return "\n".join(lines)


def stanza_name(title: str) -> str:
    """A savedsearches.conf stanza name for ``title``: ``[``/``]`` become ``(``/``)`` (a ``]`` would end the
    header early), control characters become spaces, and the name is never empty."""
    name = _STANZA_UNSAFE.sub(" ", title).replace("[", "(").replace("]", ")").strip()
    return name or "Sigma rule"


def savedsearch(rule: SigmaRule, spl: str, opts: dict[str, str]) -> dict[str, Any]:
    """One scheduled alert for the finished search ``spl``: the stanza's name and settings, as JSON-able data
    (results are cached as JSON); :func:`savedsearches_conf` writes the file, so that stanza names are unique
    in a batch. ``opts`` are the checked options of :func:`savedsearch_options`."""
    if "\n" in spl or spl.rstrip().endswith("\\"):
        unsupported(
            "the search would span lines in savedsearches.conf (a newline or a trailing backslash)",
            construct="query",
        )
    level = rule.level.name.lower() if rule.level is not None else "low"
    settings: list[tuple[str, str]] = [
        ("description", _text(_description(rule))),
        ("search", spl),
        ("enableSched", opts["enable_sched"]),
        ("cron_schedule", opts["cron_schedule"]),
        ("dispatch.earliest_time", opts["earliest_time"]),
        ("dispatch.latest_time", opts["latest_time"]),
        ("counttype", opts["alert_type"]),
    ]
    if opts["alert_type"] != "always":  # the spec: with "always", set neither relation nor quantity
        settings += [("relation", opts["alert_relation"]), ("quantity", opts["alert_threshold"])]
    settings += [
        ("alert.severity", opts.get("alert_severity") or str(ALERT_SEVERITY[level])),
        ("alert.digest_mode", opts["digest_mode"]),
        ("alert.track", opts["track"]),
    ]
    if period := opts.get("suppress"):
        settings += [("alert.suppress", "1"), ("alert.suppress.period", period)]
        if fields := opts.get("suppress_fields"):
            settings.append(("alert.suppress.fields", fields))
    else:
        settings.append(("alert.suppress", "0"))
    for action in filter(None, opts.get("actions", "").split(",")):
        settings.append((f"action.{action}", "1"))
    settings += sorted((k, v) for k, v in opts.items() if k.startswith("action."))
    techniques = sorted(
        {t.name.upper() for t in rule.tags if t.namespace == "attack" and _is_technique(t.name)}
    )
    if techniques:
        # Enterprise Security reads a correlation search's ATT&CK annotations from this key (a JSON
        # object); the spec's generic ``action.<action_name>.<parameter>`` covers it elsewhere.
        settings.append(("action.correlationsearch.annotations", json.dumps({"mitre_attack": techniques})))
    if truthy(opts.get("correlation_search", "0")):
        settings += [
            ("action.correlationsearch.enabled", "1"),
            ("action.correlationsearch.label", _text(str(rule.title)).replace("\n", " ")),
        ]
    settings.append(("request.ui_dispatch_app", opts["app"]))
    return {
        "name": stanza_name(str(rule.title)),
        "id": str(rule.id) if rule.id is not None else None,
        "settings": [list(kv) for kv in settings],
    }


def savedsearches_conf(queries: list[dict[str, Any]]) -> str:
    """The whole savedsearches.conf: a header comment, then one stanza per rule.

    Each stanza carries every setting (no ``[default]`` stanza, which would change every other saved
    search of the app). Stanza names must be unique in a file; a repeated title gets the rule id (or a
    number) appended, so that one rule's settings never merge into another's.
    """
    seen: set[str] = set()
    out = [
        "# savedsearches.conf generated by sigma-lambda from Sigma rules (AWS CloudTrail, Splunk Add-on for AWS).",
        "# Place in $SPLUNK_HOME/etc/apps/<app>/local/savedsearches.conf; see docs/artifacts.md.",
    ]
    for query in queries:
        name = str(query["name"])
        if name in seen:
            name = f"{name} ({query['id']})" if query.get("id") else name
            number = 2
            base = name
            while name in seen:
                name, number = f"{base} ({number})", number + 1
        seen.add(name)
        out.append("")
        out.append(f"[{name}]")
        out.extend(_conf_value(str(k), str(v)) for k, v in query["settings"])
    return "\n".join(out) + "\n"


def _is_technique(name: str) -> bool:
    return re.fullmatch(r"t\d{4}(\.\d{3})?", name, re.IGNORECASE) is not None


def _description(rule: SigmaRule) -> str:
    """The stanza's description: the rule's, then its Sigma metadata (id, level, status, ATT&CK tags,
    references, known false positives), which Splunk otherwise has no field for."""
    parts = [(rule.description or "").strip() or str(rule.title)]
    meta = [
        f"Sigma rule id: {rule.id}" if rule.id is not None else None,
        f"Level: {rule.level.name.lower()}" if rule.level is not None else None,
        f"Status: {rule.status.name.lower()}" if rule.status is not None else None,
        "ATT&CK: " + ", ".join(f"{t.namespace}.{t.name}" for t in rule.tags if t.namespace == "attack")
        if any(t.namespace == "attack" for t in rule.tags)
        else None,
    ]
    parts += [m for m in meta if m]
    if rule.references:
        parts += ["References:", *(f"- {r}" for r in rule.references)]
    if rule.falsepositives:
        parts += ["False positives:", *(f"- {f}" for f in rule.falsepositives)]
    return "\n".join(parts)


def savedsearch_options(options: dict[str, Any]) -> dict[str, str]:
    """The savedsearches backend options, defaults filled in, and the checks that span several options
    (each option's own check is on its declaration, :attr:`CloudTrailSplunkBackend.options`)."""
    opts = {**SAVEDSEARCH_DEFAULTS, **{k: str(v) for k, v in options.items() if v is not None}}

    def bad(name: str, hint: str) -> UsageError:
        return UsageError(f"invalid {_SAVED} option {name}={opts[name]!r}", hint=hint)

    if opts["digest_mode"] == "0" and opts.get("suppress") and not opts.get("suppress_fields"):
        raise bad("suppress", "per-result suppression (digest_mode=0) needs suppress_fields (the spec)")
    actions = [a for a in opts.get("actions", "").split(",") if a]
    for name in opts:
        if name.startswith("action."):
            m = _ACTION_KEY.match(name)
            if m is None or m.group(1) not in actions:
                raise bad(name, "action.<name>.<parameter>, with <name> listed in the actions option")
    return opts
