"""The notification topics, one per audience, their customer-managed key, and the subscriptions the
configuration asks for.

* ``Topic`` (machines; construct id kept, so a deployed stack keeps its topic and its subscribers): the JSON
  record, digest or job-level object as the message body, with message attributes. ``machineQueueArns``
  subscribe SQS queues with raw message delivery.
* ``EmailTopic`` (people by email): the readable text with a subject, the same attributes;
  ``notificationEmails`` subscribe here, each with its filter policy.
* ``ChatTopic`` (people in chat): Amazon Q Developer in chat applications' custom notifications; the Slack and
  Teams channel configurations (``chat_channels.py``) or a hand-made subscription read it.

Why one topic per audience: a subscription receives every message of its topic (a filter policy can only
drop some); SNS has no per-subscription format for String messages, and ``MessageStructure=json`` (a format
per protocol) carries no message attributes, so no filter policy could work with it (Amazon SNS Developer
Guide, "Amazon SNS message attributes": attributes are not sent with ``MessageStructure=json``). With a topic
per audience every subscriber gets its own format and can still filter.
"""

from __future__ import annotations

from typing import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..config import EmailSubscription


def email_subscription(subscription: EmailSubscription) -> subscriptions.EmailSubscription:
    """An email subscription; its filter policy matches the message attributes the function sets."""
    policy = {
        attribute: sns.SubscriptionFilter.string_filter(allowlist=list(values))
        for attribute, values in subscription.filter_policy.items()
    }
    return subscriptions.EmailSubscription(subscription.email, filter_policy=policy or None)


class NotificationTopic(Construct):
    """Three SNS topics (machines, email, chat) encrypted with one rotating customer-managed KMS key; each
    TLS-only by topic policy."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        emails: Sequence[EmailSubscription],
        machine_queue_arns: Sequence[str] = (),
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            description="Deadline Session Watch: encrypts the notification and operations topics",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        # The machines' topic: construct id "Topic" as before (its logical id, and so the deployed topic, stay).
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Deadline Cloud session actions",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.email_topic = sns.Topic(
            self,
            "EmailTopic",
            display_name="Deadline Cloud session actions (email)",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.chat_topic = sns.Topic(
            self,
            "ChatTopic",
            display_name="Deadline Cloud session actions (chat)",
            master_key=self.key,
            enforce_ssl=True,
        )
        for subscription in emails:
            self.email_topic.add_subscription(email_subscription(subscription))
        # Raw message delivery: the queue's message body is the JSON object itself, and the message
        # attributes become SQS message attributes (Amazon SNS Developer Guide, "Amazon SNS raw message
        # delivery"). The queue is not this stack's: its policy must let sns.amazonaws.com send from this
        # topic (infra/README.md, "Machines"); CDK cannot add to an imported queue's policy.
        for index, arn in enumerate(machine_queue_arns):
            queue = sqs.Queue.from_queue_arn(self, f"MachineQueue{index}", arn)
            self.topic.add_subscription(subscriptions.SqsSubscription(queue, raw_message_delivery=True))

    @property
    def topics(self) -> Sequence[sns.ITopic]:
        return (self.topic, self.email_topic, self.chat_topic)
