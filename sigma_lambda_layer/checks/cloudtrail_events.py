"""CloudTrail event sources and names that are real but are not API operations in botocore's models.

CloudTrail also records console sign-in, agent channels, console-only actions, service events (``eventType:
AwsServiceEvent``) and a few actions whose CloudTrail name is not the SDK operation name (S3 logs IAM-style
names such as ``GetBucketPublicAccessBlock`` for the SDK's ``GetPublicAccessBlock``). Each entry cites where
it is documented or observed. "corpus" means the real CloudTrail records in ``shared/corpus/cloudtrail``
(Stratus Red Team detonations, Invictus IR dataset, Splunk attack-range samples, AWS documentation examples);
Panther test fixtures are partly synthetic and are not used as evidence. Extend these tables when a real event
is missing.
"""

from __future__ import annotations

import re
from typing import Final

#: Event sources with no botocore service model of that endpoint prefix or signing name.
EXTRA_EVENT_SOURCES: Final[dict[str, str]] = {
    "billingconsole.amazonaws.com": "AWS Billing User Guide, 'Logging Billing and Cost Management API calls "
    "with AWS CloudTrail' (console actions, eventType AwsConsoleAction)",
    "ec2messages.amazonaws.com": "AWS Systems Manager User Guide, 'Reference: ec2messages, ssmmessages, and "
    "other API operations' (SSM Agent channel)",
    "ssmmessages.amazonaws.com": "AWS Systems Manager User Guide, 'Reference: ec2messages, ssmmessages, and "
    "other API operations' (Session Manager channel)",
    "macie.amazonaws.com": "Amazon Macie Classic (retired 2020; its events remain in old trails; the current "
    "service is macie2)",
    "sso-directory.amazonaws.com": "IAM Identity Center User Guide, 'Logging IAM Identity Center API calls "
    "with AWS CloudTrail' (identity store directory events)",
    "cloudshell.amazonaws.com": "AWS CloudShell User Guide, 'Logging AWS CloudShell API calls with AWS "
    "CloudTrail'",
}

#: Real event names per event source that are not operations of its botocore models.
EXTRA_EVENT_NAMES: Final[dict[str, dict[str, str]]] = {
    "signin.amazonaws.com": {
        name: "AWS CloudTrail User Guide, 'AWS Management Console sign-in events'; ConsoleLogin, CheckMfa "
        "and PasswordUpdated also in the corpus (Invictus, Splunk, Stratus, awsdocs)"
        for name in (
            "ConsoleLogin",
            "ConsoleLogout",
            "CheckMfa",
            "SwitchRole",
            "ExitRole",
            "GetSigninToken",
            "PasswordUpdated",
            "RenewRoleCredentials",
            "UserAuthentication",
            "CredentialChallenge",
            "CredentialVerification",
            "ExternalIdPDirectoryLogin",
        )
    },
    "sso.amazonaws.com": {
        name: "IAM Identity Center User Guide, 'IAM Identity Center console sign-in events' / 'Understanding "
        "IAM Identity Center sign-in events'"
        for name in (
            "Authenticate",
            "Federate",
            "CredentialChallenge",
            "CredentialVerification",
            "UserAuthentication",
        )
    }
    | {
        name: "IAM Identity Center User Guide, 'IAM Identity Center information in CloudTrail', console API "
        "operations (partial list)"
        for name in (
            "AssociateDirectory",
            "DisassociateDirectory",
            "EnableExternalIdPConfigurationForDirectory",
            "DisableExternalIdPConfigurationForDirectory",
            "AssociateProfile",
            "BatchDeleteSession",
            "BatchGetSession",
        )
    },
    "s3.amazonaws.com": {
        # Amazon S3 User Guide, "Amazon S3 CloudTrail events": bucket- and account-level actions are logged
        # under their IAM action names.
        "GetBucketPublicAccessBlock": "S3 User Guide 'Amazon S3 CloudTrail events'; corpus (Invictus)",
        "PutBucketPublicAccessBlock": "S3 User Guide 'Amazon S3 CloudTrail events'",
        "DeleteBucketPublicAccessBlock": "S3 User Guide 'Amazon S3 CloudTrail events'",
        "GetAccountPublicAccessBlock": "S3 User Guide 'Amazon S3 CloudTrail events'; corpus (Invictus)",
        "PutAccountPublicAccessBlock": "S3 User Guide 'Amazon S3 CloudTrail events'",
        "DeleteAccountPublicAccessBlock": "S3 User Guide 'Amazon S3 CloudTrail events'",
        "GetBucketObjectLockConfiguration": "S3 User Guide 'Amazon S3 CloudTrail events'; corpus (Invictus)",
        "PutBucketObjectLockConfiguration": "S3 User Guide 'Amazon S3 CloudTrail events'",
        "GetAccelerateConfiguration": "S3 User Guide 'Amazon S3 CloudTrail events'; corpus (Invictus)",
        "PutAccelerateConfiguration": "S3 User Guide 'Amazon S3 CloudTrail events'",
        "GetStorageLensDashboardDataInternal": "corpus (Invictus): S3 console Storage Lens",
        "JobCreated": "corpus (Splunk attack range), eventType AwsServiceEvent: S3 Batch Operations",
    },
    "ssm.amazonaws.com": {
        # SSM Agent calls, AWS Systems Manager User Guide, "Reference: ec2messages, ssmmessages, and other API
        # operations"; all three in the corpus (Invictus).
        "UpdateInstanceInformation": "SSM User Guide (agent API); corpus (Invictus)",
        "ListInstanceAssociations": "SSM User Guide (agent API); corpus (Invictus)",
        "UpdateInstanceAssociationStatus": "SSM User Guide (agent API); corpus (Invictus)",
        "RegisterManagedInstance": "SSM Agent registration of a hybrid-activation managed instance; used by "
        "SigmaHQ's aws_cloudtrail_imds_malicious_usage rule. Not confirmed in AWS documentation here [infer]",
    },
    "ssmmessages.amazonaws.com": {
        name: "AWS Systems Manager User Guide, 'Reference: ec2messages, ssmmessages, and other API operations' "
        "(Session Manager channel); CreateControlChannel also in the corpus (Panther fixture)"
        for name in ("CreateControlChannel", "CreateDataChannel", "OpenControlChannel", "OpenDataChannel")
    },
    "ec2messages.amazonaws.com": {
        name: "AWS Systems Manager User Guide, 'Reference: ec2messages, ssmmessages, and other API operations' "
        "(SSM Agent channel)"
        for name in (
            "AcknowledgeMessage",
            "DeleteMessage",
            "FailMessage",
            "GetEndpoint",
            "GetMessages",
            "SendReply",
        )
    },
    "rds.amazonaws.com": {
        "DescribeRecommendationGroups": "corpus (Invictus): RDS console",
        "DescribeRecommendations": "corpus (Invictus): RDS console",
    },
    "ec2.amazonaws.com": {
        "SharedSnapshotCopyInitiated": "EC2 User Guide, 'Monitor Amazon EBS snapshots' (AwsServiceEvent)",
        "SharedSnapshotVolumeCreated": "EC2 User Guide (AwsServiceEvent); corpus (Invictus)",
    },
    "kms.amazonaws.com": {
        name: "AWS KMS Developer Guide, 'Logging AWS KMS API calls with AWS CloudTrail' (AwsServiceEvent); "
        "RotateKey also in the corpus (awsdocs)"
        for name in ("RotateKey", "DeleteExpiredKeyMaterial", "DeleteKey")
    },
    "secretsmanager.amazonaws.com": {
        name: "Secrets Manager User Guide, 'Log AWS Secrets Manager events with AWS CloudTrail' "
        "(AwsServiceEvent); corpus (Invictus) for the version-delete pair"
        for name in (
            "StartSecretVersionDelete",
            "EndSecretVersionDelete",
            "CancelSecretVersionDelete",
            "RotationStarted",
            "RotationSucceeded",
            "RotationFailed",
            "RotationAbandoned",
            "DeleteSecret",
        )
    },
    "organizations.amazonaws.com": {
        "CreateAccountResult": "AWS Organizations User Guide, 'Logging AWS Organizations API calls' "
        "(AwsServiceEvent)",
    },
    "cloudtrail.amazonaws.com": {
        "CreateServiceLinkedChannel": "corpus (awsdocs): AwsServiceEvent",
    },
    "bedrock.amazonaws.com": {
        "PutFoundationModelEntitlement": "corpus (Stratus Red Team): console model-access request",
        "PutUseCaseForModelAccess": "Bedrock User Guide, 'Monitor Amazon Bedrock API calls using CloudTrail'",
    },
}

#: Lambda logs most of its operations with the API version date appended (AWS Lambda Developer Guide, "Logging
#: AWS Lambda API calls using AWS CloudTrail": "GetFunction appears as GetFunction20150331v2"). Suffixes seen
#: there and in the corpus; a pattern is tested against each operation with and without them.
VERSION_SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "lambda.amazonaws.com": ("20150331", "20150331v2", "20170331", "20170331v2", "20171031", "20181031"),
}

#: Strips a CloudTrail version suffix: ``UpdateFunctionConfiguration20150331v2`` ->
#: ``UpdateFunctionConfiguration``
#: (Lambda), and the ``2020_05_31`` form CloudFront appends to its versioned REST API operations [infer].
VERSION_SUFFIX_RE: Final = re.compile(r"(\d{8}(v\d+)?|\d{4}_\d{2}_\d{2})$")

#: Lambda operations logged only under a versioned name, so an exact unversioned ``eventName`` never matches
#: (same guide's table; see also docs/check.md).
LAMBDA_VERSIONED_ONLY: Final[frozenset[str]] = frozenset(
    {
        "AddPermission",
        "CreateAlias",
        "CreateEventSourceMapping",
        "CreateFunction",
        "DeleteAlias",
        "DeleteEventSourceMapping",
        "DeleteFunction",
        "DeleteFunctionConcurrency",
        "GetAlias",
        "GetFunction",
        "GetFunctionConfiguration",
        "ListFunctions",
        "ListVersionsByFunction",
        "PublishLayerVersion",
        "PublishVersion",
        "PutFunctionConcurrency",
        "RemovePermission",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
        "UpdateEventSourceMapping",
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "AddLayerVersionPermission",
        "GetLayerVersion",
        "GetLayerVersionByArn",
        "GetLayerVersionPolicy",
        "ListLayers",
        "ListLayerVersions",
        "RemoveLayerVersionPermission",
        "DeleteLayerVersion",
    }
)

#: ``requestParameters`` keys CloudTrail writes that are not members of the operation's input shape in any
#: botocore model: event source -> operation (``*``: any operation of the source) -> key (as logged) -> where
#: it was seen. The request-parameter check accepts them. All from real records of the corpus; Panther
#: fixtures show more (``configurationRecorderName`` on config PutDeliveryChannel, ``userName`` on IAM group
#: calls...) but are partly synthetic and are not evidence.
EXTRA_REQUEST_PARAMETERS: Final[dict[str, dict[str, dict[str, str]]]] = {
    "lambda.amazonaws.com": {
        "*": {
            "fullyQualifiedArn": "corpus: UpdateFunctionCode20150331v2, invictus-ir_aws_dataset_sample.jsonl:249 "
            "and :285, stratus-red-team_detonation-logs.jsonl:102 (CloudTrail's parsed form of the function ARN; "
            "accepted for every Lambda operation since it is not tied to UpdateFunctionCode's input)",
        },
    },
    "ssm.amazonaws.com": {
        "SendCommand": {
            "interactive": "corpus: invictus-ir_aws_dataset_sample.jsonl:79 and :138, "
            "stratus-red-team_detonation-logs.jsonl:8 and :60",
        },
    },
    "ec2-instance-connect.amazonaws.com": {
        "SendSerialConsoleSSHPublicKey": {
            "monitorMode": "corpus: stratus-red-team_detonation-logs.jsonl:87-89",
        },
    },
    "route53resolver.amazonaws.com": {
        "DeleteResolverQueryLogConfig": {
            "originSequenceNumber": "corpus: stratus-red-team_detonation-logs.jsonl:33",
        },
    },
    "sts.amazonaws.com": {
        "AssumeRoleWithSAML": {
            "sAMLAssertionID": "corpus: splunk_security_content_example_logs.jsonl:1",
            "roleSessionName": "corpus: splunk_security_content_example_logs.jsonl:1 (taken from the SAML "
            "assertion, not a request member)",
        },
    },
}

#: Services whose CloudTrail ``requestParameters`` do not mirror their input shape although their protocol
#: usually does, so the request-parameter check skips them. API Gateway (rest-json) nests the request body
#: under a ``<operation>Input`` key (``createDeploymentInput``) [infer: from published CloudTrail examples, no
#: API Gateway record in the corpus].
UNMIRRORED_SOURCES: Final[frozenset[str]] = frozenset({"apigateway.amazonaws.com"})
