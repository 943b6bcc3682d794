"""Enrichment: job name and priority, where the session ran and logged, links, the root cause. Pure.

The adapters make the calls (GetJob / BatchGetJob, GetSession / BatchGetSession, ListSessionActions,
GetSessionAction); this module turns their answers into what a record carries, and builds the links.
A missing detail never stops anything: ``enrich`` takes ``None`` for what could not be read and lists
the reason in ``enrichmentMissing``.

Answers are read as boto3 returns them (datetimes, extra keys, ``ResponseMetadata``); a value of the
wrong type raises ``MalformedSessionActionError`` naming the field in the answer (``name``,
``priority``, ``log.options.logGroupName``), never a bare KeyError or TypeError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, cast
from urllib.parse import quote

from ..errors import MalformedSessionActionError
from .normalise import _optional_str, _required_str  # the same field checks as the normaliser
from .record import ENRICHMENT_FIELDS, RECORD_FIELDS, ROOT_CAUSE_FIELDS, Record, RootCause

__all__ = [
    "ENRICHMENT_FIELDS", "ROOT_CAUSE_FIELDS", "JobInfo", "SessionInfo", "job_info", "session_info",
    "default_session_info", "logs_console_url", "monitor_job_url", "needs_root_cause",
    "first_failed_action_id", "root_cause", "enrich", "step_name", "excerpt_lines", "log_end_time_ms",
    "wants_log_excerpt",
]


#: GetJob's ``name`` is 1..512 characters; a longer one is cut (with a mark) rather than refused.
JOB_NAME_LIMIT = 512
_INT32 = (-(2**31), 2**31 - 1)
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
_NUMBER_SUFFIX = re.compile(r"-(\d{1,18})$")
#: GetStep's ``name`` is 1..100 characters (botocore model, ``StepName``); a longer one is cut (with a mark).
STEP_NAME_LIMIT = 100
#: ``logExcerpt``: at most this many UTF-8 bytes for the whole list, and per line (a longer line is cut
#: with ``LINE_CUT``). 4 KiB keeps a record's message, each of a digest's sample entries and the DynamoDB
#: item far below their limits (SNS 256 KiB, DynamoDB 400 KB) whatever the log holds.
LOG_EXCERPT_BYTES = 4096
LOG_LINE_BYTES = 512
LINE_CUT = "\u2026"
_LOG_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    name: Optional[str]
    priority: Optional[int]


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    worker_id: Optional[str]
    fleet_id: Optional[str]
    log_group: str
    log_stream: str


# --- answers -----------------------------------------------------------------------------------


def job_info(response: Mapping[str, Any]) -> JobInfo:
    """A GetJob answer (or a BatchGetJob item) -> ``JobInfo``."""
    if not isinstance(response, Mapping):
        raise MalformedSessionActionError("job", "is not an object")
    job_id = _required_str(response, "jobId")
    name = _optional_str(response, "name")
    if name is not None and len(name) > JOB_NAME_LIMIT:
        name = name[: JOB_NAME_LIMIT - 1] + "\u2026"
    priority = response.get("priority")
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise MalformedSessionActionError("priority", "is not an integer")
        if not _INT32[0] <= priority <= _INT32[1]:
            raise MalformedSessionActionError("priority", "is outside the 32-bit range")
    return JobInfo(job_id=job_id, name=name or None, priority=priority)


def step_name(response: Mapping[str, Any]) -> Optional[str]:
    """A GetStep answer (or a BatchGetStep item) -> the step's ``name`` (``None`` when it has none)."""
    if not isinstance(response, Mapping):
        raise MalformedSessionActionError("step", "is not an object")
    _required_str(response, "stepId")
    name = _optional_str(response, "name")
    if name is not None and len(name) > STEP_NAME_LIMIT:
        name = name[: STEP_NAME_LIMIT - 1] + "\u2026"
    return name or None


def session_info(response: Mapping[str, Any], *, farm_id: str, queue_id: str) -> SessionInfo:
    """A GetSession answer (or a BatchGetSession item) -> ``SessionInfo``.

    The log location is ``log.options.logGroupName`` / ``logStreamName`` when ``log.logDriver`` is
    ``awslogs``; with another driver, or without options, Deadline Cloud's default: group
    ``/aws/deadline/<farmId>/<queueId>``, stream ``<sessionId>`` (each part separately).
    """
    if not isinstance(response, Mapping):
        raise MalformedSessionActionError("session", "is not an object")
    session_id = _required_str(response, "sessionId")
    fallback = default_session_info(farm_id, queue_id, session_id)
    group, stream = _awslogs_location(response.get("log"))
    return SessionInfo(
        session_id=session_id,
        worker_id=_optional_str(response, "workerId"),
        fleet_id=_optional_str(response, "fleetId"),
        log_group=group or fallback.log_group,
        log_stream=stream or fallback.log_stream,
    )


def default_session_info(farm_id: str, queue_id: str, session_id: str) -> SessionInfo:
    """Where a session logs when GetSession says nothing (or could not be called): no worker, no fleet."""
    return SessionInfo(
        session_id=session_id,
        worker_id=None,
        fleet_id=None,
        log_group=f"/aws/deadline/{farm_id}/{queue_id}",
        log_stream=session_id,
    )


def _awslogs_location(log: Any) -> Tuple[Optional[str], Optional[str]]:
    if log is None:
        return None, None
    if not isinstance(log, Mapping):
        raise MalformedSessionActionError("log", "is not an object")
    driver = log.get("logDriver")
    if driver is not None and not isinstance(driver, str):
        raise MalformedSessionActionError("log.logDriver", "is not a string")
    options = log.get("options")
    if options is not None and not isinstance(options, Mapping):
        raise MalformedSessionActionError("log.options", "is not an object")
    if driver != "awslogs" or not options:
        return None, None
    group = _optional_str(options, "logGroupName", where="log.options")
    stream = _optional_str(options, "logStreamName", where="log.options")
    return group or None, stream or None


# --- links -------------------------------------------------------------------------------------


def logs_console_url(
    region: Optional[str], group: str, stream: Optional[str], partition: str = "aws"
) -> Optional[str]:
    """The CloudWatch Logs console page of a log stream (of the group when ``stream`` is ``None``).

    The console's fragment takes each name URL-encoded twice with ``%`` written ``$`` (so ``/`` is
    ``$252F``). ``None`` without a region, or for a partition without a public console.
    """
    host = _CONSOLE_HOSTS.get(partition)
    if not region or host is None or not _REGION.match(region) or not group:
        return None
    url = (f"https://{region}.{host}/cloudwatch/home?region={region}"
           f"#logsV2:log-groups/log-group/{_console_escape(group)}")
    if stream:
        url += f"/log-events/{_console_escape(stream)}"
    return url


def _console_escape(name: str) -> str:
    return quote(quote(name, safe=""), safe="").replace("%", "$")


def monitor_job_url(monitor_url: Optional[str], farm_id: str, queue_id: str, job_id: str) -> Optional[str]:
    """The job's page in the Deadline Cloud monitor, from ``MONITOR_URL``.

    ``{farmId}``, ``{queueId}`` and ``{jobId}`` in ``monitor_url`` are replaced; without any of them,
    ``/farms/<farmId>/queues/<queueId>/jobs/<jobId>`` is appended (after any trailing slash). A URL that
    already holds the job id is returned as it is, so applying this twice changes nothing.

    Not verified against the real monitor: the appended path is this project's guess at the monitor's
    routes. When it is wrong, set ``MONITOR_URL`` with the placeholders in the right places.
    """
    if not monitor_url:
        return None
    placeholders = {"{farmId}": farm_id, "{queueId}": queue_id, "{jobId}": job_id}
    if any(p in monitor_url for p in placeholders):
        url = monitor_url
        for placeholder, value in placeholders.items():
            url = url.replace(placeholder, quote(str(value), safe=""))
        return url
    if job_id and job_id in monitor_url:
        return monitor_url
    return f"{monitor_url.rstrip('/')}/farms/{farm_id}/queues/{queue_id}/jobs/{job_id}"


# --- root cause --------------------------------------------------------------------------------


def needs_root_cause(record: Record, task_run_status: Optional[str]) -> bool:
    """Whether the record's root cause should be looked up: a NEVER_ATTEMPTED action, or an action that
    did not itself fail (interrupted, canceled, ...) while its task event says FAILED. Never for an
    action without a session id (there is no session to look in)."""
    if not record.get("sessionId"):
        return False
    status = record.get("status")
    if status == "NEVER_ATTEMPTED":
        return True
    return task_run_status == "FAILED" and status != "FAILED" and record.get("outcome") == "failure"


def first_failed_action_id(summaries: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """The id of the earliest FAILED action among ListSessionActions summaries (in any order).

    Earliest by ``startedAt`` (an action that failed without starting, by ``endedAt``, then
    ``workerUpdatedAt``); actions with no time at all come last; ties by the number at the end of the
    id (``sessionaction-<hex>-<n>`` counts up within a session), then the id. ``None`` when none failed.
    Summaries that are not objects or have no id are skipped.
    """
    best: Optional[Tuple[Any, ...]] = None
    best_id: Optional[str] = None
    for summary in summaries or ():
        if not isinstance(summary, Mapping) or summary.get("status") != "FAILED":
            continue
        action_id = summary.get("sessionActionId")
        if not isinstance(action_id, str) or not action_id:
            continue
        when = None
        for field in ("startedAt", "endedAt", "workerUpdatedAt"):
            when = _when(summary.get(field))
            if when is not None:
                break
        key = (when is None, when or _EPOCH, id_number(action_id), action_id)
        if best is None or key < best:
            best, best_id = key, action_id
    return best_id


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NO_NUMBER = 2**63


def id_number(action_id: Any) -> int:
    """The number that ends a session action id (``...-4`` -> 4); a large number when there is none."""
    match = _NUMBER_SUFFIX.search(action_id) if isinstance(action_id, str) else None
    return int(match.group(1)) if match else _NO_NUMBER


def _when(value: Any) -> Optional[datetime]:
    """A summary's timestamp (boto3 datetime, naive = UTC, or ISO text); ``None`` when absent or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def root_cause(record: Record) -> RootCause:
    """``rootCause`` of the actions it explains, from the failed action's normalised record."""
    return cast(RootCause, {key: record.get(key) for key in ROOT_CAUSE_FIELDS})


# --- the session's log ------------------------------------------------------------------------


def wants_log_excerpt(record: Record) -> bool:
    """Whether a record gets the end of its session's log: a failed action (any failure status) that ran
    in a session. Completions do not (one log read per completed task would cost more than it tells)."""
    return bool(record.get("sessionId")) and record.get("outcome") == "failure"


def log_end_time_ms(record: Record) -> Optional[int]:
    """Where the action's lines end in its session's log: ``endedAt`` (else ``workerUpdatedAt``) as epoch
    milliseconds, plus one because GetLogEvents' ``endTime`` leaves out events at that very time (CloudWatch
    Logs API Reference, GetLogEvents: "Events with a timestamp equal to or later than this time are not
    included"). ``None`` when the action never ran (NEVER_ATTEMPTED): the session's log up to now, which is
    what stopped it."""
    for key in ("endedAt", "workerUpdatedAt"):
        when = _when(record.get(key))
        if when is not None:
            return int(when.timestamp() * 1000) + 1
    return None


def excerpt_lines(messages: Sequence[Any], *, max_lines: int, max_bytes: int = LOG_EXCERPT_BYTES,
                  line_bytes: int = LOG_LINE_BYTES) -> List[str]:
    """The last ``max_lines`` lines of log event ``messages`` (oldest first), oldest first, within
    ``max_bytes`` UTF-8 bytes in all: a message of several lines counts as several; control characters
    become spaces; a line over ``line_bytes`` is cut (``LINE_CUT``); when the lines do not fit, the oldest
    are left out. An empty list when nothing was logged."""
    if max_lines <= 0:
        return []
    lines: List[str] = []
    for message in messages or ():
        text = message if isinstance(message, str) else str(message)
        lines.extend(part.rstrip("\r") for part in text.rstrip("\n").split("\n"))
    out: List[str] = []
    used = 0
    for line in reversed(lines[-max_lines:]):
        line = _cut_bytes(_LOG_CONTROL.sub(" ", line).rstrip(), line_bytes)
        size = len(line.encode("utf-8")) + 1
        if used + size > max_bytes:
            break
        out.append(line)
        used += size
    out.reverse()
    return out


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    mark = len(LINE_CUT.encode("utf-8"))
    return data[: max(limit - mark, 0)].decode("utf-8", "ignore") + LINE_CUT


# --- the enriched record -----------------------------------------------------------------------


def enrich(
    record: Record,
    *,
    job: Optional[JobInfo],
    session: Optional[SessionInfo],
    root_cause: Optional[Mapping[str, Any]],
    region: Optional[str],
    partition: str,
    monitor_url: Optional[str],
    missing: Sequence[str],
    step_name: Optional[str] = None,
    log_excerpt: Optional[Sequence[str]] = None,
) -> Record:
    """A new record with ``ENRICHMENT_FIELDS`` filled from what could be read.

    ``job`` / ``session`` / ``root_cause`` are ``None`` when unknown. Without ``session`` the log location
    is Deadline Cloud's default for the record's session (no worker, no fleet). ``monitor_url`` is the
    configured ``MONITOR_URL`` (see ``monitor_job_url``). ``missing`` lists what could not be read
    ("jobName: GetJob ThrottlingException"); ``enrichmentMissing`` is ``None`` when it is empty.
    The input record is not changed.
    """
    copy: Dict[str, Any] = {key: record.get(key) for key in RECORD_FIELDS}
    copy.update((k, v) for k, v in record.items() if k not in copy)
    out = cast(Record, copy)  # every key of the contract, as the input had them

    farm_id, queue_id, job_id = record["farmId"], record["queueId"], record["jobId"]
    session_id = record.get("sessionId")
    if session is None and session_id:
        session = default_session_info(farm_id, queue_id, session_id)
    if session is not None:
        group: Optional[str] = session.log_group
        stream: Optional[str] = session.log_stream
    else:
        group, stream = f"/aws/deadline/{farm_id}/{queue_id}", None

    cause: Optional[RootCause] = None
    if root_cause is not None:
        cause = cast(RootCause, {key: root_cause.get(key) for key in ROOT_CAUSE_FIELDS})

    missing_list = list(dict.fromkeys(str(m) for m in missing or () if m))
    out.update({
        "jobName": job.name if job else None,
        "jobPriority": job.priority if job else None,
        "stepName": step_name or None,
        "workerId": session.worker_id if session else None,
        "fleetId": session.fleet_id if session else None,
        "logGroup": group,
        "logStream": stream,
        "logsUrl": logs_console_url(region, group, stream, partition) if group else None,
        "logExcerpt": list(log_excerpt) if log_excerpt is not None else None,
        "monitorUrl": monitor_job_url(monitor_url, farm_id, queue_id, job_id),
        "rootCause": cause,
        "enrichmentMissing": missing_list or None,
    })
    return out


