"""pySigma processing pipelines, one module per SIEM family: field names, index and log source."""
