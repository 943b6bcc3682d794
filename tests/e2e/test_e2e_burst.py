"""A 1,000-task job that fails entirely (local/scenarios/job-fails-entirely.json), in ``each`` and ``digest`` mode,
with the stack's default delivery (the event queue). Asserted on what a subscriber receives (the SQS queue
subscribed to the topic), the rows the table holds (a full scan), the digest ledger, the dead-letter queues
and the Deadline Cloud calls the function made."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from tests.e2e.conftest import SCENARIOS

pytestmark = pytest.mark.slow

#: the demo runs this module asserts on (run in parallel by conftest.py)
RUNS = [(SCENARIOS / "job-fails-entirely.json", "each"), (SCENARIOS / "job-fails-entirely.json", "digest")]

TASKS = 1000
MESSAGE = "bad scene: Error: cannot open cache /mnt/projects/shot-100/cache/fx_v007.abc (No such file or directory)"


@pytest.fixture(scope="module", params=["each", "digest"])
def demo(run_scenario, request):
    return run_scenario(SCENARIOS / "job-fails-entirely.json", request.param)


def test_the_demo_verdict_is_pass(demo):
    failed = [f"{c.name}: {c.detail}" for c in demo.checks if not c.ok]
    assert not failed, "\n".join(failed)


def test_every_failure_is_one_row(demo):
    rows = demo.rows
    assert len(rows) == TASKS
    assert len({r["sessionActionId"] for r in rows}) == TASKS
    frames = sorted(r["parameters"]["Frame"] for r in rows)
    assert frames == list(range(1, TASKS + 1))
    sessions = Counter(r["sessionId"] for r in rows)
    assert len(sessions) == 10 and set(sessions.values()) == {100}, "ten workers, a hundred frames each"
    for row in rows:
        assert (row["status"], row["outcome"], row["processExitCode"], row["terminal"]) == ("FAILED", "failure", 1, True)
        assert row["progressMessage"] == MESSAGE
        assert row["jobName"] == "shot-100_fx_v007" and row["jobPriority"] == 60
        assert row["logGroup"] == f"/aws/deadline/{demo.ids['farmId']}/{demo.ids['queueId']}"
        assert row["logStream"] == row["sessionId"]
        assert row.get("rootCause") is None, "the action itself failed: it is its own cause"
        assert row.get("workerId") or any("workerId" in m for m in row.get("enrichmentMissing") or []), \
            "a detail the bounded enrichment left out is said to be missing"


def test_the_burst_reached_the_function_in_batches(demo):
    [(queue, stats)] = [(q, s) for q, s in demo.event_sources.items() if "Events" in q]
    assert stats["records"] == TASKS + 1, "1,000 task events and the job's run status"
    assert stats["largestBatch"] == 100 and stats["batches"] == math.ceil((TASKS + 1) / 100)
    assert stats["recordsFailed"] == 0 and stats["functionErrors"] == 0 and stats["deadLettered"] == 0
    assert stats["peakConcurrency"] <= stats["maximumConcurrency"] == 2
    assert all(d.processed and d.outcome == "ok" for d, _ in demo.play.deliveries if d.matched)


def test_deadline_reads_are_batched(demo):
    """Two batch reads per 100 task events (BatchGetTask, BatchGetSessionAction), no per-event reads, and the
    enrichment bounded: GetJob cached, session details at most once per job and window."""
    calls = demo.standin_calls
    batches = math.ceil(TASKS / 100)
    assert calls.get("BatchGetTask", 0) == batches and calls.get("BatchGetSessionAction", 0) == batches
    assert not calls.get("GetTask") and not calls.get("GetSessionAction")
    assert calls.get("GetJob", 0) + calls.get("BatchGetJob", 0) == 1
    windows = math.ceil(demo.timings["play"] / demo.digest_window) + 1
    assert calls.get("GetSession", 0) + calls.get("BatchGetSession", 0) <= windows
    assert not calls.get("ListSessionActions"), "no root cause to look for"


def test_one_job_level_message(demo):
    [job] = demo.messages("jobRun")
    assert {k: v for k, v in job.record["taskRunStatusCounts"].items() if v} == {"FAILED": TASKS}
    assert job.attributes["status"] == "FAILED" and job.attributes["outcome"] == "failure"
    assert job.subject == "Deadline: shot-100_fx_v007: job failed (1000 failed of 1000 tasks)"
    summary = job.record["failureSummary"]
    assert summary["failedActions"] == summary["tasksFailed"] == TASKS
    assert summary["story"] == f"{TASKS} failed actions for {TASKS} tasks that did not succeed"
    assert summary["byExitCode"] == {"1": TASKS} and sum(summary["byWorker"].values()) == TASKS


def test_every_worker_that_failed_everything_is_a_suspect_once_per_window(demo):
    """The ten workers fail every frame they pick up: each is a suspect worker, told once per window of
    farm time its failures fall in, and the steps succeeded on no other worker (the job, not a worker, is
    at fault: the message says so)."""
    suspects = demo.messages("suspectWorker")
    per_window = Counter((n.record["workerId"], n.record["windowStart"]) for n in suspects)
    assert set(per_window.values()) == {1}
    assert {worker for worker, _ in per_window} == {r["workerId"] for r in demo.rows}
    assert len({worker for worker, _ in per_window}) == 10
    assert all(not n.record["sameStepsSucceededElsewhere"] for n in suspects)


def test_each_mode_one_message_per_failed_action(demo):
    if demo.mode != "each":
        pytest.skip("each mode")
    messages = demo.messages("sessionAction")
    assert len(messages) == TASKS and not demo.messages("digest")
    assert {n.record["sessionActionId"] for n in messages} == {r["sessionActionId"] for r in demo.rows}
    for n in messages:
        assert n.attributes["kind"] == "sessionAction" and n.attributes["status"] == "FAILED"
        assert n.subject.startswith("Deadline: shot-100_fx_v007: Render Frame=") and " failed (exit 1)" in n.subject
    sample = next(n for n in messages if n.record["parameters"]["Frame"] == 1)
    assert MESSAGE in sample.email and "Frame=1, Scene=/mnt/projects/shot-100/fx_v007.blend" in sample.email
    assert all(r["notifiedStatus"] == "FAILED" for r in demo.rows)


def test_digest_mode_one_message_per_job_and_window(demo):
    if demo.mode != "digest":
        pytest.skip("digest mode")
    assert not demo.messages("sessionAction"), "no message per action"
    digests = demo.messages("digest")
    windows = Counter(r["digestWindow"].split("#")[1] for r in demo.rows)
    assert len(digests) == len(windows), "one digest for each window the failures fell in"
    assert sorted(n.record["failures"] for n in digests) == sorted(windows.values())
    assert sum(n.record["failures"] for n in digests) == TASKS
    ledger = {i["digestKey"]: i for i in demo.digest_ledger if i["digestKey"].startswith("window#")}
    assert {int(k.split("#")[1]) for k in ledger} >= {int(w) for w in windows}
    assert all(i["state"] == "published" for i in ledger.values())
    assert sum(int(i.get("memberCount", 0)) for i in ledger.values()) == TASKS
    for n in digests:
        record = n.record
        assert n.attributes == {"kind": "digest", "outcome": "failure", "farmId": demo.ids["farmId"],
                                "queueId": demo.ids["queueId"], "jobId": demo.ids["jobId"]}
        failures = record["failures"]
        assert record["byStatus"] == {"FAILED": failures} and record["byExitCode"] == {"1": failures}
        assert len(record["sample"]) == min(10, failures)
        assert all(s["status"] == "FAILED" and s["processExitCode"] == 1 for s in record["sample"])
        assert record["rootCauses"] == [] and record["distinctRootCauses"] == 0
        assert re.fullmatch(rf"Deadline: shot-100_fx_v007: {failures} failures in window "
                            r"\d\d:\d\d:\d\d-\d\d:\d\d:\d\d UTC", n.subject), n.subject
        assert MESSAGE[:120] in n.email and "By exit code:" in n.email
        assert len(n.raw["Message"].encode()) < 256 * 1024
    suspects = demo.messages("suspectWorker")
    assert len(demo.notifications) == len(digests) + len(suspects) + 1, \
        "digests, the suspect workers and the job-level message, nothing else"


def test_nothing_reached_a_dead_letter_queue(demo):
    assert demo.dead_letter_queues and all(messages == [] for messages in demo.dead_letter_queues.values())
