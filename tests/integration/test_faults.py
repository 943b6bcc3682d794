"""Faults (issue 5): SNS publish failing, DynamoDB throttling, Deadline 500/429 and timeouts, and a crash at
each step of the handler, each followed by the redeliveries EventBridge or Lambda would make.

After the retries every terminal action is recorded once and published once, and its record never
regresses, except in the one window the README documents: a crash (or a failed write) after SNS accepted
the message and before ``notifiedStatus`` is written publishes the status a second time on retry. Those
cases assert exactly that, so the window stays as narrow as documented. The table of these faults is in
docs/hardening.md.

Faults are injected at the handler's own clients (``adapters.clients`` caches them) with botocore event
hooks: ``before-send`` answers a request with an error (botocore's standard retry mode sees it and retries),
``before-call`` answers a whole call with an error (what botocore raises after its retries are used up),
and a crash is raised from ``before-call`` (the request was never sent) or ``after-call`` (the service
did the work; the environment died before the function saw the answer). Deadline faults use the stand-in's
own fault injection. botocore's backoff sleeps are recorded instead of slept, to keep the suite fast.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Callable, Dict, List, Optional

import botocore.config
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from session_watch import handler
from session_watch.adapters import clients
from session_watch.domain.record import TERMINAL_STATUSES
from session_watch.errors import (
    DeadlineThrottled,
    DeadlineUnavailable,
    NotificationError,
    RecordStoreError,
    SessionWatchError,
)


class SimulatedCrash(BaseException):
    """The execution environment dies (timeout, out of memory, killed): nothing of the function runs after
    it. A BaseException, so that no ``except Exception`` in the code under test can treat it as an error."""


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any):
        yield self._data


def _response(status: int, body: bytes, content_type: str) -> AWSResponse:
    return AWSResponse("http://127.0.0.1/injected", status, {"Content-Type": content_type,
                                                              "x-amzn-RequestId": "injected"}, _Raw(body))


def dynamodb_error(code: str = "ProvisionedThroughputExceededException", status: int = 400):
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": f"injected {code}"})
    return lambda: _response(status, body.encode(), "application/x-amz-json-1.0")


def sns_error(code: str = "InternalError", status: int = 500):
    body = (f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
            f"<Code>{code}</Code><Message>injected {code}</Message></Error><RequestId>injected</RequestId>"
            "</ErrorResponse>")
    return lambda: _response(status, body.encode(), "text/xml")


def final_error(code: str, status: int):
    """A whole call's answer after botocore's retries: what ``before-call`` hands back to botocore."""
    return lambda: (_response(status, b"", "application/json"),
                    {"Error": {"Code": code, "Message": f"injected {code}"},
                     "ResponseMetadata": {"HTTPStatusCode": status}})


class ClientFaults:
    """Faults at the handler's clients. A rule fires on the ``nth`` to ``nth + times - 1``-th occurrence of
    ``service.Operation`` at ``hook`` since the rule was added."""

    def __init__(self) -> None:
        self.sent: Counter = Counter()  # HTTP requests sent (or answered by an injected error), retries included
        self._rules: List[Dict[str, Any]] = []
        for service in ("deadline", "dynamodb", "sns"):
            events = clients.client(service).meta.events
            events.register("before-send", self._before_send)
            events.register("before-call", self._before_call)
            events.register("after-call", self._after_call)

    def add(self, hook: str, operation: str, action: Callable[[], Any], *, nth: int = 1, times: int = 1) -> None:
        self._rules.append({"hook": hook, "operation": operation, "action": action, "first": nth,
                            "last": nth + times - 1, "seen": 0})

    def crash(self, hook: str, operation: str, *, nth: int = 1) -> None:
        def die():
            raise SimulatedCrash(f"{hook} {operation} #{nth}")

        self.add(hook, operation, die, nth=nth)

    def clear(self) -> None:
        self._rules.clear()

    def _fire(self, hook: str, event_name: str) -> Any:
        operation = event_name.split(".", 1)[1]
        due = None
        for rule in self._rules:
            if rule["hook"] == hook and rule["operation"] == operation:
                rule["seen"] += 1
                if due is None and rule["first"] <= rule["seen"] <= rule["last"]:
                    due = rule
        return due["action"]() if due else None

    def _before_send(self, event_name: str = "", **_: Any) -> Any:
        self.sent[event_name.split(".", 1)[1]] += 1
        return self._fire("before-send", event_name)

    def _before_call(self, event_name: str = "", **_: Any) -> Any:
        return self._fire("before-call", event_name)

    def _after_call(self, event_name: str = "", **_: Any) -> Any:
        self._fire("after-call", event_name)


@pytest.fixture
def backoff(monkeypatch):
    """botocore's retry sleeps, recorded instead of slept."""
    slept: List[float] = []

    class Clock:
        @staticmethod
        def sleep(seconds: float) -> None:
            slept.append(seconds)

    monkeypatch.setattr(botocore.endpoint, "time", Clock)
    return slept


@pytest.fixture
def faults(farm, lambda_env, backoff):
    return ClientFaults()


class Watch:
    """The stored record after every delivery attempt: once terminal, it must never change status."""

    def __init__(self, local_aws, ids) -> None:
        self.local_aws, self.ids = local_aws, ids
        self.statuses: List[Optional[str]] = []

    def look(self) -> None:
        item = self.local_aws.item(self.ids.job_id, self.ids.session_action_id)
        status = item["status"]["S"] if item else None
        terminal = [s for s in self.statuses if s in TERMINAL_STATUSES]
        if terminal:
            assert status == terminal[0], f"record regressed from {terminal[0]} to {status}"
        self.statuses.append(status)


def deliver(invoke, event, watch: Watch, *, attempts: int = 15, pause: float = 0.25) -> List[str]:
    """Deliver ``event`` until an invocation succeeds, as EventBridge / Lambda's asynchronous retries do
    (a crashed or failed invocation is delivered again later). Invocations get no remaining time, so a
    publishing lease lasts 1 s. Returns what each attempt did."""
    outcomes: List[str] = []
    for attempt in range(attempts):
        try:
            invoke(event, remaining_ms=0, request_id=f"attempt-{attempt}")
            outcomes.append("ok")
        except SimulatedCrash:
            outcomes.append("crash")
        except SessionWatchError as err:
            assert err.retryable, f"non-retryable {type(err).__name__}: {err}"
            outcomes.append(type(err).__name__)
        watch.look()
        if outcomes[-1] == "ok":
            return outcomes
        time.sleep(pause)
    raise AssertionError(f"still failing after {attempts} deliveries: {outcomes}")


def assert_recorded_and_published(local_aws, ids, status: str, *, times: int = 1) -> None:
    item = local_aws.item(ids.job_id, ids.session_action_id)
    assert item["status"] == {"S": status}
    assert item["notifiedStatus"] == {"S": status}
    assert "notifyLeaseUntil" not in item and "notifyingStatus" not in item
    messages = local_aws.notifications()
    assert [m["record"]["sessionActionId"] for m in messages] == [ids.session_action_id] * times
    assert {m["record"]["status"] for m in messages} == {status}


def redeliver_once_more(invoke, event, local_aws) -> None:
    """One more redelivery after everything settled publishes nothing."""
    invoke(event, request_id="late-redelivery")
    assert local_aws.notifications() == []


# --- a crash at each step, then the retry ------------------------------------------------------------

CRASH_STEPS = [
    # (step, hook, operation, occurrence, publications after the retries)
    ("before GetTask", "before-call", "deadline.GetTask", 1, 1),
    ("after GetTask answered", "after-call", "deadline.GetTask", 1, 1),
    ("after GetSessionAction answered (normalising)", "after-call", "deadline.GetSessionAction", 1, 1),
    ("before the record is written", "before-call", "dynamodb.UpdateItem", 1, 1),
    ("after the record is written and the lease taken", "after-call", "dynamodb.UpdateItem", 1, 1),
    ("before publishing (rendering)", "before-call", "sns.Publish", 1, 1),
    # The documented window: SNS accepted the message, notifiedStatus is not written yet.
    ("after SNS accepted the message", "after-call", "sns.Publish", 1, 2),
    ("before the status is marked published", "before-call", "dynamodb.UpdateItem", 2, 2),
    ("after the status is marked published", "after-call", "dynamodb.UpdateItem", 2, 1),
]


@pytest.mark.parametrize("step, hook, operation, nth, published", CRASH_STEPS, ids=[s[0] for s in CRASH_STEPS])
def test_crash_at_each_step_then_retry(farm, invoke, local_aws, faults, step, hook, operation, nth, published):
    ids = farm.task_action(status="FAILED", exit_code=139)
    event = farm.task_event(ids, "FAILED")
    faults.crash(hook, operation, nth=nth)
    watch = Watch(local_aws, ids)

    outcomes = deliver(invoke, event, watch)

    assert outcomes[0] == "crash" and outcomes[-1] == "ok"
    assert set(outcomes[1:-1]) <= {"NotificationPending"}  # only while the dead invocation's lease holds
    assert_recorded_and_published(local_aws, ids, "FAILED", times=published)
    redeliver_once_more(invoke, event, local_aws)


# --- SNS -----------------------------------------------------------------------------------------------


def test_sns_publish_failing_after_retries_keeps_the_record_and_a_retry_publishes_once(
        farm, invoke, local_aws, faults):
    ids = farm.task_action(status="FAILED", exit_code=1)
    event = farm.task_event(ids, "FAILED")
    faults.add("before-call", "sns.Publish", final_error("InternalError", 500), times=3)
    watch = Watch(local_aws, ids)

    outcomes = deliver(invoke, event, watch)

    assert outcomes == ["NotificationError"] * 3 + ["ok"]  # each failure released its lease: no waiting
    assert_recorded_and_published(local_aws, ids, "FAILED")
    redeliver_once_more(invoke, event, local_aws)


def test_sns_errors_within_botocore_retries_cost_one_invocation(farm, invoke, local_aws, faults, backoff):
    ids = farm.task_action(status="SUCCEEDED")
    faults.add("before-send", "sns.Publish", sns_error("InternalError", 500), times=2)
    faults.add("before-send", "sns.Publish", sns_error("Throttling", 400), nth=3)

    invoke(farm.direct(ids))

    assert faults.sent["sns.Publish"] == 4 and len(backoff) == 3
    assert_recorded_and_published(local_aws, ids, "SUCCEEDED")


def test_sns_failing_through_every_attempt_is_a_notification_error(farm, invoke, local_aws, faults, backoff):
    ids = farm.task_action(status="FAILED")
    faults.add("before-send", "sns.Publish", sns_error("InternalError", 500), times=5)

    with pytest.raises(NotificationError, match="InternalError"):
        invoke(farm.direct(ids))

    assert faults.sent["sns.Publish"] == 5  # standard mode: the first try and 4 retries
    item = local_aws.item(ids.job_id, ids.session_action_id)
    assert item["status"] == {"S": "FAILED"} and "notifiedStatus" not in item and "notifyingStatus" not in item
    invoke(farm.direct(ids))
    assert_recorded_and_published(local_aws, ids, "FAILED")


# --- DynamoDB ------------------------------------------------------------------------------------------


def test_dynamodb_throttling_within_botocore_retries_costs_one_invocation(farm, invoke, local_aws, faults, backoff):
    ids = farm.task_action(status="FAILED")
    faults.add("before-send", "dynamodb.UpdateItem", dynamodb_error(), times=3)

    invoke(farm.task_event(ids, "FAILED"))

    # 3 refused, then the record, marking it published and its worker's suspect-worker counter
    assert faults.sent["dynamodb.UpdateItem"] == 3 + 3 and len(backoff) == 3
    assert_recorded_and_published(local_aws, ids, "FAILED")


def test_dynamodb_throttled_after_retries_writes_and_publishes_nothing_then_the_retry_does_once(
        farm, invoke, local_aws, faults):
    ids = farm.task_action(status="FAILED")
    event = farm.task_event(ids, "FAILED")
    faults.add("before-call", "dynamodb.UpdateItem", final_error("ProvisionedThroughputExceededException", 400),
               times=2)
    watch = Watch(local_aws, ids)

    outcomes = deliver(invoke, event, watch)

    assert outcomes == ["RecordStoreError", "RecordStoreError", "ok"]
    assert watch.statuses[:2] == [None, None]  # nothing written while the table refused
    assert_recorded_and_published(local_aws, ids, "FAILED")
    redeliver_once_more(invoke, event, local_aws)


def test_dynamodb_throttled_when_marking_published_is_the_documented_duplicate_window(
        farm, invoke, local_aws, faults, function_logs):
    """The message went out; the write that remembers it failed after retries. The invocation does not
    fail (failing it would make the retry publish again for certain): it logs the warning and leaves the
    claim to expire. Only a redelivery after the lease publishes again, as the README's delivery guarantees
    say."""
    ids = farm.task_action(status="FAILED")
    event = farm.task_event(ids, "FAILED")
    faults.add("before-call", "dynamodb.UpdateItem", final_error("ProvisionedThroughputExceededException", 400),
               nth=2)
    watch = Watch(local_aws, ids)

    outcomes = deliver(invoke, event, watch)

    assert outcomes == ["ok"]
    item = local_aws.item(ids.job_id, ids.session_action_id)
    assert "notifiedStatus" not in item and item["notifyingStatus"] == {"S": "FAILED"}
    assert [m["record"]["sessionActionId"] for m in local_aws.notifications()] == [ids.session_action_id]
    assert any(line.get("message") == "published but not marked; a redelivery may publish again"
               for line in function_logs.lines())

    time.sleep(1.1)  # the lease (no remaining time: 1 s) runs out; a redelivery now publishes again
    invoke(event, remaining_ms=0, request_id="redelivery")
    assert_recorded_and_published(local_aws, ids, "FAILED", times=1)


# --- Deadline Cloud ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["InternalServerErrorException", "ThrottlingException"])
@pytest.mark.parametrize("operation", ["GetTask", "GetSessionAction"])
def test_deadline_errors_within_botocore_retries_cost_one_invocation(
        farm, invoke, local_aws, faults, backoff, fault, operation):
    ids = farm.task_action(status="FAILED")
    farm.fail_next(operation, fault, times=2)
    farm.reset_calls()

    invoke(farm.task_event(ids, "FAILED"))

    assert farm.calls()[operation] == 3 and len(backoff) == 2
    assert_recorded_and_published(local_aws, ids, "FAILED")


@pytest.mark.parametrize("fault, error", [("InternalServerErrorException", DeadlineUnavailable),
                                          ("ThrottlingException", DeadlineThrottled)])
def test_deadline_failing_through_every_attempt_writes_nothing_then_the_retry_records_once(
        farm, invoke, local_aws, faults, fault, error):
    ids = farm.task_action(status="FAILED")
    event = farm.task_event(ids, "FAILED")
    farm.fail_next("GetSessionAction", fault, times=5 * 2)  # two whole invocations' worth of attempts
    watch = Watch(local_aws, ids)

    outcomes = deliver(invoke, event, watch)

    assert outcomes == [error.__name__, error.__name__, "ok"]
    assert watch.statuses[:2] == [None, None]
    assert_recorded_and_published(local_aws, ids, "FAILED")
    redeliver_once_more(invoke, event, local_aws)


@pytest.fixture
def short_timeouts(monkeypatch, farm, lambda_env, backoff):
    """The function's client settings with a 0.3 s read timeout (10 s in production), so that a
    timeout costs the suite little; everything else as in ``adapters.clients``."""
    original = clients._config

    def config():
        return original().merge(botocore.config.Config(read_timeout=0.3, connect_timeout=0.3))

    monkeypatch.setattr(clients, "_config", config)
    handler.reset_for_tests()
    return ClientFaults()


def test_deadline_timeout_within_botocore_retries_costs_one_invocation(farm, invoke, local_aws, short_timeouts):
    ids = farm.task_action(status="FAILED")
    farm.standin.faults.delay_next("GetSessionAction", 0.8)
    farm.reset_calls()

    invoke(farm.direct(ids))

    assert farm.calls()["GetSessionAction"] == 2
    assert_recorded_and_published(local_aws, ids, "FAILED")


def test_deadline_timing_out_through_every_attempt_is_unavailable_then_the_retry_records_once(
        farm, invoke, local_aws, short_timeouts):
    ids = farm.task_action(status="FAILED")
    event = farm.task_event(ids, "FAILED")
    farm.standin.faults.delay_next("GetTask", 0.8, count=5)
    watch = Watch(local_aws, ids)

    outcomes = deliver(invoke, event, watch)

    assert outcomes == ["DeadlineUnavailable", "ok"]
    assert watch.statuses[0] is None
    assert_recorded_and_published(local_aws, ids, "FAILED")


# --- faults mixed with out-of-order deliveries ----------------------------------------------------------


def test_stale_read_between_a_failed_publish_and_its_retry_does_not_regress(farm, invoke, local_aws, faults):
    ids = farm.task_action(status="SUCCEEDED")
    faults.add("before-call", "sns.Publish", final_error("InternalError", 500))
    watch = Watch(local_aws, ids)

    with pytest.raises(NotificationError):
        invoke(farm.direct(ids))
    watch.look()
    farm.set_status(ids, "RUNNING")  # a late, stale read of the action
    invoke(farm.direct(ids))
    watch.look()
    farm.set_status(ids, "SUCCEEDED")
    invoke(farm.direct(ids))
    watch.look()

    assert watch.statuses == ["SUCCEEDED"] * 3
    assert_recorded_and_published(local_aws, ids, "SUCCEEDED")


def test_many_actions_through_random_faults_are_each_recorded_and_published_once(farm, invoke, local_aws, faults):
    """A small burst: 12 actions, each event delivered twice, SNS and DynamoDB failing after retries on
    some calls and Deadline throttling some: after the retries, each action once."""
    actions = [farm.task_action(status="FAILED" if i % 3 == 0 else "SUCCEEDED") for i in range(12)]
    farm.standin.faults.error_rate("*", throttling=0.1)
    faults.add("before-call", "sns.Publish", final_error("InternalError", 500), nth=2, times=2)
    faults.add("before-call", "dynamodb.UpdateItem", final_error("ProvisionedThroughputExceededException", 400),
               nth=5, times=2)
    for ids in actions + actions[::-1]:
        status = "FAILED" if ids in actions[::3] else "SUCCEEDED"
        # pauses long enough that the retries outlast two publishing leases (1 s each, no remaining time):
        # an invocation whose publish and then whose release both fail leaves its lease to run out
        deliver(invoke, farm.task_event(ids, status), Watch(local_aws, ids), pause=0.2)
    farm.standin.faults.clear()

    received = Counter(m["record"]["sessionActionId"] for m in local_aws.notifications())
    assert received == Counter({ids.session_action_id: 1 for ids in actions})
    for i, ids in enumerate(actions):
        item = local_aws.item(ids.job_id, ids.session_action_id)
        expected = "FAILED" if i % 3 == 0 else "SUCCEEDED"
        assert item["status"] == {"S": expected} and item["notifiedStatus"] == {"S": expected}
