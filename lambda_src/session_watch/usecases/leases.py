"""Leases: a notification is published once, by the one invocation that holds its claim.

Two kinds of claim, one way to publish them:

* a record's claim (history table: ``notifyingStatus``/``notifyLeaseUntil``/``notifyingBy``), taken by
  the conditional write that saves the record (``each`` mode);
* a ledger item's lease (digest ledger: a digest window or a job-level message), taken with ``begin``.

The ``Outbox`` holds the claims of one invocation and publishes them: at once (``publish_now``), or all
together when the invocation ends (``flush``), with SNS Publish for one and PublishBatch for a batch. A
published claim is marked (record: ``notifiedStatus``; ledger: ``published``); a failed one is released so
that the retry publishes at once. Whatever raised in between, an invocation flushes its outbox before it
returns or raises, so no claim waits for its lease to run out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Union

from ..domain.notification import Notification, render_notification
from ..domain.record import Record
from ..errors import NotificationError, NotificationPending, SessionWatchError
from ..observability import Metric, count, logger, safe_summary
from ..ports import LedgerPort, NotificationPort, RecordPort

#: How long ledger items (windows, job-level messages) are kept.
LEDGER_RETENTION_SECONDS = 2 * 86400


@dataclass
class RecordClaim:
    record: Record
    #: Called once the notification is out (the session action use case remembers root causes).
    on_published: Optional[Callable[[], None]] = None


@dataclass
class LedgerClaim:
    job_id: str
    digest_key: str
    published_count: int


@dataclass
class Claimed:
    notification: Notification
    claim: Union[RecordClaim, LedgerClaim]
    #: The batch item (SQS message id) that fails when this cannot be published; None outside a batch.
    item_id: Optional[str] = None
    message_id: Optional[str] = None
    error: Optional[NotificationError] = None


@dataclass
class Outbox:
    records: RecordPort
    notifications: NotificationPort
    ledger: Optional[LedgerPort]
    #: True in a batch: deferred notifications go out together with PublishBatch.
    batched: bool = False
    pending: List[Claimed] = field(default_factory=list)
    published: int = 0

    def add_record(self, record: Record, item_id: Optional[str],
                   on_published: Optional[Callable[[], None]] = None) -> None:
        """Publish this claimed record's notification when the invocation ends."""
        self.pending.append(Claimed(render_notification(record), RecordClaim(record, on_published), item_id))

    def publish_now(self, notification: Notification, claim: Union[RecordClaim, LedgerClaim]) -> str:
        """Publish one claimed notification now; its message id, or its ``NotificationError``."""
        entry = Claimed(notification, claim)
        self._publish([entry])
        if entry.error is not None:
            raise entry.error
        return entry.message_id or ""

    def flush(self) -> List[Claimed]:
        """Publish every deferred notification; return those that failed (each with its ``error``)."""
        entries, self.pending = self.pending, []
        if not entries:
            return []
        self._publish(entries)
        return [e for e in entries if e.error is not None]

    # --- the one publishing path -------------------------------------------------------------

    def _publish(self, entries: Sequence[Claimed]) -> None:
        if self.batched and len(entries) > 1:
            results = self.notifications.publish_batch([e.notification for e in entries])
            for entry, result in zip(entries, results):
                if isinstance(result, NotificationError):
                    entry.error = result
                else:
                    entry.message_id = result
        else:
            for entry in entries:
                try:
                    entry.message_id = self.notifications.publish(entry.notification)
                except NotificationError as err:
                    entry.error = err
        self._settle(entries)

    def _settle(self, entries: Sequence[Claimed]) -> None:
        """Mark what was published; release what was not (the retry publishes it)."""
        out = [e for e in entries if e.error is None]
        records = [e.claim.record for e in out if isinstance(e.claim, RecordClaim)]
        try:
            if records:
                self.records.mark_notified_many(records)
            for entry in out:
                claim = entry.claim
                if isinstance(claim, LedgerClaim):
                    assert self.ledger is not None
                    self.ledger.finish(claim.job_id, claim.digest_key, published_count=claim.published_count,
                                       message_id=entry.message_id or "")
        except SessionWatchError as err:
            # The messages are out; unmarked, a redelivery after the lease may publish them again.
            logger.warning("published but not marked; a redelivery may publish again",
                           extra={"count": len(out), "errorType": type(err).__name__})
        self.published += len(out)
        if out:
            count(Metric.PUBLISHED, len(out))
        for entry in out:
            if isinstance(entry.claim, RecordClaim):
                logger.info("recorded and published",
                            extra={**safe_summary(entry.claim.record), "messageId": entry.message_id})
                if entry.claim.on_published is not None:
                    entry.claim.on_published()
        for entry in entries:
            if entry.error is not None:
                self._release(entry)

    def _release(self, entry: Claimed) -> None:
        claim = entry.claim
        try:
            if isinstance(claim, RecordClaim):
                self.records.release_claim(claim.record)
            elif self.ledger is not None:
                self.ledger.release(claim.job_id, claim.digest_key)
        except SessionWatchError as err:  # the lease runs out by itself; the retry publishes then
            logger.warning("could not release the claim", extra={"errorType": type(err).__name__})
        summary = safe_summary(claim.record) if isinstance(claim, RecordClaim) else {"jobId": claim.job_id}
        logger.warning("publish failed; it will be retried",
                       extra={**summary, "errorType": type(entry.error).__name__})


def claim_ledger_item(ledger: LedgerPort, job_id: str, digest_key: str, *, now: float, lease_seconds: float,
                      what: str) -> bool:
    """Take a ledger item's publishing lease: False when it is already published; ``NotificationPending``
    while another invocation holds the lease (the retry finds it published, or the lease expired)."""
    if ledger.begin(job_id, digest_key, now=now, lease_until=now + lease_seconds,
                    expires_at=int(now) + LEDGER_RETENTION_SECONDS):
        return True
    if ledger.state(job_id, digest_key) == "published":
        count(Metric.DEDUPLICATED)
        return False
    raise NotificationPending(f"{what}: another invocation is publishing it; retry later")
