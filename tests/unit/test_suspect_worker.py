"""The suspect-worker rule, the per-batch tally and the notification (domain/suspect_worker.py), and the use
case against in-memory ports (usecases/suspect_workers.py)."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from session_watch.config import load_settings
from session_watch.domain.record import RECORD_FIELDS
from session_watch.domain.suspect_worker import (
    counts_against_worker,
    is_suspect,
    render_suspect_worker,
    suspect_document,
    tally,
    window_of,
)

FARM, QUEUE = "farm-" + "0" * 32, "queue-" + "1" * 32
WINDOW = 900  # 15 minutes
START = 1_795_946_400  # a window start (multiple of 900)


def run(n: int, *, worker: str = "worker-a", status: str = "FAILED", job: str = "job-" + "2" * 32,
        step: str = "step-" + "4" * 32, minute: float = 1.0, exit_code: Any = 139, **extra: Any) -> Dict[str, Any]:
    r = dict.fromkeys(RECORD_FIELDS)
    from datetime import datetime, timezone

    ended = datetime.fromtimestamp(START + minute * 60, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    r.update(farmId=FARM, queueId=QUEUE, jobId=job, sessionId="session-" + "3" * 32,
             sessionActionId=f"sessionaction-{'3' * 32}-{n}", status=status, terminal=True,
             outcome="failure" if status != "SUCCEEDED" else "completion", actionType="taskRun",
             stepId=step, taskId=f"task-{'5' * 32}-{n}", workerId=worker, fleetId="fleet-" + "6" * 32,
             processExitCode=exit_code if status != "SUCCEEDED" else 0, endedAt=ended,
             logsUrl=f"https://console.example/logs/{n}", parameters={"Frame": n})
    r.update(extra)
    return r


# --- the rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("failures, runs, suspect", [
    (5, 5, True),      # everything it picked up failed
    (5, 6, True),      # 5/6 = 0.83 >= 0.8
    (4, 5, False),     # below the failure count, whatever the ratio
    (5, 20, False),    # 5 failures of 20 runs: a flaky job, not a broken worker
    (8, 10, True),     # exactly the ratio (no float rounding: 0.8 * 10 is 8)
    (7, 9, False),     # 0.78 < 0.8
    (0, 0, False),
])
def test_the_rule(failures, runs, suspect):
    assert is_suspect(failures, runs, threshold=5, ratio=0.8) is suspect


def test_the_ratio_and_threshold_are_the_configured_ones():
    assert is_suspect(3, 6, threshold=3, ratio=0.5)
    assert not is_suspect(3, 7, threshold=3, ratio=0.5)
    assert not is_suspect(9, 10, threshold=10, ratio=0.5)


@pytest.mark.parametrize("status, counted", [("FAILED", True), ("INTERRUPTED", True), ("SUCCEEDED", True),
                                             ("CANCELED", False), ("NEVER_ATTEMPTED", False), ("RECLAIMED", False),
                                             ("RUNNING", False)])
def test_what_counts_against_a_worker(status, counted):
    assert counts_against_worker(run(1, status=status)) is counted


def test_environment_actions_and_runs_without_a_worker_do_not_count():
    assert not counts_against_worker(run(1, actionType="envEnter"))
    assert not counts_against_worker(run(1, workerId=None))


def test_the_window_is_the_one_the_action_ended_in():
    assert window_of(run(1, minute=0), WINDOW, now=0) == START
    assert window_of(run(1, minute=14.99), WINDOW, now=0) == START
    assert window_of(run(1, minute=15), WINDOW, now=0) == START + WINDOW
    assert window_of(run(1, endedAt=None), WINDOW, now=START + 2 * WINDOW + 5) == START + 2 * WINDOW


def test_a_batch_is_tallied_per_worker_and_window_and_redeliveries_add_nothing():
    batch = [(run(1), True), (run(2), True), (run(3, status="SUCCEEDED"), True),
             (run(4, worker="worker-b"), True), (run(5, minute=16), True),  # the next window
             (run(1), False),  # a redelivery: saved before, counts nothing
             (run(6, status="CANCELED"), True)]  # not a run the rule counts

    tallies = {(t.worker_id, t.window_start): t for t in tally(batch, window_seconds=WINDOW, now=0)}

    a = tallies[("worker-a", START)]
    assert (a.runs, a.failures) == (3, 2) and a.jobs == {f"{FARM}/{QUEUE}/job-{'2' * 32}"}
    assert a.fleet_id == "fleet-" + "6" * 32
    assert (tallies[("worker-b", START)].runs, tallies[("worker-a", START + WINDOW)].runs) == (1, 1)
    assert len(tallies) == 3


# --- the notification --------------------------------------------------------------------------------


def test_the_document_names_jobs_steps_exit_codes_other_workers_and_the_latest_failure():
    other_step = "step-" + "7" * 32
    history = [run(n, minute=n, exit_code=139 if n < 5 else 1) for n in range(1, 6)]
    history[-1]["logExcerpt"] = ["Rendering frame 5", "CUDA error: out of memory"]
    history[-1]["stepName"] = "Render"
    history.append(run(10, worker="worker-b", status="SUCCEEDED", minute=3))  # same step, other worker
    history.append(run(11, worker="worker-b", status="SUCCEEDED", minute=20))  # outside the window
    history.append(run(12, status="FAILED", step=other_step, minute=30))  # the worker, outside the window

    doc = suspect_document(worker_id="worker-a", fleet_id=None, window_start=START, window_seconds=WINDOW,
                           runs=5, failures=5, threshold=5, ratio=0.8, history=history)

    assert doc["kind"] == "suspectWorker" and doc["workerId"] == "worker-a"
    assert doc["fleetId"] == "fleet-" + "6" * 32 and (doc["failures"], doc["taskRuns"]) == (5, 5)
    assert doc["exitCodes"] == {"139": 4, "1": 1}
    assert [s["stepId"] for s in doc["steps"]] == ["step-" + "4" * 32]
    assert doc["steps"][0]["succeededOnOtherWorkers"] == ["worker-b"] and doc["sameStepsSucceededElsewhere"]
    assert [j["failures"] for j in doc["jobs"]] == [5]
    latest = doc["latestFailure"]
    assert latest["sessionActionId"].endswith("-5") and latest["logsUrl"].endswith("/5")
    assert latest["logExcerpt"] == ["Rendering frame 5", "CUDA error: out of memory"]
    assert doc["whatToDo"] and "Stop the worker" in doc["whatToDo"][0]

    note = render_suspect_worker(doc)
    assert note.kind == "suspectWorker" and note.attributes["outcome"] == "failure"
    assert json.loads(note.body) == doc
    assert "worker-a" in note.subject and "5 of 5" in note.subject and len(note.subject) < 100
    assert "CUDA error: out of memory" in note.email and "succeeded on 1 other worker" in note.email
    assert "Render" in note.email  # the step's name where the record has it
    assert note.chat["content"]["title"].startswith("\u26a0") and "worker-a" in note.chat["content"]["title"]


def test_a_worker_with_no_stored_failures_still_renders():
    doc = suspect_document(worker_id="worker-a", fleet_id="fleet-x", window_start=START, window_seconds=WINDOW,
                           runs=5, failures=5, threshold=5, ratio=0.8, history=[])
    note = render_suspect_worker(doc)
    assert doc["latestFailure"] is None and doc["steps"] == [] and "worker-a" in note.email


# --- the use case against in-memory ports ------------------------------------------------------------


class Ledger:
    """Counters and leases as the digest ledger keeps them (ADD, then the lease of the same item)."""

    def __init__(self) -> None:
        self.counters: Dict[Any, Dict[str, Any]] = {}
        self.states: Dict[Any, str] = {}
        self.marked: List[Any] = []
        self.updates = 0

    def count_worker_runs(self, worker_id, window_start, *, runs, failures, jobs, fleet_id, expires_at):
        self.updates += 1
        item = self.counters.setdefault((f"worker#{worker_id}", f"suspect#{window_start:010d}"),
                                        {"runs": 0, "failures": 0, "jobs": set(), "fleetId": fleet_id})
        item["runs"] += runs
        item["failures"] += failures
        item["jobs"] |= set(jobs)
        key = (f"worker#{worker_id}", f"suspect#{window_start:010d}")
        return dict(item, jobs=sorted(item["jobs"]), state=self.states.get(key))

    def begin(self, job_id, key, **_):
        if self.states.get((job_id, key)) in ("publishing", "published"):
            return None
        self.states[(job_id, key)] = "publishing"
        return frozenset()

    def state(self, job_id, key):
        return self.states.get((job_id, key))

    def finish(self, job_id, key, **_):
        self.states[(job_id, key)] = "published"

    def release(self, job_id, key):
        self.states[(job_id, key)] = "scheduled"

    def mark_suspect(self, job_ids, worker_id, window_start, entry, *, expires_at):
        self.marked.append((tuple(job_ids), worker_id, entry["failures"]))

    def job_items(self, job_id, prefix=""):
        return []


class Records:
    def __init__(self, history):
        self.history = history

    def records_of_job(self, job_id, *, limit=None):
        return [r for r in self.history if r["jobId"] == job_id]


class Topic:
    channels = ("machines",)

    def __init__(self):
        self.sent = []

    def publish(self, notification, channels):
        self.sent.append(notification)
        return {c: f"m-{len(self.sent)}" for c in channels}

    def publish_batch(self, items):
        return [self.publish(n, c) for n, c in items]


def suspects_of(batches, history=None):
    from session_watch.ports import Ports
    from session_watch.usecases.invocation import Invocation
    from session_watch.usecases.leases import Outbox
    from session_watch.usecases.reads import SingleReads
    from session_watch.usecases.suspect_workers import SuspectWorkers

    settings = load_settings({"TABLE_NAME": "history", "TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:t",
                              "NOTIFY_MODE": "each"})
    ledger, topic = Ledger(), Topic()
    records = Records(history if history is not None else [r for batch in batches for r, _ in batch])
    ports = Ports(deadline=None, records=records, notifications=topic, ledger=ledger)  # type: ignore[arg-type]
    use_case = SuspectWorkers(ports, settings)
    for batch in batches:
        inv = Invocation(now=START + 60, lease_seconds=30, reads=SingleReads(None),  # type: ignore[arg-type]
                         outbox=Outbox(records, topic, ledger))  # type: ignore[arg-type]
        inv.worker_runs = list(batch)
        use_case.settle(inv)
    return ledger, topic


def test_five_failures_in_one_window_are_one_notification_even_over_several_batches():
    batches = [[(run(n), True) for n in (1, 2, 3)], [(run(n), True) for n in (4, 5)], [(run(6), True)]]
    ledger, topic = suspects_of(batches)
    [note] = topic.sent
    assert note.kind == "suspectWorker" and json.loads(note.body)["failures"] == 5
    assert ledger.updates == 3  # one counter update per worker per batch, not per record
    assert ledger.marked == [((f"job-{'2' * 32}",), "worker-a", 5)]


def test_five_failures_of_twenty_runs_are_not_suspect():
    batch = [(run(n), True) for n in range(1, 6)] + [(run(n, status="SUCCEEDED"), True) for n in range(6, 21)]
    _, topic = suspects_of([batch])
    assert topic.sent == []


def test_failures_spread_over_two_windows_are_not_suspect():
    batch = [(run(n, minute=10 + n), True) for n in range(1, 7)]  # minutes 11-16: 4 in one window, 2 in the next
    ledger, topic = suspects_of([batch])
    assert topic.sent == [] and len(ledger.counters) == 2


def test_redelivered_runs_count_nothing():
    first = [(run(n), True) for n in range(1, 5)]
    again = [(r, False) for r, _ in first]  # the same four records, redelivered
    ledger, topic = suspects_of([first, again, again])
    assert topic.sent == [] and list(ledger.counters.values())[0]["failures"] == 4
