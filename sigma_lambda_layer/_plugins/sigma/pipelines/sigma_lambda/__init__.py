"""sigma-cli plugin shim: our AWS CloudTrail pipelines in the namespace package ``sigma.pipelines``.

pySigma registers module attribute ``pipelines`` (name -> zero-argument function). Each function imports its
pipeline module only when called, so listing pipelines stays cheap and one pipeline's import problem does not
hide the others.
"""

from __future__ import annotations

# Imported at run time: pySigma's discovery resolves the return annotation with typing.get_type_hints.
from sigma.processing.pipeline import ProcessingPipeline


def aws_cloudtrail_splunk() -> ProcessingPipeline:
    """CloudTrail field names as the Splunk Add-on for AWS extracts them (sourcetype aws:cloudtrail)."""
    from sigma_lambda_layer.pipelines.splunk import aws_cloudtrail_splunk as factory

    return factory()


def aws_cloudtrail_elastic() -> ProcessingPipeline:
    """CloudTrail fields of Elastic's AWS integration (logs-aws.cloudtrail-*)."""
    from sigma_lambda_layer.pipelines.elastic import aws_cloudtrail_elastic as factory

    return factory()


def aws_cloudtrail_cloudwatch() -> ProcessingPipeline:
    """CloudTrail JSON fields as CloudWatch Logs Insights discovers them."""
    from sigma_lambda_layer.pipelines.cloudwatch import aws_cloudtrail_cloudwatch as factory

    return factory()


pipelines = {
    "aws_cloudtrail_splunk": aws_cloudtrail_splunk,
    "aws_cloudtrail_elastic": aws_cloudtrail_elastic,
    "aws_cloudtrail_cloudwatch": aws_cloudtrail_cloudwatch,
}
