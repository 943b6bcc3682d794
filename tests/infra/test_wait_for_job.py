"""The synthesised ``WaitForJob`` definition, run in moto's Step Functions interpreter (in-process
``mock_aws``), resumed by the real handler: registering a waiter, the job's event, the sweep, a job that ended
before the waiter registered, a failing job's error name, a lifecycle failure, a duplicate resumption and the
wait's timeout.

Where things run: the interpreter (and its Lambda, moto's "lambda-simple", whose answer a
``.waitForTaskToken`` task ignores) in moto's in-process mock; the handler in this process, its DynamoDB on
the shared local moto server, its Step Functions calls (SendTaskSuccess/Failure/Heartbeat) in the mock where
the execution waits, its Deadline Cloud reads on the project's stand-in. The task token comes from the
execution's history (TaskScheduled parameters), as the Lambda payload carries it.
"""

from __future__ import annotations

import copy
import io
import json
import time
import uuid
import zipfile
from typing import Any, Dict, List

import boto3
import pytest

from lambda_src.session_watch import names
from tests.infra.template_tools import logical_id, resources

pytestmark = pytest.mark.slow

REGION = "us-west-2"
WAITER_TABLE = "session-watch-waiters"


def _definition(template: Dict[str, Any], function_arn: str) -> Dict[str, Any]:
    """The deployed WaitForJob definition, with the partition and the function's ARN filled in."""
    machine_id = logical_id(template, "AWS::StepFunctions::StateMachine", "WaitForJobStateMachine")
    [function_id] = [k for k in resources(template, "AWS::Lambda::Function") if k.startswith("SessionWatchFunction")]
    known = {json.dumps({"Ref": "AWS::Partition"}): "aws",
             json.dumps({"Fn::GetAtt": [function_id, "Arn"]}): function_arn}
    parts = template["Resources"][machine_id]["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else known[json.dumps(p)] for p in parts))


@pytest.fixture
def sfn_mock(monkeypatch, local_aws):
    """moto's in-process mock for Step Functions (executing) and Lambda (no Docker). The mock answers every
    AWS call of this process, the function's too (whatever its endpoint): the tables, topic and queue
    ``local_aws`` names are made again inside it."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_STEPFUNCTIONS", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from moto import mock_aws

    from local.moto_stack import moto_pipeline_fixes
    from tests.support.aws import create_digest_table, create_history_table

    moto_pipeline_fixes.apply()  # moto 5.2.5 bugs (see the module)

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_history_table(dynamodb, local_aws.table_name)
        create_digest_table(dynamodb, local_aws.digest_table_name)
        assert boto3.client("sns", region_name=REGION).create_topic(
            Name=local_aws.topic_arn.rsplit(":", 1)[1])["TopicArn"] == local_aws.topic_arn
        sqs = boto3.client("sqs", region_name=REGION)
        sqs.create_queue(QueueName=local_aws.digest_queue_url.rsplit("/", 1)[1])
        yield


@pytest.fixture
def waiting(sfn_mock, local_aws, lambda_env, farm, template):
    """The deployed shape: the waiter table, the function's environment and the WaitForJob state machine."""
    local_aws.client("dynamodb").create_table(
        TableName=WAITER_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": names.WAITER_PARTITION_KEY, "AttributeType": "S"},
                              {"AttributeName": names.WAITER_SORT_KEY, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": names.WAITER_PARTITION_KEY, "KeyType": "HASH"},
                   {"AttributeName": names.WAITER_SORT_KEY, "KeyType": "RANGE"}],
    )
    lambda_env(WAITER_TABLE_NAME=WAITER_TABLE, WAITER_TTL_HOURS="25")
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="wait-for-job", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("session_watch/handler.py", "def lambda_handler(event, context):\n    return event\n")
    function_arn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="session-watch", Runtime="python3.14", Role=role, Handler="session_watch.handler.lambda_handler",
        Code={"ZipFile": code.getvalue()})["FunctionArn"]
    definition = _definition(template, function_arn)
    sfn = boto3.client("stepfunctions", region_name=REGION)

    class Waiting:
        def __init__(self) -> None:
            self.sfn = sfn
            self.definition = definition
            self.arn = sfn.create_state_machine(name="WaitForJob", definition=json.dumps(definition),
                                                roleArn=role)["stateMachineArn"]
            self.role = role

        def start(self, job_ids: Dict[str, str], arn: str = "") -> str:
            return sfn.start_execution(stateMachineArn=arn or self.arn, name=uuid.uuid4().hex,
                                       input=json.dumps(job_ids))["executionArn"]

        def registration(self, execution: str) -> Dict[str, Any]:
            """The payload the RegisterWaiter task sent the function (it carries the task token)."""
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                events = sfn.get_execution_history(executionArn=execution)["events"]
                scheduled = [e for e in events if e["type"] == "TaskScheduled"]
                if scheduled:
                    return json.loads(scheduled[0]["taskScheduledEventDetails"]["parameters"])["Payload"]
                time.sleep(0.05)
            raise AssertionError("RegisterWaiter was never scheduled")

        def status(self, execution: str) -> Dict[str, Any]:
            return sfn.describe_execution(executionArn=execution)

        def ended(self, execution: str, timeout: float = 20) -> Dict[str, Any]:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                description = self.status(execution)
                if description["status"] != "RUNNING":
                    return description
                time.sleep(0.05)
            raise AssertionError("the execution is still RUNNING")

        def waiters(self) -> List[Dict[str, Any]]:
            return local_aws.client("dynamodb").scan(TableName=WAITER_TABLE)["Items"]

    return Waiting()


def _job(farm, frames=(1, 2), name="shot-010 comp"):
    job = farm.farm.create_job(name, frames=list(frames))
    return job, {"farmId": job.farm_id, "queueId": job.queue_id, "jobId": job.job_id}


def _run(farm, job, outcomes):
    """Run every task of ``job`` (SUCCEEDED unless ``outcomes`` says otherwise); the events the farm emitted."""
    farm.farm.drain_events()
    for task_id, outcome in zip(job.task_ids, outcomes):
        farm.farm.run_task(task_id, outcome)
    return farm.farm.drain_events()


def _job_event(events):
    [event] = [e for e in events if e["detail-type"] == names.JOB_RUN_STATUS_CHANGE
               and e["detail"]["taskRunStatus"] in names.WAIT_END_STATUSES]
    return event


def test_a_running_job_resumes_its_waiter_on_the_job_event(waiting, farm, invoke):
    job, ids = _job(farm)
    execution = waiting.start({**ids, "pipeline": "extra keys are not passed on"})
    payload = waiting.registration(execution)
    assert set(payload[names.WAIT_FOR_JOB]) == {"farmId", "queueId", "jobId", "stepId", "taskId", "taskToken",
                                                "executionArn"}
    assert payload[names.WAIT_FOR_JOB]["stepId"] is None and payload[names.WAIT_FOR_JOB]["executionArn"] == execution

    registered = invoke(payload)
    assert registered["waiter"]["status"] == "waiting"
    assert len(waiting.waiters()) == 1 and waiting.status(execution)["status"] == "RUNNING"

    events = _run(farm, job, ["SUCCEEDED", "SUCCEEDED"])
    result = invoke(_job_event(events))
    assert result["waiters"]["found"] == 1 and result["waiters"]["succeeded"] == 1

    description = waiting.ended(execution)
    assert description["status"] == "SUCCEEDED"
    output = json.loads(description["output"])
    assert output["jobId"] == job.job_id and output["name"] == "shot-010 comp" and output["status"] == "SUCCEEDED"
    assert output["taskRunStatusCounts"]["SUCCEEDED"] == 2 and output["failedActions"] == []
    assert isinstance(output["durationSeconds"], float)
    assert waiting.waiters() == []  # resumed waiters are deleted

    again = invoke(_job_event(events))  # the event delivered twice: nothing left to resume
    assert again["waiters"]["found"] == 0


def test_a_job_that_ended_before_the_waiter_registered_resumes_at_once(waiting, farm, invoke):
    job, ids = _job(farm, frames=(1,))
    _run(farm, job, ["SUCCEEDED"])  # over before the pipeline even started
    execution = waiting.start(ids)
    registered = invoke(waiting.registration(execution))
    assert registered["waiter"]["status"] == "succeeded"
    assert waiting.ended(execution)["status"] == "SUCCEEDED" and waiting.waiters() == []


def test_a_failing_job_fails_with_job_failed_and_a_cause_naming_the_first_failure(waiting, farm, invoke):
    job, ids = _job(farm, frames=(1, 2, 3))
    execution = waiting.start(ids)
    invoke(waiting.registration(execution))
    events = _run(farm, job, ["SUCCEEDED", "FAILED", "FAILED"])
    for event in events:  # the record path stores the failed actions the summary lists
        if event["detail-type"] == names.TASK_RUN_STATUS_CHANGE and event["detail"]["runStatus"] == "FAILED":
            invoke(event)
    invoke(_job_event(events))

    description = waiting.ended(execution)
    assert description["status"] == "FAILED" and description["error"] == names.WAIT_ERROR_JOB_FAILED
    cause = description["cause"]
    assert f"({job.job_id}) ended FAILED" in cause and "2 FAILED, 1 SUCCEEDED of 3" in cause
    assert "first failure: taskRun sessionaction-" in cause and "exit code 1" in cause
    assert "(2 failed actions in all)" in cause


def test_a_lost_event_is_made_good_by_the_sweep(waiting, farm, invoke):
    job, ids = _job(farm)
    running, _ = _job(farm, name="still rendering")
    execution = waiting.start(ids)
    other = waiting.start({"farmId": running.farm_id, "queueId": running.queue_id, "jobId": running.job_id})
    invoke(waiting.registration(execution))
    invoke(waiting.registration(other))
    _run(farm, job, ["SUCCEEDED", "SUCCEEDED"])  # ... and its events are lost
    farm.reset_calls()

    swept = invoke({names.SWEEP_WAITERS: {}})

    assert swept["sweep"]["open"] == 2 and swept["sweep"]["succeeded"] == 1 and swept["sweep"]["waiting"] == 1
    assert farm.calls().get("BatchGetJob") == 1 and "GetJob" not in farm.calls()  # one call for both jobs
    assert waiting.ended(execution)["status"] == "SUCCEEDED"
    assert waiting.status(other)["status"] == "RUNNING" and len(waiting.waiters()) == 1


def test_a_job_that_failed_to_create_fails_with_job_create_failed(waiting, farm, invoke):
    job, ids = _job(farm)
    execution = waiting.start(ids)
    invoke(waiting.registration(execution))
    farm.farm.job(job.job_id).lifecycle_status = "CREATE_FAILED"
    farm.farm.job(job.job_id).lifecycle_status_message = "Job attachments could not be uploaded to the bucket"
    invoke({"version": "0", "id": "ev-1", "source": "aws.deadline", "detail-type": names.JOB_LIFECYCLE_STATUS_CHANGE,
            "detail": {**ids, "previousLifecycleStatus": "CREATE_IN_PROGRESS", "lifecycleStatus": "CREATE_FAILED"}})
    description = waiting.ended(execution)
    assert description["error"] == names.WAIT_ERROR_JOB_CREATE_FAILED
    assert "ended CREATE_FAILED: Job attachments could not be uploaded" in description["cause"]


def test_a_late_resumption_is_recorded_and_ignored(waiting, farm, invoke, function_logs):
    """The same waiter resumed twice (a crash between SendTaskSuccess and the delete): Step Functions answers
    the second send with an error for a token that no longer waits; the function records it and goes on."""
    job, ids = _job(farm, frames=(1,))
    execution = waiting.start(ids)
    payload = waiting.registration(execution)
    invoke(payload)
    _run(farm, job, ["SUCCEEDED"])
    invoke({names.SWEEP_WAITERS: {}})
    assert waiting.ended(execution)["status"] == "SUCCEEDED"

    late = invoke(payload)  # the waiter stored again, its execution long over
    assert late["waiter"]["status"].startswith("gone:")
    assert late["waiter"]["status"].split(":")[1] in names.TASK_TOKEN_GONE_ERRORS
    assert waiting.waiters() == []
    token = payload[names.WAIT_FOR_JOB]["taskToken"]
    assert token not in function_logs.text()  # the task token is never logged


def test_the_wait_times_out_with_wait_timed_out(waiting, farm, invoke):
    job, ids = _job(farm)
    definition = copy.deepcopy(waiting.definition)
    register = definition["States"]["RegisterWaiter"]
    assert register["TimeoutSeconds"] == 24 * 3600 and register["HeartbeatSeconds"] == 4 * 5 * 60
    register["TimeoutSeconds"], register["HeartbeatSeconds"] = 2, 1  # the deployed values are a day and 20 min
    arn = waiting.sfn.create_state_machine(name="WaitForJobShort", definition=json.dumps(definition),
                                           roleArn=waiting.role)["stateMachineArn"]
    execution = waiting.start(ids, arn)
    invoke(waiting.registration(execution))
    description = waiting.ended(execution, timeout=30)
    assert description["status"] == "FAILED" and description["error"] == names.WAIT_ERROR_TIMED_OUT
