"""EventBridge deployment artifacts: a CloudFormation template and a Terraform JSON file for a batch of rules.

Each entry (from :func:`sigma_lambda_layer.backends.eventbridge.rule_entry`) carries the rule's title, Sigma
id, description, event pattern and rule state. Both artifacts create one rule per Sigma rule on the default
event bus (or a bus given as a parameter/variable) with one SNS topic as the target, or an existing topic.

Regions: CloudTrail delivers an event to EventBridge in the region where it is recorded, and the global
services (IAM, STS, sign-in, CloudFront) record in us-east-1 (CloudTrail User Guide, "Understanding global
service events"), so rules on them must be deployed there; deploy the stack in every region you use (for
example with StackSets) to see regional events everywhere. Resource types and properties: AWS CloudFormation
User Guide, AWS::Events::Rule (Name <= 64 characters, Description <= 512, State, EventPattern, EventBusName,
Targets), AWS::SNS::Topic, AWS::SNS::TopicPolicy; Terraform AWS provider, aws_cloudwatch_event_rule (name,
description, event_pattern, state, event_bus_name) and aws_cloudwatch_event_target (rule, arn, target_id).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

REGIONS_NOTE: Final = (
    "Deploy in every region whose events you want (CloudTrail delivers each event in its own region); events of "
    "the global services IAM, STS, sign-in and CloudFront arrive in us-east-1 only."
)


def _names(entries: Sequence[dict[str, Any]], limit: int) -> list[str]:
    """A unique alphanumeric name per rule, from its title, at most ``limit`` characters."""
    out: list[str] = []
    for entry in entries:
        base = (
            "Sigma" + "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", entry["title"]))
        )[:limit]
        name, n = base, 1
        while name in out:
            n += 1
            name = f"{base[: limit - len(str(n))]}{n}"
        out.append(name)
    return out


def _bus(entries: Sequence[dict[str, Any]]) -> str:
    """The event bus of the batch (backend option ``event_bus``)."""
    return str(entries[0].get("event_bus", "default")) if entries else "default"


def _description(entry: dict[str, Any]) -> str:
    text = f"Sigma {entry['id']}: {entry['title']}" if entry["id"] else entry["title"]
    return text[:512]


def put_rule(entry: dict[str, Any]) -> dict[str, Any]:
    """PutRule parameters of one rule (``aws events put-rule --cli-input-json``): the state says whether
    read-only management events are delivered (``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS``)."""
    return {
        "Name": _names([entry], 64)[0],
        "EventPattern": json.dumps(entry["pattern"]),
        "State": entry["state"],
        "Description": _description(entry),
        "EventBusName": entry.get("event_bus", "default"),
    }


def cloudformation_template(entries: Sequence[dict[str, Any]]) -> str:
    """One template for the batch (JSON): parameters, one SNS topic and policy, a rule per Sigma rule."""
    resources: dict[str, Any] = {
        "AlertTopic": {
            "Type": "AWS::SNS::Topic",
            "Condition": "CreateTopic",
            "Properties": {"DisplayName": "Sigma alerts (sigma-lambda)"},
        },
        "AlertTopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Condition": "CreateTopic",
            "Properties": {
                "Topics": [{"Ref": "AlertTopic"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AllowEventBridgePublish",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": {"Ref": "AlertTopic"},
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }
                    ],
                },
            },
        },
    }
    topic = {"Fn::If": ["CreateTopic", {"Ref": "AlertTopic"}, {"Ref": "ExistingTopicArn"}]}
    for name, entry in zip(_names(entries, 64), entries, strict=True):
        resources[name] = {
            "Type": "AWS::Events::Rule",
            "Metadata": {"SigmaId": entry["id"], "SigmaTitle": entry["title"], "SigmaLevel": entry["level"]},
            "Properties": {
                "Name": name,
                "Description": _description(entry),
                "EventBusName": {"Ref": "EventBusName"},
                "State": entry["state"],
                "EventPattern": entry["pattern"],
                "Targets": [{"Id": "AlertTopic", "Arn": topic}],
            },
        }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"EventBridge rules generated by sigma-lambda from Sigma rules. {REGIONS_NOTE}"[:1024],
        "Parameters": {
            "ExistingTopicArn": {
                "Type": "String",
                "Default": "",
                "Description": "ARN of an existing SNS topic to notify (empty: the stack creates one)",
            },
            "EventBusName": {
                "Type": "String",
                "Default": _bus(entries),
                "Description": "Event bus the rules watch (CloudTrail delivers to the default bus)",
            },
        },
        "Conditions": {"CreateTopic": {"Fn::Equals": [{"Ref": "ExistingTopicArn"}, ""]}},
        "Resources": resources,
        "Outputs": {"AlertTopicArn": {"Value": topic}},
    }
    return json.dumps(template, indent=2)


def terraform_literal(text: str) -> str:
    """``text`` as a Terraform JSON string that reads back as exactly ``text``.

    Terraform reads every string of a ``.tf.json`` file as a template (Terraform, "JSON Configuration
    Syntax" and "Strings and Templates"): ``${ ... }`` interpolates (``${file("...")}`` reads a local file
    into the rule) and ``%{ ... }`` is a directive, unless written ``$${`` and ``%%{``. Every string from a
    rule (name, description, event pattern, tags) goes through here; only the references this module
    writes itself (``${var.event_bus_name}``) are templates.
    """
    return text.replace("${", "$${").replace("%{", "%%{")


def terraform_json(entries: Sequence[dict[str, Any]]) -> str:
    """Terraform JSON configuration: a rule and a target per Sigma rule, the topic as a variable."""
    rules: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    for name, entry in zip(_names(entries, 64), entries, strict=True):
        key = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        rules[key] = {
            "name": terraform_literal(name),
            "description": terraform_literal(_description(entry)),
            "event_bus_name": "${var.event_bus_name}",
            "event_pattern": terraform_literal(json.dumps(entry["pattern"])),
            "state": entry["state"],
            "tags": {"SigmaId": terraform_literal(entry["id"])} if entry["id"] else {},
        }
        targets[key] = {
            "rule": f"${{aws_cloudwatch_event_rule.{key}.name}}",
            "event_bus_name": "${var.event_bus_name}",
            "target_id": "sigma-alert",
            "arn": "${var.sns_topic_arn}",
        }
    config = {
        "//": f"Generated by sigma-lambda from Sigma rules. {REGIONS_NOTE}",
        "variable": {
            "sns_topic_arn": {
                "type": "string",
                "description": "SNS topic the rules notify (its policy must "
                "allow events.amazonaws.com to publish)",
            },
            "event_bus_name": {"type": "string", "default": _bus(entries)},
        },
        "resource": {"aws_cloudwatch_event_rule": rules, "aws_cloudwatch_event_target": targets},
    }
    return json.dumps(config, indent=2)
