"""A CloudTrail record as the ``athena`` target holds it: the row Athena's JSON SerDe reads from it.

The table is the Athena User Guide's CloudTrail table (:data:`sigma_lambda_layer.fields.athena.CLOUDTRAIL`);
:func:`~sigma_lambda_layer.fields.athena.athena_row` says how the SerDe reads each column (keys matched
lowercased, the last of colliding keys winning, undeclared keys dropped, numbers and booleans as text, the
JSON-text columns holding their member's JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sigma_lambda_layer.fields.athena import athena_row


def athena_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return athena_row(record)
