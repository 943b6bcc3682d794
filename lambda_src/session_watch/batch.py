"""The batch path: a batch of SQS messages (EventBridge events, digest flushes) in one invocation.

Reads go to Deadline Cloud in Batch* calls (up to 100 items a call): one BatchGetTask for the task
events, one BatchGetSessionAction for their latest actions, then the enrichment reads. Each message is
then recorded on its own (the record store's conditional write is per item); ``each``-mode notifications
go out with SNS PublishBatch and are marked published with TransactWriteItems. A message that fails is
reported in ``batchItemFailures`` and retried alone; the rest of the batch is not repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from .config import Settings
from .domain.normalise import normalise_session_action
from .domain.notification import render_notification
from .domain.record import Record
from .domain.requests import (
    DigestFlush, JobRunChange, Request, SessionActionRef, TaskRunChange, parse_sqs_body,
)
from .errors import DeadlineError, MalformedSessionActionError, NotificationError, NotificationPending
from .observability import Metric, count, logger
from . import service
from .service import Ports


@dataclass
class _Item:
    """One message of the batch and what the batch reads found for it."""

    request: Optional[Request] = None
    error: Optional[Exception] = None  # raised when the message is processed: it fails alone
    response: Optional[Dict[str, Any]] = None  # the session action, when the batch read found it
    record: Optional[Record] = None


def process_batch(
    event: Dict[str, Any], ports: Ports, settings: Settings, *, now: float, lease_seconds: float
) -> Dict[str, Any]:
    messages = event.get("Records") or []
    items: Dict[str, _Item] = {}
    for message in messages:
        item = _Item()
        try:
            item.request = parse_sqs_body(message.get("body"))
        except Exception as err:  # typed InvalidEventError; kept for the message's own failure
            item.error = err
        items[str(message.get("messageId"))] = item

    _read_session_actions(items, ports)
    _prefetch_enrichment(items, ports, now)

    claimed: List[Tuple[str, Record]] = []
    claimed_keys: set = set()

    def handle(record: SQSRecord) -> Any:  # Powertools passes ``record=``
        try:
            return _handle(record)
        except Exception as err:
            logger.warning("message failed; it will be retried alone",
                           extra={"messageId": record.message_id, "errorType": type(err).__name__,
                                  "error": str(err)[:500]})
            raise

    def _handle(message: SQSRecord) -> Any:
        item = items[message.message_id]
        if item.error is not None:
            raise item.error
        request = item.request
        if isinstance(request, (DigestFlush, JobRunChange)) or item.response is None:
            # Single-call path: flushes, job-level messages, and actions the batch read did not find.
            return service.process(request, ports, settings, now=now, lease_seconds=lease_seconds)
        assert item.record is not None
        run_status = request.run_status if isinstance(request, TaskRunChange) else None
        enriched = service.enrich(item.record, ports, run_status, now)
        key = (enriched["jobId"], enriched["sessionActionId"], enriched["status"])
        try:
            saved = service.save_record(enriched, ports, settings, now=now, lease_seconds=lease_seconds)
        except NotificationPending:
            if key in claimed_keys:  # a duplicate of a message earlier in this batch: that one publishes
                count(Metric.DEDUPLICATED)
                return "duplicate in batch"
            raise
        service.record_root_cause(enriched, ports, settings, now=now, lease_seconds=lease_seconds)
        if saved.publish:
            claimed.append((message.message_id, saved.record))
            claimed_keys.add(key)
        return saved.record.get("status")

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    with processor(records=messages, handler=handle):
        processor.process()
    failures = [f["itemIdentifier"] for f in processor.response().get("batchItemFailures", [])]
    failures += _publish_claimed(claimed, ports)
    if failures:
        count(Metric.ITEM_FAILURES, len(failures))
    logger.info("batch processed", extra={"messages": len(messages), "failed": len(failures),
                                          "published": len(claimed) - len(failures)})
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def _read_session_actions(items: Dict[str, _Item], ports: Ports) -> None:
    """BatchGetTask for the task events, then BatchGetSessionAction for every action to read."""
    deadline = ports.deadline
    tasks = {mid: it.request for mid, it in items.items() if isinstance(it.request, TaskRunChange)}
    latest: Dict[str, str] = {}  # message id -> the session action id to read
    if tasks:
        try:
            found, errors = deadline.batch_get_tasks(tasks.values())
        except (DeadlineError, MalformedSessionActionError) as err:
            for mid in tasks:
                items[mid].error = err
            found, errors = {}, {}
        for mid, task in tasks.items():
            if items[mid].error is not None:
                continue
            if task.task_id in errors:
                items[mid].error = errors[task.task_id]
            elif (found.get(task.task_id) or {}).get("latestSessionActionId"):
                latest[mid] = str(found[task.task_id]["latestSessionActionId"])
            # else: no latest action id: the single-call path lists the task's actions

    refs: Dict[str, SessionActionRef] = {}
    for mid, item in items.items():
        if isinstance(item.request, SessionActionRef):
            refs[mid] = item.request
        elif mid in latest:
            t = item.request
            refs[mid] = SessionActionRef(t.farm_id, t.queue_id, t.job_id, latest[mid])
    if not refs:
        return
    try:
        actions, errors = deadline.batch_get_session_actions(refs.values())
    except (DeadlineError, MalformedSessionActionError) as err:
        for mid in refs:
            items[mid].error = err
        return
    for mid, ref in refs.items():
        item = items[mid]
        if ref.session_action_id in errors:
            item.error = errors[ref.session_action_id]
            continue
        response = actions.get(ref.session_action_id)
        if response is None:
            continue
        try:
            if isinstance(item.request, TaskRunChange):
                # The task may have moved on since the event: rare, and read with single calls.
                response = service.action_the_event_reports(item.request, ref.session_action_id, response, deadline)
                if response is None:
                    continue  # nothing to record: the single-call path returns the skip notice
            item.record = normalise_session_action(
                response, farm_id=ref.farm_id, queue_id=ref.queue_id, job_id=ref.job_id
            )
            item.response = response
        except Exception as err:  # typed errors of the single-call fallback or the normaliser
            item.error = err


def _prefetch_enrichment(items: Dict[str, _Item], ports: Ports, now: float) -> None:
    if ports.enricher is None or not hasattr(ports.enricher, "prefetch"):
        return
    ready = [it for it in items.values() if it.record is not None and it.error is None]
    if ready:
        ports.enricher.prefetch(
            [it.record for it in ready],
            [it.request.run_status if isinstance(it.request, TaskRunChange) else None for it in ready],
            now,
        )


def _publish_claimed(claimed: List[Tuple[str, Record]], ports: Ports) -> List[str]:
    """PublishBatch the claimed notifications; mark the published ones; return the failed message ids."""
    if not claimed:
        return []
    results = ports.notifications.publish_batch([render_notification(record) for _, record in claimed])
    published: List[Record] = []
    failed: List[str] = []
    for (message_id, record), result in zip(claimed, results):
        if isinstance(result, NotificationError):
            failed.append(message_id)
            try:
                ports.records.release_claim(record)
            except Exception as err:  # the lease runs out by itself; the retry publishes then
                logger.warning("could not release the claim", extra={"error": type(err).__name__})
            logger.warning("publish failed; the message will be retried",
                           extra={**service.safe_summary(record), "error": str(result)[:300]})
        else:
            published.append(record)
    if published:
        try:
            ports.records.mark_notified_many(published)
        except Exception as err:  # the messages are out; a later duplicate may publish again after the lease
            logger.warning("published but not marked; a redelivery may publish again",
                           extra={"count": len(published), "error": type(err).__name__})
        count(Metric.PUBLISHED, len(published))
    return failed
