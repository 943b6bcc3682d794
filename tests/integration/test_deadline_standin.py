"""The local Deadline Cloud stand-in, exercised through an unmodified boto3 client.

Everything runs against ``local.deadline_farm.DeadlineStandIn`` on 127.0.0.1: the client reaches it
only through the standard SDK settings (``AWS_ENDPOINT_URL_DEADLINE``,
``AWS_DISABLE_HOST_PREFIX_INJECTION``) and fake credentials.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import boto3
import botocore.retries.standard
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from local.deadline_farm import (
    ROUTES,
    DeadlineStandIn,
    ManualClock,
    RenderFarm,
    env_enter_definition,
    env_exit_definition,
    job_environment_id,
    step_environment_id,
    sync_input_job_attachments_definition,
    task_run_definition,
    unknown_definition,
)
from local.deadline_farm.server import ERROR_STATUS

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
SERVED = {
    "GetSessionAction",
    "ListSessionActions",
    "BatchGetSessionAction",
    "GetTask",
    "BatchGetTask",
    "GetJob",
    "BatchGetJob",
    "GetSession",
    "BatchGetSession",
    "GetStep",
    "BatchGetStep",
}


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def farm():
    """The bare RenderFarm (this module's own; it deliberately shadows conftest's ``farm``)."""
    return RenderFarm(seed=42, clock=ManualClock())


@pytest.fixture(scope="module")
def standin(farm):
    with DeadlineStandIn(farm, seed=42) as running:
        yield running


@pytest.fixture(scope="module")
def deadline_env(standin, tmp_path_factory):
    """Fake credentials and the stand-in's endpoint, through the standard SDK environment only."""
    missing = tmp_path_factory.mktemp("aws") / "absent"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_CONFIG_FILE", str(missing))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))
        for name, value in standin.client_env().items():
            mp.setenv(name, value)
        yield standin.client_env()


@pytest.fixture(scope="module")
def session(deadline_env):
    return boto3.session.Session()


def make_client(session, attempts=1, **config):
    # total_max_attempts counts the first call; botocore's Config "max_attempts" counts only retries
    config.setdefault("retries", {"mode": "standard", "total_max_attempts": attempts})
    return session.client("deadline", config=Config(**config))


@pytest.fixture(scope="module")
def deadline(session):
    """No retries: every call is exactly one request."""
    return make_client(session, attempts=1)


@pytest.fixture(autouse=True)
def _clean(request):
    if "standin" not in request.fixturenames:
        yield
        return
    standin = request.getfixturevalue("standin")
    standin.faults.clear()
    standin.reset_calls()
    standin.farm.drain_events()
    yield
    standin.faults.clear()


@pytest.fixture
def no_backoff(monkeypatch):
    """Keep botocore's standard retry mode but make its waits zero; records each computed delay."""
    seen = []
    original = botocore.retries.standard.ExponentialBackoff.delay_amount

    def delay_amount(self, context):
        seen.append((context.attempt_number, context.get_error_code(), original(self, context)))
        return 0

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", delay_amount)
    return seen


def body_of(resp):
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


# --- the wire contract -------------------------------------------------------------------------


def test_routes_and_error_statuses_are_the_botocore_models():
    model = botocore.session.get_session().get_service_model("deadline")
    assert {r.operation for r in ROUTES} == SERVED
    for route in ROUTES:
        http = model.operation_model(route.operation).http
        assert (route.method, route.request_uri) == (http["method"], http["requestUri"])
    for code, status in ERROR_STATUS.items():
        if code != "UnknownOperationException":
            assert model.shape_for(code).metadata["error"]["httpStatusCode"] == status


def test_client_reaches_the_standin_through_the_environment_only(deadline, standin, farm):
    job = farm.create_job("env-check")
    assert deadline.meta.endpoint_url == standin.endpoint_url
    assert deadline.meta.endpoint_url.startswith("http://127.0.0.1:")
    resp = deadline.get_job(**farm.job_ref(job.job_id))  # a "management." host prefix would not resolve
    assert resp["name"] == "env-check"
    assert standin.calls == Counter({"GetJob": 1})


def test_get_session_action_has_the_reference_shape_and_types(deadline, farm):
    reference = json.loads((EVENTS_DIR / "get-session-action-failed.json").read_text())
    job = farm.create_job(
        "shot42",
        steps={"Render": [{"Frame": {"int": "12"}, "Scene": {"path": "/mnt/projects/shot42/scene.blend"}}]},
    )
    task = job.tasks[0]
    session = farm.start_session(job.job_id)
    action = farm.add_task_run(session.session_id, task.task_id)
    times = {k: datetime.fromisoformat(reference[k].replace("Z", "+00:00")) for k in ("startedAt", "endedAt", "workerUpdatedAt")}
    farm.set_session_action_status(action.session_action_id, "RUNNING", started_at=times["startedAt"])
    farm.set_session_action_status(
        action.session_action_id,
        "FAILED",
        ended_at=times["endedAt"],
        worker_updated_at=times["workerUpdatedAt"],
        progress_percent=reference["progressPercent"],
        process_exit_code=reference["processExitCode"],
        progress_message=reference["progressMessage"],
    )

    got = body_of(deadline.get_session_action(**farm.session_action_ref(action.session_action_id)))

    expected = dict(reference, **times)
    expected["sessionActionId"] = action.session_action_id
    expected["sessionId"] = session.session_id
    expected["definition"] = {
        "taskRun": dict(reference["definition"]["taskRun"], taskId=task.task_id, stepId=task.step_id)
    }
    assert got == expected
    assert got["startedAt"] == datetime(2026, 11, 20, 18, 41, 2, 118000, tzinfo=timezone.utc)
    assert got["startedAt"].tzinfo is not None
    assert type(got["progressPercent"]) is float and type(got["processExitCode"]) is int
    assert re.fullmatch(r"sessionaction-[0-9a-f]{32}-0", got["sessionActionId"])
    assert got["sessionActionId"].split("-")[1] == got["sessionId"].split("-")[1]


def test_get_task_job_and_session_round_trip(deadline, farm):
    job = farm.create_job("round-trip", steps=["Sim", "Render"], frames=[1, 2, 3], priority=70)
    task = job.steps[1].tasks[2]
    action = farm.run_task(task.task_id, "SUCCEEDED")
    session = farm.session(action.session_id)

    got_task = deadline.get_task(**farm.task_ref(task.task_id))
    assert got_task["taskId"] == task.task_id
    assert re.fullmatch(r"task-[0-9a-f]{32}-2", task.task_id)
    assert task.task_id.split("-")[1] == task.step_id.split("-")[1]
    assert got_task["runStatus"] == "SUCCEEDED"
    assert got_task["latestSessionActionId"] == action.session_action_id
    assert got_task["parameters"] == {"Frame": {"int": "3"}}
    assert isinstance(got_task["createdAt"], datetime) and got_task["endedAt"] >= got_task["startedAt"]

    got_job = deadline.get_job(**farm.job_ref(job.job_id))
    assert (got_job["name"], got_job["priority"], got_job["lifecycleStatus"]) == ("round-trip", 70, "CREATE_COMPLETE")
    assert got_job["taskRunStatus"] == "READY"
    assert got_job["taskRunStatusCounts"]["SUCCEEDED"] == 1
    assert got_job["taskRunStatusCounts"]["READY"] == 5
    assert sum(got_job["taskRunStatusCounts"].values()) == 6

    got_session = deadline.get_session(**farm.session_ref(session.session_id))
    assert got_session["workerId"] == session.worker_id and got_session["fleetId"] == session.fleet_id
    assert re.fullmatch(r"worker-[0-9a-f]{32}", got_session["workerId"])
    assert got_session["log"] == {
        "logDriver": "awslogs",
        "options": {"logGroupName": f"/aws/deadline/{job.farm_id}/{job.queue_id}", "logStreamName": session.session_id},
    }
    assert got_session["lifecycleStatus"] == "STARTED" and "endedAt" not in got_session
    farm.end_session(session.session_id)
    ended = deadline.get_session(**farm.session_ref(session.session_id))
    assert ended["lifecycleStatus"] == "ENDED" and isinstance(ended["endedAt"], datetime)


def test_every_definition_member_and_the_newer_fields_deserialize(deadline, farm):
    job = farm.create_job("defs", frames=[1])
    step = job.steps[0]
    session = farm.start_session(job.job_id)
    limit = {"limitId": "limit-" + "a" * 32, "count": 2}
    manifest = {"outputManifestPath": "manifests/out.json", "outputManifestHash": "abc123"}
    definitions = [
        env_enter_definition(job_environment_id(job.job_id, "Conda")),
        env_exit_definition(step_environment_id(step.step_id, "Licence")),
        sync_input_job_attachments_definition(),
        sync_input_job_attachments_definition(step.step_id),
        task_run_definition(step.step_id, {"Frames": {"chunkInt": "1-10"}, "Scale": 0.5, "Name": "hero"}),
        unknown_definition("stepWarmUp", {"stepId": step.step_id}),
    ]
    actions = [farm.add_session_action(session.session_id, d) for d in definitions]
    farm.set_session_action_status(
        actions[4].session_action_id, "SUCCEEDED", manifests=[manifest], acquired_limits=[limit]
    )

    got = [deadline.get_session_action(**farm.session_action_ref(a.session_action_id))["definition"] for a in actions]

    assert got[0] == {"envEnter": {"environmentId": f"JOB:{job.job_id}:Conda"}}
    assert got[1] == {"envExit": {"environmentId": f"STEP:{step.step_id}:Licence"}}
    assert got[2] == {"syncInputJobAttachments": {}}
    assert got[3] == {"syncInputJobAttachments": {"stepId": step.step_id}}
    assert got[4] == {
        "taskRun": {
            "stepId": step.step_id,
            "parameters": {"Frames": {"chunkInt": "1-10"}, "Scale": {"float": "0.5"}, "Name": {"string": "hero"}},
        }
    }
    assert got[5] == {"SDK_UNKNOWN_MEMBER": {"name": "stepWarmUp"}}
    chunked = deadline.get_session_action(**farm.session_action_ref(actions[4].session_action_id))
    assert chunked["manifests"] == [manifest] and chunked["acquiredLimits"] == [limit]
    assert chunked["progressPercent"] == 100.0
    # a chunked task run (no taskId) moves no task
    assert farm.task(job.task_ids[0]).run_status == "READY"


def test_an_unknown_status_string_passes_through(deadline, farm):
    job = farm.create_job("future")
    action = farm.run_task(job.task_ids[0], "SUCCEEDED")
    farm.set_session_action_status(action.session_action_id, "PAUSED", allow_unknown_status=True, update_task=False)
    assert deadline.get_session_action(**farm.session_action_ref(action.session_action_id))["status"] == "PAUSED"
    with pytest.raises(ValueError):
        farm.set_session_action_status(action.session_action_id, "PAUSD")


# --- listing and batches -----------------------------------------------------------------------


def test_list_session_actions_paginates_and_filters(session, deadline, farm, standin):
    job = farm.create_job("listing", frames=range(1, 7))
    first = farm.start_session(job.job_id)
    farm.add_env_enter(first.session_id, job_environment_id(job.job_id, "Env"), status="SUCCEEDED")
    for task_id in job.task_ids[:4]:
        farm.run_task(task_id, "SUCCEEDED", session_id=first.session_id)
    retried = job.task_ids[4]
    farm.run_task(retried, "FAILED", session_id=first.session_id)
    second = farm.start_session(job.job_id)
    farm.run_task(retried, "SUCCEEDED", session_id=second.session_id)
    standin.reset_calls()

    paginator = deadline.get_paginator("list_session_actions")
    pages = list(paginator.paginate(**farm.job_ref(job.job_id), PaginationConfig={"PageSize": 3}))

    assert [len(p["sessionActions"]) for p in pages] == [3, 3, 1]
    listed = [s["sessionActionId"] for p in pages for s in p["sessionActions"]]
    assert listed == [a.session_action_id for a in first.actions + second.actions]
    assert standin.calls == Counter({"ListSessionActions": 3})
    summary = pages[0]["sessionActions"][1]
    assert {"sessionId", "processExitCode", "progressMessage"}.isdisjoint(summary)
    assert summary["status"] == "SUCCEEDED" and isinstance(summary["endedAt"], datetime)

    by_task = deadline.list_session_actions(**farm.job_ref(job.job_id), taskId=retried)["sessionActions"]
    assert [s["status"] for s in by_task] == ["FAILED", "SUCCEEDED"]
    assert {s["definition"]["taskRun"]["taskId"] for s in by_task} == {retried}
    by_session = deadline.list_session_actions(**farm.job_ref(job.job_id), sessionId=second.session_id)
    assert [s["sessionActionId"] for s in by_session["sessionActions"]] == [second.actions[0].session_action_id]
    assert "nextToken" not in by_session

    with pytest.raises(deadline.exceptions.ValidationException) as too_many:
        deadline.list_session_actions(**farm.job_ref(job.job_id), maxResults=101)
    assert too_many.value.response["fieldList"][0]["name"] == "maxResults"
    token = pages[0]["nextToken"]
    with pytest.raises(deadline.exceptions.ValidationException):  # a token of another listing
        deadline.list_session_actions(**farm.job_ref(job.job_id), taskId=retried, nextToken=token)


def test_batch_get_session_action_and_session_report_missing_items(deadline, farm, standin):
    job = farm.create_job("batch", frames=[1, 2])
    a1 = farm.run_task(job.task_ids[0], "SUCCEEDED")
    a2 = farm.run_task(job.task_ids[1], "FAILED", process_exit_code=3)
    missing = dict(farm.session_action_ref(a1.session_action_id), sessionActionId="sessionaction-" + "f" * 32 + "-9")

    resp = deadline.batch_get_session_action(
        identifiers=[farm.session_action_ref(a1.session_action_id), missing, farm.session_action_ref(a2.session_action_id)]
    )

    assert [i["sessionActionId"] for i in resp["sessionActions"]] == [a1.session_action_id, a2.session_action_id]
    item = resp["sessionActions"][1]
    assert (item["farmId"], item["jobId"], item["status"], item["processExitCode"]) == (job.farm_id, job.job_id, "FAILED", 3)
    assert isinstance(item["endedAt"], datetime) and item["sessionId"] == a2.session_id
    assert resp["errors"] == [dict(missing, code="ResourceNotFoundException", message=resp["errors"][0]["message"])]

    sessions = deadline.batch_get_session(
        identifiers=[farm.session_ref(a1.session_id), dict(farm.session_ref(a1.session_id), jobId="job-" + "0" * 32)]
    )
    assert [s["sessionId"] for s in sessions["sessions"]] == [a1.session_id]
    assert sessions["sessions"][0]["log"]["options"]["logStreamName"] == a1.session_id
    assert [e["code"] for e in sessions["errors"]] == ["ResourceNotFoundException"]

    # AccessDeniedException is not a per-item code of BatchGetSession: the whole call fails
    standin.faults.deny(a1.session_id)
    with pytest.raises(deadline.exceptions.AccessDeniedException):
        deadline.batch_get_session(identifiers=[farm.session_ref(a1.session_id)])
    assert standin.calls == Counter({"BatchGetSessionAction": 1, "BatchGetSession": 2})


def test_batch_get_task_and_job_report_per_item_errors(deadline, farm, standin):
    job = farm.create_job("batch-tasks", frames=[1, 2, 3])
    other = farm.create_job("batch-other")
    action = farm.run_task(job.task_ids[0], "FAILED")
    standin.faults.deny(job.task_ids[1])
    standin.faults.fail_resource(job.task_ids[2], "ThrottlingException")

    tasks = deadline.batch_get_task(identifiers=[farm.task_ref(t) for t in job.task_ids])

    assert [t["taskId"] for t in tasks["tasks"]] == [job.task_ids[0]]
    assert tasks["tasks"][0]["latestSessionActionId"] == action.session_action_id
    assert tasks["tasks"][0]["stepId"] == job.steps[0].step_id
    assert [(e["taskId"], e["code"]) for e in tasks["errors"]] == [
        (job.task_ids[1], "AccessDeniedException"),
        (job.task_ids[2], "ThrottlingException"),
    ]
    assert all(e["message"] for e in tasks["errors"])

    jobs = deadline.batch_get_job(
        identifiers=[farm.job_ref(job.job_id), farm.job_ref(other.job_id), dict(farm.job_ref(job.job_id), jobId="job-" + "e" * 32)]
    )
    assert [(j["jobId"], j["name"], j["taskRunStatus"]) for j in jobs["jobs"]] == [
        (job.job_id, "batch-tasks", "READY"),
        (other.job_id, "batch-other", "READY"),
    ]
    assert jobs["jobs"][0]["taskRunStatusCounts"]["FAILED"] == 1
    assert [e["code"] for e in jobs["errors"]] == ["ResourceNotFoundException"]


def test_batch_requests_are_validated(deadline, farm):
    job = farm.create_job("batch-validate")
    good = farm.job_ref(job.job_id)
    with pytest.raises(deadline.exceptions.ValidationException) as too_many:
        deadline.batch_get_job(identifiers=[good] * 101)
    assert too_many.value.response["fieldList"][0]["name"] == "identifiers"
    with pytest.raises(deadline.exceptions.ValidationException) as bad_id:
        deadline.batch_get_job(identifiers=[good, dict(good, jobId="job-XYZ")])
    assert bad_id.value.response["reason"] == "FIELD_VALIDATION_FAILED"
    assert bad_id.value.response["fieldList"][0]["name"] == "identifiers[1].jobId"


# --- errors ------------------------------------------------------------------------------------


def test_resource_not_found_maps_to_the_modeled_exception(deadline, farm):
    job = farm.create_job("nf")
    ref = dict(farm.task_ref(job.task_ids[0]), taskId=job.task_ids[0][:-1] + "7")
    with pytest.raises(deadline.exceptions.ResourceNotFoundException) as err:
        deadline.get_task(**ref)
    resp = err.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert resp["Error"]["Code"] == "ResourceNotFoundException"
    assert (resp["resourceId"], resp["resourceType"]) == (ref["taskId"], "task")
    assert resp["context"] == {"stepId": ref["stepId"]}
    assert ref["taskId"] in resp["Error"]["Message"]


@pytest.mark.parametrize(
    "code, fields, status, expected",
    [
        (
            "ThrottlingException",
            {"retry_after": 7, "quota_code": "L-12345678", "context": {"operation": "GetJob"}},
            429,
            {"serviceCode": "deadline", "quotaCode": "L-12345678", "retryAfterSeconds": 7, "context": {"operation": "GetJob"}},
        ),
        ("InternalServerErrorException", {"retry_after": 3}, 500, {"retryAfterSeconds": 3}),
        ("AccessDeniedException", {"context": {"reason": "test"}}, 403, {"context": {"reason": "test"}}),
        (
            "ValidationException",
            {"reason": "OTHER", "field_list": [("jobId", "bad")]},
            400,
            {"reason": "OTHER", "fieldList": [{"name": "jobId", "message": "bad"}]},
        ),
    ],
)
def test_injected_errors_map_to_modeled_exceptions_with_their_fields(deadline, farm, standin, code, fields, status, expected):
    job = farm.create_job(f"err-{code}")
    standin.faults.fail_next("GetJob", 1, code, message=f"injected {code}", **fields)
    with pytest.raises(getattr(deadline.exceptions, code)) as err:
        deadline.get_job(**farm.job_ref(job.job_id))
    resp = err.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status
    assert resp["Error"] == {"Code": code, "Message": f"injected {code}"}
    assert {k: resp[k] for k in expected} == expected
    if "retryAfterSeconds" in expected:
        assert resp["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == str(expected["retryAfterSeconds"])
    assert standin.faults.injected == Counter({("GetJob", code): 1})
    assert deadline.get_job(**farm.job_ref(job.job_id))["name"] == f"err-{code}"  # only the next call failed


def test_real_validation_and_access_denied(deadline, farm, standin):
    job = farm.create_job("denied")
    with pytest.raises(deadline.exceptions.ValidationException) as bad:
        deadline.get_job(farmId="farm-123", queueId=job.queue_id, jobId=job.job_id)
    assert bad.value.response["fieldList"] == [
        {"name": "farmId", "message": "Member must satisfy regular expression pattern: farm-[0-9a-f]{32}"}
    ]
    standin.faults.deny(job.job_id)
    with pytest.raises(deadline.exceptions.AccessDeniedException) as denied:
        deadline.get_job(**farm.job_ref(job.job_id))
    assert "deadline:GetJob" in denied.value.response["Error"]["Message"]
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    standin.faults.allow(job.job_id)
    assert deadline.get_job(**farm.job_ref(job.job_id))["jobId"] == job.job_id


def test_wire_timestamps_are_iso8601_with_milliseconds(standin, farm):
    job = farm.create_job("wire")
    ref = farm.job_ref(job.job_id)
    url = f"{standin.endpoint_url}/2023-10-12/farms/{ref['farmId']}/queues/{ref['queueId']}/jobs/{ref['jobId']}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
        raw = json.loads(resp.read())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", raw["createdAt"])
    assert raw["jobId"] == job.job_id and raw["taskRunStatusCounts"]["READY"] == 1


def test_unknown_route_and_unparseable_body_get_error_shapes(standin):
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(f"{standin.endpoint_url}/2023-10-12/farms", timeout=5)
    assert unknown.value.code == 404
    assert unknown.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "message" in json.loads(unknown.value.read())

    bad = urllib.request.Request(f"{standin.endpoint_url}/2023-10-12/batch-get-job", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as unparseable:
        urllib.request.urlopen(bad, timeout=5)
    assert unparseable.value.code == 400
    assert json.loads(unparseable.value.read())["reason"] == "CANNOT_PARSE"
    assert standin.calls == Counter({"UnknownOperation": 1, "BatchGetJob": 1})


# --- retries, timeouts, determinism ------------------------------------------------------------


def test_injected_throttling_is_retried_by_standard_mode(session, farm, standin, no_backoff):
    client = make_client(session, attempts=5)
    job = farm.create_job("retry")
    standin.faults.fail_next("GetTask", 2, "ThrottlingException")

    resp = client.get_task(**farm.task_ref(job.task_ids[0]))

    assert resp["runStatus"] == "READY"
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2
    assert standin.calls == Counter({"GetTask": 3})
    assert [r.status for r in standin.call_log] == [429, 429, 200]
    assert [(attempt, code) for attempt, code, _ in no_backoff] == [(1, "ThrottlingException"), (2, "ThrottlingException")]

    standin.reset_calls()
    standin.faults.fail_next("GetTask", 5, "InternalServerErrorException")
    with pytest.raises(client.exceptions.InternalServerErrorException) as exhausted:
        client.get_task(**farm.task_ref(job.task_ids[0]))
    assert exhausted.value.response["ResponseMetadata"]["RetryAttempts"] == 4
    assert standin.calls == Counter({"GetTask": 5})


def test_seeded_error_rate_is_deterministic(deadline, farm, standin):
    job = farm.create_job("rate")
    ref = farm.job_ref(job.job_id)

    def outcomes():
        seen = []
        for _ in range(30):
            try:
                deadline.get_job(**ref)
                seen.append("ok")
            except ClientError as err:
                seen.append(err.response["Error"]["Code"])
        return seen

    standin.faults.error_rate("GetJob", throttling=0.3, internal_error=0.2)
    first = outcomes()
    standin.faults.clear()  # resets the generator to its seed
    standin.faults.error_rate("GetJob", throttling=0.3, internal_error=0.2)
    second = outcomes()

    assert first == second
    assert {"ok", "ThrottlingException", "InternalServerErrorException"} == set(first)
    assert standin.faults.injected[("GetJob", "ThrottlingException")] == first.count("ThrottlingException")
    assert deadline.get_task(**farm.task_ref(job.task_ids[0]))["taskId"]  # other operations untouched


def test_delays_provoke_read_timeouts_and_retries_recover(session, farm, standin, no_backoff):
    job = farm.create_job("slow")
    ref = farm.task_ref(job.task_ids[0])
    impatient = make_client(session, attempts=1, read_timeout=0.2, connect_timeout=1)
    standin.faults.delay("GetTask", 0.6)
    with pytest.raises(ReadTimeoutError):
        impatient.get_task(**ref)
    standin.faults.delay("GetTask", 0)

    standin.reset_calls()
    standin.faults.delay_next("GetTask", 0.6, count=1)
    patient = make_client(session, attempts=3, read_timeout=0.2, connect_timeout=1)
    assert patient.get_task(**ref)["taskId"] == job.task_ids[0]
    assert standin.calls["GetTask"] == 2


def test_concurrent_reads_while_the_farm_changes(session, farm, standin):
    client = make_client(session, attempts=1, max_pool_connections=8)
    job = farm.create_job("concurrent", frames=range(40))
    refs = [farm.task_ref(t) for t in job.task_ids]
    stop = threading.Event()

    def mutate():
        for task_id in job.task_ids:
            if stop.is_set():
                return
            farm.run_task(task_id, "SUCCEEDED")

    writer = threading.Thread(target=mutate)
    writer.start()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda r: client.get_task(**r)["runStatus"], refs * 5))
    stop.set()
    writer.join()

    assert len(statuses) == 200 and set(statuses) <= {"READY", "ASSIGNED", "RUNNING", "SUCCEEDED"}
    assert standin.calls == Counter({"GetTask": 200})
    assert all(r.status == 200 for r in standin.call_log)


# --- events ------------------------------------------------------------------------------------


def test_status_changes_emit_deadline_events_with_the_reference_envelope(farm):
    task_ref_event = json.loads((EVENTS_DIR / "task-run-failed.json").read_text())
    job_ref_event = json.loads((EVENTS_DIR / "job-run-failed.json").read_text())
    job = farm.create_job("events", frames=[1, 2])
    farm.drain_events()

    action = farm.run_task(job.task_ids[0], "FAILED", process_exit_code=139)
    events = farm.drain_events()

    assert farm.drain_events() == []
    tasks = [e for e in events if e["detail-type"] == "Task Run Status Change"]
    jobs = [e for e in events if e["detail-type"] == "Job Run Status Change"]
    assert [(e["detail"]["previousRunStatus"], e["detail"]["runStatus"]) for e in tasks] == [
        ("READY", "ASSIGNED"),
        ("ASSIGNED", "RUNNING"),
        ("RUNNING", "FAILED"),
    ]
    assert [(e["detail"]["previousTaskRunStatus"], e["detail"]["taskRunStatus"]) for e in jobs] == [
        ("READY", "ASSIGNED"),
        ("ASSIGNED", "RUNNING"),
        ("RUNNING", "READY"),  # the other frame is still to do
    ]
    assert events.index(tasks[-1]) < events.index(jobs[-1])
    for event, reference in [(tasks[-1], task_ref_event), (jobs[-1], job_ref_event)]:
        assert set(event) == set(reference)
        assert set(event["detail"]) == set(reference["detail"])
        assert {k: event[k] for k in ("version", "source", "account", "region", "resources")} == {
            k: reference[k] for k in ("version", "source", "account", "region", "resources")
        }
        assert uuid.UUID(event["id"]).version == 4
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert tasks[-1]["detail"] == {
        "farmId": job.farm_id,
        "queueId": job.queue_id,
        "jobId": job.job_id,
        "stepId": job.steps[0].step_id,
        "taskId": job.task_ids[0],
        "previousRunStatus": "RUNNING",
        "runStatus": "FAILED",
    }
    counts = jobs[-1]["detail"]["taskRunStatusCounts"]
    assert list(counts) == list(job_ref_event["detail"]["taskRunStatusCounts"])
    assert (counts["FAILED"], counts["READY"], sum(counts.values())) == (1, 1, 2)
    assert farm.task(job.task_ids[0]).latest_session_action_id == action.session_action_id

    farm.run_task(job.task_ids[1], "SUCCEEDED")
    last_job = [e for e in farm.drain_events() if e["detail-type"] == "Job Run Status Change"][-1]
    assert (last_job["detail"]["previousTaskRunStatus"], last_job["detail"]["taskRunStatus"]) == ("RUNNING", "FAILED")


def test_env_failure_never_attempts_the_rest_and_fails_their_tasks(deadline, farm):
    job = farm.create_job("env-fail", frames=[1, 2])
    session = farm.start_session(job.job_id)
    env = farm.add_env_enter(session.session_id, job_environment_id(job.job_id, "Conda"))
    runs = [farm.add_task_run(session.session_id, t) for t in job.task_ids]
    farm.drain_events()

    events = farm.fail_session_action(env.session_action_id, progress_message="conda failed")

    assert [e["detail"]["runStatus"] for e in events if e["detail-type"] == "Task Run Status Change"] == ["FAILED", "FAILED"]
    task = deadline.get_task(**farm.task_ref(job.task_ids[1]))
    assert task["runStatus"] == "FAILED" and task["latestSessionActionId"] == runs[1].session_action_id
    latest = deadline.get_session_action(**farm.session_action_ref(task["latestSessionActionId"]))
    assert latest["status"] == "NEVER_ATTEMPTED" and "startedAt" not in latest and "endedAt" not in latest
    listed = deadline.list_session_actions(**farm.job_ref(job.job_id), sessionId=latest["sessionId"])["sessionActions"]
    first_failed = next(s for s in listed if s["status"] == "FAILED")
    assert first_failed["sessionActionId"] == env.session_action_id and "envEnter" in first_failed["definition"]


def test_same_seed_same_ids_and_events():
    def scenario():
        f = RenderFarm(seed=7, clock=ManualClock())
        job = f.create_job("repro", frames=[1, 2])
        f.run_task(job.task_ids[1], "SUCCEEDED")
        return job.job_id, f.drain_events()

    assert scenario() == scenario()
    other = RenderFarm(seed=8).create_job("repro").job_id
    assert other != scenario()[0]


def test_call_counts_show_one_get_task_and_one_get_session_action_per_event(deadline, farm, standin):
    job = farm.create_job("lookup", frames=[1, 2, 3])
    for task_id in job.task_ids:
        farm.run_task(task_id, "SUCCEEDED")
    events = [e for e in farm.drain_events() if e["detail-type"] == "Task Run Status Change" and e["detail"]["runStatus"] == "SUCCEEDED"]
    standin.reset_calls()

    for event in events:
        d = event["detail"]
        task = deadline.get_task(farmId=d["farmId"], queueId=d["queueId"], jobId=d["jobId"], stepId=d["stepId"], taskId=d["taskId"])
        action = deadline.get_session_action(
            farmId=d["farmId"], queueId=d["queueId"], jobId=d["jobId"], sessionActionId=task["latestSessionActionId"]
        )
        assert action["status"] == "SUCCEEDED"

    assert standin.calls == Counter({"GetTask": 3, "GetSessionAction": 3})
    standin.reset_calls()
    assert standin.calls == Counter() and standin.call_log == []


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_serves_a_sample_farm(tmp_path):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.deadline_farm", "--port", "0", "--seed", "3"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
        output = "\n".join(lines)
        endpoint = re.search(r"^export AWS_ENDPOINT_URL_DEADLINE=(\S+)$", output, re.M).group(1)
        assert "export AWS_DISABLE_HOST_PREFIX_INJECTION=true" in output
        job_ref = json.loads(re.search(r"^job:shot42: (\{.*\})$", output, re.M).group(1))
        client = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-west-2"
        ).client("deadline", endpoint_url=endpoint, config=Config(inject_host_prefix=False))
        job = client.get_job(**job_ref)
        assert job["name"] == "shot42" and job["taskRunStatusCounts"]["FAILED"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# --- every response, member by member, against the botocore model --------------------------------

_MODEL = botocore.session.get_session().get_service_model("deadline")
_WIRE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _conformance(value, shape, path="$"):
    """Every way ``value`` (the JSON on the wire) departs from ``shape``: members the model does not have,
    required members missing, enum values, ID patterns, lengths and ranges, types, timestamp format."""
    problems = []
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not an object ({shape.name})"]
        problems += [f"{path}.{k}: not a member of {shape.name}" for k in value if k not in shape.members]
        problems += [f"{path}.{k}: required by {shape.name}, missing" for k in shape.required_members if k not in value]
        if shape.metadata.get("union") and len(value) != 1:
            problems.append(f"{path}: a union ({shape.name}) with {len(value)} members set")
        for key, item in value.items():
            if key in shape.members:
                problems += _conformance(item, shape.members[key], f"{path}.{key}")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list ({shape.name})"]
        for index, item in enumerate(value):
            problems += _conformance(item, shape.member, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: not a map ({shape.name})"]
        for key, item in value.items():
            problems += _conformance(key, shape.key, f"{path}<key>")
            problems += _conformance(item, shape.value, f"{path}[{key}]")
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{path}: {value!r} is not a string ({shape.name})"]
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in {shape.name}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern}")
        if not shape.metadata.get("min", 0) <= len(value) <= shape.metadata.get("max", 1 << 30):
            problems.append(f"{path}: length {len(value)} outside {shape.name}'s")
    elif kind in ("integer", "long"):
        if type(value) is not int:
            return [f"{path}: {value!r} is not an integer ({shape.name})"]
        if not shape.metadata.get("min", -(1 << 63)) <= value <= shape.metadata.get("max", 1 << 63):
            problems.append(f"{path}: {value} outside {shape.name}'s range")
    elif kind in ("float", "double"):
        if type(value) not in (int, float):
            return [f"{path}: {value!r} is not a number ({shape.name})"]
        if not shape.metadata.get("min", float("-inf")) <= value <= shape.metadata.get("max", float("inf")):
            problems.append(f"{path}: {value} outside {shape.name}'s range")
    elif kind == "timestamp":
        if not (isinstance(value, str) and _WIRE_TIME.fullmatch(value)):
            problems.append(f"{path}: {value!r} is not an ISO 8601 timestamp with milliseconds")
    elif kind == "boolean":
        if type(value) is not bool:
            problems.append(f"{path}: {value!r} is not a boolean")
    return problems


def _raw(standin, method, path, body=None):
    request = urllib.request.Request(f"{standin.endpoint_url}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_every_served_response_conforms_to_the_model(farm, standin):
    """The raw JSON of each operation, on a job with every kind of action the function meets: succeeded,
    failed (exit code, message), canceled, a failed environment enter and the NEVER_ATTEMPTED actions behind
    it, an ended session, a retried task; plus per-item errors of every Batch* operation."""
    job = farm.create_job("conformance", steps={"Render": [{"Frame": n, "Scene": {"path": "/mnt/s.blend"}}
                                                           for n in range(1, 6)]}, priority=80)
    ok = farm.run_task(job.task_ids[0], "SUCCEEDED")
    failed = farm.run_task(job.task_ids[1], "FAILED", process_exit_code=139, progress_message="Segmentation fault")
    canceled = farm.run_task(job.task_ids[2], "CANCELED")
    broken = farm.start_session(job.job_id)
    enter = farm.add_env_enter(broken.session_id, job_environment_id(job.job_id, "Conda"), status="RUNNING")
    queued = [farm.add_task_run(broken.session_id, t) for t in job.task_ids[3:]]
    farm.fail_session_action(enter.session_action_id, process_exit_code=1, progress_message="conda: no such package")
    farm.end_session(broken.session_id)
    farm.run_task(job.task_ids[1], "SUCCEEDED")  # the retry
    actions = [ok, failed, canceled, enter] + queued
    assert {a.status for a in actions} >= {"SUCCEEDED", "FAILED", "CANCELED", "NEVER_ATTEMPTED"}
    base = f"/2023-10-12/farms/{job.farm_id}/queues/{job.queue_id}/jobs/{job.job_id}"
    missing_job = "job-" + "0" * 32

    responses = {
        "GetJob": [_raw(standin, "GET", base)],
        "GetTask": [_raw(standin, "GET", f"{base}/steps/{job.steps[0].step_id}/tasks/{t}") for t in job.task_ids],
        "GetSession": [_raw(standin, "GET", f"{base}/sessions/{a.session_id}") for a in (ok, enter)],
        "GetStep": [_raw(standin, "GET", f"{base}/steps/{job.steps[0].step_id}")],
        "BatchGetStep": [_raw(standin, "POST", "/2023-10-12/batch-get-step", {"identifiers": [
            farm.step_ref(job.steps[0].step_id), dict(farm.step_ref(job.steps[0].step_id), jobId=missing_job)]})],
        "GetSessionAction": [_raw(standin, "GET", f"{base}/session-actions/{a.session_action_id}") for a in actions],
        "ListSessionActions": [_raw(standin, "GET", f"{base}/session-actions"),
                               _raw(standin, "GET", f"{base}/session-actions?sessionId={broken.session_id}"),
                               _raw(standin, "GET", f"{base}/session-actions?taskId={job.task_ids[1]}&maxResults=1")],
        "BatchGetJob": [_raw(standin, "POST", "/2023-10-12/batch-get-job", {"identifiers": [
            farm.job_ref(job.job_id), dict(farm.job_ref(job.job_id), jobId=missing_job)]})],
        "BatchGetTask": [_raw(standin, "POST", "/2023-10-12/batch-get-task", {"identifiers": [
            farm.task_ref(t) for t in job.task_ids] + [dict(farm.task_ref(job.task_ids[0]), jobId=missing_job)]})],
        "BatchGetSession": [_raw(standin, "POST", "/2023-10-12/batch-get-session", {"identifiers": [
            farm.session_ref(ok.session_id), farm.session_ref(broken.session_id),
            dict(farm.session_ref(ok.session_id), jobId=missing_job)]})],
        "BatchGetSessionAction": [_raw(standin, "POST", "/2023-10-12/batch-get-session-action", {"identifiers": [
            farm.session_action_ref(a.session_action_id) for a in actions]
            + [dict(farm.session_action_ref(ok.session_action_id), jobId=missing_job)]})],
    }
    problems = []
    for operation, bodies in responses.items():
        shape = _MODEL.operation_model(operation).output_shape
        for body in bodies:
            problems += [f"{operation}: {p}" for p in _conformance(body, shape)]
    assert problems == []
    # what the function relies on is there, by the model's names
    assert responses["GetSession"][1]["log"] == {"logDriver": "awslogs", "options": {
        "logGroupName": f"/aws/deadline/{job.farm_id}/{job.queue_id}", "logStreamName": broken.session_id}}
    by_session = responses["ListSessionActions"][1]["sessionActions"]
    assert [s["sessionActionId"] for s in by_session] == [enter.session_action_id] + [a.session_action_id for a in queued]
    assert [s["status"] for s in by_session] == ["FAILED"] + ["NEVER_ATTEMPTED"] * len(queued)
    assert "nextToken" in responses["ListSessionActions"][2]
    for operation, key in (("BatchGetJob", "jobs"), ("BatchGetTask", "tasks"), ("BatchGetSession", "sessions"),
                           ("BatchGetSessionAction", "sessionActions"), ("BatchGetStep", "steps")):
        [body] = responses[operation]
        assert [e["code"] for e in body["errors"]] == ["ResourceNotFoundException"], operation
        assert body["errors"][0]["jobId"] == missing_job and body["errors"][0]["message"], operation
        assert len(body[key]) >= 1, operation
    job_item = responses["BatchGetJob"][0]["jobs"][0]
    assert (job_item["name"], job_item["priority"]) == ("conformance", 80)
    assert responses["GetStep"][0]["name"] == "Render" == responses["BatchGetStep"][0]["steps"][0]["name"]


@pytest.mark.parametrize("operation, item_codes", [
    ("BatchGetSessionAction", ("InternalServerErrorException", "ResourceNotFoundException", "ValidationException")),
    ("BatchGetSession", ("InternalServerErrorException", "ResourceNotFoundException", "ValidationException")),
    ("BatchGetTask", ("InternalServerErrorException", "ResourceNotFoundException", "ValidationException",
                      "AccessDeniedException", "ThrottlingException")),
    ("BatchGetJob", ("InternalServerErrorException", "ResourceNotFoundException", "ValidationException",
                     "AccessDeniedException", "ThrottlingException")),
    ("BatchGetStep", ("InternalServerErrorException", "ResourceNotFoundException", "ValidationException",
                      "AccessDeniedException", "ThrottlingException")),
])
def test_batch_faults_per_item_or_for_the_whole_call_as_the_model_says(deadline, farm, standin, operation, item_codes):
    """A fault on one identifier is a per-item error when the operation's error code enum has it, else the
    whole call fails with the modeled exception; operation-level faults fail the call; every request counts."""
    model_codes = _MODEL.operation_model(operation).output_shape.members["errors"].member.members["code"].enum
    assert sorted(item_codes) == sorted(model_codes)
    job = farm.create_job(f"faults-{operation}", frames=[1, 2])
    actions = [farm.run_task(t, "FAILED") for t in job.task_ids]
    refs = {
        "BatchGetSessionAction": [farm.session_action_ref(a.session_action_id) for a in actions],
        "BatchGetSession": [farm.session_ref(a.session_id) for a in actions],
        "BatchGetTask": [farm.task_ref(t) for t in job.task_ids],
        "BatchGetJob": [farm.job_ref(job.job_id), farm.job_ref(farm.create_job("faults-other").job_id)],
        "BatchGetStep": [farm.step_ref(job.steps[0].step_id),
                         farm.step_ref(farm.create_job("faults-other-step").steps[0].step_id)],
    }[operation]
    target = list(refs[1].values())[-1]  # the second item's own id
    call = getattr(deadline, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
    standin.reset_calls()

    for code in ("InternalServerErrorException", "ThrottlingException", "AccessDeniedException"):
        standin.faults.clear()
        standin.faults.fail_resource(target, code)
        if code in item_codes:
            answer = call(identifiers=refs)
            assert [e["code"] for e in answer["errors"]] == [code], (operation, code)
            assert answer["errors"][0] == dict(refs[1], code=code, message=answer["errors"][0]["message"])
            assert len(next(v for k, v in answer.items() if k not in ("errors", "ResponseMetadata"))) == 1
        else:
            with pytest.raises(getattr(deadline.exceptions, code)):
                call(identifiers=refs)
    standin.faults.clear()
    standin.faults.fail_next(operation, 1, "ThrottlingException")
    with pytest.raises(deadline.exceptions.ThrottlingException):
        call(identifiers=refs)
    assert len(next(v for k, v in call(identifiers=refs).items() if k not in ("errors", "ResponseMetadata"))) == 2

    summary = standin.call_summary()[operation]
    assert summary["calls"] == 5 and summary["items"] == 10
    assert summary["ok"] == 1 + sum(1 for c in ("InternalServerErrorException", "ThrottlingException",
                                                "AccessDeniedException") if c in item_codes)
    assert standin.calls[operation] == 5
    assert all(r.items == 2 for r in standin.call_log)


def test_call_summary_counts_requests_errors_and_items(deadline, farm, standin):
    job = farm.create_job("summary", frames=[1, 2, 3])
    standin.faults.fail_next("GetJob", 1, "ThrottlingException")
    with pytest.raises(deadline.exceptions.ThrottlingException):
        deadline.get_job(**farm.job_ref(job.job_id))
    deadline.get_job(**farm.job_ref(job.job_id))
    deadline.batch_get_task(identifiers=[farm.task_ref(t) for t in job.task_ids])
    assert standin.call_summary() == {
        "GetJob": {"calls": 2, "ok": 1, "errors": {"ThrottlingException": 1}},
        "BatchGetTask": {"calls": 1, "ok": 1, "errors": {}, "items": 3},
    }
    assert [r.items for r in standin.call_log] == [None, None, 3]
