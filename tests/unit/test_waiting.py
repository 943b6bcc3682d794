"""WaitForJob's requests and what a waiter resumes with (pure: domain/requests.py, domain/waiting.py)."""

from __future__ import annotations

import json

import pytest

from session_watch import names
from session_watch.domain import waiting
from session_watch.domain.requests import (
    JobLifecycleChange,
    StepRunChange,
    SweepWaiters,
    WaitForJob,
    parse_invocation,
)
from session_watch.errors import InvalidEventError

FARM, QUEUE, JOB = "farm-" + "1" * 32, "queue-" + "2" * 32, "job-" + "3" * 32
STEP, TASK = "step-" + "4" * 32, "task-" + "4" * 32 + "-7"
IDS = {"farmId": FARM, "queueId": QUEUE, "jobId": JOB}


def wait(**extra):
    return {names.WAIT_FOR_JOB: {**IDS, "taskToken": "AQCEAAAAKgAAAAMAAAAA" * 10, **extra}}


def test_wait_for_job_request_whole_job_step_and_task():
    assert parse_invocation(wait()).scope == "job"
    assert parse_invocation(wait(stepId=STEP)).scope == "step"
    request = parse_invocation(wait(stepId=STEP, taskId=TASK))
    assert isinstance(request, WaitForJob) and request.scope == "task" and request.task_id == TASK
    assert "AQCE" not in repr(request)  # the token is a credential of the execution: never printed


@pytest.mark.parametrize("spec,field", [
    ({"taskToken": ""}, "waitForJob.taskToken"),
    ({"taskToken": "x" * 2049}, "waitForJob.taskToken"),  # botocore model: TaskToken max 2048
    ({"taskToken": None}, "waitForJob.taskToken"),
    ({"taskId": TASK}, "waitForJob.stepId"),
    ({"stepId": "step-nothex"}, "waitForJob.stepId"),
    ({"jobId": "job-1"}, "waitForJob.jobId"),
    ({"executionArn": "not an arn"}, "waitForJob.executionArn"),
])
def test_wait_for_job_request_names_the_bad_field(spec, field):
    event = wait()
    event[names.WAIT_FOR_JOB].update(spec)
    if spec.get("taskToken", 1) is None:
        del event[names.WAIT_FOR_JOB]["taskToken"]
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event)
    assert raised.value.field == field


def test_sweep_and_waiter_events():
    assert parse_invocation({names.SWEEP_WAITERS: {}}) == SweepWaiters()
    with pytest.raises(InvalidEventError):
        parse_invocation({names.SWEEP_WAITERS: []})
    lifecycle = parse_invocation({"source": "aws.deadline", "detail-type": "Job Lifecycle Status Change", "id": "e1",
                                  "detail": {**IDS, "previousLifecycleStatus": "CREATE_IN_PROGRESS",
                                             "lifecycleStatus": "CREATE_FAILED"}})
    assert lifecycle == JobLifecycleChange(FARM, QUEUE, JOB, "CREATE_FAILED", "CREATE_IN_PROGRESS", "e1")
    step = parse_invocation({"source": "aws.deadline", "detail-type": "Step Run Status Change",
                             "detail": {**IDS, "stepId": STEP, "taskRunStatus": "FAILED",
                                        "previousTaskRunStatus": "RUNNING", "taskRunStatusCounts": {"FAILED": 1}}})
    assert step == StepRunChange(FARM, QUEUE, JOB, STEP, "FAILED")
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation({"source": "aws.deadline", "detail-type": "Job Lifecycle Status Change", "detail": IDS})
    assert raised.value.field == "detail.lifecycleStatus"


def job(status="SUCCEEDED", lifecycle="CREATE_COMPLETE", **counts):
    return {"jobId": JOB, "name": "shot-010 comp", "lifecycleStatus": lifecycle,
            "lifecycleStatusMessage": "Job creation completed successfully" if lifecycle == "CREATE_COMPLETE"
            else "Template validation failed: step 'Render' has no script",
            "taskRunStatus": status, "taskRunStatusCounts": counts or {"SUCCEEDED": 4},
            "startedAt": "2026-12-04T10:00:00+00:00", "endedAt": "2026-12-04T10:02:30+00:00"}


def failed_action(n, **extra):
    return {"sessionActionId": f"sessionaction-{'5' * 32}-{n}", "sessionId": "session-" + "6" * 32, "status": "FAILED",
            "outcome": "failure", "actionType": "taskRun", "stepId": STEP, "taskId": f"task-{'4' * 32}-{n}",
            "processExitCode": 139, "workerId": "worker-" + "7" * 32, "endedAt": f"2026-12-04T10:01:{n:02d}+00:00",
            "parameters": {"Frame": 12}, "progressMessage": "Segmentation fault", **extra}


def test_success_carries_the_summary_without_task_parameters():
    res = waiting.resumption("job", IDS, job(), job(), [])
    assert res.succeeded and res.error is None
    assert res.output["name"] == "shot-010 comp" and res.output["durationSeconds"] == 150.0
    assert res.output["taskRunStatusCounts"] == {"SUCCEEDED": 4} and res.output["failedActions"] == []
    failed = waiting.resumption("job", IDS, job(), job(), [failed_action(1)]).output["failedActions"]
    assert "parameters" not in failed[0] and failed[0]["processExitCode"] == 139


@pytest.mark.parametrize("scope,answer,error", [
    ("job", job("FAILED", FAILED=3, SUCCEEDED=97), "JobFailed"),
    ("job", job("CANCELED", CANCELED=4), "JobCanceled"),
    ("job", job("READY", "CREATE_FAILED", READY=0), "JobCreateFailed"),
    ("job", job("READY", "UPLOAD_FAILED", READY=0), "JobUploadFailed"),
    ("step", {"stepId": STEP, "name": "Render", "taskRunStatus": "FAILED", "taskRunStatusCounts": {"FAILED": 1}},
     "StepFailed"),
    ("task", {"taskId": TASK, "runStatus": "CANCELED"}, "TaskCanceled"),
])
def test_failures_have_documented_error_names(scope, answer, error):
    ids = {**IDS, "stepId": STEP if scope != "job" else None, "taskId": TASK if scope == "task" else None}
    res = waiting.resumption(scope, ids, answer, job("FAILED", FAILED=3, SUCCEEDED=97), [failed_action(1)])
    assert res.error == error and error in names.WAIT_ERROR_NAMES


def test_the_cause_names_the_counts_and_the_first_failure_within_the_limits():
    actions = [failed_action(n) for n in range(1, 4)]
    res = waiting.resumption("job", IDS, job("FAILED", FAILED=3, SUCCEEDED=97), job("FAILED", FAILED=3, SUCCEEDED=97),
                             actions)
    assert "ended FAILED" in res.cause and "97 SUCCEEDED, 3 FAILED of 100" in res.cause
    assert f"first failure: taskRun sessionaction-{'5' * 32}-1 FAILED" in res.cause and "exit code 139" in res.cause
    assert "(3 failed actions in all)" in res.cause
    huge = [failed_action(1, progressMessage="x" * 40000)]
    res = waiting.resumption("job", IDS, job("FAILED", FAILED=1), job("FAILED", FAILED=1), huge)
    assert len(res.cause) <= names.SFN_CAUSE_MAX == 32768 and len(res.error) <= names.SFN_ERROR_MAX == 256
    lifecycle = waiting.resumption("job", IDS, job("READY", "CREATE_FAILED"), job("READY", "CREATE_FAILED"), [])
    assert "ended CREATE_FAILED: Template validation failed" in lifecycle.cause


def test_the_summary_fits_send_task_success_output_limit():
    """A job with thousands of failures: the output stays under 262144 characters (botocore model,
    stepfunctions SendTaskSuccess ``output`` max), the first failures kept, the rest counted."""
    actions = [failed_action(n % 60, progressMessage="y" * 20000,
                             rootCause={"sessionActionId": "x", "progressMessage": "z" * 4096}) for n in range(5000)]
    res = waiting.resumption("job", IDS, job("SUCCEEDED"), job("SUCCEEDED"), actions)
    text = json.dumps(res.output, default=str)
    assert len(text) <= names.SFN_OUTPUT_MAX
    assert res.output["failedActionsTotal"] == 5000 and res.output["failedActionsTruncated"] is True
    assert 0 < len(res.output["failedActions"]) < waiting.MAX_FAILED_ACTIONS  # the size budget cut it


def test_a_job_still_running_has_not_ended():
    assert waiting.ended_status("job", job("RUNNING")) is None
    assert waiting.ended_status("task", {"runStatus": "SUSPENDED"}) is None
    with pytest.raises(ValueError):
        waiting.resumption("job", IDS, job("RUNNING"), job("RUNNING"), [])


def test_waiter_keys_prefix_by_scope_and_hide_the_token():
    key = waiting.waiter_key("task", STEP, TASK, "secret-token")
    assert key.startswith(f"step#{STEP}#task#{TASK}#") and "secret" not in key
    assert key.startswith(waiting.waiter_prefix("step", STEP))  # one Query finds a step's and its tasks' waiters
    assert waiting.waiter_key("job", None, None, "a") != waiting.waiter_key("job", None, None, "b")
    assert waiting.waiter_prefix("step", STEP) == f"step#{STEP}#"
