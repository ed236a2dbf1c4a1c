"""Processing pipeline for CloudTrail delivered to CloudWatch Logs, queried with Logs Insights.

Logs Insights discovers the fields of a JSON log event by flattening it: nested keys become dot paths
(``userIdentity.arn``) and array elements get a numeric segment (``requestParameters.instancesSet.items.0.
instanceId``), per the CloudWatch Logs User Guide, "Supported logs and discovered fields" (Fields in JSON
logs). So raw CloudTrail names are kept, except in two cases this pipeline rewrites:

- **Arrays** (paths in :data:`sigma_lambda_layer.fields.cloudtrail.ARRAY_FIELDS`): a Sigma value on an array
  must match any element. The field keeps its CloudTrail name, and the pipeline records in its state
  (:data:`STATE_ARRAYS`) the two ways to say "any element": the path cut at each array, which the backend
  turns into ``unnest`` commands over ``jsonParse(@message)`` (no cap on the number of elements), and the
  first ``N`` element fields (``.0`` .. ``.N-1``; nested arrays multiply), which the backend ORs where
  ``unnest`` cannot keep the rule's meaning (under ``not``, beside other fields in an ``or``, for ``null`` and
  ``exists``). ``N`` is the backend option ``array_elements`` (default 5, the most layers a Lambda function
  can have). Trade-off of the enumeration: elements past ``N`` are not searched, so a match only there is
  missed (and a ``not`` over it is wrongly true).
- **Whole objects** (a free-form subtree root such as ``requestParameters``, or a parent of fixed fields such
  as ``userIdentity``) are refused with a clear error. Sigma compares values with strings, and an object is
  not one: the reference evaluator never matches it, and the rule can never fire as written (SigmaHQ's
  ``requestParameters|contains: 'Suspended'``; see docs/findings.md, F2). Logs Insights has no field for an
  object anyway; searching ``@message`` instead would match the value anywhere in the record, a different
  and broader rule. Name the sub-field (``requestParameters.versioningConfiguration.status``).

The log group(s) are a backend option (``log_group``), not pipeline state: a CloudTrail trail delivers to a
group the user named, so there is no default to guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations.base import FieldMappingTransformationBase

from sigma_lambda_layer.fields.cloudtrail import (
    array_prefixes,
    refuse_object_field,
)
from sigma_lambda_layer.pipelines.builder import cloudtrail_pipeline

PIPELINE_ID = "aws_cloudtrail_cloudwatch"
#: Pipeline state key read by the backend: array field -> ``{"elements": [...], "unnest": [...]}``.
STATE_ARRAYS = "cloudwatch_arrays"
#: Default number of array elements searched (backend option ``array_elements``).
DEFAULT_ARRAY_ELEMENTS = 5


def logs_insights_fields(field: str, elements: int = DEFAULT_ARRAY_ELEMENTS) -> str | list[str]:
    """The Logs Insights field(s) a CloudTrail field name stands for (a list means: any of them)."""
    refuse_object_field(field)
    prefixes = array_prefixes(field)
    if not prefixes:
        return field
    # Cut the path after each array prefix; an element index goes into every cut.
    cuts = [len(p) for p in prefixes]
    pieces = [field[a:b].strip(".") for a, b in zip([0, *cuts], [*cuts, len(field)], strict=True)]
    names = []
    for indexes in product(range(elements), repeat=len(prefixes)):
        parts = [pieces[0]]
        for idx, piece in zip(indexes, pieces[1:], strict=True):
            parts.append(str(idx))
            if piece:
                parts.append(piece)
        names.append(".".join(parts))
    return names


@dataclass
class CloudTrailToLogsInsightsFields(FieldMappingTransformationBase):
    """Rename array and object fields as Logs Insights discovers them (see the module docstring)."""

    def apply_field_name(self, field: str | None) -> str | list[str] | None:
        if field is None:  # keywords: the backend searches @message
            return None
        variables = self._pipeline.vars if self._pipeline is not None else {}
        elements = int(variables.get("backend_array_elements") or DEFAULT_ARRAY_ELEMENTS)
        mapped = logs_insights_fields(field, elements)
        if isinstance(mapped, list) and self._pipeline is not None:
            # An array: the backend chooses unnest or the enumeration per leaf (module docstring).
            cuts = [len(p) for p in array_prefixes(field)]
            pieces = [field[a:b].strip(".") for a, b in zip([0, *cuts], [*cuts, len(field)], strict=True)]
            arrays = self._pipeline.state.setdefault(STATE_ARRAYS, {})
            arrays[field] = {"elements": mapped, "unnest": pieces}
            return None
        return None if mapped == field else mapped


def aws_cloudtrail_cloudwatch() -> ProcessingPipeline:
    """CloudTrail JSON fields as CloudWatch Logs Insights discovers them."""
    return cloudtrail_pipeline(
        PIPELINE_ID,
        "AWS CloudTrail in CloudWatch Logs (Logs Insights discovered fields)",
        [("fields", CloudTrailToLogsInsightsFields())],
    )
