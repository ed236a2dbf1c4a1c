"""Every SigmaHQ rule converts for every target without a crash; every AWS rule converts everywhere.

"Everywhere" has documented exceptions: a few SigmaHQ AWS rules use a construct that a target cannot express
with the rule's meaning (each listed in that target's limitations table in docs/targets/). Those must fail
with a clear "unsupported" error, the list below must be exactly the set of failures (a stale entry fails
too), and nothing else may fail.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sigma_lambda_layer.api import convert
from sigma_lambda_layer.errors import UnsupportedConstructError, UnsupportedFieldError
from sigma_lambda_layer.registry import TARGETS
from tests.support.corpus import AWS_RULES, SIGMAHQ, requires_corpus
from tests.test_eventbridge import REFUSED_SIGMAHQ as EVENTBRIDGE_REFUSED

pytestmark = requires_corpus

#: (rule file stem, target) -> why the target cannot express the rule. Keep in sync with docs/targets/*.md.
_OBJECT = "tests a value against a whole JSON object (requestParameters / responseElements): never matches"
_EQL_FLATTENED = (
    "requestParameters/responseElements keys are Elastic 'flattened' sub-fields, which EQL cannot read"
)
_NO_STATUS = "'status' is a Splunk Add-on field, not in CloudTrail records nor in Elastic's data stream"
KNOWN_LIMITATIONS: dict[tuple[str, str], str] = {
    **{
        (stem, target): _OBJECT
        for stem in (
            "aws_disable_bucket_versioning",
            "aws_ec2_vm_export_failure",
            "aws_iam_s3browser_templated_s3_bucket_policy_creation",
        )
        for target in ("splunk", "lucene", "eql", "esql", "cloudwatch", "athena")
    },
    **{
        (stem, "eql"): _EQL_FLATTENED
        for stem in (
            "aws_cloudtrail_console_login_success_without_mfa",
            "aws_cloudtrail_guardduty_detector_deleted_or_updated",
            "aws_ec2_startup_script_change",
            "aws_ecs_task_definition_cred_endpoint_query",
            "aws_new_lambda_layer_attached",
            "aws_rds_change_master_password",
            "aws_rds_public_db_restore",
            "aws_update_login_profile",
        )
    },
    **{("aws_delete_saml_provider", target): _NO_STATUS for target in ("lucene", "eql", "esql", "athena")},
    ("aws_ecs_task_definition_cred_endpoint_query", "lucene"): (
        "|contains on a flattened key: Elasticsearch refuses wildcard queries on keyed flattened sub-fields"
    ),
    ("aws_update_login_profile", "lucene"): "|fieldref: Lucene query_string cannot compare two fields",
    **{
        (stem, "lucene"): "a case-insensitive value on a keyed flattened key with more than 16 case variants"
        for stem in ("aws_cloudtrail_guardduty_detector_deleted_or_updated", "aws_ec2_startup_script_change")
    },
    # securitylake: the whole-object tests, and 'status' (an OCSF column of another meaning, not CloudTrail's)
    **{
        (stem, "securitylake"): _OBJECT
        for stem in (
            "aws_disable_bucket_versioning",
            "aws_ec2_vm_export_failure",
            "aws_iam_s3browser_templated_s3_bucket_policy_creation",
        )
    },
    (
        "aws_delete_saml_provider",
        "securitylake",
    ): "'status': not CloudTrail's, and OCSF's means another thing",
    # The eventbridge refusals, each with its construct, are listed in tests/test_eventbridge.py.
    **{(stem, "eventbridge"): construct for stem, construct in EVENTBRIDGE_REFUSED.items()},
}


@pytest.mark.parametrize("target", list(TARGETS))
def test_corpus_whole_sigmahq_no_crash(target: str) -> None:
    """Without our CloudTrail pipeline every rule reaches the backend (with it, the ~3,700 rules for other
    log sources are refused before pySigma parses them), so this exercises every backend on every rule."""
    results = convert([SIGMAHQ], target=target, collect_errors=True, jobs=2, without_pipeline=True)
    assert len(results) >= 3780
    crashes = [
        f"{r.path}: {r.error.message}"
        for r in results
        if r.error and r.error.message.startswith("internal error (")
    ]
    kinds = Counter(type(r.error).__name__ for r in results if r.error)
    print(f"{target}: {len(results)} rules, {sum(r.ok for r in results)} converted, errors {dict(kinds)}")
    assert not crashes, "\n".join(crashes)


@pytest.mark.parametrize("target", list(TARGETS))
def test_corpus_every_aws_rule_converts(target: str) -> None:
    results = convert([AWS_RULES], target=target, collect_errors=True)
    assert len(results) == 57
    failed = {Path(r.path or "").stem: r.error for r in results if r.error is not None}
    expected = {stem for (stem, t) in KNOWN_LIMITATIONS if t == target}
    unexpected = [str(e) for stem, e in failed.items() if stem not in expected]
    not_unsupported = [
        str(e)
        for e in failed.values()
        if not isinstance(e, (UnsupportedConstructError, UnsupportedFieldError))
    ]
    stale = sorted(expected - set(failed))
    assert not unexpected, "\n".join(unexpected)
    assert not not_unsupported, "\n".join(not_unsupported)
    assert not stale, f"these rules now convert; drop them from KNOWN_LIMITATIONS: {stale}"


def test_corpus_other_log_sources_are_unsupported_not_errors() -> None:
    results = convert([SIGMAHQ], target="splunk", collect_errors=True, jobs=2)
    statuses = Counter(
        "ok"
        if r.ok
        else "unsupported"
        if isinstance(r.error, (UnsupportedConstructError, UnsupportedFieldError))
        else "error"
        for r in results
    )
    aws = [r for r in results if (r.path or "").startswith(str(AWS_RULES))]
    assert len(aws) == 57
    assert statuses["error"] == 0
    assert all(r.error is None or "log source" not in r.error.message for r in aws)
    assert statuses["unsupported"] >= 3700
