"""Use case: record a session action that ended (or changed) and notify on it, once.

The one record path of every entry (direct, Step Functions, SQS batch): a normalised record is enriched,
saved with a conditional write that claims its notification, and its notification is published through
the invocation's outbox (``each`` mode) or the record joins its job's digest window (``digest`` mode).
A NEVER_ATTEMPTED action's root cause (usually a failed environment enter, which has no event of its
own) goes the same path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .. import fanout
from ..cache import LruSet
from ..config import Settings
from ..domain.keys import claim_key, digest_window_key, window_start
from ..domain.record import Outcome, Record, empty_record
from ..domain.requests import TaskRunChange
from ..errors import NotificationPending
from ..observability import Metric, count, logger, safe_summary
from ..ports import Ports, RecordPort, SaveKind, SaveResult
from .digest_window import DigestWindows, WindowCheck
from .invocation import Invocation
from .reads import ActionRequest, ONLY_IF_MATCHED


class SessionActions:
    def __init__(self, ports: Ports, settings: Settings, windows: DigestWindows) -> None:
        self._ports = ports
        self._settings = settings
        self._windows = windows
        #: Root-cause actions this execution environment has recorded and notified (or joined to a digest).
        self._recorded_causes = LruSet()

    def handle(self, request: ActionRequest, inv: Invocation, item_id: Optional[str] = None) -> Record:
        """Read, record and notify the session action ``request`` is about; the record (or a skip notice)."""
        record = inv.reads.record_for(request)
        if record is None:
            return self._nothing_to_record(request)
        run_status = request.run_status if isinstance(request, TaskRunChange) else None
        return self.record(record, run_status, inv, item_id)

    def record(self, record: Record, run_status: Optional[str], inv: Invocation,
               item_id: Optional[str] = None) -> Record:
        """Enrich, save and notify a normalised record; then its root cause, the same way."""
        record = self._enrich(record, run_status, inv.now)
        result = self._save(record, inv, item_id)
        self._record_root_cause(record, inv, item_id)
        return result

    # --- the steps ---------------------------------------------------------------------------

    def _enrich(self, record: Record, run_status: Optional[str], now: float) -> Record:
        enricher = self._ports.enricher
        return record if enricher is None else enricher.enrich(record, task_run_status=run_status, now=now)

    def _save(self, record: Record, inv: Invocation, item_id: Optional[str],
              on_published: Optional[Callable[[], None]] = None) -> Record:
        """Write the record; claim its notification (``each``) or add a failure to its job's digest window."""
        write = self._prepare(record, inv)
        if isinstance(write, dict):
            return write  # type: ignore[return-value]
        return self._settle(write, write.send(self._ports.records), inv, item_id, on_published)

    def _prepare(self, record: Record, inv: Invocation) -> Union["_Write", Record]:
        """The conditional write that saves ``record`` (or, for a status this invocation already holds, the
        record it holds: nothing to write)."""
        key = claim_key(record)
        if key in inv.claims:
            count(Metric.DEDUPLICATED)
            logger.info("already claimed in this invocation; duplicate ignored", extra=safe_summary(record))
            return inv.claims[key]

        s = self._settings
        outcome = Outcome(record["outcome"])
        if outcome is Outcome.UNKNOWN:
            count(Metric.UNKNOWN_STATUS)
            logger.warning("session action has a status this version does not know; recorded, not published",
                           extra=safe_summary(record))
        notify = record["status"] in s.notify_statuses and outcome is not Outcome.UNKNOWN
        start: Optional[int] = None
        digest_window: Optional[str] = None
        if s.digest and notify:
            if outcome is Outcome.FAILURE:
                start = window_start(inv.now, s.digest_window_seconds)
                digest_window = digest_window_key(record["jobId"], record["sessionActionId"], start)
            else:
                notify = False  # digest mode: completions reach people as the job-level message
        return _Write(record, notify, start, dict(
            claim_notification=notify, now=inv.now, lease_until=inv.lease_until,
            expires_at=int(inv.now) + s.retention_days * 86400, recorded_at=_iso(inv.now),
            digest_window=digest_window,
        ))

    def _settle(self, write: "_Write", result: SaveResult, inv: Invocation, item_id: Optional[str],
                on_published: Optional[Callable[[], None]] = None,
                window_check: Optional[WindowCheck] = None) -> Record:
        """What the write's answer means: a stale or duplicate delivery, another invocation's lease, or a
        claim to publish (``each``) or a failure joined to its digest window."""
        record, start, s = write.record, write.start, self._settings
        summary = safe_summary(record)
        if result.kind is SaveKind.STALE:
            count(Metric.STALE_IGNORED)
            logger.info("stored record is already terminal; older status ignored",
                        extra={**summary, "storedStatus": result.previous_status})
            _done(on_published)
            return result.stored or record
        if result.kind is SaveKind.DUPLICATE:
            count(Metric.DEDUPLICATED)
            if s.digest:
                self._windows.repair(record, result.digest_window, inv)
            logger.info("status already published; duplicate delivery ignored", extra=summary)
            _done(on_published)
            return record
        if result.kind is SaveKind.PENDING:
            raise NotificationPending(
                f"{record['jobId']}/{record['sessionActionId']} status {record['status']}: "
                "another invocation is publishing it; retry later"
            )

        count(Metric.RECORDED)
        if record["terminal"] and result.previous_status != record["status"]:
            count(Metric.FAILURES if Outcome(record["outcome"]) is Outcome.FAILURE else Metric.COMPLETIONS)
            inv.worker_runs.append((record, True))  # new: counts for its worker (suspect workers)
        if result.kind is SaveKind.CLAIMED:
            inv.claims[claim_key(record)] = record
            if start is not None:
                self._windows.joined(record, start, inv, check=window_check)
                _done(on_published)
            else:
                inv.outbox.add_record(record, item_id, on_published, done=result.channels_done)
            return record
        logger.info("recorded", extra=summary)
        _done(on_published)
        return record

    # --- a batch: the writes side by side --------------------------------------------------

    def handle_many(self, items: Sequence[Tuple[str, ActionRequest]], inv: Invocation) -> Dict[str, Exception]:
        """The messages of a batch about session actions; the errors of those that failed, by message id.

        The same steps as ``handle``, in three passes, so that the batch's independent round trips go side
        by side (``fanout``) rather than one after another: the records (read by the batch's Batch* calls)
        and their conditional writes are prepared; the writes are sent together; then each answer is
        settled in message order, as ``handle`` would. Before that, the digest windows the batch joined are
        opened together and checked once each (``DigestWindows.prepare``). A message whose status another
        message of the batch already writes waits for that write and is then settled as ``handle`` would
        (a duplicate of a claim this invocation holds).
        """
        failed: Dict[str, Exception] = {}
        writes: List[Tuple[str, ActionRequest, "_Write"]] = []
        later: List[Tuple[str, ActionRequest]] = []
        writing = set()
        for message_id, request in items:
            try:
                record = inv.reads.record_for(request)
                if record is None:
                    self._nothing_to_record(request)
                    continue
                run_status = request.run_status if isinstance(request, TaskRunChange) else None
                record = self._enrich(record, run_status, inv.now)
                if claim_key(record) in writing:
                    later.append((message_id, request))  # the same status as an earlier message: after it
                    continue
                write = self._prepare(record, inv)
                if isinstance(write, dict):
                    self._record_root_cause(record, inv, message_id)
                    continue
                writing.add(claim_key(record))
                writes.append((message_id, request, write))
            except Exception as err:  # the message fails alone
                failed[message_id] = err

        sends: List[Callable[[], SaveResult]] = [partial(w.send, self._ports.records) for _, _, w in writes]
        answers = fanout.run_all(sends)
        joins = [(w.record, w.start) for (_, _, w), done in zip(writes, answers)
                 if done.error is None and w.start is not None and done.value is not None
                 and done.value.kind is SaveKind.CLAIMED]
        checks = self._windows.prepare(joins, inv) if joins else {}
        settled = []
        for (message_id, _, write), done in zip(writes, answers):
            try:
                if done.error is not None:
                    raise done.error
                assert done.value is not None
                check = checks.get((write.record["jobId"], write.start)) if write.start is not None else None
                self._settle(write, done.value, inv, message_id, window_check=check)
                settled.append((message_id, write.record))
            except Exception as err:
                failed[message_id] = err
        # Root causes once every write of the batch is settled: a cause that is also a message of the batch
        # is then a claim this invocation holds.
        for message_id, record in settled:
            try:
                self._record_root_cause(record, inv, message_id)
            except Exception as err:
                failed[message_id] = err
        for message_id, request in later:
            try:
                self.handle(request, inv, message_id)
            except Exception as err:
                failed[message_id] = err
        return failed

    def _record_root_cause(self, record: Record, inv: Invocation, item_id: Optional[str]) -> None:
        """Record (and notify on) the action that caused this one, once per execution environment."""
        cause = record.get("rootCause")
        enricher = self._ports.enricher
        if enricher is None or not cause or cause.get("sessionActionId") in self._recorded_causes:
            return
        cause_record = enricher.root_cause_record(record.get("sessionId"))
        if cause_record is None or cause_record["sessionActionId"] == record["sessionActionId"]:
            return
        cause_id = cause_record["sessionActionId"]
        self._save(self._enrich(cause_record, None, inv.now), inv, item_id,
                   on_published=lambda: self._recorded_causes.add(cause_id))

    def _nothing_to_record(self, task: ActionRequest) -> Record:
        count(Metric.NO_SESSION_ACTION)
        run_status = task.run_status if isinstance(task, TaskRunChange) else None
        logger.info("task has no session action; nothing to record",
                    extra={"jobId": task.job_id, "taskId": getattr(task, "task_id", None), "runStatus": run_status})
        return skipped_result(task)


def skipped_result(task: ActionRequest) -> Record:
    """The answer for a task event with nothing to record: the record's keys, ``skipped`` saying why."""
    result = empty_record()
    run_status = task.run_status if isinstance(task, TaskRunChange) else None
    reason = ("task requeued with no reclaimed or interrupted run" if run_status in ONLY_IF_MATCHED
              else "task has no session action")
    result.update({"farmId": task.farm_id, "queueId": task.queue_id, "jobId": task.job_id,
                   "stepId": getattr(task, "step_id", None), "taskId": getattr(task, "task_id", None),
                   "actionType": "taskRun", "outcome": Outcome.UNKNOWN.value, "terminal": False})
    out = dict(result)
    out["skipped"] = reason
    return out  # type: ignore[return-value]


@dataclass
class _Write:
    """A record's conditional write, ready to send."""

    record: Record
    notify: bool
    #: The digest window the record joins (its start), if it joins one.
    start: Optional[int]
    options: Dict[str, Any]

    def send(self, records: RecordPort) -> SaveResult:
        return records.save(self.record, **self.options)


def _done(callback: Optional[Callable[[], None]]) -> None:
    if callback is not None:
        callback()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
