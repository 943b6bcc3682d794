"""Use case: WaitForJob's waiters. Register one, resume them on Deadline Cloud's events, sweep the rest.

- ``register``: store the waiter first, then read the job (GetJob; GetStep/GetTask for a partial wait): a
  job that ended before the waiter was stored is resumed at once, and one that ends after finds the waiter
  there for its event. There is no window in between.
- ``on_event``: a job, step or task reached an end status (or the job CREATE_FAILED/UPLOAD_FAILED): the
  waiters it may end are one Query on the job; each is resumed from a fresh read (events come out of order
  and twice: the read is the truth).
- ``sweep``: the safety net for lost events (they are delivered best effort): every open waiter is checked
  with BatchGetJob (100 jobs a call; GetStep/GetTask for partial waits) and those whose job ended resumed.

Resuming sends first and deletes the waiter after: a crash in between sends again later, which Step
Functions answers with TaskDoesNotExist / InvalidToken / TaskTimedOut, recorded and ignored.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .. import names
from ..config import Settings
from ..domain import waiting
from ..domain.requests import JobLifecycleChange, JobRunChange, StepRunChange, TaskRunChange, WaitForJob
from ..errors import (
    ConfigurationError,
    DeadlineAccessDenied,
    DeadlineError,
    DeadlineResourceNotFound,
    DeadlineValidationError,
)
from ..observability import Metric, count, logger
from ..ports import Ports
from .invocation import Invocation

#: The failed actions of a job come from at most this many records of its history (one paged Query).
HISTORY_LIMIT = 2000
#: Deadline errors that mean the job will never be readable: the waiter fails with JobNotFound.
_NOT_FOUND = (DeadlineResourceNotFound, DeadlineAccessDenied, DeadlineValidationError)

WaiterEvent = (JobRunChange, JobLifecycleChange, StepRunChange, TaskRunChange)


class Waiters:
    def __init__(self, ports: Ports, settings: Settings) -> None:
        self._ports = ports
        self._settings = settings

    @property
    def enabled(self) -> bool:
        return self._ports.waiters is not None

    # --- entries ----------------------------------------------------------------------------------

    def register(self, request: WaitForJob, inv: Invocation) -> Dict[str, Any]:
        store = self._store()
        waiter: Dict[str, Any] = {
            "farmId": request.farm_id, "queueId": request.queue_id, "jobId": request.job_id,
            "stepId": request.step_id, "taskId": request.task_id, "taskToken": request.task_token,
            "executionArn": request.execution_arn,
            "createdAt": datetime.fromtimestamp(inv.now, timezone.utc).isoformat(),
        }
        key = store.add(waiter, expires_at=int(inv.now) + self._settings.waiter_ttl_hours * 3600)
        waiter.update({names.WAITER_SORT_KEY: key, "scope": request.scope})
        count(Metric.WAITERS_REGISTERED)
        status = self._check(waiter, {})  # after the write: an end from now on finds the waiter
        logger.info("waiter registered", extra={**_loggable(waiter), "resumedAtOnce": status != "waiting"})
        return {"waiter": {"jobId": request.job_id, "stepId": request.step_id, "taskId": request.task_id,
                           "waiterKey": key, "status": status}}

    def on_event(self, event: Any, inv: Invocation) -> Optional[Dict[str, Any]]:
        """Resume the waiters ``event`` may end; None when it ends nothing a waiter waits for."""
        if not self.enabled:
            return None
        prefix = _prefix_for(event)
        if prefix is None:
            return None
        waiters = self._store().of_job(event.job_id, prefix)
        if isinstance(event, TaskRunChange):  # the step's waiters and this task's, not its sibling tasks'
            waiters = [w for w in waiters if not w.get("taskId") or w.get("taskId") == event.task_id]
        outcomes: Dict[str, int] = {}
        jobs: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
        for waiter in waiters:
            status = self._check(waiter, jobs)
            outcomes[status] = outcomes.get(status, 0) + 1
        return {"waiters": {"jobId": event.job_id, "found": len(waiters), **outcomes}}

    def sweep(self, inv: Invocation) -> Dict[str, Any]:
        """Re-check every open waiter; resume those whose job (step, task) ended."""
        store = self._store()
        open_waiters = list(store.open_waiters())
        outcomes: Dict[str, int] = {}
        expired = [w for w in open_waiters if int(w.get(names.TTL_ATTRIBUTE) or 0) < inv.now]
        for waiter in expired:  # Step Functions timed the wait out already; DynamoDB's TTL is lazy
            store.remove(waiter["jobId"], waiter[names.WAITER_SORT_KEY])
        live = [w for w in open_waiters if w not in expired]
        jobs: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
        failures: Dict[Tuple[str, str, str], DeadlineError] = {}
        if live:
            found, errors = self._ports.deadline.batch_get_jobs({_job_ids(w) for w in live})
            jobs = {k: v for k, v in found.items()}  # type: ignore[misc]
            failures = {k: v for k, v in errors.items()}  # type: ignore[misc]
        for waiter in live:
            ident = _job_ids(waiter)
            if ident in failures and not isinstance(failures[ident], _NOT_FOUND):
                status = "unreadable"  # throttled: the next sweep reads it again
            else:
                status = self._check(waiter, jobs, known_missing=ident in failures)
            if status in ("waiting", "unreadable"):
                status = self._heartbeat(waiter) or status
            outcomes[status] = outcomes.get(status, 0) + 1
        resumed = sum(n for s, n in outcomes.items() if s not in ("waiting", "unreadable") and not s.startswith("gone"))
        if resumed:
            count(Metric.WAITERS_RESUMED_BY_SWEEP, resumed)
        logger.info("waiters swept", extra={"open": len(open_waiters), "expired": len(expired), **outcomes})
        return {"sweep": {"open": len(open_waiters), "expired": len(expired), **outcomes}}

    # --- one waiter --------------------------------------------------------------------------------

    def _check(self, waiter: Mapping[str, Any], jobs: Dict[Tuple[str, str, str], Dict[str, Any]], *,
               known_missing: bool = False) -> str:
        """Read what the waiter waits for; resume it if it ended. Returns ``waiting`` or how it resumed."""
        scope = waiter.get("scope") or "job"
        ident = _job_ids(waiter)
        try:
            if known_missing:
                raise DeadlineResourceNotFound("BatchGetJob", "ResourceNotFoundException", f"job {ident[2]}")
            job = jobs.get(ident)
            if job is None:
                job = jobs[ident] = self._ports.deadline.get_job(*ident)
            answer = job
            if scope != "job" and waiting.ended_status("job", job) not in names.JOB_LIFECYCLE_FAILED_STATUSES:
                parts = self._parts()
                answer = (parts.get_step(*ident, waiter["stepId"]) if scope == "step"
                          else parts.get_task(*ident, waiter["stepId"], waiter["taskId"]))
                scope_status = waiting.ended_status(scope, answer)
            else:
                scope_status = waiting.ended_status("job", job)
                scope = "job" if scope_status in names.JOB_LIFECYCLE_FAILED_STATUSES else scope
        except _NOT_FOUND as err:
            return self._send_failure(waiter, names.WAIT_ERROR_NOT_FOUND,
                                      f"{ident[2]}{' step ' + str(waiter.get('stepId')) if waiter.get('stepId') else ''}"
                                      f"{' task ' + str(waiter.get('taskId')) if waiter.get('taskId') else ''}: {err}")
        if scope_status is None:
            return "waiting"
        failed, complete = self._failed_actions(ident[2], job, jobs)
        ids = {"farmId": ident[0], "queueId": ident[1], "jobId": ident[2], "stepId": waiter.get("stepId"),
               "taskId": waiter.get("taskId")}
        resumption = waiting.resumption(scope, ids, answer, job, failed)
        resumption.output["historyComplete"] = complete
        if resumption.succeeded:
            gone = self._tokens().succeed(waiter["taskToken"], json.dumps(resumption.output, default=str))
            status = "succeeded"
        else:
            gone = self._tokens().fail(waiter["taskToken"], resumption.error or "", resumption.cause)
            status = f"failed:{resumption.error}"
        return self._done(waiter, status, gone)

    def _heartbeat(self, waiter: Mapping[str, Any]) -> Optional[str]:
        """Tell the execution its waiter is alive (WaitForJob's HeartbeatSeconds); None, or ``gone:<code>``
        when the execution no longer waits (timed out, stopped): then the waiter is deleted."""
        gone = self._tokens().heartbeat(str(waiter["taskToken"]))
        if not gone:
            return None
        count(Metric.WAITER_TOKENS_GONE)
        logger.info("waiter's execution no longer waits: waiter deleted", extra={**_loggable(waiter), "code": gone})
        self._store().remove(str(waiter["jobId"]), str(waiter[names.WAITER_SORT_KEY]))
        return f"gone:{gone}"

    def _send_failure(self, waiter: Mapping[str, Any], error: str, cause: str) -> str:
        gone = self._tokens().fail(waiter["taskToken"], error, cause)
        return self._done(waiter, f"failed:{error}", gone)

    def _done(self, waiter: Mapping[str, Any], status: str, gone: Optional[str]) -> str:
        """After sending: forget the waiter (a late or duplicate send was answered ``gone``: noted, ignored)."""
        if gone:
            count(Metric.WAITER_TOKENS_GONE)
            logger.info("waiter's execution no longer waits (late or duplicate resumption): ignored",
                        extra={**_loggable(waiter), "code": gone})
            status = f"gone:{gone}"
        else:
            count(Metric.WAITERS_RESUMED)
            logger.info("waiter resumed", extra={**_loggable(waiter), "outcome": status})
        self._store().remove(str(waiter["jobId"]), str(waiter[names.WAITER_SORT_KEY]))
        return status

    def _failed_actions(self, job_id: str, job: Mapping[str, Any],
                        cache: Dict[Any, Any]) -> Tuple[List[Mapping[str, Any]], bool]:
        """The job's failed actions from its history (one Query per job and invocation), and whether the
        history was read whole."""
        key = ("history", job_id)
        if key not in cache:
            records = self._ports.records.records_of_job(job_id, limit=HISTORY_LIMIT)
            cache[key] = (waiting.failed_records(records), len(records) < HISTORY_LIMIT)  # type: ignore[arg-type]
        return cache[key]

    # --- ports -------------------------------------------------------------------------------------

    def _store(self):
        if self._ports.waiters is None:
            raise ConfigurationError(names.ENV_WAITER_TABLE_NAME, "is not set; WaitForJob needs the waiter table")
        return self._ports.waiters

    def _tokens(self):
        assert self._ports.task_tokens is not None
        return self._ports.task_tokens

    def _parts(self):
        assert self._ports.job_parts is not None
        return self._ports.job_parts


def _prefix_for(event: Any) -> Optional[str]:
    """The waiter key prefix an event may end (``""``: every waiter of the job), or None."""
    waiter_prefix = waiting.waiter_prefix
    if isinstance(event, JobRunChange):
        return "" if event.task_run_status in names.WAIT_END_STATUSES else None
    if isinstance(event, JobLifecycleChange):
        return "" if event.lifecycle_status in names.JOB_LIFECYCLE_FAILED_STATUSES else None
    if isinstance(event, StepRunChange):
        return waiter_prefix("step", event.step_id) if event.task_run_status in names.WAIT_END_STATUSES else None
    if isinstance(event, TaskRunChange):  # the last task of a step to end ends the step too
        return waiter_prefix("step", event.step_id) if event.run_status in names.WAIT_END_STATUSES else None
    return None


def _job_ids(waiter: Mapping[str, Any]) -> Tuple[str, str, str]:
    return (str(waiter["farmId"]), str(waiter["queueId"]), str(waiter["jobId"]))


def _loggable(waiter: Mapping[str, Any]) -> Dict[str, Any]:
    """Never the task token."""
    return {k: waiter.get(k) for k in ("jobId", "stepId", "taskId", "scope", "executionArn")}

