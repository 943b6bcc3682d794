"""One broken worker among four (local/scenarios/broken-worker.json), in digest mode, end to end: the deployed
stack in moto, the Deadline Cloud stand-in, the real handler. W04 fails every frame it picks up; it is
reported as a suspect worker once, on every channel; the job's digest lists it; the job-level message says
how the failed actions relate to the tasks, and its numbers add up with the digest.

One demo run of 17 frames (about 20 s in its worker process)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SCENARIOS

SCENARIO = SCENARIOS / "broken-worker.json"
RUNS = [(SCENARIO, "digest")]


@pytest.fixture(scope="module")
def demo(run_scenario):
    return run_scenario(SCENARIO, "digest")


def test_the_demo_passes_every_check(demo):
    failed = [c for c in demo.checks if not c.ok]
    assert not failed, failed


def test_the_broken_worker_is_reported_once_on_every_channel(demo):
    [suspect] = demo.messages("suspectWorker")
    record = suspect.record
    assert record["workerId"] == demo.workers["W04"]
    assert (record["failures"], record["taskRuns"]) == (5, 5) and record["exitCodes"] == {"139": 5}
    assert record["fleetId"] and record["jobs"][0]["jobId"] == demo.ids["jobId"]
    assert record["jobs"][0]["jobName"] == "shot-061_lighting_v002"
    latest = record["latestFailure"]
    assert latest["parameters"]["Frame"] == 17 and "CUDA error" in latest["progressMessage"]
    assert latest["logsUrl"].startswith("https://")
    assert any("Stop the worker" in step for step in record["whatToDo"])
    assert suspect.attributes["kind"] == "suspectWorker" and suspect.attributes["outcome"] == "failure"
    assert "suspect worker" in suspect.subject and "5 of 5" in suspect.subject
    # Every channel: the email text, the chat notification, the event (detail-type "Suspect Worker").
    emails = [m for m in demo.channels["email"] if m.attributes.get("kind") == "suspectWorker"]
    chats = [m for m in demo.channels["chat"] if m.attributes.get("kind") == "suspectWorker"]
    events = [m for m in demo.channels["events"] if m.body.get("detail-type") == "Suspect Worker"]
    assert len(emails) == len(chats) == len(events) == 1
    assert "CUDA error" in emails[0].body and events[0].body["detail"]["workerId"] == demo.workers["W04"]
    assert chats[0].body["content"]["title"].startswith("\u26a0")


def test_the_digest_lists_the_suspect_worker(demo):
    [digest] = demo.messages("digest")
    [entry] = digest.record["suspectWorkers"]
    assert entry["workerId"] == demo.workers["W04"] and entry["failures"] == 5
    assert "Suspect workers" in digest.email


def test_the_job_level_message_tells_one_story_with_the_digest(demo):
    [job] = demo.messages("jobRun")
    [digest] = demo.messages("digest")
    summary = job.record["failureSummary"]
    assert summary["failedActions"] == digest.record["failures"] == 5
    assert summary["story"] == "5 failed actions for 0 tasks that did not succeed: 5 retries"
    assert summary["byWorker"] == {demo.workers["W04"]: 5}
    assert [s["workerId"] for s in summary["suspectWorkers"]] == [demo.workers["W04"]]
    assert job.raw["Timestamp"] >= digest.raw["Timestamp"], "the digest comes first"
