"""Slack and Microsoft Teams channels that receive the chat topic, through Amazon Q Developer in chat
applications (formerly AWS Chatbot; CloudFormation types ``AWS::Chatbot::*``).

Each configured channel gets a channel configuration subscribed to the chat topic, with:

* a channel role that Amazon Q Developer assumes, holding only the read-only CloudWatch permissions its
  notifications need (the "Notification permissions" policy template of the Amazon Q Developer in chat
  applications Administrator Guide: ``cloudwatch:Describe*``, ``cloudwatch:Get*``, ``cloudwatch:List*``);
* the AWS managed ``ReadOnlyAccess`` policy as the channel guardrail: whatever a channel role or a user role
  may do, nothing run from the channel can change anything (without a guardrail the service applies
  ``AdministratorAccess``: CDK API reference, ``SlackChannelConfigurationProps.guardrail_policies``).

The Slack workspace (or the Teams team) must be authorised once in the Amazon Q Developer in chat
applications console before deploying: a configuration names an authorised workspace or team, which
CloudFormation cannot create (CloudFormation resource reference, ``AWS::Chatbot::SlackChannelConfiguration``
``SlackWorkspaceId`` and ``AWS::Chatbot::MicrosoftTeamsChannelConfiguration``).
"""

from __future__ import annotations

import hashlib
from typing import List, Sequence

from aws_cdk import Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from .. import nag
from ..config import SlackChannel, TeamsChannel

GUARDRAIL_POLICY = "ReadOnlyAccess"
#: What the channel role may do: read CloudWatch (alarm and metric details of notifications), nothing else.
CHANNEL_ROLE_ACTIONS = ("cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*")


def configuration_name(stack_name: str, kind: str, channel_id: str) -> str:
    """A configuration name unique in the account (``^[A-Za-z0-9-_]+$``, at most 128 characters)."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in channel_id)
    return f"{stack_name}-{kind}-{cleaned}"[:128]


class ChatChannels(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        slack: Sequence[SlackChannel],
        teams: Sequence[TeamsChannel],
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.guardrail = iam.ManagedPolicy.from_aws_managed_policy_name(GUARDRAIL_POLICY)
        self.role = iam.Role(
            self,
            "ChannelRole",
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description="Deadline Session Watch chat channels: read-only (CloudWatch notification details)",
        )
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ReadNotificationDetails", actions=list(CHANNEL_ROLE_ACTIONS), resources=["*"]))
        nag.acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Action::cloudwatch:Describe*]",
            "Read-only CloudWatch actions of Amazon Q Developer's notification permissions template; the "
            "channel guardrail (ReadOnlyAccess) caps them anyway.",
        )
        for action in ("Get*", "List*"):
            nag.acknowledge(self.role.node.find_child("DefaultPolicy"), f"AwsSolutions-IAM5[Action::cloudwatch:{action}]",
                            "Read-only CloudWatch actions of Amazon Q Developer's notification permissions template.")
        nag.acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Describe/Get/List for notification details (alarms, metrics) in chat: GetMetricData and "
            "the List actions support no resource-level permissions.",
        )
        self.slack: List[chatbot.SlackChannelConfiguration] = []
        for channel in slack:
            self.slack.append(chatbot.SlackChannelConfiguration(
                self,
                f"Slack{channel.channel_id}",
                slack_channel_configuration_name=configuration_name(stack.stack_name, "slack", channel.channel_id),
                slack_workspace_id=channel.workspace_id,
                slack_channel_id=channel.channel_id,
                notification_topics=[topic],
                guardrail_policies=[self.guardrail],
                role=self.role,
                logging_level=chatbot.LoggingLevel.ERROR,
            ))
        self.teams: List[chatbot.CfnMicrosoftTeamsChannelConfiguration] = []
        for channel in teams:
            # A Teams channel id is long and URL-encoded: a short digest names the construct and configuration
            # (stable when the list is reordered).
            digest = hashlib.sha256(f"{channel.team_id}/{channel.channel_id}".encode()).hexdigest()[:12]
            self.teams.append(chatbot.CfnMicrosoftTeamsChannelConfiguration(
                self,
                f"Teams{digest}",
                configuration_name=configuration_name(stack.stack_name, "teams", digest),
                team_id=channel.team_id,
                teams_channel_id=channel.channel_id,
                teams_tenant_id=channel.tenant_id,
                iam_role_arn=self.role.role_arn,
                guardrail_policies=[self.guardrail.managed_policy_arn],
                sns_topic_arns=[topic.topic_arn],
                logging_level="ERROR",
            ))
