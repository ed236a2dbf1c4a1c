"""The CloudTrail table of Amazon Athena, as data: its columns, the row Athena reads from a record, its DDL.

Source: Amazon Athena User Guide, "Querying AWS CloudTrail logs", "Create the table for CloudTrail logs in
Athena using partition projection" and "Create a table for CloudTrail logs in Athena using manual
partitioning" (docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html): every
column name lowercase; every scalar ``STRING`` (``eventtime`` and ``readonly`` too); ``useridentity`` and
``tlsdetails`` structs; ``requestparameters``, ``responseelements``, ``additionaleventdata`` and
``serviceeventdetails`` ``STRING`` columns holding JSON text ("use JSON_EXTRACT functions"); ``resources`` an
``ARRAY<STRUCT<arn, accountid, type>>``; the ``org.apache.hive.hcatalog.data.JsonSerDe`` SerDe over the
``com.amazon.emr.cloudtrail.CloudTrailInputFormat`` input format, which hands the SerDe one record at a time.

A table is a tree of :class:`Node` (``string``, ``json`` text, ``struct``, ``array``, ``map`` and, for other
tables, ``bigint``/``boolean``), so that a second table (Amazon Security Lake's OCSF table) is another
:class:`TableSchema` the same backend reads: the backend chooses its syntax from the node kinds
(:func:`resolve`), never from a table's name. A schema is registered by id in :data:`SCHEMAS`
(``module:attribute``, loaded on first use); pipelines name the id in their state (:data:`STATE_SCHEMA`).

**How the SerDe reads a record** (:func:`athena_row`). Athena engine v3 reads Hive JSON tables with Trino's
``io.trino.hive.formats.line.json.JsonDeserializer``, "bug for bug compatible with Hive JsonSerDe"
(trinodb/trino, lib/trino-hive-formats; Hive's own ``hcatalog`` ``JsonSerDe`` reads alike):

- a struct member (a column too) is found by its key lowercased with ``Locale.ROOT``, so ``principalId`` and
  ``principalid`` both land in ``principalid``; when a record holds both (CloudTrail's case-colliding keys,
  17 such pairs in real records, see docs/targets/athena.md), **the last one in the record wins** (the member
  is reset and decoded again);
- a key with no column is skipped (``skipNextValue``): undeclared CloudTrail fields are not in the row;
- a ``STRING`` column takes a JSON string as it is and a number or boolean as its JSON text
  (``parser.getText()``: ``true``, ``42``); JSON ``null`` is SQL NULL; an object or array in a scalar column
  is a parse error of the whole row (Trino: "value must be a scalar json value");
- the four JSON-text columns hold the member's JSON text (the CloudTrail input format's documented contract:
  the Athena pages query them with ``json_extract``); here the text of any JSON value, compact.

The proxy (``engines/athena.py``) loads exactly these rows into DuckDB in the DDL's column types.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal

NodeKind = Literal[
    "string", "json", "struct", "array", "map", "bigint", "boolean", "double", "int", "timestamp"
]

#: Pipeline state key naming the table schema a rule's fields are resolved in (a :data:`SCHEMAS` id).
STATE_SCHEMA: Final = "athena_schema"


@dataclass(frozen=True)
class Node:
    """One column, struct member or array element of a table: its DDL name and kind."""

    name: str
    kind: NodeKind
    #: struct members (``struct``); the element (``array``, one node named ``""``); the value (``map``)
    members: tuple[Node, ...] = ()
    #: where the value comes from, for the docs' field table (``userIdentity.sessionContext.sessionIssuer.arn``)
    doc: str = ""
    #: a ``json`` node whose CloudTrail value is a JSON object in every record AWS writes
    #: (:data:`sigma_lambda_layer.fields.cloudtrail.OBJECT_FIELDS`), so its text is never an array: the
    #: backend reads its keys without trying the column itself as an array (see :func:`json_object`)
    json_object: bool = False

    def member(self, name: str) -> Node | None:
        """The struct member called ``name`` (DDL names are lowercase; the SerDe matches lowercased keys)."""
        return next((m for m in self.members if m.name == name), None)

    @property
    def element(self) -> Node:
        """The element node of an ``array`` (the value node of a ``map``)."""
        return self.members[0]


@dataclass(frozen=True)
class Partition:
    """A partition column and the ``TBLPROPERTIES`` of its projection."""

    name: str
    #: the value of ``projection.<name>.type``
    projection: Literal["date", "enum", "injected"]
    doc: str = ""


@dataclass(frozen=True)
class TableSchema:
    """A table: its columns in DDL order, its partition columns, and where its shape is documented."""

    id: str
    columns: tuple[Node, ...]
    source: str
    partitions: tuple[Partition, ...] = ()
    #: CloudTrail field name -> node path in this table, for a table that reads the fields by other names
    #: (OCSF): when given, it is the whole field table; a free-form root (``requestParameters``) maps its
    #: subtree, the keys kept (``api.request.data.bucketName``). The CloudTrail table reads every field by
    #: its lowercased name: empty.
    renames: Mapping[str, str] = field(default_factory=dict)

    def column(self, name: str) -> Node | None:
        return next((c for c in self.columns if c.name == name), None)


def _s(name: str, doc: str = "") -> Node:
    return Node(name, "string", doc=doc)


def _struct(name: str, *members: Node, doc: str = "") -> Node:
    return Node(name, "struct", members, doc=doc)


def json_object(name: str, cloudtrail: str) -> Node:
    """A ``json`` column or member holding the CloudTrail field ``cloudtrail`` as JSON text, marked
    ``json_object`` where the CloudTrail schema proves that field an object in every record."""
    from sigma_lambda_layer.fields.cloudtrail import OBJECT_FIELDS

    return Node(name, "json", json_object=cloudtrail in OBJECT_FIELDS)


_SESSION_ISSUER = _struct(
    "sessionissuer", _s("type"), _s("principalid"), _s("arn"), _s("accountid"), _s("username")
)

#: The CloudTrail table of the Athena User Guide's partition-projection page, column for column.
CLOUDTRAIL: Final = TableSchema(
    id="cloudtrail",
    source=(
        "Amazon Athena User Guide, 'Create the table for CloudTrail logs in Athena using partition projection'"
    ),
    columns=(
        _s("eventversion"),
        _struct(
            "useridentity",
            _s("type"),
            _s("principalid"),
            _s("arn"),
            _s("accountid"),
            _s("invokedby"),
            _s("accesskeyid"),
            _s("username"),
            _struct("onbehalfof", _s("userid"), _s("identitystorearn")),
            _struct(
                "sessioncontext",
                _struct("attributes", _s("mfaauthenticated"), _s("creationdate")),
                _SESSION_ISSUER,
                _s("ec2roledelivery"),
                _struct(
                    "webidfederationdata",
                    _s("federatedprovider"),
                    Node("attributes", "map", (_s(""),)),
                ),
            ),
        ),
        _s("eventtime"),
        _s("eventsource"),
        _s("eventname"),
        _s("awsregion"),
        _s("sourceipaddress"),
        _s("useragent"),
        _s("errorcode"),
        _s("errormessage"),
        json_object("requestparameters", "requestParameters"),
        json_object("responseelements", "responseElements"),
        json_object("additionaleventdata", "additionalEventData"),
        _s("requestid"),
        _s("eventid"),
        _s("readonly"),
        Node("resources", "array", (_struct("", _s("arn"), _s("accountid"), _s("type")),)),
        _s("eventtype"),
        _s("apiversion"),
        _s("recipientaccountid"),
        json_object("serviceeventdetails", "serviceEventDetails"),
        _s("sharedeventid"),
        _s("vpcendpointid"),
        _s("vpcendpointaccountid"),
        _s("eventcategory"),
        _struct(
            "addendum", _s("reason"), _s("updatedfields"), _s("originalrequestid"), _s("originaleventid")
        ),
        _s("sessioncredentialfromconsole"),
        _s("edgedevicedetails"),
        _struct("tlsdetails", _s("tlsversion"), _s("ciphersuite"), _s("clientprovidedhostheader")),
    ),
    partitions=(
        Partition("timestamp", "date", "the day of the log file, yyyy/MM/dd (projection.timestamp.format)"),
    ),
)

#: Organisation-trail partitions (LOCATION ``.../AWSLogs/<org-id>/``): member account and region, then day.
ORGANIZATION_PARTITIONS: Final = (
    Partition("account", "enum", "the member account id of the log file's prefix"),
    Partition("region", "enum", "the Region of the log file's prefix"),
    CLOUDTRAIL.partitions[0],
)

#: Table schemas by id, as ``module:attribute`` (loaded on first use; other tables register here).
SCHEMAS: Final[dict[str, str]] = {
    "cloudtrail": "sigma_lambda_layer.fields.athena:CLOUDTRAIL",
    "ocsf": "sigma_lambda_layer.fields.ocsf:SECURITY_LAKE",
}


@cache
def schema(schema_id: str) -> TableSchema:
    """The table schema registered as ``schema_id``."""
    module, _, name = SCHEMAS[schema_id].partition(":")
    found: TableSchema = getattr(importlib.import_module(module), name)
    return found


# --------------------------------------------------------------------------------------- field resolution


@dataclass(frozen=True)
class Step:
    """One node on the way from a column to a field's value: the node, and its DDL name (the SQL path)."""

    node: Node
    name: str


@dataclass(frozen=True)
class Resolved:
    """Where a table path leads: the nodes walked from the column (arrays included), and, when the path
    enters a JSON-text column, the dotted remainder read inside its JSON (``None`` otherwise)."""

    steps: tuple[Step, ...]
    json_rest: str | None = None

    @property
    def leaf(self) -> Node:
        return self.steps[-1].node


def resolve(table: TableSchema, path: str) -> Resolved | None:
    """The nodes of ``path`` (``useridentity.sessioncontext.sessionissuer.arn``, ``resources.arn``,
    ``requestparameters.bucketName``) in ``table``, or None if the table has no such column or member.

    An array node is walked through to its element (the value is any element's); a map takes one more
    segment as its key; below a JSON-text column the rest of the path is JSON keys (returned whole, since a
    JSON key may itself hold dots).
    """
    segments = path.split(".")
    node = table.column(segments[0])
    if node is None:
        return None
    steps = [Step(node, node.name)]
    i = 1
    while True:
        if node.kind == "array":
            node = node.element
            steps.append(Step(node, ""))
            continue
        if i == len(segments):
            return Resolved(tuple(steps))
        if node.kind == "json":
            return Resolved(tuple(steps), ".".join(segments[i:]))
        if node.kind == "map":
            steps.append(Step(node.element, ".".join(segments[i:])))
            return Resolved(tuple(steps))
        if node.kind != "struct":
            return None
        found = node.member(segments[i])
        if found is None:
            return None
        node = found
        steps.append(Step(node, node.name))
        i += 1


def table_paths(table: TableSchema) -> list[tuple[str, Node]]:
    """Every leaf path of ``table`` (``useridentity.sessioncontext.sessionissuer.arn``) with its node; an array
    of structs gives one path per member of the element."""
    out: list[tuple[str, Node]] = []

    def walk(prefix: str, node: Node) -> None:
        if node.kind == "struct":
            for m in node.members:
                walk(f"{prefix}.{m.name}" if prefix else m.name, m)
        elif node.kind == "array" and node.element.kind == "struct":
            walk(prefix, node.element)
        else:
            out.append((prefix, node))

    for column in table.columns:
        walk(column.name, column)
    return out


# --------------------------------------------------------------------------------------- the row


def _lower_keys(record: Mapping[str, Any]) -> dict[str, Any]:
    """Keys lowercased (``Locale.ROOT``), the last of colliding keys winning, as the SerDe reads them."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out[key.lower()] = value
    return out


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _read(node: Node, value: Any) -> Any:
    """The value the SerDe decodes for ``node`` from one JSON value (None: SQL NULL)."""
    if value is None:
        return None
    kind = node.kind
    if kind == "json":
        return _json_text(value)
    if kind == "string":
        if isinstance(value, str):
            return value
        # Numbers and booleans: their JSON text. An object or array fails the row in Athena; the proxy keeps
        # its JSON text (docs/targets/athena.md, "Limits").
        return _json_text(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind in ("bigint", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            return int(value) if kind == "bigint" else float(value)
        except ValueError:
            return None
    if kind == "struct":
        if not isinstance(value, Mapping):
            return None  # Athena: "start of object expected" (the row fails); the proxy reads NULL
        keys = _lower_keys(value)
        return {m.name: _read(m, keys.get(m.name)) for m in node.members}
    if kind == "array":
        if not isinstance(value, list):
            return None
        return [_read(node.element, v) for v in value]
    if kind == "map":
        if not isinstance(value, Mapping):
            return None
        return {str(k): _read(node.element, v) for k, v in value.items()}
    raise ValueError(f"unknown node kind {kind!r}")  # pragma: no cover - Literal


def athena_row(record: Mapping[str, Any], table: TableSchema = CLOUDTRAIL) -> dict[str, Any]:
    """The row Athena reads from one CloudTrail record: one value per column, as the SerDe decodes it (see
    the module docstring). Partition values are not in the record (they come from the S3 prefix)."""
    keys = _lower_keys(record)
    return {c.name: _read(c, keys.get(c.name)) for c in table.columns}


# --------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class _TypeSpelling:
    """How one SQL dialect spells the node kinds (a dialect difference as data)."""

    text: str
    member: str  # a struct member: {name}, {type}
    struct: str  # {members}
    array: str  # {element}
    map: str  # {value}


_HIVE = _TypeSpelling(
    "STRING", "{name}:{type}", "STRUCT<{members}>", "ARRAY<{element}>", "MAP<STRING,{value}>"
)
_DUCKDB = _TypeSpelling(
    "VARCHAR", '"{name}" {type}', "STRUCT({members})", "{element}[]", "MAP(VARCHAR, {value})"
)


def _spell(node: Node, how: _TypeSpelling) -> str:
    if node.kind in ("string", "json"):
        return how.text
    if node.kind == "struct":
        members = ", ".join(how.member.format(name=m.name, type=_spell(m, how)) for m in node.members)
        return how.struct.format(members=members)
    if node.kind == "array":
        return how.array.format(element=_spell(node.element, how))
    if node.kind == "map":
        return how.map.format(value=_spell(node.element, how))
    return node.kind.upper()  # BIGINT, BOOLEAN, DOUBLE, INT, TIMESTAMP: one spelling in both


def hive_type(node: Node) -> str:
    """The node's type as the DDL spells it (``STRUCT<type:STRING,...>``)."""
    return _spell(node, _HIVE)


def duckdb_type(node: Node) -> str:
    """The node's type in DuckDB (the offline proxy's table): VARCHAR, STRUCT(...), ...[], MAP(...)."""
    return _spell(node, _DUCKDB)


# --------------------------------------------------------------------------------------- DDL

_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]*")
_DAY = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2}")


def quote_identifier(name: str) -> str:
    """A Hive DDL identifier in backquotes (a backquote doubled), e.g. the ``timestamp`` partition."""
    if not name or "\x00" in name or "\n" in name:
        raise ValueError(f"invalid identifier {name!r}")
    return "`" + name.replace("`", "``") + "`"


def quote_literal(text: str) -> str:
    """A single-quoted DDL string literal. Options are checked against their patterns first, so this only
    guards: no quote, backslash or line break can reach the statement."""
    if any(c in text for c in "'\\\n\r\x00"):
        raise ValueError(f"{text!r} cannot be a DDL string literal")
    return f"'{text}'"


@dataclass(frozen=True)
class Location:
    """Where a trail's files are: ``s3://<bucket>/<prefix>/AWSLogs/[<org id>/]<account>/CloudTrail/<region>/``."""

    bucket: str
    prefix: str = ""
    #: organisation trail: the organisation id (``o-...``); the account and region become partitions
    org_id: str | None = None
    #: the account (one trail) or the member accounts (an organisation trail's ``enum`` projection)
    accounts: Sequence[str] = ()
    #: the Region (one trail) or the Regions of the ``enum`` projection
    regions: Sequence[str] = ()
    #: first day of the ``timestamp`` projection (``yyyy/MM/dd``)
    start: str = "2020/01/01"

    def check(self) -> None:
        """Refuse a value that is not what AWS names it (the DDL must not carry anything else)."""
        problems = []
        if not _BUCKET.fullmatch(self.bucket):
            problems.append(f"bucket {self.bucket!r} is not an S3 bucket name")
        if not _PREFIX.fullmatch(self.prefix) or "//" in self.prefix:
            problems.append(f"prefix {self.prefix!r} holds characters outside S3's safe key characters")
        if self.org_id is not None and not _ORG_ID.fullmatch(self.org_id):
            problems.append(f"org_id {self.org_id!r} is not an AWS Organizations id (o-...)")
        problems += [
            f"account {a!r} is not a 12-digit account id" for a in self.accounts if not _ACCOUNT.fullmatch(a)
        ]
        problems += [f"region {r!r} is not a Region code" for r in self.regions if not _REGION.fullmatch(r)]
        if not _DAY.fullmatch(self.start):
            problems.append(f"start {self.start!r} is not a yyyy/MM/dd day")
        if not self.accounts:
            problems.append("no account: give the account id (accounts=111122223333[,...])")
        if not self.regions:
            problems.append("no Region: give the Region code(s) (regions=us-east-1[,...])")
        if self.org_id is None and (len(self.accounts) > 1 or len(self.regions) > 1):
            problems.append("several accounts or Regions need an organisation trail (org_id=o-...)")
        if problems:
            raise ValueError("; ".join(problems))

    def base(self) -> str:
        prefix = self.prefix.strip("/")
        root = f"s3://{self.bucket}/" + (f"{prefix}/" if prefix else "") + "AWSLogs/"
        return root + (f"{self.org_id}/" if self.org_id else "")


def ddl(
    location: Location,
    table: str = "cloudtrail_logs",
    database: str = "default",
    schema_: TableSchema = CLOUDTRAIL,
) -> str:
    """``CREATE EXTERNAL TABLE`` for ``location`` with partition projection (the Athena User Guide's statement):
    ``timestamp`` (``date``, ``yyyy/MM/dd``, from ``start`` to ``NOW``) for one trail in one Region, plus
    ``account`` and ``region`` (``enum``) for an organisation trail, so a time window prunes partitions."""
    location.check()
    org = location.org_id is not None
    partitions = ORGANIZATION_PARTITIONS if org else schema_.partitions
    columns = ",\n".join(f"    {c.name} {hive_type(c)}" for c in schema_.columns)
    parted = ", ".join(f"{quote_identifier(p.name)} string" for p in partitions)
    if org:
        location_text = location.base()
        template = location.base() + "${account}/CloudTrail/${region}/${timestamp}"
    else:
        location_text = location.base() + f"{location.accounts[0]}/CloudTrail/{location.regions[0]}/"
        template = location_text + "${timestamp}"
    properties = [("projection.enabled", "true")]
    if org:
        properties += [
            ("projection.account.type", "enum"),
            ("projection.account.values", ",".join(location.accounts)),
            ("projection.region.type", "enum"),
            ("projection.region.values", ",".join(location.regions)),
        ]
    properties += [
        ("projection.timestamp.type", "date"),
        ("projection.timestamp.format", "yyyy/MM/dd"),
        ("projection.timestamp.interval", "1"),
        ("projection.timestamp.interval.unit", "DAYS"),
        ("projection.timestamp.range", f"{location.start},NOW"),
        ("storage.location.template", template),
    ]
    props = ",\n".join(f"  {quote_literal(k)}={quote_literal(v)}" for k, v in properties)
    name = f"{quote_identifier(database)}.{quote_identifier(table)}"
    return (
        f"CREATE EXTERNAL TABLE {name} (\n{columns}\n)\n"
        f"PARTITIONED BY ({parted})\n"
        "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n"
        "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n"
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        f"LOCATION {quote_literal(location_text)}\n"
        f"TBLPROPERTIES (\n{props}\n)"
    )


# --------------------------------------------------------------------------------------- the row as a record


@cache
def _spellings() -> dict[str, str]:
    """Lowercased CloudTrail path -> CloudTrail's spelling of its last key, from the record schema."""
    from sigma_lambda_layer.fields.cloudtrail import FIXED_FIELDS, FREE_FORM

    out: dict[str, str] = {}
    for path in (*FIXED_FIELDS, *FREE_FORM):
        parts = path.split(".")
        for i in range(1, len(parts) + 1):
            out.setdefault(".".join(parts[:i]).lower(), parts[i - 1])
    return out


def as_record(row: Mapping[str, Any], table: TableSchema = CLOUDTRAIL) -> dict[str, Any]:
    """The CloudTrail record a row of the CloudTrail table stands for: each column and member under
    CloudTrail's spelling of its key, the JSON-text columns parsed, NULLs left out.

    It is what any query over the table can know of the record: the reference evaluator run on it gives the
    answer an exact Athena query must give (the fidelity harness counts a difference the row explains, such
    as a record's ``sessioncontext`` read as ``sessionContext``, as a storage gap, not a wrong query).
    """
    spelled = _spellings()

    def back(node: Node, value: Any, path: str) -> Any:
        if value is None:
            return None
        if node.kind == "json":
            return json.loads(value)
        if node.kind == "struct":
            out = {}
            for m in node.members:
                inner = back(m, value.get(m.name), f"{path}.{m.name}" if path else m.name)
                if inner is not None:
                    out[spelled.get(f"{path}.{m.name}" if path else m.name, m.name)] = inner
            return out
        if node.kind == "array":
            return [back(node.element, v, path) for v in value]
        return value

    record: dict[str, Any] = {}
    for column in table.columns:
        value = back(column, row.get(column.name), column.name)
        if value is not None:
            record[spelled.get(column.name, column.name)] = value
    return record


# --------------------------------------------------------------------------------------- the field table


def cloudtrail_path(field: str, table: TableSchema = CLOUDTRAIL) -> str | None:
    """The table path of a CloudTrail field: a fixed field's lowercased path, a free-form field's JSON-text
    column (or map) with its keys as CloudTrail spells them; None where the table has no column for it, or the
    name is not CloudTrail's spelling of a field (the pipeline refuses both, saying which)."""
    from sigma_lambda_layer.fields.cloudtrail import FIXED_FIELDS, FREE_FORM

    root = next((r for r in sorted(FREE_FORM, key=len, reverse=True) if field.startswith(r + ".")), None)
    if table.renames:  # another table (OCSF): only its field table counts, a subtree root carrying its keys
        if field in table.renames:
            path: str | None = table.renames[field]
        elif root is not None and root in table.renames:
            path = table.renames[root] + field[len(root) :]
        else:
            return None
        return path if path is not None and resolve(table, path) is not None else None
    if field in FIXED_FIELDS:
        path = field.lower()
    elif root is not None:
        path = root.lower() + field[len(root) :]
    else:
        return None
    return path if resolve(table, path) is not None else None


_KIND_DOC: Final = {
    "string": "STRING",
    "json": "JSON text (`json_extract_scalar`)",
    "map": "MAP value (`element_at`)",
}


def markdown_table(table: TableSchema = CLOUDTRAIL) -> str:
    """The field table of docs/targets/athena.md: every CloudTrail fixed field and free-form subtree, its path
    in the table, how it is read, or "no column" (refused)."""
    from sigma_lambda_layer.fields.cloudtrail import FIXED_FIELDS, FREE_FORM

    rows = ["| CloudTrail field | Athena column | read as |", "|---|---|---|"]
    for name in FIXED_FIELDS:
        path = cloudtrail_path(name, table)
        if path is None:
            rows.append(f"| `{name}` | no column (refused) | |")
            continue
        found = resolve(table, path)
        assert found is not None
        array = any(s.node.kind == "array" for s in found.steps)
        how = _KIND_DOC.get(found.leaf.kind, found.leaf.kind.upper()) + (", any element" if array else "")
        rows.append(f"| `{name}` | `{path}` | {how} |")
    for name in FREE_FORM:
        path = cloudtrail_path(f"{name}.key", table)
        if path is None:
            rows.append(f"| `{name}.*` | no column (refused) | |")
            continue
        found = resolve(table, path)
        assert found is not None
        kind = "json" if found.json_rest is not None else found.steps[-2].node.kind
        column = path[: -len(".key")]
        rows.append(f"| `{name}.*` | `{column}` + the keys as CloudTrail spells them | {_KIND_DOC[kind]} |")
    return "\n".join(rows)
