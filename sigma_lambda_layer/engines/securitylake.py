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

#: The query docs/targets/securitylake.md asks a user to run once on their table: the columns, the JSON text,
#: the ``unmapped`` key and the booleans the compiled queries rely on (the tests run it on the proxy too).
SMOKE_QUERY = """SELECT api.operation, api.service.name, src_endpoint.ip, src_endpoint.domain, actor.user.uid,
       actor.user.type, json_extract_scalar(api.request.data, '$.bucketName') AS bucket,
       element_at(unmapped, 'recipientAccountId') AS recipient, is_mfa, actor.session.is_mfa, time_dt
FROM "amazon_security_lake_glue_db_us_east_1"."amazon_security_lake_table_us_east_1_cloud_trail_mgmt_2_0"
WHERE time_dt > CURRENT_TIMESTAMP - INTERVAL '1' DAY
LIMIT 20"""


def securitylake_records(rows: Sequence[Mapping[str, Any]]) -> AthenaRecords:
    """A DuckDB database holding Security Lake rows under the target's default names."""
    from sigma_lambda_layer.backends.securitylake import DEFAULT_DATABASE, DEFAULT_TABLE
    from sigma_lambda_layer.fields.ocsf import SECURITY_LAKE

    return AthenaRecords(rows, table=DEFAULT_TABLE, database=DEFAULT_DATABASE, schema=SECURITY_LAKE)


def run_securitylake(query: str, rows: Sequence[Mapping[str, Any]]) -> Iterable[int]:
    """One query over some Security Lake rows (the registry's views; a fresh database each call)."""
    return securitylake_records(rows).hits(query)
