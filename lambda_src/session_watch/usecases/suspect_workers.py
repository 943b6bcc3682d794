"""Use case: suspect workers. A worker that fails most task runs it picks up gets one notification per window.

Counting (``domain/suspect_worker.py`` says what counts and why): each invocation collects the terminal
task runs it saved (``Invocation.worker_runs``: counted only when the save was new, so a redelivered record
never counts twice), and when it ends adds them up per worker and window with ONE UpdateItem per worker and
window (ADD on the counter item in the digest ledger: atomic across concurrent batches). The answer is the
counters after the add; when they meet the rule, the window's notification is claimed with the ledger's
publishing lease (``claim_ledger_item``: once, whoever sees the counters first) and published on every
channel. Before it is published, each affected job's ledger lists the worker (its digests and job-level
message show it under "Suspect workers").

A failure here never fails the records: they are saved and their own notifications stand. Every count
re-checks the rule, so a notification whose invocation died after counting (or whose publish failed) is
published by the next task run of the worker that ends in the window. A redelivered record counts
nothing and costs nothing here (its save is not new).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Dict, List

from .. import fanout
from ..config import Settings
from ..domain.keys import SUSPECT_KEY_PREFIX, suspect_window_key, worker_partition
from ..domain.record import Record
from ..domain.suspect_worker import WorkerTally, is_suspect, job_entry, render_suspect_worker, suspect_document, tally
from ..errors import NotificationPending, SessionWatchError
from ..observability import Metric, count, logger
from ..ports import Ports
from .invocation import Invocation
from .leases import LEDGER_RETENTION_SECONDS, LedgerClaim, claim_ledger_item

#: Jobs of one worker's window read for the notification's details, and records read per job.
JOBS_READ = 20
RECORDS_PER_JOB = 5000


class SuspectWorkers:
    def __init__(self, ports: Ports, settings: Settings) -> None:
        self._ports = ports
        self._settings = settings

    @property
    def window_seconds(self) -> int:
        return self._settings.suspect_worker_window_minutes * 60

    def settle(self, inv: Invocation) -> List[str]:
        """Count the invocation's task runs per worker and window; notify on the workers that became
        suspect. Returns the workers notified now."""
        runs, inv.worker_runs = inv.worker_runs, []
        ledger = self._ports.ledger
        if not runs or ledger is None:
            return []
        notified = []
        histories: Dict[str, List[Record]] = {}  # job id -> its records, read once per invocation
        entries = tally(runs, window_seconds=self.window_seconds, now=inv.now)
        expires_at = int(inv.now) + LEDGER_RETENTION_SECONDS
        # The counters of every worker side by side (``fanout``): independent items, one UpdateItem each.
        adds = [partial(ledger.count_worker_runs, e.worker_id, e.window_start, runs=e.runs, failures=e.failures,
                        jobs=sorted(e.jobs), fleet_id=e.fleet_id, expires_at=expires_at) for e in entries]
        for entry, added in zip(entries, fanout.run_all(adds)):
            try:
                if added.error is not None:
                    raise added.error
                assert added.value is not None
                if self._count(entry, added.value, inv, histories):
                    notified.append(entry.worker_id)
            except NotificationPending:
                logger.info("suspect worker: another invocation is publishing it",
                            extra={"workerId": entry.worker_id, "windowStart": entry.window_start})
            except SessionWatchError as err:
                logger.warning("suspect worker counters or notification failed; the next task run of the "
                               "worker re-checks", extra={"workerId": entry.worker_id,
                                                          "windowStart": entry.window_start,
                                                          "errorType": type(err).__name__, "error": str(err)[:300]})
        return notified

    def _count(self, entry: WorkerTally, counters: Dict[str, Any], inv: Invocation,
               histories: Dict[str, List[Record]]) -> bool:
        """The counters after this invocation's add: publish the worker's notification if it became suspect."""
        ledger = self._ports.ledger
        assert ledger is not None
        s = self._settings
        if counters.get("state") == "published":
            return False
        if not is_suspect(counters["failures"], counters["runs"], threshold=s.suspect_worker_failures,
                          ratio=s.suspect_worker_failure_ratio):
            return False
        partition, key = worker_partition(entry.worker_id), suspect_window_key(entry.window_start)
        done = claim_ledger_item(ledger, partition, key, now=inv.now, lease_seconds=inv.lease_seconds,
                                 what=f"suspect worker {entry.worker_id} window {entry.window_start}")
        if done is None:
            return False

        history: List[Record] = []
        for job_ref in counters["jobs"][:JOBS_READ]:
            job_id = job_ref.rsplit("/", 1)[-1]
            if job_id not in histories:
                histories[job_id] = self._ports.records.records_of_job(job_id, limit=RECORDS_PER_JOB)
            history.extend(histories[job_id])
        doc = suspect_document(
            worker_id=entry.worker_id, fleet_id=counters.get("fleetId") or entry.fleet_id,
            window_start=entry.window_start, window_seconds=self.window_seconds, runs=counters["runs"],
            failures=counters["failures"], threshold=s.suspect_worker_failures,
            ratio=s.suspect_worker_failure_ratio, history=history)
        try:
            job_ids = [job_ref.rsplit("/", 1)[-1] for job_ref in counters["jobs"]]
            ledger.mark_suspect(job_ids, entry.worker_id, entry.window_start, job_entry(doc),
                                expires_at=int(inv.now) + LEDGER_RETENTION_SECONDS)
        except SessionWatchError:
            ledger.release(partition, key)
            raise
        message_id = inv.outbox.publish_now(render_suspect_worker(doc),
                                            LedgerClaim(partition, key, counters["failures"]), done=done)
        count(Metric.SUSPECT_WORKERS)
        logger.info("suspect worker published", extra={"workerId": entry.worker_id, "fleetId": doc.get("fleetId"),
                                                       "failures": counters["failures"], "taskRuns": counters["runs"],
                                                       "windowStart": entry.window_start, "messageId": message_id})
        return True


def job_suspects(ports: Ports, job_id: str) -> List[dict]:
    """The suspect workers listed under a job (its ledger; none without a ledger). One Query."""
    if ports.ledger is None:
        return []
    return [item["suspect"] for item in ports.ledger.job_items(job_id, SUSPECT_KEY_PREFIX) if "suspect" in item]
