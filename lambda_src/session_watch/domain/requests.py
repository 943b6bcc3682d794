"""Invocation input -> typed request. Pure: raises ``InvalidEventError`` naming the field at fault.

Three inputs are accepted:
1. Deadline Cloud's EventBridge event ``Task Run Status Change`` (source ``aws.deadline``) -> ``TaskRunChange``
2. any EventBridge event whose ``detail`` carries farmId, queueId, jobId, sessionActionId -> ``SessionActionRef``
3. a direct or Step Functions invocation ``{farmId, queueId, jobId, sessionActionId}`` -> ``SessionActionRef``
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

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

TASK_RUN_STATUS_CHANGE = "Task Run Status Change"
DEADLINE_SOURCE = "aws.deadline"


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


Request = Union[SessionActionRef, TaskRunChange]


def parse_invocation(event: Any) -> Request:
    """Classify and validate an invocation's input."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event", f"expected a JSON object, got {type(event).__name__}")

    if "detail-type" in event or "detail" in event:
        return _parse_eventbridge(event)
    if any(key in event for key in ("farmId", "queueId", "jobId", "sessionActionId")):
        return _session_action_ref(event, prefix="")
    raise InvalidEventError(
        "event",
        "unknown shape: expected an EventBridge event (with 'detail') or "
        "{farmId, queueId, jobId, sessionActionId}",
    )


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
    raise UnsupportedEventError(
        "detail-type",
        f"{_show(detail_type)} from source {_show(source)} is not handled; expected "
        f"'{TASK_RUN_STATUS_CHANGE}' from '{DEADLINE_SOURCE}' or a detail with a sessionActionId",
    )


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


def _run_status(detail: Mapping[str, Any], key: str) -> Optional[str]:
    value = detail.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _RUN_STATUS.match(value):
        raise InvalidEventError(f"detail.{key}", f"{_show(value)} is not a task run status")
    return value


def _show(value: Any, limit: int = 48) -> str:
    """A short, safe rendering of a bad value for an error message (never a huge string)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
