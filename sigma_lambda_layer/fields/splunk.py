"""CloudTrail field names as the Splunk Add-on for AWS extracts them (sourcetype ``aws:cloudtrail``).

The Add-on extracts every JSON leaf of a CloudTrail record as a search-time field named by its key path:
a dot for nesting and ``{}`` after each array (``resources{}.ARN``, ``requestParameters.layers{}``). Source:
the field lists of https://github.com/splunk/security_content, ``data_sources/aws_cloudtrail_*.yml``
(written against Splunk_TA_aws 7.7.1).

So the mapping is a rule, not a list: keep the CloudTrail path and add ``{}`` after every prefix that
:data:`sigma_lambda_layer.fields.cloudtrail.ARRAY_FIELDS` marks as an array. The exceptions are data below:
CIM fields the Add-on computes (:data:`ADDON_FIELDS`), and the paths that hold a JSON object
(:data:`OBJECT_FIELDS`: ``requestParameters``, ``userIdentity`` ...), which are refused. Sigma compares values
with strings and an object is not one, so the rule cannot match it as written (docs/evaluator.md, choice 4;
docs/findings.md, F2), and Splunk has no field for an object anyway: the Add-on extracts leaves only.
``exists`` on an object is refused too: an empty object (``{}``) has no leaf, so no field test can see it, and
a JSON ``null`` in its place is extracted as a leaf holding the text ``null``.
"""

from __future__ import annotations

import re
from typing import Final

from sigma_lambda_layer.errors import UnsupportedFieldError, unsupported
from sigma_lambda_layer.fields.cloudtrail import (
    ARRAY_FIELDS,
    FIXED_FIELDS,
    FREE_FORM,
    OBJECT_FIELDS,
    array_prefixes,
    is_known_field,
    refuse_object_field,
)

#: Fields the Splunk Add-on for AWS adds to ``aws:cloudtrail`` events that are not in the CloudTrail record,
#: with what they hold. SigmaHQ's ``aws_delete_saml_provider`` matches ``status: success``, which only
#: exists in Splunk as this CIM field (security_content data_sources/aws_cloudtrail_*.yml lists ``status``).
ADDON_FIELDS: Final[dict[str, str]] = {
    "status": "CIM field of the Add-on: success or failure, derived from errorCode",
}

#: The Splunk log source term every CloudTrail query starts with (security_content macros/cloudtrail.yml).
SOURCETYPE: Final[str] = "aws:cloudtrail"

#: Field names the Splunk backend can write unquoted in search and single-quoted in eval.
_SAFE_NAME: Final[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.{}]*$")


def splunk_field(path: str) -> str:
    """The Splunk Add-on's name for CloudTrail field ``path``; raises for fields outside the schema.

    ``requestParameters.layers`` -> ``requestParameters.layers{}``; ``resources.ARN`` -> ``resources{}.ARN``.
    """
    if path in ADDON_FIELDS:
        return path
    refuse_object_field(path)
    if not is_known_field(path):
        unsupported(
            f"field {path!r} is not a CloudTrail record field, so Splunk has no field for it",
            field=path,
            hint="use a CloudTrail JSON path such as eventName, userIdentity.arn or requestParameters.<key>",
            kind=UnsupportedFieldError,
        )
    arrays = set(array_prefixes(path))
    parts = path.split(".")
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(part)
        if ".".join(parts[: i + 1]) in arrays:
            out[-1] += "{}"
    name = ".".join(out)
    if not _SAFE_NAME.match(name):
        unsupported(
            f"field {path!r} has characters a Splunk field name cannot carry safely",
            field=path,
            hint="Splunk field names here may contain only letters, digits, '_', '.' and '{}'",
            kind=UnsupportedFieldError,
        )
    return name


def mapping_rows() -> list[tuple[str, str, str]]:
    """Rows ``(cloudtrail_field, splunk_field, note)`` for the documentation table, in schema order."""
    rows: list[tuple[str, str, str]] = []
    for path in FIXED_FIELDS:
        note = "multi-valued (array element)" if "{}" in splunk_field(path) else ""
        rows.append((path, splunk_field(path), note))
    for path in sorted(ARRAY_FIELDS - set(FIXED_FIELDS)):
        rows.append((path, splunk_field(path), "multi-valued (array element)"))
    for root in FREE_FORM:
        rows.append(
            (f"{root}.<key>", f"{root}.<key>", "any key below it; arrays below it get {} as listed above")
        )
    for path in sorted(OBJECT_FIELDS):
        rows.append((path, "-", "JSON object, not a value: refused (name a key below it)"))
    for name, note in ADDON_FIELDS.items():
        rows.append((name, name, note))
    return rows


def markdown_table() -> str:
    """The field table of docs/targets/splunk.md, rendered from :func:`mapping_rows`."""
    lines = ["| CloudTrail field | Splunk field | Note |", "|---|---|---|"]
    lines += [f"| `{ct}` | {f'`{sp}`' if sp != '-' else sp} | {note} |" for ct, sp, note in mapping_rows()]
    return "\n".join(lines) + "\n"
