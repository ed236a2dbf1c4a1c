"""Run ``securitylake`` target queries offline: the Athena proxy (DuckDB via sqlglot) over the OCSF table.

The rows (:func:`~sigma_lambda_layer.views.securitylake.securitylake_view`) are loaded into DuckDB in the
column types of :data:`~sigma_lambda_layer.fields.ocsf.SECURITY_LAKE`, under the default database and table
names of the target, and each Trino query is transpiled and run as for the ``athena`` target
(:mod:`sigma_lambda_layer.engines.athena`). A proxy for Athena over Security Lake, not Security Lake itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sigma_lambda_layer.engines.athena import AthenaRecords


def securitylake_records(rows: Sequence[Mapping[str, Any]]) -> AthenaRecords:
    """A DuckDB database holding Security Lake rows under the target's default names."""
    from sigma_lambda_layer.backends.securitylake import DEFAULT_DATABASE, DEFAULT_TABLE
    from sigma_lambda_layer.fields.ocsf import SECURITY_LAKE

    return AthenaRecords(rows, table=DEFAULT_TABLE, database=DEFAULT_DATABASE, schema=SECURITY_LAKE)


def run_securitylake(query: str, rows: Sequence[Mapping[str, Any]]) -> Iterable[int]:
    """One query over some Security Lake rows (the registry's views; a fresh database each call)."""
    return securitylake_records(rows).hits(query)
