"""Enrichment: job name and priority, step name, worker and log location, the end of the session's log,
root cause; calls bounded and cached.

Caches live for the execution environment (job details per job, step names per job and step, session
details and root causes per session, log excerpts per session and end time). Sessions and steps are read
once each (one BatchGetSession / BatchGetStep per batch for every one it names, or one GetSession / GetStep
per new one), so every record whose session has a worker names it, and every step its name; root causes
once per session (ListSessionActions, then one BatchGetSessionAction per batch). Job lookups are bounded by
``ENRICHMENT_CALLS_PER_JOB_WINDOW`` calls per job per window (one call may be a Batch* read covering many).
A lookup Deadline Cloud refused (throttled after botocore's retries, denied) is not retried for that job
before the next window (``DIGEST_WINDOW_SECONDS``). The end of the session's log (``logExcerpt``, CloudWatch
Logs GetLogEvents) is read for failed actions only, once per session and end time, at most
``LOG_READS_PER_JOB_WINDOW`` reads per job per window. A failed lookup never stops a record or a
notification: the record goes on without the detail and ``enrichmentMissing`` says, in plain words, what is
missing and why.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import fanout
from .cache import Lru
from .config import Settings
from .domain import enrichment as domain
from .domain.enrichment import JobInfo, SessionInfo
from .domain.normalise import normalise_session_action
from .domain.record import Record, RootCause
from .domain.requests import SessionActionRef
from .errors import DeadlineError, DeadlineUnavailable, MalformedSessionActionError, SessionLogUnreadable
from .observability import Metric, count, logger
from .ports import DeadlinePort, SessionLogPort

#: Kinds of enrichment call.
JOB, SESSION, ROOT_CAUSE, STEP, LOG = "job", "session", "rootCause", "step", "log"
#: Most GetLogEvents calls per job per window in one execution environment (CloudWatch Logs allows 25 per
#: second per account and Region; a failure storm must not spend them all). Each failed action needs one.
LOG_READS_PER_JOB_WINDOW = 50
#: Error codes after which a kind of lookup is not retried for the job before the next window.
_REFUSALS = frozenset({"ThrottlingException", "AccessDeniedException", "AccessDenied",
                       "InternalServerErrorException", "ServiceUnavailableException"})

_CACHE_SIZE = 4096
_NO_ROOT_CAUSE: Dict[str, Any] = {}


class Enricher:
    def __init__(self, deadline: DeadlinePort, settings: Settings, logs: Optional[SessionLogPort] = None) -> None:
        self._deadline = deadline
        self._settings = settings
        self._logs = logs
        self._jobs: Lru = Lru(_CACHE_SIZE)
        self._steps: Lru = Lru(_CACHE_SIZE)  # (job id, step id) -> step name ("" when it has none)
        self._excerpts: Lru = Lru(256)  # (group, stream, end time) -> the lines
        self._unread_logs: Lru = Lru(256)  # (group, stream, end time) -> (window, why it could not be read)
        self._log_reads: Dict[str, Tuple[int, int]] = {}  # job id -> (window, GetLogEvents calls)
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
        return (f"not asked again yet: Deadline Cloud was asked {self._settings.enrichment_calls_per_job_window} "
                f"time(s) for this job in the last {self._settings.digest_window_seconds} s")

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

    # --- step --------------------------------------------------------------------------------------

    def step(self, record: Record, now: float) -> Tuple[Optional[str], Optional[str]]:
        """The step's name (GetStep, cached per job and step), or why it is missing."""
        step_id = record.get("stepId")
        if not step_id:
            return None, None
        key = (record["jobId"], step_id)
        cached = self._steps.get(key)
        if cached is not None:
            return cached or None, None
        refused = self._refused_recently(STEP, record["jobId"], now)
        if refused:
            return None, f"stepName: {refused}"
        try:
            name = domain.step_name(self._deadline.get_step(record["farmId"], record["queueId"], record["jobId"],
                                                            step_id))
        except (DeadlineError, MalformedSessionActionError) as err:
            return None, self._failed(STEP, record["jobId"], "stepName", "GetStep", err, now)
        self._steps.put(key, name or "")
        return name, None

    # --- the end of the session's log -----------------------------------------------------------------

    def log_excerpt(self, record: Record, session: Optional[SessionInfo],
                    now: float) -> Tuple[Optional[List[str]], Optional[str]]:
        """The last lines the session logged up to the action's end (failed actions only), or why not."""
        plan = self._log_read(record, session, now)
        if not isinstance(plan, _LogRead):
            return plan
        try:
            messages = plan.send(self._logs)
        except SessionLogUnreadable as err:
            return self._log_unreadable(plan, err)
        return self._log_read_done(plan, messages)

    def _log_read(self, record: Record, session: Optional[SessionInfo],
                  now: float) -> Union["_LogRead", Tuple[Optional[List[str]], Optional[str]]]:
        """The read a record's excerpt needs (its budget taken), or the answer without one (cached, turned
        off, refused or over the budget)."""
        lines = self._settings.log_excerpt_lines
        if lines <= 0 or self._logs is None or not domain.wants_log_excerpt(record):
            return None, None
        session_id = record["sessionId"] or ""
        if session is None:
            session = domain.default_session_info(record["farmId"], record["queueId"], session_id)
        end = domain.log_end_time_ms(record)
        key = (session.log_group, session.log_stream, end)
        cached = self._excerpts.get(key)
        if cached is not None:
            return list(cached), None
        window = int(now // self._settings.digest_window_seconds)
        unread = self._unread_logs.get(key)
        if unread is not None and unread[0] == window:  # this stream was not there: not asked again yet
            return None, f"logExcerpt: {unread[1]}"
        job_id = record["jobId"]
        refused = self._refused_recently(LOG, job_id, now)
        if refused:
            return None, f"logExcerpt: {refused}"
        start, used = self._log_reads.get(job_id, (window, 0))
        used = used if start == window else 0
        if used >= LOG_READS_PER_JOB_WINDOW:
            count(Metric.ENRICHMENT_SKIPPED)
            return None, (f"logExcerpt: not read, {LOG_READS_PER_JOB_WINDOW} log reads for this job in "
                          f"{self._settings.digest_window_seconds} s already (open the log link instead)")
        self._log_reads[job_id] = (window, used + 1)
        if len(self._log_reads) > _CACHE_SIZE:
            self._log_reads.pop(next(iter(self._log_reads)))
        return _LogRead(key, job_id, session_id, window, lines)

    def _log_unreadable(self, plan: "_LogRead", err: SessionLogUnreadable) -> Tuple[None, str]:
        count(Metric.ENRICHMENT_FAILED)
        if err.code not in _REFUSALS:  # this stream only (not there yet, say): not asked again in this window
            self._unread_logs.put(plan.key, (plan.window, err.reason))
        else:  # refused: no log of the job is asked for again in this window
            self._missing[(LOG, plan.job_id)] = err.reason
            self._failed_at[(LOG, plan.job_id)] = plan.window
            for cache in (self._missing, self._failed_at):
                if len(cache) > _CACHE_SIZE:
                    cache.pop(next(iter(cache)))
        logger.warning("session log could not be read; the notification goes out without its lines",
                       extra={"jobId": plan.job_id, "sessionId": plan.session_id, "error": err.code or "unknown"})
        return None, f"logExcerpt: {err.reason}"

    def _log_read_done(self, plan: "_LogRead", messages: Sequence[str]) -> Tuple[List[str], None]:
        excerpt = domain.excerpt_lines(messages, max_lines=plan.lines)
        self._excerpts.put(plan.key, tuple(excerpt))
        return excerpt, None

    def _prefetch_logs(self, records: Sequence[Record], now: float) -> None:
        """The batch's log reads side by side (``fanout``): each is independent of the others, and one after
        another they were the batch's critical path (one round trip per failure). Planned and settled on
        this thread (the caches and budgets are not shared with the pool)."""
        plans: List[_LogRead] = []
        for r in records:
            sid = r.get("sessionId")
            plan = self._log_read(r, self._sessions.get(sid) if sid else None, now)
            if isinstance(plan, _LogRead) and all(p.key != plan.key for p in plans):
                plans.append(plan)
            elif isinstance(plan, _LogRead):  # the same stream and end twice: give the budget back
                start, used = self._log_reads[plan.job_id]
                self._log_reads[plan.job_id] = (start, used - 1)
        if not plans:
            return
        logs = self._logs
        for plan, done in zip(plans, fanout.run_all([partial(p.send, logs) for p in plans])):
            if isinstance(done.error, SessionLogUnreadable):
                self._log_unreadable(plan, done.error)
            elif done.error is None and done.value is not None:
                self._log_read_done(plan, done.value)
            # anything else: the record's own enrichment asks again (and reports it)

    # --- root cause ------------------------------------------------------------------------------

    def root_cause(self, record: Record, now: float) -> Tuple[Optional[RootCause], Optional[str]]:
        session_id = record.get("sessionId")
        if not session_id:
            return None, "rootCause: the action has no session"
        cached = self._root_causes.get(session_id)
        if cached is not None:
            return (cached or None), None
        refused = self._refused_recently(ROOT_CAUSE, record["jobId"], now)
        if refused:
            return None, f"rootCause: {refused}"
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
            return None, self._failed(ROOT_CAUSE, record["jobId"], "rootCause", "ListSessionActions", err, now)
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

        # One BatchGetStep for every step of the batch whose name is not known yet.
        steps: Dict[Tuple[str, str], Tuple[str, str, str, str]] = {}
        for r in records:
            step_id = r.get("stepId")
            if not step_id:
                continue
            key = (r["jobId"], step_id)
            if key not in self._steps and key not in steps:
                steps[key] = (r["farmId"], r["queueId"], r["jobId"], step_id)
        wanted_steps = [s for s in steps.values() if not self._refused_recently(STEP, s[2], now)]
        if wanted_steps:
            self._batch_fill(
                STEP, "stepName", "BatchGetStep", self._deadline.batch_get_steps, wanted_steps,
                job_of=lambda s: s[2],
                store=lambda s, item: self._steps.put((s[2], s[3]), domain.step_name(item) or ""),
                now=now,
            )

        self._prefetch_logs(records, now)

        # Root causes: one ListSessionActions per session that needs one, then one BatchGetSessionAction
        # for every first failed action found.
        causes: Dict[str, SessionActionRef] = {}
        for r, run_status in zip(records, task_run_statuses):
            sid = r.get("sessionId")
            if not sid or sid in self._root_causes or not domain.needs_root_cause(r, run_status):
                continue
            if sid in causes or self._refused_recently(ROOT_CAUSE, r["jobId"], now):
                continue
            try:
                summaries = self._deadline.session_actions_of_session(r["farmId"], r["queueId"], r["jobId"], sid)
            except (DeadlineError, MalformedSessionActionError) as err:
                self._failed(ROOT_CAUSE, r["jobId"], "rootCause", "ListSessionActions", err, now)
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
                    self._failed(ROOT_CAUSE, ref.job_id, "rootCause", "BatchGetSessionAction", err, now)
                return
            for sid, ref in causes.items():
                ident = (ref.farm_id, ref.queue_id, ref.job_id, ref.session_action_id)
                item = found.get(ident)
                if item is None:
                    error = errors.get(ident)
                    if error is not None:
                        self._failed(ROOT_CAUSE, ref.job_id, "rootCause", "BatchGetSessionAction", error, now)
                    continue
                try:
                    cause = normalise_session_action(item, farm_id=ref.farm_id, queue_id=ref.queue_id,
                                                     job_id=ref.job_id)
                except MalformedSessionActionError as err:
                    self._failed(ROOT_CAUSE, ref.job_id, "rootCause", "BatchGetSessionAction", err, now)
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
        step, why = self.step(record, now)
        if why:
            missing.append(why)
        session, why = self.session(record, now)
        if why:
            missing.append(why)
        excerpt, why = self.log_excerpt(record, session, now)
        if why:
            missing.append(why)
        cause = None
        if domain.needs_root_cause(record, task_run_status):
            cause, why = self.root_cause(record, now)
            if why:
                missing.append(why)
        s = self._settings
        return domain.enrich(record, job=job, session=session, root_cause=cause, region=s.region,
                             partition=s.partition, monitor_url=s.monitor_url, missing=missing,
                             step_name=step, log_excerpt=excerpt)

    def _failed(self, kind: str, job_id: str, field: str, operation: str, err: Exception,
                now: Optional[float] = None) -> str:
        code = getattr(err, "code", None) or type(err).__name__
        reason = failure_words(operation, code)
        self._missing[(kind, job_id)] = reason
        if now is not None and (code in _REFUSALS or isinstance(err, DeadlineUnavailable)):
            # Refused or unavailable: not asked again for this job before the next window. A missing item
            # (one deleted session) says nothing about the others.
            self._failed_at[(kind, job_id)] = int(now // self._settings.digest_window_seconds)
        for cache in (self._missing, self._failed_at):
            if len(cache) > _CACHE_SIZE:
                cache.pop(next(iter(cache)))
        count(Metric.ENRICHMENT_FAILED)
        logger.warning("enrichment call failed; the notification goes out without it",
                       extra={"jobId": job_id, "detail": field, "operation": operation, "error": code})
        return f"{field}: {reason}"


def failure_words(operation: str, code: str) -> str:
    """Why a Deadline Cloud lookup gave nothing, in words a render wrangler understands (the operation and
    the error code stay at the end, for whoever has to look further)."""
    if code == "ThrottlingException":
        words = "Deadline Cloud was busy and refused the read, still after retries"
    elif code in ("AccessDeniedException", "AccessDenied"):
        words = "this service may not read it (access denied; check the function's role and the farm's KMS key)"
    elif code == "ResourceNotFoundException":
        words = "Deadline Cloud no longer has it (deleted, or the job is gone)"
    elif code == "MalformedSessionActionError":
        words = "Deadline Cloud's answer did not have the expected shape"
    elif code == "ValidationException":
        words = "Deadline Cloud refused the request as invalid"
    elif code in ("InternalServerErrorException", "DeadlineUnavailable") or code.endswith(("Timeout", "Error")):
        words = "Deadline Cloud did not answer, still after retries"
    else:
        words = "the read failed"
    return f"{words} ({operation} {code})"


class _LogRead(NamedTuple):
    """One GetLogEvents a record's excerpt needs: the stream and end (``key``), the job whose budget it took."""

    key: Tuple[str, str, Optional[int]]
    job_id: str
    session_id: str
    window: int
    lines: int

    def send(self, logs: Any) -> List[str]:
        group, stream, end = self.key
        return logs.tail(group, stream, end_time_ms=end, lines=self.lines)
