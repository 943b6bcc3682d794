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
from functools import partial
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple, Union

from .. import fanout, names
from ..domain.notification import Notification, render_notification
from ..domain.record import Record
from ..errors import NotificationError, NotificationPending, SessionWatchError
from ..observability import Metric, count, logger, safe_summary
from ..ports import LedgerPort, NotificationPort, RecordPort

#: PublishBatch takes at most 10 messages.
PUBLISH_BATCH_LIMIT = 10
#: How long ledger items (windows, job-level messages) are kept.
LEDGER_RETENTION_SECONDS = 2 * 86400


@dataclass
class RecordClaim:
    record: Record
    #: Called once the notification is out on every channel (the use case remembers root causes).
    on_published: Optional[Callable[[], None]] = None


@dataclass
class LedgerClaim:
    job_id: str
    digest_key: str
    published_count: int
    #: Called with the machines' message id once the message is out on every channel.
    on_published: Optional[Callable[[str], None]] = None


@dataclass
class Claimed:
    notification: Notification
    claim: Union[RecordClaim, LedgerClaim]
    #: The channels it still needs (the ones that are on, less those an earlier claim published it on).
    channels: Tuple[str, ...]
    #: The batch item (SQS message id) that fails when this cannot be published; None outside a batch.
    item_id: Optional[str] = None
    #: Per channel: the message or event id, or the error.
    results: Dict[str, Union[str, NotificationError]] = field(default_factory=dict)

    @property
    def published(self) -> List[str]:
        return [c for c in self.channels if isinstance(self.results.get(c), str)]

    @property
    def error(self) -> Optional[NotificationError]:
        return next((r for r in self.results.values() if isinstance(r, NotificationError)), None)

    @property
    def message_id(self) -> str:
        """The machines' message id (the id every log line and result names)."""
        first = self.results.get(names.CHANNEL_MACHINES)
        return first if isinstance(first, str) else next((r for r in self.results.values() if isinstance(r, str)), "")


@dataclass
class Outbox:
    records: RecordPort
    notifications: NotificationPort
    ledger: Optional[LedgerPort]
    #: True in a batch: deferred notifications go out together (PublishBatch, PutEvents of many).
    batched: bool = False
    pending: List[Claimed] = field(default_factory=list)
    published: int = 0

    def add_record(self, record: Record, item_id: Optional[str], on_published: Optional[Callable[[], None]] = None,
                   *, done: FrozenSet[str] = frozenset()) -> None:
        """Publish this claimed record's notification when the invocation ends (on the channels not ``done``)."""
        self.pending.append(Claimed(render_notification(record), RecordClaim(record, on_published),
                                    self._channels(done), item_id))

    def add_ledger(self, notification: Notification, claim: LedgerClaim, item_id: str, *,
                   done: FrozenSet[str] = frozenset()) -> None:
        """Publish this ledger item's message when the invocation ends (a batch of digest flushes)."""
        self.pending.append(Claimed(notification, claim, self._channels(done), item_id))

    def publish_now(self, notification: Notification, claim: Union[RecordClaim, LedgerClaim], *,
                    done: FrozenSet[str] = frozenset()) -> str:
        """Publish one claimed notification now; its machines' message id, or its ``NotificationError``."""
        entry = Claimed(notification, claim, self._channels(done))
        self._publish([entry])
        if entry.error is not None:
            raise entry.error
        return entry.message_id

    def flush(self) -> List[Claimed]:
        """Publish every deferred notification; return those that failed on a channel (each with its ``error``)."""
        entries, self.pending = self.pending, []
        if not entries:
            return []
        self._publish(entries)
        return [e for e in entries if e.error is not None]

    def _channels(self, done: FrozenSet[str]) -> Tuple[str, ...]:
        return tuple(c for c in self.notifications.channels if c not in done)

    # --- the one publishing path -------------------------------------------------------------

    def _publish(self, entries: Sequence[Claimed]) -> None:
        todo = [e for e in entries if e.channels]
        if self.batched and len(todo) > 1:
            # PublishBatch takes 10 messages: the chunks go side by side (``fanout``), not one after another.
            chunks = [todo[i:i + PUBLISH_BATCH_LIMIT] for i in range(0, len(todo), PUBLISH_BATCH_LIMIT)]
            calls: List[Callable[[], List[Dict[str, Union[str, NotificationError]]]]] = [
                partial(self.notifications.publish_batch, [(e.notification, e.channels) for e in chunk])
                for chunk in chunks]
            error: Optional[BaseException] = None
            for chunk, done in zip(chunks, fanout.run_all(calls)):
                if done.error is not None:
                    error = error or done.error
                    continue
                for entry, results in zip(chunk, done.value or []):
                    entry.results = dict(results)
            if error is not None:  # what went out is settled; the rest is left to its lease, as before
                self._settle([e for e in entries if e.results])
                raise error
        else:
            for entry in todo:
                entry.results = dict(self.notifications.publish(entry.notification, entry.channels))
        self._settle(entries)

    def _settle(self, entries: Sequence[Claimed]) -> None:
        """Remember what was published, per channel; release what was not (the retry publishes it)."""
        for entry in entries:
            for channel in entry.channels:
                if channel not in entry.results:
                    # An answer that names neither a message id nor an error for the entry (PublishBatch lists
                    # every entry under Successful or Failed; a stand-in may not): not known published.
                    entry.results[channel] = NotificationError(f"{channel}: no answer for this message")
        records = [(e.claim.record, e.published, e.error is None) for e in entries
                   if isinstance(e.claim, RecordClaim) and (e.published or e.error is None)]
        try:
            if records:
                self.records.mark_published(records)
            ledger = [e for e in entries if isinstance(e.claim, LedgerClaim) and (e.published or e.error is None)]
            complete_ledger = [e for e in ledger if e.error is None]
            if len(complete_ledger) > 1:  # many published: marked together (one transaction)
                assert self.ledger is not None
                self.ledger.finish_many([(e.claim.job_id, e.claim.digest_key, e.claim.published_count, e.message_id)
                                         for e in complete_ledger if isinstance(e.claim, LedgerClaim)])
                ledger = [e for e in ledger if e.error is not None]
            for entry in ledger:
                claim = entry.claim
                assert self.ledger is not None and isinstance(claim, LedgerClaim)
                self.ledger.finish(claim.job_id, claim.digest_key, published_count=claim.published_count,
                                   message_id=entry.message_id, channels=entry.published,
                                   complete=entry.error is None)
        except SessionWatchError as err:
            # The messages are out; unmarked, a redelivery after the lease may publish them again.
            logger.warning("published but not marked; a redelivery may publish again",
                           extra={"count": len(entries), "errorType": type(err).__name__})
        complete = [e for e in entries if e.error is None]
        self.published += len(complete)
        if complete:
            count(Metric.PUBLISHED, len(complete))
        for entry in complete:
            if isinstance(entry.claim, LedgerClaim) and entry.claim.on_published is not None:
                entry.claim.on_published(entry.message_id)
            if isinstance(entry.claim, RecordClaim):
                logger.info("recorded and published",
                            extra={**safe_summary(entry.claim.record), "messageId": entry.message_id,
                                   "channels": list(entry.channels)})
                if entry.claim.on_published is not None:
                    entry.claim.on_published()
        for entry in entries:
            if entry.error is not None:
                self._release(entry)

    def _release(self, entry: Claimed) -> None:
        claim = entry.claim
        if not entry.published:  # a partial publish released its claim when it was marked
            try:
                if isinstance(claim, RecordClaim):
                    self.records.release_claim(claim.record)
                elif self.ledger is not None:
                    self.ledger.release(claim.job_id, claim.digest_key)
            except SessionWatchError as err:  # the lease runs out by itself; the retry publishes then
                logger.warning("could not release the claim", extra={"errorType": type(err).__name__})
        summary = safe_summary(claim.record) if isinstance(claim, RecordClaim) else {"jobId": claim.job_id}
        failed = [c for c in entry.channels if c not in entry.published]
        logger.warning("publish failed; it will be retried",
                       extra={**summary, "errorType": type(entry.error).__name__, "failedChannels": failed,
                              "publishedChannels": entry.published})


def claim_ledger_item(ledger: LedgerPort, job_id: str, digest_key: str, *, now: float, lease_seconds: float,
                      what: str) -> Optional[FrozenSet[str]]:
    """Take a ledger item's publishing lease: the channels it was already published on (usually none), or
    ``None`` when it is already published everywhere; ``NotificationPending`` while another invocation
    holds the lease (the retry finds it published, or the lease expired)."""
    done = ledger.begin(job_id, digest_key, now=now, lease_until=now + lease_seconds,
                        expires_at=int(now) + LEDGER_RETENTION_SECONDS)
    if done is not None:
        return done
    if ledger.state(job_id, digest_key) == "published":
        count(Metric.DEDUPLICATED)
        return None
    raise NotificationPending(f"{what}: another invocation is publishing it; retry later")
