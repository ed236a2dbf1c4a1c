"""Value domains of CloudTrail fields, as data: which values AWS can write in a field, and how it spells them.

A field is **canonical** when AWS writes each of its values in one spelling only, so that on every record AWS
can write, a case-insensitive comparison with a domain value is the same as an exact comparison with its
canonical spelling. The canonicalisation step (:mod:`sigma_lambda_layer.pipelines.canonical`) relies on that
to turn ``eventName: createuser`` into the exact ``CreateUser``, which every target can search as a plain
term. A field is **free** when its values are caller- or user-chosen text (user agents, ARNs with user-chosen
names, error messages) or when AWS is seen spelling one value several ways; those stay case-insensitive.

Each :class:`Domain` names its source. The kinds:

- ``enum``: the spellings are listed (``responseElements.ConsoleLogin``: ``Success``/``Failure``).
- ``operations``: ``eventName``, the operation names of every botocore service model (CloudTrail User Guide,
  "CloudTrail record contents": eventName is "the requested action, which is one of the actions in the API
  for that service"), Lambda's version-suffixed names (``UpdateFunctionConfiguration20150331v2``, AWS Lambda
  Developer Guide, "Logging AWS Lambda API calls using AWS CloudTrail") and CloudTrail's non-API events
  (``ConsoleLogin``...), both from :mod:`sigma_lambda_layer.checks.cloudtrail_events`.
- ``lowercase``: every value is written in lowercase (``eventSource``: "the service that the request was made
  to ... the short form of the service name without spaces plus ``.amazonaws.com``", which is the lowercase
  endpoint prefix or signing name; ``awsRegion``: region codes such as ``us-east-1``).
- ``boolean``: a JSON boolean, whose text is ``true``/``false``.
- ``free``: not canonical.

``shape`` says whether the value is a scalar, an object or an array; ``json_null`` whether JSON ``null`` can
occur; ``string_null`` whether the literal string ``"null"`` can. A canonical field never holds the string
``"null"``: it is not a spelling in its domain.

Request parameters are deliberately not canonical even where botocore's shape is an enum: CloudTrail logs
failed calls too (``errorCode: ValidationException``) with ``requestParameters`` as the caller sent them, so
``instanceType: "T2.MICRO"`` is a record AWS can write. Response elements are written by the service and
follow its model; :func:`member_domain` gives those per operation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal

Kind = Literal["enum", "operations", "lowercase", "boolean", "free"]
Shape = Literal["scalar", "object", "array"]

#: The canonical kinds: a case-insensitive comparison with a domain value is an exact one.
CANONICAL_KINDS: Final[frozenset[str]] = frozenset({"enum", "operations", "lowercase", "boolean"})


@dataclass(frozen=True)
class Domain:
    """What AWS can write in one CloudTrail field."""

    kind: Kind
    source: str
    #: the canonical spellings (``enum``); every spelling AWS is seen to use (``free`` fields with a note)
    spellings: frozenset[str] = frozenset()
    shape: Shape = "scalar"
    json_null: bool = False
    string_null: bool = False

    @property
    def canonical(self) -> bool:
        return self.kind in CANONICAL_KINDS

    def values(self) -> frozenset[str] | None:
        """The closed list of spellings, or None where the domain is a rule (``lowercase``) or free."""
        if self.kind == "enum":
            return self.spellings
        if self.kind == "operations":
            return event_names()
        if self.kind == "boolean":
            return frozenset({"true", "false"})
        return None

    def admits(self, value: Any) -> bool:
        """``value`` (one JSON leaf of a record) is a value AWS writes in this field, in its canonical
        spelling. Free fields admit anything; JSON null only where ``json_null`` says so."""
        if value is None:
            return self.json_null or not self.canonical
        if self.kind == "boolean":
            return isinstance(value, bool)
        if not self.canonical:
            return True
        if not isinstance(value, str):
            return False
        if self.kind == "lowercase":
            return value == value.lower() and value != "null"
        known = self.values()
        return known is not None and value in known


_USER_GUIDE: Final = "AWS CloudTrail User Guide"
_RECORD: Final = (
    f"{_USER_GUIDE}, 'CloudTrail record contents for management, data, and network activity events'"
)
_IDENTITY: Final = f"{_USER_GUIDE}, 'CloudTrail userIdentity element'"

#: Fixed fields of the record (dotted paths as Sigma rules name them).
DOMAINS: Final[Mapping[str, Domain]] = {
    "eventSource": Domain(
        "lowercase",
        f"{_RECORD}: eventSource, the service's short name plus .amazonaws.com; botocore endpoint prefixes "
        "and signing names, plus checks/cloudtrail_events.EXTRA_EVENT_SOURCES",
    ),
    "eventName": Domain(
        "operations",
        f"{_RECORD}: eventName; botocore service models (operation names), Lambda's version suffixes and "
        "CloudTrail's non-API events (checks/cloudtrail_events)",
    ),
    "awsRegion": Domain("lowercase", f"{_RECORD}: awsRegion (region codes such as us-east-2)"),
    "eventType": Domain(
        "enum",
        f"{_RECORD}: eventType; '{_USER_GUIDE}, Non-API events captured by CloudTrail'",
        frozenset(
            {
                "AwsApiCall",
                "AwsServiceEvent",
                "AwsConsoleAction",
                "AwsConsoleSignIn",
                "AwsCloudTrailInsight",
                "AwsVpceEvent",
            }
        ),
    ),
    "eventCategory": Domain(
        "enum",
        f"{_RECORD}: eventCategory (Management, Data, NetworkActivity; Insight for Insights events)",
        frozenset({"Management", "Data", "NetworkActivity", "Insight"}),
    ),
    "userIdentity.type": Domain(
        "enum",
        f"{_IDENTITY}: type, and 'Values for AWS STS APIs with SAML and web identity federation' (SAMLUser, "
        "WebIdentityUser)",
        frozenset(
            {
                "Root",
                "IAMUser",
                "AssumedRole",
                "Role",
                "FederatedUser",
                "Directory",
                "AWSAccount",
                "AWSService",
                "IdentityCenterUser",
                "Unknown",
                "SAMLUser",
                "WebIdentityUser",
            }
        ),
    ),
    "userIdentity.sessionContext.sessionIssuer.type": Domain(
        "enum",
        f"{_IDENTITY}: sessionIssuer type, 'The source of the temporary security credentials, such as Root, "
        "IAMUser, or Role'",
        frozenset({"Root", "IAMUser", "Role"}),
    ),
    "userIdentity.sessionContext.attributes.mfaAuthenticated": Domain(
        "enum",
        f"{_IDENTITY}: attributes.mfaAuthenticated, the string 'true' or 'false'",
        frozenset({"true", "false"}),
    ),
    "readOnly": Domain("boolean", f"{_RECORD}: readOnly, a JSON boolean"),
    "managementEvent": Domain("boolean", f"{_RECORD}: managementEvent, a JSON boolean"),
    "sessionCredentialFromConsole": Domain(
        "enum",
        f"{_RECORD}: sessionCredentialFromConsole, the string 'true' when present",
        frozenset({"true"}),
    ),
    "tlsDetails.tlsVersion": Domain(
        "enum",
        f"{_RECORD}: tlsDetails.tlsVersion ('TLSv1.2', 'TLSv1.3'; older clients TLSv1, TLSv1.1)",
        frozenset({"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}),
    ),
    "responseElements.ConsoleLogin": Domain(
        "enum",
        f"{_USER_GUIDE}, 'AWS Management Console sign-in events': ConsoleLogin is Success or Failure",
        frozenset({"Success", "Failure"}),
    ),
    # AWS is not consistent here: the user guide's sign-in examples show "MFAUsed": "Yes" and "No", and one
    # AWS example record shows "YES" (corpus: awsdocs_user-guide_examples). So the field stays
    # case-insensitive; the spellings seen are listed for the record.
    "additionalEventData.MFAUsed": Domain(
        "free",
        f"{_USER_GUIDE}, 'AWS Management Console sign-in events' (Yes/No) and an AWS example with YES",
        frozenset({"Yes", "No", "YES"}),
    ),
    "additionalEventData.MobileVersion": Domain(
        "free",
        f"{_USER_GUIDE}, 'AWS Management Console sign-in events' (Yes/No); kept free like MFAUsed",
        frozenset({"Yes", "No"}),
    ),
    # Free text, but never null: AWS omits these keys rather than writing a JSON null (none of the corpus's
    # 794 records holds a null leaf), and neither value can be the string "null" (an error name such as
    # AccessDenied or Client.UnauthorizedOperation; an ARN starts with "arn:"). The Splunk target relies on
    # this to write errorCode: null as NOT errorCode=* (backends/splunk.py).
    "errorCode": Domain(
        "free",
        f"{_RECORD}: errorCode, 'the AWS service error if the request returns an error', absent otherwise",
    ),
    "userIdentity.arn": Domain(
        "free", f"{_IDENTITY}: arn, 'the Amazon Resource Name (ARN) of the principal that made the call'"
    ),
    "resources": Domain("free", f"{_RECORD}: resources, a list of objects", shape="array"),
    "requestParameters": Domain(
        "free", f"{_RECORD}: requestParameters, null when the API takes none", shape="object", json_null=True
    ),
    "responseElements": Domain(
        "free",
        f"{_RECORD}: responseElements, null for read-only APIs and failed calls",
        shape="object",
        json_null=True,
    ),
    "additionalEventData": Domain("free", f"{_RECORD}: additionalEventData", shape="object"),
    "userIdentity": Domain("free", _IDENTITY, shape="object"),
}


def domain(field: str) -> Domain | None:
    """The domain of a fixed CloudTrail field (a dotted path), or None when nothing is known about it."""
    return DOMAINS.get(field)


def canonical_fields() -> Iterator[str]:
    """The fields whose domain is canonical, in table order."""
    return (name for name, d in DOMAINS.items() if d.canonical)


@cache
def event_names(event_source: str | None = None) -> frozenset[str]:
    """Every ``eventName`` AWS writes, or only those of ``event_source`` (its botocore operations, Lambda's
    version-suffixed names and the non-API events of that source). Reads botocore's models (cached)."""
    from sigma_lambda_layer.checks import cloudtrail_events as ct
    from sigma_lambda_layer.checks.aws import default_catalog

    catalog = default_catalog()
    if event_source is None:
        names = set(catalog.all_operations())
        names.update(n for extra in ct.EXTRA_EVENT_NAMES.values() for n in extra)
        lambda_ops = catalog.operations("lambda.amazonaws.com") or frozenset()
    else:
        names = set(catalog.operations(event_source) or ())
        names.update(ct.EXTRA_EVENT_NAMES.get(event_source, {}))
        lambda_ops = frozenset(names) if event_source == "lambda.amazonaws.com" else frozenset()
    for suffix in ct.VERSION_SUFFIXES["lambda.amazonaws.com"]:
        names.update(op + suffix for op in lambda_ops)
    return frozenset(names)


def event_sources() -> frozenset[str]:
    """Every ``eventSource`` botocore and the extras table know (lowercase, as CloudTrail writes them)."""
    from sigma_lambda_layer.checks import cloudtrail_events as ct
    from sigma_lambda_layer.checks.aws import default_catalog

    return frozenset(s.lower() for s in default_catalog().event_sources()) | frozenset(ct.EXTRA_EVENT_SOURCES)
