"""The ports: what the use cases need from the world, as Protocols (the adapters in ``adapters/``
implement them; unit tests pass in-memory fakes). Nothing here imports boto3."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Protocol, Sequence, Tuple, Union

from .domain.enrichment import JobInfo
from .domain.notification import Notification
from .domain.record import Record
from .domain.requests import SessionActionRef, TaskRunChange
from .errors import DeadlineError, DigestScheduleError, NotificationError

#: A Deadline Cloud API answer (the response dict without ``ResponseMetadata``).
Answer = Dict[str, Any]
#: A Batch* read's answer: items found and typed per-item errors, each keyed by the item's whole
#: identifier (``(farmId, queueId, jobId, ..., <the item's own id>)``), never by its own id alone.
Identifier = Tuple[str, ...]
BatchAnswer = Tuple[Dict[Identifier, Answer], Dict[Identifier, DeadlineError]]


class DeadlinePort(Protocol):
    """Reads from Deadline Cloud (single calls and Batch* calls of up to 100 identifiers)."""

    def get_session_action(self, ref: SessionActionRef) -> Answer: ...
    def latest_session_action_id(self, task: TaskRunChange) -> Optional[str]: ...
    def task_session_actions(self, task: TaskRunChange) -> List[Answer]: ...
    def get_job(self, farm_id: str, queue_id: str, job_id: str) -> Answer: ...
    def get_session(self, farm_id: str, queue_id: str, job_id: str, session_id: str) -> Answer: ...
    def get_step(self, farm_id: str, queue_id: str, job_id: str, step_id: str) -> Answer: ...
    def session_actions_of_session(self, farm_id: str, queue_id: str, job_id: str,
                                   session_id: str) -> List[Answer]: ...
    def batch_get_tasks(self, tasks: Iterable[TaskRunChange]) -> BatchAnswer: ...
    def batch_get_session_actions(self, refs: Iterable[SessionActionRef]) -> BatchAnswer: ...
    def batch_get_jobs(self, jobs: Iterable[Tuple[str, str, str]]) -> BatchAnswer: ...
    def batch_get_sessions(self, sessions: Iterable[Tuple[str, str, str, str]]) -> BatchAnswer: ...
    def batch_get_steps(self, steps: Iterable[Tuple[str, str, str, str]]) -> BatchAnswer: ...


class SessionLogPort(Protocol):
    """Reads the end of a session's log (CloudWatch Logs)."""

    def tail(self, log_group: str, log_stream: str, *, end_time_ms: Optional[int], lines: int) -> List[str]:
        """The messages of the last ``lines`` events logged before ``end_time_ms`` (all of the stream's
        when ``None``), oldest first. Raises ``SessionLogUnreadable`` saying why in plain words."""


class SaveKind(str, Enum):
    WRITTEN = "written"  # recorded; nothing to publish
    CLAIMED = "claimed"  # recorded and this invocation holds the lease to publish the status
    DUPLICATE = "duplicate"  # this status was already published: nothing written, nothing to do
    STALE = "stale"  # the table holds a terminal record with another status: never regress
    PENDING = "pending"  # another invocation holds the publishing lease right now


@dataclass(frozen=True)
class SaveResult:
    kind: SaveKind
    previous_status: Optional[str]
    stored: Optional[Record] = None  # the record in the table when nothing was written
    digest_window: Optional[str] = None  # the digest window the stored record joined, if any
    #: Channels this status was already published on (an earlier claim published some, not all).
    channels_done: FrozenSet[str] = frozenset()


class RecordPort(Protocol):
    """The history table."""

    def save(self, record: Record, *, claim_notification: bool, now: float, lease_until: float,
             expires_at: int, recorded_at: str, digest_window: Optional[str] = None) -> SaveResult: ...
    def mark_published(self, published: Sequence[Tuple[Record, Sequence[str], bool]]) -> None:
        """For each (record, channels published now, complete): remember the channels; when complete, the
        status is notified. Either way the claim is released."""
    def release_claim(self, record: Record) -> None: ...
    def digest_members(self, window_keys: Sequence[str]) -> List[Record]: ...
    def records_of_job(self, job_id: str, *, limit: Optional[int] = None) -> List[Record]:
        """The job's history: every stored record of the job (at most ``limit``), in session action id order."""
    def move_to_digest(self, record: Record, digest_window: str) -> None: ...


class NotificationPort(Protocol):
    """The notification topic."""

    #: The channels that are on (``names.CHANNELS`` order).
    channels: Tuple[str, ...]

    def publish(self, notification: Notification, channels: Sequence[str]) -> Dict[str, Union[str, NotificationError]]: ...
    def publish_batch(self, items: Sequence[Tuple[Notification, Sequence[str]]]) -> List[Dict[str, Union[str, NotificationError]]]: ...


class LedgerPort(Protocol):
    """The digest ledger: digest windows and job-level messages, each published once under a lease."""

    def open_window(self, job_id: str, window_start: int, *, flush_at: float, expires_at: int) -> Optional[str]: ...
    def mark_scheduled(self, job_id: str, window_start: int) -> None: ...
    def mark_scheduled_many(self, windows: Sequence[Tuple[str, int]]) -> None: ...
    def begin(self, job_id: str, digest_key: str, *, now: float, lease_until: float,
              expires_at: int) -> Optional[FrozenSet[str]]:
        """The lease, or None: the channels already published when taken (a partial earlier publish)."""
    def begin_many(self, items: Sequence[Tuple[str, str]], *, now: float, lease_until: float,
                   expires_at: int, shards: int) -> bool: ...
    def state(self, job_id: str, digest_key: str) -> Optional[str]: ...
    def finish(self, job_id: str, digest_key: str, *, published_count: int, message_id: str,
               channels: Sequence[str] = (), complete: bool = True) -> None: ...
    def finish_many(self, finished: Sequence[Tuple[str, str, int, str]]) -> None: ...
    def release(self, job_id: str, digest_key: str) -> None: ...
    def count_worker_runs(self, worker_id: str, window_start: int, *, runs: int, failures: int,
                          jobs: Sequence[str], fleet_id: Optional[str], expires_at: int) -> Dict[str, Any]:
        """Add to a worker's window counters atomically; the counters after (runs, failures, jobs, fleetId)."""
    def mark_suspect(self, job_ids: Sequence[str], worker_id: str, window_start: int,
                     entry: Mapping[str, Any], *, expires_at: int) -> None: ...
    def job_items(self, job_id: str, prefix: str = "") -> List[Dict[str, Any]]:
        """The job's ledger items whose key starts with ``prefix`` (digestKey, state, suspect)."""


class FlushQueuePort(Protocol):
    """The digest queue: delayed flushes of digest windows."""

    def schedule_flush(self, flush: Mapping[str, Any], *, delay_seconds: float) -> str: ...
    def schedule_flushes(self, flushes: Sequence[Tuple[Mapping[str, Any], float]]) -> List[Union[str, DigestScheduleError]]: ...


class EnricherPort(Protocol):
    """Job, session and root-cause details for records, with bounded and cached Deadline calls."""

    def enrich(self, record: Record, *, task_run_status: Optional[str], now: float) -> Record: ...
    def prefetch(self, records: Sequence[Record], task_run_statuses: Sequence[Optional[str]], now: float) -> None: ...
    def job(self, farm_id: str, queue_id: str, job_id: str, now: float) -> Tuple[Optional[JobInfo], Optional[str]]: ...
    def root_cause_record(self, session_id: Optional[str]) -> Optional[Record]: ...


class WaiterPort(Protocol):
    """The waiter table: open waiters of WaitForJob, by job (adapters/waiters.py)."""

    def add(self, waiter: Mapping[str, Any], *, expires_at: int) -> str: ...
    def of_job(self, job_id: str, prefix: str) -> List[Dict[str, Any]]: ...
    def open_waiters(self, limit: int = ...) -> Iterable[Dict[str, Any]]: ...
    def remove(self, job_id: str, key: str) -> None: ...


class TaskTokenPort(Protocol):
    """Step Functions' callbacks: None when sent, else the code of a token that no longer waits."""

    def succeed(self, token: str, output: str) -> Optional[str]: ...
    def fail(self, token: str, error: str, cause: str) -> Optional[str]: ...
    def heartbeat(self, token: str) -> Optional[str]: ...


class JobPartsPort(Protocol):
    """GetStep / GetTask, for a wait on part of a job."""

    def get_step(self, farm_id: str, queue_id: str, job_id: str, step_id: str) -> Answer: ...
    def get_task(self, farm_id: str, queue_id: str, job_id: str, step_id: str, task_id: str) -> Answer: ...


@dataclass
class Ports:
    deadline: DeadlinePort
    records: RecordPort
    notifications: NotificationPort
    enricher: Optional[EnricherPort] = None
    ledger: Optional[LedgerPort] = None  # digest windows and job-level messages
    flush_queue: Optional[FlushQueuePort] = None  # delayed digest flushes (digest mode)
    waiters: Optional[WaiterPort] = None  # WaitForJob's waiters (with task_tokens and job_parts)
    task_tokens: Optional[TaskTokenPort] = None
    job_parts: Optional[JobPartsPort] = None
