"""Input parsing: the accepted inputs (task and job events, session action refs, digest flushes, SQS bodies),
and typed errors naming the field for everything else."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from session_watch.domain.requests import (
    DigestFlush,
    JobRunChange,
    SessionActionRef,
    TaskRunChange,
    is_sqs_batch,
    parse_invocation,
    parse_sqs_body,
)
from session_watch.errors import InvalidEventError, UnsupportedEventError
from tests.hypothesis_profiles import examples

EVENTS = Path(__file__).parent.parent / "events"
IDS = {
    "farmId": "farm-" + "0" * 32,
    "queueId": "queue-" + "1" * 32,
    "jobId": "job-" + "2" * 32,
    "sessionActionId": "sessionaction-" + "3" * 32 + "-4",
}


def task_event():
    return json.loads((EVENTS / "task-run-failed.json").read_text())


def test_deadline_task_run_status_change():
    request = parse_invocation(task_event())
    assert request == TaskRunChange(
        farm_id="farm-0123456789abcdef0123456789abcdef",
        queue_id="queue-0123456789abcdef0123456789abcdef",
        job_id="job-0123456789abcdef0123456789abcdef",
        step_id="step-0123456789abcdef0123456789abcdef",
        task_id="task-0123456789abcdef0123456789abcdef-12",
        run_status="FAILED",
        previous_run_status="RUNNING",
        event_id="6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    )


def test_any_eventbridge_event_with_a_session_action_in_its_detail():
    event = {"source": "my.pipeline", "detail-type": "Render Check", "detail": dict(IDS, extra=1)}
    assert parse_invocation(event) == SessionActionRef(*IDS.values())


def test_direct_or_step_functions_invocation():
    assert parse_invocation(dict(IDS)) == SessionActionRef(*IDS.values())


@pytest.mark.parametrize("key", ["farmId", "queueId", "jobId", "sessionActionId"])
def test_direct_invocation_missing_id_names_it(key):
    event = dict(IDS)
    del event[key]
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event)
    assert raised.value.field == key and "missing" in str(raised.value)


@pytest.mark.parametrize(
    "key, value",
    [("farmId", "farm-xyz"), ("queueId", "QUEUE-" + "1" * 32), ("jobId", 12), ("sessionActionId", "sessionaction-" + "3" * 32)],
)
def test_badly_formed_id_names_the_field(key, value):
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(dict(IDS, **{key: value}))
    assert raised.value.field == key
    assert key in str(raised.value)


@pytest.mark.parametrize("key", ["farmId", "queueId", "jobId", "stepId", "taskId"])
def test_task_event_missing_field_names_its_detail_path(key):
    event = task_event()
    del event["detail"][key]
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event)
    assert raised.value.field == f"detail.{key}"


def test_task_event_bad_run_status():
    event = task_event()
    event["detail"]["runStatus"] = "failed; DROP TABLE"
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event)
    assert raised.value.field == "detail.runStatus"


def test_other_deadline_events_are_unsupported_by_name():
    event = job_event()
    event["detail-type"] = "Step Lifecycle Status Change"
    event["detail"]["stepId"] = "step-" + "5" * 32
    with pytest.raises(UnsupportedEventError) as raised:
        parse_invocation(event)
    assert raised.value.field == "detail-type" and "Step Lifecycle Status Change" in str(raised.value)


# --- Job Run Status Change ---------------------------------------------------------------------------


def job_event():
    return json.loads((EVENTS / "job-run-failed.json").read_text())


def test_deadline_job_run_status_change():
    request = parse_invocation(job_event())
    assert request == JobRunChange(
        farm_id="farm-0123456789abcdef0123456789abcdef",
        queue_id="queue-0123456789abcdef0123456789abcdef",
        job_id="job-0123456789abcdef0123456789abcdef",
        task_run_status="FAILED",
        previous_task_run_status="RUNNING",
        task_run_status_counts={"PENDING": 0, "READY": 0, "ASSIGNED": 0, "STARTING": 0, "SCHEDULED": 0,
                                "INTERRUPTING": 0, "RUNNING": 0, "SUSPENDED": 0, "CANCELED": 0, "FAILED": 3,
                                "SUCCEEDED": 97, "NOT_COMPATIBLE": 0},
        event_id="b3c1f0a2-6f1e-4b7a-9c1d-2f4e5a6b7c8d",
    )
    assert hash(request) == hash(parse_invocation(job_event()))  # usable as a key despite the counts map


def test_job_event_without_previous_status_or_event_id():
    event = job_event()
    del event["detail"]["previousTaskRunStatus"], event["id"]
    request = parse_invocation(event)
    assert request.previous_task_run_status is None and request.event_id is None


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.pop("taskRunStatus"), "detail.taskRunStatus"),
    (lambda d: d.update(taskRunStatus="failed"), "detail.taskRunStatus"),
    (lambda d: d.update(previousTaskRunStatus=3), "detail.previousTaskRunStatus"),
    (lambda d: d.pop("taskRunStatusCounts"), "detail.taskRunStatusCounts"),
    (lambda d: d.update(taskRunStatusCounts=[3, 97]), "detail.taskRunStatusCounts"),
    (lambda d: d["taskRunStatusCounts"].update(FAILED=-1), "detail.taskRunStatusCounts.FAILED"),
    (lambda d: d["taskRunStatusCounts"].update(FAILED="3"), "detail.taskRunStatusCounts.FAILED"),
    (lambda d: d["taskRunStatusCounts"].update(FAILED=3.0), "detail.taskRunStatusCounts.FAILED"),
    (lambda d: d["taskRunStatusCounts"].update(FAILED=True), "detail.taskRunStatusCounts.FAILED"),
    (lambda d: d["taskRunStatusCounts"].update(SUCCEEDED=10**30), "detail.taskRunStatusCounts.SUCCEEDED"),
    (lambda d: d["taskRunStatusCounts"].update({"not-a-status": 1}), "detail.taskRunStatusCounts.not-a-status"),
    (lambda d: d.update(taskRunStatusCounts={f"S{'X' * i}": 1 for i in range(100)}), "detail.taskRunStatusCounts"),
    (lambda d: d.pop("jobId"), "detail.jobId"),
    (lambda d: d.update(farmId="farm-1"), "detail.farmId"),
])
def test_bad_job_event_names_the_field(edit, field):
    event = job_event()
    edit(event["detail"])
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event)
    assert raised.value.field == field
    assert len(str(raised.value)) < 300


@settings(max_examples=examples(300), deadline=None)
@given(st.dictionaries(st.text(max_size=70), st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.none()),
                       max_size=15))
def test_any_counts_map_is_parsed_exactly_or_rejected_naming_the_status(counts):
    event = job_event()
    event["detail"]["taskRunStatusCounts"] = counts
    try:
        request = parse_invocation(event)
    except InvalidEventError as err:
        assert err.field.startswith("detail.taskRunStatusCounts")
        bad = [k for k, v in counts.items()
               if not (k and len(k) <= 64 and all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ_" for c in k))
               or type(v) is not int or not 0 <= v <= 2**53]
        assert bad, counts
        return
    assert request.task_run_status_counts == counts


# --- digest flush ------------------------------------------------------------------------------------


def flush(**overrides):
    body = {"farmId": IDS["farmId"], "queueId": IDS["queueId"], "jobId": IDS["jobId"], "windowStart": 1795683660}
    body.update(overrides)
    return {"digestFlush": body}


def test_digest_flush():
    assert parse_invocation(flush()) == DigestFlush(IDS["farmId"], IDS["queueId"], IDS["jobId"], 1795683660)


@pytest.mark.parametrize("event, field", [
    ({"digestFlush": "now"}, "digestFlush"),
    (flush(windowStart=None), "digestFlush.windowStart"),
    (flush(windowStart="1795683660"), "digestFlush.windowStart"),
    (flush(windowStart=1795683660.5), "digestFlush.windowStart"),
    (flush(windowStart=-60), "digestFlush.windowStart"),
    (flush(windowStart=True), "digestFlush.windowStart"),
    (flush(windowStart=10**20), "digestFlush.windowStart"),
    (flush(jobId="job-x"), "digestFlush.jobId"),
    (flush(farmId=None), "digestFlush.farmId"),
])
def test_bad_digest_flush_names_the_field(event, field):
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event)
    assert raised.value.field == field


# --- SQS ---------------------------------------------------------------------------------------------


def sqs_record(body):
    return {"messageId": "m-1", "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-west-2:1:q",
            "awsRegion": "us-west-2"}


def test_is_sqs_batch():
    assert is_sqs_batch({"Records": [sqs_record("{}"), sqs_record("{}")]})
    assert not is_sqs_batch({"Records": []})
    assert not is_sqs_batch({"Records": [sqs_record("{}"), dict(sqs_record("{}"), eventSource="aws:sns")]})
    assert not is_sqs_batch({"Records": [{"EventSource": "aws:sns"}]})
    assert not is_sqs_batch({"Records": "x"})
    assert not is_sqs_batch(task_event())
    assert not is_sqs_batch(dict(IDS))
    assert not is_sqs_batch([sqs_record("{}")])
    assert not is_sqs_batch(None)


def test_sqs_bodies_are_the_inputs_as_json():
    assert parse_sqs_body(json.dumps(task_event())) == parse_invocation(task_event())
    assert isinstance(parse_sqs_body(json.dumps(job_event())), JobRunChange)
    assert isinstance(parse_sqs_body(json.dumps(flush())), DigestFlush)
    assert parse_sqs_body(json.dumps(IDS)) == SessionActionRef(*IDS.values())


@pytest.mark.parametrize("body, field", [
    ("{not json", "body"),
    ("", "body"),
    ("[" * 100_000, "body"),
    (None, "body"),
    (b"{}", "body"),
    ("[]", "event"),
    ('{"detail": {"farmId": "x"}, "source": "aws.deadline", "detail-type": "Task Run Status Change"}',
     "detail.farmId"),
])
def test_bad_sqs_body_names_the_field(body, field):
    with pytest.raises(InvalidEventError) as raised:
        parse_sqs_body(body)
    assert raised.value.field == field
    assert len(str(raised.value)) < 300


@pytest.mark.parametrize("event", [None, [], "x", 3, {}, {"hello": "world"}, {"detail": "x"}, {"detail-type": "A"}])
def test_unknown_shapes_are_rejected_with_a_named_field(event):
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event)
    assert raised.value.field in ("event", "detail")


def test_error_message_does_not_echo_a_huge_value():
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(dict(IDS, jobId="job-" + "x" * 100_000))
    assert len(str(raised.value)) < 200


@settings(max_examples=examples(500), deadline=None)
@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["detail", "detail-type", "source", "id", *IDS, "stepId", "taskId",
                                         "runStatus", "taskRunStatus", "taskRunStatusCounts", "digestFlush",
                                         "windowStart"]) | st.text(max_size=10), children, max_size=6),
    ),
    max_leaves=20,
))
def test_arbitrary_input_is_parsed_or_rejected_with_a_typed_error(event):
    try:
        request = parse_invocation(event)
    except InvalidEventError as err:
        assert err.field
    else:
        assert isinstance(request, (SessionActionRef, TaskRunChange, JobRunChange, DigestFlush))


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=200) | st.recursive(st.none() | st.integers() | st.text(max_size=20),
                                            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c,
                                                                                               max_size=4)).map(json.dumps))
def test_arbitrary_sqs_body_is_parsed_or_rejected_with_a_typed_error(body):
    try:
        request = parse_sqs_body(body)
    except InvalidEventError as err:
        assert err.field and len(str(err)) < 400
    else:
        assert isinstance(request, (SessionActionRef, TaskRunChange, JobRunChange, DigestFlush))
