"""What a user looks at after the fact: the messages the topic delivered, the history table, the DLQ.

* Notifications are read the way a subscriber gets them, one SQS queue subscribed to each audience's topic
  (standard envelope: ``MessageId``, ``Subject``, ``Message``, ``MessageAttributes``): the machines' topic
  (the JSON object), the email topic (the text an e-mail subscriber gets: moto delivers nothing to e-mail
  subscriptions, so an SQS subscriber stands in for it) and the chat topic (Amazon Q Developer's custom
  notification JSON). An email is paired with its machines message by subject and attributes.
* The events channel is read from the SQS queue a deployed rule delivers ``session-watch`` events to
  (``events_queue_url``): whole EventBridge events, as a rule's SQS target receives them.
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


@dataclass
class ChannelMessage:
    """A message of the email or chat topic, or an event of the events channel."""

    channel: str  # "email", "chat", "events"
    subject: Optional[str]
    body: Any  # email: text; chat: the custom notification (dict); events: the whole event (dict)
    attributes: Dict[str, str] = field(default_factory=dict)


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
                 digest_table_name: Optional[str] = None, email_topic_arn: Optional[str] = None,
                 chat_topic_arn: Optional[str] = None, events_queue_url: Optional[str] = None) -> None:
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
        #: channel -> the queue that receives it (email and chat: subscribed here; events: the rule's target)
        self.channel_queues: Dict[str, str] = {}
        for channel, arn in (("email", email_topic_arn), ("chat", chat_topic_arn)):
            if arn:
                url = sqs.create_queue(QueueName=f"{queue_name}-{channel}")["QueueUrl"]
                qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                moto.client("sns").subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
                self.channel_queues[channel] = url
        if events_queue_url:
            self.channel_queues["events"] = events_queue_url
        self.channels: Dict[str, List[ChannelMessage]] = {c: [] for c in self.channel_queues}
        self._unpaired_emails: List[ChannelMessage] = []

    def _receive_all(self, url: str) -> List[Dict[str, Any]]:
        """Receive (and delete) every message waiting in a queue; their bodies as JSON."""
        sqs = self.moto.client("sqs")
        out: List[Dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return out
            out += [json.loads(m["Body"]) for m in messages]
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    def _drain_channels(self) -> None:
        for channel, url in self.channel_queues.items():
            for body in self._receive_all(url):
                if channel == "events":
                    message = ChannelMessage(channel, None, body)
                else:
                    attributes = {k: v.get("Value") for k, v in (body.get("MessageAttributes") or {}).items()}
                    text = body["Message"]
                    message = ChannelMessage(channel, body.get("Subject"),
                                             json.loads(text) if channel == "chat" else text, attributes)
                    if channel == "email":
                        self._unpaired_emails.append(message)
                self.channels[channel].append(message)

    def drain(self) -> List[Notification]:
        """Receive (and delete) every message waiting in the subscriber queues; returns the new machines
        messages (each with its e-mail text when the email topic carried it)."""
        sqs = self.moto.client("sqs")
        new: List[Notification] = []
        self._drain_channels()
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
        self._drain_channels()  # what the function published on the other channels meanwhile
        self.received.extend(new)
        self._pair_emails()
        return new

    def _pair_emails(self) -> None:
        """Give each machines message the text of the email message with the same subject and attributes (the
        function publishes one of each per notification)."""
        for notification in self.received:
            if notification.email is not None:
                continue
            for email in self._unpaired_emails:
                if email.subject == notification.subject and email.attributes == notification.attributes:
                    notification.email = email.body
                    self._unpaired_emails.remove(email)
                    break

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
