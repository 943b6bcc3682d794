"""The session logs the simulated farm writes, as a worker agent would: one CloudWatch Logs stream per session
(group ``/aws/deadline/<farmId>/<queueId>``, stream ``<sessionId>``), every action's lines in time order.

:func:`action_lines` says what an action logs when it starts and when it ends (realistic lines: the task's
start, a few render lines, the error lines and the exit code of a failing task). :class:`CloudWatchLogsSink`
writes them with ``PutLogEvents`` through any ``logs`` client (moto's in the demo and the tests), creating the
group and stream on first use. The farm calls its sink, if it has one, after every status change.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

#: One log event: (epoch milliseconds, message).
LogEvent = Tuple[int, str]


def epoch_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _parameters_text(parameters: Dict[str, Any]) -> str:
    parts = []
    for name in sorted(parameters):
        value = parameters[name]
        if isinstance(value, dict) and len(value) == 1:
            value = next(iter(value.values()))
        parts.append(f"{name}={value}")
    return ", ".join(parts)


def action_lines(action: Any, previous: str, status: str, now: datetime, *, step_name: Optional[str] = None,
                 parameters: Optional[Dict[str, Any]] = None) -> List[LogEvent]:
    """What the worker agent logs for ``action`` moving from ``previous`` to ``status`` at ``now``: every
    line at or before ``now`` (the action's ``endedAt`` for an ending status), oldest first."""
    kind = next(iter(action.definition))
    member = action.definition[kind] or {}
    at = epoch_ms(now)
    if status == "RUNNING":
        if kind == "taskRun":
            lines = [f"openjd: Running task {member.get('taskId') or ''} of step {step_name or member.get('stepId')}"]
            if parameters:
                lines.append(f"openjd: Parameter values: {_parameters_text(parameters)}")
        elif kind in ("envEnter", "envExit"):
            verb = "Entering" if kind == "envEnter" else "Exiting"
            lines = [f"openjd: {verb} environment {str(member.get('environmentId', '')).split(':')[-1]}"]
        else:
            lines = ["openjd: Syncing job attachments (input files)"]
        return [(at, line) for line in lines]
    if status in ("ASSIGNED", "SCHEDULED", "NEVER_ATTEMPTED", "RUNNING"):
        return []
    stopping = {"CANCELING": "openjd: Cancel requested: sending SIGTERM to the task's process",
                "RECLAIMING": "worker: Spot interruption notice: the instance is being reclaimed"}

    exit_code = action.process_exit_code
    message = action.progress_message
    started = action.started_at or now
    body: List[str] = []
    if previous in stopping:
        pass  # the work's lines went out with the cancel or interruption notice
    elif kind == "taskRun":
        frame = (parameters or {}).get("Frame")
        frame_text = f"Fra:{frame} " if frame is not None else ""
        body = ["Blender 4.2.1 (hash a5d9b6c3a8f1 built 2024-08-19)",
                f"{frame_text}Mem:412.06M | Syncing scene",
                f"{frame_text}Mem:1873.22M | Building BVH",
                f"{frame_text}Mem:2210.80M | Rendering 4/13 tiles"]
        if status == "SUCCEEDED":
            number = f"{int(frame):04d}" if isinstance(frame, int) or str(frame).isdigit() else "0001"
            body += [f"{frame_text}Mem:2214.15M | Rendering 13/13 tiles", f"Saved: '/mnt/output/frame_{number}.exr'"]
        elif status == "FAILED" and message:
            body += [f"{frame_text}Mem:2210.80M | Rendering 8/13 tiles", f"Error: {message}"]
    elif kind == "envEnter":
        body = ["conda: Collecting package metadata (current_repodata.json): done", "conda: Solving environment"]
        if status == "FAILED" and message:
            body.append(message)
        elif status == "SUCCEEDED":
            body.append("conda: Environment ready")
    elif kind == "envExit":
        body = ["openjd: Environment exited"]
    tail: List[str] = []
    if status in stopping:
        tail.append(stopping[status])
    elif status in ("CANCELED",):
        tail.append("openjd: Task run canceled")
    elif status in ("RECLAIMED", "INTERRUPTED"):
        tail.append(f"openjd: Task run {status.lower()}: the worker stopped before it ended")
    if exit_code is not None:
        tail.append(f"openjd: Process exited with code {exit_code}")
    if status == "FAILED":
        what = {"taskRun": "Task run", "envEnter": "Environment enter", "envExit": "Environment exit"}.get(kind, kind)
        tail.append(f"openjd: {what} FAILED")
    # Spread the body between the start and the end; the tail at the end (all at or before ``now``).
    span = max((now - started).total_seconds(), 0.0)
    out: List[LogEvent] = []
    for i, line in enumerate(body):
        when = started + timedelta(seconds=span * (i + 1) / (len(body) + 1))
        out.append((min(epoch_ms(when), at), line))
    out += [(at, line) for line in tail]
    return out


class CloudWatchLogsSink:
    """Writes session log events to CloudWatch Logs with ``PutLogEvents`` (group and stream made on first use).

    With ``buffered=True`` the events wait until :meth:`flush` (one ``PutLogEvents`` per stream): the demo's
    player flushes before each delivery, so the function finds every line written before it reads, in fewer
    calls."""

    def __init__(self, logs_client: Any, *, buffered: bool = False) -> None:
        self._client = logs_client
        self._groups: Set[str] = set()
        self._streams: Set[Tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._buffered = buffered
        self._pending: Dict[Tuple[str, str], List[LogEvent]] = {}

    def __call__(self, group: str, stream: str, events: Sequence[LogEvent]) -> None:
        if not events:
            return
        if self._buffered:
            with self._lock:
                self._pending.setdefault((group, stream), []).extend(events)
            return
        self._put(group, stream, events)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for (group, stream), events in pending.items():
            self._put(group, stream, events)

    def _put(self, group: str, stream: str, events: Sequence[LogEvent]) -> None:
        with self._lock:
            if group not in self._groups:
                try:
                    self._client.create_log_group(logGroupName=group)
                except self._client.exceptions.ResourceAlreadyExistsException:
                    pass
                self._groups.add(group)
            if (group, stream) not in self._streams:
                try:
                    self._client.create_log_stream(logGroupName=group, logStreamName=stream)
                except self._client.exceptions.ResourceAlreadyExistsException:
                    pass
                self._streams.add((group, stream))
            self._client.put_log_events(
                logGroupName=group, logStreamName=stream,
                logEvents=[{"timestamp": ts, "message": message} for ts, message in sorted(events, key=lambda e: e[0])],
            )


class MemorySink:
    """Keeps what the farm logs, per (group, stream): for tests without CloudWatch Logs."""

    def __init__(self) -> None:
        self.streams: Dict[Tuple[str, str], List[LogEvent]] = {}

    def __call__(self, group: str, stream: str, events: Sequence[LogEvent]) -> None:
        self.streams.setdefault((group, stream), []).extend(events)
