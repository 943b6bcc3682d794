"""Fuzz at the handler (issue 5): generated invocation inputs and generated Deadline Cloud answers through the
real ``lambda_handler``, against moto's server and the Deadline stand-in.

Each input is processed (a record comes back and is in the table; a terminal status is published once) or
rejected with one of the documented typed errors (``errors.py``), never a bare KeyError, TypeError,
AttributeError or anything else; for rejected input nothing is written and nothing is published (the one
documented exception: ``NotificationError`` keeps the record it wrote, so that a retry publishes).

Fewer examples than the pure fuzzing in ``tests/unit/test_fuzz_normalise.py`` (the strategies both use live
in ``tests/support/strategies.py``): every example makes real requests.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List, Set

import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import HealthCheck, given, settings, strategies as st

from session_watch.adapters import clients
from session_watch.domain.record import RECORD_FIELDS, TERMINAL_STATUSES
from session_watch.errors import InvalidEventError, NotificationError, SessionWatchError
from tests.hypothesis_profiles import examples
from tests.support.strategies import INVOCATIONS, REF_OBJ, WIRE_RESPONSE, _wire_safe

pytestmark = pytest.mark.fuzz  # make fuzz: HYPOTHESIS_PROFILE=fuzz, random and longer

#: The typed errors of the README's "Errors" table.
DOCUMENTED = {"InvalidEventError", "UnsupportedEventError", "ConfigurationError", "MalformedSessionActionError",
              "DeadlineResourceNotFound", "DeadlineAccessDenied", "DeadlineValidationError", "DeadlineThrottled",
              "DeadlineUnavailable", "RecordStoreError", "NotificationError", "NotificationPending"}
HANDLER_FUZZ = dict(deadline=None, suppress_health_check=list(HealthCheck))


def stored_keys(local_aws) -> Set[str]:
    return {item["sessionActionId"]["S"] for item in local_aws.items()}


class Outcome:
    """What one invocation did: its result or its error."""

    def __init__(self, invoke, event) -> None:
        self.result = self.error = None
        try:
            self.result = invoke(event)
        except SessionWatchError as err:
            self.error = err
        # anything else propagates and fails the test: a bare KeyError, TypeError, AttributeError ...
        if self.error is not None:
            assert type(self.error).__name__ in DOCUMENTED, repr(self.error)
        self.kind = type(self.error).__name__ if self.error else "processed"


@pytest.fixture
def known_ids(farm):
    """A few real session actions and tasks, so that some generated inputs name things that exist."""
    return [farm.task_action(status=s) for s in ("FAILED", "SUCCEEDED", "RUNNING")]


def with_real_ids(known):
    """Generated inputs, some with their ids replaced by those of real actions on the farm."""

    @st.composite
    def build(draw):
        event = draw(INVOCATIONS)
        if isinstance(event, dict) and draw(st.booleans()):
            ids = draw(st.sampled_from(known))
            target = event["detail"] if isinstance(event.get("detail"), dict) else event
            real = {"farmId": ids.farm_id, "queueId": ids.queue_id, "jobId": ids.job_id, "stepId": ids.step_id,
                    "taskId": ids.task_id, "sessionActionId": ids.session_action_id}
            for key in draw(st.lists(st.sampled_from(sorted(real)), unique=True)):
                target[key] = real[key]
        return event

    return build()


def test_fuzz_invocation_inputs_through_the_handler(farm, invoke, local_aws, known_ids):
    notified = [0]
    kinds: Counter = Counter()

    @settings(max_examples=examples(150), **HANDLER_FUZZ)
    @given(with_real_ids(known_ids))
    def check(event):
        before = stored_keys(local_aws)
        farm.reset_calls()
        outcome = Outcome(invoke, event)
        kinds[outcome.kind] += 1
        after = stored_keys(local_aws)
        published = len(local_aws.notifications())
        notified[0] += published
        if outcome.error is None:
            assert set(RECORD_FIELDS) <= set(outcome.result)
            if not outcome.result.get("skipped"):
                assert outcome.result["sessionActionId"] in after
            return
        if isinstance(outcome.error, InvalidEventError):
            assert farm.calls() == {}, "rejected input must not reach Deadline Cloud"
        assert after == before, f"{type(outcome.error).__name__}: rejected input wrote {after - before}"
        assert published == 0

    check()
    # each real terminal action is published at most once however often the fuzzer named it
    assert notified[0] <= 2
    assert kinds["processed"] and kinds["InvalidEventError"], kinds  # both paths were exercised


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any):
        yield self._data


def test_fuzz_deadline_answers_through_the_handler(lambda_env, invoke, local_aws):
    answer: Dict[str, bytes] = {"body": b"{}"}

    def serve(event_name: str = "", **_: Any):
        if event_name.endswith("GetSessionAction"):
            return AWSResponse("http://127.0.0.1:9/", 200, {"Content-Type": "application/json"},
                               _Raw(answer["body"]))
        return None

    clients.client("deadline").meta.events.register("before-send", serve)
    event = {"farmId": REF_OBJ.farm_id, "queueId": REF_OBJ.queue_id, "jobId": REF_OBJ.job_id,
             "sessionActionId": REF_OBJ.session_action_id}
    published: List[str] = []
    kinds: Counter = Counter()

    @settings(max_examples=examples(120), **HANDLER_FUZZ)
    @given(WIRE_RESPONSE.filter(_wire_safe))
    def check(response):
        answer["body"] = json.dumps(response).encode()
        before = stored_keys(local_aws)
        outcome = Outcome(invoke, event)
        kinds[outcome.kind] += 1
        after = stored_keys(local_aws)
        messages = local_aws.notifications()
        published.extend(m["record"]["sessionActionId"] for m in messages)
        if outcome.error is None:
            record = outcome.result
            assert list(record) == list(RECORD_FIELDS)
            item = local_aws.item(REF_OBJ.job_id, record["sessionActionId"])
            assert item is not None and item["status"]["S"] == record["status"]
            if record["status"] in TERMINAL_STATUSES and record["sessionActionId"] not in before:
                assert [m["record"]["status"] for m in messages] == [record["status"]]
            return
        if isinstance(outcome.error, NotificationError):
            return  # documented: the record is kept so that the retry publishes
        assert after == before, f"{type(outcome.error).__name__} wrote {after - before}"
        assert messages == []

    check()
    assert len(published) == len(set(published)), "a status was published twice"
    assert kinds["processed"] and kinds["MalformedSessionActionError"], kinds  # both paths were exercised
