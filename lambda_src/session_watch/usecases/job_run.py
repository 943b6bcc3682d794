"""Use case: one message when a whole job ends (SUCCEEDED, FAILED, CANCELED), with its task-run counts."""

from __future__ import annotations

from typing import Any, Dict

from .. import names
from ..config import Settings
from ..domain.digest import render_job_run
from ..domain.enrichment import monitor_job_url
from ..domain.keys import job_run_key
from ..domain.requests import JobRunChange
from ..errors import ConfigurationError
from ..observability import Metric, count, logger
from ..ports import Ports
from .invocation import Invocation
from .leases import LedgerClaim, claim_ledger_item


class JobRuns:
    def __init__(self, ports: Ports, settings: Settings) -> None:
        self._ports = ports
        self._settings = settings

    def notify(self, change: JobRunChange, inv: Invocation) -> Dict[str, Any]:
        result: Dict[str, Any] = {"jobRun": {"jobId": change.job_id, "taskRunStatus": change.task_run_status}}
        status = change.task_run_status
        if status not in names.JOB_END_STATUSES or status not in self._settings.notify_statuses:
            result["jobRun"]["status"] = "not notified"
            return result
        ledger = self._ports.ledger
        if ledger is None:
            raise ConfigurationError("DIGEST_TABLE_NAME", "is not set; job-level messages need the digest table")
        key = job_run_key(status, change.task_run_status_counts)
        done = claim_ledger_item(ledger, change.job_id, key, now=inv.now, lease_seconds=inv.lease_seconds,
                                 what=f"job {change.job_id} {status}")
        if done is None:
            result["jobRun"]["status"] = "already published"
            return result

        job, missing = None, []
        if self._ports.enricher is not None:
            job, why = self._ports.enricher.job(change.farm_id, change.queue_id, change.job_id, inv.now)
            missing = [why] if why else []
        notification = render_job_run(
            change, job=job,
            monitor_url=monitor_job_url(self._settings.monitor_url, change.farm_id, change.queue_id, change.job_id),
            missing=missing,
        )
        message_id = inv.outbox.publish_now(notification, LedgerClaim(change.job_id, key, 1), done=done)
        count(Metric.JOB_RUN_PUBLISHED)
        logger.info("job-level message published",
                    extra={"jobId": change.job_id, "taskRunStatus": status, "messageId": message_id})
        result["jobRun"].update(status="published", messageId=message_id)
        return result
