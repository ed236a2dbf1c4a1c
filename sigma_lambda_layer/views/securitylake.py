"""A CloudTrail record as the ``securitylake`` target holds it: its row in Security Lake's OCSF table.

:func:`~sigma_lambda_layer.fields.ocsf.ocsf_row` is this project's published CloudTrail -> OCSF 1.1 mapping
(AWS does not publish Security Lake's own transformation; docs/targets/securitylake.md says where the row is an
approximation); every column of the table is present, null where the record gives it no value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sigma_lambda_layer.fields.ocsf import ROW, complete, ocsf_row


def securitylake_view(record: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = complete(ROW, ocsf_row(record))
    return row
