"""Run ``athena`` target queries offline: a proxy for Athena, DuckDB over the DDL's shape, via sqlglot.

Athena cannot run here, so its queries are checked on what comes closest: each record's Athena row
(:func:`~sigma_lambda_layer.fields.athena.athena_row`) is loaded into DuckDB in exactly the column types of the
DDL (``VARCHAR`` for ``STRING``, ``STRUCT(...)`` for structs, lists of structs, ``MAP``), and each Trino query
is transpiled to DuckDB with sqlglot (``read="trino"``, ``write="duckdb"``) and run there. It is a proxy:
it proves the query's logic over the table's shape, not Athena's own functions (docs/targets/athena.md says
what to run once against a real table).

sqlglot's translation is kept, except where DuckDB's function of the same name means something else; each
such fix-up is a rewrite of the sqlglot tree (:func:`to_duckdb`), never of the text:

- ``json_extract_scalar(x, p)`` (Trino: NULL unless the value at ``p`` is a string, number or boolean)
  becomes ``CASE WHEN json_type(x, p) IN (scalar types) THEN x ->> p END``: DuckDB's ``->>`` also returns
  the text of objects and arrays;
- ``any_match(a, x -> p)`` (Trino: true if some element passes; NULL for a NULL array) becomes
  ``len(list_filter(a, x -> p)) > 0``: DuckDB has no ``any_match``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sigma_lambda_layer.fields.athena import CLOUDTRAIL, TableSchema, athena_row, duckdb_type

#: Run once against a real Athena table (docs/targets/athena.md, "Confirm on your table"): every column must
#: be true. It checks the Trino behaviours the offline proxy assumes; the fidelity tests run it on the proxy.
SMOKE_QUERY = r"""SELECT
  regexp_like('a1', '\Aa\p{Nd}\z') AS unicode_class_and_anchors,
  regexp_like('a' || chr(13) || 'c', '\Aa[^\n]c\z') AS class_not_newline,
  NOT regexp_like('ab' || chr(10), '\Aab\z') AS end_of_text,
  'a%b' LIKE 'a\%b' ESCAPE '\' AS like_escape,
  lower(chr(304)) = 'i' AS lower_per_code_point,
  json_extract_scalar('{"a":{"b":1}}', '$.a') IS NULL AS scalar_of_object_is_null,
  json_extract_scalar('{"a.b":"v"}', '$["a.b"]') = 'v' AS quoted_json_key,
  TRY_CAST(json_extract('{"a":"s"}', '$.a') AS ARRAY(JSON)) IS NULL AS not_an_array,
  any_match(CAST(json_extract('{"a":[1,"2"]}', '$.a') AS ARRAY(JSON)), x -> json_extract_scalar(x, '$') = '2')
    AS any_element"""

_SCALAR_JSON_TYPES = ("VARCHAR", "BIGINT", "UBIGINT", "HUGEINT", "DOUBLE", "BOOLEAN")


def _fix(node: Any) -> Any:
    """One node of the transpiled tree, rewritten where DuckDB differs (module docstring)."""
    from sqlglot import exp

    if isinstance(node, exp.JSONExtractScalar):
        target, path = node.this.transform(_fix), node.expression
        kind = exp.Anonymous(this="json_type", expressions=[target.copy(), path.copy()])
        scalar = exp.In(this=kind, expressions=[exp.Literal.string(t) for t in _SCALAR_JSON_TYPES])
        text = exp.Anonymous(this="json_extract_string", expressions=[target.copy(), path.copy()])
        return exp.Case(ifs=[exp.If(this=scalar, true=text)])
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "any_match":
        # transform() does not descend into a replacement: fix the arguments first (nested any_match).
        array, predicate = (arg.transform(_fix) for arg in node.expressions)
        listed = exp.Anonymous(this="list_filter", expressions=[array, predicate])
        return exp.GT(this=exp.Anonymous(this="len", expressions=[listed]), expression=exp.Literal.number(0))
    return node


def to_duckdb(query: str) -> str:
    """The Trino query as DuckDB SQL: sqlglot's transpilation with the fix-ups of the module docstring."""
    import sqlglot

    tree = sqlglot.parse_one(query, read="trino")
    return tree.transform(_fix).sql(dialect="duckdb")


class AthenaRecords:
    """A DuckDB connection holding Athena rows (:func:`~sigma_lambda_layer.fields.athena.athena_row`, the
    registry's view of a record) in a table shaped like the DDL, plus ``_id`` (the row's index) and the
    partition columns."""

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        table: str = "cloudtrail_logs",
        database: str = "default",
        schema: TableSchema = CLOUDTRAIL,
    ) -> None:
        import duckdb

        self.connection = duckdb.connect()
        self.connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
        columns = ", ".join(f'"{c.name}" {duckdb_type(c)}' for c in schema.columns)
        partitions = ", ".join(f'"{p.name}" VARCHAR' for p in schema.partitions)
        name = f'"{database}"."{table}"'
        self.connection.execute(
            f"CREATE TABLE {name} (_id INTEGER, {columns}{', ' + partitions if partitions else ''})"
        )
        values = []
        for i, row in enumerate(rows):
            extra = [_partition(p.name, row) for p in schema.partitions]
            values.append((i, *[row.get(c.name) for c in schema.columns], *extra))
        if values:
            marks = ", ".join("?" for _ in values[0])
            self.connection.executemany(f"INSERT INTO {name} VALUES ({marks})", values)

    def hits(self, query: str) -> set[int]:
        """Indexes of the records a ``SELECT * FROM ... WHERE ...`` Trino query returns."""
        sql = to_duckdb(query)
        return {row[0] for row in self.connection.execute(f"SELECT _id FROM ({sql})").fetchall()}


def _partition(name: str, row: Mapping[str, Any]) -> str | None:
    """A partition value as the S3 prefix would give it: the day of ``eventtime`` (``yyyy/MM/dd``)."""
    if name == "timestamp":
        time = row.get("eventtime")
        return time[:10].replace("-", "/") if isinstance(time, str) and len(time) >= 10 else None
    return None


def load_records(records: Sequence[Mapping[str, Any]], schema: TableSchema = CLOUDTRAIL) -> AthenaRecords:
    """CloudTrail records loaded as the rows Athena reads from them."""
    return AthenaRecords([athena_row(r, schema) for r in records], schema=schema)


def run_athena(query: str, rows: Sequence[Mapping[str, Any]]) -> Iterable[int]:
    """One query over some Athena rows (the registry's views; a fresh database each call)."""
    return AthenaRecords(rows).hits(query)
