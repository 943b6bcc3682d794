"""Digest bookkeeping in the service, with in-memory ports (the ports' AWS side is covered by the
integration tests): a failure joins a window only after its flush is scheduled; a write that ends after
its window's flush started moves to the next window; a flush publishes once."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from session_watch import service
from session_watch.adapters.digest_ledger import WindowState, window_key
from session_watch.adapters.record_store import SaveKind, SaveResult
from session_watch.config import load_settings
from session_watch.domain.record import RECORD_FIELDS
from session_watch.domain.requests import DigestFlush
from session_watch.errors import DigestScheduleError, NotificationError, NotificationPending

SETTINGS = load_settings({
    "TABLE_NAME": "history", "TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:t",
    "DIGEST_TABLE_NAME": "digests", "DIGEST_QUEUE_URL": "https://sqs.us-west-2.amazonaws.com/111122223333/d",
    "DIGEST_WINDOW_SECONDS": "60",
})
JOB = "job-" + "2" * 32


def failure(n: int = 1) -> Dict[str, Any]:
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId="farm-" + "0" * 32, queueId="queue-" + "1" * 32, jobId=JOB, sessionId="session-" + "3" * 32,
             sessionActionId=f"sessionaction-{'3' * 32}-{n}", status="FAILED", outcome="failure", terminal=True,
             actionType="taskRun", taskId=f"task-{'5' * 32}-{n}", processExitCode=1)
    return r


class Journal(list):
    def add(self, *entry: Any) -> None:
        self.append(entry)


class Records:
    def __init__(self, journal: Journal) -> None:
        self.journal, self.rows, self.windows = journal, {}, {}

    duplicate_of = None

    def save(self, record, *, claim_notification, digest_window=None, **_):
        self.journal.add("save", record["sessionActionId"], digest_window)
        if self.duplicate_of:
            return SaveResult(SaveKind.DUPLICATE, record["status"], record, self.duplicate_of)
        self.rows[record["sessionActionId"]] = record
        if digest_window:
            self.windows[record["sessionActionId"]] = digest_window
        return SaveResult(SaveKind.CLAIMED if claim_notification else SaveKind.WRITTEN, None)

    def leave_digest(self, record, key):
        self.journal.add("leave", record["sessionActionId"], key)
        self.windows.pop(record["sessionActionId"], None)

    def move_to_digest(self, record, key):
        self.journal.add("move", record["sessionActionId"], key)
        self.windows[record["sessionActionId"]] = key

    def digest_members(self, keys):
        return [self.rows[i] for i, k in self.windows.items() if k in keys]


class Ledger:
    def __init__(self, journal: Journal) -> None:
        self.journal, self.items = journal, {}

    def open_window(self, job_id, window_start, **_):
        key = (job_id, window_key(window_start))
        self.journal.add("open", window_start)
        if key in self.items:
            return False
        self.items[key] = "scheduled"
        return True

    def forget_window(self, job_id, window_start):
        self.journal.add("forget", window_start)
        self.items.pop((job_id, window_key(window_start)), None)

    def state(self, job_id, key):
        return WindowState(self.items.get((job_id, key)))

    def begin(self, job_id, key, **_):
        if self.items.get((job_id, key)) in ("publishing", "published"):
            return False
        self.items[(job_id, key)] = "publishing"
        return True

    def finish(self, job_id, key, **_):
        self.items[(job_id, key)] = "published"

    def release(self, job_id, key):
        self.journal.add("release", key)
        self.items[(job_id, key)] = "scheduled"


class Queue:
    def __init__(self, journal: Journal, fail: bool = False) -> None:
        self.journal, self.fail = journal, fail

    def schedule_flush(self, flush, *, delay_seconds):
        self.journal.add("schedule", flush["windowStart"], round(delay_seconds))
        if self.fail:
            raise DigestScheduleError("SendMessage: boom")
        return "m-1"


class Topic:
    def __init__(self, fail: bool = False) -> None:
        self.sent: List[Any] = []
        self.fail = fail

    def publish(self, notification):
        if self.fail:
            raise NotificationError("Publish: InternalError")
        self.sent.append(notification)
        return f"m-{len(self.sent)}"


def ports(journal, *, queue_fails=False, topic=None):
    return service.Ports(deadline=None, records=Records(journal), notifications=topic or Topic(),
                         ledger=Ledger(journal), digest_queue=Queue(journal, fail=queue_fails))


NOW = 1_795_946_415.0  # 15 s into a window that starts at ...400
WINDOW = 1_795_946_400


def test_the_first_failure_of_a_window_schedules_its_flush_once(monkeypatch):
    monkeypatch.setattr(service.time, "time", lambda: NOW + 1)
    journal = Journal()
    p = ports(journal)

    for n in range(3):
        service.record_and_notify(failure(n), p, SETTINGS, now=NOW, lease_seconds=30)

    assert journal[:3] == [("save", failure(0)["sessionActionId"], service.digest_window_key(failure(0), WINDOW)),
                           ("open", WINDOW), ("schedule", WINDOW, 55)]
    assert [e[0] for e in journal].count("schedule") == 1  # the window is known open afterwards
    assert p.notifications.sent == []


def test_a_window_whose_flush_cannot_be_scheduled_is_forgotten_and_the_record_leaves_it(monkeypatch):
    journal = Journal()
    p = ports(journal, queue_fails=True)

    with pytest.raises(DigestScheduleError):
        service.record_and_notify(failure(), p, SETTINGS, now=NOW, lease_seconds=30)

    assert [e[0] for e in journal] == ["save", "open", "schedule", "forget", "leave"]
    assert p.records.windows == {}  # out of the window: the retry joins and schedules it again


def test_a_duplicate_repairs_a_window_whose_flush_was_never_scheduled(monkeypatch):
    journal = Journal()
    p = ports(journal)
    key = service.digest_window_key(failure(), WINDOW)
    p.records.duplicate_of = key  # stored: joined WINDOW, then the invocation died before scheduling

    service.record_and_notify(failure(), p, SETTINGS, now=NOW + 30, lease_seconds=30)

    assert [e[0] for e in journal] == ["save", "open", "schedule"]
    assert ("schedule", WINDOW, 25) in journal


def test_a_write_that_ends_after_its_window_was_flushed_moves_to_the_next_window(monkeypatch):
    journal = Journal()
    p = ports(journal)
    later = WINDOW + 75.0  # the save took so long that the window closed and its flush ran
    monkeypatch.setattr(service.time, "time", lambda: later)
    p.ledger.items[(JOB, window_key(WINDOW))] = "published"
    p.open_windows.add((JOB, WINDOW))

    service.record_and_notify(failure(), p, SETTINGS, now=NOW, lease_seconds=30)

    next_window = WINDOW + 60
    assert ("move", failure()["sessionActionId"], service.digest_window_key(failure(), next_window)) in journal
    assert ("schedule", next_window, 55) in journal


def test_a_flush_publishes_one_message_once(monkeypatch):
    journal = Journal()
    p = ports(journal)
    for n in range(5):
        service.record_and_notify(failure(n), p, SETTINGS, now=NOW, lease_seconds=30)
    flush = DigestFlush("farm-" + "0" * 32, "queue-" + "1" * 32, JOB, WINDOW)

    first = service.flush_digest(flush, p, SETTINGS, now=NOW + 60, lease_seconds=30)
    again = service.flush_digest(flush, p, SETTINGS, now=NOW + 61, lease_seconds=30)

    assert first["digest"]["status"] == "published" and first["digest"]["failures"] == 5
    assert again["digest"]["status"] == "already published"
    [digest] = p.notifications.sent
    assert digest.attributes["kind"] == "digest" and "5 failures" in digest.subject


def test_a_flush_while_another_holds_the_lease_is_retried_and_a_failed_publish_frees_it():
    journal = Journal()
    p = ports(journal, topic=Topic(fail=True))
    service.record_and_notify(failure(), p, SETTINGS, now=NOW, lease_seconds=30)
    flush = DigestFlush("farm-" + "0" * 32, "queue-" + "1" * 32, JOB, WINDOW)

    with pytest.raises(NotificationError):
        service.flush_digest(flush, p, SETTINGS, now=NOW + 60, lease_seconds=30)
    assert ("release", window_key(WINDOW)) in journal
    p.ledger.items[(JOB, window_key(WINDOW))] = "publishing"  # another invocation took it meanwhile
    with pytest.raises(NotificationPending):
        service.flush_digest(flush, p, SETTINGS, now=NOW + 61, lease_seconds=30)


def test_an_empty_window_publishes_nothing():
    journal = Journal()
    p = ports(journal)
    result = service.flush_digest(DigestFlush("farm-" + "0" * 32, "queue-" + "1" * 32, JOB, WINDOW), p, SETTINGS,
                                  now=NOW, lease_seconds=30)
    assert result["digest"]["status"] == "empty" and p.notifications.sent == []
