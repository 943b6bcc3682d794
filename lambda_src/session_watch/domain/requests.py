"""Invocation input -> typed request. Pure: raises ``InvalidEventError`` naming the field at fault.

Five inputs are accepted:
1. Deadline Cloud's EventBridge event ``Task Run Status Change`` (source ``aws.deadline``) -> ``TaskRunChange``
2. Deadline Cloud's EventBridge event ``Job Run Status Change`` (source ``aws.deadline``) -> ``JobRunChange``
3. any EventBridge event whose ``detail`` carries farmId, queueId, jobId, sessionActionId -> ``SessionActionRef``
4. a direct or Step Functions invocation ``{farmId, queueId, jobId, sessionActionId}`` -> ``SessionActionRef``
5. a delayed digest flush ``{"digestFlush": {farmId, queueId, jobId, windowStart}}`` -> ``DigestFlush``
6. Deadline Cloud's EventBridge event ``Job Lifecycle Status Change`` (source ``aws.deadline``) ->
   ``JobLifecycleChange`` (notified on CREATE_FAILED and UPLOAD_FAILED; it also resumes waiters)
7. WaitForJob's registration ``{"waitForJob": {farmId, queueId, jobId, stepId?, taskId?, taskToken}}`` -> ``WaitForJob``
8. the waiters' sweep ``{"sweepWaiters": {}}`` -> ``SweepWaiters``
9. Deadline Cloud's ``Step Run Status Change`` -> ``StepRunChange`` (resumes waiters)

Through SQS, each message body is one of these as JSON: ``is_sqs_batch`` recognises an SQS batch and
``parse_sqs_body`` parses one body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Union

from .. import names
from ..errors import InvalidEventError, UnsupportedEventError

_HEX32 = "[0-9a-f]{32}"
ID_PATTERNS = {
    "farmId": re.compile(rf"^farm-{_HEX32}$"),
    "queueId": re.compile(rf"^queue-{_HEX32}$"),
    "jobId": re.compile(rf"^job-{_HEX32}$"),
    "stepId": re.compile(rf"^step-{_HEX32}$"),
    "taskId": re.compile(rf"^task-{_HEX32}-\d{{1,10}}$"),
    "sessionActionId": re.compile(rf"^sessionaction-{_HEX32}-\d{{1,10}}$"),
}
_ID_EXAMPLES = {
    "farmId": "'farm-' and 32 hex digits",
    "queueId": "'queue-' and 32 hex digits",
    "jobId": "'job-' and 32 hex digits",
    "stepId": "'step-' and 32 hex digits",
    "taskId": "'task-', 32 hex digits, '-' and a number",
    "sessionActionId": "'sessionaction-', 32 hex digits, '-' and a number",
}
_RUN_STATUS = re.compile(r"^[A-Z_]{1,64}$")

TASK_RUN_STATUS_CHANGE = names.TASK_RUN_STATUS_CHANGE
JOB_RUN_STATUS_CHANGE = names.JOB_RUN_STATUS_CHANGE
JOB_LIFECYCLE_STATUS_CHANGE = names.JOB_LIFECYCLE_STATUS_CHANGE
DEADLINE_SOURCE = names.DEADLINE_SOURCE
DIGEST_FLUSH = "digestFlush"
SQS_EVENT_SOURCE = "aws:sqs"
#: Deadline Cloud has a dozen task run statuses; a map with many more is not a task run status count.
MAX_STATUS_COUNTS = 64
#: Counts beyond this are not task counts (and DynamoDB and JSON keep them exactly).
_MAX_NUMBER = 2**53
#: The last second of year 9999: a window start must be a date Python can print.
_MAX_EPOCH = 253_402_300_799


@dataclass(frozen=True)
class SessionActionRef:
    farm_id: str
    queue_id: str
    job_id: str
    session_action_id: str


@dataclass(frozen=True)
class TaskRunChange:
    farm_id: str
    queue_id: str
    job_id: str
    step_id: str
    task_id: str
    run_status: Optional[str]
    previous_run_status: Optional[str]
    event_id: Optional[str] = None


@dataclass(frozen=True)
class JobRunChange:
    """Deadline Cloud's ``Job Run Status Change``: the job's roll-up task run status and its counts."""

    farm_id: str
    queue_id: str
    job_id: str
    task_run_status: str
    previous_task_run_status: Optional[str]
    task_run_status_counts: Dict[str, int] = field(hash=False)  # compared, not hashed
    event_id: Optional[str] = None


@dataclass(frozen=True)
class DigestFlush:
    """Publish the digest of one job's failures in the window starting at ``window_start`` (epoch s)."""

    farm_id: str
    queue_id: str
    job_id: str
    window_start: int


@dataclass(frozen=True)
class WaitForJob:
    """Register a waiter: resume ``task_token`` when the job (or its step, or its task) ends."""

    farm_id: str
    queue_id: str
    job_id: str
    step_id: Optional[str]
    task_id: Optional[str]
    task_token: str = field(repr=False)  # a credential of the execution: never printed
    execution_arn: Optional[str] = None

    @property
    def scope(self) -> str:
        return "task" if self.task_id else "step" if self.step_id else "job"


@dataclass(frozen=True)
class SweepWaiters:
    """Re-check every open waiter against Deadline Cloud (the safety net for lost events)."""


@dataclass(frozen=True)
class JobLifecycleChange:
    """Deadline Cloud's ``Job Lifecycle Status Change`` (CREATE_FAILED, UPLOAD_FAILED end a job that never ran)."""

    farm_id: str
    queue_id: str
    job_id: str
    lifecycle_status: str
    previous_lifecycle_status: Optional[str]
    event_id: Optional[str] = None


@dataclass(frozen=True)
class StepRunChange:
    """Deadline Cloud's ``Step Run Status Change``: a step's roll-up task run status."""

    farm_id: str
    queue_id: str
    job_id: str
    step_id: str
    task_run_status: str
    event_id: Optional[str] = None


Request = Union[SessionActionRef, TaskRunChange, JobRunChange, DigestFlush, WaitForJob, SweepWaiters,
                JobLifecycleChange, StepRunChange]
#: Longest task token Step Functions issues (botocore model, stepfunctions ``TaskToken``: 1-2048).
MAX_TASK_TOKEN = 2048
_EXECUTION_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_:.-]{1,400}$")


def parse_invocation(event: Any) -> Request:
    """Classify and validate an invocation's input."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event", f"expected a JSON object, got {type(event).__name__}")

    if DIGEST_FLUSH in event:
        return _digest_flush(event[DIGEST_FLUSH])
    if names.WAIT_FOR_JOB in event:
        return _wait_for_job(event[names.WAIT_FOR_JOB])
    if names.SWEEP_WAITERS in event:
        if not isinstance(event[names.SWEEP_WAITERS], Mapping):
            raise InvalidEventError(names.SWEEP_WAITERS, "is not an object")
        return SweepWaiters()
    if "detail-type" in event or "detail" in event:
        return _parse_eventbridge(event)
    if any(key in event for key in ("farmId", "queueId", "jobId", "sessionActionId")):
        return _session_action_ref(event, prefix="")
    raise InvalidEventError(
        "event",
        "unknown shape: expected an EventBridge event (with 'detail'), "
        "{farmId, queueId, jobId, sessionActionId} or {digestFlush: {...}}",
    )


def is_sqs_batch(event: Any) -> bool:
    """Whether ``event`` is an SQS event source batch: ``{"Records": [...]}`` of ``aws:sqs`` records."""
    if not isinstance(event, Mapping):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, Mapping) and r.get("eventSource") == SQS_EVENT_SOURCE for r in records)
    )


def parse_sqs_body(body: Any) -> Request:
    """One SQS message body (the JSON of an input ``parse_invocation`` accepts) -> typed request.

    A body that is not JSON raises ``InvalidEventError("body", ...)``; a JSON body is then checked as
    an invocation input, with the same field names.
    """
    if not isinstance(body, str):
        raise InvalidEventError("body", f"expected a string, got {type(body).__name__}")
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as err:
        problem = err.msg if isinstance(err, json.JSONDecodeError) else "too deeply nested"
        raise InvalidEventError("body", f"is not JSON ({problem})") from None
    return parse_invocation(event)


def _parse_eventbridge(event: Mapping[str, Any]) -> Request:
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEventError("detail", "is missing or not an object")
    if "sessionActionId" in detail:
        return _session_action_ref(detail, prefix="detail.")

    source = event.get("source")
    detail_type = event.get("detail-type")
    if source == DEADLINE_SOURCE and detail_type == TASK_RUN_STATUS_CHANGE:
        event_id = event.get("id")
        return TaskRunChange(
            farm_id=_id(detail, "farmId", "detail."),
            queue_id=_id(detail, "queueId", "detail."),
            job_id=_id(detail, "jobId", "detail."),
            step_id=_id(detail, "stepId", "detail."),
            task_id=_id(detail, "taskId", "detail."),
            run_status=_run_status(detail, "runStatus"),
            previous_run_status=_run_status(detail, "previousRunStatus"),
            event_id=event_id if isinstance(event_id, str) else None,
        )
    if source == DEADLINE_SOURCE and detail_type == JOB_RUN_STATUS_CHANGE:
        event_id = event.get("id")
        farm_id = _id(detail, "farmId", "detail.")
        queue_id = _id(detail, "queueId", "detail.")
        job_id = _id(detail, "jobId", "detail.")
        status = _run_status(detail, "taskRunStatus")
        if status is None:
            raise InvalidEventError("detail.taskRunStatus", "is missing")
        return JobRunChange(
            farm_id=farm_id,
            queue_id=queue_id,
            job_id=job_id,
            task_run_status=status,
            previous_task_run_status=_run_status(detail, "previousTaskRunStatus"),
            task_run_status_counts=_status_counts(detail, "taskRunStatusCounts"),
            event_id=event_id if isinstance(event_id, str) else None,
        )
    if source == DEADLINE_SOURCE and detail_type in (names.JOB_LIFECYCLE_STATUS_CHANGE, names.STEP_RUN_STATUS_CHANGE):
        return _waiter_event(event, detail, detail_type)
    raise UnsupportedEventError(
        "detail-type",
        f"{_show(detail_type)} from source {_show(source)} is not handled; expected "
        f"'{TASK_RUN_STATUS_CHANGE}', '{JOB_RUN_STATUS_CHANGE}', '{names.JOB_LIFECYCLE_STATUS_CHANGE}' or "
        f"'{names.STEP_RUN_STATUS_CHANGE}' from '{DEADLINE_SOURCE}' "
        "or a detail with a sessionActionId",
    )


def _waiter_event(event: Mapping[str, Any], detail: Mapping[str, Any], detail_type: str) -> Request:
    """``Job Lifecycle Status Change`` (a job-level notification on CREATE_FAILED/UPLOAD_FAILED, and waiters)
    and ``Step Run Status Change`` (waiters only)."""
    event_id = event.get("id")
    event_id = event_id if isinstance(event_id, str) else None
    farm_id = _id(detail, "farmId", "detail.")
    queue_id = _id(detail, "queueId", "detail.")
    job_id = _id(detail, "jobId", "detail.")
    if detail_type == names.JOB_LIFECYCLE_STATUS_CHANGE:
        status = _run_status(detail, "lifecycleStatus", "a job lifecycle status")
        if status is None:
            raise InvalidEventError("detail.lifecycleStatus", "is missing")
        return JobLifecycleChange(farm_id, queue_id, job_id, status,
                                  _run_status(detail, "previousLifecycleStatus", "a job lifecycle status"),
                                  event_id)
    status = _run_status(detail, "taskRunStatus")
    if status is None:
        raise InvalidEventError("detail.taskRunStatus", "is missing")
    return StepRunChange(farm_id, queue_id, job_id, _id(detail, "stepId", "detail."), status, event_id)


def _wait_for_job(spec: Any) -> WaitForJob:
    if not isinstance(spec, Mapping):
        raise InvalidEventError(names.WAIT_FOR_JOB, "is not an object")
    prefix = names.WAIT_FOR_JOB + "."
    step_id = _id(spec, "stepId", prefix) if spec.get("stepId") is not None else None
    task_id = _id(spec, "taskId", prefix) if spec.get("taskId") is not None else None
    if task_id and not step_id:
        raise InvalidEventError(prefix + "stepId", "is missing; a taskId needs its stepId")
    token = spec.get("taskToken")
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TASK_TOKEN:
        raise InvalidEventError(prefix + "taskToken",
                                f"expected the execution's task token (a string of 1-{MAX_TASK_TOKEN} characters)")
    execution = spec.get("executionArn")
    if execution is not None and not (isinstance(execution, str) and _EXECUTION_ARN.match(execution)):
        raise InvalidEventError(prefix + "executionArn", f"{_show(execution)} is not an execution ARN")
    return WaitForJob(
        farm_id=_id(spec, "farmId", prefix), queue_id=_id(spec, "queueId", prefix), job_id=_id(spec, "jobId", prefix),
        step_id=step_id, task_id=task_id, task_token=token, execution_arn=execution,
    )


def _status_counts(detail: Mapping[str, Any], key: str) -> Dict[str, int]:
    """``taskRunStatusCounts``: task run status -> non-negative whole number."""
    where = f"detail.{key}"
    counts = detail.get(key)
    if counts is None:
        raise InvalidEventError(where, "is missing")
    if not isinstance(counts, Mapping):
        raise InvalidEventError(where, f"expected an object, got {type(counts).__name__}")
    if len(counts) > MAX_STATUS_COUNTS:
        raise InvalidEventError(where, f"has {len(counts)} statuses; expected at most {MAX_STATUS_COUNTS}")
    out: Dict[str, int] = {}
    for status, count in counts.items():
        if not isinstance(status, str) or not _RUN_STATUS.match(status):
            name = status if isinstance(status, str) and 0 < len(status) <= 64 else _show(status, 24)
            raise InvalidEventError(f"{where}.{name}", "is not a task run status")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _MAX_NUMBER:
            raise InvalidEventError(f"{where}.{status}", f"{_show(count)} is not a non-negative whole number")
        out[status] = count
    return out


def _digest_flush(flush: Any) -> DigestFlush:
    if not isinstance(flush, Mapping):
        raise InvalidEventError(DIGEST_FLUSH, "is not an object")
    prefix = DIGEST_FLUSH + "."
    farm_id = _id(flush, "farmId", prefix)
    queue_id = _id(flush, "queueId", prefix)
    job_id = _id(flush, "jobId", prefix)
    start = flush.get("windowStart")
    if start is None:
        raise InvalidEventError(prefix + "windowStart", "is missing")
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= _MAX_EPOCH:
        raise InvalidEventError(prefix + "windowStart", f"{_show(start)} is not epoch seconds (a whole number)")
    return DigestFlush(farm_id=farm_id, queue_id=queue_id, job_id=job_id, window_start=start)


def _session_action_ref(obj: Mapping[str, Any], prefix: str) -> SessionActionRef:
    return SessionActionRef(
        farm_id=_id(obj, "farmId", prefix),
        queue_id=_id(obj, "queueId", prefix),
        job_id=_id(obj, "jobId", prefix),
        session_action_id=_id(obj, "sessionActionId", prefix),
    )


def _id(obj: Mapping[str, Any], key: str, prefix: str) -> str:
    value = obj.get(key)
    if value is None:
        raise InvalidEventError(prefix + key, "is missing")
    if not isinstance(value, str):
        raise InvalidEventError(prefix + key, f"expected a string, got {type(value).__name__}")
    if not ID_PATTERNS[key].match(value):
        raise InvalidEventError(
            prefix + key, f"{_show(value)} is not a valid id (expected {_ID_EXAMPLES[key]})"
        )
    return value


def _run_status(detail: Mapping[str, Any], key: str, what: str = "a task run status") -> Optional[str]:
    value = detail.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _RUN_STATUS.match(value):
        raise InvalidEventError(f"detail.{key}", f"{_show(value)} is not {what}")
    return value


def _show(value: Any, limit: int = 48) -> str:
    """A short, safe rendering of a bad value for an error message (never a huge string)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
