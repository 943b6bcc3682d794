"""Run the synthesised ``WaitForSessionAction`` definition in moto's Step Functions interpreter.

The Lambda task answers, in order, with what the real handler returned (fixture ``records``) for a
non-terminal read of an action, then a terminal one. moto's Docker-less Lambda returns queued results
(``/moto-api/static/lambda-simple/response``); a queued ``{"errorType": ...}`` is turned into a function
error (as Lambda reports an unhandled exception) to exercise Retry and the failure of the execution.

The one edit to the synthesised definition: the Wait state's Seconds becomes 0, so the loop does not
sleep 30 s per turn (the template test checks the real value).
"""

from __future__ import annotations

import copy
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, List

import boto3
import pytest
import requests

from tests.infra.template_tools import state_machine_definition

pytestmark = pytest.mark.slow

REGION = "us-west-2"


@pytest.fixture
def records(farm, invoke):
    """What the real handler returns, called as Lambda calls it against the Deadline stand-in and local
    AWS, for an action read while RUNNING and again once it ended SUCCEEDED / FAILED (exit 139).

    Computed before moto's in-process mock starts (``moto_sfn`` depends on this fixture).
    """

    def lifecycle(final: str):
        ids = farm.task_action(status="RUNNING", frame=12)
        running = invoke(farm.direct(ids))
        farm.farm.set_session_action_status(
            ids.session_action_id, final, process_exit_code=0 if final == "SUCCEEDED" else 139
        )
        ended = invoke(farm.direct(ids))
        # exactly what crosses the Lambda boundary
        return farm.direct(ids), json.loads(json.dumps(running)), json.loads(json.dumps(ended))

    return {"SUCCEEDED": lifecycle("SUCCEEDED"), "FAILED": lifecycle("FAILED")}


@pytest.fixture
def moto_sfn(records, monkeypatch):
    """moto with Step Functions executing definitions and Lambda answering from a queue."""
    for name in list(__import__("os").environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)  # the shared conftest points clients at a local server; moto intercepts
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)

    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original_invoke = LambdaSimpleBackend.invoke

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        payload = original_invoke(self, function_name, qualifier, body, headers, response_headers)
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "errorType" in parsed and "sessionActionId" not in parsed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        yield


@pytest.fixture
def machine(moto_sfn, template):
    iam = boto3.client("iam", region_name=REGION)
    role_arn = iam.create_role(
        RoleName="session-watch",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
             "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("session_watch/handler.py", "def lambda_handler(event, context):\n    return event\n")
    function_arn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="session-watch", Runtime="python3.14", Role=role_arn, Architectures=["arm64"],
        Handler="session_watch.handler.lambda_handler", Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]

    [function_id] = [k for k, v in template["Resources"].items()
                     if v["Type"] == "AWS::Lambda::Function" and k.startswith("SessionWatchFunction")]
    definition = state_machine_definition(
        template, {"<AWS::Partition>": "aws", f"<{function_id}.Arn>": function_arn}
    )
    definition = copy.deepcopy(definition)
    assert definition["States"]["WaitBeforeNextRead"]["Seconds"] == 30
    definition["States"]["WaitBeforeNextRead"]["Seconds"] = 0

    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name="WaitForSessionAction", definition=json.dumps(definition),
                                   roleArn=role_arn)["stateMachineArn"]
    return sfn, arn


def _queue_lambda_results(results: List[Dict[str, Any]]) -> None:
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/lambda-simple/response",
        json={"results": [json.dumps(r) for r in results], "region": REGION},
        timeout=10,
    )
    assert response.status_code == 201


def _run(sfn, arn, payload: Dict[str, Any]):
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 60
    while True:
        description = sfn.describe_execution(executionArn=execution)
        if description["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.1)
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return description, events


def _payloads_sent(events) -> List[Dict[str, Any]]:
    scheduled = [e["taskScheduledEventDetails"] for e in events if e["type"] == "TaskScheduled"]
    return [json.loads(details["parameters"])["Payload"] for details in scheduled]


def _entered(events) -> List[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_running_then_succeeded_ends_in_succeed_with_the_record(machine, records):
    sfn, arn = machine
    IDS, running, succeeded = records["SUCCEEDED"]
    assert (running["terminal"], succeeded["outcome"]) == (False, "completion")
    _queue_lambda_results([running, succeeded])

    description, events = _run(sfn, arn, {**IDS, "pipelineRun": "extra keys are not passed on"})

    assert description["status"] == "SUCCEEDED"
    assert json.loads(description["output"]) == succeeded
    assert _payloads_sent(events) == [IDS, IDS]  # only the four ids, on every read
    assert _entered(events) == ["ReadSessionAction", "CheckOutcome", "WaitBeforeNextRead",
                                "ReadSessionAction", "CheckOutcome", "SessionActionSucceeded"]


def test_running_then_failed_ends_in_fail_with_a_cause_from_the_record(machine, records):
    sfn, arn = machine
    IDS, running, failed = records["FAILED"]
    assert (running["terminal"], failed["outcome"], failed["processExitCode"]) == (False, "failure", 139)
    _queue_lambda_results([running, failed])

    description, events = _run(sfn, arn, IDS)

    assert description["status"] == "FAILED"
    assert description["error"] == "SessionActionFailed"
    cause = description["cause"]
    assert f"Session action {IDS['sessionActionId']} of job {IDS['jobId']} ended FAILED" in cause
    assert "taskRun action" in cause and failed["taskId"] in cause and "exit code 139" in cause
    assert _entered(events)[-1] == "SessionActionFailed"


def test_retryable_function_error_is_retried(machine, records):
    sfn, arn = machine
    IDS, _, succeeded = records["SUCCEEDED"]
    throttled = {"errorType": "DeadlineThrottled", "errorMessage": "GetSessionAction: ThrottlingException: slow down"}
    _queue_lambda_results([throttled, succeeded])

    description, events = _run(sfn, arn, IDS)

    assert description["status"] == "SUCCEEDED"
    failures = [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
    assert failures == ["DeadlineThrottled"]
    assert _payloads_sent(events) == [IDS, IDS]


def test_non_retryable_function_error_fails_the_execution_under_its_own_name(machine, records):
    sfn, arn = machine
    IDS, _, succeeded = records["SUCCEEDED"]
    missing = {"errorType": "DeadlineResourceNotFound",
               "errorMessage": "GetSessionAction: ResourceNotFoundException: no such session action"}
    _queue_lambda_results([missing, succeeded])

    description, events = _run(sfn, arn, IDS)

    assert description["status"] == "FAILED"
    assert description["error"] == "DeadlineResourceNotFound"
    assert "no such session action" in description["cause"]
    assert len(_payloads_sent(events)) == 1  # not retried
