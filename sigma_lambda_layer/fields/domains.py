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

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

Kind = Literal["enum", "operations", "lowercase", "boolean", "number", "free"]
Shape = Literal["scalar", "object", "array"]

#: The canonical kinds: a case-insensitive comparison with a domain value is an exact one.
CANONICAL_KINDS: Final[frozenset[str]] = frozenset({"enum", "operations", "lowercase", "boolean", "number"})


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
    #: the botocore ``pattern`` a string member must match (a regular expression, as the model spells it)
    pattern: str | None = None

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
        if self.kind == "number":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if not self.canonical:
            return True
        if not isinstance(value, str):
            return False
        if self.kind == "lowercase":
            return value == value.lower() and value != "null"
        known = self.values()
        return known is not None and value in known

    def holds(self, value: Any) -> bool:
        """``value`` fits the domain in shape (scalar, object, array) and, where canonical, in spelling.
        CloudTrail's redaction marker fits any member."""
        if value == REDACTED:
            return True
        if value is None:
            return self.json_null or not self.canonical
        shape = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "scalar"
        return shape == self.shape and (shape != "scalar" or self.admits(value))


#: What CloudTrail writes instead of a sensitive parameter (SSM SendCommand ``parameters``; corpus: Stratus
#: Red Team and Invictus records), whatever the member's shape.
REDACTED: Final = "HIDDEN_DUE_TO_SECURITY_REASONS"

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


#: The operation names of every botocore service model, per endpoint prefix / signing name, generated from
#: botocore (its version is recorded in the file): reading it takes milliseconds where parsing the models
#: takes seconds. ``pytest tests/test_domains.py --update-golden`` regenerates it from the installed botocore.
OPERATIONS_FILE: Final = Path(__file__).resolve().parents[1] / "data" / "aws_operations.json"


def operations_data() -> dict[str, Any]:
    """``{"botocore": version, "sources": {name: [operation, ...]}}`` from the installed botocore."""
    from sigma_lambda_layer.checks.aws import _operations, default_catalog

    catalog = default_catalog()
    sources = {
        name: sorted(frozenset().union(*(_operations(m.path) for m in models)))
        for name, models in sorted(catalog.by_source_name.items())
    }
    return {"botocore": catalog.botocore_version, "sources": sources}


def operations_text(data: dict[str, Any]) -> str:
    """The file's text: one line per source, so a botocore upgrade reads as a diff of the services it moved."""
    import json

    lines = [
        f"{json.dumps(name)}: {json.dumps(ops, separators=(',', ':'))}"
        for name, ops in data["sources"].items()
    ]
    return '{"botocore": ' + json.dumps(data["botocore"]) + ', "sources": {\n' + ",\n".join(lines) + "\n}}\n"


@cache
def _operations_by_source() -> dict[str, frozenset[str]]:
    import json

    data = json.loads(OPERATIONS_FILE.read_text(encoding="utf-8"))
    return {name: frozenset(ops) for name, ops in data["sources"].items()}


@cache
def event_names(event_source: str | None = None) -> frozenset[str]:
    """Every ``eventName`` AWS writes, or only those of ``event_source`` (its botocore operations, Lambda's
    version-suffixed names and the non-API events of that source)."""
    from sigma_lambda_layer.checks import cloudtrail_events as ct

    by_source = _operations_by_source()
    if event_source is None:
        names = set().union(*by_source.values())
        names.update(n for extra in ct.EXTRA_EVENT_NAMES.values() for n in extra)
        lambda_ops = by_source.get("lambda", frozenset())
    else:
        names = set(by_source.get(event_source.lower().removesuffix(".amazonaws.com"), ()))
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


_KIND_TEXT: Final[dict[str, str]] = {
    "enum": "canonical",
    "operations": "canonical",
    "lowercase": "canonical (lowercase)",
    "boolean": "JSON boolean",
    "number": "JSON number",
    "free": "free text",
}


def markdown_table() -> str:
    """The domains as the Markdown table in docs/value-domains.md (generated, so it cannot drift)."""
    rows = [
        "| field | domain | spellings | shape | JSON null | string `null` | source |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, d in DOMAINS.items():
        if d.kind == "operations":
            spellings = "botocore operation names, Lambda's versioned names, non-API events"
        elif d.kind == "lowercase":
            spellings = "any value, always lowercase"
        elif d.kind == "boolean":
            spellings = "`true`, `false`"
        else:
            spellings = ", ".join(f"`{s}`" for s in sorted(d.spellings)) or "any"
        rows.append(
            f"| `{name}` | {_KIND_TEXT[d.kind]} | {spellings} | {d.shape} | {'yes' if d.json_null else 'no'} "
            f"| {'yes' if d.string_null else 'no'} | {d.source} |"
        )
    return "\n".join(rows)


# ----------------------------------------------------------------------------------- per-operation members

_SCALARS: Final[dict[str, Shape]] = {"structure": "object", "map": "object", "list": "array"}


@cache
def _model(path: str) -> dict[str, Any]:
    import json

    from sigma_lambda_layer.checks.aws import _read_all

    model: dict[str, Any] = json.loads(_read_all(Path(path)))
    return model


def _member_shape(
    model: dict[str, Any], operation: str, root: str, key: str
) -> tuple[str, dict[str, Any]] | None:
    op = model.get("operations", {}).get(operation)
    if op is None:
        return None
    ref = op.get("input" if root == "requestParameters" else "output") or {}
    shapes: dict[str, Any] = model.get("shapes", {})
    struct = shapes.get(ref.get("shape", ""), {})
    members: dict[str, Any] = struct.get("members", {})
    if root == "responseElements" and len(members) == 1:
        # Query-protocol results wrap one structure (RDS's DBInstance); CloudTrail logs it unwrapped.
        (only,) = members.values()
        inner = shapes.get(only.get("shape", ""), {})
        if inner.get("type") == "structure" and not any(
            key.lower() in {n.lower(), str(m.get("locationName", "")).lower()} for n, m in members.items()
        ):
            members = inner.get("members", {})
    for name, member in members.items():
        if key.lower() in {name.lower(), str(member.get("locationName", "")).lower()}:
            shape_name = member.get("shape", "")
            return shape_name, shapes.get(shape_name, {})
    return None


def _from_shape(root: str, where: str, shape: dict[str, Any]) -> Domain:
    kind = shape.get("type", "")
    source = f"botocore {where}"
    if kind in _SCALARS:
        return Domain("free", source, shape=_SCALARS[kind], json_null=True)
    caller = root == "requestParameters"  # failed calls log what the caller sent: not canonical
    if kind == "string" and shape.get("enum"):
        spellings = frozenset(str(v) for v in shape["enum"])
        if caller:
            return Domain(
                "free", f"{source} (enum; requestParameters echo the caller)", spellings, string_null=True
            )
        return Domain("enum", f"{source} (enum)", spellings)
    if kind == "boolean":
        return Domain("free" if caller else "boolean", f"{source} (boolean)", string_null=caller)
    if kind in ("integer", "long", "double", "float"):
        return Domain("free" if caller else "number", f"{source} ({kind})", string_null=caller)
    pattern = shape.get("pattern") if kind == "string" else None
    string_null = True
    if isinstance(pattern, str) and not caller:
        try:
            string_null = re.fullmatch(pattern, "null") is not None
        except re.error:  # a Java-only construct: assume it could
            string_null = True
    return Domain("free", f"{source} ({kind or 'unknown'})", string_null=string_null, pattern=pattern)


@cache
def member_domain(event_source: str, operation: str, root: str, key: str) -> Domain | None:
    """The domain of ``<root>.<key>`` (``root`` is ``requestParameters`` or ``responseElements``, ``key`` a
    top-level member, compared case-insensitively as CloudTrail lower-cases first letters) for one operation,
    from botocore's shapes: an enum, boolean or number in ``responseElements`` is canonical (the service
    writes it from its model); in ``requestParameters`` it is free (a failed call logs what the caller sent).
    Structures, maps and lists give the shape. None when no model of the source has the operation and key,
    or when the models (API versions) disagree."""
    from sigma_lambda_layer.checks import cloudtrail_events as ct
    from sigma_lambda_layer.checks.aws import default_catalog

    name = event_source.lower().removesuffix(".amazonaws.com")
    base = ct.VERSION_SUFFIX_RE.sub("", operation) if event_source in ct.VERSION_SUFFIXES else operation
    found: set[Domain] = set()
    for model in default_catalog().by_source_name.get(name, ()):
        for op in {operation, base}:
            hit = _member_shape(_model(str(model.path)), op, root, key)
            if hit is not None:
                where = f"{model.service} {model.api_version} {op} {root}.{key}: shape {hit[0]}"
                found.add(_from_shape(root, where, hit[1]))
    if len({(d.kind, d.shape) for d in found}) != 1:
        return None
    # API versions add enum values over time (EC2's InstanceAttributeName): any of them can be written.
    first = sorted(found, key=lambda d: d.source)[-1]
    spellings = frozenset().union(*(d.spellings for d in found))
    return Domain(
        first.kind,
        first.source + (f" and {len(found) - 1} other API versions" if len(found) > 1 else ""),
        spellings,
        first.shape,
        any(d.json_null for d in found),
        any(d.string_null for d in found),
        first.pattern,
    )


@cache
def member_null_readings(event_source: str, operation: str, field: str) -> tuple[bool, bool] | None:
    """``(json_null, string_null)`` for the scalar CloudTrail field ``field`` (``requestParameters.<path>`` or
    ``responseElements.<path>``, nested keys and list elements included) on records of one operation, from
    botocore's shapes; None when no model of the source has the path or it ends in an object.

    JSON null is ruled out below the two roots: AWS serialises a request or response from its model and omits
    an absent member rather than writing ``null`` (of the 794 records of the project's CloudTrail corpus, the
    only nulls are whole ``requestParameters``/``responseElements`` objects). The string ``"null"`` is ruled
    out as :func:`member_domain` rules it out for a top-level key: a response enum, boolean, number or
    pattern-constrained string that cannot be ``null``; a request member echoes the caller and may be anything.
    """
    from sigma_lambda_layer.checks import cloudtrail_events as ct
    from sigma_lambda_layer.checks.aws import default_catalog

    root, _, rest = field.partition(".")
    if root not in ("requestParameters", "responseElements") or not rest:
        return None
    first, *path = rest.split(".")
    name = event_source.lower().removesuffix(".amazonaws.com")
    base = ct.VERSION_SUFFIX_RE.sub("", operation) if event_source in ct.VERSION_SUFFIXES else operation
    found: set[tuple[bool, bool]] = set()
    for model in default_catalog().by_source_name.get(name, ()):
        data = _model(str(model.path))
        shapes: dict[str, Any] = data.get("shapes", {})
        for op in {operation, base}:
            hit = _member_shape(data, op, root, first)
            if hit is None:
                continue
            shape_name, shape = hit
            for key in path:
                while shape.get("type") == "list":  # a path runs through every element of a list
                    shape = shapes.get(shape.get("member", {}).get("shape", ""), {})
                members = shape.get("members", {}) if shape.get("type") == "structure" else {}
                nxt = [
                    m
                    for n, m in members.items()
                    if key.lower() in {n.lower(), str(m.get("locationName", "")).lower()}
                ]
                if len(nxt) != 1:
                    return None
                shape_name = nxt[0].get("shape", "")
                shape = shapes.get(shape_name, {})
            while shape.get("type") == "list":  # Splunk reads the elements (``field{}``)
                shape_name = shape.get("member", {}).get("shape", "")
                shape = shapes.get(shape_name, {})
            if shape.get("type") in _SCALARS or not shape:
                return None
            leaf = _from_shape(root, f"{model.service} {op} {field}: shape {shape_name}", shape)
            found.add((False, leaf.string_null))
    if not found:
        return None
    return False, any(s for _, s in found)
