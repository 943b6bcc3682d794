"""Enrichment (pure): GetJob / GetSession answers, log and monitor links, the root cause, the enriched record."""

import copy
import json
import random
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import botocore.parsers
import botocore.session
import pytest
from hypothesis import given, settings, strategies as st

from local.deadline_farm import RenderFarm, job_environment_id
from session_watch.domain.enrichment import (
    ENRICHMENT_FIELDS,
    ROOT_CAUSE_FIELDS,
    JobInfo,
    SessionInfo,
    default_session_info,
    enrich,
    first_failed_action_id,
    job_info,
    logs_console_url,
    monitor_job_url,
    needs_root_cause,
    root_cause,
    session_info,
)
from session_watch.domain.normalise import normalise_session_action
from session_watch.domain.record import RECORD_FIELDS
from session_watch.errors import MalformedSessionActionError
from tests.hypothesis_profiles import examples

FARM = "farm-" + "0" * 32
QUEUE = "queue-" + "1" * 32
JOB = "job-" + "2" * 32
SESSION = "session-" + "3" * 32
FALLBACK_GROUP = f"/aws/deadline/{FARM}/{QUEUE}"
_MODEL = botocore.session.get_session().get_service_model("deadline")


def as_boto3(operation: str, wire: dict) -> dict:
    """``wire`` (the service's JSON body) parsed by botocore exactly as boto3 would return it."""
    parser = botocore.parsers.create_parser("rest-json")
    response = {"status_code": 200, "headers": {}, "body": json.dumps(wire).encode()}
    return parser.parse(response, _MODEL.operation_model(operation).output_shape)


def record(**overrides):
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId=FARM, queueId=QUEUE, jobId=JOB, sessionId=SESSION,
             sessionActionId="sessionaction-" + "3" * 32 + "-4", status="NEVER_ATTEMPTED", outcome="failure",
             terminal=True, actionType="taskRun", stepId="step-" + "5" * 32, taskId="task-" + "5" * 32 + "-12",
             parameters={"Frame": 12}, parameterTypes={"Frame": "int"})
    r.update(overrides)
    return r


# --- the contract ----------------------------------------------------------------------------------


def test_enrichment_fields_are_the_last_record_fields_in_the_documented_order():
    assert ENRICHMENT_FIELDS == ("jobName", "jobPriority", "stepName", "workerId", "fleetId", "logGroup",
                                 "logStream", "logsUrl", "logExcerpt", "monitorUrl", "rootCause",
                                 "enrichmentMissing")
    assert RECORD_FIELDS[-len(ENRICHMENT_FIELDS):] == ENRICHMENT_FIELDS
    assert RECORD_FIELDS[:2] == ("farmId", "queueId") and len(set(RECORD_FIELDS)) == len(RECORD_FIELDS)
    assert ROOT_CAUSE_FIELDS == ("sessionActionId", "sessionId", "actionType", "status", "environmentId",
                                 "stepId", "taskId", "processExitCode", "progressMessage", "endedAt")


# --- GetJob ----------------------------------------------------------------------------------------


def test_job_info_from_a_get_job_answer_as_boto3_returns_it():
    answer = as_boto3("GetJob", {
        "jobId": JOB, "name": "shot-042_lighting", "priority": 75, "lifecycleStatus": "CREATE_COMPLETE",
        "lifecycleStatusMessage": "ok", "createdAt": 1795683600, "createdBy": "arn:aws:iam::1:user/a",
        "taskRunStatus": "FAILED", "taskRunStatusCounts": {"FAILED": 3}, "startedAt": 1795683601.5,
    })
    assert isinstance(answer["createdAt"], datetime)  # botocore made a datetime of it
    assert job_info(answer) == JobInfo(job_id=JOB, name="shot-042_lighting", priority=75)


def test_job_info_from_a_batch_get_job_item_and_the_local_farm():
    item = as_boto3("BatchGetJob", {"jobs": [{
        "farmId": FARM, "queueId": QUEUE, "jobId": JOB, "name": "n", "priority": 0,
        "lifecycleStatus": "CREATE_COMPLETE", "lifecycleStatusMessage": "", "createdAt": 1, "createdBy": "me",
    }], "errors": []})["jobs"][0]
    assert job_info(item) == JobInfo(JOB, "n", 0)

    farm = RenderFarm(seed=3)
    job = farm.create_job("shot042", frames=[1], priority=33)
    assert job_info(farm.describe_job(**_snake(farm.job_ref(job.job_id)))) == JobInfo(job.job_id, "shot042", 33)


def _snake(ref):
    return {"farm_id": ref["farmId"], "queue_id": ref["queueId"], "job_id": ref["jobId"],
            **({"session_id": ref["sessionId"]} if "sessionId" in ref else {})}


def test_job_info_tolerates_absent_optional_fields_and_cuts_an_overlong_name():
    assert job_info({"jobId": JOB}) == JobInfo(JOB, None, None)
    long = job_info({"jobId": JOB, "name": "n" * 5000})
    assert len(long.name) == 512 and long.name.endswith("\u2026")


@pytest.mark.parametrize("answer, field", [
    ({"jobId": JOB, "name": 42}, "name"),
    ({"jobId": JOB, "name": ["a"]}, "name"),
    ({"jobId": JOB, "priority": "50"}, "priority"),
    ({"jobId": JOB, "priority": True}, "priority"),
    ({"jobId": JOB, "priority": 50.0}, "priority"),
    ({"jobId": JOB, "priority": 2**40}, "priority"),
    ({"name": "x"}, "jobId"),
    ({"jobId": 7}, "jobId"),
    ("not an object", "job"),
])
def test_job_info_names_the_field_of_a_bad_answer(answer, field):
    with pytest.raises(MalformedSessionActionError) as raised:
        job_info(answer)
    assert raised.value.field == field


# --- GetSession --------------------------------------------------------------------------------------


def session_wire(**log):
    wire = {"sessionId": SESSION, "fleetId": "fleet-" + "a" * 32, "workerId": "worker-" + "b" * 32,
            "startedAt": 1795683600, "lifecycleStatus": "ENDED"}
    if log:
        wire["log"] = log["log"]
    return wire


def test_session_info_reads_the_awslogs_location_from_a_boto3_answer():
    answer = as_boto3("GetSession", session_wire(log={
        "logDriver": "awslogs",
        "options": {"logGroupName": "/custom/group", "logStreamName": "custom-stream"},
        "parameters": {"interval": "15"}, "error": None,
    }))
    assert session_info(answer, farm_id=FARM, queue_id=QUEUE) == SessionInfo(
        session_id=SESSION, worker_id="worker-" + "b" * 32, fleet_id="fleet-" + "a" * 32,
        log_group="/custom/group", log_stream="custom-stream")


@pytest.mark.parametrize("log", [
    None,
    {"logDriver": "splunk", "options": {"logGroupName": "/elsewhere", "logStreamName": "s"}},
    {"logDriver": "awslogs"},
    {"logDriver": "awslogs", "options": {}},
    {"logDriver": "awslogs", "error": "AccessDenied"},
])
def test_session_info_falls_back_to_the_default_location(log):
    answer = session_wire(**({"log": log} if log is not None else {}))
    info = session_info(answer, farm_id=FARM, queue_id=QUEUE)
    assert (info.log_group, info.log_stream) == (FALLBACK_GROUP, SESSION)
    assert info.worker_id == "worker-" + "b" * 32


def test_session_info_falls_back_part_by_part():
    answer = session_wire(log={"logDriver": "awslogs", "options": {"logGroupName": "/only/group"}})
    info = session_info(answer, farm_id=FARM, queue_id=QUEUE)
    assert (info.log_group, info.log_stream) == ("/only/group", SESSION)


def test_session_info_from_the_local_farm():
    farm = RenderFarm(seed=4)
    job = farm.create_job("shot", frames=[1])
    action = farm.run_task(job.task_ids[0], "FAILED")
    ref = farm.session_ref(action.session_id)
    info = session_info(farm.describe_session(**_snake(ref)), farm_id=ref["farmId"], queue_id=ref["queueId"])
    assert info.session_id == action.session_id and info.worker_id and info.fleet_id
    assert (info.log_group, info.log_stream) == (f"/aws/deadline/{ref['farmId']}/{ref['queueId']}", action.session_id)


@pytest.mark.parametrize("answer, field", [
    ({"workerId": "w"}, "sessionId"),
    ({"sessionId": SESSION, "workerId": 5}, "workerId"),
    ({"sessionId": SESSION, "fleetId": {"id": 1}}, "fleetId"),
    ({"sessionId": SESSION, "log": "awslogs"}, "log"),
    ({"sessionId": SESSION, "log": {"logDriver": 1}}, "log.logDriver"),
    ({"sessionId": SESSION, "log": {"logDriver": "awslogs", "options": ["x"]}}, "log.options"),
    ({"sessionId": SESSION, "log": {"logDriver": "awslogs", "options": {"logGroupName": 3}}},
     "log.options.logGroupName"),
    ({"sessionId": SESSION, "log": {"logDriver": "awslogs", "options": {"logStreamName": b"s"}}},
     "log.options.logStreamName"),
    ([], "session"),
])
def test_session_info_names_the_field_of_a_bad_answer(answer, field):
    with pytest.raises(MalformedSessionActionError) as raised:
        session_info(answer, farm_id=FARM, queue_id=QUEUE)
    assert raised.value.field == field


def test_default_session_info():
    assert default_session_info(FARM, QUEUE, SESSION) == SessionInfo(SESSION, None, None, FALLBACK_GROUP, SESSION)


# --- links -----------------------------------------------------------------------------------------


def test_logs_console_url_uses_the_consoles_double_encoding():
    url = logs_console_url("us-west-2", FALLBACK_GROUP, SESSION)
    assert url == (
        "https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2"
        f"#logsV2:log-groups/log-group/$252Faws$252Fdeadline$252F{FARM}$252F{QUEUE}/log-events/{SESSION}"
    )


@pytest.mark.parametrize("partition, host", [
    ("aws", "eu-central-1.console.aws.amazon.com"),
    ("aws-cn", "eu-central-1.console.amazonaws.cn"),
    ("aws-us-gov", "eu-central-1.console.amazonaws-us-gov.com"),
])
def test_logs_console_url_per_partition(partition, host):
    url = logs_console_url("eu-central-1", "/g", "s", partition)
    assert url.startswith(f"https://{host}/cloudwatch/home?region=eu-central-1#logsV2:")


def test_logs_console_url_without_a_region_or_console_is_none_and_without_a_stream_is_the_group():
    assert logs_console_url(None, "/g", "s") is None
    assert logs_console_url("", "/g", "s") is None
    assert logs_console_url("us-isob-east-1", "/g", "s", "aws-iso-b") is None  # no public console
    assert logs_console_url("us-east-1", "/g", None).endswith("#logsV2:log-groups/log-group/$252Fg")


@settings(max_examples=examples(300), deadline=None)
@given(group=st.text(min_size=1, max_size=80), stream=st.text(min_size=1, max_size=80))
def test_logs_console_url_round_trips_any_names(group, stream):
    url = logs_console_url("us-west-2", group, stream)
    fragment = url.split("#logsV2:log-groups/log-group/", 1)[1]
    encoded_group, encoded_stream = fragment.split("/log-events/")
    for encoded, name in ((encoded_group, group), (encoded_stream, stream)):
        assert all(c.isalnum() or c in "$-_.~" for c in encoded), encoded  # nothing a mail client breaks on
        assert unquote(unquote(encoded.replace("$", "%"))) == name


def test_monitor_job_url():
    assert monitor_job_url(None, FARM, QUEUE, JOB) is None
    assert monitor_job_url("", FARM, QUEUE, JOB) is None
    expected = f"https://acme.deadlinecloud.amazonaws.com/farms/{FARM}/queues/{QUEUE}/jobs/{JOB}"
    assert monitor_job_url("https://acme.deadlinecloud.amazonaws.com", FARM, QUEUE, JOB) == expected
    assert monitor_job_url("https://acme.deadlinecloud.amazonaws.com/", FARM, QUEUE, JOB) == expected
    templated = "https://m.example/#/jobs/{jobId}?farm={farmId}&queue={queueId}"
    assert monitor_job_url(templated, FARM, QUEUE, JOB) == f"https://m.example/#/jobs/{JOB}?farm={FARM}&queue={QUEUE}"
    # a link that already names the job is kept: applying it twice changes nothing
    assert monitor_job_url(expected, FARM, QUEUE, JOB) == expected
    assert "not verified" in monitor_job_url.__doc__.lower()


# --- root cause -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status, outcome, task_status, expected", [
    ("NEVER_ATTEMPTED", "failure", None, True),
    ("NEVER_ATTEMPTED", "failure", "FAILED", True),
    ("INTERRUPTED", "failure", "FAILED", True),
    ("CANCELED", "failure", "FAILED", True),
    ("INTERRUPTED", "failure", None, False),
    ("INTERRUPTED", "failure", "CANCELED", False),
    ("FAILED", "failure", "FAILED", False),
    ("SUCCEEDED", "completion", "FAILED", False),
    ("RUNNING", "in_progress", "FAILED", False),
])
def test_needs_root_cause(status, outcome, task_status, expected):
    assert needs_root_cause(record(status=status, outcome=outcome), task_status) is expected


def test_no_root_cause_without_a_session_to_look_in():
    assert needs_root_cause(record(sessionId=None), "FAILED") is False


T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def summary(n, status="FAILED", **times):
    out = {"sessionActionId": f"sessionaction-{'3' * 32}-{n}", "status": status,
           "definition": {"taskRun": {"stepId": "step-" + "5" * 32}}}
    out.update(times)
    return out


def test_first_failed_action_is_the_earliest_started_failure():
    summaries = [
        summary(3, startedAt=T0 + timedelta(seconds=30), endedAt=T0 + timedelta(seconds=31)),
        summary(0, status="SUCCEEDED", startedAt=T0),
        summary(1, startedAt=T0 + timedelta(seconds=5), endedAt=T0 + timedelta(seconds=40)),
        summary(2, status="NEVER_ATTEMPTED"),
    ]
    assert first_failed_action_id(summaries) == summaries[2]["sessionActionId"]


def test_first_failed_action_without_start_uses_end_then_worker_time_and_timeless_ones_come_last():
    summaries = [
        summary(1),  # no time at all
        summary(2, workerUpdatedAt=T0 + timedelta(seconds=9)),
        summary(3, endedAt=T0 + timedelta(seconds=8)),
    ]
    assert first_failed_action_id(summaries) == summaries[2]["sessionActionId"]
    assert first_failed_action_id(summaries[:2]) == summaries[1]["sessionActionId"]
    assert first_failed_action_id(summaries[:1]) == summaries[0]["sessionActionId"]


def test_first_failed_action_ties_break_on_the_id_number_not_its_text():
    summaries = [summary(10, startedAt=T0), summary(9, startedAt=T0), summary(11)]
    assert first_failed_action_id(summaries).endswith("-9")
    assert first_failed_action_id([summary(10), summary(9)]).endswith("-9")


def test_first_failed_action_reads_iso_text_naive_datetimes_and_skips_junk():
    summaries = [
        "junk", {"status": "FAILED"}, {"status": "FAILED", "sessionActionId": 5},
        summary(7, startedAt="2026-11-20T09:00:05Z"),
        summary(8, startedAt=datetime(2026, 11, 20, 9, 0, 1)),  # naive: UTC
        summary(6, startedAt="not a time", endedAt="2026-11-20T09:00:09.000Z"),
    ]
    assert first_failed_action_id(summaries).endswith("-8")
    assert first_failed_action_id([]) is None
    assert first_failed_action_id([summary(1, status="SUCCEEDED")]) is None


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["FAILED", "SUCCEEDED", "NEVER_ATTEMPTED"]),
                          st.one_of(st.none(), st.integers(0, 5))), max_size=12, unique_by=lambda t: t[0]),
       st.randoms())
def test_first_failed_action_is_the_minimum_whatever_the_order(specs, rnd):
    summaries = [summary(n, status, **({"startedAt": T0 + timedelta(seconds=s)} if s is not None else {}))
                 for n, status, s in specs]
    failed = [(s is None, s or 0, n) for n, status, s in specs if status == "FAILED"]
    expected = f"sessionaction-{'3' * 32}-{min(failed)[2]}" if failed else None
    shuffled = list(summaries)
    rnd.shuffle(shuffled)
    assert first_failed_action_id(summaries) == first_failed_action_id(shuffled) == expected


def test_root_cause_of_a_failed_environment_enter_on_the_local_farm():
    """An environment enter fails; the session's later actions end NEVER_ATTEMPTED. ListSessionActions
    (sessionId) gives the env enter as the first failure and its record gives the rootCause."""
    farm = RenderFarm(seed=5)
    job = farm.create_job("shot", frames=[1, 2, 3])
    session = farm.start_session(job.job_id)
    enter = farm.add_env_enter(session.session_id, job_environment_id(job.job_id, "Setup"))
    tasks = [farm.add_task_run(session.session_id, task_id) for task_id in job.task_ids]
    farm.set_session_action_status(enter.session_action_id, "RUNNING")
    farm.fail_session_action(enter.session_action_id, process_exit_code=2, progress_message="conda: not found")
    ids = dict(farm_id=job.farm_id, queue_id=job.queue_id, job_id=job.job_id)

    summaries = farm.list_session_actions(**ids, session_id=session.session_id)
    random.Random(1).shuffle(summaries)
    first = first_failed_action_id(summaries)
    assert first == enter.session_action_id

    failed = normalise_session_action(farm.describe_session_action(**ids, session_action_id=first), **ids)
    cause = root_cause(failed)
    assert list(cause) == list(ROOT_CAUSE_FIELDS)
    assert cause["actionType"] == "envEnter" and cause["status"] == "FAILED"
    assert cause["environmentId"] == job_environment_id(job.job_id, "Setup")
    assert cause["processExitCode"] == 2 and cause["progressMessage"] == "conda: not found"
    assert cause["sessionId"] == session.session_id and cause["endedAt"]

    never = normalise_session_action(
        farm.describe_session_action(**ids, session_action_id=tasks[0].session_action_id), **ids)
    assert never["status"] == "NEVER_ATTEMPTED" and needs_root_cause(never, "FAILED")


# --- enrich --------------------------------------------------------------------------------------------


def test_enrich_fills_every_enrichment_field_and_leaves_the_input_alone():
    original = record()
    before = copy.deepcopy(original)
    cause = dict.fromkeys(ROOT_CAUSE_FIELDS, None) | {"sessionActionId": "sessionaction-" + "3" * 32 + "-0",
                                                       "status": "FAILED", "actionType": "envEnter"}
    session = SessionInfo(SESSION, "worker-" + "b" * 32, "fleet-" + "a" * 32, "/g", "stream")
    enriched = enrich(original, job=JobInfo(JOB, "shot-042", 50), session=session, root_cause=cause,
                      region="us-west-2", partition="aws", monitor_url="https://m.example",
                      missing=[])
    assert original == before and enriched is not original
    assert list(enriched) == list(RECORD_FIELDS)
    assert {k: enriched[k] for k in RECORD_FIELDS if k not in ENRICHMENT_FIELDS} == \
        {k: before[k] for k in RECORD_FIELDS if k not in ENRICHMENT_FIELDS}
    assert enriched["jobName"] == "shot-042" and enriched["jobPriority"] == 50
    assert enriched["workerId"] == "worker-" + "b" * 32 and enriched["fleetId"] == "fleet-" + "a" * 32
    assert (enriched["logGroup"], enriched["logStream"]) == ("/g", "stream")
    assert enriched["logsUrl"] == logs_console_url("us-west-2", "/g", "stream")
    assert enriched["monitorUrl"] == f"https://m.example/farms/{FARM}/queues/{QUEUE}/jobs/{JOB}"
    assert enriched["rootCause"] == cause and enriched["rootCause"] is not cause
    assert enriched["enrichmentMissing"] is None
    json.dumps(enriched, allow_nan=False)


def test_enrich_with_nothing_known_uses_the_default_log_location_and_says_what_is_missing():
    enriched = enrich(record(status="FAILED"), job=None, session=None, root_cause=None, region=None,
                      partition="aws", monitor_url=None,
                      missing=["jobName: GetJob ThrottlingException", "workerId: GetSession AccessDeniedException",
                               "jobName: GetJob ThrottlingException"])
    assert enriched["jobName"] is None and enriched["jobPriority"] is None
    assert enriched["workerId"] is None and enriched["fleetId"] is None
    assert (enriched["logGroup"], enriched["logStream"]) == (FALLBACK_GROUP, SESSION)
    assert enriched["logsUrl"] is None and enriched["monitorUrl"] is None and enriched["rootCause"] is None
    assert enriched["enrichmentMissing"] == ["jobName: GetJob ThrottlingException",
                                             "workerId: GetSession AccessDeniedException"]


def test_enrich_root_cause_always_has_every_root_cause_key():
    enriched = enrich(record(), job=None, session=None, root_cause={"sessionActionId": "x", "extra": 1},
                      region="us-east-1", partition="aws", monitor_url=None, missing=())
    assert list(enriched["rootCause"]) == list(ROOT_CAUSE_FIELDS)
    assert enriched["rootCause"]["sessionActionId"] == "x" and enriched["rootCause"]["status"] is None
    assert enriched["logsUrl"].endswith(f"/log-events/{SESSION}")


def test_enrich_an_action_without_session():
    enriched = enrich(record(sessionId=None, actionType="syncInputJobAttachments"), job=None, session=None,
                      root_cause=None, region="us-east-1", partition="aws", monitor_url=None, missing=())
    assert enriched["logGroup"] == FALLBACK_GROUP and enriched["logStream"] is None
    assert enriched["logsUrl"].endswith("#logsV2:log-groups/log-group/" + FALLBACK_GROUP.replace("/", "$252F"))
