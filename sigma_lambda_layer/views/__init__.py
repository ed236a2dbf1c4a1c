"""One CloudTrail record as each SIEM stores it.

Used by the fidelity tests (run a generated query on the record as the SIEM would hold it) and by
``sigma-lambda test``. Each module follows its vendor's published ingest behaviour and cites it.
"""
