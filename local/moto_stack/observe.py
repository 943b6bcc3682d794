"""What a user looks at after the fact: the messages the topic delivered, the history table, the DLQ.

* Notifications are read the way a subscriber gets them: an SQS queue subscribed to the deployed topic
  (standard envelope: ``MessageId``, ``Subject``, ``Message``, ``MessageAttributes``). With
  ``MessageStructure=json`` an SQS subscriber receives the ``default`` member (the record as JSON); the
  ``email`` member, what an e-mail subscriber would receive, comes from ``published`` (MessageId -> the
  published ``Message``; the demo records it from the function's own SNS client, since moto delivers
  nothing to e-mail subscriptions and its ``/moto-api/data.json`` fails once a Lambda function exists
  without Docker).
* The history table is scanned (every item, numbers as numbers); so is the digest ledger table.
* The dead-letter queues (the function's, and those of the event and digest queues) are read without
  consuming them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional

from .server import MotoServer


@dataclass
class Notification:
    message_id: str
    subject: Optional[str]
    record: Dict[str, Any]
    attributes: Dict[str, str]
    email: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class Observer:
    def __init__(self, moto: MotoServer, *, topic_arn: str, table_name: str,
                 dead_letter_queue_url: Optional[str] = None, queue_name: str = "session-watch-demo-subscriber",
                 published: Optional[Callable[[], Dict[str, str]]] = None,
                 dead_letter_queues: Optional[Dict[str, str]] = None,
                 digest_table_name: Optional[str] = None) -> None:
        self.moto = moto
        self.dead_letter_queues = dict(dead_letter_queues or {})
        if dead_letter_queue_url and dead_letter_queue_url not in self.dead_letter_queues.values():
            self.dead_letter_queues[dead_letter_queue_url.rsplit("/", 1)[-1]] = dead_letter_queue_url
        self.digest_table_name = digest_table_name
        self.published = published or (lambda: {})
        self.topic_arn = topic_arn
        self.table_name = table_name
        self.dead_letter_queue_url = dead_letter_queue_url
        sqs = moto.client("sqs")
        self.queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        queue_arn = attributes["QueueArn"]
        self.subscription_arn = moto.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        self.received: List[Notification] = []

    def drain(self) -> List[Notification]:
        """Receive (and delete) every message waiting in the subscriber queue; returns the new ones."""
        sqs = self.moto.client("sqs")
        new: List[Notification] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = batch.get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelope = json.loads(message["Body"])
                attributes = {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()}
                new.append(Notification(
                    message_id=envelope["MessageId"],
                    subject=envelope.get("Subject"),
                    record=json.loads(envelope["Message"]),
                    attributes=attributes,
                    raw=envelope,
                ))
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        if new:
            emails = self._published_emails()
            for notification in new:
                notification.email = emails.get(notification.message_id)
        self.received.extend(new)
        return new

    def _published_emails(self) -> Dict[str, str]:
        """MessageId -> the ``email`` member of the message as it was published."""
        out: Dict[str, str] = {}
        for message_id, message in self.published().items():
            try:
                structured = json.loads(message)
            except (TypeError, ValueError):
                continue
            if isinstance(structured, dict) and isinstance(structured.get("email"), str):
                out[message_id] = structured["email"]
        return out

    def rows(self) -> List[Dict[str, Any]]:
        """Every item of the history table, as plain Python values."""
        return self._scan(self.table_name)

    def digest_items(self) -> List[Dict[str, Any]]:
        """Every item of the digest ledger (``window#...`` and ``jobrun#...``), or [] without one."""
        return self._scan(self.digest_table_name) if self.digest_table_name else []

    def _scan(self, table_name: str) -> List[Dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        ddb = self.moto.client("dynamodb")
        items: List[Dict[str, Any]] = []
        kwargs: Dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
        while True:
            page = ddb.scan(**kwargs)
            items += [_plain({k: deserializer.deserialize(v) for k, v in item.items()}) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def query_index(self, index: str, key: str, value: str) -> List[Dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        page = self.moto.client("dynamodb").query(
            TableName=self.table_name, IndexName=index, KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": key}, ExpressionAttributeValues={":v": {"S": value}},
        )
        return [_plain({k: deserializer.deserialize(v) for k, v in item.items()}) for item in page["Items"]]

    def dead_letters(self) -> List[Dict[str, Any]]:
        """The messages waiting in every dead-letter queue (left there), each with ``_queue`` added when it is
        a JSON object."""
        out = []
        for name, messages in self.dead_letters_by_queue().items():
            for message in messages:
                out.append(dict(message, _queue=name) if isinstance(message, dict) else message)
        return out

    def dead_letters_by_queue(self) -> Dict[str, List[Dict[str, Any]]]:
        """Queue name -> the messages waiting in that dead-letter queue (read, not consumed)."""
        return {name: self._peek(url) for name, url in sorted(self.dead_letter_queues.items())}

    def _peek(self, url: str) -> List[Dict[str, Any]]:
        sqs = self.moto.client("sqs")
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                       "ApproximateNumberOfMessagesNotVisible"])
        count = sum(int(v) for v in attrs["Attributes"].values())
        if not count:
            return []
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0)
        out = []
        for message in batch.get("Messages", []):
            try:
                out.append(json.loads(message["Body"]))
            except ValueError:
                out.append({"body": message["Body"]})
        while len(out) < count:
            out.append({"body": "(not read)"})
        return out
