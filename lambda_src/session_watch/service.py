"""The use cases: record a session action and notify on it (one by one, or in a job's digest), publish
a job's digest when its window closes, and publish one message when a whole job ends.

Talks to the world only through the ports it is given (a Deadline reader, a record store, a notifier,
the digest ledger and queue), so the same code runs under Lambda, in tests and in the local demo.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Protocol, Set, Tuple

from .config import Settings
from .domain.digest import render_digest, render_job_run
from .domain.enrichment import JobInfo, monitor_job_url
from .domain.normalise import normalise_session_action
from .domain.notification import Notification, render_notification
from .domain.record import RECORD_FIELDS, Outcome, Record
from .domain.requests import DigestFlush, JobRunChange, Request, SessionActionRef, TaskRunChange
from .adapters.digest_ledger import job_run_key, window_key
from .adapters.record_store import SaveKind, SaveResult
from .errors import ConfigurationError, DigestScheduleError, NotificationError, NotificationPending
from .observability import Metric, count, logger

#: For a task run status that ends a run: the session action statuses of the run it reports.
ACTION_STATUSES_FOR_RUN_STATUS = {
    "SUCCEEDED": frozenset({"SUCCEEDED"}),
    "FAILED": frozenset({"FAILED", "NEVER_ATTEMPTED", "INTERRUPTED"}),
    "CANCELED": frozenset({"CANCELED", "NEVER_ATTEMPTED"}),
    # Back to READY from a run (the rule forwards RUNNING -> READY): the worker was reclaimed or the run
    # interrupted, and Deadline requeued the task. No event says RECLAIMED or INTERRUPTED itself.
    "READY": frozenset({"RECLAIMED", "INTERRUPTED", "RECLAIMING"}),
}
#: Run statuses whose event reports nothing to record when no action ended that way.
_ONLY_IF_MATCHED = frozenset({"READY"})
#: Job run statuses that end a job and get one job-level message.
JOB_END_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})
#: A digest is published this long after its window closes (writes that started inside the window land).
DIGEST_GRACE_SECONDS = 10
#: Digest windows spread their records over this many index keys (no hot partition in a burst).
DIGEST_SHARDS = 8
#: A duplicate delivery re-checks the flush of the window its record joined if that window is this recent
#: (a redelivery after a crash comes within minutes; a pipeline re-reading an old action must not re-open
#: a window whose ledger item has expired).
REPAIR_WINDOWS_WITHIN_SECONDS = 3600
#: How long ledger items (windows, job-level messages) are kept.
LEDGER_RETENTION_SECONDS = 2 * 86400


class DeadlinePort(Protocol):
    def get_session_action(self, ref: SessionActionRef) -> Dict[str, Any]: ...
    def latest_session_action_id(self, task: TaskRunChange) -> Optional[str]: ...
    def task_session_actions(self, task: TaskRunChange) -> List[Dict[str, Any]]: ...


class RecordPort(Protocol):
    def save(self, record: Record, *, claim_notification: bool, now: float, lease_until: float,
             expires_at: int, recorded_at: str, digest_window: Optional[str] = None) -> SaveResult: ...
    def mark_notified(self, record: Record) -> None: ...
    def mark_notified_many(self, records: List[Record]) -> None: ...
    def release_claim(self, record: Record) -> None: ...
    def digest_members(self, window_keys: List[str]) -> List[Record]: ...
    def move_to_digest(self, record: Record, digest_window: str) -> None: ...
    def leave_digest(self, record: Record, digest_window: str) -> None: ...


class NotificationPort(Protocol):
    def publish(self, notification: Notification) -> str: ...


class EnricherPort(Protocol):
    def enrich(self, record: Record, *, task_run_status: Optional[str], now: float) -> Record: ...
    def job(self, farm_id: str, queue_id: str, job_id: str, now: float) -> Tuple[Any, Optional[str]]: ...
    def root_cause_record(self, session_id: Optional[str]) -> Optional[Record]: ...


@dataclass
class Ports:
    deadline: DeadlinePort
    records: RecordPort
    notifications: NotificationPort
    enricher: Optional[EnricherPort] = None
    ledger: Any = None  # DigestLedger: windows and job-level messages (digest mode, job-level messages)
    digest_queue: Any = None  # DigestQueue: delayed flushes (digest mode)
    #: Digest windows this execution environment knows are open and scheduled: (jobId, windowStart).
    open_windows: Set[Tuple[str, int]] = field(default_factory=set)
    #: Root-cause actions this execution environment has already recorded.
    recorded_causes: Set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Saved:
    """What saving a record led to: the record to return, and whether this invocation must publish it."""

    record: Record
    publish: bool = False


def process(
    request: Request, ports: Ports, settings: Settings, *, now: float, lease_seconds: float
) -> Record:
    """Handle one invocation; return the record (or a notice for a skipped task, a digest, a job message)."""
    if isinstance(request, DigestFlush):
        return flush_digest(request, ports, settings, now=now, lease_seconds=lease_seconds)
    if isinstance(request, JobRunChange):
        return notify_job_run(request, ports, settings, now=now, lease_seconds=lease_seconds)
    if isinstance(request, TaskRunChange):
        response = _read_for_task(request, ports.deadline)
        if response is None:
            return _no_session_action(request)
        ref = SessionActionRef(request.farm_id, request.queue_id, request.job_id, response["sessionActionId"])
        run_status = request.run_status
    else:
        ref = request
        response = ports.deadline.get_session_action(ref)
        run_status = None

    record = normalise_session_action(
        response, farm_id=ref.farm_id, queue_id=ref.queue_id, job_id=ref.job_id
    )
    record = enrich(record, ports, run_status, now)
    result = record_and_notify(record, ports, settings, now=now, lease_seconds=lease_seconds)
    record_root_cause(record, ports, settings, now=now, lease_seconds=lease_seconds)
    return result


def enrich(record: Record, ports: Ports, task_run_status: Optional[str], now: float) -> Record:
    if ports.enricher is None:
        return record
    return ports.enricher.enrich(record, task_run_status=task_run_status, now=now)


def record_root_cause(record: Record, ports: Ports, settings: Settings, *, now: float,
                      lease_seconds: float) -> None:
    """Record (and notify on) the action that caused this one, once per execution environment.

    Environment enter and exit actions have no event of their own: a failed environment enter reaches
    the history only this way, as the root cause of the actions it left NEVER_ATTEMPTED.
    """
    cause = record.get("rootCause")
    if ports.enricher is None or not cause or cause.get("sessionActionId") in ports.recorded_causes:
        return
    cause_record = ports.enricher.root_cause_record(record.get("sessionId"))
    if cause_record is None or cause_record["sessionActionId"] == record["sessionActionId"]:
        return
    cause_record = enrich(cause_record, ports, None, now)
    record_and_notify(cause_record, ports, settings, now=now, lease_seconds=lease_seconds)
    ports.recorded_causes.add(cause_record["sessionActionId"])
    if len(ports.recorded_causes) > 4096:
        ports.recorded_causes.clear()


def record_and_notify(
    record: Record, ports: Ports, settings: Settings, *, now: float, lease_seconds: float
) -> Record:
    saved = save_record(record, ports, settings, now=now, lease_seconds=lease_seconds)
    if saved.publish:
        publish_record(saved.record, ports)
    return saved.record


def save_record(
    record: Record, ports: Ports, settings: Settings, *, now: float, lease_seconds: float
) -> Saved:
    """Write the record; in ``each`` mode claim its publish, in ``digest`` mode add a failure to its
    job's digest window and make sure the window's flush is scheduled (if scheduling fails, the record
    leaves the window again and the error makes the event retried; a duplicate delivery re-checks the
    window it joined, so a crash between joining and scheduling is repaired by the retry)."""
    outcome = Outcome(record["outcome"])
    if outcome is Outcome.UNKNOWN:
        count(Metric.UNKNOWN_STATUS)
        logger.warning("session action has a status this version does not know; recorded, not published",
                       extra=safe_summary(record))

    notify = record["status"] in settings.notify_statuses and outcome is not Outcome.UNKNOWN
    window_start: Optional[int] = None
    digest_window: Optional[str] = None
    if settings.digest and notify:
        if outcome is Outcome.FAILURE:
            window_start = _window_start(now, settings)
            digest_window = digest_window_key(record, window_start)
        else:
            notify = False  # digest mode: completions reach people as the job-level message

    recorded_at = _iso(now)
    result = ports.records.save(
        record,
        claim_notification=notify,
        now=now,
        lease_until=now + lease_seconds,
        expires_at=int(now) + settings.retention_days * 86400,
        recorded_at=recorded_at,
        digest_window=digest_window,
    )
    summary = safe_summary(record)

    if result.kind is SaveKind.STALE:
        count(Metric.STALE_IGNORED)
        logger.info("stored record is already terminal; older status ignored",
                    extra={**summary, "storedStatus": result.previous_status})
        return Saved(result.stored or record)
    if result.kind is SaveKind.DUPLICATE:
        count(Metric.DEDUPLICATED)
        joined = int(result.digest_window.split("#")[1]) if settings.digest and result.digest_window else None
        if joined is not None and now - joined < REPAIR_WINDOWS_WITHIN_SECONDS:
            # Already in a recent digest window: make sure its flush is scheduled (a crash may have come
            # between joining it and scheduling it). Normally the window is known open or already exists.
            ensure_window(record, joined, ports, settings, now=now)
        logger.info("status already published; duplicate delivery ignored", extra=summary)
        return Saved(record)
    if result.kind is SaveKind.PENDING:
        raise NotificationPending(
            f"{record['jobId']}/{record['sessionActionId']} status {record['status']}: "
            "another invocation is publishing it; retry later"
        )

    count(Metric.RECORDED)
    if record["terminal"] and result.previous_status != record["status"]:
        count(Metric.FAILURES if outcome is Outcome.FAILURE else Metric.COMPLETIONS)

    if result.kind is SaveKind.CLAIMED and digest_window is not None and window_start is not None:
        try:
            ensure_window(record, window_start, ports, settings, now=now)
        except DigestScheduleError:
            ports.records.leave_digest(record, digest_window)  # the retry joins (and schedules) again
            raise
        count(Metric.DIGESTED)
        _check_late_join(record, window_start, ports, settings)
        logger.info("recorded; added to the job's digest", extra={**summary, "windowStart": window_start})
        return Saved(record)
    if result.kind is SaveKind.CLAIMED:
        return Saved(record, publish=True)
    logger.info("recorded", extra=summary)
    return Saved(record)


def publish_record(record: Record, ports: Ports) -> None:
    """Publish a claimed record's notification, then remember it (or free the claim for a retry)."""
    try:
        message_id = ports.notifications.publish(render_notification(record))
    except NotificationError:
        ports.records.release_claim(record)
        raise
    ports.records.mark_notified(record)
    count(Metric.PUBLISHED)
    logger.info("recorded and published", extra={**safe_summary(record), "messageId": message_id})


# --- digests -------------------------------------------------------------------------------------


def _window_start(now: float, settings: Settings) -> int:
    window = settings.digest_window_seconds
    return int(now // window) * window


def digest_window_key(record: Record, window_start: int) -> str:
    """The ``byDigestWindow`` index key of a record in a window (one of ``DIGEST_SHARDS`` per window)."""
    digest = hashlib.sha256(record["sessionActionId"].encode("ascii", "replace")).digest()
    return digest_window_keys(record["jobId"], window_start)[digest[0] % DIGEST_SHARDS]


def digest_window_keys(job_id: str, window_start: int) -> List[str]:
    """Every ``byDigestWindow`` key of a job's window (one per shard)."""
    return [f"{job_id}#{window_start}#{shard}" for shard in range(DIGEST_SHARDS)]


def ensure_window(record: Record, window_start: int, ports: Ports, settings: Settings, *, now: float) -> None:
    """Make sure the job's window exists in the ledger and its flush is on the digest queue."""
    key = (record["jobId"], window_start)
    if key in ports.open_windows:
        return
    if ports.ledger is None or ports.digest_queue is None:
        raise ConfigurationError("DIGEST_TABLE_NAME", "digest mode needs the digest table and queue")
    window_end = window_start + settings.digest_window_seconds
    flush_at = window_end + DIGEST_GRACE_SECONDS
    created = ports.ledger.open_window(
        record["jobId"], window_start, flush_at=flush_at, expires_at=int(now) + LEDGER_RETENTION_SECONDS
    )
    if created:
        flush = {"farmId": record["farmId"], "queueId": record["queueId"], "jobId": record["jobId"],
                 "windowStart": window_start}
        try:
            ports.digest_queue.schedule_flush(flush, delay_seconds=flush_at - now)
        except DigestScheduleError:
            ports.ledger.forget_window(record["jobId"], window_start)
            raise
        logger.info("digest window opened", extra={"jobId": record["jobId"], "windowStart": window_start,
                                                   "flushInSeconds": round(flush_at - now, 1)})
    ports.open_windows.add(key)
    if len(ports.open_windows) > 4096:
        ports.open_windows.clear()


def _check_late_join(record: Record, window_start: int, ports: Ports, settings: Settings) -> None:
    """A write that ended after its window closed may have missed the flush: move it to the open window."""
    now = time.time()
    if now < window_start + settings.digest_window_seconds:
        return
    state = ports.ledger.state(record["jobId"], window_key(window_start))
    if state.state not in ("publishing", "published"):
        return
    later = _window_start(now, settings)
    ensure_window(record, later, ports, settings, now=now)
    ports.records.move_to_digest(record, digest_window_key(record, later))
    logger.info("late for its digest window; moved to the next one",
                extra={**safe_summary(record), "windowStart": later})


def flush_digest(
    flush: DigestFlush, ports: Ports, settings: Settings, *, now: float, lease_seconds: float
) -> Dict[str, Any]:
    """Publish one message for the failures of a job's window (once, whoever delivers the flush)."""
    if ports.ledger is None:
        raise ConfigurationError("DIGEST_TABLE_NAME", "is not set; a digest flush needs the digest table")
    key = window_key(flush.window_start)
    result: Dict[str, Any] = {"digest": {"jobId": flush.job_id, "windowStart": flush.window_start}}
    claimed = _claim(ports, flush.job_id, key, now=now, lease_seconds=lease_seconds,
                     what=f"digest {flush.job_id} window {flush.window_start}")
    if not claimed:
        result["digest"]["status"] = "already published"
        return result

    members = ports.records.digest_members(digest_window_keys(flush.job_id, flush.window_start))
    if not members:
        ports.ledger.finish(flush.job_id, key, published_count=0, message_id="")
        result["digest"].update(status="empty", failures=0)
        return result

    job, missing = _job_of_members(members)
    if job is None:
        job, missing = _job_details(ports, flush.farm_id, flush.queue_id, flush.job_id, now)
    notification = render_digest(
        members, window_start=flush.window_start, window_seconds=settings.digest_window_seconds,
        sample_size=settings.digest_sample_size, job=job,
        monitor_url=monitor_job_url(settings.monitor_url, flush.farm_id, flush.queue_id, flush.job_id),
        missing=missing,
    )
    message_id = _publish_claimed(ports, flush.job_id, key, notification, count_=len(members))
    count(Metric.DIGESTS_PUBLISHED)
    logger.info("digest published", extra={"jobId": flush.job_id, "windowStart": flush.window_start,
                                            "failures": len(members), "messageId": message_id})
    result["digest"].update(status="published", failures=len(members), messageId=message_id)
    return result


# --- whole jobs ------------------------------------------------------------------------------------


def notify_job_run(
    change: JobRunChange, ports: Ports, settings: Settings, *, now: float, lease_seconds: float
) -> Dict[str, Any]:
    """One message when a whole job ends (SUCCEEDED, FAILED, CANCELED), with its task-run counts."""
    result: Dict[str, Any] = {"jobRun": {"jobId": change.job_id, "taskRunStatus": change.task_run_status}}
    if change.task_run_status not in JOB_END_STATUSES or change.task_run_status not in settings.notify_statuses:
        result["jobRun"]["status"] = "not notified"
        return result
    if ports.ledger is None:
        raise ConfigurationError("DIGEST_TABLE_NAME", "is not set; job-level messages need the digest table")
    counts = json.dumps(change.task_run_status_counts, sort_keys=True, separators=(",", ":"))
    key = job_run_key(change.task_run_status, hashlib.sha256(counts.encode()).hexdigest()[:16])
    if not _claim(ports, change.job_id, key, now=now, lease_seconds=lease_seconds,
                  what=f"job {change.job_id} {change.task_run_status}"):
        result["jobRun"]["status"] = "already published"
        return result

    job, missing = _job_details(ports, change.farm_id, change.queue_id, change.job_id, now)
    notification = render_job_run(
        change, job=job,
        monitor_url=monitor_job_url(settings.monitor_url, change.farm_id, change.queue_id, change.job_id),
        missing=missing,
    )
    message_id = _publish_claimed(ports, change.job_id, key, notification, count_=1)
    count(Metric.JOB_RUN_PUBLISHED)
    logger.info("job-level message published", extra={"jobId": change.job_id,
                                                       "taskRunStatus": change.task_run_status,
                                                       "messageId": message_id})
    result["jobRun"].update(status="published", messageId=message_id)
    return result


def _claim(ports: Ports, job_id: str, key: str, *, now: float, lease_seconds: float, what: str) -> bool:
    """Take a ledger item's publishing lease: False when it is already published; ``NotificationPending``
    while another invocation holds the lease (the retry finds it published, or the lease expired)."""
    if ports.ledger.begin(job_id, key, now=now, lease_until=now + lease_seconds,
                          expires_at=int(now) + LEDGER_RETENTION_SECONDS):
        return True
    if ports.ledger.state(job_id, key).state == "published":
        count(Metric.DEDUPLICATED)
        return False
    raise NotificationPending(f"{what}: another invocation is publishing it; retry later")


def _publish_claimed(ports: Ports, job_id: str, key: str, notification: Notification, *, count_: int) -> str:
    """Publish a ledger item's message under its lease; on failure free the lease for the retry."""
    try:
        message_id = ports.notifications.publish(notification)
    except NotificationError:
        ports.ledger.release(job_id, key)
        raise
    ports.ledger.finish(job_id, key, published_count=count_, message_id=message_id)
    count(Metric.PUBLISHED)
    return message_id


def _job_of_members(members: List[Record]) -> Tuple[Any, List[str]]:
    """The job's name and priority as the window's records carry them (no GetJob for a digest)."""
    for member in members:
        if member.get("jobName") is not None:
            return JobInfo(member["jobId"], member["jobName"], member.get("jobPriority")), []
    return None, []


def _job_details(ports: Ports, farm_id: str, queue_id: str, job_id: str, now: float) -> Tuple[Any, List[str]]:
    if ports.enricher is None:
        return None, []
    job, why = ports.enricher.job(farm_id, queue_id, job_id, now)
    return job, [why] if why else []


# --- tasks -------------------------------------------------------------------------------------


def _no_session_action(task: TaskRunChange) -> Record:
    count(Metric.NO_SESSION_ACTION)
    logger.info(
        "task has no session action; nothing to record",
        extra={"jobId": task.job_id, "taskId": task.task_id, "runStatus": task.run_status},
    )
    return skipped_result(task)


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
    return action_the_event_reports(task, latest_id, deadline.get_session_action(ref), deadline)


def action_the_event_reports(
    task: TaskRunChange, latest_id: str, response: Dict[str, Any], deadline: DeadlinePort
) -> Optional[Dict[str, Any]]:
    """The task's latest action, unless it ended otherwise than the event says (see ``_read_for_task``).

    ``None`` for a requeue (READY) event when no action of the task was reclaimed or interrupted (a task
    requeued by hand): there is nothing new to record.
    """
    expected = ACTION_STATUSES_FOR_RUN_STATUS.get(task.run_status or "")
    if expected and response.get("status") not in expected:
        for summary in deadline.task_session_actions(task):
            if summary.get("status") in expected and summary["sessionActionId"] != latest_id:
                ref = SessionActionRef(task.farm_id, task.queue_id, task.job_id, summary["sessionActionId"])
                return deadline.get_session_action(ref)
        if task.run_status in _ONLY_IF_MATCHED:
            return None
    return response


def skipped_result(task: TaskRunChange) -> Dict[str, Any]:
    result: Dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    reason = ("task requeued with no reclaimed or interrupted run" if task.run_status in _ONLY_IF_MATCHED
              else "task has no session action")
    result.update(
        farmId=task.farm_id, queueId=task.queue_id, jobId=task.job_id, stepId=task.step_id,
        taskId=task.task_id, actionType="taskRun", outcome=Outcome.UNKNOWN.value, terminal=False,
        skipped=reason,
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
