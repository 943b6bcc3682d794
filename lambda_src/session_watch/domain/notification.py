"""Record -> notification (subject, email text, JSON message, filterable attributes). Pure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Dict, Optional

from .record import Record

SUBJECT_LIMIT = 99  # SNS: under 100 characters
_NOT_SUBJECT_SAFE = re.compile(r"[^\x20-\x7e]")

_ACTION_WORDS = {
    "taskRun": "Task run",
    "envEnter": "Environment enter",
    "envExit": "Environment exit",
    "syncInputJobAttachments": "Job attachments sync",
}

#: Message attributes subscribers can filter on (SNS filter policies).
ATTRIBUTE_KEYS = ("status", "outcome", "actionType", "farmId", "queueId", "jobId")


@dataclass(frozen=True)
class Notification:
    subject: str
    email: str
    message: str  # the SNS Message for MessageStructure="json"
    attributes: Dict[str, str]


def session_log_location(record: Record) -> Dict[str, Optional[str]]:
    """Where Deadline Cloud writes the session's log (CloudWatch Logs)."""
    return {
        "logGroup": f"/aws/deadline/{record['farmId']}/{record['queueId']}",
        "logStream": record.get("sessionId"),
    }


def render_notification(record: Record) -> Notification:
    default = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    email = render_email(record)
    return Notification(
        subject=render_subject(record),
        email=email,
        message=json.dumps({"default": default, "email": email}, ensure_ascii=False),
        attributes={k: str(record[k]) for k in ATTRIBUTE_KEYS if record.get(k) not in (None, "")},
    )


def render_subject(record: Record) -> str:
    """A one-line subject (< 100 printable ASCII characters) saying what failed or completed."""
    what = _ACTION_WORDS.get(record.get("actionType") or "", f"Action {record.get('actionType')}")
    verb = {"completion": "completed", "failure": _failure_word(record)}.get(
        record.get("outcome") or "", str(record.get("status") or "").lower()
    )
    target = _target(record)
    exit_code = record.get("processExitCode")
    tail = f" (exit {exit_code})" if exit_code not in (None, 0) else ""
    subject = f"Deadline: {what} {verb}{tail}: {target}"
    subject = _NOT_SUBJECT_SAFE.sub("?", subject)
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 3] + "..."
    return subject


def render_email(record: Record) -> str:
    """Short human-readable text: job, step, task, status, exit code, duration, message, logs."""
    logs = session_log_location(record)
    lines = [render_subject(record), ""]
    rows = [
        ("Status", f"{record.get('status')} ({record.get('outcome')})"),
        ("Action", record.get("actionType")),
        ("Job", record.get("jobId")),
        ("Step", record.get("stepId")),
        ("Task", record.get("taskId")),
        ("Environment", record.get("environmentId")),
        ("Parameters", _parameters_text(record)),
        ("Exit code", record.get("processExitCode")),
        ("Duration", _duration_text(record.get("durationSeconds"))),
        ("Progress", _percent_text(record.get("progressPercent"))),
        ("Message", record.get("progressMessage")),
        ("Started", record.get("startedAt")),
        ("Ended", record.get("endedAt")),
        ("Session", record.get("sessionId")),
        ("Session action", record.get("sessionActionId")),
        ("Farm / queue", f"{record.get('farmId')} / {record.get('queueId')}"),
        ("Log group", logs["logGroup"]),
        ("Log stream", logs["logStream"]),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        if value not in (None, ""):
            lines.append(f"{label + ':':<{width + 1}} {value}")
    return "\n".join(lines) + "\n"


def _failure_word(record: Record) -> str:
    return {
        "FAILED": "failed",
        "CANCELED": "canceled",
        "INTERRUPTED": "interrupted",
        "NEVER_ATTEMPTED": "never attempted",
        "RECLAIMED": "reclaimed",
    }.get(record.get("status") or "", "failed")


def _target(record: Record) -> str:
    if record.get("taskId"):
        frame = _parameters_text(record, limit=40)
        return (f"[{frame}] " if frame else "") + str(record["taskId"])
    if record.get("environmentId"):
        return str(record["environmentId"])
    if record.get("stepId"):
        return f"step {record['stepId']}"
    return f"job {record.get('jobId')}"


def _parameters_text(record: Record, limit: int = 200) -> Optional[str]:
    params = record.get("parameters")
    if not params:
        return None
    text = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _duration_text(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{seconds:.1f}s"


def _percent_text(value: Optional[float]) -> Optional[str]:
    return None if value is None else f"{value:.1f}%"
