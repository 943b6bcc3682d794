"""Calls per event: a ``Task Run Status Change`` for a terminal action costs at most 1 GetTask, 1
GetSessionAction, 3 DynamoDB requests (the record's write, marking it published, and its worker's
suspect-worker counter: one per worker per invocation, so a batch shares it) and 1 SNS publish, plus the
enrichment reads (1 GetJob per job, 1 GetStep per step and 1 GetSession per session, cached for the execution
environment, and 1 CloudWatch Logs GetLogEvents per failed action for its log excerpt); a duplicate delivery
costs no publish.

Every HTTP request the handler's own clients send (retries included) is counted with a ``before-send``
hook registered on them; Deadline calls are cross-checked against the stand-in's request counter. The
benchmark ``benchmarks/calls_per_event.py`` measures the same through a function process.
"""

from __future__ import annotations

from collections import Counter

import pytest

from session_watch.adapters import clients

LIMIT_TERMINAL = {"deadline.GetTask": 1, "deadline.GetSessionAction": 1, "deadline.GetJob": 1,
                  "deadline.GetStep": 1, "deadline.GetSession": 1, "cloudwatch-logs.GetLogEvents": 1, "dynamodb": 3,
                  "sns.Publish": 1}


class RequestCounter:
    """Counts the requests of the clients the handler uses (``adapters.clients`` caches them)."""

    def __init__(self, monkeypatch) -> None:
        self.requests: Counter = Counter()
        for service in ("deadline", "dynamodb", "sns", "sqs", "logs"):  # every client the function makes
            clients.client(service).meta.events.register("before-send", self._count)
        # and every client the function makes later (events, logs, ...): no call goes uncounted
        original = clients.client

        def client(service: str):
            made = service not in clients._clients
            c = original(service)
            if made:
                c.meta.events.register("before-send", self._count)
            return c

        monkeypatch.setattr(clients, "client", client)

    def _count(self, event_name: str = "", **_) -> None:
        _, service, operation = event_name.split(".", 2)
        self.requests[f"{service}.{operation}"] += 1

    def take(self) -> Counter:
        """The requests since the last call, with ``dynamodb`` (all operations) added up."""
        counted, self.requests = self.requests, Counter()
        counted["dynamodb"] = sum(n for key, n in counted.items() if key.startswith("dynamodb."))
        return counted


@pytest.fixture
def requests_made(farm, lambda_env, monkeypatch):
    # after ``farm`` and ``lambda_env``: the clients are created with the stand-in's and moto's endpoints
    return RequestCounter(monkeypatch)


def within(counted: Counter, limit: dict) -> bool:
    """Every call counted is one the limit names, and within it: a call nobody expected fails it."""
    for key, n in counted.items():
        if key.startswith("dynamodb.") and "dynamodb" in limit:
            continue
        if n > limit.get(key, 0):
            return False
    return True


@pytest.mark.parametrize("status", ["FAILED", "SUCCEEDED"])
def test_terminal_task_event_costs_one_read_of_each_two_writes_one_publish(
        farm, invoke, local_aws, requests_made, status):
    ids = farm.task_action(status=status, exit_code=139 if status == "FAILED" else 0)
    farm.reset_calls()
    requests_made.take()

    invoke(farm.task_event(ids, status))

    counted = requests_made.take()
    assert within(counted, LIMIT_TERMINAL), counted
    assert counted["sns.Publish"] == 1 and counted["dynamodb.UpdateItem"] == 3
    assert counted["cloudwatch-logs.GetLogEvents"] == (1 if status == "FAILED" else 0)  # only a failure reads its log
    # the stand-in agrees; GetJob, GetStep and GetSession are the first event's enrichment
    assert farm.calls() == {"GetTask": 1, "GetSessionAction": 1, "GetJob": 1, "GetStep": 1, "GetSession": 1}
    assert len(local_aws.notifications()) == 1


def test_enrichment_reads_are_cached_across_events_of_a_session(farm, invoke, local_aws, requests_made):
    first = farm.task_action(status="FAILED", exit_code=1)
    invoke(farm.task_event(first, "FAILED"))
    again = farm.retry_task(first)
    farm.set_status(again, "FAILED")
    farm.reset_calls()

    invoke(farm.task_event(again, "FAILED"))

    calls = farm.calls()
    assert "GetJob" not in calls  # the job's name and priority are cached
    assert calls.get("GetSession", 0) <= 1  # a new session: its worker is read once (within the budget)


def test_duplicate_delivery_costs_no_publish(farm, invoke, local_aws, requests_made):
    ids = farm.task_action(status="FAILED", exit_code=1)
    event = farm.task_event(ids, "FAILED")
    invoke(event)
    requests_made.take()

    for attempt in range(3):
        invoke(event, request_id=f"redelivery-{attempt}")
        counted = requests_made.take()
        assert counted.get("sns.Publish", 0) == 0, counted
        assert within(counted, LIMIT_TERMINAL), counted
        assert counted["dynamodb"] == 1  # the conditional write fails; the stored item comes back with it

    assert len(local_aws.notifications()) == 1


def test_in_progress_event_writes_once_and_publishes_nothing(farm, invoke, local_aws, requests_made):
    ids = farm.task_action(status="RUNNING")
    requests_made.take()

    invoke(farm.task_event(ids, "RUNNING", previous="ASSIGNED"))

    counted = requests_made.take()
    assert counted["deadline.GetTask"] == 1 and counted["deadline.GetSessionAction"] == 1
    assert counted["dynamodb"] == 1 and counted.get("sns.Publish", 0) == 0
    assert local_aws.notifications() == []


def test_direct_invocation_skips_get_task(farm, invoke, requests_made):
    ids = farm.task_action(status="FAILED")
    requests_made.take()

    invoke(farm.direct(ids))

    counted = requests_made.take()
    assert counted.get("deadline.GetTask", 0) == 0
    assert counted["deadline.GetSessionAction"] == 1 and counted["dynamodb"] == 3 and counted["sns.Publish"] == 1
