"""The notification topic, its customer-managed key, and optional email subscriptions."""

from __future__ import annotations

from typing import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
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
    """SNS topic encrypted with a rotating customer-managed KMS key; TLS-only by topic policy."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        emails: Sequence[EmailSubscription],
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
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Deadline Cloud session actions",
            master_key=self.key,
            enforce_ssl=True,
        )
        for subscription in emails:
            self.topic.add_subscription(email_subscription(subscription))
