"""One CloudTrail record as Elastic's AWS integration stores it: a ``logs-aws.cloudtrail-*`` ``_source``.

This follows the integration's ingest pipeline step by step (elastic/integrations
``packages/aws/data_stream/cloudtrail/elasticsearch/ingest_pipeline/default.yml`` @
bf3be6b2ca0eb305677128e9db73c75536000433), so that the Lucene harness and ``sigma-lambda test`` run queries on
the document Elasticsearch would hold, not on the raw record:

- null and empty values (``""``, ``{}``, ``[]``) are dropped recursively before anything else;
- fields are renamed as in :mod:`sigma_lambda_layer.fields.elastic`; raw keys the pipeline does not rename
  are gone (the ``json`` scratch object is removed at the end);
- ``source.address`` always holds ``sourceIPAddress``; ``source.ip`` only when that is an IP address (grok
  ``^%{IP}$``);
- ``requestParameters`` and friends become both a Java ``Map.toString()`` string (``{k=v, k2=[a, b]}``, keys
  in ``java.util.HashMap`` iteration order, because the ``json`` processor parses objects into HashMaps) and
  a ``flattened`` object (only when the string is shorter than 32766 characters);
- ``resources[]`` keys are renamed (``ARN`` -> ``arn``, ``accountId`` -> ``account_id``), duplicates dropped;
- ``user.name`` is ``userIdentity.userName``, overwritten by ``sessionContext.sessionIssuer.userName``;
- ``event.outcome`` is ``failure`` when an error code or message is present, else ``success`` (for
  ``ConsoleLogin``: the lower-cased ``responseElements.ConsoleLogin``).

Not reproduced, because no query of ours reads them: GeoIP/ASN enrichment, the parsed ``user_agent.*``
sub-fields, ``event.created`` (ingest time), ``event.category``/``event.type`` for the fixed list of IAM
actions, and the digest-file fields.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Final

from sigma_lambda_layer.fields.elastic import DATASET, ELASTIC_TYPES, ElasticType
from sigma_lambda_layer.fields.elastic import field_type as _field_type

#: Elastic field -> mapping type, for the Lucene harness (keyword, ip, date, boolean, flattened roots, text
#: multi-fields). The same table the backends read.
ELASTIC_FIELD_TYPES: Final[dict[str, ElasticType]] = dict(ELASTIC_TYPES)

#: The painless script keeps the flattened copy only below this length of the Map.toString() string.
FLATTENED_MAX_STRING: Final = 32766


def field_type(path: str) -> str:
    """Mapping type of an Elastic field path; keyed sub-fields of a flattened field report ``flattened``."""
    return _field_type(path)


# --- Java semantics the pipeline inherits ------------------------------------------------------------------


def _java_string_hash(s: str) -> int:
    """``String.hashCode()``: over UTF-16 code units, 32-bit signed arithmetic."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h


def _hashmap_order(keys: list[str], original_size: int) -> list[str]:
    """Iteration order of a ``java.util.HashMap`` filled with ``original_size`` keys in order, of which
    ``keys`` remain (removal never shrinks the table): bucket index, then insertion order."""
    capacity = 16
    while original_size > capacity * 0.75:
        capacity *= 2

    def bucket(k: str) -> int:
        h = _java_string_hash(k)
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)  # sorted() is stable: insertion order within a bucket


def _java_double(d: float) -> str:
    """``Double.toString``: plain decimal in [1e-3, 1e7), else scientific notation such as ``1.0E7``."""
    if math.isnan(d) or math.isinf(d):
        return "NaN" if math.isnan(d) else ("Infinity" if d > 0 else "-Infinity")
    if d == 0 or 1e-3 <= abs(d) < 1e7:
        return repr(d)  # shortest round-trip digits; Python prints this range in plain notation too
    sign, digits, exponent = Decimal(repr(d)).normalize().as_tuple()
    text = "".join(map(str, digits))
    assert isinstance(exponent, int)
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{len(text) - 1 + exponent}"


def java_to_string(value: Any, original: Any | None = None) -> str:
    """``Object.toString()`` of a value the ``json`` processor produced (HashMap, ArrayList, boxed scalars).

    ``original`` is the value before empty entries were dropped; it fixes each HashMap's table size.
    """
    if isinstance(value, Mapping):
        orig = original if isinstance(original, Mapping) else value
        keys = _hashmap_order(list(value), len(orig))
        return "{" + ", ".join(f"{k}={java_to_string(value[k], orig.get(k))}" for k in keys) + "}"
    if isinstance(value, list):
        origs = _surviving_originals(original, value)
        return "[" + ", ".join(java_to_string(v, o) for v, o in zip(value, origs, strict=True)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    return str(value)


def _surviving_originals(original: Any, cleaned: list[Any]) -> list[Any]:
    """The original list elements that survived :func:`drop_empty`, aligned with ``cleaned``."""
    if not isinstance(original, list):
        return list(cleaned)
    survivors = [o for o in original if drop_empty(o) is not _DROPPED]
    return survivors if len(survivors) == len(cleaned) else list(cleaned)


_DROPPED: Final = object()


def drop_empty(value: Any) -> Any:
    """The painless "Drops null/empty values recursively" script: ``None``, ``""``, and maps or lists that
    end up empty disappear. Returns ``_DROPPED`` for a value that is itself dropped."""
    if value is None or value == "":
        return _DROPPED
    if isinstance(value, Mapping):
        out = {k: c for k, v in value.items() if (c := drop_empty(v)) is not _DROPPED}
        return out if out else _DROPPED
    if isinstance(value, list):
        items = [c for v in value if (c := drop_empty(v)) is not _DROPPED]
        return items if items else _DROPPED
    return value


def _es_date(text: Any) -> str | None:
    """The ``date`` processor with format ISO8601, written back in its default output format."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    parsed = parsed.astimezone(timezone.utc)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def _is_ip(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# --- the document -------------------------------------------------------------------------------------------


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    node = doc
    *parents, leaf = path.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value


def _get(obj: Any, path: str) -> Any:
    for p in path.split("."):
        if not isinstance(obj, Mapping) or p not in obj:
            return None
        obj = obj[p]
    return obj


_RENAMES: Final[tuple[tuple[str, str], ...]] = (
    # (raw path, document path), in default.yml order; each is a rename with ignore_failure.
    ("eventVersion", "aws.cloudtrail.event_version"),
    ("userIdentity.type", "aws.cloudtrail.user_identity.type"),
    ("userIdentity.userName", "user.name"),
    ("userIdentity.principalId", "user.id"),
    ("userIdentity.arn", "aws.cloudtrail.user_identity.arn"),
    ("userIdentity.accountId", "cloud.account.id"),
    ("userIdentity.accessKeyId", "aws.cloudtrail.user_identity.access_key_id"),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.type",
        "aws.cloudtrail.user_identity.session_context.session_issuer.type",
    ),
    ("userIdentity.sessionContext.sessionIssuer.userName", "user.name"),
    (
        "userIdentity.sessionContext.sessionIssuer.principalId",
        "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.arn",
        "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.accountId",
        "aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
    ),
    ("userIdentity.invokedBy", "aws.cloudtrail.user_identity.invoked_by"),
    ("eventSource", "event.provider"),
    ("eventCategory", "aws.cloudtrail.event_category"),
    ("sourceIPAddress", "source.address"),
    ("userAgent", "user_agent.original"),
    ("errorCode", "aws.cloudtrail.error_code"),
    ("errorMessage", "aws.cloudtrail.error_message"),
    ("requestID", "aws.cloudtrail.request_id"),
    ("eventID", "event.id"),
    ("eventType", "aws.cloudtrail.event_type"),
    ("apiVersion", "aws.cloudtrail.api_version"),
    ("managementEvent", "aws.cloudtrail.management_event"),
    ("readOnly", "aws.cloudtrail.read_only"),
    ("recipientAccountId", "aws.cloudtrail.recipient_account_id"),
    ("sharedEventId", "aws.cloudtrail.shared_event_id"),  # sic: CloudTrail spells it sharedEventID
    ("vpcEndpointId", "aws.cloudtrail.vpc_endpoint_id"),
    ("tlsDetails.cipherSuite", "tls.cipher"),
    ("tlsDetails.clientProvidedHostHeader", "tls.client.server_name"),
)

_RESOURCE_KEYS: Final[dict[str, str]] = {"ARN": "arn", "accountId": "account_id"}

_SUBTREES: Final[tuple[tuple[str, str], ...]] = (
    ("requestParameters", "request_parameters"),
    ("responseElements", "response_elements"),
    ("additionalEventData", "additional_eventdata"),
    ("serviceEventDetails", "service_event_details"),
)


def _append_unique(doc: dict[str, Any], path: str, value: Any) -> None:
    if value is None:
        return
    current = _get(doc, path) or []
    if value not in current:
        _put(doc, path, [*current, value])


def elastic_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``_source`` document the integration's ingest pipeline makes of one CloudTrail record."""
    cleaned = drop_empty(dict(record))
    raw: Mapping[str, Any] = cleaned if isinstance(cleaned, Mapping) else {}
    doc: dict[str, Any] = {
        "data_stream": {"type": "logs", "dataset": DATASET, "namespace": "default"},
        "ecs": {"version": "8.11.0"},
    }
    if (ts := _es_date(raw.get("eventTime"))) is not None:
        _put(doc, "@timestamp", ts)
    _append_unique(doc, "related.user", _get(raw, "userIdentity.userName"))
    for src, dst in _RENAMES:
        if (value := _get(raw, src)) is not None:
            _put(doc, dst, value)
    if (creation := _es_date(_get(raw, "userIdentity.sessionContext.attributes.creationDate"))) is not None:
        _put(doc, "aws.cloudtrail.user_identity.session_context.creation_date", creation)
    if (name := raw.get("eventName")) is not None:
        _put(doc, "event.action", str(name))
    if (region := raw.get("awsRegion")) is not None:
        _put(doc, "cloud.region", region)
    if _is_ip(address := raw.get("sourceIPAddress")):
        _put(doc, "source.ip", address)

    for src, dst in _SUBTREES:
        if (value := raw.get(src)) is not None:
            text = java_to_string(value, record.get(src))
            _put(doc, f"aws.cloudtrail.{dst}", text)
            if len(text) < FLATTENED_MAX_STRING:
                _put(doc, f"aws.cloudtrail.flattened.{dst}", value)

    resources = raw.get("resources")
    if isinstance(resources, list):
        unique: dict[str, dict[str, Any]] = {}
        for res in resources:
            if isinstance(res, Mapping):
                renamed = {str(_RESOURCE_KEYS.get(k, k)): v for k, v in res.items()}
                key = "_".join(str(renamed.get(k, "")) for k in ("arn", "account_id", "type"))
                unique[key] = renamed
        _put(doc, "aws.cloudtrail.resources", list(unique.values()))

    flat = _get(doc, "aws.cloudtrail.flattened") or {}
    request = flat.get("request_parameters") if isinstance(flat, Mapping) else None
    response = flat.get("response_elements") if isinstance(flat, Mapping) else None
    _append_unique(doc, "related.user", _get(request, "userName"))
    _append_unique(doc, "related.user", _get(request, "newUserName"))

    if raw.get("eventName") == "ConsoleLogin":
        extra = _get(flat, "additional_eventdata") or {}
        console: dict[str, Any] = {}
        if extra.get("MobileVersion") is not None:
            console["mobile_version"] = extra["MobileVersion"] != "No"
        if extra.get("LoginTo") is not None:
            console["login_to"] = extra["LoginTo"]
        if extra.get("MFAUsed") is not None:
            console["mfa_used"] = extra["MFAUsed"] != "No"
        if console:
            _put(doc, "aws.cloudtrail.console_login.additional_eventdata", console)

    _put(doc, "event.kind", "event")
    _put(doc, "event.type", ["info"])
    failed = (
        _get(doc, "aws.cloudtrail.error_code") is not None
        or _get(doc, "aws.cloudtrail.error_message") is not None
    )
    _put(doc, "event.outcome", "failure" if failed else "success")
    if _get(doc, "event.action") == "ConsoleLogin" and _get(response, "ConsoleLogin") is not None:
        _put(doc, "event.outcome", str(_get(response, "ConsoleLogin")).lower())

    if (insight := raw.get("insightDetails")) is not None:
        _put(doc, "aws.cloudtrail.flattened.insight_details", insight)
    for src_obj, src_key, dst in (
        (response, "group.groupId", "group.id"),
        (response, "user.userId", "user.target.id"),
        (request, "newUserName", "user.changes.name"),
        (request, "groupName", "group.name"),
        (request, "userName", "user.target.name"),
    ):
        if (value := _get(src_obj, src_key)) is not None:
            _put(doc, dst, value if isinstance(value, str) else java_to_string(value))

    tls_version = _get(raw, "tlsDetails.tlsVersion")
    if isinstance(tls_version, str) and "v" in tls_version:
        protocol, _, version = tls_version.partition("v")
        _put(doc, "tls.version_protocol", protocol.lower())
        _put(doc, "tls.version", version)
    return doc
