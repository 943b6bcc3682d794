"""Fuzz: invocation inputs and Deadline Cloud answers of every shape through the pure path (issue 5).

* 3,000 generated invocation inputs (EventBridge task events, events carrying a session action, direct
  invocations, each mutated: keys dropped, values of the wrong type, huge and unicode strings, unknown
  detail types) through ``parse_invocation``: a typed request or ``InvalidEventError`` naming the field,
  with a short message (a huge bad value is never echoed).
* 5,600 generated GetSessionAction answers (as boto3 returns them: every union member, unknown members,
  two members at once, known and unknown statuses, wrong types, naive and aware timestamps, huge and
  unicode strings, missing keys, extra keys) through the normaliser, the notification renderer and the
  record store's DynamoDB serialisation: a complete, JSON-safe, storable record whose outcome matches its
  status, or ``MalformedSessionActionError`` naming the field. Never a bare KeyError, TypeError,
  AttributeError or anything else.
* 1,200 generated *wire* answers (JSON bodies) through botocore's own response parser and the Deadline
  reader, i.e. what the function does with what the service sends.

Gaps the fuzzing found are tested at the end, now fixed (numbers DynamoDB cannot store, answers botocore
cannot parse): see docs/hardening.md.
"""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from hypothesis import HealthCheck, given, settings

from session_watch.adapters.deadline_reader import DeadlineReader
from session_watch.adapters.record_store import RecordStore
from session_watch.domain.normalise import normalise_session_action
from session_watch.domain.notification import MESSAGE_BYTE_BUDGET, SUBJECT_LIMIT, TRIMMED_NOTE, render_notification
from session_watch.domain.record import RECORD_FIELDS, TERMINAL_STATUSES, classify_status
from session_watch.domain.requests import ID_PATTERNS, SessionActionRef, TaskRunChange, parse_invocation
from session_watch.errors import InvalidEventError, MalformedSessionActionError, SessionWatchError
from tests.hypothesis_profiles import examples
from tests.support.strategies import IDS, INVOCATIONS, REF_OBJ, RESPONSE, WIRE_RESPONSE, _wire_safe

pytestmark = pytest.mark.fuzz  # make fuzz: HYPOTHESIS_PROFILE=fuzz, random and longer

FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                   HealthCheck.large_base_example])


@settings(max_examples=examples(3000), **FUZZ)
@given(INVOCATIONS)
def test_fuzz_invocation_input_is_a_typed_request_or_an_invalid_event_error(event):
    try:
        request = parse_invocation(event)
    except InvalidEventError as err:  # UnsupportedEventError included
        assert isinstance(err.field, str) and err.field
        assert len(str(err)) < 400  # a huge bad value is never echoed into the error (and so the logs)
        return
    assert isinstance(request, (SessionActionRef, TaskRunChange))
    for field, value in (("farmId", request.farm_id), ("queueId", request.queue_id), ("jobId", request.job_id)):
        assert ID_PATTERNS[field].match(value)
    if isinstance(request, SessionActionRef):
        assert ID_PATTERNS["sessionActionId"].match(request.session_action_id)
    else:
        assert ID_PATTERNS["taskId"].match(request.task_id) and ID_PATTERNS["stepId"].match(request.step_id)


# --- GetSessionAction answers, as boto3 returns them (strategies: tests/support/strategies.py) ---------

_STORE = RecordStore(None, "history")


def check_record(record: Dict[str, Any]) -> None:
    """What every record the normaliser returns must be: complete, consistent, JSON-safe, renderable and
    storable in DynamoDB (the serialisation ``RecordStore.save`` does before its request)."""
    assert list(record) == list(RECORD_FIELDS)
    outcome = classify_status(record["status"])
    assert record["outcome"] == outcome.value
    assert record["terminal"] is (record["status"] in TERMINAL_STATUSES)
    json.dumps(record, allow_nan=False)
    notification = render_notification(record)
    assert len(notification.subject) <= SUBJECT_LIMIT and notification.subject.isascii()
    assert notification.subject.isprintable()
    body = json.loads(notification.message)
    assert len(notification.message.encode("utf-8")) <= MESSAGE_BYTE_BUDGET  # SNS takes it
    if TRIMMED_NOTE not in body["email"]:  # a record too big for SNS is trimmed, and says so
        assert json.loads(body["default"]) == json.loads(json.dumps(record))
    assert all(isinstance(v, str) for v in notification.attributes.values())
    _STORE._serialize_values({k: v for k, v in record.items() if v is not None})


@settings(max_examples=examples(5600), **FUZZ)
@given(RESPONSE)
def test_fuzz_session_action_answer_gives_a_storable_record_or_a_malformed_error(response):
    try:
        record = normalise_session_action(response, **IDS)
    except MalformedSessionActionError as err:
        assert isinstance(err.field, str) and err.field
        assert len(str(err)) < 400
        return
    check_record(record)


# --- wire answers through botocore's parser --------------------------------------------------------------


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any):
        yield self._data


@pytest.fixture(scope="module")
def wire():
    """A Deadline client whose every request is answered by the body set in ``wire["body"]``."""
    import boto3

    client = boto3.session.Session().client(
        "deadline", endpoint_url="http://127.0.0.1:9",
        config=Config(inject_host_prefix=False, retries={"mode": "standard", "total_max_attempts": 1}))
    state: Dict[str, Any] = {"body": b"{}"}
    client.meta.events.register("before-send", lambda **_: AWSResponse(
        "http://127.0.0.1:9/", 200, {"Content-Type": "application/json"}, _Raw(state["body"])))
    state["reader"] = DeadlineReader(client)
    return state


@settings(max_examples=examples(1200), **FUZZ)
@given(WIRE_RESPONSE.filter(_wire_safe))
def test_fuzz_wire_answer_through_botocore_gives_a_record_or_a_typed_error(wire, response):
    wire["body"] = json.dumps(response).encode()
    try:
        parsed = wire["reader"].get_session_action(REF_OBJ)
        record = normalise_session_action(parsed, **IDS)
    except SessionWatchError as err:
        assert type(err).__name__ in {"MalformedSessionActionError", "DeadlineUnavailable"}, err
        return
    check_record(record)


# --- gaps the fuzzing found, fixed: numbers DynamoDB cannot store, answers botocore cannot parse --------


@pytest.mark.parametrize("response", [
    {"definition": {"taskRun": {"parameters": {"Scale": {"float": "1e200"}}}}},
    {"definition": {"taskRun": {"parameters": {"Scale": {"float": "1e-200"}}}}},
    {"definition": {"envEnter": {}}, "processExitCode": 10 ** 40},
    {"definition": {"envEnter": {}}, "progressPercent": 1e300},
    {"definition": {"envEnter": {}}, "progressPercent": 1.1125369292536007e-308},
], ids=["float-param-1e200", "float-param-1e-200", "exit-code-10^40", "progress-1e300", "progress-1e-308"])
def test_numbers_dynamodb_cannot_store_are_kept_as_text_or_rejected(response):
    response = dict(response, sessionActionId="sessionaction-" + "d" * 32 + "-0", status="FAILED")
    try:
        record = normalise_session_action(response, **IDS)
    except MalformedSessionActionError:
        return
    check_record(record)


@pytest.mark.parametrize("body", [
    {"definition": "taskRun"},
    {"definition": [1]},
    {"definition": {"taskRun": {"parameters": [1]}}},
    {"definition": {"taskRun": {"parameters": {"Frame": "12"}}}},
    {"definition": {"taskRun": {}, "envEnter": {}}},
    {"definition": {"taskRun": {"parameters": {"Frame": {}}}}},
    {"definition": {"envEnter": {}}, "startedAt": "yesterday"},
    {"definition": {"envEnter": {}}, "startedAt": 1e30},
    {"definition": {"envEnter": {}}, "manifests": ["a"]},
    {"definition": {"envEnter": {}}, "processExitCode": "x139"},
    {"definition": {"envEnter": {}}, "progressPercent": [50]},
    [1, 2],
], ids=["definition-str", "definition-list", "parameters-list", "parameter-str", "two-members", "empty-union",
        "timestamp-text", "timestamp-huge", "manifest-str", "exit-code-text", "progress-list", "body-list"])
def test_wire_answers_botocore_cannot_parse_are_a_typed_error(wire, body):
    if isinstance(body, dict):
        body = dict(body, sessionActionId=REF_OBJ.session_action_id, status="FAILED")
    wire["body"] = json.dumps(body).encode()
    try:
        normalise_session_action(wire["reader"].get_session_action(REF_OBJ), **IDS)
    except SessionWatchError:
        return
