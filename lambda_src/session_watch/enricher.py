"""Enrichment: job name and priority, worker and log location, root cause, with bounded calls.

Caches live for the execution environment (job details per job, session details and root causes per
session). Sessions are read once each (one BatchGetSession per batch for every session it names, or one
GetSession per new session), so every record whose session has a worker names it; a lookup Deadline Cloud
refused is not retried for that job before the next window (``DIGEST_WINDOW_SECONDS``). Job and root-cause
lookups are bounded: at most ``ENRICHMENT_CALLS_PER_JOB_WINDOW`` calls of each kind per job per window in
this execution environment, where one call may be a Batch* read covering many. A failed or skipped lookup
never stops a record or a notification: the record goes on without the detail and names it in
``enrichmentMissing``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .cache import Lru
from .config import Settings
from .domain import enrichment as domain
from .domain.enrichment import JobInfo, SessionInfo
from .domain.normalise import normalise_session_action
from .domain.record import Record, RootCause
from .domain.requests import SessionActionRef
from .errors import DeadlineError, MalformedSessionActionError
from .observability import Metric, count, logger
from .ports import DeadlinePort

#: Kinds of enrichment call, each with its own budget.
JOB, SESSION, ROOT_CAUSE = "job", "session", "rootCause"

_CACHE_SIZE = 4096
_NO_ROOT_CAUSE: Dict[str, Any] = {}


class Enricher:
    def __init__(self, deadline: DeadlinePort, settings: Settings) -> None:
        self._deadline = deadline
        self._settings = settings
        self._jobs: Lru = Lru(_CACHE_SIZE)
        self._sessions: Lru = Lru(_CACHE_SIZE)
        self._root_causes: Lru = Lru(_CACHE_SIZE)  # session id -> root cause dict, or _NO_ROOT_CAUSE
        self._root_cause_records: Lru = Lru(_CACHE_SIZE)  # session id -> the root cause's full record
        self._budget: Dict[Tuple[str, str], Tuple[int, int]] = {}
        self._missing: Dict[Tuple[str, str], str] = {}  # (kind, id) -> why it is missing (this window)
        self._failed_at: Dict[Tuple[str, str], int] = {}  # (kind, job id) -> the window its lookup failed in

    # --- budget ----------------------------------------------------------------------------------

    def _allow(self, kind: str, job_id: str, now: float) -> bool:
        window = int(now // self._settings.digest_window_seconds)
        start, used = self._budget.get((kind, job_id), (window, 0))
        if start != window:
            used = 0
        if used >= self._settings.enrichment_calls_per_job_window:
            count(Metric.ENRICHMENT_SKIPPED)
            return False
        self._budget[(kind, job_id)] = (window, used + 1)
        if len(self._budget) > _CACHE_SIZE:
            self._budget.pop(next(iter(self._budget)))
        return True

    def _refused_recently(self, kind: str, job_id: str, now: float) -> Optional[str]:
        """Why a lookup of ``kind`` for the job failed in this window, if it did (it is not retried before the
        next window)."""
        failed = self._failed_at.get((kind, job_id))
        window = int(now // self._settings.digest_window_seconds)
        if failed is None or failed != window:
            return None
        return self._missing.get((kind, job_id))

    def _limit_text(self) -> str:
        return (f"call limit ({self._settings.enrichment_calls_per_job_window} per job per "
                f"{self._settings.digest_window_seconds} s) reached")

    # --- job -------------------------------------------------------------------------------------

    def job(self, farm_id: str, queue_id: str, job_id: str, now: float) -> Tuple[Optional[JobInfo], Optional[str]]:
        """The job's name and priority (cached for the execution environment), or why they are missing."""
        cached = self._jobs.get(job_id)
        if cached is not None:
            return cached, None
        if not self._allow(JOB, job_id, now):
            return None, f"jobName: {self._missing.get((JOB, job_id), self._limit_text())}"
        try:
            info = domain.job_info(self._deadline.get_job(farm_id, queue_id, job_id))
        except (DeadlineError, MalformedSessionActionError) as err:
            return None, self._failed(JOB, job_id, "jobName", "GetJob", err)
        self._jobs.put(job_id, info)
        self._missing.pop((JOB, job_id), None)
        return info, None

    # --- session ---------------------------------------------------------------------------------

    def session(self, record: Record, now: float) -> Tuple[Optional[SessionInfo], Optional[str]]:
        session_id = record.get("sessionId")
        if not session_id:
            return None, None
        cached = self._sessions.get(session_id)
        if cached is not None:
            return cached, None
        fallback = domain.default_session_info(record["farmId"], record["queueId"], session_id)
        refused = self._refused_recently(SESSION, record["jobId"], now)
        if refused:  # no retry within the window of a lookup Deadline Cloud refused (throttled, denied)
            return fallback, f"workerId: {refused}"
        try:
            response = self._deadline.get_session(record["farmId"], record["queueId"], record["jobId"], session_id)
            info = domain.session_info(response, farm_id=record["farmId"], queue_id=record["queueId"])
        except (DeadlineError, MalformedSessionActionError) as err:
            return fallback, self._failed(SESSION, record["jobId"], "workerId", "GetSession", err, now)
        self._sessions.put(session_id, info)
        self._missing.pop((SESSION, record["jobId"]), None)
        return info, None

    # --- root cause ------------------------------------------------------------------------------

    def root_cause(self, record: Record, now: float) -> Tuple[Optional[RootCause], Optional[str]]:
        session_id = record.get("sessionId")
        if not session_id:
            return None, "rootCause: the action has no session"
        cached = self._root_causes.get(session_id)
        if cached is not None:
            return (cached or None), None
        if not self._allow(ROOT_CAUSE, record["jobId"], now):
            return None, f"rootCause: {self._missing.get((ROOT_CAUSE, record['jobId']), self._limit_text())}"
        try:
            summaries = self._deadline.session_actions_of_session(
                record["farmId"], record["queueId"], record["jobId"], session_id
            )
            failed_id = domain.first_failed_action_id(summaries)
            if failed_id is None:
                self._root_causes.put(session_id, _NO_ROOT_CAUSE)
                return None, None
            ref = SessionActionRef(record["farmId"], record["queueId"], record["jobId"], failed_id)
            cause_record = normalise_session_action(
                self._deadline.get_session_action(ref),
                farm_id=ref.farm_id, queue_id=ref.queue_id, job_id=ref.job_id,
            )
        except (DeadlineError, MalformedSessionActionError) as err:
            return None, self._failed(ROOT_CAUSE, record["jobId"], "rootCause", "ListSessionActions", err)
        self.remember_root_cause(session_id, cause_record)
        self._missing.pop((ROOT_CAUSE, record["jobId"]), None)
        return domain.root_cause(cause_record), None

    def remember_root_cause(self, session_id: str, cause_record: Record) -> None:
        self._root_causes.put(session_id, domain.root_cause(cause_record))
        self._root_cause_records.put(session_id, cause_record)

    def root_cause_record(self, session_id: Optional[str]) -> Optional[Record]:
        """The full record of a session's root cause, once found (the service records it too)."""
        return self._root_cause_records.get(session_id) if session_id else None

    # --- batch prefetch ----------------------------------------------------------------------------

    def prefetch(self, records: Sequence[Record], task_run_statuses: Sequence[Optional[str]], now: float) -> None:
        """Fill the caches for a batch of records with one Batch* call per kind (within the budgets)."""
        jobs = {}
        for r in records:
            if r["jobId"] not in self._jobs and r["jobId"] not in jobs:
                jobs[r["jobId"]] = (r["farmId"], r["queueId"], r["jobId"])
        wanted_jobs = [j for j in jobs.values() if self._allow(JOB, j[2], now)]
        if wanted_jobs:
            self._batch_fill(JOB, "jobName", "BatchGetJob", self._deadline.batch_get_jobs, wanted_jobs,
                             job_of=lambda j: j[2],
                             store=lambda j, item: self._jobs.put(j[2], domain.job_info(item)), now=now)

        sessions: Dict[str, Tuple[str, str, str, str]] = {}
        for r in records:
            sid = r.get("sessionId")
            if sid and sid not in self._sessions and sid not in sessions:
                sessions[sid] = (r["farmId"], r["queueId"], r["jobId"], sid)
        # One BatchGetSession for every session of the batch not known yet: a budget of calls, not items.
        wanted_sessions = [s for s in sessions.values() if not self._refused_recently(SESSION, s[2], now)]
        if wanted_sessions:
            self._batch_fill(
                SESSION, "workerId", "BatchGetSession", self._deadline.batch_get_sessions, wanted_sessions,
                job_of=lambda s: s[2],
                store=lambda s, item: self._sessions.put(
                    s[3], domain.session_info(item, farm_id=s[0], queue_id=s[1])
                ),
                now=now,
            )

        # Root causes: one ListSessionActions per session that needs one (within the budget), then one
        # BatchGetSessionAction for every first failed action found.
        causes: Dict[str, SessionActionRef] = {}
        for r, run_status in zip(records, task_run_statuses):
            sid = r.get("sessionId")
            if not sid or sid in self._root_causes or not domain.needs_root_cause(r, run_status):
                continue
            if any(c.job_id == r["jobId"] for c in causes.values()) or sid in causes:
                continue  # leave further sessions of the job to root_cause() and its budget
            if not self._allow(ROOT_CAUSE, r["jobId"], now):
                continue
            try:
                summaries = self._deadline.session_actions_of_session(r["farmId"], r["queueId"], r["jobId"], sid)
            except (DeadlineError, MalformedSessionActionError) as err:
                self._failed(ROOT_CAUSE, r["jobId"], "rootCause", "ListSessionActions", err)
                continue
            failed_id = domain.first_failed_action_id(summaries)
            if failed_id is None:
                self._root_causes.put(sid, _NO_ROOT_CAUSE)
                continue
            causes[sid] = SessionActionRef(r["farmId"], r["queueId"], r["jobId"], failed_id)
        if causes:
            try:
                found, errors = self._deadline.batch_get_session_actions(causes.values())
            except (DeadlineError, MalformedSessionActionError) as err:
                for ref in causes.values():
                    self._failed(ROOT_CAUSE, ref.job_id, "rootCause", "BatchGetSessionAction", err)
                return
            for sid, ref in causes.items():
                ident = (ref.farm_id, ref.queue_id, ref.job_id, ref.session_action_id)
                item = found.get(ident)
                if item is None:
                    error = errors.get(ident)
                    if error is not None:
                        self._failed(ROOT_CAUSE, ref.job_id, "rootCause", "BatchGetSessionAction", error)
                    continue
                try:
                    cause = normalise_session_action(item, farm_id=ref.farm_id, queue_id=ref.queue_id,
                                                     job_id=ref.job_id)
                except MalformedSessionActionError as err:
                    self._failed(ROOT_CAUSE, ref.job_id, "rootCause", "BatchGetSessionAction", err)
                    continue
                self.remember_root_cause(sid, cause)

    def _batch_fill(self, kind: str, field: str, operation: str, call: Callable, wanted: Sequence[Tuple[str, ...]], *,
                    job_of: Callable, store: Callable, now: float) -> None:
        """One Batch* call for ``wanted`` identifiers; answers are keyed by the whole identifier."""
        try:
            found, errors = call(wanted)
        except (DeadlineError, MalformedSessionActionError) as err:
            for item in wanted:
                self._failed(kind, job_of(item), field, operation, err, now)
            return
        for ident in wanted:
            if ident in found:
                try:
                    store(ident, found[ident])
                except MalformedSessionActionError as err:
                    self._failed(kind, job_of(ident), field, operation, err, now)
            elif ident in errors:
                self._failed(kind, job_of(ident), field, operation, errors[ident], now)

    # --- the whole record ------------------------------------------------------------------------

    def enrich(self, record: Record, *, task_run_status: Optional[str], now: float) -> Record:
        missing: List[str] = []
        job, why = self.job(record["farmId"], record["queueId"], record["jobId"], now)
        if why:
            missing.append(why)
        session, why = self.session(record, now)
        if why:
            missing.append(why)
        cause = None
        if domain.needs_root_cause(record, task_run_status):
            cause, why = self.root_cause(record, now)
            if why:
                missing.append(why)
        s = self._settings
        return domain.enrich(record, job=job, session=session, root_cause=cause, region=s.region,
                             partition=s.partition, monitor_url=s.monitor_url, missing=missing)

    def _failed(self, kind: str, job_id: str, field: str, operation: str, err: Exception,
                now: Optional[float] = None) -> str:
        code = getattr(err, "code", None) or type(err).__name__
        reason = f"{operation} {code}"
        self._missing[(kind, job_id)] = reason
        if now is not None:
            self._failed_at[(kind, job_id)] = int(now // self._settings.digest_window_seconds)
        for cache in (self._missing, self._failed_at):
            if len(cache) > _CACHE_SIZE:
                cache.pop(next(iter(cache)))
        count(Metric.ENRICHMENT_FAILED)
        logger.warning("enrichment call failed; the notification goes out without it",
                       extra={"jobId": job_id, "detail": field, "operation": operation, "error": code})
        return f"{field}: {reason}"
