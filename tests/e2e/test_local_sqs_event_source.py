"""The local SQS plumbing (``local/moto_stack``), with a fake function (``tests/e2e/fake_handler.py``):
EventBridge rules that target a queue, Lambda's SQS event source mapping read back from a stack deployed into
moto (created disabled there, run by ``SqsEventSources``), the SQS event shape, batchItemFailures,
redelivery, the redrive policy, MaximumConcurrency and DelaySeconds. Independent of the real handler."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any, Dict

import pytest

from local.moto_stack import EventBus, FunctionRuntime, MotoServer, SqsEventSources, deploy_stack
from local.moto_stack.sqs_source import batch_item_failures, deployed_mappings
from local.moto_stack.runtime import Invocation
from tests.e2e import fake_handler

pytestmark = pytest.mark.slow

STACK = "PlumbingTest"
HANDLER = "tests.e2e.fake_handler.lambda_handler"


def _template(batch_size: int = 25, window: int = 5, concurrency: int = 2, max_receive: int = 3) -> Dict[str, Any]:
    queue_arn = {"Fn::GetAtt": ["EventQueue", "Arn"]}
    return {
        "Resources": {
            "EventDlq": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}},
            "EventQueue": {"Type": "AWS::SQS::Queue", "Properties": {
                "VisibilityTimeout": 180, "SqsManagedSseEnabled": True,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["EventDlq", "Arn"]},
                                  "maxReceiveCount": max_receive}}},
            "LaterQueue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "lambda.amazonaws.com"}}]}}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "Handler": HANDLER, "Runtime": "python3.12", "Timeout": 30,
                "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Code": {"ZipFile": "def lambda_handler(e, c): pass"},
                "Environment": {"Variables": {"NEXT_QUEUE_URL": {"Ref": "LaterQueue"}}}}},
            "EventMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "EventSourceArn": queue_arn, "BatchSize": batch_size,
                "MaximumBatchingWindowInSeconds": window, "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": concurrency}}},
            "LaterMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "EventSourceArn": {"Fn::GetAtt": ["LaterQueue", "Arn"]},
                "BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]}},
            "QueueRule": {"Type": "AWS::Events::Rule", "Properties": {
                "EventPattern": {"source": ["test.plumbing"], "detail-type": ["To the queue"]},
                "Targets": [{"Arn": queue_arn, "Id": "EventQueue"}]}},
            "DirectRule": {"Type": "AWS::Events::Rule", "Properties": {
                "EventPattern": {"source": ["test.plumbing"], "detail-type": ["To the function"]},
                "Targets": [{"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}, "Id": "Function"}]}},
        },
    }


def _assembly(tmp: Path, template: Dict[str, Any]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / f"{STACK}.template.json").write_text(json.dumps(template))
    (tmp / "manifest.json").write_text(json.dumps({"version": "41.0.0", "artifacts": {
        STACK: {"type": "aws:cloudformation:stack", "properties": {"templateFile": f"{STACK}.template.json"}}}}))
    return tmp


class Local:
    """moto with the plumbing stack deployed and the fake function's runtime active."""

    def __init__(self, moto: MotoServer, tmp: Path, **template: Any) -> None:
        self.moto = moto
        self.deployed = deploy_stack(moto, _assembly(tmp, _template(**template)), STACK)
        self.sqs = moto.client("sqs")
        self.runtime = FunctionRuntime(moto, self.deployed.physical_id("Fn"), deadline_endpoint="http://127.0.0.1:9",
                                       log_path=tmp / "function.log")

    def sources(self, **kwargs: Any) -> SqsEventSources:
        return SqsEventSources.from_deployed(self.deployed, self.moto, self.runtime, **kwargs)

    def url(self, logical_id: str) -> str:
        return self.deployed.physical_id(logical_id)

    def empty(self, logical_id: str) -> None:
        """Delete whatever a previous test left (PurgeQueue may run once a minute)."""
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url(logical_id), MaxNumberOfMessages=10,
                                                VisibilityTimeout=0).get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.url(logical_id), ReceiptHandle=message["ReceiptHandle"])

    def count(self, logical_id: str) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url(logical_id), AttributeNames=["All"])["Attributes"]
        return sum(int(attrs[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                            "ApproximateNumberOfMessagesDelayed"))


def _event(action: str, n: int = 0, **extra: Any) -> Dict[str, Any]:
    return {"version": "0", "id": f"id-{action}-{n}", "detail-type": "To the queue", "source": "test.plumbing",
            "account": "123456789012", "time": "2026-11-29T00:00:00Z", "region": "us-west-2", "resources": [],
            "detail": dict({"action": action, "n": n}, **extra)}


@pytest.fixture(scope="module")
def moto():
    with MotoServer(log_path=None) as server:
        yield server


@pytest.fixture(scope="module")
def deployed(moto, tmp_path_factory):
    return Local(moto, tmp_path_factory.mktemp("plumbing"))


@pytest.fixture
def local(deployed):
    """The deployed plumbing stack with empty queues and the fake function's runtime active."""
    for logical_id in ("EventQueue", "EventDlq", "LaterQueue"):
        deployed.empty(logical_id)
    fake_handler.CALLS.clear()
    with deployed.runtime:
        yield deployed


def test_the_deployed_mappings_are_created_disabled_and_read_back_with_their_settings(local):
    emulated = [a for a in local.deployed.adaptations if a.kind == "emulated"]
    assert {a.logical_id for a in emulated} == {"EventMapping", "LaterMapping"}
    assert all(a.resource_type == "AWS::Lambda::EventSourceMapping" for a in emulated)
    lam = local.moto.client("lambda")
    assert lam.get_event_source_mapping(UUID=local.deployed.physical_id("EventMapping"))["State"] == "Disabled"
    mappings = {m.logical_id: m for m in deployed_mappings(local.deployed, local.moto, local.runtime.function_arn)}
    event = mappings["EventMapping"]
    assert event.enabled, "Enabled comes from the synthesised template"
    assert (event.batch_size, event.batching_window, event.report_batch_item_failures, event.maximum_concurrency) == (
        25, 5, True, 2)
    assert event.visibility_timeout == 180 and event.max_receive_count == 3
    assert event.dead_letter_arn.endswith(":" + local.url("EventDlq").rsplit("/", 1)[-1])
    assert mappings["LaterMapping"].maximum_concurrency is None
    # moto's own polling is off: a message sent now stays in the queue
    local.sqs.send_message(QueueUrl=local.url("EventQueue"), MessageBody=json.dumps({"action": "ok"}))
    time.sleep(0.2)
    assert local.count("EventQueue") == 1 and not fake_handler.CALLS


def test_rules_send_to_the_queue_and_the_function_gets_the_sqs_event_shape(local):
    sources = local.sources()
    bus = EventBus(local.moto, local.runtime, event_sources=sources)
    assert {r.name for r in bus.queue_rules()} == {r.name for r in bus.rules if "QueueRule" in r.name}
    assert len(bus.function_rules()) == 2, "the direct rule and the rule whose queue the function reads"
    deliveries = bus.put_many([(_event("ok", n), f"event-{n}") for n in range(30)])
    assert all(d.matched and len(d.queued) == 1 and d.outcome == "queued" for d in deliveries)
    bus.settle()
    assert [len(c["event"]["Records"]) for c in fake_handler.CALLS] == [25, 5], "BatchSize 25, then the rest"
    record = fake_handler.CALLS[0]["event"]["Records"][0]
    assert sorted(record) == ["attributes", "awsRegion", "body", "eventSource", "eventSourceARN", "md5OfBody",
                              "messageAttributes", "messageId", "receiptHandle"]
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == local.moto.region
    [event_mapping] = [m for m in sources.mappings if m.logical_id == "EventMapping"]
    assert record["eventSourceARN"] == event_mapping.queue_arn
    assert record["eventSourceARN"].endswith(":" + local.url("EventQueue").rsplit("/", 1)[-1])
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    body = json.loads(record["body"])
    assert body == deliveries[0].event, "the whole EventBridge event is the message body"
    import hashlib

    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert all(d.processed and d.outcome == "ok" for d in deliveries)
    assert local.count("EventQueue") == 0
    assert sources.stats()[event_mapping.queue_name]["batches"] == 2


def test_the_direct_rule_still_invokes_the_function_asynchronously(local):
    bus = EventBus(local.moto, local.runtime, event_sources=local.sources())
    event = dict(_event("ok"), **{"detail-type": "To the function"})
    delivery = bus.put(event)
    assert delivery.matched and not delivery.queued
    [invocation] = delivery.invocations
    assert invocation.ok and invocation.result == {"direct": True, "action": "ok"}
    assert delivery.processed and delivery.outcome == "ok"


def test_failed_items_are_redelivered_alone_and_the_rest_is_not_repeated(local):
    sources = local.sources(retry_visibility_seconds=1)
    bus = EventBus(local.moto, local.runtime, event_sources=sources)
    deliveries = bus.put_many([(_event("ok", 1), "a"), (_event("fail-once", 2), "b"), (_event("ok", 3), "c")])
    bus.settle()
    sizes = [len(c["event"]["Records"]) for c in fake_handler.CALLS]
    assert sizes == [3, 1], "the failed item alone comes back"
    retry = fake_handler.CALLS[1]["event"]["Records"][0]
    assert json.loads(retry["body"])["detail"]["action"] == "fail-once"
    assert retry["attributes"]["ApproximateReceiveCount"] == "2"
    assert retry["messageId"] == deliveries[1].queued[0].message_id
    assert [d.outcome for d in deliveries] == ["ok", "ok after 1 redelivery", "ok"]
    first, second = sources.batches
    assert first.outcome == "partial" and first.failed == [deliveries[1].queued[0].message_id]
    assert second.outcome == "ok"
    assert local.count("EventQueue") == 0 and local.count("EventDlq") == 0


def test_a_message_failed_max_receive_count_times_goes_to_the_dead_letter_queue(local):
    sources = local.sources(retry_visibility_seconds=1)
    bus = EventBus(local.moto, local.runtime, event_sources=sources)
    assert next(m for m in sources.mappings if m.logical_id == "EventMapping").max_receive_count == 3
    [ok, bad] = bus.put_many([(_event("ok", 1), "ok"), (_event("fail", 2), "bad")])
    bus.settle(timeout=30)
    assert not sources.timed_out
    assert [len(c["event"]["Records"]) for c in fake_handler.CALLS] == [2, 1, 1], "maxReceiveCount 3"
    assert bad.outcome == "dead-lettered" and not bad.processed and bad.queued[0].dead_lettered
    assert ok.outcome == "ok"
    assert local.count("EventQueue") == 0 and local.count("EventDlq") == 1
    dead = local.sqs.receive_message(QueueUrl=local.url("EventDlq"), VisibilityTimeout=0)["Messages"][0]
    assert dead["MessageId"] == bad.queued[0].message_id and json.loads(dead["Body"])["detail"]["action"] == "fail"
    queue = next(m for m in sources.mappings if m.logical_id == "EventMapping").queue_name
    assert sources.stats()[queue]["deadLettered"] == 1


@pytest.mark.parametrize("action", ["raise", "bad-item"])
def test_a_function_error_or_an_invalid_response_retries_the_whole_batch(local, action):
    sources = local.sources(retry_visibility_seconds=1)
    bus = EventBus(local.moto, local.runtime, event_sources=sources)
    bus.put_many([(_event("ok", 1), "a"), (_event(action, 2), "b")])
    bus.settle(timeout=30)
    assert [len(c["event"]["Records"]) for c in fake_handler.CALLS] == [2, 2, 2]
    assert all(b.outcome == "failed" for b in sources.batches)
    assert local.count("EventDlq") == 2, "both messages, the good one too, were dead-lettered"
    if action == "raise":
        assert sources.batches[0].reason == "function error RuntimeError"
        assert not sources.batches[0].invocation.ok
    else:
        assert "whole batch" in sources.batches[0].reason and sources.batches[0].invocation.ok


def test_batch_item_failure_rules():
    ok = Invocation("r", "s", {}, 1, True, result=None)
    ids = ["m1", "m2"]
    assert batch_item_failures(ok, ids, True) == (set(), "")
    for result, failed in [({}, set()), ({"batchItemFailures": []}, set()), ({"batchItemFailures": None}, set()),
                           ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
                           ({"batchItemFailures": [{"itemIdentifier": None}]}, {"m1", "m2"}),
                           ({"batchItemFailures": [{"itemIdentifier": "zz"}]}, {"m1", "m2"}),
                           ({"batchItemFailures": [{"id": "m1"}]}, {"m1", "m2"}),
                           ({"batchItemFailures": "m1"}, {"m1", "m2"}), ("oops", {"m1", "m2"})]:
        ok.result = result
        assert batch_item_failures(ok, ids, True)[0] == failed, result
    ok.result = {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert batch_item_failures(ok, ids, False)[0] == set(), "without ReportBatchItemFailures the response is ignored"
    error = Invocation("r", "s", {}, 1, False, error_type="Boom")
    assert batch_item_failures(error, ids, True)[0] == {"m1", "m2"}


def test_at_most_maximum_concurrency_invocations_run_at_once(local):
    """Eight execution environments offered; the mapping's MaximumConcurrency (2) is the limit."""
    [event_mapping] = [m for m in local.sources().mappings if m.logical_id == "EventMapping"]
    sources = SqsEventSources(local.moto, local.runtime, [dataclasses.replace(event_mapping, batch_size=2)],
                              environments=8)
    bus = EventBus(local.moto, local.runtime, event_sources=sources)
    bus.put_many([(_event("sleep", n, seconds=0.3), f"s{n}") for n in range(12)])
    bus.settle()
    assert len(fake_handler.CALLS) == 6
    assert sources.peak_concurrency["EventMapping"] == 2, "batches ran two at a time, never more"
    spans = sorted((c["started"], c["ended"]) for c in fake_handler.CALLS)
    overlapping = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlapping == 2


def test_one_execution_environment_by_default(local):
    sources = local.sources()
    assert any("at most 1 invocation at a time" in d for d in sources.deviations())
    assert any("visible again after" in d for d in sources.deviations())
    assert any("MaximumBatchingWindowInSeconds (5 s)" in d for d in sources.deviations())


def test_delayed_messages_reach_the_function_no_earlier_than_their_delay(local):
    sources = local.sources()
    bus = EventBus(local.moto, local.runtime, event_sources=sources)
    started = time.monotonic()
    bus.put_many([(_event("schedule", 1, delay=2), "s")])
    bus.settle()
    assert len(fake_handler.CALLS) == 1, "the delayed message is not waited for without include_delayed"
    assert local.count("LaterQueue") == 1
    bus.settle(include_delayed=True, timeout=20)
    later = fake_handler.CALLS[-1]
    assert json.loads(later["event"]["Records"][0]["body"]) == {"action": "ok", "scheduled": True}
    assert later["started"] - started >= 2.0, "DelaySeconds held"
    assert later["event"]["Records"][0]["eventSourceARN"].endswith(":" + local.url("LaterQueue").rsplit("/", 1)[-1])
    assert local.count("LaterQueue") == 0


def test_concurrent_invocations_keep_their_output_apart(local, tmp_path):
    """The runtime routes each thread's stdout and logging to its own invocation's log (activated here, in
    the test's own phase: pytest swaps sys.stdout between a fixture's setup and the test)."""
    results = []
    runtime = FunctionRuntime(local.moto, local.runtime.function_name, deadline_endpoint="http://127.0.0.1:9",
                              log_path=tmp_path / "threads.log")

    def call(n: int) -> None:
        results.append(runtime.invoke({"Records": [{"messageId": f"m{n}", "body": json.dumps(
            {"action": "sleep", "seconds": 0.2}), "attributes": {"ApproximateReceiveCount": "1"}}]}, source=f"t{n}"))

    with runtime:
        threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 4
    assert all(r.log_lines == ['{"level": "INFO", "message": "fake handler: 1 records"}'] for r in results)
