"""Publishes notifications on every channel that is on, each in its own format (README, "Notifications"):

* machines (``TOPIC_ARN``): the JSON object as the message body, String structure, with the message
  attributes, so subscription filter policies and raw message delivery work;
* email (``EMAIL_TOPIC_ARN``): the readable text, with a subject and the same attributes;
* chat (``CHAT_TOPIC_ARN``): Amazon Q Developer in chat applications' custom notification (JSON);
* events (``EVENT_BUS_NAME``): an EventBridge event, source ``session-watch``, a detail-type per kind,
  the JSON object as ``detail``.

No publish combines ``MessageStructure=json`` with message attributes: SNS sends attributes only with the
String structure (Amazon SNS Developer Guide, "Amazon SNS message attributes"). One by one (Publish,
PutEvents) or for a batch (PublishBatch per topic, PutEvents of up to 10 entries); each channel's result
is its own, so one failing channel is retried without re-sending the others.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from botocore.exceptions import BotoCoreError, ClientError

from .. import names
from ..domain.notification import Notification
from ..errors import NotificationError, NotificationRejected

#: PublishBatch limits: 10 entries and 256 KiB for the whole request (SNS API reference, PublishBatch).
BATCH_ENTRIES = 10
BATCH_BYTES = 262_144
#: PutEvents limits: 10 entries, 256 KB for the whole request (EventBridge API reference, PutEvents).
EVENTS_ENTRIES = 10
EVENTS_BYTES = 256_000

#: A channel's result: the message or event id, or the channel's error.
Result = Union[str, NotificationError]
#: What to publish: a notification and the channels it still needs.
Item = Tuple[Notification, Sequence[str]]


class Notifier:
    def __init__(self, sns_client: Any, topic_arn: str, *, email_topic_arn: Optional[str] = None,
                 chat_topic_arn: Optional[str] = None, events_client: Any = None,
                 event_bus_name: Optional[str] = None) -> None:
        self._sns = sns_client
        self._events = events_client
        self._bus = event_bus_name
        self._topics = {names.CHANNEL_MACHINES: topic_arn}
        if email_topic_arn:
            self._topics[names.CHANNEL_EMAIL] = email_topic_arn
        if chat_topic_arn:
            self._topics[names.CHANNEL_CHAT] = chat_topic_arn
        on = set(self._topics) | ({names.CHANNEL_EVENTS} if event_bus_name and events_client is not None else set())
        self.channels: Tuple[str, ...] = tuple(c for c in names.CHANNELS if c in on)

    def publish(self, notification: Notification, channels: Sequence[str]) -> Dict[str, Result]:
        """Publish on ``channels``; per channel its message id or its ``NotificationError`` (a batch of one:
        one Publish per topic, one PutEvents entry)."""
        return self.publish_batch([(notification, channels)])[0]

    def publish_batch(self, items: Sequence[Item]) -> List[Dict[str, Result]]:
        """Publish many; for each item, in order, per channel its id or its error."""
        results: List[Dict[str, Result]] = [{} for _ in items]
        for channel in names.CHANNELS:
            wanted = [i for i, (_, channels) in enumerate(items) if channel in channels]
            if not wanted:
                continue
            if channel not in self.channels:
                for i in wanted:
                    results[i][channel] = NotificationRejected(f"channel {channel} is not configured")
                continue
            entries: List[Tuple[int, Union[Dict[str, Any], NotificationError]]] = []
            for i in wanted:
                try:
                    entries.append((i, self._entry(channel, items[i][0])))
                except NotificationError as err:
                    entries.append((i, err))
            for i, entry in entries:
                if isinstance(entry, NotificationError):
                    results[i][channel] = entry
            ready = [(i, e) for i, e in entries if not isinstance(e, NotificationError)]
            send = self._put_events if channel == names.CHANNEL_EVENTS else self._publish_topic
            for i, result in send(channel, ready):
                results[i][channel] = result
        return results

    # --- the formats ----------------------------------------------------------------------------

    def _entry(self, channel: str, n: Notification) -> Dict[str, Any]:
        attributes = {k: {"DataType": "String", "StringValue": v} for k, v in n.attributes.items()}
        if channel == names.CHANNEL_MACHINES:
            return dict(Subject=n.subject, Message=n.body, MessageAttributes=attributes)
        if channel == names.CHANNEL_EMAIL:
            return dict(Subject=n.subject, Message=n.email, MessageAttributes=attributes)
        if channel == names.CHANNEL_CHAT:
            if n.chat is None:
                raise NotificationRejected(f"{n.kind} notification has no chat message")
            return dict(Message=json.dumps(n.chat, ensure_ascii=False), MessageAttributes=attributes)
        detail_type = names.DETAIL_TYPES.get(n.kind or "")
        if detail_type is None:
            raise NotificationRejected(f"no event detail-type for notification kind {n.kind!r}")
        return dict(Source=names.EVENT_SOURCE, DetailType=detail_type, Detail=n.body, EventBusName=self._bus)

    # --- the calls ------------------------------------------------------------------------------

    def _publish_topic(self, channel: str, entries: List[Tuple[int, Dict[str, Any]]]) -> List[Tuple[int, Result]]:
        topic = self._topics[channel]
        out: List[Tuple[int, Result]] = []
        for group in _groups(entries, BATCH_ENTRIES, BATCH_BYTES, _sns_size):
            if len(group) == 1:
                i, entry = group[0]
                try:
                    out.append((i, str(self._sns.publish(TopicArn=topic, **entry).get("MessageId", ""))))
                except (ClientError, BotoCoreError) as err:
                    out.append((i, _error("Publish", topic, err)))
                continue
            batch = [dict(Id=str(n), **entry) for n, (_, entry) in enumerate(group)]
            try:
                response = self._sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=batch)
            except (ClientError, BotoCoreError) as err:
                out.extend((i, _error("PublishBatch", topic, err)) for i, _ in group)
                continue
            for ok in response.get("Successful") or []:
                out.append((group[int(ok["Id"])][0], str(ok.get("MessageId", ""))))
            for failed in response.get("Failed") or []:
                cls = NotificationRejected if failed.get("SenderFault") else NotificationError
                out.append((group[int(failed["Id"])][0], cls(
                    f"PublishBatch {topic}: entry {failed.get('Id')}: {failed.get('Code')}: {failed.get('Message')}")))
        return out

    def _put_events(self, channel: str, entries: List[Tuple[int, Dict[str, Any]]]) -> List[Tuple[int, Result]]:
        out: List[Tuple[int, Result]] = []
        for group in _groups(entries, EVENTS_ENTRIES, EVENTS_BYTES, _event_size):
            try:
                response = self._events.put_events(Entries=[entry for _, entry in group])
            except (ClientError, BotoCoreError) as err:
                out.extend((i, _error("PutEvents", str(self._bus), err)) for i, _ in group)
                continue
            # PutEvents answers one result per entry, in order; a failed one has ErrorCode.
            for (i, _), result in zip(group, response.get("Entries") or []):
                if result.get("ErrorCode"):
                    out.append((i, NotificationError(
                        f"PutEvents {self._bus}: {result.get('ErrorCode')}: {result.get('ErrorMessage')}")))
                else:
                    out.append((i, str(result.get("EventId", ""))))
        return out


def _sns_size(entry: Mapping[str, Any]) -> int:
    attributes = sum(len(k) + len(v["StringValue"]) + 6 for k, v in entry.get("MessageAttributes", {}).items())
    return len(entry["Message"].encode("utf-8")) + len(entry.get("Subject", "")) + attributes


def _event_size(entry: Mapping[str, Any]) -> int:
    # EventBridge counts Source, DetailType, Detail, Resources and 14 bytes for Time ("Calculating
    # PutEvents event entry size", EventBridge User Guide).
    return sum(len(str(entry.get(k, "")).encode("utf-8")) for k in ("Source", "DetailType", "Detail")) + 14


def _groups(entries: Sequence[Tuple[int, Dict[str, Any]]], most: int, limit: int, size_of) -> List[List[Tuple[int, Dict[str, Any]]]]:
    groups: List[List[Tuple[int, Dict[str, Any]]]] = []
    current: List[Tuple[int, Dict[str, Any]]] = []
    size = 0
    for item in entries:
        n = size_of(item[1])
        if current and (len(current) == most or size + n > limit):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    if current:
        groups.append(current)
    return groups


#: SNS error codes that reject the message itself: the same message would fail again.
REJECTED_CODES = frozenset({"InvalidParameter", "InvalidParameterValue", "ValidationError", "ValidationException"})


def _error(operation: str, target: str, err: Exception) -> NotificationError:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        cls = NotificationRejected if error.get("Code") in REJECTED_CODES else NotificationError
        return cls(f"{operation} {target}: {error.get('Code')}: {error.get('Message')}")
    return NotificationError(f"{operation} {target}: {type(err).__name__}: {err}")
