"""Publishes notifications to the SNS topic (one by one, or PublishBatch for a batch of events)."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Union

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.notification import Notification
from ..errors import NotificationError, NotificationRejected

#: PublishBatch limits: 10 entries and 256 KiB for the whole request.
BATCH_ENTRIES = 10
BATCH_BYTES = 262_144


class Notifier:
    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._client = sns_client
        self._topic_arn = topic_arn

    def publish(self, notification: Notification) -> str:
        """Publish; return the SNS message id. Raises ``NotificationError`` after botocore's retries."""
        try:
            response = self._client.publish(TopicArn=self._topic_arn, **_entry(notification))
        except (ClientError, BotoCoreError) as err:
            raise _error("Publish", self._topic_arn, err) from None
        return str(response.get("MessageId", ""))

    def publish_batch(self, notifications: Sequence[Notification]) -> List[Union[str, NotificationError]]:
        """Publish many with PublishBatch; for each notification, in order, its message id or its error.

        Entries are grouped within SNS's limits (10 entries, 256 KiB a request). A request that fails as a
        whole gives its error to each of its entries; a failed entry gets its own error.
        """
        results: List[Union[str, NotificationError]] = [NotificationError("not published")] * len(notifications)
        for group in _groups(notifications):
            entries = [dict(Id=str(i), **_entry(notifications[i])) for i in group]
            try:
                response = self._client.publish_batch(TopicArn=self._topic_arn, PublishBatchRequestEntries=entries)
            except (ClientError, BotoCoreError) as err:
                failure = _error("PublishBatch", self._topic_arn, err)
                for i in group:
                    results[i] = failure
                continue
            for ok in response.get("Successful") or []:
                results[int(ok["Id"])] = str(ok.get("MessageId", ""))
            for failed in response.get("Failed") or []:
                results[int(failed["Id"])] = NotificationError(
                    f"PublishBatch {self._topic_arn}: entry {failed.get('Id')}: {failed.get('Code')}: "
                    f"{failed.get('Message')}"
                )
        return results


def _entry(notification: Notification) -> Dict[str, Any]:
    return dict(
        Subject=notification.subject,
        Message=notification.message,
        MessageStructure="json",
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in notification.attributes.items()
        },
    )


def _size(notification: Notification) -> int:
    attributes = sum(len(k) + len(v) + 6 for k, v in notification.attributes.items())
    return len(notification.message.encode("utf-8")) + attributes


def _groups(notifications: Sequence[Notification]) -> List[List[int]]:
    groups: List[List[int]] = []
    current: List[int] = []
    size = 0
    for i, notification in enumerate(notifications):
        n = _size(notification)
        if current and (len(current) == BATCH_ENTRIES or size + n > BATCH_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        groups.append(current)
    return groups


#: SNS error codes that reject the message itself: the same message would fail again.
REJECTED_CODES = frozenset({"InvalidParameter", "InvalidParameterValue", "ValidationError"})


def _error(operation: str, topic_arn: str, err: Exception) -> NotificationError:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        cls = NotificationRejected if error.get("Code") in REJECTED_CODES else NotificationError
        return cls(f"{operation} {topic_arn}: {error.get('Code')}: {error.get('Message')}")
    return NotificationError(f"{operation} {topic_arn}: {type(err).__name__}: {err}")
