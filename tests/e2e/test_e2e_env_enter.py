"""One worker's environment enter fails (local/scenarios/env-enter-fails-one-worker.json), in ``each`` and
``digest`` mode: the ten frames queued behind it end NEVER_ATTEMPTED, each naming the failed enter as its
root cause; the failed enter is recorded too; the other thirty frames succeed."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SCENARIOS

pytestmark = pytest.mark.slow

#: the demo runs this module asserts on (run in parallel by conftest.py)
RUNS = [(SCENARIOS / "env-enter-fails-one-worker.json", "each"), (SCENARIOS / "env-enter-fails-one-worker.json", "digest")]

CONDA = "conda: PackagesNotFoundError: nuke-plugins=15.1.3 (channel studio-forge)"
NEVER = [f"frame-{n}" for n in range(31, 41)]
DONE = [f"frame-{n}" for n in range(1, 31)]


@pytest.fixture(scope="module", params=["each", "digest"])
def demo(run_scenario, request):
    return run_scenario(SCENARIOS / "env-enter-fails-one-worker.json", request.param)


def _rows(demo):
    rows = {}
    for row in demo.rows:
        label = demo.label_of(row["sessionActionId"])
        assert label and label not in rows, row["sessionActionId"]
        rows[label] = row
    return rows


def test_the_demo_verdict_is_pass(demo):
    failed = [f"{c.name}: {c.detail}" for c in demo.checks if not c.ok]
    assert not failed, "\n".join(failed)


def test_the_rows(demo):
    rows = _rows(demo)
    assert sorted(rows) == sorted(DONE + NEVER + ["enter@W04"])
    enter = rows["enter@W04"]
    assert (enter["actionType"], enter["status"], enter["outcome"], enter["processExitCode"]) == (
        "envEnter", "FAILED", "failure", 1)
    assert enter["environmentId"] == f"JOB:{demo.ids['jobId']}:Nuke-15.1" and enter["progressMessage"] == CONDA
    for label in DONE:
        assert (rows[label]["status"], rows[label]["outcome"], rows[label].get("rootCause")) == (
            "SUCCEEDED", "completion", None), label
    for label in NEVER:
        row = rows[label]
        assert (row["status"], row["outcome"], row["terminal"]) == ("NEVER_ATTEMPTED", "failure", True), label
        assert row["sessionId"] == enter["sessionId"], label
        cause = {k: v for k, v in row["rootCause"].items() if v is not None}  # the table leaves out null members
        assert cause == {
            "sessionActionId": enter["sessionActionId"], "sessionId": enter["sessionId"], "actionType": "envEnter",
            "status": "FAILED", "environmentId": enter["environmentId"],
            "processExitCode": 1, "progressMessage": CONDA, "endedAt": enter["endedAt"],
        }, label


def test_root_causes_are_read_once_per_session(demo):
    """ListSessionActions(sessionId=...) for the failed session, not once per NEVER_ATTEMPTED action."""
    calls = demo.standin_calls
    assert 1 <= calls.get("ListSessionActions", 0) <= 2
    assert calls.get("BatchGetTask", 0) + calls.get("GetTask", 0) <= 4


def test_one_job_level_message(demo):
    [job] = demo.messages("jobRun")
    assert {k: v for k, v in job.record["taskRunStatusCounts"].items() if v} == {"SUCCEEDED": 30, "FAILED": 10}
    assert job.subject == "Deadline: shot-077_comp_v002: job failed (10 failed, 30 succeeded of 40 tasks)"


def test_each_mode_messages_name_the_root_cause(demo):
    if demo.mode != "each":
        pytest.skip("each mode")
    per_action = {demo.label_of(n.record["sessionActionId"]): n for n in demo.messages("sessionAction")}
    assert sorted(per_action) == sorted(DONE + NEVER + ["enter@W04"]) and not demo.messages("digest")
    rows = _rows(demo)
    for label in NEVER:
        n = per_action[label]
        assert {k: v for k, v in n.record["rootCause"].items() if v is not None} == rows[label]["rootCause"], label
        assert sorted(n.record["rootCause"]) == sorted([
            "sessionActionId", "sessionId", "actionType", "status", "environmentId", "stepId", "taskId",
            "processExitCode", "progressMessage", "endedAt"]), "every rootCause member, None when unknown"
        assert n.subject.startswith("Deadline: shot-077_comp_v002: Comp Frame=") and "never attempted" in n.subject
        assert CONDA in n.email and rows["enter@W04"]["sessionActionId"] in n.email, label
    assert per_action["enter@W04"].subject.startswith("Deadline: shot-077_comp_v002: Environment enter ")
    assert "failed (exit 1)" in per_action["enter@W04"].subject
    assert all(per_action[label].attributes["outcome"] == "completion" for label in DONE)


def test_digest_mode_groups_the_failures_with_their_root_cause(demo):
    if demo.mode != "digest":
        pytest.skip("digest mode")
    assert not demo.messages("sessionAction")
    digests = demo.messages("digest")
    rows = _rows(demo)
    windows = {rows[label]["digestWindow"].split("#")[1] for label in NEVER + ["enter@W04"]}
    assert len(digests) == len(windows) and sum(n.record["failures"] for n in digests) == 11
    assert all(rows[label].get("digestWindow") is None for label in DONE), "completions are in no digest"
    statuses = {}
    explained = 0
    for n in digests:
        for status, count in n.record["byStatus"].items():
            statuses[status] = statuses.get(status, 0) + count
        for cause in n.record["rootCauses"]:
            assert cause["sessionActionId"] == rows["enter@W04"]["sessionActionId"]
            assert (cause["actionType"], cause["processExitCode"], cause["progressMessage"]) == ("envEnter", 1, CONDA)
            explained += cause["explains"]
        assert CONDA in n.email
    assert statuses == {"NEVER_ATTEMPTED": 10, "FAILED": 1}
    assert explained == 10, "the failed enter explains the ten NEVER_ATTEMPTED actions"


def test_nothing_reached_a_dead_letter_queue(demo):
    assert demo.dead_letter_queues and all(messages == [] for messages in demo.dead_letter_queues.values())
