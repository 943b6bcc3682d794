"""The use cases and the one path every entry takes through them.

``Service.process`` serves a direct or Step Functions invocation (one request); ``Service.process_batch``
an SQS batch (many). Both build an ``Invocation``, hand each request to its use case (session action,
digest window, job-level message) and flush the invocation's outbox before they return or raise. The batch
differs only in how it reads (``BatchReads``: Batch* calls) and publishes (PublishBatch), and in reporting
a failing message in ``batchItemFailures`` instead of raising: it fails alone.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..config import Settings
from ..domain.record import Record
from ..domain.requests import (
    DigestFlush,
    JobLifecycleChange,
    JobRunChange,
    Request,
    SessionActionRef,
    StepRunChange,
    SweepWaiters,
    TaskRunChange,
    WaitForJob,
)
from ..observability import Metric, count, logger
from ..ports import Ports
from .digest_window import DigestWindows
from .invocation import Invocation
from .job_run import JobRuns
from .leases import Outbox
from .reads import BatchReads, SingleReads
from .session_action import SessionActions
from .suspect_workers import SuspectWorkers
from .waiters import Waiters

Result = Union[Record, Dict[str, Any]]
#: A batch message: its id, and its request or the error parsing it raised.
BatchItem = Tuple[str, Union[Request, Exception]]


class Service:
    """The use cases of one execution environment (each owns its caches)."""

    def __init__(self, ports: Ports, settings: Settings) -> None:
        self.ports = ports
        self.settings = settings
        self.windows = DigestWindows(ports, settings)
        self.session_actions = SessionActions(ports, settings, self.windows)
        self.job_runs = JobRuns(ports, settings, self.windows)
        self.suspects = SuspectWorkers(ports, settings)
        self.waiters = Waiters(ports, settings)

    def process(self, request: Request, *, now: float, lease_seconds: float) -> Result:
        """One request (direct or Step Functions); raises the typed error of whatever failed."""
        inv = self.invocation(now, lease_seconds)
        try:
            result = self._handle(request, inv)
        finally:
            failed = inv.outbox.flush()
            # After the records' own notifications, which it never delays or fails.
            self.suspects.settle(inv)
        if failed:
            assert failed[0].error is not None
            raise failed[0].error
        return result

    def process_batch(self, items: Sequence[BatchItem], *, now: float, lease_seconds: float) -> List[str]:
        """Many requests (an SQS batch); returns the ids of the messages that failed (each is retried alone)."""
        requests = [r for _, r in items if isinstance(r, (SessionActionRef, TaskRunChange))]
        reads = BatchReads(self.ports.deadline, requests)
        inv = self.invocation(now, lease_seconds, reads, batched=True)
        if self.ports.enricher is not None:
            ready = [(r, rec) for r, rec in reads.prefetched().items() if rec is not None]
            if ready:
                self.ports.enricher.prefetch(
                    [rec for _, rec in ready],
                    [r.run_status if isinstance(r, TaskRunChange) else None for r, _ in ready], now)

        flushes = [r for _, r in items if isinstance(r, DigestFlush)]
        if flushes:  # their windows' leases taken together
            self.windows.lease_many(flushes, inv)
        # The session actions' writes go side by side (``SessionActions.handle_many``); the rest one by one.
        errors = self.session_actions.handle_many(
            [(m, r) for m, r in items if isinstance(r, (SessionActionRef, TaskRunChange))], inv)
        failed: List[str] = []
        for message_id, request in items:
            try:
                if isinstance(request, Exception):
                    raise request
                if message_id in errors:
                    raise errors[message_id]
                if not isinstance(request, (SessionActionRef, TaskRunChange)):
                    self._handle(request, inv, message_id)
            except Exception as err:  # the typed errors, and anything else: the message fails alone
                logger.warning("message failed; it will be retried alone",
                               extra={"messageId": message_id, "errorType": type(err).__name__,
                                      "error": str(err)[:500]})
                failed.append(message_id)
        for entry in inv.outbox.flush():
            if entry.item_id is not None and entry.item_id not in failed:
                failed.append(entry.item_id)
        self.suspects.settle(inv)  # after the records' own notifications, which it never delays or fails
        if failed:
            count(Metric.ITEM_FAILURES, len(failed))
        logger.info("batch processed", extra={"messages": len(items), "failed": len(failed),
                                              "published": inv.outbox.published})
        return failed

    def invocation(self, now: float, lease_seconds: float, reads: Optional[SingleReads] = None, *,
                   batched: bool = False) -> Invocation:
        """A new invocation's context: single reads unless ``reads`` says otherwise."""
        reads = reads or SingleReads(self.ports.deadline)
        outbox = Outbox(self.ports.records, self.ports.notifications, self.ports.ledger, batched=batched)
        return Invocation(now=now, lease_seconds=lease_seconds, reads=reads, outbox=outbox)

    def _handle(self, request: Request, inv: Invocation, item_id: Optional[str] = None) -> Result:
        if isinstance(request, DigestFlush):
            return self.windows.flush(request, inv, item_id)
        if isinstance(request, WaitForJob):
            return self.waiters.register(request, inv)
        if isinstance(request, SweepWaiters):
            return self.waiters.sweep(inv)
        if isinstance(request, StepRunChange):
            return self.waiters.on_event(request, inv) or {"waiters": {"jobId": request.job_id, "found": 0}}
        if isinstance(request, JobLifecycleChange):
            lifecycle = self.job_runs.notify_lifecycle(request, inv)
            return {**lifecycle, **(self.waiters.on_event(request, inv) or {})}
        if isinstance(request, JobRunChange):
            job_run = self.job_runs.notify(request, inv)
            return {**job_run, **(self.waiters.on_event(request, inv) or {})}
        result = self.session_actions.handle(request, inv, item_id)
        if isinstance(request, TaskRunChange):  # a task's end may end a task waiter
            self.waiters.on_event(request, inv)
        return result
