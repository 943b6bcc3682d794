"""WaitForJob's waiters: the use case with in-memory ports (waits on a step or a task, the sweep's batching
and heartbeats, a job that cannot be read), and the task token adapter against Step Functions' documented
errors (botocore Stubber)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import boto3
import pytest
from botocore.stub import Stubber

from session_watch import names
from session_watch.adapters.waiters import TaskTokens
from session_watch.config import Settings
from session_watch.domain import waiting
from session_watch.domain.requests import StepRunChange, TaskRunChange, WaitForJob
from session_watch.errors import DeadlineResourceNotFound, DeadlineThrottled, WaiterResumeError
from session_watch.ports import Ports
from session_watch.usecases.waiters import Waiters

FARM, QUEUE, JOB = "farm-" + "1" * 32, "queue-" + "2" * 32, "job-" + "3" * 32
STEP, TASK, OTHER_TASK = "step-" + "4" * 32, "task-" + "4" * 32 + "-1", "task-" + "4" * 32 + "-2"
NOW = 1_796_000_000.0


class Store:
    def __init__(self) -> None:
        self.items: Dict[str, Dict[str, Any]] = {}

    def add(self, waiter, *, expires_at):
        key = waiting.waiter_key("task" if waiter.get("taskId") else "step" if waiter.get("stepId") else "job",
                                 waiter.get("stepId"), waiter.get("taskId"), waiter["taskToken"])
        self.items[key] = {**{k: v for k, v in waiter.items() if v is not None}, names.WAITER_SORT_KEY: key,
                           names.TTL_ATTRIBUTE: str(expires_at)}
        self.items[key]["scope"] = "task" if waiter.get("taskId") else "step" if waiter.get("stepId") else "job"
        return key

    def of_job(self, job_id, prefix):
        return [dict(w) for k, w in sorted(self.items.items()) if w["jobId"] == job_id and k.startswith(prefix)]

    def open_waiters(self, limit=5000):
        return [dict(w) for w in self.items.values()][:limit]

    def remove(self, job_id, key):
        self.items.pop(key, None)


class Tokens:
    def __init__(self, gone: Optional[str] = None) -> None:
        self.sent: List[tuple] = []
        self.gone = gone

    def succeed(self, token, output):
        self.sent.append(("success", token, json.loads(output)))
        return self.gone

    def fail(self, token, error, cause):
        self.sent.append(("failure", token, error, cause))
        return self.gone

    def heartbeat(self, token):
        self.sent.append(("heartbeat", token))
        return self.gone


class Deadline:
    def __init__(self) -> None:
        self.jobs: Dict[str, Dict[str, Any]] = {}
        self.steps: Dict[str, Dict[str, Any]] = {}
        self.tasks: Dict[str, Dict[str, Any]] = {}
        self.calls: List[str] = []
        self.batch_errors: Dict[tuple, Exception] = {}

    def get_job(self, farm, queue, job):
        self.calls.append("GetJob")
        if job not in self.jobs:
            raise DeadlineResourceNotFound("GetJob", "ResourceNotFoundException", f"no job {job}")
        return self.jobs[job]

    def batch_get_jobs(self, jobs):
        self.calls.append("BatchGetJob")
        found = {j: self.jobs[j[2]] for j in jobs if j[2] in self.jobs and j not in self.batch_errors}
        return found, {j: e for j, e in self.batch_errors.items() if j in set(jobs)}

    def get_step(self, farm, queue, job, step):
        self.calls.append("GetStep")
        return self.steps[step]

    def get_task(self, farm, queue, job, step, task):
        self.calls.append("GetTask")
        return self.tasks[task]


class Records:
    def records_of_job(self, job_id, *, limit=None):
        return [{"sessionActionId": "sessionaction-" + "5" * 32 + "-0", "outcome": "failure", "status": "FAILED",
                 "actionType": "taskRun", "stepId": STEP, "taskId": TASK, "processExitCode": 2}]


def job(status="RUNNING", **counts):
    return {"jobId": JOB, "name": "comp", "lifecycleStatus": "CREATE_COMPLETE", "taskRunStatus": status,
            "taskRunStatusCounts": counts}


@pytest.fixture
def world():
    deadline, store, tokens = Deadline(), Store(), Tokens()
    deadline.jobs[JOB] = job()
    ports = Ports(deadline=deadline, records=Records(), notifications=None,  # type: ignore[arg-type]
                  waiters=store, task_tokens=tokens, job_parts=deadline)
    settings = Settings(table_name="t", topic_arn="arn:aws:sns:us-west-2:123456789012:t", notify_statuses=frozenset(),
                        retention_days=1, waiter_table_name="w")

    class Inv:
        now = NOW

    return Waiters(ports, settings), deadline, store, tokens, Inv()


def register(waiters, inv, token, step=None, task=None):
    return waiters.register(WaitForJob(FARM, QUEUE, JOB, step, task, token), inv)


def test_a_step_wait_resumes_on_its_last_tasks_event_and_not_before(world):
    waiters, deadline, store, tokens, inv = world
    deadline.steps[STEP] = {"stepId": STEP, "name": "Render", "taskRunStatus": "RUNNING"}
    assert register(waiters, inv, "step-token", step=STEP)["waiter"]["status"] == "waiting"
    event = TaskRunChange(FARM, QUEUE, JOB, STEP, TASK, "FAILED", "RUNNING")
    assert waiters.on_event(event, inv)["waiters"] == {"jobId": JOB, "found": 1, "waiting": 1}
    deadline.steps[STEP] = {"stepId": STEP, "name": "Render", "taskRunStatus": "FAILED",
                            "taskRunStatusCounts": {"FAILED": 1, "SUCCEEDED": 1}}
    assert waiters.on_event(StepRunChange(FARM, QUEUE, JOB, STEP, "FAILED"), inv)["waiters"]["failed:StepFailed"] == 1
    [(kind, token, error, cause)] = [s for s in tokens.sent if s[0] == "failure"]
    assert (token, error) == ("step-token", "StepFailed") and cause.startswith(f"Step {STEP} of job comp")
    assert store.items == {}


def test_a_task_event_resumes_that_tasks_waiter_only(world):
    waiters, deadline, store, tokens, inv = world
    deadline.tasks[TASK] = {"taskId": TASK, "runStatus": "SUCCEEDED"}
    deadline.tasks[OTHER_TASK] = {"taskId": OTHER_TASK, "runStatus": "RUNNING"}
    deadline.steps[STEP] = {"stepId": STEP, "taskRunStatus": "RUNNING"}
    register(waiters, inv, "mine", step=STEP, task=TASK)
    register(waiters, inv, "sibling", step=STEP, task=OTHER_TASK)
    # registering the first resumed it at once (its task had already ended)
    assert [s[:2] for s in tokens.sent] == [("success", "mine")]
    assert tokens.sent[0][2]["waitedFor"] == "task" and tokens.sent[0][2]["runStatus"] == "SUCCEEDED"
    tokens.sent.clear()
    result = waiters.on_event(TaskRunChange(FARM, QUEUE, JOB, STEP, TASK, "SUCCEEDED", "RUNNING"), inv)
    assert result["waiters"]["found"] == 0 and deadline.calls.count("GetTask") == 2  # the sibling is not read
    assert len(store.items) == 1


def test_the_sweep_reads_jobs_in_one_batch_heartbeats_the_waiting_and_skips_unreadable(world):
    waiters, deadline, store, tokens, inv = world
    other = "job-" + "6" * 32
    deadline.jobs[other] = dict(job("SUCCEEDED", SUCCEEDED=1), jobId=other)
    register(waiters, inv, "running")
    waiters.register(WaitForJob(FARM, QUEUE, other, None, None, "done"), inv)  # resumed at once
    throttled = "job-" + "7" * 32
    deadline.jobs[throttled] = job()
    waiters.register(WaitForJob(FARM, QUEUE, throttled, None, None, "throttled"), inv)
    deadline.batch_errors[(FARM, QUEUE, throttled)] = DeadlineThrottled("BatchGetJob", "ThrottlingException", "slow")
    tokens.sent.clear()
    deadline.calls.clear()

    swept = waiters.sweep(inv)["sweep"]

    assert swept == {"open": 2, "expired": 0, "waiting": 1, "unreadable": 1}
    assert deadline.calls == ["BatchGetJob"]
    assert sorted(s for s in tokens.sent) == [("heartbeat", "running"), ("heartbeat", "throttled")]
    assert len(store.items) == 2


def test_the_sweep_forgets_waiters_whose_execution_no_longer_waits(world):
    waiters, deadline, store, tokens, inv = world
    register(waiters, inv, "timed-out")
    tokens.gone = "TaskTimedOut"
    assert waiters.sweep(inv)["sweep"] == {"open": 1, "expired": 0, "gone:TaskTimedOut": 1}
    assert store.items == {}


def test_a_job_that_does_not_exist_fails_the_wait_with_job_not_found(world):
    waiters, deadline, store, tokens, inv = world
    result = waiters.register(WaitForJob(FARM, QUEUE, "job-" + "9" * 32, None, None, "tok"), inv)
    assert result["waiter"]["status"] == "failed:JobNotFound"
    assert tokens.sent[0][2] == "JobNotFound" and "ResourceNotFoundException" in tokens.sent[0][3]
    assert store.items == {}


# --- the task token adapter and Step Functions' documented errors ---------------------------------------


@pytest.fixture
def stubbed():
    client = boto3.client("stepfunctions", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield TaskTokens(client), stubber


@pytest.mark.parametrize("code", ["TaskDoesNotExist", "InvalidToken", "TaskTimedOut"])
def test_a_token_that_no_longer_waits_is_answered_not_raised(stubbed, code):
    """Late and duplicate resumptions: the codes SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat document
    (botocore model, stepfunctions) for a token whose task is closed, timed out or unknown."""
    tokens, stubber = stubbed
    stubber.add_client_error("send_task_success", code, http_status_code=400,
                             expected_params={"taskToken": "t", "output": "{}"})
    stubber.add_client_error("send_task_failure", code, http_status_code=400)
    stubber.add_client_error("send_task_heartbeat", code, http_status_code=400)
    assert tokens.succeed("t", "{}") == code
    assert tokens.fail("t", "JobFailed", "why") == code
    assert tokens.heartbeat("t") == code
    stubber.assert_no_pending_responses()


def test_other_step_functions_errors_are_retryable(stubbed):
    tokens, stubber = stubbed
    stubber.add_client_error("send_task_success", "KmsThrottlingException", http_status_code=400)
    with pytest.raises(WaiterResumeError) as raised:
        tokens.succeed("t", "{}")
    assert raised.value.retryable and "KmsThrottlingException" in str(raised.value)


def test_error_and_cause_are_cut_to_send_task_failures_limits(stubbed):
    """botocore model, stepfunctions SendTaskFailure: ``error`` at most 256, ``cause`` at most 32768."""
    tokens, stubber = stubbed
    stubber.add_response("send_task_failure", {},
                         {"taskToken": "t", "error": "E" * 256, "cause": "c" * 32768})
    assert tokens.fail("t", "E" * 300, "c" * 40000) is None
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("variable,value", [("WAITER_TABLE_NAME", "no spaces allowed"), ("WAITER_TTL_HOURS", "0"),
                                            ("WAITER_TTL_HOURS", "soon")])
def test_the_waiter_settings_are_validated_naming_the_variable(variable, value):
    from session_watch.config import load_settings
    from session_watch.errors import ConfigurationError

    env = {"TABLE_NAME": "history", "TOPIC_ARN": "arn:aws:sns:us-west-2:123456789012:t", "NOTIFY_MODE": "each",
           variable: value}
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)
    assert raised.value.variable == variable
    ok = load_settings({**env, variable: "waiters" if variable == "WAITER_TABLE_NAME" else "25"})
    assert (ok.waiter_table_name, ok.waiter_ttl_hours) in (("waiters", 24), (None, 25))
