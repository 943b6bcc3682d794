"""Digest bookkeeping in the use cases, with in-memory ports (the ports' AWS side is covered by the
integration tests): a window's flush is queued once; a window whose flush is not known to be queued is
repaired by whoever finds it so (a redelivery, a later failure of the job); a write that ends after its
window's flush started moves to the next window; a flush publishes once."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from session_watch.config import load_settings
from session_watch.domain.keys import digest_window_key, window_key
from session_watch.domain.record import RECORD_FIELDS
from session_watch.domain.requests import DigestFlush
from session_watch.errors import DigestScheduleError, NotificationError, NotificationPending
from session_watch.ports import Ports, SaveKind, SaveResult
from session_watch.usecases import Service, digest_window

SETTINGS = load_settings({
    "TABLE_NAME": "history", "TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:t",
    "DIGEST_TABLE_NAME": "digests", "DIGEST_QUEUE_URL": "https://sqs.us-west-2.amazonaws.com/111122223333/d",
    "DIGEST_WINDOW_SECONDS": "60",
})
JOB = "job-" + "2" * 32
FLUSH = DigestFlush("farm-" + "0" * 32, "queue-" + "1" * 32, JOB, 1_795_946_400)


def failure(n: int = 1) -> Dict[str, Any]:
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId="farm-" + "0" * 32, queueId="queue-" + "1" * 32, jobId=JOB, sessionId="session-" + "3" * 32,
             sessionActionId=f"sessionaction-{'3' * 32}-{n}", status="FAILED", outcome="failure", terminal=True,
             actionType="taskRun", taskId=f"task-{'5' * 32}-{n}", processExitCode=1)
    return r


def key_of(record: Dict[str, Any], start: int) -> str:
    return digest_window_key(record["jobId"], record["sessionActionId"], start)


class Journal(list):
    def add(self, *entry: Any) -> None:
        self.append(entry)


class Records:
    def __init__(self, journal: Journal) -> None:
        self.journal, self.rows, self.windows = journal, {}, {}

    def save(self, record, *, claim_notification, digest_window=None, **_):
        self.journal.add("save", record["sessionActionId"], digest_window)
        if record["sessionActionId"] in self.windows:  # joined before: the status counts as notified
            return SaveResult(SaveKind.DUPLICATE, record["status"], record, self.windows[record["sessionActionId"]])
        self.rows[record["sessionActionId"]] = record
        if digest_window:
            self.windows[record["sessionActionId"]] = digest_window
        return SaveResult(SaveKind.CLAIMED if claim_notification else SaveKind.WRITTEN, None)

    def move_to_digest(self, record, key):
        self.journal.add("move", record["sessionActionId"], key)
        self.windows[record["sessionActionId"]] = key

    def digest_members(self, keys):
        return [self.rows[i] for i, k in self.windows.items() if k in keys]

    def mark_published(self, published):
        self.journal.add("marked", len(published))

    def release_claim(self, record):
        self.journal.add("release-claim", record["sessionActionId"])


class Ledger:
    def __init__(self, journal: Journal) -> None:
        self.journal, self.items = journal, {}

    def open_window(self, job_id, window_start, **_):
        key = (job_id, window_key(window_start))
        self.journal.add("open", window_start)
        before = self.items.get(key)
        self.items.setdefault(key, "opening")
        return before

    def mark_scheduled(self, job_id, window_start):
        key = (job_id, window_key(window_start))
        self.journal.add("scheduled", window_start)
        if self.items.get(key) == "opening":
            self.items[key] = "scheduled"

    def state(self, job_id, key):
        self.journal.add("state", key)
        return self.items.get((job_id, key))

    def begin(self, job_id, key, **_):
        if self.items.get((job_id, key)) in ("publishing", "published"):
            return None
        self.items[(job_id, key)] = "publishing"
        return frozenset()

    def finish(self, job_id, key, **_):
        self.items[(job_id, key)] = "published"

    def release(self, job_id, key):
        self.journal.add("release", key)
        self.items[(job_id, key)] = "scheduled"

    def job_items(self, job_id, prefix=""):
        return [{"digestKey": k, "state": v} for (j, k), v in self.items.items()
                if j == job_id and k.startswith(prefix)]


class Queue:
    def __init__(self, journal: Journal, fail: bool = False) -> None:
        self.journal, self.fail = journal, fail

    def schedule_flush(self, flush, *, delay_seconds):
        self.journal.add("schedule", flush["windowStart"], round(delay_seconds))
        if self.fail:
            raise DigestScheduleError("SendMessage: boom")
        return "m-1"


class Topic:
    channels = ("machines",)

    def __init__(self, fail: bool = False) -> None:
        self.sent: List[Any] = []
        self.fail = fail

    def publish(self, notification, channels):
        if self.fail:
            return {c: NotificationError("Publish: InternalError") for c in channels}
        self.sent.append(notification)
        return {c: f"m-{len(self.sent)}" for c in channels}

    def publish_batch(self, items):
        return [self.publish(n, c) for n, c in items]


def service(journal, *, queue_fails=False, topic=None) -> Service:
    return Service(Ports(deadline=None, records=Records(journal), notifications=topic or Topic(),  # type: ignore[arg-type]
                         ledger=Ledger(journal), flush_queue=Queue(journal, fail=queue_fails)), SETTINGS)


NOW = 1_795_946_415.0  # 15 s into a window that starts at ...400
WINDOW = 1_795_946_400


def record(svc: Service, rec: Dict[str, Any], now: float = NOW) -> Dict[str, Any]:
    inv = svc.invocation(now, 30)
    try:
        return svc.session_actions.record(rec, None, inv)  # type: ignore[arg-type]
    finally:
        inv.outbox.flush()


def flush(svc: Service, now: float) -> Dict[str, Any]:
    return svc.process(FLUSH, now=now, lease_seconds=30)  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(digest_window.time, "time", lambda: NOW + 1)


def test_the_first_failure_of_a_window_queues_its_flush_once():
    journal = Journal()
    svc = service(journal)

    for n in range(3):
        record(svc, failure(n))

    assert journal[:4] == [("save", failure(0)["sessionActionId"], key_of(failure(0), WINDOW)),
                           ("open", WINDOW), ("schedule", WINDOW, 55), ("scheduled", WINDOW)]
    assert [e[0] for e in journal].count("schedule") == 1  # the window is known scheduled afterwards
    assert svc.ports.notifications.sent == []


def test_a_window_whose_flush_could_not_be_queued_stays_opening_and_the_retry_queues_it():
    journal = Journal()
    svc = service(journal, queue_fails=True)

    with pytest.raises(DigestScheduleError):
        record(svc, failure())
    assert svc.ports.ledger.items[(JOB, window_key(WINDOW))] == "opening"
    assert svc.ports.records.windows == {failure()["sessionActionId"]: key_of(failure(), WINDOW)}

    svc.ports.flush_queue.fail = False
    record(svc, failure(), now=NOW + 5)  # the redelivery: a duplicate of a joined record

    assert journal[-3:] == [("open", WINDOW), ("schedule", WINDOW, 50), ("scheduled", WINDOW)]
    assert svc.ports.ledger.items[(JOB, window_key(WINDOW))] == "scheduled"


def test_a_crash_after_the_window_is_created_and_before_its_flush_is_queued_is_repaired_by_the_redelivery():
    """Issue: the redelivery found the window existing and queued nothing. Now "opening" means "not known
    queued", and the redelivery queues the flush."""
    journal = Journal()
    svc = service(journal)
    svc.ports.records.windows[failure()["sessionActionId"]] = key_of(failure(), WINDOW)  # joined...
    svc.ports.ledger.items[(JOB, window_key(WINDOW))] = "opening"  # ...window created, then the crash

    record(svc, failure(), now=NOW + 30)

    assert [e[0] for e in journal] == ["save", "open", "schedule", "scheduled"]
    assert ("schedule", WINDOW, 25) in journal


def test_a_later_failure_of_the_job_repairs_a_window_left_opening():
    journal = Journal()
    svc = service(journal)
    svc.ports.ledger.items[(JOB, window_key(WINDOW))] = "opening"  # an earlier invocation died here

    record(svc, failure(7))

    assert ("schedule", WINDOW, 55) in journal
    assert svc.ports.ledger.items[(JOB, window_key(WINDOW))] == "scheduled"


def test_a_scheduled_window_is_not_queued_again():
    journal = Journal()
    svc = service(journal)
    svc.ports.ledger.items[(JOB, window_key(WINDOW))] = "scheduled"  # another execution environment's

    record(svc, failure(7))

    assert [e[0] for e in journal] == ["save", "open"]


def test_a_write_that_ends_after_its_window_was_flushed_moves_to_the_next_window(monkeypatch):
    journal = Journal()
    svc = service(journal)
    record(svc, failure(1))  # the window is now known scheduled in this execution environment
    later = WINDOW + 75.0  # the next save took so long that the window closed and its flush ran
    monkeypatch.setattr(digest_window.time, "time", lambda: later)
    svc.ports.ledger.items[(JOB, window_key(WINDOW))] = "published"

    record(svc, failure(2))

    next_window = WINDOW + 60
    assert ("state", window_key(WINDOW)) in journal
    assert ("move", failure(2)["sessionActionId"], key_of(failure(2), next_window)) in journal
    assert ("schedule", next_window, 55) in journal


def test_a_late_write_that_opened_its_window_learns_its_state_from_that_call(monkeypatch):
    journal = Journal()
    svc = service(journal)
    monkeypatch.setattr(digest_window.time, "time", lambda: WINDOW + 75.0)
    svc.ports.ledger.items[(JOB, window_key(WINDOW))] = "publishing"

    record(svc, failure(2))

    assert not any(e[0] == "state" for e in journal)  # no separate read: open_window said "publishing"
    assert ("move", failure(2)["sessionActionId"], key_of(failure(2), WINDOW + 60)) in journal


def test_a_flush_publishes_one_message_once():
    journal = Journal()
    svc = service(journal)
    for n in range(5):
        record(svc, failure(n))

    first = flush(svc, NOW + 60)
    again = flush(svc, NOW + 61)

    assert first["digest"]["status"] == "published" and first["digest"]["failures"] == 5
    assert again["digest"]["status"] == "already published"
    [digest] = svc.ports.notifications.sent
    assert digest.attributes["kind"] == "digest" and "5 failures" in digest.subject


def test_a_flush_while_another_holds_the_lease_is_retried_and_a_failed_publish_frees_it():
    journal = Journal()
    svc = service(journal, topic=Topic(fail=True))
    record(svc, failure())

    with pytest.raises(NotificationError):
        flush(svc, NOW + 60)
    assert ("release", window_key(WINDOW)) in journal
    svc.ports.ledger.items[(JOB, window_key(WINDOW))] = "publishing"  # another invocation took it meanwhile
    with pytest.raises(NotificationPending):
        flush(svc, NOW + 61)


def test_an_empty_window_publishes_nothing():
    journal = Journal()
    svc = service(journal)
    result = flush(svc, NOW)
    assert result["digest"]["status"] == "empty" and svc.ports.notifications.sent == []


def test_a_publish_answer_that_names_no_result_for_a_message_is_not_taken_as_published():
    """PublishBatch lists every entry under Successful or Failed; an answer without one (a stand-in's) must
    leave the message unpublished (released, retried), not marked published."""
    from session_watch.usecases.leases import Outbox, RecordClaim

    class Silent(Topic):
        def publish_batch(self, items):
            return [{} for _ in items]  # neither a message id nor an error

    journal = Journal()
    outbox = Outbox(Records(journal), Silent(), Ledger(journal), batched=True)
    outbox.add_record(failure(1), "m-1")
    outbox.add_record(failure(2), "m-2")

    failed = outbox.flush()

    assert [e.item_id for e in failed] == ["m-1", "m-2"] and all(isinstance(e.error, NotificationError) for e in failed)
    assert ("marked", 2) not in journal and ("release-claim", failure(1)["sessionActionId"]) in journal
    assert outbox.published == 0
