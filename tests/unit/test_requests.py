"""Input parsing: the three accepted inputs, and typed errors naming the field for everything else."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from session_watch.domain.requests import SessionActionRef, TaskRunChange, parse_invocation
from session_watch.errors import InvalidEventError, UnsupportedEventError

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
    event = json.loads((EVENTS / "job-run-failed.json").read_text())
    with pytest.raises(UnsupportedEventError) as raised:
        parse_invocation(event)
    assert raised.value.field == "detail-type" and "Job Run Status Change" in str(raised.value)


@pytest.mark.parametrize("event", [None, [], "x", 3, {}, {"hello": "world"}, {"detail": "x"}, {"detail-type": "A"}])
def test_unknown_shapes_are_rejected_with_a_named_field(event):
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event)
    assert raised.value.field in ("event", "detail")


def test_error_message_does_not_echo_a_huge_value():
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(dict(IDS, jobId="job-" + "x" * 100_000))
    assert len(str(raised.value)) < 200


@settings(max_examples=500, deadline=None)
@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["detail", "detail-type", "source", "id", *IDS, "stepId", "taskId",
                                         "runStatus"]) | st.text(max_size=10), children, max_size=6),
    ),
    max_leaves=20,
))
def test_arbitrary_input_is_parsed_or_rejected_with_a_typed_error(event):
    try:
        request = parse_invocation(event)
    except InvalidEventError as err:
        assert err.field
    else:
        assert isinstance(request, (SessionActionRef, TaskRunChange))
