"""The throttling scenario (local/scenarios/throttled-deadline.json): the Deadline Cloud stand-in throttles a
quarter of all calls and, once, every attempt of one GetTask and one BatchGetTask; nothing may be lost. Run
with the event queue (the failed records are redelivered by SQS) and with direct delivery (Lambda's
asynchronous retry)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SCENARIOS

pytestmark = pytest.mark.slow

#: the demo runs this module asserts on (run in parallel by conftest.py)
RUNS = [(SCENARIOS / "throttled-deadline.json", "each"), (SCENARIOS / "throttled-deadline.json", "direct")]

FRAMES = {f"frame-{n}": ("FAILED" if n == 5 else "SUCCEEDED") for n in range(1, 9)}


@pytest.fixture(scope="module", params=["each", "direct"], ids=["queue", "direct"])
def demo(run_scenario, request):
    return run_scenario(SCENARIOS / "throttled-deadline.json", request.param)


def test_the_demo_verdict_is_pass(demo):
    failed = [f"{c.name}: {c.detail}" for c in demo.checks if not c.ok]
    assert not failed, "\n".join(failed)


def test_throttling_was_injected_and_absorbed(demo):
    assert demo.throttled >= 8, "the stand-in answered ThrottlingException"
    if demo.delivery == "queue":
        failed = [b for b in demo.batches if b.failed]
        assert failed, "a batch ran out of botocore's attempts and reported its records in batchItemFailures"
        assert all(b.invocation.ok for b in demo.batches), "per-record failures, not a function error"
        redelivered = [d for d, _ in demo.play.deliveries if d.queued and len(d.queued[0].attempts) > 1]
        assert redelivered and all(d.processed for d in redelivered)
        for delivery in redelivered:
            counts = [b.receive_counts[b.message_ids.index(delivery.queued[0].message_id)]
                      for b, _ in delivery.queued[0].attempts]
            assert counts == list(range(1, len(counts) + 1)), "ApproximateReceiveCount grows with each delivery"
        return
    invocations = [i for d, _ in demo.play.deliveries for i in d.invocations]
    raised = [i for i in invocations if not i.ok]
    assert raised and {i.error_type for i in raised} == {"DeadlineThrottled"}
    retried = [d for d, _ in demo.play.deliveries if len(d.invocations) > 1]
    assert retried, "an invocation ran out of botocore's attempts and Lambda retried the event"
    for delivery in retried:
        assert delivery.invocations[-1].ok
        assert [i.attempt for i in delivery.invocations] == list(range(1, len(delivery.invocations) + 1))


def test_nothing_is_lost(demo):
    rows = {demo.label_of(r["sessionActionId"]): r for r in demo.rows}
    assert {k: r["status"] for k, r in rows.items()} == FRAMES
    assert all(r["notifiedStatus"] == r["status"] for r in rows.values())
    per_action = demo.messages("sessionAction")
    messages = [demo.label_of(n.record["sessionActionId"]) for n in per_action]
    assert sorted(messages) == sorted(FRAMES), "exactly one message per frame"
    assert {demo.label_of(n.record["sessionActionId"]): n.record["status"] for n in per_action} == FRAMES
    [job] = demo.messages("jobRun")
    assert {k: v for k, v in job.record["taskRunStatusCounts"].items() if v} == {"SUCCEEDED": 7, "FAILED": 1}
    assert demo.dead_letters == [] and all(not m for m in demo.dead_letter_queues.values())
    assert all(d.outcome.startswith("ok") for d, _ in demo.play.deliveries if d.matched)
    [run] = demo.state_machine_runs
    assert run.status == "FAILED" and run.error == "SessionActionFailed" and "exit code 3" in run.cause
