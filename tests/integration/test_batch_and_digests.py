"""Issue 6 through the real handler: enrichment, root cause, the SQS batch path, digests and job-level
messages, against moto and the Deadline Cloud stand-in. Messages are read from a queue subscribed to the
topic, rows with get_item/scan, calls from the stand-in's counters."""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List

import pytest

from session_watch.domain.record import RECORD_FIELDS

ENV_MESSAGE = "conda: PackagesNotFoundError: blender-addons=4.2.1"


# --- helpers -------------------------------------------------------------------------------------


def sqs_event(bodies: List[Any], queue: str = "session-watch-events") -> Dict[str, Any]:
    """The event Lambda's SQS event source passes to the function."""
    records = []
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        records.append({
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "rh-" + uuid.uuid4().hex,
            "body": text,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764400000000",
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1764400000001"},
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:us-west-2:123456789012:{queue}",
            "awsRegion": "us-west-2",
        })
    return {"Records": records}


def failing_job(farm, frames: int, *, exit_code: int = 1, sessions: int = 1, name: str = "bad-scene"):
    """A job whose every task fails (exit ``exit_code``), spread over ``sessions`` workers; returns
    (job, the FAILED task events Deadline would send)."""
    render = farm.farm
    job = render.create_job(name, frames=list(range(1, frames + 1)), priority=70)
    opened = [render.start_session(job.job_id) for _ in range(sessions)]
    for i, task_id in enumerate(job.task_ids):
        session = opened[i % sessions]
        action = render.add_task_run(session.session_id, task_id, status="ASSIGNED")
        render.set_session_action_status(action.session_action_id, "RUNNING")
        render.set_session_action_status(action.session_action_id, "FAILED", process_exit_code=exit_code,
                                          progress_message="Error: scene file is corrupt")
    events = [e for e in render.drain_events()
              if e["detail-type"] == "Task Run Status Change" and e["detail"]["runStatus"] == "FAILED"]
    return job, events


def env_enter_fails(farm, frames: int = 2):
    """A session whose environment enter fails; its queued task runs end NEVER_ATTEMPTED."""
    from local.deadline_farm import job_environment_id

    render = farm.farm
    job = render.create_job("env-broken", frames=list(range(1, frames + 1)))
    session = render.start_session(job.job_id)
    env_id = job_environment_id(job.job_id, "Blender-4.2")
    enter = render.add_env_enter(session.session_id, env_id, status="ASSIGNED")
    runs = [render.add_task_run(session.session_id, t, status="ASSIGNED") for t in job.task_ids]
    render.set_session_action_status(enter.session_action_id, "RUNNING")
    render.set_session_action_status(enter.session_action_id, "FAILED", process_exit_code=1,
                                     progress_message=ENV_MESSAGE)
    for run in runs:
        if render.session_action(run.session_action_id).status != "NEVER_ATTEMPTED":
            render.set_session_action_status(run.session_action_id, "NEVER_ATTEMPTED")
    events = [e for e in render.drain_events()
              if e["detail-type"] == "Task Run Status Change" and e["detail"]["runStatus"] == "FAILED"]
    return job, session, enter, runs, events


def by_kind(notifications, kind):
    return [n for n in notifications if n["MessageAttributes"].get("kind", {}).get("Value") == kind]


# --- enrichment and root cause (one event per invocation) -------------------------------------------


def test_record_and_message_carry_job_worker_and_log_links(farm, invoke, local_aws, lambda_env, session_logs):
    lambda_env(MONITOR_URL="https://studio.us-west-2.deadlinecloud.amazonaws.com", AWS_REGION="us-west-2")
    ids = farm.task_action(status="FAILED", exit_code=139, message="Segmentation fault", frame=12)
    job = farm.farm.job(ids.job_id)
    session = farm.farm.session(ids.session_id)

    result = invoke(farm.direct(ids))

    assert list(result) == list(RECORD_FIELDS)
    assert result["jobName"] == job.name and result["jobPriority"] == job.priority
    assert result["workerId"] == session.worker_id
    assert result["stepName"] == job.steps[0].name and result["stepId"] == job.steps[0].step_id
    # The end of the session's log up to the action's end, read from moto's CloudWatch Logs, oldest first.
    assert result["logExcerpt"][-3:] == ["Error: Segmentation fault", "openjd: Process exited with code 139",
                                         "openjd: Task run FAILED"]
    assert result["logExcerpt"][0].startswith("openjd: Running task " + ids.task_id)
    assert result["logGroup"] == f"/aws/deadline/{ids.farm_id}/{ids.queue_id}"
    assert result["logStream"] == ids.session_id
    assert result["logsUrl"].startswith("https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#logsV2:")
    assert ids.job_id in result["monitorUrl"]
    assert result["enrichmentMissing"] is None
    item = local_aws.item(ids.job_id, ids.session_action_id)
    assert item["jobName"] == {"S": job.name} and item["workerId"] == {"S": session.worker_id}
    [message] = local_aws.notifications()
    assert message["MessageAttributes"]["kind"]["Value"] == "sessionAction"
    assert message["record"]["jobName"] == job.name
    assert message["record"]["logExcerpt"] == result["logExcerpt"]  # the machines' JSON keeps the lines
    assert item["logExcerpt"]["L"][-1] == {"S": "openjd: Task run FAILED"}  # the digest reads them from the row
    assert farm.calls()["GetJob"] == 1 and farm.calls()["GetSession"] == 1 and farm.calls()["GetStep"] == 1


def test_job_details_are_cached_for_the_execution_environment(farm, invoke):
    first = farm.task_action(status="FAILED", exit_code=1)
    invoke(farm.direct(first))
    farm.reset_calls()
    second_action = farm.retry_task(first)  # same job, same task, a new session
    farm.set_status(second_action, "FAILED")

    invoke(farm.direct(second_action))

    assert "GetJob" not in farm.calls()  # cached


def test_never_attempted_actions_name_the_failed_environment_enter(farm, invoke, local_aws):
    job, session, enter, runs, events = env_enter_fails(farm, frames=2)
    assert events, "the stand-in fails the tasks of a session whose enter failed"

    result = invoke(events[0])

    assert result["status"] == "NEVER_ATTEMPTED"
    cause = result["rootCause"]
    assert cause["sessionActionId"] == enter.session_action_id
    assert (cause["actionType"], cause["status"], cause["processExitCode"]) == ("envEnter", "FAILED", 1)
    assert cause["progressMessage"] == ENV_MESSAGE and "Blender-4.2" in cause["environmentId"]
    # Read back, the stored root cause has every contract key (DynamoDB keeps no nulls).
    from session_watch.adapters.record_store import RecordStore
    from session_watch.domain.enrichment import ROOT_CAUSE_FIELDS

    stored = RecordStore(local_aws.client("dynamodb"), local_aws.table_name).get(job.job_id, result["sessionActionId"])
    assert stored["rootCause"] == {k: cause[k] for k in ROOT_CAUSE_FIELDS}
    # The environment enter has no event of its own: it is recorded (and notified) as the root cause.
    enter_row = local_aws.item(job.job_id, enter.session_action_id)
    assert enter_row["actionType"] == {"S": "envEnter"} and enter_row["status"] == {"S": "FAILED"}
    messages = local_aws.notifications()
    subjects = sorted(m["Subject"] for m in messages)
    assert len(messages) == 2 and any("Environment enter Blender-4.2 failed" in s for s in subjects)
    never = next(m for m in messages if m["record"]["status"] == "NEVER_ATTEMPTED")
    assert ENV_MESSAGE in json.loads(never["Message"])["rootCause"]["progressMessage"]

    # The session's second NEVER_ATTEMPTED task reuses the cached root cause: no new lookup.
    farm.reset_calls()
    second = invoke(events[1])
    assert second["rootCause"]["sessionActionId"] == enter.session_action_id
    assert "ListSessionActions" not in farm.calls()
    assert len(local_aws.notifications()) == 1  # the enter is not notified twice


def test_enrichment_failure_never_loses_the_notification(farm, invoke, local_aws):
    ids = farm.task_action(status="FAILED", exit_code=2)
    farm.fail_next("GetJob", "AccessDeniedException")
    farm.fail_next("GetSession", "ResourceNotFoundException")

    result = invoke(farm.direct(ids))

    assert result["jobName"] is None and result["workerId"] is None
    missing = result["enrichmentMissing"]
    assert "jobName: this service may not read it (access denied; check the function's role and the farm's KMS " \
           "key) (GetJob AccessDeniedException)" in missing
    assert "workerId: Deadline Cloud no longer has it (deleted, or the job is gone) " \
           "(GetSession ResourceNotFoundException)" in missing
    assert not any("call limit" in m for m in missing)
    assert result["logGroup"] == f"/aws/deadline/{ids.farm_id}/{ids.queue_id}"  # the documented fallback
    [message] = local_aws.notifications()
    assert "jobName" in " ".join(message["record"]["enrichmentMissing"])


def test_every_failure_names_its_worker_with_one_read_per_session(farm, invoke, local_aws, session_logs):
    job, events = failing_job(farm, frames=6, sessions=3)  # three sessions (workers) of one job

    results = [invoke(e) for e in events]

    calls = farm.calls()
    assert calls["GetSession"] == 3 and calls["GetJob"] == 1  # each session once, the job once
    assert all(r["workerId"] and r["fleetId"] for r in results)
    assert len({r["workerId"] for r in results}) == 3
    assert all(r["enrichmentMissing"] is None for r in results)
    assert len(local_aws.notifications()) == 6  # every failure still notified (each mode)


def test_a_batch_reads_every_session_of_every_batch_in_one_call(farm, invoke, local_aws):
    job, events = failing_job(farm, frames=8, sessions=4)
    farm.reset_calls()

    assert invoke(sqs_event(events[:4])) == {"batchItemFailures": []}
    assert invoke(sqs_event(events[4:])) == {"batchItemFailures": []}  # the same window, the same job

    calls = farm.calls()
    assert calls.get("BatchGetSession") == 1 and "GetSession" not in calls  # the second batch: all cached
    records = [json.loads(json.dumps(m["record"])) for m in local_aws.notifications()]
    assert len(records) == 8 and all(r["workerId"] for r in records)


# --- the SQS batch path ---------------------------------------------------------------------------


def test_batch_reads_with_batch_calls_and_publishes_in_batches(farm, invoke, local_aws):
    job, events = failing_job(farm, frames=30, sessions=3, exit_code=3)
    farm.reset_calls()

    response = invoke(sqs_event(events))

    assert response == {"batchItemFailures": []}
    calls = farm.calls()
    assert calls.get("BatchGetTask") == 1 and calls.get("BatchGetSessionAction") == 1
    assert calls.get("BatchGetJob") == 1 and calls.get("BatchGetSession") == 1
    assert "GetSessionAction" not in calls and "GetTask" not in calls
    rows = [r for r in local_aws.items() if r["jobId"]["S"] == job.job_id]
    assert len(rows) == 30 and all(r["notifiedStatus"] == {"S": "FAILED"} for r in rows)
    assert all(r["jobName"] == {"S": "bad-scene"} for r in rows)
    published = local_aws.notifications()
    messages = by_kind(published, "sessionAction")
    assert len(messages) == 30
    assert {m["record"]["processExitCode"] for m in messages} == {3}
    # Each of the 3 workers failed its 10 task runs: each is a suspect worker, told once.
    suspects = by_kind(published, "suspectWorker")
    assert sorted(m["record"]["workerId"] for m in suspects) == sorted(
        {farm.farm.session(r["sessionId"]["S"]).worker_id for r in rows})
    assert all(m["record"]["failures"] == m["record"]["taskRuns"] == 10 for m in suspects)


def test_a_failing_item_is_retried_alone(farm, invoke, local_aws):
    job, events = failing_job(farm, frames=5)
    bad_task = events[2]["detail"]["taskId"]
    farm.standin.faults.fail_resource(bad_task, "InternalServerErrorException")
    batch = sqs_event(events + ["{not json"])

    response = invoke(batch)

    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    ids = [r["messageId"] for r in batch["Records"]]
    assert failed == {ids[2], ids[5]}
    assert len(local_aws.notifications()) == 4
    # SQS redelivers only the failed message; once the fault clears it goes through, once.
    farm.standin.faults.clear()
    retry = {"Records": [batch["Records"][2]]}
    assert invoke(retry) == {"batchItemFailures": []}
    published = local_aws.notifications()
    assert len(by_kind(published, "sessionAction")) == 1
    # ... and it is the worker's fifth failure of five: now it is a suspect worker.
    [suspect] = by_kind(published, "suspectWorker")
    assert (suspect["record"]["failures"], suspect["record"]["taskRuns"]) == (5, 5)
    assert len([r for r in local_aws.items() if r["jobId"]["S"] == job.job_id]) == 5


def test_duplicates_in_a_batch_publish_once(farm, invoke, local_aws):
    job, events = failing_job(farm, frames=4)

    assert invoke(sqs_event(events + events[:2])) == {"batchItemFailures": []}

    assert len(local_aws.notifications()) == 4


# --- digest mode ----------------------------------------------------------------------------------


def test_digest_mode_sends_one_message_for_a_jobs_failures(farm, invoke, local_aws, lambda_env):
    lambda_env(NOTIFY_MODE="digest", DIGEST_WINDOW_SECONDS="60")
    job, events = failing_job(farm, frames=120, sessions=4, exit_code=1)

    first = invoke(sqs_event(events[:100]))
    second = invoke(sqs_event(events[100:] + events[:10]))  # 10 duplicates

    assert first == second == {"batchItemFailures": []}
    # Nothing of the failures yet: the window is still open. Each of the 4 workers failed all its task
    # runs: each is a suspect worker, told once, as the first batch counted it (25 of 25); the second
    # batch adds its last 5 and the duplicates count nothing.
    suspects = local_aws.notifications()
    assert sorted(m["MessageAttributes"]["kind"]["Value"] for m in suspects) == ["suspectWorker"] * 4
    assert all(m["record"]["failures"] == m["record"]["taskRuns"] == 25 for m in suspects)
    runs: Dict[str, List[int]] = {}
    for item in local_aws.ledger_items():  # a worker's counters (two when its runs straddle a window)
        if item["jobId"]["S"].startswith("worker#"):
            runs.setdefault(item["jobId"]["S"], []).append(int(item["runs"]["N"]))
            assert item["runs"] == item["failures"]
    assert len(runs) == 4 and all(sum(n) == 30 for n in runs.values())
    rows = [r for r in local_aws.items() if r["jobId"]["S"] == job.job_id]
    assert len(rows) == 120 and all("digestWindow" in r for r in rows)
    # Windows are fixed buckets of wall-clock time: a run that straddles a boundary has two.
    windows = windows_of(local_aws)
    assert 1 <= len(windows) <= 2 and all(w["state"] == {"S": "scheduled"} for w in windows)
    assert local_aws.queue_counts(local_aws.digest_queue_url)["ApproximateNumberOfMessagesDelayed"] == len(windows)

    flushes = [flush_of(job, w) for w in windows]
    farm.reset_calls()
    assert invoke(sqs_event(flushes, queue="session-watch-digests")) == {"batchItemFailures": []}
    assert farm.calls() == {}  # the job's name comes from its records: a digest reads nothing from Deadline

    digests = local_aws.notifications()
    # The digests list the suspect workers under "Suspect workers".
    assert all(len(d["record"]["suspectWorkers"]) == 4 for d in digests)
    # At most one message per job per window (a window opened by duplicates alone stays empty: no message).
    assert 1 <= len(digests) <= len(windows)
    assert all(d["MessageAttributes"]["kind"]["Value"] == "digest" for d in digests)
    bodies = [d["record"] for d in digests]
    assert sum(b["failures"] for b in bodies) == 120
    assert sum(b["byStatus"]["FAILED"] for b in bodies) == 120
    assert sum(b["byExitCode"]["1"] for b in bodies) == 120
    assert all(b["jobName"] == "bad-scene" and 0 < len(b["sample"]) <= 10 for b in bodies)
    assert any(str(b["failures"]) in d["Subject"] for b, d in zip(bodies, digests))
    # Redelivered flushes: no second message.
    assert invoke(sqs_event(flushes, queue="session-watch-digests")) == {"batchItemFailures": []}
    assert local_aws.notifications() == []


def windows_of(local_aws):
    return [i for i in local_aws.ledger_items() if i["digestKey"]["S"].startswith("window#")]


def flush_of(job, window):
    return {"digestFlush": {"farmId": job.farm_id, "queueId": job.queue_id, "jobId": job.job_id,
                            "windowStart": int(window["digestKey"]["S"].split("#")[1])}}


def test_digest_names_the_root_cause_of_never_attempted_tasks(farm, invoke, local_aws, lambda_env):
    lambda_env(NOTIFY_MODE="digest")
    job, session, enter, runs, events = env_enter_fails(farm, frames=3)

    assert invoke(sqs_event(events)) == {"batchItemFailures": []}
    for window in windows_of(local_aws):
        invoke(flush_of(job, window))

    bodies = [d["record"] for d in local_aws.notifications()]
    assert sum(b["failures"] for b in bodies) == 4  # 3 NEVER_ATTEMPTED and the enter itself
    assert sum(b["byStatus"].get("NEVER_ATTEMPTED", 0) for b in bodies) == 3
    assert sum(b["byStatus"].get("FAILED", 0) for b in bodies) == 1
    causes = {c["sessionActionId"]: c for b in bodies for c in b["rootCauses"]}
    assert list(causes) == [enter.session_action_id] and causes[enter.session_action_id]["processExitCode"] == 1


def test_direct_invocation_in_digest_mode_joins_the_digest(farm, invoke, local_aws, lambda_env):
    lambda_env(NOTIFY_MODE="digest")
    ids = farm.task_action(status="FAILED", exit_code=7)

    result = invoke(farm.direct(ids))

    assert result["status"] == "FAILED"
    assert local_aws.notifications() == []
    assert "digestWindow" in local_aws.item(ids.job_id, ids.session_action_id)


def test_completions_in_digest_mode_are_recorded_not_published(farm, invoke, local_aws, lambda_env):
    lambda_env(NOTIFY_MODE="digest")
    ids = farm.task_action(status="SUCCEEDED", exit_code=0)

    invoke(farm.direct(ids))

    assert local_aws.item(ids.job_id, ids.session_action_id)["status"] == {"S": "SUCCEEDED"}
    assert local_aws.notifications() == []


# --- whole jobs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["each", "digest"])
def test_a_finished_job_gets_one_job_level_message(farm, invoke, local_aws, lambda_env, mode):
    lambda_env(NOTIFY_MODE=mode)
    job, _ = failing_job(farm, frames=3)
    event = {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Job Run Status Change", "source": "aws.deadline",
        "account": "123456789012", "time": "2026-11-29T10:00:00Z", "region": "us-west-2", "resources": [],
        "detail": {"farmId": job.farm_id, "queueId": job.queue_id, "jobId": job.job_id,
                   "previousTaskRunStatus": "RUNNING", "taskRunStatus": "FAILED",
                   "taskRunStatusCounts": {"FAILED": 3, "SUCCEEDED": 0, "READY": 0}},
    }

    invoke(event)
    invoke(dict(event, id=str(uuid.uuid4())))  # Deadline sends it again

    [message] = local_aws.notifications()
    assert message["MessageAttributes"]["kind"]["Value"] == "jobRun"
    assert message["record"]["taskRunStatus"] == "FAILED" and message["record"]["jobName"] == "bad-scene"
    assert message["record"]["taskRunStatusCounts"]["FAILED"] == 3
    assert "bad-scene" in message["Subject"]


# --- requeued tasks (reclaimed workers) -------------------------------------------------------------


def test_a_task_requeued_after_its_worker_was_reclaimed_records_the_reclaimed_run(farm, invoke, local_aws):
    render = farm.farm
    job = render.create_job("spot", frames=[1])
    [task_id] = job.task_ids
    session = render.start_session(job.job_id)
    action = render.add_task_run(session.session_id, task_id, status="ASSIGNED")
    render.set_session_action_status(action.session_action_id, "RUNNING")
    render.set_session_action_status(action.session_action_id, "RECLAIMING")
    render.set_session_action_status(action.session_action_id, "RECLAIMED")
    [requeued] = [e for e in render.drain_events()
                  if e["detail-type"] == "Task Run Status Change" and e["detail"]["runStatus"] == "READY"]

    result = invoke(requeued)

    assert (result["sessionActionId"], result["status"]) == (action.session_action_id, "RECLAIMED")
    assert local_aws.item(job.job_id, action.session_action_id)["status"] == {"S": "RECLAIMED"}
    [message] = local_aws.notifications()
    assert "reclaimed" in message["Subject"]


def test_a_task_requeued_by_hand_records_nothing(farm, invoke, local_aws):
    ids = farm.task_action(status="SUCCEEDED", exit_code=0)

    result = invoke(farm.task_event(ids, "READY", previous="SUCCEEDED"))

    assert result["skipped"] == "task requeued with no reclaimed or interrupted run"
    assert local_aws.items() == [] and local_aws.notifications() == []


def test_the_excerpt_ends_where_the_action_ended_even_when_the_session_logged_more(farm, invoke, local_aws,
                                                                                  session_logs):
    """GetLogEvents' endTime is the action's end: a later action's lines in the same session stay out."""
    ids = farm.task_action(status="FAILED", exit_code=2, message="out of licenses")
    session_logs.put_log_events(
        logGroupName=f"/aws/deadline/{ids.farm_id}/{ids.queue_id}", logStreamName=ids.session_id,
        logEvents=[{"timestamp": 4_102_444_800_000, "message": "a line logged long after the action ended"}])

    result = invoke(farm.direct(ids))

    assert result["logExcerpt"][-1] == "openjd: Task run FAILED"
    assert all("long after" not in line for line in result["logExcerpt"])


def test_an_unreadable_log_leaves_the_excerpt_null_and_says_why(farm, invoke, local_aws):
    ids = farm.task_action(status="FAILED", exit_code=2)  # no session_logs: the farm wrote no log

    result = invoke(farm.direct(ids))

    assert result["logExcerpt"] is None
    assert result["enrichmentMissing"] == [
        "logExcerpt: the session's log is not in CloudWatch Logs (no such log group or stream yet) "
        "(GetLogEvents ResourceNotFoundException)"]
    [message] = local_aws.notifications()  # the notification still goes out
    assert message["record"]["logExcerpt"] is None
    assert message["record"]["enrichmentMissing"] == result["enrichmentMissing"]


def test_zero_excerpt_lines_reads_no_log(farm, invoke, local_aws, lambda_env, session_logs):
    lambda_env(LOG_EXCERPT_LINES="0")
    ids = farm.task_action(status="FAILED", exit_code=2)

    result = invoke(farm.direct(ids))

    assert result["logExcerpt"] is None and result["enrichmentMissing"] is None
