"""The one use case: read a session action, record it, publish it once.

Talks to the world only through the ports it is given (a Deadline reader, a record store, a notifier),
so the same code runs under Lambda, in tests and in the local demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Protocol

from .config import Settings
from .domain.normalise import normalise_session_action
from .domain.notification import Notification, render_notification
from .domain.record import RECORD_FIELDS, Outcome, Record
from .domain.requests import Request, SessionActionRef, TaskRunChange
from .adapters.record_store import SaveKind, SaveResult
from .errors import NotificationError, NotificationPending
from .observability import Metric, count, logger

#: For a task run status that ends a run: the session action statuses of the run it reports.
ACTION_STATUSES_FOR_RUN_STATUS = {
    "SUCCEEDED": frozenset({"SUCCEEDED"}),
    "FAILED": frozenset({"FAILED", "NEVER_ATTEMPTED", "INTERRUPTED"}),
    "CANCELED": frozenset({"CANCELED", "NEVER_ATTEMPTED"}),
}


class DeadlinePort(Protocol):
    def get_session_action(self, ref: SessionActionRef) -> Dict[str, Any]: ...
    def latest_session_action_id(self, task: TaskRunChange) -> Optional[str]: ...
    def task_session_actions(self, task: TaskRunChange) -> List[Dict[str, Any]]: ...


class RecordPort(Protocol):
    def save(self, record: Record, *, claim_notification: bool, now: float, lease_until: float,
             expires_at: int, recorded_at: str) -> SaveResult: ...
    def mark_notified(self, record: Record) -> None: ...
    def release_claim(self, record: Record) -> None: ...


class NotificationPort(Protocol):
    def publish(self, notification: Notification) -> str: ...


@dataclass(frozen=True)
class Ports:
    deadline: DeadlinePort
    records: RecordPort
    notifications: NotificationPort


def process(
    request: Request, ports: Ports, settings: Settings, *, now: float, lease_seconds: float
) -> Record:
    """Handle one invocation; return the record (or a skip notice for a task with no session action)."""
    if isinstance(request, TaskRunChange):
        response = _read_for_task(request, ports.deadline)
        if response is None:
            count(Metric.NO_SESSION_ACTION)
            logger.info(
                "task has no session action; nothing to record",
                extra={"jobId": request.job_id, "taskId": request.task_id, "runStatus": request.run_status},
            )
            return skipped_result(request)
        ref = SessionActionRef(request.farm_id, request.queue_id, request.job_id, response["sessionActionId"])
    else:
        ref = request
        response = ports.deadline.get_session_action(ref)

    record = normalise_session_action(
        response, farm_id=ref.farm_id, queue_id=ref.queue_id, job_id=ref.job_id
    )
    return record_and_notify(record, ports, settings, now=now, lease_seconds=lease_seconds)


def record_and_notify(
    record: Record, ports: Ports, settings: Settings, *, now: float, lease_seconds: float
) -> Record:
    outcome = Outcome(record["outcome"])
    if outcome is Outcome.UNKNOWN:
        count(Metric.UNKNOWN_STATUS)
        logger.warning("session action has a status this version does not know; recorded, not published",
                       extra=safe_summary(record))

    notify = record["status"] in settings.notify_statuses and outcome is not Outcome.UNKNOWN
    recorded_at = _iso(now)
    result = ports.records.save(
        record,
        claim_notification=notify,
        now=now,
        lease_until=now + lease_seconds,
        expires_at=int(now) + settings.retention_days * 86400,
        recorded_at=recorded_at,
    )
    summary = safe_summary(record)

    if result.kind is SaveKind.STALE:
        count(Metric.STALE_IGNORED)
        logger.info("stored record is already terminal; older status ignored",
                    extra={**summary, "storedStatus": result.previous_status})
        return result.stored or record
    if result.kind is SaveKind.DUPLICATE:
        count(Metric.DEDUPLICATED)
        logger.info("status already published; duplicate delivery ignored", extra=summary)
        return record
    if result.kind is SaveKind.PENDING:
        raise NotificationPending(
            f"{record['jobId']}/{record['sessionActionId']} status {record['status']}: "
            "another invocation is publishing it; retry later"
        )

    count(Metric.RECORDED)
    if record["terminal"] and result.previous_status != record["status"]:
        count(Metric.FAILURES if outcome is Outcome.FAILURE else Metric.COMPLETIONS)

    if result.kind is SaveKind.CLAIMED:
        try:
            message_id = ports.notifications.publish(render_notification(record))
        except NotificationError:
            ports.records.release_claim(record)
            raise
        ports.records.mark_notified(record)
        count(Metric.PUBLISHED)
        logger.info("recorded and published", extra={**summary, "messageId": message_id})
    else:
        logger.info("recorded", extra=summary)
    return record


def _read_for_task(task: TaskRunChange, deadline: DeadlinePort) -> Optional[Dict[str, Any]]:
    """The session action a task event is about.

    Normally the task's latest one. When the event says how the task ended but the latest action ended
    otherwise, or has not ended, the task has moved on since the event (Deadline retried it, and the
    retry may even have ended already): record the newest action of the task that ended as the event
    says instead, so the failure the event reports is not lost.
    """
    latest_id = deadline.latest_session_action_id(task)
    if latest_id is None:
        return None
    ref = SessionActionRef(task.farm_id, task.queue_id, task.job_id, latest_id)
    response = deadline.get_session_action(ref)
    expected = ACTION_STATUSES_FOR_RUN_STATUS.get(task.run_status or "")
    if expected and response.get("status") not in expected:
        for summary in deadline.task_session_actions(task):
            if summary.get("status") in expected and summary["sessionActionId"] != latest_id:
                ref = SessionActionRef(task.farm_id, task.queue_id, task.job_id, summary["sessionActionId"])
                return deadline.get_session_action(ref)
    return response


def skipped_result(task: TaskRunChange) -> Dict[str, Any]:
    result: Dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    result.update(
        farmId=task.farm_id, queueId=task.queue_id, jobId=task.job_id, stepId=task.step_id,
        taskId=task.task_id, actionType="taskRun", outcome=Outcome.UNKNOWN.value, terminal=False,
        skipped="task has no session action",
    )
    return result


def safe_summary(record: Record) -> Dict[str, Any]:
    """What may be logged about a record: ids and statuses. Never parameters or progress messages."""
    return {
        key: record.get(key)
        for key in ("farmId", "queueId", "jobId", "sessionId", "sessionActionId", "status", "outcome",
                    "actionType", "stepId", "taskId", "environmentId", "processExitCode")
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
