"""Processing pipeline for Amazon Security Lake's CloudTrail management-event table (OCSF 1.1, source version 2).

Rules are written against CloudTrail's own field names; Security Lake stores each record as an OCSF 1.1 row
(:mod:`sigma_lambda_layer.fields.ocsf`). This pipeline names that table's schema in its state (``athena_schema``
= ``ocsf``), renames each field to its OCSF column path (the Athena backend spells the path from the column
tree: struct members, JSON text, array elements, ``unmapped`` keys) and makes the rule exact where the OCSF
form changed the value:

- ``sourceIPAddress`` is split in two columns, ``src_endpoint.ip`` for an address and ``src_endpoint.domain``
  for a service name; exactly one holds the value, so a value test (``|cidr`` included) reads both (OR) and
  ``null`` needs both empty (AND). Which text counts as an address is then irrelevant to the query.
- ``mfaAuthenticated`` (``true``/``false``) and ``additionalEventData.MFAUsed`` (``Yes``/``No``) are booleans:
  those values become the boolean; any other value, a wildcard, a regular expression or a presence test
  (another value is NULL in the table) is refused.
- ``eventTime`` and ``creationDate`` are timestamps: their text is gone, so every test on them is refused.
- a field whose OCSF column is shared with another CloudTrail field, or that has no column at all, or that is
  not a CloudTrail field (``status``, which is an OCSF column of another meaning), is refused with the reason
  (:data:`sigma_lambda_layer.fields.ocsf.REFUSED`), as is a field-less keyword search.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma.conditions import ConditionAND, ConditionOR
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import SetStateTransformation
from sigma.processing.transformations.base import FieldMappingTransformationBase
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaString,
    SigmaType,
)

from sigma_lambda_layer.errors import UnsupportedFieldError, unsupported
from sigma_lambda_layer.fields.athena import STATE_SCHEMA
from sigma_lambda_layer.fields.cloudtrail import refuse_object_field
from sigma_lambda_layer.fields.ocsf import SECURITY_LAKE, NoOcsfHome, OcsfField, ocsf_field
from sigma_lambda_layer.pipelines.builder import cloudtrail_pipeline

PIPELINE_ID = "aws_cloudtrail_securitylake"
_HINT = "see the field table in docs/targets/securitylake.md"
#: The two columns of ``sourceIPAddress``.
_SOURCE_COLUMNS = ("src_endpoint.ip", "src_endpoint.domain")
#: The text of each boolean, by storage.
_BOOLEAN_TEXT = {"true_false": ("true", "false"), "yes_no": ("yes", "no")}
#: Storages that keep the CloudTrail string as it is (a field reference compares two of them).
_STRINGS = frozenset({"copy", "json", "unmapped"})


def _item(
    field: str, values: list[SigmaType], linking: type, source: SigmaDetectionItem
) -> SigmaDetectionItem:
    item = SigmaDetectionItem(field, [], values, value_linking=linking, source=source.source)
    item.disable_conversion_to_plain()
    return item


@dataclass
class CloudTrailToOcsfTransformation(FieldMappingTransformationBase):
    """Rename CloudTrail fields to Security Lake's OCSF columns; translate or refuse where the form changed."""

    def apply_field_name(self, field: str | None) -> str | None:
        """The column of a field in the rule's ``fields:`` list (only named there: an unknown one is kept)."""
        if field is None:
            return None
        try:
            return ocsf_field(field).path
        except NoOcsfHome:
            return None

    def _refuse(self, item: SigmaDetectionItem, message: str, value: object = None) -> None:
        unsupported(
            message, field=item.field, value=value, hint=_HINT, kind=UnsupportedFieldError, source=item.source
        )

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetection | SigmaDetectionItem:
        item = detection_item
        if item.field is None:
            unsupported(
                "a keyword (field-less) search has no counterpart in Security Lake's OCSF table: the record's "
                "values are spread over typed columns and `unmapped`, with no one text to search",
                construct="keyword",
                value=item.value[0] if item.value else None,
                hint="name the CloudTrail field the value is in",
                source=item.source,
            )
        try:
            home = ocsf_field(item.field)
        except NoOcsfHome as e:
            self._refuse(
                item, f"CloudTrail field {item.field!r} has no OCSF home in Security Lake: {e.reason}"
            )
            raise AssertionError from None  # unreachable: _refuse raises
        values = list(item.value)
        values = [self._reference(item, home, v) if isinstance(v, SigmaFieldReference) else v for v in values]
        tests = [v for v in values if not isinstance(v, (SigmaNull, SigmaExists))]
        if tests:
            try:
                refuse_object_field(item.field)
            except UnsupportedFieldError as e:
                e.source = item.source
                raise
        if home.storage == "ip_or_domain":
            return self._either_column(item, values)
        if home.storage == "timestamp":
            # Not even null/exists: a record whose text is no timestamp (a redacted 'eventTime') has a value
            # for the rule and a NULL column in the table.
            self._refuse(
                item,
                f"CloudTrail field {item.field!r} is a timestamp in Security Lake ({home.path}): its ISO-8601 text "
                "is not stored (a text that is no timestamp is lost), so no test on it means what it means on "
                "the record",
                values[0] if values else None,
            )
        if home.storage in _BOOLEAN_TEXT:
            values = [self._boolean(item, home, v) for v in values]
        renamed = _item(home.path, values, item.value_linking, item)
        renamed.modifiers = item.modifiers
        return renamed

    def _reference(self, item: SigmaDetectionItem, home: OcsfField, value: SigmaFieldReference) -> SigmaType:
        """``|fieldref`` between two fields stored as the same strings: the referenced field renamed too."""
        try:
            other = ocsf_field(value.field)
        except NoOcsfHome as e:
            self._refuse(
                item, f"the referenced CloudTrail field {value.field!r} has no OCSF home: {e.reason}", value
            )
            raise AssertionError from None  # unreachable
        if home.storage not in _STRINGS or other.storage not in _STRINGS:
            self._refuse(
                item,
                f"|fieldref between {item.field!r} and {value.field!r}: one of them is not stored as the same "
                "string in Security Lake (a boolean, a timestamp or two columns), so the comparison would change",
                value,
            )
        return SigmaFieldReference(other.path, value.starts_with, value.ends_with)

    def _boolean(self, item: SigmaDetectionItem, home: OcsfField, value: SigmaType) -> SigmaType:
        """``true``/``false`` (``Yes``/``No``) as the boolean Security Lake stores; other values are refused."""
        true, false = _BOOLEAN_TEXT[home.storage]
        if isinstance(value, (SigmaNull, SigmaExists)):
            self._refuse(
                item,
                f"CloudTrail field {item.field!r} is the boolean {home.path} in Security Lake: a value other than "
                f"{true!r}/{false!r} is lost there, so the field's presence cannot be tested",
                value,
            )
        if isinstance(value, SigmaBool):
            return value
        if isinstance(value, SigmaString) and not value.contains_special():
            # The row holds the boolean of the text in any case (ocsf_row), so a case-insensitive test is exact.
            # A cased one is exact only where AWS writes the one spelling the value has: mfaAuthenticated's
            # canonical domain (lowercase true/false, fields.domains), which the canonical step made cased.
            text = str(value)
            if isinstance(value, SigmaCasedString) and not (
                home.storage == "true_false" and text in (true, false)
            ):
                text = ""
            meaning = {true: True, false: False}.get(text.lower())
            if meaning is not None:
                return SigmaBool(meaning)
        self._refuse(
            item,
            f"CloudTrail field {item.field!r} is the boolean {home.path} in Security Lake: only the values "
            f"{true!r} and {false!r} (plain, not |cased: the boolean keeps no spelling) can be tested there",
            value,
        )
        raise AssertionError  # unreachable

    def _either_column(self, item: SigmaDetectionItem, values: list[SigmaType]) -> SigmaDetection:
        """``sourceIPAddress`` over its two columns: a value in either (OR); absent when both are (AND)."""
        alternatives: list[SigmaDetectionItem | SigmaDetection] = []
        for value in values:
            empty = isinstance(value, SigmaNull) or (isinstance(value, SigmaExists) and not value.exists)
            parts: list[SigmaDetectionItem | SigmaDetection] = []
            for column in _SOURCE_COLUMNS:
                part = _item(column, [value], ConditionOR, item)
                part.modifiers = item.modifiers
                parts.append(part)
            alternatives.append(SigmaDetection(parts, item_linking=ConditionAND if empty else ConditionOR))
        linking = ConditionAND if item.value_linking is ConditionAND else ConditionOR
        return SigmaDetection(alternatives, source=item.source, item_linking=linking)


def aws_cloudtrail_securitylake() -> ProcessingPipeline:
    """CloudTrail rules over Security Lake's CloudTrail table: CloudTrail fields as OCSF 1.1 columns."""
    return cloudtrail_pipeline(
        PIPELINE_ID,
        "AWS CloudTrail in Amazon Security Lake (OCSF 1.1, source version 2)",
        [
            ("schema", SetStateTransformation(STATE_SCHEMA, SECURITY_LAKE.id)),
            ("fields", CloudTrailToOcsfTransformation()),
        ],
    )
