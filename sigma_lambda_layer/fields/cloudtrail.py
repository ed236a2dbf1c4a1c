"""The CloudTrail record schema, as data.

Source: AWS CloudTrail User Guide, "CloudTrail record contents for management, data, and network activity
events" and "CloudTrail userIdentity element" (docs.aws.amazon.com/awscloudtrail/latest/userguide/
cloudtrail-event-reference-record-contents.html, cloudtrail-event-reference-user-identity.html).

Field names are the dotted paths Sigma rules use. ``FREE_FORM`` subtrees (``requestParameters`` and
friends) hold each API's own keys, so any dotted path below them is a valid field. ``ARRAY_FIELDS`` lists
paths whose value is a JSON array in real records: targets that name array elements differently
(Splunk ``{}``, Logs Insights ``.0``) need to know them.
"""

from __future__ import annotations

from typing import Final

#: Fixed leaf fields of a CloudTrail record (event version 1.11).
FIXED_FIELDS: Final[tuple[str, ...]] = (
    "eventVersion",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestID",
    "eventID",
    "eventType",
    "apiVersion",
    "managementEvent",
    "readOnly",
    "recipientAccountId",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "sessionCredentialFromConsole",
    "userIdentity.type",
    "userIdentity.principalId",
    "userIdentity.arn",
    "userIdentity.accountId",
    "userIdentity.accessKeyId",
    "userIdentity.userName",
    "userIdentity.invokedBy",
    "userIdentity.identityProvider",
    "userIdentity.credentialId",
    "userIdentity.onBehalfOf.userId",
    "userIdentity.onBehalfOf.identityStoreArn",
    "userIdentity.inScopeOf.issuerType",
    "userIdentity.inScopeOf.credentialsIssuedTo",
    "userIdentity.sessionContext.sourceIdentity",
    "userIdentity.sessionContext.ec2RoleDelivery",
    "userIdentity.sessionContext.assumedRoot",
    "userIdentity.sessionContext.attributes.creationDate",
    "userIdentity.sessionContext.attributes.mfaAuthenticated",
    "userIdentity.sessionContext.sessionIssuer.type",
    "userIdentity.sessionContext.sessionIssuer.principalId",
    "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.sessionContext.sessionIssuer.accountId",
    "userIdentity.sessionContext.sessionIssuer.userName",
    "userIdentity.sessionContext.webIdFederationData.federatedProvider",
    "tlsDetails.tlsVersion",
    "tlsDetails.cipherSuite",
    "tlsDetails.clientProvidedHostHeader",
    "addendum.reason",
    "addendum.updatedFields",
    "addendum.originalRequestID",
    "addendum.originalEventID",
    "edgeDeviceDetails",
    "resources.ARN",
    "resources.accountId",
    "resources.type",
)

#: Subtrees whose keys depend on the API called; any dotted path below them is a field.
FREE_FORM: Final[tuple[str, ...]] = (
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
    "insightDetails",
    "userIdentity.sessionContext.webIdFederationData.attributes",
)

#: Paths whose values are JSON arrays in real records (the element's own keys follow the path).
ARRAY_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "resources",
        "requestParameters.layers",
        "responseElements.layers",
        "requestParameters.containerDefinitions",
        "requestParameters.containerDefinitions.command",
        "requestParameters.instancesSet.items",
        "responseElements.instancesSet.items",
        "requestParameters.ipPermissions.items",
        "requestParameters.ipPermissions.items.ipRanges.items",
        "requestParameters.alarmNames",
        "requestParameters.policyArns",
        "requestParameters.tags",
        "requestParameters.tagKeys",
        "requestParameters.eventSelectors",
        "requestParameters.advancedEventSelectors",
        "requestParameters.attributes",
        "addendum.updatedFields",
    }
)


#: Paths whose value is a JSON object in a CloudTrail record: the free-form roots and every proper prefix of a
#: fixed dotted field (``userIdentity``, ``userIdentity.sessionContext`` ...); arrays (``resources``) excepted.
OBJECT_FIELDS: Final[frozenset[str]] = (
    frozenset(
        {*FREE_FORM} | {".".join(f.split(".")[:i]) for f in FIXED_FIELDS for i in range(1, f.count(".") + 1)}
    )
    - ARRAY_FIELDS
)


def refuse_object_field(path: str) -> None:
    """Refuse a value test on ``path`` when it is a JSON object (:data:`OBJECT_FIELDS`): Sigma matches values
    against strings, so such a test can never match. Every target's pipeline or backend asks this one function.
    """
    if path in OBJECT_FIELDS:
        from sigma_lambda_layer.errors import UnsupportedFieldError, unsupported

        unsupported(
            f"CloudTrail field {path!r} is a JSON object, not a value: Sigma matches values against strings, "
            "so the rule cannot match it as written",
            field=path,
            hint=f"name the sub-field that holds the value, e.g. {path}.<key>",
            kind=UnsupportedFieldError,
        )


def is_known_field(path: str) -> bool:
    """True if ``path`` is a fixed field, a subtree root, or lies under a free-form subtree."""
    if path in FIXED_FIELDS or path in FREE_FORM or path in ARRAY_FIELDS:
        return True
    return any(path.startswith(root + ".") for root in FREE_FORM)


def array_prefixes(path: str) -> list[str]:
    """The prefixes of ``path`` (itself included) that are arrays, shortest first.

    ``requestParameters.layers`` -> ``["requestParameters.layers"]``; ``resources.ARN`` -> ``["resources"]``.
    """
    parts = path.split(".")
    return [p for p in (".".join(parts[: i + 1]) for i in range(len(parts))) if p in ARRAY_FIELDS]


#: Fixed fields that are not scalar strings: JSON booleans, an object, an array, and the members of the
#: ``resources`` array.
_NOT_STRINGS: Final[frozenset[str]] = frozenset(
    {"managementEvent", "readOnly", "edgeDeviceDetails", "addendum.updatedFields"}
)


def is_scalar_string_field(path: str) -> bool:
    """True if every record AWS writes holds ``path`` as one JSON string (or not at all, or JSON null).

    The fixed fields of the record contents page, minus the booleans, objects and arrays, and minus every
    path below an array (``resources.ARN``): the objects on the way (``userIdentity``, ``sessionContext``,
    ``tlsDetails`` ...) are objects whose keys are the documented names, none holding a dot, so the plain
    object path is the only place the value can be. Targets use it to read such a field directly instead
    of walking arrays and dotted keys (the duckdb target's ``record->>'$.eventName'``).
    """
    return path in FIXED_FIELDS and path not in _NOT_STRINGS and not array_prefixes(path)


def object_prefix(path: str) -> tuple[str, ...]:
    """The longest proper prefix of ``path`` (as keys) that every record AWS writes reaches by plain key
    lookups through JSON objects: each key lies in the record or in an object of documented keys (none holds
    a dot, so no dotted key can stand for two segments), and each prefix is a JSON object
    (:data:`OBJECT_FIELDS`; absent or JSON null also allowed) or not there at all, never an array.

    ``requestParameters.layers`` -> ``("requestParameters",)``: the record contents page lists the top-level
    keys (none dotted) and gives ``requestParameters`` as the request's parameters object; its own keys are
    the API's and may hold dots, so the walk stops there. ``resources.ARN`` -> ``()`` (an array). Targets use
    it to read that prefix with one plain path instead of walking arrays and dotted keys on it (the duckdb
    and athena targets' generic walk then starts below it).
    """
    parts = path.split(".")
    out: list[str] = []
    for i in range(1, len(parts)):
        prefix = ".".join(parts[:i])
        if prefix not in OBJECT_FIELDS:
            break
        out.append(parts[i - 1])
        if any(prefix == root or prefix.startswith(root + ".") for root in FREE_FORM):
            break  # the object's keys are the API's own: the next key may hold a dot
    return tuple(out)
