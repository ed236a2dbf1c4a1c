"""Amazon Security Lake's CloudTrail management-event table (AWS source version 2, OCSF 1.1), as data.

Three things live here, each read by the ``securitylake`` pipeline, view and docs:

- :data:`SECURITY_LAKE`: the table's columns and their types, as a column tree in the form the Athena backend
  reads (:class:`sigma_lambda_layer.fields.athena.TableSchema`: struct, string, JSON text, boolean, int,
  bigint, timestamp, array of struct, map), registered there as schema ``ocsf``. Security Lake stores each OCSF object as a struct and each OCSF ``json_t``
  attribute (``api.request.data``, ``api.response.data``) as a string holding JSON text; ``unmapped``
  (OCSF type ``object``) as ``map<string,string>``; ``time`` (``timestamp_t``) as epoch milliseconds and
  ``time_dt`` as a timestamp. ``accountid``, ``region`` and ``eventday`` are the columns Security Lake adds
  for its partitions.
- :data:`FIELD_MAP`: each CloudTrail field's OCSF attribute, from a published mapping (:data:`SOURCES`), with
  the cases where the OCSF form loses or changes what the CloudTrail record said, and :data:`REFUSED`: the
  CloudTrail fields that have no OCSF home a query can test exactly, with the reason.
- :func:`ocsf_row`: one CloudTrail record as this project writes it into that table. AWS does not publish
  Security Lake's transformation code; ``ocsf_row`` follows the published OCSF mapping (the OCSF project's
  AWS CloudTrail dossiers for OCSF 1.1.0 and their Bloblang implementation) and AWS's Security Lake examples.
  It is what the offline proof runs on, so every choice it makes where the sources are silent is one the
  pipeline is exact about or refuses (``docs/targets/securitylake.md``, "Where the table differs").

Sources (:data:`SOURCES` keys):

- ``ocsf-dossier``: ocsf/examples ``mappings/markdown/AWS/v1.1.0/CloudTrail/{API Activity,Authentication,
  Account Change}/README.md`` @ 45c82e309104d7cc0df8cfc08058587299f4af2f (mapping and conditional mapping
  tables) and their ``samples/*.ocsf`` (``unmapped`` keys are the CloudTrail dotted paths,
  ``additionalEventData.MFAIdentifier``; values are strings).
- ``ocsf-bloblang``: ocsf/examples ``mappings/bloblang/AWS/CloudTrail/v1.1.0/`` @ the same commit (class
  selection by ``eventName``; ``sourceIPAddress`` to ``src_endpoint.ip`` only for a dotted-quad IPv4 text,
  to ``src_endpoint.domain`` otherwise; ``MFAUsed`` ``Yes``/``No`` to ``is_mfa``).
- ``ocsf-schema``: ocsf/ocsf-schema tag ``v1.1.0`` (``objects/*.json``, ``dictionary.json``: attribute
  names and types; ``resources[].owner`` is a ``user``, so the account is ``owner.account.uid``).
- ``aws-security-lake``: Amazon Security Lake User Guide, "Example Security Lake queries for CloudTrail data"
  (source version 2: database ``amazon_security_lake_glue_db_<region>``, table
  ``amazon_security_lake_table_<region>_cloud_trail_mgmt_2_0``, ``time_dt`` filters, ``api.response.error``
  holding CloudTrail's error codes verbatim, ``src_endpoint.ip``, ``actor.user.uid``) and "Security Lake
  queries for AWS source version 1" and AWS's query library (awslabs/aws-security-analytics-bootstrap,
  ``amazon_security_lake_queries``: the ``accountid``, ``region``, ``eventday`` partition columns of source
  version 1; whether version 2 keeps ``eventday`` is not verified, and no compiled query reads it).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final, Literal

from sigma_lambda_layer.fields.athena import Node, TableSchema, json_object, resolve
from sigma_lambda_layer.fields.cloudtrail import FIXED_FIELDS, FREE_FORM, array_prefixes

# --------------------------------------------------------------------------------------------------------------
# The table: a column tree
# --------------------------------------------------------------------------------------------------------------


def _s(name: str) -> Node:
    return Node(name, "string")


def _struct(name: str, *members: Node) -> Node:
    return Node(name, "struct", members)


def _array(name: str, element: Node) -> Node:
    return Node(name, "array", (element,))


def _user(name: str) -> Node:
    return _struct(
        name,
        _s("uid"),
        _s("uid_alt"),
        _s("type"),
        _s("name"),
        _s("credential_uid"),
        _struct("account", _s("uid")),
    )


#: ``amazon_security_lake_table_<region>_cloud_trail_mgmt_2_0``: the columns the CloudTrail mapping fills, the
#: union of the three OCSF 1.1 classes Security Lake writes to this table (API Activity 6003, Authentication
#: 3002, Account Change 3001); attribute names and types from the OCSF 1.1.0 schema (``integer_t`` as ``int``,
#: ``timestamp_t`` as ``bigint`` epoch milliseconds, ``datetime_t`` as ``timestamp``, ``json_t`` as JSON text,
#: ``object`` ``unmapped`` as ``map<string,string>``), and Security Lake's partition columns last.
SECURITY_LAKE: Final = TableSchema(
    id="ocsf",
    source="Amazon Security Lake, CloudTrail management events, source version 2 (OCSF 1.1.0)",
    columns=(
        Node("activity_id", "int"),
        _s("activity_name"),
        Node("category_uid", "int"),
        _s("category_name"),
        Node("class_uid", "int"),
        _s("class_name"),
        Node("type_uid", "bigint"),
        _s("type_name"),
        Node("severity_id", "int"),
        _s("severity"),
        _s("status"),
        Node("status_id", "int"),
        Node("time", "bigint"),
        Node("time_dt", "timestamp"),
        Node("is_mfa", "boolean"),
        _struct(
            "actor",
            _user("user"),
            _s("invoked_by"),
            _struct("session", Node("created_time_dt", "timestamp"), Node("is_mfa", "boolean"), _s("issuer")),
            _struct("idp", _s("name"), _s("uid")),
        ),
        _struct(
            "api",
            _s("operation"),
            _s("version"),
            _struct("service", _s("name")),
            _struct("request", _s("uid"), json_object("data", "requestParameters")),
            _struct("response", _s("error"), _s("message"), json_object("data", "responseElements")),
        ),
        _struct("src_endpoint", _s("ip"), _s("domain"), _s("uid")),
        _struct("dst_endpoint", _s("svc_name")),
        _struct("http_request", _s("user_agent")),
        _struct("cloud", _s("provider"), _s("region")),
        _struct(
            "metadata",
            _s("uid"),
            _s("event_code"),
            _s("version"),
            _struct("product", _s("name"), _s("vendor_name"), _s("version"), _struct("feature", _s("name"))),
            _array("profiles", _s("")),
        ),
        _struct("user", _s("uid"), _s("uid_alt"), _s("name")),
        _array(
            "resources",
            _struct("", _s("uid"), _s("type"), _struct("owner", _struct("account", _s("uid")))),
        ),
        Node("unmapped", "map", (_s(""),)),
        _s("accountid"),
        _s("region"),
        _s("eventday"),
    ),
)
#: The whole row as one struct (for :func:`complete`).
ROW: Final = Node("", "struct", SECURITY_LAKE.columns)

#: Security Lake's names, with ``<region>`` the Region written with underscores (``us_east_1``).
DATABASE_TEMPLATE: Final = "amazon_security_lake_glue_db_{region}"
TABLE_TEMPLATE: Final = "amazon_security_lake_table_{region}_cloud_trail_mgmt_2_0"
#: The Region of AWS's own examples, the default of the target's table options.
DEFAULT_REGION: Final = "us_east_1"


def column(path: str) -> Node | None:
    """The node a dotted OCSF path (``api.request.data``, ``resources.uid``) ends at: the column or member,
    the JSON-text column for a path inside it, the map's value for a key of ``unmapped``; None if the table
    has no such column."""
    found = resolve(SECURITY_LAKE, path)
    return None if found is None else found.leaf


# --------------------------------------------------------------------------------------------------------------
# The field table
# --------------------------------------------------------------------------------------------------------------

SOURCES: Final[dict[str, str]] = {
    "ocsf-dossier": "OCSF examples, AWS CloudTrail to OCSF 1.1.0 mapping tables (mappings/markdown/AWS/v1.1.0)",
    "ocsf-bloblang": "OCSF examples, AWS CloudTrail to OCSF 1.1.0 Bloblang mapping (mappings/bloblang/AWS)",
    "ocsf-schema": "OCSF schema 1.1.0 (objects and dictionary)",
    "aws-security-lake": "Amazon Security Lake User Guide, CloudTrail query examples for source version 2",
}

#: How a CloudTrail value is stored in its OCSF column.
#: ``copy``: the same string; ``json``: the object as JSON text (``requestParameters`` ->
#: ``api.request.data``), its keys reached inside the text; ``true_false``: the strings ``true``/``false``
#: as a boolean; ``yes_no``: ``Yes``/``No`` as a boolean; ``ip_or_domain``: ``sourceIPAddress``, split in two
#: columns; ``unmapped``: the string under its dotted CloudTrail path in ``unmapped``; ``timestamp``: the
#: ISO-8601 text as a timestamp (every test refused: a text that is no timestamp is lost).
Storage = Literal["copy", "json", "true_false", "yes_no", "ip_or_domain", "unmapped", "timestamp"]


@dataclass(frozen=True)
class OcsfField:
    """Where one CloudTrail field lives in the Security Lake table."""

    path: str
    source: str
    storage: Storage = "copy"
    note: str = ""


#: CloudTrail field -> OCSF attribute, for every CloudTrail field with one OCSF home that a query can test
#: with the rule's meaning. Free-form subtrees are in :data:`JSON_SUBTREES`, the fields that land in
#: ``unmapped`` are found by :func:`ocsf_field`.
FIELD_MAP: Final[dict[str, OcsfField]] = {
    "eventName": OcsfField("api.operation", "ocsf-dossier"),
    "eventSource": OcsfField("api.service.name", "ocsf-dossier"),
    "awsRegion": OcsfField("cloud.region", "ocsf-dossier", note="also the `region` partition column"),
    "userAgent": OcsfField("http_request.user_agent", "ocsf-dossier"),
    "eventID": OcsfField("metadata.uid", "ocsf-dossier"),
    "eventType": OcsfField("metadata.event_code", "ocsf-dossier"),
    "eventVersion": OcsfField(
        "metadata.product.version",
        "ocsf-dossier",
        note="`metadata.version` is the OCSF version (1.1.0), as the dossier's sample shows",
    ),
    "apiVersion": OcsfField("api.version", "ocsf-dossier"),
    "requestID": OcsfField("api.request.uid", "ocsf-dossier"),
    "errorCode": OcsfField(
        "api.response.error",
        "aws-security-lake",
        note="verbatim (`Client.UnauthorizedOperation`); `status` is derived from it (Success/Failure)",
    ),
    "errorMessage": OcsfField("api.response.message", "ocsf-dossier"),
    "vpcEndpointId": OcsfField("src_endpoint.uid", "ocsf-dossier"),
    "sourceIPAddress": OcsfField(
        "src_endpoint.ip",
        "ocsf-bloblang",
        "ip_or_domain",
        "an IP address goes to `src_endpoint.ip`, a service name (`lambda.amazonaws.com`, `AWS Internal`) to "
        "`src_endpoint.domain`: a value test reads both (exactly one is set), `null` needs both empty",
    ),
    "userIdentity.type": OcsfField("actor.user.type", "ocsf-dossier"),
    "userIdentity.arn": OcsfField("actor.user.uid", "ocsf-dossier"),
    "userIdentity.accountId": OcsfField("actor.user.account.uid", "ocsf-dossier"),
    "userIdentity.invokedBy": OcsfField("actor.invoked_by", "ocsf-dossier"),
    "userIdentity.onBehalfOf.identityStoreArn": OcsfField("actor.idp.uid", "ocsf-dossier"),
    "userIdentity.sessionContext.sessionIssuer.arn": OcsfField("actor.session.issuer", "ocsf-dossier"),
    "userIdentity.sessionContext.attributes.mfaAuthenticated": OcsfField(
        "actor.session.is_mfa",
        "ocsf-dossier",
        "true_false",
        "a boolean: only the values `true` and `false` (any case) can be tested, not presence",
    ),
    "userIdentity.sessionContext.attributes.creationDate": OcsfField(
        "actor.session.created_time_dt",
        "ocsf-dossier",
        "timestamp",
        "a timestamp: its text is not kept, so no test is exact (refused)",
    ),
    "eventTime": OcsfField(
        "time_dt",
        "ocsf-dossier",
        "timestamp",
        "a timestamp (and `time`, epoch ms): its text is not kept, so no test is exact (refused)",
    ),
    "additionalEventData.LoginTo": OcsfField("dst_endpoint.svc_name", "ocsf-dossier"),
    "additionalEventData.MFAUsed": OcsfField(
        "is_mfa",
        "ocsf-bloblang",
        "yes_no",
        "a boolean: only the values `Yes` and `No` (any case) can be tested, not presence",
    ),
    "resources.ARN": OcsfField("resources.uid", "ocsf-dossier", note="any element of the array"),
    "resources.accountId": OcsfField(
        "resources.owner.account.uid", "ocsf-schema", note="the dossier's `resources[].owner.account.uid`"
    ),
    "resources.type": OcsfField("resources.type", "ocsf-dossier", note="any element of the array"),
}

#: CloudTrail free-form objects stored whole as JSON text: ``requestParameters.a.b`` is ``$.a.b`` inside it.
JSON_SUBTREES: Final[dict[str, str]] = {
    "requestParameters": "api.request.data",
    "responseElements": "api.response.data",
}

#: CloudTrail fields with no OCSF home a query can test exactly, and why. A rule naming one is refused.
REFUSED: Final[dict[str, str]] = {
    "userIdentity.principalId": "its OCSF home `actor.user.uid_alt` also holds `userIdentity.onBehalfOf.userId` "
    "(the dossier's conditional mapping), so a value there does not say which field it came from",
    "userIdentity.onBehalfOf.userId": "it shares `actor.user.uid_alt` with `userIdentity.principalId` (the "
    "dossier's conditional mapping)",
    "userIdentity.userName": "its OCSF home `actor.user.name` also holds `additionalEventData.UserName` (the "
    "dossier's conditional mapping)",
    "additionalEventData.UserName": "it shares `actor.user.name` with `userIdentity.userName` (the dossier's "
    "conditional mapping)",
    "userIdentity.accessKeyId": "its OCSF home `actor.user.credential_uid` also holds `userIdentity.credentialId` "
    "(the dossier's conditional mapping)",
    "userIdentity.credentialId": "it shares `actor.user.credential_uid` with `userIdentity.accessKeyId` (the "
    "dossier's conditional mapping)",
    "userIdentity.identityProvider": "its OCSF home `actor.idp.name` also holds "
    "`webIdFederationData.federatedProvider` (the dossier maps both there)",
    "userIdentity.sessionContext.webIdFederationData.federatedProvider": "it shares `actor.idp.name` with "
    "`userIdentity.identityProvider` (the dossier maps both there)",
    "eventCategory": "its OCSF home `metadata.product.feature.name` gets a default value when the record has no "
    "eventCategory (the dossier's conditional mapping), so its absence cannot be told apart",
    "resources": "an array of objects: name the member (resources.ARN, resources.accountId, resources.type)",
    "edgeDeviceDetails": "an object, whose members land in `unmapped` one key each "
    "(`edgeDeviceDetails.<key>`), which CloudTrail does not document: no one value to test",
}

#: Fields stored in ``unmapped``: the CloudTrail fields the OCSF mapping has no attribute for. Only the free-form
#: roots and the fixed fields below are placed; anything else is not a CloudTrail field.
_UNMAPPED_ROOTS: Final[tuple[str, ...]] = tuple(
    r for r in FREE_FORM if r not in JSON_SUBTREES
)  # additionalEventData, serviceEventDetails, insightDetails, webIdFederationData.attributes


def unmapped_fields() -> tuple[str, ...]:
    """The fixed CloudTrail fields that land in ``unmapped`` under their own dotted path."""
    return tuple(
        f
        for f in FIXED_FIELDS
        if f not in FIELD_MAP
        and f not in REFUSED
        and not f.startswith(tuple(r + "." for r in _UNMAPPED_ROOTS))
    )


class NoOcsfHome(Exception):
    """A CloudTrail field the Security Lake table cannot answer for (the pipeline refuses it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ocsf_field(path: str) -> OcsfField:
    """The OCSF home of CloudTrail field ``path``; :class:`NoOcsfHome` with the reason where there is none."""
    if path in REFUSED:
        raise NoOcsfHome(REFUSED[path])
    if path in FIELD_MAP:
        return FIELD_MAP[path]
    for root, target in JSON_SUBTREES.items():
        if path == root or path.startswith(root + "."):
            return OcsfField(target + path[len(root) :], "ocsf-dossier", "json")
    if array_prefixes(path):
        raise NoOcsfHome(
            f"it lies in the array {array_prefixes(path)[0]!r}, which lands in `unmapped` as one string: the OCSF "
            "mapping publishes no form for its elements"
        )
    if path in unmapped_fields() or any(path.startswith(r + ".") for r in _UNMAPPED_ROOTS):
        return OcsfField(
            f"unmapped.{path}", "ocsf-dossier", "unmapped", "a string under its dotted CloudTrail path"
        )
    if path in _UNMAPPED_ROOTS or path in OBJECT_PREFIXES:
        raise NoOcsfHome(
            "a CloudTrail object spread over several OCSF attributes and `unmapped` keys: name the field that "
            "holds the value"
        )
    raise NoOcsfHome("it is not a CloudTrail record field, so the OCSF mapping gives it no place")


#: Objects on the way to fixed fields (``userIdentity``, ``userIdentity.sessionContext``, ``tlsDetails``...).
OBJECT_PREFIXES: Final[frozenset[str]] = frozenset(
    ".".join(f.split(".")[:i]) for f in FIXED_FIELDS for i in range(1, f.count("."))
) | frozenset(".".join(f.split(".")[:-1]) for f in FIXED_FIELDS if "." in f)


#: Storages whose value lands in more than one column.
_SPLIT: Final[dict[str, tuple[str, ...]]] = {"ip_or_domain": ("src_endpoint.ip", "src_endpoint.domain")}


def field_table() -> Iterator[tuple[str, str, str, str]]:
    """(CloudTrail field, OCSF column, source, note) rows for the docs, refusals included."""
    for name, f in FIELD_MAP.items():
        path = " / ".join(_SPLIT.get(f.storage, (f.path,)))
        yield name, path, f.source, f.note
    for root, target in JSON_SUBTREES.items():
        yield f"{root}.*", f"{target} (JSON text)", "ocsf-dossier", "`json_extract_scalar` inside the text"
    for name in unmapped_fields():
        if not array_prefixes(name):
            kind = (
                "`true`/`false`, the JSON boolean's text"
                if name in ("managementEvent", "readOnly")
                else "a string"
            )
            yield name, f"unmapped['{name}']", "ocsf-dossier", kind
    for root in _UNMAPPED_ROOTS:
        yield f"{root}.*", f"unmapped['{root}.<key>']", "ocsf-dossier", "one string per scalar leaf"
    for name, reason in REFUSED.items():
        yield name, "(refused)", "", reason


# --------------------------------------------------------------------------------------------------------------
# One CloudTrail record as a row of the table
# --------------------------------------------------------------------------------------------------------------

#: Event names of the Authentication class (ocsf-bloblang ``cloudtrail.yml``).
AUTHENTICATION_EVENTS: Final = frozenset(
    {
        "ConsoleLogin",
        "ExternalIdPDirectoryLogin",
        "CheckMfa",
        "CredentialChallenge",
        "CredentialVerification",
        "UserAuthentication",
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
    }
)
#: Event names of the Account Change class (ocsf-bloblang ``cloudtrail.yml``; IAM user, role, policy and MFA
#: changes).
ACCOUNT_CHANGE_EVENTS: Final = frozenset(
    [
        "UpdateRole",
        "AttachUserPolicy",
        "PutRolePermissionsBoundary",
        "DeletePolicy",
        "RemoveUserFromGroup",
        "ChangePassword",
        "CreateAccessKey",
        "AttachGroupPolicy",
        "ResyncMFADevice",
        "DeleteRolePolicy",
        "PutUserPermissionsBoundary",
        "CreateUser",
        "CreateServiceLinkedRole",
        "PutRolePolicy",
        "DetachGroupPolicy",
        "UpdateAccessKey",
        "CreateInstanceProfile",
        "CreateRole",
        "DeleteUserPermissionsBoundary",
        "DeleteAccountAlias",
        "PutGroupPolicy",
        "CreateLoginProfile",
        "DeleteGroupPolicy",
        "DeleteLoginProfile",
        "DeleteUserPolicy",
        "DeactivateMFADevice",
        "RemoveRoleFromInstanceProfile",
        "UpdateUser",
        "EnableMFADevice",
        "DeleteUser",
        "AddRoleToInstanceProfile",
        "UpdateAccountEmailAddress",
        "UpdateRoleDescription",
        "DetachUserPolicy",
        "UpdateAssumeRolePolicy",
        "DeleteGroup",
        "DeleteServiceLinkedRole",
        "DeleteAccessKey",
        "AddUserToGroup",
        "DeleteVirtualMFADevice",
        "FinalizeSmsMfaRegistration",
        "DeleteRolePermissionsBoundary",
        "DetachRolePolicy",
        "DeleteInstanceProfile",
        "UpdateGroup",
        "UpdateLoginProfile",
        "RequestSmsMfaRegistration",
        "DeleteRole",
        "PutUserPolicy",
        "CreateVirtualMFADevice",
        "AttachRolePolicy",
        "EmailUpdated",
        "AccountNameUpdated",
        "PasswordUpdated",
    ]
)

_CLASSES: Final = {
    3002: ("Authentication", 3, "Identity & Access Management"),
    3001: ("Account Change", 3, "Identity & Access Management"),
    6003: ("API Activity", 6, "Application Activity"),
}
#: API Activity activity ids by the first verb ``eventName`` contains (ocsf-bloblang, in its order).
_API_ACTIVITIES: Final = (
    ("Create", 1, "Create"),
    ("Run", 1, "Create"),
    ("Generate", 1, "Create"),
    ("Get", 2, "Read"),
    ("List", 2, "Read"),
    ("Describe", 2, "Read"),
    ("Search", 2, "Read"),
    ("Lookup", 2, "Read"),
    *(
        (verb, 3, "Update")
        for verb in [
            "Update",
            "Put",
            "Modify",
            "Add",
            "Remove",
            "Start",
            "Stop",
            "Attach",
            "Detach",
            "Associate",
        ]
    ),
    *(
        (verb, 3, "Update")
        for verb in ["Disassociate", "Tag", "Untag", "Enable", "Disable", "Register", "Deregister"]
    ),
    ("Delete", 4, "Delete"),
    ("Terminate", 4, "Delete"),
)


def _get(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _text(value: Any) -> str:
    """A scalar as the string ``unmapped`` holds: strings as they are, anything else as its JSON text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _bool(value: Any, true: str, false: str) -> bool | None:
    """The boolean of a ``true``/``false`` (``Yes``/``No``) text, in any case; None for anything else. The
    Bloblang mapping matches ``Yes``/``No`` exactly; AWS writes only those spellings, and reading any case
    makes the pipeline's case-insensitive test exact."""
    text = value.lower() if isinstance(value, str) else None
    return True if text == true else False if text == false else None


def _prune(value: Any) -> Any:
    """Drop null members and empty structs (a struct whose every member is null is null in the table)."""
    if isinstance(value, dict):
        kept = {k: p for k, v in value.items() if (p := _prune(v)) is not None}
        return kept or None
    return value


#: CloudTrail fields :func:`ocsf_row` moves to an OCSF attribute (so they are not also kept in ``unmapped``).
_CONSUMED: Final = frozenset(
    {
        *FIELD_MAP,
        *JSON_SUBTREES,
        "resources",
        "eventCategory",
        # the fields of the shared homes (REFUSED): each fills an OCSF attribute in ocsf_row
        "userIdentity.principalId",
        "userIdentity.onBehalfOf.userId",
        "userIdentity.userName",
        "additionalEventData.UserName",
        "userIdentity.accessKeyId",
        "userIdentity.credentialId",
        "userIdentity.identityProvider",
        "userIdentity.sessionContext.webIdFederationData.federatedProvider",
    }
)


def ocsf_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One CloudTrail record as a row of Security Lake's CloudTrail table (this project's mapping).

    The row is plain JSON-ready data: ``time_dt`` and ``actor.session.created_time_dt`` are ISO-8601 strings
    (``2023-09-21 22:22:52.000``, UTC) that a ``TIMESTAMP`` column reads, the two ``data`` columns JSON text,
    ``unmapped`` a ``{key: string}`` mapping. Null members and empty structs are left out.
    """
    r = record
    name = r.get("eventName")
    event_name: str = name if isinstance(name, str) else ""
    class_uid = (
        3002 if event_name in AUTHENTICATION_EVENTS else 3001 if event_name in ACCOUNT_CHANGE_EVENTS else 6003
    )
    class_name, category_uid, category_name = _CLASSES[class_uid]
    activity_id, activity_name = 99, "Other"
    if class_uid == 6003:
        activity_id, activity_name = next(
            ((i, n) for v, i, n in _API_ACTIVITIES if v in event_name), (99, "Other")
        )
    elif class_uid == 3002:
        activity_id, activity_name = 1, "Logon"
    error = r.get("errorCode")
    when = _time(r.get("eventTime"))
    created = _time(_get(r, "userIdentity.sessionContext.attributes.creationDate"))
    source_ip = r.get("sourceIPAddress")
    ip_text = source_ip if isinstance(source_ip, str) and _is_ip(source_ip) else None
    user = _get(r, "userIdentity") if isinstance(r.get("userIdentity"), Mapping) else {}
    assert isinstance(user, Mapping)
    resources = r.get("resources")
    row: dict[str, Any] = {
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "class_uid": class_uid,
        "class_name": class_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "severity_id": 1,
        "severity": "Informational",
        "status": "Failure" if error is not None else "Success",
        "status_id": 2 if error is not None else 1,
        "time": None if when is None else int(when.timestamp() * 1000),
        "time_dt": None if when is None else _timestamp_text(when),
        "is_mfa": _bool(_get(r, "additionalEventData.MFAUsed"), "yes", "no"),
        "actor": {
            "user": {
                "uid": user.get("arn"),
                "uid_alt": user.get("principalId", _get(user, "onBehalfOf.userId")),
                "type": user.get("type"),
                "name": user.get("userName", _get(r, "additionalEventData.UserName")),
                "credential_uid": user.get("accessKeyId", user.get("credentialId")),
                "account": {"uid": user.get("accountId")},
            },
            "invoked_by": user.get("invokedBy"),
            "session": {
                "created_time_dt": None if created is None else _timestamp_text(created),
                "is_mfa": _bool(_get(user, "sessionContext.attributes.mfaAuthenticated"), "true", "false"),
                "issuer": _get(user, "sessionContext.sessionIssuer.arn"),
            },
            "idp": {
                "name": _get(user, "sessionContext.webIdFederationData.federatedProvider")
                or user.get("identityProvider"),
                "uid": _get(user, "onBehalfOf.identityStoreArn"),
            },
        },
        "api": {
            "operation": r.get("eventName"),
            "version": r.get("apiVersion"),
            "service": {"name": r.get("eventSource")},
            "request": {"uid": r.get("requestID"), "data": _json_text(r.get("requestParameters"))},
            "response": {
                "error": error,
                "message": r.get("errorMessage"),
                "data": _json_text(r.get("responseElements")),
            },
        },
        "src_endpoint": {
            "ip": ip_text,
            "domain": source_ip if ip_text is None else None,
            "uid": r.get("vpcEndpointId"),
        },
        "dst_endpoint": {"svc_name": _get(r, "additionalEventData.LoginTo")},
        "http_request": {"user_agent": r.get("userAgent")},
        "cloud": {"provider": "AWS", "region": r.get("awsRegion")},
        "metadata": {
            "uid": r.get("eventID"),
            "event_code": r.get("eventType"),
            "version": "1.1.0",
            "product": {
                "name": "CloudTrail",
                "vendor_name": "AWS",
                "version": r.get("eventVersion"),
                "feature": {"name": r.get("eventCategory", "Management, Data, and Insights")},
            },
            "profiles": ["cloud", "datetime"],
        },
        "resources": _resources(resources),
        "unmapped": _unmapped(r),
        "accountid": r.get("recipientAccountId", user.get("accountId")),
        "region": r.get("awsRegion"),
        "eventday": None if when is None else when.astimezone(timezone.utc).strftime("%Y%m%d"),
    }
    pruned = _prune(row)
    assert isinstance(pruned, dict)
    return pruned


def _timestamp_text(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _resources(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        item = item if isinstance(item, Mapping) else {}
        out.append(
            {
                "uid": item.get("ARN"),
                "type": item.get("type"),
                "owner": {"account": {"uid": item.get("accountId")}},
            }
        )
    return out


def _unmapped(record: Mapping[str, Any]) -> dict[str, str] | None:
    """Every CloudTrail value the mapping gives no attribute, under its dotted path (the dossier's samples)."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if prefix in _CONSUMED or value is None:
            return
        if isinstance(value, Mapping):
            for key, child in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), child)
        else:
            out[prefix] = _text(value)

    walk("", record)
    return out or None


def complete(node: Node, value: Any) -> Any:
    """``value`` with every struct member of ``node`` present (null where the row has none), as a typed table
    load wants it (DuckDB's STRUCT values need every member). ``complete(ROW, ocsf_row(r))`` is a full row."""
    if value is None:
        return None
    if node.kind == "struct":
        assert isinstance(value, Mapping)
        return {m.name: complete(m, value.get(m.name)) for m in node.members}
    if node.kind == "array":
        return [complete(node.element, v) for v in value]
    return value


def markdown_table() -> str:
    """The docs' field table (docs/targets/securitylake.md), rendered from :func:`field_table`."""
    lines = ["| CloudTrail field | Security Lake column | source | note |", "|---|---|---|---|"]
    for name, column_path, source, note in field_table():
        cells = [f"`{name}`", f"`{column_path}`" if column_path != "(refused)" else "refused", source, note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
