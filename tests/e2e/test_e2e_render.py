"""The demo's scenario (local/scenarios/render-12-frames.json), end to end, with assertions on every
notification and every row.

The synthesised stack is deployed into moto; the real handler processes each event the deployed rule
matches; ``WaitForSessionAction`` runs in moto's interpreter. The expectations below are written out here,
independently of the scenario file's own ``expect`` block (which the demo checks as well).
"""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.e2e.conftest import SCENARIOS

pytestmark = pytest.mark.slow

#: label -> (status, outcome, exit code) of every session action that must end up in the table and be
#: announced exactly once.
EXPECTED = {
    "frame-1": ("SUCCEEDED", "completion", 0),
    "frame-2": ("SUCCEEDED", "completion", 0),
    "frame-3": ("SUCCEEDED", "completion", 0),
    "frame-4": ("SUCCEEDED", "completion", 0),
    "frame-5": ("SUCCEEDED", "completion", 0),
    "frame-6": ("SUCCEEDED", "completion", 0),
    "frame-7": ("FAILED", "failure", 139),  # segfault; its event arrives late (after the retry started)
    "frame-7#2": ("FAILED", "failure", 139),  # the retry segfaults too; its event is delivered twice
    "frame-8": ("CANCELED", "failure", None),
    "frame-9#2": ("SUCCEEDED", "completion", 0),  # after the reclaimed first run
    "frame-10": ("NEVER_ATTEMPTED", "failure", None),  # behind the failed environment enter
    "frame-11": ("NEVER_ATTEMPTED", "failure", None),
    "frame-12": ("SUCCEEDED", "completion", 0),
}
SUBJECT_START = {
    "SUCCEEDED": "Deadline: Task run completed: ",
    "FAILED": "Deadline: Task run failed (exit 139): ",
    "CANCELED": "Deadline: Task run canceled: ",
    "NEVER_ATTEMPTED": "Deadline: Task run never attempted: ",
}


@pytest.fixture(scope="module")
def demo(run_scenario):
    return run_scenario(SCENARIOS / "render-12-frames.json")


def _frame(label: str) -> int:
    return int(label.split("-")[1].split("#")[0])


def _by_label(demo, items, key=lambda x: x):
    out = {}
    for item in items:
        label = demo.label_of(key(item).get("sessionActionId"))
        assert label is not None, f"an item for an action the scenario did not make: {key(item)}"
        assert label not in out, f"two items for {label}"
        out[label] = item
    return out


def test_the_demo_verdict_is_pass(demo):
    failed = [f"{c.name}: {c.detail}" for c in demo.checks if not c.ok]
    assert not failed, "\n".join(failed)
    assert demo.passed


def test_every_notification(demo):
    notifications = _by_label(demo, demo.notifications, key=lambda n: n.record)  # one per action, none twice
    assert sorted(notifications) == sorted(EXPECTED)
    assert len(demo.notifications) == 13
    task_of_frame = {}
    for label, (status, outcome, exit_code) in EXPECTED.items():
        n = notifications[label]
        record = n.record
        assert record["status"] == status, label
        assert record["outcome"] == outcome, label
        assert record["terminal"] is True, label
        assert record["actionType"] == "taskRun", label
        assert record["processExitCode"] == exit_code, label
        assert record["jobId"] == demo.ids["jobId"] and record["queueId"] == demo.ids["queueId"], label
        assert record["parameters"] == {"Frame": _frame(label), "Scene": "/mnt/projects/shot-042/lighting_v003.blend"}
        assert record["parameterTypes"] == {"Frame": "int", "Scene": "path"}
        assert record["taskId"].endswith(f"-{_frame(label) - 1}"), label
        task_of_frame.setdefault(_frame(label), record["taskId"])
        assert record["taskId"] == task_of_frame[_frame(label)], f"{label}: retries keep the task"
        assert n.subject.startswith(SUBJECT_START[status]), (label, n.subject)
        assert len(n.subject) < 100
        assert n.attributes == {
            "status": status, "outcome": outcome, "actionType": "taskRun",
            "farmId": demo.ids["farmId"], "queueId": demo.ids["queueId"], "jobId": demo.ids["jobId"],
        }, label
        assert n.email, f"{label}: the published message has an e-mail member"
        assert n.email.startswith(n.subject), label
        assert f"Status:         {status} ({outcome})" in n.email, label
        assert f"Parameters:     Frame={_frame(label)}, Scene=" in n.email, label
        assert f"Log stream:     {record['sessionId']}" in n.email, label
    segfault = notifications["frame-7"]
    assert "Exit code:      139" in segfault.email
    assert "Segmentation fault (core dumped) in Cycles BVH build" in segfault.email
    assert segfault.record["progressPercent"] == 61.5
    assert notifications["frame-7"].record["sessionActionId"] != notifications["frame-7#2"].record["sessionActionId"]
    assert notifications["frame-7"].record["sessionId"] != notifications["frame-7#2"].record["sessionId"]


def test_every_row(demo):
    rows = _by_label(demo, demo.rows)
    assert sorted(rows) == sorted(EXPECTED)
    assert len(demo.rows) == 13
    for label, (status, outcome, exit_code) in EXPECTED.items():
        row = rows[label]
        assert row["status"] == status, label
        assert row["outcome"] == outcome, label
        assert row["terminal"] is True, label
        assert row.get("processExitCode") == exit_code, label
        assert row["notifiedStatus"] == status, f"{label}: published and remembered"
        assert "notifyingStatus" not in row and "notifyLeaseUntil" not in row, f"{label}: lease released"
        assert row["queueOutcome"] == f"{demo.ids['queueId']}#{outcome}", label
        assert row["jobId"] == demo.ids["jobId"], label
        assert row["occurredAt"] == (row.get("endedAt") or row.get("workerUpdatedAt") or row.get("startedAt")
                                     or row["recordedAt"]), label
        assert 89 * 86400 < row["expiresAt"] - _epoch(row["recordedAt"]) <= 90 * 86400, f"{label}: 90-day TTL"
        if status == "NEVER_ATTEMPTED":
            assert "startedAt" not in row and "endedAt" not in row, label
        else:
            assert row["durationSeconds"] > 0, label
    assert rows["frame-7"]["progressMessage"].startswith("Segmentation fault")
    assert rows["frame-10"]["sessionId"] == rows["frame-11"]["sessionId"], "one session, one failed enter"


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_what_is_not_recorded(demo):
    """The reclaimed first run of frame 9 sent its task back to READY (not a status the deployed rule
    watches); environment actions have no task event. Neither is in the table nor announced."""
    recorded = {demo.label_of(r["sessionActionId"]) for r in demo.rows}
    assert "frame-9" not in recorded
    assert not {label for label in recorded if label.startswith(("enter@", "exit@"))}
    reclaimed = [e for d, e in demo.play.deliveries if e.label == "frame-9" and e.run_status == "READY"]
    assert len(reclaimed) == 1
    [(delivery, _)] = [(d, e) for d, e in demo.play.deliveries if e is reclaimed[0]]
    assert not delivery.matched and not delivery.invocations


def test_the_duplicate_delivery_publishes_nothing_more(demo):
    [(delivery, emitted)] = demo.play.duplicates
    assert emitted.label == "frame-7#2" and emitted.run_status == "FAILED"
    first = [d for d, e in demo.play.deliveries if e is emitted and d is not delivery]
    assert len(first) == 1 and first[0].event["id"] == delivery.event["id"], "the same event, delivered twice"
    [invocation] = delivery.invocations
    assert invocation.ok and invocation.result["status"] == "FAILED"
    said = [json.loads(line).get("message") for line in invocation.log_lines if line.startswith('{"level"')]
    assert "status already published; duplicate delivery ignored" in said
    assert sum(1 for n in demo.notifications if demo.label_of(n.record["sessionActionId"]) == "frame-7#2") == 1


def test_the_out_of_order_pair_does_not_regress(demo):
    """Frame 7's FAILED event (first run) reaches the function after the retry's RUNNING event."""
    [(late, emitted)] = demo.play.late
    assert emitted.label == "frame-7" and emitted.run_status == "FAILED"
    order = [e for _, e in demo.play.deliveries]
    retry_running = [e for e in order if e.label == "frame-7#2" and e.run_status == "RUNNING"]
    assert retry_running and order.index(retry_running[0]) < order.index(emitted), "delivered out of order"
    [invocation] = late.invocations
    assert invocation.ok
    assert demo.label_of(invocation.result["sessionActionId"]) == "frame-7", "the run the event is about, not the retry"
    assert invocation.result["status"] == "FAILED" and invocation.result["processExitCode"] == 139
    rows = _by_label(demo, demo.rows)
    assert rows["frame-7"]["status"] == "FAILED" and rows["frame-7#2"]["status"] == "FAILED"
    assert all(r["terminal"] for r in demo.rows), "nothing recorded in progress"


def test_only_events_matching_the_deployed_rule_reach_the_function(demo):
    template_rule = next(r for r in demo.deployed.template["Resources"].values() if r["Type"] == "AWS::Events::Rule")
    [rule] = demo.rules
    assert json.loads(rule["pattern"]) == template_rule["Properties"]["EventPattern"], "read back from moto"
    watched = set(template_rule["Properties"]["EventPattern"]["detail"]["runStatus"])
    for delivery, emitted in demo.play.deliveries:
        should = emitted.detail_type == "Task Run Status Change" and emitted.run_status in watched
        assert delivery.matched == should, emitted.describe()
        assert bool(delivery.invocations) == should
    assert sum(1 for d, _ in demo.play.deliveries if d.matched) == 14
    assert {e.detail_type for d, e in demo.play.deliveries if not d.matched} == {
        "Task Run Status Change", "Step Run Status Change", "Job Run Status Change"}


def test_wait_for_session_action_runs_for_a_succeeded_and_a_failed_action(demo):
    succeeded, failed = demo.state_machine_runs
    assert succeeded.label == "frame-1" and succeeded.status == "SUCCEEDED"
    assert succeeded.output["status"] == "SUCCEEDED" and succeeded.output["outcome"] == "completion"
    assert succeeded.states == ["ReadSessionAction", "CheckOutcome", "SessionActionSucceeded"]
    assert failed.label == "frame-7" and failed.status == "FAILED"
    assert failed.error == "SessionActionFailed"
    assert "ended FAILED (taskRun action;" in failed.cause and "exit code 139" in failed.cause
    assert failed.states == ["ReadSessionAction", "CheckOutcome", "SessionActionFailed"]
    for run in (succeeded, failed):
        assert run.lambda_calls == 1 and run.payload_matches and run.answer_matches and not run.problem
        assert sorted(run.payload) == ["farmId", "jobId", "queueId", "sessionActionId"]
    # the state machine's reads found both actions already published: no new message
    assert len(demo.notifications) == 13


def test_the_deployed_stack_is_the_synthesised_one(demo):
    deployed = demo.deployed
    assert deployed.status == "CREATE_COMPLETE"
    deployed_types = {r["type"] for r in deployed.resources.values()}
    for core in ("AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::SQS::Queue", "AWS::IAM::Role",
                 "AWS::Lambda::Function", "AWS::Events::Rule", "AWS::Lambda::Permission",
                 "AWS::StepFunctions::StateMachine", "AWS::Logs::LogGroup"):
        assert core in deployed_types, core
    changed = {(a.kind, a.resource_type) for a in deployed.adaptations}
    assert ("converted", "AWS::DynamoDB::GlobalTable") in changed
    dropped = {t for kind, t in changed if kind == "dropped"}
    assert dropped <= {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SNS::TopicPolicy",
                       "AWS::SQS::QueuePolicy", "AWS::Lambda::EventInvokeConfig"}
    kept = set(deployed.template["Resources"]) - {a.logical_id for a in deployed.adaptations if a.kind == "dropped"}
    assert kept == set(deployed.resources), "everything not dropped was created by CloudFormation"
    assert demo.code_check["ok"], demo.code_check["detail"]
    assert demo.async_config.maximum_retry_attempts == 2 and demo.async_config.on_failure_arn.endswith(
        deployed.outputs["DeadLetterQueueUrl"].rsplit("/", 1)[-1])
    env = demo.function["environment"]
    assert env["TABLE_NAME"] == deployed.outputs["TableName"] and env["TOPIC_ARN"] == deployed.outputs["TopicArn"]
    assert demo.function["local"]["AWS_ENDPOINT_URL"] == demo.moto["endpoint"]
    assert demo.function["local"]["AWS_ENDPOINT_URL_DEADLINE"] == demo.standin_endpoint


def test_the_printed_report(demo):
    import io

    from local.demo.report import print_summary

    out = io.StringIO()
    print_summary(demo, out)
    text = out.getvalue()
    for heading in ("[6/7] Notifications  13 messages", "E-mail text of the failures", "[7/7] History table",
                    "not in the table, by design:", "Checks"):
        assert heading in text
    assert text.count("--- frame-") == 5, "an e-mail for each of the 5 failures"
    last = text.strip().splitlines()[-1]
    assert last.startswith("VERDICT: PASS - 13 notifications for 13 ended actions from 14 deliveries "
                           "(1 duplicate, 1 late), 13 history rows, WaitForSessionAction 2/2 as expected"), last


def test_both_servers_are_stopped_afterwards(demo):
    with pytest.raises(ProcessLookupError):
        os.kill(demo.moto["pid"], 0)
    for endpoint in (demo.moto["endpoint"], demo.standin_endpoint):
        host, port = endpoint.rsplit("/", 1)[-1].split(":")
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex((host, int(port))) != 0, f"{endpoint} still answers"
