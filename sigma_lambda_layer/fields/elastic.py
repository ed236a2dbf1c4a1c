"""CloudTrail fields as Elastic's AWS integration stores them (data stream ``logs-aws.cloudtrail-*``).

Source of truth, read from elastic/integrations:

- ``packages/aws/data_stream/cloudtrail/elasticsearch/ingest_pipeline/default.yml``
  @ bf3be6b2ca0eb305677128e9db73c75536000433 (ECS 8.11.0; the same renames at
  0046748f8cfe9a89cf2f8f7a55be5528ad4b3695): which raw key lands in which document field, and which raw keys
  are dropped with the ``json`` scratch object at the end.
- ``packages/aws/data_stream/cloudtrail/fields/fields.yml`` @ 0b97ab02df57b57303b67e48840bb75dfe5c4738: the
  ``aws.cloudtrail.*`` mapping types. ECS fields (``event.*``, ``source.*``, ``user.*``, ``cloud.*``,
  ``tls.*``, ``user_agent.*``) take their ECS 8.11 types.

The table is data: the pipeline renames with it, the backends read the Elastic types from it, and the docs
table is rendered from it (:func:`markdown_table`). A CloudTrail field that the integration drops, or stores
in a way that no longer tells it apart from another field, is listed in :data:`UNMAPPED` with the reason, so
that a rule using it fails loudly instead of matching the wrong thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from sigma_lambda_layer.fields.cloudtrail import FIXED_FIELDS, FREE_FORM

#: Elasticsearch mapping types used by the CloudTrail data stream.
ElasticType = Literal[
    "keyword", "ip", "date", "boolean", "flattened", "text", "match_only_text", "constant_keyword"
]

#: Index pattern of the integration's CloudTrail data stream.
INDEX_PATTERN: Final = "logs-aws.cloudtrail-*"
#: ``data_stream.dataset`` of that data stream (a ``constant_keyword`` in every data stream).
DATASET: Final = "aws.cloudtrail"


@dataclass(frozen=True)
class ElasticField:
    """Where one CloudTrail field lives in an Elastic document, and how it is indexed."""

    name: str
    type: ElasticType
    note: str = ""


@dataclass(frozen=True)
class ElasticSubtree:
    """A free-form CloudTrail object (``requestParameters`` ...) and its two Elastic forms.

    ``string_field`` holds the object's Java ``Map.toString()`` (``{functionName=x, layers=[arn]}``, not
    JSON), a keyword; ``flattened_field`` holds the object itself as a ``flattened`` field, whose keyed
    sub-fields (``<flattened_field>.functionName``) are case-sensitive keywords that refuse wildcard and
    regexp queries.
    ``ignore_above``: longer strings are stored but not indexed, so queries on ``string_field`` miss them.
    """

    cloudtrail: str
    string_field: str | None
    flattened_field: str
    ignore_above: int | None = None


_CT = "aws.cloudtrail"
_SC = f"{_CT}.user_identity.session_context"

#: CloudTrail field -> Elastic field, for every fixed CloudTrail field the integration keeps.
FIELD_MAP: Final[dict[str, ElasticField]] = {
    "eventVersion": ElasticField(f"{_CT}.event_version", "keyword"),
    "eventTime": ElasticField("@timestamp", "date", "parsed as ISO8601"),
    "eventSource": ElasticField("event.provider", "keyword"),
    "eventName": ElasticField(
        "event.action", "keyword", "versioned names kept (UpdateFunctionConfiguration20150331v2)"
    ),
    "awsRegion": ElasticField("cloud.region", "keyword"),
    "sourceIPAddress": ElasticField(
        "source.address",
        "keyword",
        "always the raw value; `|cidr` uses `source.ip` (set only for IP addresses)",
    ),
    "userAgent": ElasticField("user_agent.original", "keyword", "also parsed into user_agent.name/os/device"),
    "errorCode": ElasticField(f"{_CT}.error_code", "keyword"),
    "errorMessage": ElasticField(f"{_CT}.error_message", "keyword"),
    "requestID": ElasticField(f"{_CT}.request_id", "keyword"),
    "eventID": ElasticField("event.id", "keyword"),
    "eventType": ElasticField(f"{_CT}.event_type", "keyword"),
    "apiVersion": ElasticField(f"{_CT}.api_version", "keyword"),
    "managementEvent": ElasticField(f"{_CT}.management_event", "keyword", "a keyword holding `true`/`false`"),
    "readOnly": ElasticField(f"{_CT}.read_only", "boolean"),
    "recipientAccountId": ElasticField(f"{_CT}.recipient_account_id", "keyword"),
    "vpcEndpointId": ElasticField(f"{_CT}.vpc_endpoint_id", "keyword"),
    "eventCategory": ElasticField(f"{_CT}.event_category", "keyword"),
    "userIdentity.type": ElasticField(f"{_CT}.user_identity.type", "keyword"),
    "userIdentity.principalId": ElasticField("user.id", "keyword"),
    "userIdentity.arn": ElasticField(f"{_CT}.user_identity.arn", "keyword"),
    "userIdentity.accountId": ElasticField(
        "cloud.account.id", "keyword", "newer integration versions also copy recipientAccountId here"
    ),
    "userIdentity.accessKeyId": ElasticField(f"{_CT}.user_identity.access_key_id", "keyword"),
    "userIdentity.invokedBy": ElasticField(f"{_CT}.user_identity.invoked_by", "keyword"),
    "userIdentity.sessionContext.attributes.creationDate": ElasticField(f"{_SC}.creation_date", "date"),
    "userIdentity.sessionContext.attributes.mfaAuthenticated": ElasticField(
        f"{_SC}.mfa_authenticated", "keyword"
    ),
    "userIdentity.sessionContext.sessionIssuer.type": ElasticField(f"{_SC}.session_issuer.type", "keyword"),
    "userIdentity.sessionContext.sessionIssuer.principalId": ElasticField(
        f"{_SC}.session_issuer.principal_id", "keyword"
    ),
    "userIdentity.sessionContext.sessionIssuer.arn": ElasticField(f"{_SC}.session_issuer.arn", "keyword"),
    "userIdentity.sessionContext.sessionIssuer.accountId": ElasticField(
        f"{_SC}.session_issuer.account_id", "keyword"
    ),
    "tlsDetails.cipherSuite": ElasticField("tls.cipher", "keyword"),
    "tlsDetails.clientProvidedHostHeader": ElasticField("tls.client.server_name", "keyword"),
    "resources.ARN": ElasticField(
        f"{_CT}.resources.arn", "keyword", "array of objects; keys lowercased, duplicates dropped"
    ),
    "resources.accountId": ElasticField(f"{_CT}.resources.account_id", "keyword"),
    "resources.type": ElasticField(f"{_CT}.resources.type", "keyword"),
}

#: Free-form CloudTrail objects. ``requestParameters.X`` -> ``aws.cloudtrail.flattened.request_parameters.X``;
#: the bare object name -> its ``Map.toString()`` keyword field.
SUBTREES: Final[dict[str, ElasticSubtree]] = {
    s.cloudtrail: s
    for s in (
        ElasticSubtree(
            "requestParameters", f"{_CT}.request_parameters", f"{_CT}.flattened.request_parameters", 8191
        ),
        ElasticSubtree(
            "responseElements", f"{_CT}.response_elements", f"{_CT}.flattened.response_elements", 8191
        ),
        ElasticSubtree(
            "additionalEventData", f"{_CT}.additional_eventdata", f"{_CT}.flattened.additional_eventdata"
        ),
        ElasticSubtree(
            "serviceEventDetails", f"{_CT}.service_event_details", f"{_CT}.flattened.service_event_details"
        ),
        # insightDetails is renamed to the flattened field; no string form is kept.
        ElasticSubtree("insightDetails", None, f"{_CT}.flattened.insight_details"),
    )
}

#: The ``Map.toString()`` keyword fields of the free-form objects. A Sigma value never equals a whole object
#: (values are compared with scalars), so backends refuse value tests on these fields; ``null`` and
#: ``exists`` on a whole object use its flattened field (:func:`presence_field`).
OBJECT_TEXT_FIELDS: Final[frozenset[str]] = frozenset(
    s.string_field for s in SUBTREES.values() if s.string_field
)

#: ip field -> the keyword field holding the same address as raw text. Elasticsearch stores IPv4 addresses as
#: IPv4-mapped IPv6, so only the raw text tells ``10.0.0.1`` from ``::ffff:10.0.0.1`` (Sigma's ``|cidr``
#: keeps them apart, as Python's ``ipaddress`` does).
IP_TEXT_FIELDS: Final[dict[str, str]] = {"source.ip": "source.address"}

_DROPPED = "not renamed by the ingest pipeline; dropped with the `json` object"
_USER_NAME = "stored in `user.name`, where `sessionIssuer.userName` overwrites `userIdentity.userName`"

#: CloudTrail fields the integration does not keep (or keeps indistinguishably), with the reason.
UNMAPPED: Final[dict[str, str]] = {
    "sharedEventID": "the ingest pipeline renames `sharedEventId` (lower-case d), so the real key is dropped",
    "vpcEndpointAccountId": _DROPPED,
    "sessionCredentialFromConsole": "not renamed by the ingest pipeline version this table follows",
    "userIdentity.userName": _USER_NAME,
    "userIdentity.sessionContext.sessionIssuer.userName": _USER_NAME,
    "userIdentity.identityProvider": _DROPPED,
    "userIdentity.credentialId": _DROPPED,
    "userIdentity.onBehalfOf.userId": _DROPPED,
    "userIdentity.onBehalfOf.identityStoreArn": _DROPPED,
    "userIdentity.inScopeOf.issuerType": _DROPPED,
    "userIdentity.inScopeOf.credentialsIssuedTo": _DROPPED,
    "userIdentity.sessionContext.sourceIdentity": _DROPPED,
    "userIdentity.sessionContext.ec2RoleDelivery": _DROPPED,
    "userIdentity.sessionContext.assumedRoot": _DROPPED,
    "userIdentity.sessionContext.webIdFederationData.federatedProvider": _DROPPED,
    "userIdentity.sessionContext.webIdFederationData.attributes": _DROPPED,
    "tlsDetails.tlsVersion": "split into `tls.version_protocol` and `tls.version`; raw value gone",
    "addendum.reason": _DROPPED,
    "addendum.updatedFields": _DROPPED,
    "addendum.originalRequestID": _DROPPED,
    "addendum.originalEventID": _DROPPED,
    "edgeDeviceDetails": _DROPPED,
    "insightDetails": "kept only as a flattened object; query its sub-fields (`insightDetails.X`)",
}

#: Elastic field -> mapping type, for every field the view produces and the queries may use.
#: ``.text`` multi-fields are listed so that a harness can tell them from their keyword parent.
ELASTIC_TYPES: Final[dict[str, ElasticType]] = {
    **{f.name: f.type for f in FIELD_MAP.values()},
    **{s.string_field: "keyword" for s in SUBTREES.values() if s.string_field},
    **{f"{s.string_field}.text": "text" for s in SUBTREES.values() if s.string_field},
    **{s.flattened_field: "flattened" for s in SUBTREES.values()},
    f"{_CT}.flattened.digest": "flattened",
    "source.ip": "ip",
    "user.name": "keyword",
    "user.name.text": "match_only_text",
    "user_agent.original.text": "match_only_text",
    "user_agent.name": "keyword",
    "user_agent.version": "keyword",
    "user_agent.device.name": "keyword",
    "user_agent.os.name": "keyword",
    "user_agent.os.full": "keyword",
    "user_agent.os.version": "keyword",
    "user.target.name": "keyword",
    "user.target.id": "keyword",
    "user.changes.name": "keyword",
    "group.name": "keyword",
    "group.id": "keyword",
    "related.user": "keyword",
    "tls.version": "keyword",
    "tls.version_protocol": "keyword",
    "event.kind": "keyword",
    "event.type": "keyword",
    "event.category": "keyword",
    "event.outcome": "keyword",
    "event.created": "date",
    "ecs.version": "keyword",
    f"{_CT}.console_login.additional_eventdata.mobile_version": "boolean",
    f"{_CT}.console_login.additional_eventdata.login_to": "keyword",
    f"{_CT}.console_login.additional_eventdata.mfa_used": "boolean",
    "data_stream.type": "constant_keyword",
    "data_stream.dataset": "constant_keyword",
    "data_stream.namespace": "constant_keyword",
}


def flattened_root(elastic_field: str) -> str | None:
    """The flattened field that ``elastic_field`` is a keyed sub-field of (or is), else ``None``."""
    for root, kind in ELASTIC_TYPES.items():
        if kind == "flattened" and (elastic_field == root or elastic_field.startswith(root + ".")):
            return root
    return None


def subtree_of_flattened(elastic_field: str) -> ElasticSubtree | None:
    """The subtree whose flattened field holds ``elastic_field`` (a keyed sub-field), else ``None``."""
    for sub in SUBTREES.values():
        if elastic_field.startswith(sub.flattened_field + "."):
            return sub
    return None


def field_type(elastic_field: str) -> ElasticType:
    """Mapping type of an Elastic field path; keyed sub-fields of a flattened field report ``flattened``.

    Raises ``KeyError`` for a path the CloudTrail data stream does not map.
    """
    if elastic_field in ELASTIC_TYPES:
        return ELASTIC_TYPES[elastic_field]
    if flattened_root(elastic_field) is not None:
        return "flattened"
    raise KeyError(elastic_field)


class UnmappedFieldError(KeyError):
    """Raised by :func:`elastic_field` with the reason a CloudTrail field has no Elastic counterpart."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field)
        self.field = field
        self.reason = reason


def elastic_field(cloudtrail_field: str) -> ElasticField:
    """The Elastic field for a CloudTrail field path (as Sigma rules name it).

    Raises :class:`UnmappedFieldError` naming the field and the reason when the integration cannot answer
    a question about it.
    """
    if cloudtrail_field in FIELD_MAP:
        return FIELD_MAP[cloudtrail_field]
    if cloudtrail_field in UNMAPPED:
        raise UnmappedFieldError(cloudtrail_field, UNMAPPED[cloudtrail_field])
    root, _, rest = cloudtrail_field.partition(".")
    sub = SUBTREES.get(root)
    if sub is not None:
        if not rest:
            assert sub.string_field is not None  # insightDetails is in UNMAPPED
            return ElasticField(sub.string_field, "keyword", "Java Map.toString() of the object, not JSON")
        return ElasticField(f"{sub.flattened_field}.{rest}", "flattened", "keyed flattened sub-field")
    for prefix in UNMAPPED:
        if cloudtrail_field.startswith(prefix + "."):
            raise UnmappedFieldError(cloudtrail_field, UNMAPPED[prefix])
    if cloudtrail_field in FIXED_FIELDS or cloudtrail_field in FREE_FORM:
        raise UnmappedFieldError(cloudtrail_field, "not kept by the Elastic AWS integration")
    raise UnmappedFieldError(cloudtrail_field, "not a CloudTrail record field")


def presence_field(cloudtrail_field: str) -> str | None:
    """The Elastic field that tells whether a whole free-form object is present, else ``None``.

    The flattened field exists exactly when the object has a non-empty value; the ``Map.toString()`` keyword
    is not indexed above ``ignore_above`` characters, so ``_exists_`` on it misses long objects.
    """
    sub = SUBTREES.get(cloudtrail_field)
    return sub.flattened_field if sub is not None else None


def markdown_table() -> str:
    """The CloudTrail -> Elastic field table as Markdown, for ``docs/targets/elastic.md``."""
    rows = ["| CloudTrail field | Elastic field | type | notes |", "|---|---|---|---|"]
    for ct, f in FIELD_MAP.items():
        rows.append(f"| `{ct}` | `{f.name}` | {f.type} | {f.note} |")
    for sub in SUBTREES.values():
        if sub.string_field:
            limit = f"; not indexed above {sub.ignore_above} characters" if sub.ignore_above else ""
            rows.append(
                f"| `{sub.cloudtrail}` | `{sub.string_field}` | keyword (+ `.text`) | "
                f"Java `Map.toString()` of the object, not JSON{limit} |"
            )
        rows.append(
            f"| `{sub.cloudtrail}.X` | `{sub.flattened_field}.X` | flattened | "
            "keyed sub-field: case-sensitive keyword; no wildcard or regexp queries |"
        )
    for ct, reason in UNMAPPED.items():
        rows.append(f"| `{ct}` | (none) | | {reason} |")
    return "\n".join(rows) + "\n"
