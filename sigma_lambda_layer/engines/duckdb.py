"""Run ``duckdb`` target queries on records: DuckDB itself, not a model of it.

The records go into an in-memory table with the backend's contract (``cloudtrail(record JSON)``) plus a
row number, and each query's hits come back as record indexes. ``sigma-lambda test --target duckdb`` and the
fidelity harness use this.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class DuckDBRecords:
    """A DuckDB connection holding some records as ``cloudtrail(id, record JSON)``; queries run on it."""

    def __init__(self, records: Sequence[Mapping[str, Any]], table: str = "cloudtrail") -> None:
        import duckdb

        self.connection = duckdb.connect()
        self.connection.execute(f'CREATE TABLE "{table}" (id INTEGER, record JSON)')
        rows = [(i, json.dumps(r, ensure_ascii=False)) for i, r in enumerate(records)]
        if rows:
            self.connection.executemany(f'INSERT INTO "{table}" VALUES (?, ?)', rows)

    def hits(self, query: str) -> set[int]:
        """Indexes of the records a ``SELECT * FROM cloudtrail WHERE ...`` query returns."""
        return {row[0] for row in self.connection.execute(f"SELECT id FROM ({query})").fetchall()}


def run_duckdb(query: str, records: Sequence[Mapping[str, Any]]) -> Iterable[int]:
    """One query over some records (a fresh database each call: simple, for small record sets)."""
    return DuckDBRecords(records).hits(query)
