"""Publishes notifications to the SNS topic."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.notification import Notification
from ..errors import NotificationError


class Notifier:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._client = sns_client
        self._topic_arn = topic_arn

    def publish(self, notification: Notification) -> str:
        """Publish; return the SNS message id. Raises ``NotificationError`` after botocore's retries."""
        try:
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Subject=notification.subject,
                Message=notification.message,
                MessageStructure="json",
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in notification.attributes.items()
                },
            )
        except ClientError as err:
            error = err.response.get("Error", {})
            raise NotificationError(
                f"Publish {self._topic_arn}: {error.get('Code')}: {error.get('Message')}"
            ) from None
        except BotoCoreError as err:
            raise NotificationError(f"Publish {self._topic_arn}: {type(err).__name__}: {err}") from None
        return str(response.get("MessageId", ""))
