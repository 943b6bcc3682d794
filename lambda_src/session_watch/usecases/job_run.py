"""Use case: one story per job.

* When a whole job ends (``Job Run Status Change`` to SUCCEEDED, FAILED, CANCELED): one message with its
  task-run counts and the whole job's failure summary from the history table (``domain/job_summary.py``:
  how failed actions relate to tasks; failures by status, step, exit code and worker; root causes; the
  suspect workers listed under the job). The job's open digest windows are published first, so that no
  digest of the job arrives after its job-level message.
* When a job fails before it runs (``Job Lifecycle Status Change`` to CREATE_FAILED or UPLOAD_FAILED): one
  job-level failure message with GetJob's ``lifecycleStatusMessage``.

Each is published once under its ledger item's lease (``claim_ledger_item``). The order of the calls
keeps that true whatever stops in between: the job-level lease is taken first; the windows are each
published under their own lease (a window another invocation is publishing fails this message, whose
lease is then released, and the retry finds it published); the job-level message goes out last.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .. import names
from ..config import Settings
from ..domain.digest import render_job_run
from ..domain.enrichment import monitor_job_url
from ..domain.job_lifecycle import render_job_lifecycle
from ..domain.job_summary import summarise
from ..domain.keys import SUSPECT_KEY_PREFIX, job_lifecycle_key, job_run_key
from ..domain.requests import JobLifecycleChange, JobRunChange
from ..errors import ConfigurationError, DeadlineError, SessionWatchError
from ..observability import Metric, count, logger
from ..ports import LedgerPort, Ports
from .digest_window import DigestWindows
from .invocation import Invocation
from .leases import LedgerClaim, claim_ledger_item

#: Records of a job's history read for its summary (one paged Query; a bigger job is summarised in part).
HISTORY_LIMIT = 20_000


class JobRuns:
    def __init__(self, ports: Ports, settings: Settings, windows: Optional[DigestWindows] = None) -> None:
        self._ports = ports
        self._settings = settings
        self._windows = windows or DigestWindows(ports, settings)

    def notify(self, change: JobRunChange, inv: Invocation) -> Dict[str, Any]:
        result: Dict[str, Any] = {"jobRun": {"jobId": change.job_id, "taskRunStatus": change.task_run_status}}
        status = change.task_run_status
        if status not in names.JOB_END_STATUSES or status not in self._settings.notify_statuses:
            result["jobRun"]["status"] = "not notified"
            return result
        ledger = self._ledger()
        key = job_run_key(status, change.task_run_status_counts)
        done = claim_ledger_item(ledger, change.job_id, key, now=inv.now, lease_seconds=inv.lease_seconds,
                                 what=f"job {change.job_id} {status}")
        if done is None:
            result["jobRun"]["status"] = "already published"
            return result

        try:
            items = ledger.job_items(change.job_id)  # one Query: the job's windows and suspect workers
            flushed = self._windows.flush_open(change.farm_id, change.queue_id, change.job_id,
                                               [i for i in items if i["digestKey"].startswith("window#")], inv)
            history = self._ports.records.records_of_job(change.job_id, limit=HISTORY_LIMIT)
        except SessionWatchError:
            _release(ledger, change.job_id, key)
            raise
        summary = summarise(history, suspects=[i["suspect"] for i in items
                                               if i["digestKey"].startswith(SUSPECT_KEY_PREFIX) and "suspect" in i],
                            truncated=len(history) >= HISTORY_LIMIT)

        job, missing = None, []
        if self._ports.enricher is not None:
            job, why = self._ports.enricher.job(change.farm_id, change.queue_id, change.job_id, inv.now)
            missing = [why] if why else []
        notification = render_job_run(
            change, job=job,
            monitor_url=monitor_job_url(self._settings.monitor_url, change.farm_id, change.queue_id, change.job_id),
            missing=missing, summary=summary,
        )
        message_id = inv.outbox.publish_now(notification, LedgerClaim(change.job_id, key, 1), done=done)
        count(Metric.JOB_RUN_PUBLISHED)
        logger.info("job-level message published",
                    extra={"jobId": change.job_id, "taskRunStatus": status, "messageId": message_id,
                           "digestsFlushedFirst": flushed, "failedActions": summary["failedActions"]})
        result["jobRun"].update(status="published", messageId=message_id, digestsFlushedFirst=flushed,
                                failedActions=summary["failedActions"],
                                tasksNotSucceeded=summary["tasksNotSucceeded"])
        return result

    def notify_lifecycle(self, change: JobLifecycleChange, inv: Invocation) -> Dict[str, Any]:
        """A job that failed before it ran: one job-level failure message (CREATE_FAILED, UPLOAD_FAILED)."""
        result: Dict[str, Any] = {"jobLifecycle": {"jobId": change.job_id, "lifecycleStatus": change.lifecycle_status}}
        if change.lifecycle_status not in names.JOB_LIFECYCLE_FAILED_STATUSES:
            result["jobLifecycle"]["status"] = "not notified"
            return result
        ledger = self._ledger()
        key = job_lifecycle_key(change.lifecycle_status)
        done = claim_ledger_item(ledger, change.job_id, key, now=inv.now, lease_seconds=inv.lease_seconds,
                                 what=f"job {change.job_id} {change.lifecycle_status}")
        if done is None:
            result["jobLifecycle"]["status"] = "already published"
            return result
        job: Optional[Dict[str, Any]] = None
        missing: List[str] = []
        try:
            job = self._ports.deadline.get_job(change.farm_id, change.queue_id, change.job_id)
        except DeadlineError as err:
            # The message goes out without the reason rather than not at all; it says what is missing.
            missing.append(f"lifecycleStatusMessage: GetJob failed ({type(err).__name__})")
        notification = render_job_lifecycle(
            change, job=job,
            monitor_url=monitor_job_url(self._settings.monitor_url, change.farm_id, change.queue_id, change.job_id),
            missing=missing)
        message_id = inv.outbox.publish_now(notification, LedgerClaim(change.job_id, key, 1), done=done)
        count(Metric.JOB_LIFECYCLE_PUBLISHED)
        logger.info("job lifecycle failure published", extra={"jobId": change.job_id, "messageId": message_id,
                                                              "lifecycleStatus": change.lifecycle_status})
        result["jobLifecycle"].update(status="published", messageId=message_id)
        return result

    def _ledger(self) -> LedgerPort:
        if self._ports.ledger is None:
            raise ConfigurationError("DIGEST_TABLE_NAME", "is not set; job-level messages need the digest table")
        return self._ports.ledger


def _release(ledger: LedgerPort, job_id: str, key: str) -> None:
    try:
        ledger.release(job_id, key)
    except SessionWatchError as err:  # the lease runs out by itself; the retry publishes then
        logger.warning("could not release the job-level lease", extra={"errorType": type(err).__name__})
