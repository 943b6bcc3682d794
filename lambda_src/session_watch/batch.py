"""The SQS entry: a batch of messages (EventBridge events, digest flushes) in one invocation.

Each message body is parsed on its own (a bad one fails alone); the batch then goes the one record path
(``Service.process_batch``). Lambda's partial batch response (``ReportBatchItemFailures``): the ids of the
messages that failed come back in ``batchItemFailures`` and only those are redelivered.
"""

from __future__ import annotations

from typing import Any, Dict, List

from .domain.requests import parse_sqs_body
from .usecases import BatchItem, Service


def process_batch(event: Dict[str, Any], service: Service, *, now: float, lease_seconds: float) -> Dict[str, Any]:
    items: List[BatchItem] = []
    for message in event.get("Records") or []:
        message_id = str(message.get("messageId"))
        try:
            items.append((message_id, parse_sqs_body(message.get("body"))))
        except Exception as err:  # typed InvalidEventError: kept for the message's own failure
            items.append((message_id, err))
    failed = service.process_batch(items, now=now, lease_seconds=lease_seconds)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
