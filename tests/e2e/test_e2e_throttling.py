"""The throttling scenario (local/scenarios/throttled-deadline.json): the Deadline Cloud stand-in throttles a
quarter of all calls and, once, every attempt of one GetTask; nothing may be lost."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SCENARIOS

pytestmark = pytest.mark.slow

FRAMES = {f"frame-{n}": ("FAILED" if n == 5 else "SUCCEEDED") for n in range(1, 9)}


@pytest.fixture(scope="module")
def demo(run_scenario):
    return run_scenario(SCENARIOS / "throttled-deadline.json")


def test_the_demo_verdict_is_pass(demo):
    failed = [f"{c.name}: {c.detail}" for c in demo.checks if not c.ok]
    assert not failed, "\n".join(failed)


def test_throttling_was_injected_and_absorbed(demo):
    assert demo.throttled >= 8, "the stand-in answered ThrottlingException"
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
    messages = [demo.label_of(n.record["sessionActionId"]) for n in demo.notifications]
    assert sorted(messages) == sorted(FRAMES), "exactly one message per frame"
    assert {demo.label_of(n.record["sessionActionId"]): n.record["status"] for n in demo.notifications} == FRAMES
    assert demo.dead_letters == []
    assert all(d.outcome.startswith("ok") for d, _ in demo.play.deliveries if d.matched)
    [run] = demo.state_machine_runs
    assert run.status == "FAILED" and run.error == "SessionActionFailed" and "exit code 3" in run.cause
