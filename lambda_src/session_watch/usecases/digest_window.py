"""Use case: digest windows. A job's failures in one window become one message.

A failure joins its window when its record is saved (``digestWindow``, the ``byDigestWindow`` index);
the window's ledger item is then opened and its flush put on the digest queue, delayed until the window
has closed. The repair depends on "the flush is queued", not on "the window exists": a window stays
``opening`` until its flush is known to be queued, and whoever finds it ``opening`` (a later failure of
the job, or the redelivery of one whose invocation died) queues the flush again. An extra flush is
harmless: the digest is published once, under the window's lease.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Sequence, Tuple

from .. import fanout
from ..cache import LruSet
from ..config import Settings
from ..domain.digest import render_digest
from ..domain.enrichment import JobInfo, monitor_job_url
from ..domain.keys import (DIGEST_SHARDS, LEGACY_DIGEST_SHARDS, ClaimKey, digest_window_key, digest_window_keys,
                           joined_window_start, window_key, window_start)
from ..domain.record import Record
from ..domain.requests import DigestFlush
from ..errors import ConfigurationError, SessionWatchError
from ..observability import Metric, count, logger, safe_summary
from ..ports import Ports
from .invocation import Invocation
from .leases import LEDGER_RETENTION_SECONDS, LedgerClaim, claim_ledger_item
from .suspect_workers import job_suspects

#: A digest is published this long after its window closes (writes that started inside the window land).
DIGEST_GRACE_SECONDS = 10
#: A duplicate delivery re-checks the flush of the window its record joined if that window is this recent
#: (a redelivery after a crash comes within minutes; a pipeline re-reading an old action must not re-open
#: a window whose ledger item has expired).
REPAIR_WINDOWS_WITHIN_SECONDS = 3600
#: Ledger states in which the window's flush has begun (a record joining now may be missed).
FLUSHING = ("publishing", "published")
#: Ledger states that need the flush queued (again).
UNSCHEDULED = (None, "opening")


class WindowCheck(NamedTuple):
    """A digest window as a batch found it after its writes: whether it had ended, and its ledger state
    (``None``: created by this batch, or not asked because it had not ended)."""

    late: bool
    state: Optional[str]


class DigestWindows:
    def __init__(self, ports: Ports, settings: Settings) -> None:
        self._ports = ports
        self._settings = settings
        #: Windows (jobId, windowStart) this execution environment knows are scheduled.
        self._scheduled = LruSet()

    # --- joining -----------------------------------------------------------------------------

    def joined(self, record: Record, start: int, inv: Invocation, check: Optional["WindowCheck"] = None) -> None:
        """A record has joined the window ``start``: make sure its flush is queued, and move the record
        to the next window if this window's flush has already begun.

        ``check``: what ``prepare`` learnt of the window after every write of the batch had landed (then
        nothing is asked again for this record)."""
        if check is None:
            asked, state = self._ensure_flush(record, start, inv.now)
            now = time.time()
            late = now >= start + self._settings.digest_window_seconds
            if late and not asked:
                state = self._ledger().state(record["jobId"], window_key(start))
        else:
            state = check.state
        count(Metric.DIGESTED)
        # The window's flush has begun: it ended, or its job ended and ``flush_open`` published it early. A
        # record joining it now is moved to the next window (the state is known only when the ledger was asked).
        if state in FLUSHING:
            now = time.time()
            later = window_start(now, self._settings.digest_window_seconds)
            self._ensure_flush(record, later, now)
            self._ports.records.move_to_digest(
                record, digest_window_key(record["jobId"], record["sessionActionId"], later))
            logger.info("late for its digest window; moved to the next one",
                        extra={**safe_summary(record), "windowStart": later})
            return
        logger.info("recorded; added to the job's digest", extra={**safe_summary(record), "windowStart": start})

    def prepare(self, joins: Sequence[Tuple[Record, int]], inv: Invocation) -> Dict[Tuple[str, int], "WindowCheck"]:
        """The windows a batch's records joined (``joins``: record, window start; all written already),
        each opened (its flush queued) and checked once, side by side: per (jobId, windowStart), whether
        the window had ended once the batch's writes were in, and its state as the ledger then had it.

        One answer per window covers every record of the batch in it: the time is taken and the ledger
        asked after all of those writes landed, so a flush that had not begun then will find them all.
        A window whose check failed is left out: each of its records asks again on its own (``joined``),
        and fails alone if the ledger or the queue still fails."""
        first: Dict[Tuple[str, int], Record] = {}
        for record, start in joins:
            first.setdefault((record["jobId"], start), record)
        now = time.time()
        ledger = self._ledger()
        window = self._settings.digest_window_seconds
        states: Dict[Tuple[str, int], Optional[str]] = {}
        asked = [key for key in first if key not in self._scheduled]
        if asked:
            queue = self._ports.flush_queue
            if queue is None:
                raise ConfigurationError("DIGEST_QUEUE_URL", "digest mode needs the digest queue")
            # 1. open the windows, side by side
            opens: List[Callable[[], Optional[str]]] = [
                partial(ledger.open_window, job_id, start, flush_at=start + window + DIGEST_GRACE_SECONDS,
                        expires_at=int(inv.now) + LEDGER_RETENTION_SECONDS) for job_id, start in asked]
            for key, opened in zip(asked, fanout.run_all(opens)):
                if opened.error is None:
                    states[key] = opened.value
            # 2. queue the flushes of those not known queued (SendMessageBatch, 10 a call), then 3. mark them
            unscheduled = [key for key in asked if key in states and states[key] in UNSCHEDULED]
            flushes = [({"farmId": first[key]["farmId"], "queueId": first[key]["queueId"], "jobId": key[0],
                         "windowStart": key[1]}, key[1] + window + DIGEST_GRACE_SECONDS - now) for key in unscheduled]
            chunks = [flushes[i:i + 10] for i in range(0, len(flushes), 10)]
            sends: List[Callable[[], List[Any]]] = [partial(queue.schedule_flushes, chunk) for chunk in chunks]
            sent: List[Any] = []
            for chunk, answers in zip(chunks, fanout.run_all(sends)):
                sent.extend(answers.value or [] if answers.error is None else [answers.error] * len(chunk))
            queued = [key for key, answer in zip(unscheduled, sent) if isinstance(answer, str)]
            for key, answer in zip(unscheduled, sent):
                if not isinstance(answer, str):
                    states.pop(key, None)  # not queued: its records queue it on their own (``joined``)
            if queued:
                try:
                    ledger.mark_scheduled_many(queued)
                    logger.info("digest window flushes queued", extra={"windows": len(queued)})
                except SessionWatchError:
                    for key in queued:  # queued, not marked: its records settle it on their own (``joined``)
                        states.pop(key, None)
            for key in asked:
                if key in states:
                    self._scheduled.add(key)

        # 4. the windows that had ended once the writes were in, and were not asked just now: ask now
        late = [key for key in first if now >= key[1] + window and key not in states]
        reads: List[Callable[[], Optional[str]]] = [partial(ledger.state, job_id, window_key(start))
                                                    for job_id, start in late]
        for key, read in zip(late, fanout.run_all(reads)):
            if read.error is None:
                states[key] = read.value
        checks: Dict[Tuple[str, int], WindowCheck] = {}
        for key in first:
            if key in states:
                checks[key] = WindowCheck(now >= key[1] + window, states[key])
            elif key in self._scheduled and now < key[1] + window:
                checks[key] = WindowCheck(False, None)  # known queued, and not over: nothing to ask
        return checks

    def repair(self, record: Record, digest_window: Optional[str], inv: Invocation) -> None:
        """A duplicate delivery of a record that joined ``digest_window``: its flush may never have been
        queued (the invocation that joined it died first), so make sure it is."""
        start = joined_window_start(digest_window)
        if start is not None and inv.now - start < REPAIR_WINDOWS_WITHIN_SECONDS:
            self._ensure_flush(record, start, inv.now)

    def _ensure_flush(self, record: Record, start: int, now: float) -> Tuple[bool, Optional[str]]:
        """Open the window in the ledger and queue its flush unless it is known to be queued.

        Returns whether the ledger was asked, and the window's state as it had it (``None``: created now).
        """
        job_id = record["jobId"]
        if (job_id, start) in self._scheduled:
            return False, None
        ledger = self._ledger()
        queue = self._ports.flush_queue
        if queue is None:
            raise ConfigurationError("DIGEST_QUEUE_URL", "digest mode needs the digest queue")
        flush_at = start + self._settings.digest_window_seconds + DIGEST_GRACE_SECONDS
        state = ledger.open_window(job_id, start, flush_at=flush_at, expires_at=int(now) + LEDGER_RETENTION_SECONDS)
        if state in UNSCHEDULED:
            flush = {"farmId": record["farmId"], "queueId": record["queueId"], "jobId": job_id, "windowStart": start}
            queue.schedule_flush(flush, delay_seconds=flush_at - now)  # DigestScheduleError: the retry repairs
            ledger.mark_scheduled(job_id, start)
            logger.info("digest window flush queued", extra={"jobId": job_id, "windowStart": start,
                                                             "flushInSeconds": round(flush_at - now, 1)})
        self._scheduled.add((job_id, start))
        return True, state

    # --- flushing ----------------------------------------------------------------------------

    def lease_many(self, flushes: Sequence[DigestFlush], inv: Invocation) -> None:
        """A batch of flushes: take their windows' leases together (one TransactWriteItems), so that each
        ``flush`` finds its lease taken. When that cannot be (a window published already, held by another
        call, partly published, or opened by an older version), nothing is taken and each flush takes its
        own, as alone."""
        keys = list(dict.fromkeys((f.job_id, window_key(f.window_start)) for f in flushes))
        if len(keys) < 2:
            return
        try:
            taken = self._ledger().begin_many(keys, now=inv.now, lease_until=inv.lease_until,
                                              expires_at=int(inv.now) + LEDGER_RETENTION_SECONDS,
                                              shards=DIGEST_SHARDS)
        except SessionWatchError as err:
            logger.warning("could not lease the batch's windows together; one by one",
                           extra={"errorType": type(err).__name__})
            return
        if taken:
            inv.leases.update(keys)

    def flush(self, flush: DigestFlush, inv: Invocation, item_id: Optional[str] = None) -> Dict[str, Any]:
        """Publish one message for the failures of a job's window (once, whoever delivers the flush); in a
        batch (``item_id``: its message), when the invocation's outbox is flushed."""
        ledger = self._ledger()
        key = window_key(flush.window_start)
        result: Dict[str, Any] = {"digest": {"jobId": flush.job_id, "windowStart": flush.window_start}}
        mine = ClaimKey(flush.job_id, key, "digest")
        if mine in inv.claims:  # the same flush twice in one batch: this invocation publishes it already
            count(Metric.DEDUPLICATED)
            result["digest"]["status"] = "already publishing"
            return result
        done: Optional[FrozenSet[str]]
        leased = (flush.job_id, key) in inv.leases
        if leased:  # taken with the batch's (``lease_many``): opened with DIGEST_SHARDS, no channel published
            inv.leases.discard((flush.job_id, key))
            done = frozenset()
        else:
            done = claim_ledger_item(ledger, flush.job_id, key, now=inv.now, lease_seconds=inv.lease_seconds,
                                     what=f"digest {flush.job_id} window {flush.window_start}")
        if done is None:
            result["digest"]["status"] = "already published"
            return result

        # The index keys the window was opened with (its ledger item says; older windows: the legacy count).
        shards = DIGEST_SHARDS if leased else (getattr(done, "shards", None) or LEGACY_DIGEST_SHARDS)
        members = self._ports.records.digest_members(digest_window_keys(flush.job_id, flush.window_start, shards))
        if not members:
            ledger.finish(flush.job_id, key, published_count=0, message_id="")
            result["digest"].update(status="empty", failures=0)
            return result

        job, missing = _job_of_members(members)
        if job is None and self._ports.enricher is not None:
            job, why = self._ports.enricher.job(flush.farm_id, flush.queue_id, flush.job_id, inv.now)
            missing = [why] if why else []
        s = self._settings
        notification = render_digest(
            members, window_start=flush.window_start, window_seconds=s.digest_window_seconds,
            sample_size=s.digest_sample_size, job=job,
            monitor_url=monitor_job_url(s.monitor_url, flush.farm_id, flush.queue_id, flush.job_id),
            missing=missing, suspects=job_suspects(self._ports, flush.job_id),
        )
        def published(message_id: str) -> None:
            count(Metric.DIGESTS_PUBLISHED)
            logger.info("digest published", extra={"jobId": flush.job_id, "windowStart": flush.window_start,
                                                    "failures": len(members), "messageId": message_id})

        claim = LedgerClaim(flush.job_id, key, len(members), on_published=published)
        if item_id is not None and inv.outbox.batched:
            # A batch of flushes: the digests go out together when the invocation ends (PublishBatch), and
            # their ledger items are marked published together; a failed one fails its own message.
            inv.outbox.add_ledger(notification, claim, item_id, done=done)
            inv.claims[mine] = members[0]
            result["digest"].update(status="publishing", failures=len(members))
            return result
        message_id = inv.outbox.publish_now(notification, claim, done=done)
        result["digest"].update(status="published", failures=len(members), messageId=message_id)
        return result

    def flush_open(self, farm_id: str, queue_id: str, job_id: str, windows: List[Dict[str, Any]],
                   inv: Invocation) -> int:
        """Publish the job's windows (its ``window#`` ledger items) that are not published yet, now: the job
        ended and its job-level message follows. Each under its own lease, as a queued flush would; the
        queued flush then finds it published. Returns how many were published or found empty now."""
        flushed = 0
        for item in windows:
            number = item["digestKey"].split("#", 1)[-1]
            if not number.isdigit() or item.get("state") == "published":
                continue
            start = int(number)
            self._scheduled.discard((job_id, start))  # a record joining it from now on is checked
            outcome = self.flush(DigestFlush(farm_id, queue_id, job_id, start), inv)
            flushed += outcome["digest"].get("status") in ("published", "empty")
        return flushed

    def _ledger(self):
        if self._ports.ledger is None:
            raise ConfigurationError("DIGEST_TABLE_NAME", "is not set; digest windows need the digest table")
        return self._ports.ledger


def _job_of_members(members: list) -> Tuple[Optional[JobInfo], list]:
    """The job's name and priority as the window's records carry them (no GetJob for a digest)."""
    for member in members:
        if member.get("jobName") is not None:
            return JobInfo(member["jobId"], member["jobName"], member.get("jobPriority")), []
    return None, []
