"""The demo's scenario (local/scenarios/render-12-frames.json), end to end in ``each`` mode, with assertions on
every notification and every row, twice: with the stack's default delivery (rule -> event queue -> Lambda's
SQS event source -> the function, in batches) and with ``eventDelivery=direct`` (rule -> the function).

The synthesised stack is deployed into moto; the real handler processes each event the deployed rules
match; ``WaitForSessionAction`` runs in moto's interpreter. The expectations below are written out here,
independently of the scenario file's own ``expect`` block (which the demo checks as well).
"""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.e2e.conftest import SCENARIOS

pytestmark = pytest.mark.slow

#: the demo runs this module asserts on (run in parallel by conftest.py)
RUNS = [(SCENARIOS / "render-12-frames.json", "each"), (SCENARIOS / "render-12-frames.json", "direct")]

#: label -> (status, outcome, exit code) of every task run that must end up in the table and be announced
#: exactly once (plus enter@D, the failed environment enter, recorded as the root cause of frames 10 and 11).
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
    "frame-9": ("RECLAIMED", "failure", None),  # spot worker reclaimed: the task went back to READY (requeue rule)
    "frame-9#2": ("SUCCEEDED", "completion", 0),  # after the reclaimed first run
    "frame-10": ("NEVER_ATTEMPTED", "failure", None),  # behind the failed environment enter
    "frame-11": ("NEVER_ATTEMPTED", "failure", None),
    "frame-12": ("SUCCEEDED", "completion", 0),
}
ENTER_D = ("FAILED", "failure", 1)
CONDA = "conda: PackagesNotFoundError: blender-addons=4.2.1"
#: Subjects start with the job's name, then the step's name, the frame, what happened, the exit code.
SUBJECT_START = {
    "SUCCEEDED": "Deadline: shot-042_lighting_v003: Render Frame={frame} completed",
    "FAILED": "Deadline: shot-042_lighting_v003: Render Frame={frame} failed (exit 139) on worker-",
    "CANCELED": "Deadline: shot-042_lighting_v003: Render Frame={frame} canceled on worker-",
    "NEVER_ATTEMPTED": "Deadline: shot-042_lighting_v003: Render Frame={frame} never attempted on worker-",
    "RECLAIMED": "Deadline: shot-042_lighting_v003: Render Frame={frame} reclaimed on worker-",
}


@pytest.fixture(scope="module", params=["each", "direct"], ids=["queue", "direct"])
def demo(run_scenario, request):
    return run_scenario(SCENARIOS / "render-12-frames.json", request.param)


def _per_action(demo):
    return demo.messages("sessionAction")


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
    notifications = _by_label(demo, _per_action(demo), key=lambda n: n.record)  # one per action, none twice
    assert sorted(notifications) == sorted(list(EXPECTED) + ["enter@D"])
    assert len(EXPECTED) == 14
    assert len(demo.notifications) == 16, "14 task runs, the failed environment enter, the job"
    assert demo.mode == "each"
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
        assert n.subject.startswith(SUBJECT_START[status].format(frame=_frame(label))), (label, n.subject)
        assert len(n.subject) < 100
        assert n.attributes == {
            "kind": "sessionAction", "status": status, "outcome": outcome, "actionType": "taskRun",
            "farmId": demo.ids["farmId"], "queueId": demo.ids["queueId"], "jobId": demo.ids["jobId"],
        }, label
        assert record["jobName"] == "shot-042_lighting_v003" and record["jobPriority"] == 70, label
        assert record["logGroup"] == f"/aws/deadline/{demo.ids['farmId']}/{demo.ids['queueId']}", label
        assert record["logStream"] == record["sessionId"] and record["logsUrl"].startswith(
            "https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#logsV2:log-groups/"), label
        assert record["workerId"] or any("workerId" in m for m in record["enrichmentMissing"] or []), label
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
    for label in ("frame-10", "frame-11"):
        cause = notifications[label].record["rootCause"]
        assert cause["sessionActionId"] == notifications["enter@D"].record["sessionActionId"], label
        assert (cause["actionType"], cause["status"], cause["processExitCode"], cause["progressMessage"]) == (
            "envEnter", "FAILED", 1, CONDA), label
        assert CONDA in notifications[label].email, f"{label}: the e-mail tells the root cause"
    enter = notifications["enter@D"]
    assert enter.record["actionType"] == "envEnter" and enter.record["status"] == "FAILED"
    assert enter.subject.startswith("Deadline: shot-042_lighting_v003: Environment enter Blender-4.2 failed (exit 1)")
    assert enter.record["environmentId"] == f"JOB:{demo.ids['jobId']}:Blender-4.2"
    assert all(n.record.get("rootCause") is None for label, n in notifications.items()
               if label not in ("frame-10", "frame-11")), "only NEVER_ATTEMPTED actions have a root cause here"


def test_every_failure_shows_its_worker_step_name_and_log_lines(demo):
    """Issue 14: each failure, on every worker, names its worker and fleet and its step by name, and carries
    the last lines its session logged up to the moment it ended (from moto's CloudWatch Logs, where the farm
    wrote them), oldest first; the e-mail shows them, the chat message a short tail."""
    notifications = _by_label(demo, _per_action(demo), key=lambda n: n.record)
    failures = {label: n for label, n in notifications.items() if n.record["outcome"] == "failure"}
    assert sorted(failures) == ["enter@D", "frame-10", "frame-11", "frame-7", "frame-7#2", "frame-8", "frame-9"]
    assert len({n.record["workerId"] for n in failures.values()}) == 4  # workers B, A, C and D
    for label, n in failures.items():
        record = n.record
        assert record["workerId"] and record["fleetId"], label
        assert record["enrichmentMissing"] is None, (label, record["enrichmentMissing"])
        if label != "enter@D":
            assert record["stepName"] == "Render" and record["stepId"], label
            assert "Render (step-" in n.email and "Render Frame=" in n.subject, label
        excerpt = record["logExcerpt"]
        assert excerpt and len(excerpt) <= 30, label
        assert excerpt[-1] in n.email and "The end of the session's log, up to the action's end" in n.email, label
    for label in ("frame-7", "frame-7#2"):
        assert failures[label].record["logExcerpt"][-3:] == [
            "Error: Segmentation fault (core dumped) in Cycles BVH build, tile 8/13",
            "openjd: Process exited with code 139", "openjd: Task run FAILED"], label
    assert failures["frame-8"].record["logExcerpt"][-1] == "openjd: Task run canceled"
    assert failures["frame-9"].record["logExcerpt"][-1].startswith("openjd: Task run reclaimed")
    for label in ("enter@D", "frame-10", "frame-11"):  # the session's log up to its failed environment enter
        assert CONDA in failures[label].record["logExcerpt"], label
    chats = [c for c in demo.channels.get("chat", []) if c.attributes.get("outcome") == "failure"
             and c.attributes.get("kind") == "sessionAction"]
    assert len(chats) == len(failures)
    assert all("*Log* (last" in c.body["content"]["description"] for c in chats)


def test_one_job_level_message(demo):
    [job] = demo.messages("jobRun")
    assert job.attributes == {"kind": "jobRun", "status": "FAILED", "outcome": "failure", "farmId": demo.ids["farmId"],
                              "queueId": demo.ids["queueId"], "jobId": demo.ids["jobId"]}
    counts = {k: v for k, v in job.record["taskRunStatusCounts"].items() if v}
    assert counts == {"SUCCEEDED": 8, "FAILED": 3, "CANCELED": 1}
    assert job.subject == "Deadline: shot-042_lighting_v003: job failed (3 failed, 1 canceled, 8 succeeded of 12 tasks)"
    assert not demo.messages("digest")


def test_every_row(demo):
    rows = _by_label(demo, demo.rows)
    assert sorted(rows) == sorted(list(EXPECTED) + ["enter@D"])
    assert len(demo.rows) == 15
    for label, (status, outcome, exit_code) in dict(EXPECTED, **{"enter@D": ENTER_D}).items():
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
        elif status == "RECLAIMED":
            assert row["durationSeconds"] > 0 and row.get("processExitCode") is None, label
        else:
            assert row["durationSeconds"] > 0, label
    assert rows["frame-7"]["progressMessage"].startswith("Segmentation fault")
    assert rows["frame-10"]["sessionId"] == rows["frame-11"]["sessionId"] == rows["enter@D"]["sessionId"], \
        "one session, one failed enter"
    for label in ("frame-10", "frame-11"):
        assert rows[label]["rootCause"]["sessionActionId"] == rows["enter@D"]["sessionActionId"], label
        assert rows[label]["rootCause"]["progressMessage"] == CONDA, label
    assert rows["enter@D"]["progressMessage"] == CONDA and rows["enter@D"]["actionType"] == "envEnter"


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_what_is_not_recorded(demo):
    """Environment actions have no task event: only the failed enter is found (as a root cause). The
    reclaimed first run of frame 9 is recorded: its task went back to READY, which the requeue rule watches."""
    recorded = {demo.label_of(r["sessionActionId"]) for r in demo.rows}
    assert {label for label in recorded if label.startswith(("enter@", "exit@"))} == {"enter@D"}
    [(delivery, _)] = [(d, e) for d, e in demo.play.deliveries if e.label == "frame-9" and e.run_status == "READY"]
    assert delivery.matched and delivery.processed
    assert "frame-9" in recorded


def test_the_duplicate_delivery_publishes_nothing_more(demo):
    [(delivery, emitted)] = demo.play.duplicates
    assert emitted.label == "frame-7#2" and emitted.run_status == "FAILED"
    first = [d for d, e in demo.play.deliveries if e is emitted and d is not delivery]
    assert len(first) == 1 and first[0].event["id"] == delivery.event["id"], "the same event, delivered twice"
    [invocation] = delivery.attempts
    assert invocation.ok and delivery.processed
    if not delivery.queued:  # direct: the handler answers with the record
        assert invocation.result["status"] == "FAILED"
    said = [json.loads(line).get("message") for line in invocation.log_lines if line.startswith('{"level"')]
    assert "status already published; duplicate delivery ignored" in said
    assert sum(1 for n in _per_action(demo) if demo.label_of(n.record["sessionActionId"]) == "frame-7#2") == 1


def test_the_out_of_order_pair_does_not_regress(demo):
    """Frame 7's FAILED event (first run) reaches the function after the retry's RUNNING event."""
    [(late, emitted)] = demo.play.late
    assert emitted.label == "frame-7" and emitted.run_status == "FAILED"
    order = [e for _, e in demo.play.deliveries]
    retry_running = [e for e in order if e.label == "frame-7#2" and e.run_status == "RUNNING"]
    assert retry_running and order.index(retry_running[0]) < order.index(emitted), "delivered out of order"
    [invocation] = late.attempts
    assert invocation.ok and late.processed
    if not late.queued:
        assert demo.label_of(invocation.result["sessionActionId"]) == "frame-7", "the run the event is about"
        assert invocation.result["status"] == "FAILED" and invocation.result["processExitCode"] == 139
    rows = _by_label(demo, demo.rows)
    assert rows["frame-7"]["status"] == "FAILED" and rows["frame-7#2"]["status"] == "FAILED"
    assert all(r["terminal"] for r in demo.rows), "nothing recorded in progress"


def _pattern_matches(pattern, event) -> bool:
    """The flat patterns of this stack: source, detail-type and detail fields, each a list of values."""
    if event["source"] not in pattern["source"] or event["detail-type"] not in pattern["detail-type"]:
        return False
    return all(event["detail"].get(key) in values for key, values in pattern.get("detail", {}).items())


def test_only_events_matching_the_deployed_rules_reach_the_function(demo):
    all_rules = [r for r in demo.deployed.template["Resources"].values() if r["Type"] == "AWS::Events::Rule"
                 and "EventPattern" in r["Properties"]]  # not WaitForJob's sweep, a scheduled rule: no events
    # The rule of the events channel (the function's own notification events -> the demo's events queue) does
    # not reach the function; every other rule does.
    notification_rules = [r for r in all_rules if r["Properties"]["EventPattern"] == {"source": ["session-watch"]}]
    assert len(notification_rules) == 1 and demo.events_rule
    template_rules = [r for r in all_rules if r not in notification_rules]
    patterns = [r["Properties"]["EventPattern"] for r in template_rules]
    assert sorted(json.dumps(json.loads(r["pattern"]), sort_keys=True) for r in demo.rules) == sorted(
        json.dumps(p, sort_keys=True) for p in patterns), "read back from moto"
    assert {p["detail-type"][0] for p in patterns} == {"Task Run Status Change", "Job Run Status Change",
                                                       "Job Lifecycle Status Change"}
    for delivery, emitted in demo.play.deliveries:
        should = any(_pattern_matches(p, emitted.event) for p in patterns)
        assert delivery.matched == should, emitted.describe()
        assert bool(delivery.attempts) == should
        if should and demo.delivery == "queue":
            [message] = delivery.queued
            assert json.loads(message.body) == emitted.event, "the event is the message body"
            assert not delivery.invocations, "reached the function through the queue only"
    assert sum(1 for d, _ in demo.play.deliveries if d.matched) == 16
    assert {e.detail_type for d, e in demo.play.deliveries if not d.matched} == {
        "Task Run Status Change", "Step Run Status Change", "Job Run Status Change"}


def test_the_queue_path_runs_in_batches(demo):
    if demo.delivery == "direct":
        assert not demo.batches and all(not d.queued for d, _ in demo.play.deliveries)
        targets = {t.rsplit(":", 1)[-1] for r in demo.rules for t in r["targets"]}
        assert targets == {demo.function["name"]}, "the rules invoke the function"
        return
    targets = {t.rsplit(":", 1)[-1] for r in demo.rules for t in r["targets"]}
    [(queue, stats)] = [(q, s) for q, s in demo.event_sources.items() if s["batches"]]
    assert targets == {queue}, "both rules target the event queue"
    assert stats["records"] == 16 and stats["recordsFailed"] == 0 and stats["functionErrors"] == 0
    assert stats["peakConcurrency"] <= (stats["maximumConcurrency"] or 1)
    for batch in demo.batches:
        records = batch.event["Records"]
        assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"].endswith(":" + queue) for r in records)
        assert batch.invocation.ok and batch.invocation.result == {"batchItemFailures": []}


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
    assert len(demo.notifications) == 16


def test_the_deployed_stack_is_the_synthesised_one(demo):
    deployed = demo.deployed
    assert deployed.status == "CREATE_COMPLETE"
    deployed_types = {r["type"] for r in deployed.resources.values()}
    for core in ("AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::SQS::Queue", "AWS::IAM::Role",
                 "AWS::Lambda::Function", "AWS::Events::Rule", "AWS::Lambda::EventSourceMapping",
                 "AWS::StepFunctions::StateMachine", "AWS::Logs::LogGroup"):
        assert core in deployed_types, core
    # the rules of events invoke the function only with direct delivery (with the event queue, SQS's mapping
    # does); WaitForJob's sweep, a scheduled rule, invokes it either way
    permissions = [r for r in deployed.template["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"]
    assert len(permissions) == (4 + 1 if demo.delivery == "direct" else 1)
    changed = {(a.kind, a.resource_type) for a in deployed.adaptations}
    assert ("converted", "AWS::DynamoDB::GlobalTable") in changed
    dropped = {t for kind, t in changed if kind == "dropped"}
    assert dropped <= {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SNS::TopicPolicy",
                       "AWS::SQS::QueuePolicy", "AWS::Lambda::EventInvokeConfig"}
    mappings = set(deployed.logical_ids("AWS::Lambda::EventSourceMapping"))
    assert {a.logical_id for a in deployed.adaptations if a.kind == "emulated"} == mappings
    assert len(mappings) == (2 if demo.delivery == "queue" else 1), "event queue (queue delivery) and digest queue"
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
    for heading in ("[6/7] Notifications  16 messages", "E-mail text of the failures", "[7/7] History table",
                    "not in the table, by design:", "Checks"):
        assert heading in text
    assert text.count("--- frame-") == 6, "an e-mail for each of the 6 failed task runs"
    assert text.count("--- enter@D ---") == 1 and text.count("--- job ---") == 1
    last = text.strip().splitlines()[-1]
    via = "the event queue" if demo.delivery == "queue" else "direct invocation"
    assert last.startswith("VERDICT: PASS - each mode: 15 notifications for 15 ended actions and 1 job-level message "
                           f"from 16 deliveries via {via} (1 duplicate, 1 late), 15 history rows, "
                           "WaitForSessionAction 2/2 as expected"), last


def test_both_servers_are_stopped_afterwards(demo):
    with pytest.raises(ProcessLookupError):
        os.kill(demo.moto["pid"], 0)
    for endpoint in (demo.moto["endpoint"], demo.standin_endpoint):
        host, port = endpoint.rsplit("/", 1)[-1].split(":")
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex((host, int(port))) != 0, f"{endpoint} still answers"
