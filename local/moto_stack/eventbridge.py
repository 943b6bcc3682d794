"""EventBridge's part: route each event through the deployed rules to their targets: the deployed function, or
an SQS queue of the stack (the function's event queue, read by an SQS event source mapping).

The rules are read back from moto's EventBridge (``ListRules``/``DescribeRule``/``ListTargetsByRule`` on the
bus), so what is evaluated is the pattern CloudFormation deployed, not a copy. Each pattern is evaluated
with moto's own matcher (``moto.events.models.EventPattern``, the code moto uses for ``PutEvents``);
moto's ``TestEventPattern`` API returns nothing in this version.

A matching rule's target that is the deployed function is invoked asynchronously, as EventBridge invokes
Lambda: on a function error Lambda retries up to ``MaximumRetryAttempts`` times (the function's
``AWS::Lambda::EventInvokeConfig``, default 2), then sends the invocation record to the on-failure
destination. Lambda waits about a minute, then two, between those attempts; here they follow at once.

A matching rule's target that is an SQS queue gets the event as the message body (the whole event as JSON,
as EventBridge sends it when the target has no input transformation); :meth:`EventBus.put_many` sends the
messages of one delivery round with SendMessageBatch, 10 at a time (the queue holds the same messages either
way). The queue's consumer is Lambda's SQS event source (``sqs_source.SqsEventSources``): :meth:`EventBus.settle`
lets it process everything the queues hold. Other targets are listed as not simulated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from .runtime import FunctionRuntime, Invocation
from .server import MotoServer
from .sqs_source import Batch, SqsEventSources, TrackedMessage


@dataclass
class DeployedRule:
    name: str
    arn: str
    state: str
    pattern: str
    targets: List[Dict[str, Any]]
    matcher: Any

    def matches(self, event: Dict[str, Any]) -> bool:
        return self.state == "ENABLED" and bool(self.matcher.matches_event(event))


@dataclass
class AsyncInvokeConfig:
    """How Lambda handles a failed asynchronous invocation."""

    maximum_retry_attempts: int = 2
    on_failure_arn: Optional[str] = None
    source: str = "Lambda's defaults"


@dataclass
class Delivery:
    """One event put on the bus and what became of it."""

    event: Dict[str, Any]
    label: Optional[str] = None  # what the event is about, for people (set by the caller)
    note: str = ""  # e.g. "late", "duplicate"
    matched_rules: List[str] = field(default_factory=list)
    invocations: List[Invocation] = field(default_factory=list)  # direct (asynchronous) invocations
    dead_lettered: bool = False
    unsimulated_targets: List[str] = field(default_factory=list)
    queued: List[TrackedMessage] = field(default_factory=list)  # messages sent to SQS targets

    @property
    def matched(self) -> bool:
        return bool(self.matched_rules)

    @property
    def attempts(self) -> List[Invocation]:
        """Every invocation that carried this event: direct ones, or the batches of its queue messages."""
        return list(self.invocations) + [i for message in self.queued for i in message.invocations]

    @property
    def processed(self) -> bool:
        """The function processed the event: its last direct invocation succeeded, or every queue message of
        it was deleted after a batch that did not fail it."""
        if self.queued:
            return all(message.deleted for message in self.queued) and (not self.invocations or self.invocations[-1].ok)
        return bool(self.invocations) and self.invocations[-1].ok

    @property
    def outcome(self) -> str:
        if not self.matched:
            return "filtered"
        if self.dead_lettered or any(m.dead_lettered for m in self.queued):
            return "dead-lettered"
        if self.queued:
            if not all(m.deleted for m in self.queued):
                return "queued" if not any(m.attempts for m in self.queued) else "in the queue"
            tries = max(len(m.attempts) for m in self.queued)
            return "ok" if tries == 1 else f"ok after {tries - 1} redeliver{'y' if tries == 2 else 'ies'}"
        if not self.invocations:
            return "no function target"
        if len(self.invocations) > 1:
            return f"ok after {len(self.invocations) - 1} retr{'y' if len(self.invocations) == 2 else 'ies'}"
        return "ok" if self.invocations[-1].ok else "error"


class EventBus:
    def __init__(
        self,
        moto: MotoServer,
        runtime: FunctionRuntime,
        *,
        bus_name: str = "default",
        async_config: Optional[AsyncInvokeConfig] = None,
        event_sources: Optional[SqsEventSources] = None,
    ) -> None:
        from moto.events.models import EventPattern

        self.moto = moto
        self.runtime = runtime
        self.bus_name = bus_name
        self.async_config = async_config or AsyncInvokeConfig()
        self.event_sources = event_sources
        self.sqs = moto.client("sqs")
        self._queue_urls: Dict[str, str] = {}
        events = moto.client("events")
        self.rules: List[DeployedRule] = []
        for summary in events.list_rules(EventBusName=bus_name).get("Rules", []):
            rule = events.describe_rule(Name=summary["Name"], EventBusName=bus_name)
            pattern = rule.get("EventPattern")
            if not pattern:
                continue  # scheduled rules do not see events
            targets = events.list_targets_by_rule(Rule=summary["Name"], EventBusName=bus_name).get("Targets", [])
            self.rules.append(DeployedRule(rule["Name"], rule["Arn"], rule.get("State", "ENABLED"), pattern,
                                           targets, EventPattern.load(pattern)))
        self.deliveries: List[Delivery] = []

    def function_rules(self) -> List[DeployedRule]:
        """Rules that reach the function: targeting it, or a queue the function reads."""
        return [r for r in self.rules if any(self._reaches_function(t["Arn"]) for t in r.targets)]

    def _reaches_function(self, arn: str) -> bool:
        if arn == self.runtime.function_arn:
            return True
        return self.event_sources is not None and self.event_sources.mapping_for_queue(arn) is not None

    def queue_rules(self) -> List[DeployedRule]:
        return [r for r in self.rules if any(_service(t["Arn"]) == "sqs" for t in r.targets)]

    def put(self, event: Dict[str, Any], *, label: Optional[str] = None, note: str = "") -> Delivery:
        [delivery] = self.put_many([(event, label)], note=note)
        return delivery

    def put_many(self, events: List[Tuple[Dict[str, Any], Optional[str]]], *, note: str = "") -> List[Delivery]:
        """Deliver events in order: direct function targets are invoked at once; messages for SQS targets
        are sent with SendMessageBatch (before any later direct invocation, so order is kept)."""
        out: List[Delivery] = []
        outgoing: Dict[str, List[Tuple[Delivery, str]]] = {}  # queue arn -> (delivery, body)
        for event, label in events:
            delivery = Delivery(event=event, label=label, note=note)
            for rule in self.rules:
                if not rule.matches(event):
                    continue
                delivery.matched_rules.append(rule.name)
                for target in rule.targets:
                    arn = target["Arn"]
                    if arn == self.runtime.function_arn:
                        self._flush(outgoing)
                        self._invoke_async(delivery, _target_input(target, event), rule)
                    elif _service(arn) == "sqs":
                        body = json.dumps(_target_input(target, event), separators=(",", ":"))
                        outgoing.setdefault(arn, []).append((delivery, body))
                    else:
                        delivery.unsimulated_targets.append(arn)
            self.deliveries.append(delivery)
            out.append(delivery)
        self._flush(outgoing)
        return out

    def settle(self, *, include_delayed: bool = False, timeout: float = 120.0) -> List[Batch]:
        """Let the SQS event sources process everything their queues hold (see ``SqsEventSources.drain``)."""
        if self.event_sources is None:
            return []
        return self.event_sources.drain(include_delayed=include_delayed, timeout=timeout)

    def _queue_url(self, arn: str) -> str:
        if arn not in self._queue_urls:
            parts = arn.split(":")
            self._queue_urls[arn] = self.sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        return self._queue_urls[arn]

    def _flush(self, outgoing: Dict[str, List[Tuple[Delivery, str]]]) -> None:
        for arn, items in outgoing.items():
            url = self._queue_url(arn)
            for start in range(0, len(items), 10):
                chunk = items[start:start + 10]
                response = self.sqs.send_message_batch(
                    QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body} for i, (_, body) in enumerate(chunk)],
                )
                if response.get("Failed"):
                    raise RuntimeError(f"SendMessageBatch to {arn} failed: {response['Failed']}")
                for entry in response["Successful"]:
                    delivery, body = chunk[int(entry["Id"])]
                    if self.event_sources is not None:
                        message = self.event_sources.track(arn, entry["MessageId"], body, origin=delivery)
                    else:
                        message = TrackedMessage(entry["MessageId"], arn, arn.rsplit(":", 1)[-1], body, delivery)
                    delivery.queued.append(message)
        outgoing.clear()

    def _invoke_async(self, delivery: Delivery, payload: Any, rule: DeployedRule) -> None:
        attempts = 1 + max(0, self.async_config.maximum_retry_attempts)
        invocation = None
        for attempt in range(1, attempts + 1):
            invocation = self.runtime.invoke(payload, source=f"EventBridge rule {rule.name}", attempt=attempt)
            delivery.invocations.append(invocation)
            if invocation.ok:
                return
        assert invocation is not None
        if self.async_config.on_failure_arn:
            self._send_to_destination(invocation, attempts)
            delivery.dead_lettered = True

    def _send_to_destination(self, invocation: Invocation, attempts: int) -> None:
        """The record Lambda sends to an on-failure destination after the last retry."""
        arn = self.async_config.on_failure_arn or ""
        record = {
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": invocation.request_id,
                "functionArn": f"{self.runtime.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": invocation.event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": invocation.error_type, "errorMessage": invocation.error_message},
        }
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if service != "sqs":
            raise NotImplementedError(f"on-failure destination {arn}: only SQS is simulated")
        sqs = self.moto.client("sqs")
        url = sqs.get_queue_url(QueueName=arn.split(":")[-1], QueueOwnerAWSAccountId=arn.split(":")[4])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))


def _service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) >= 6 else ""


def _target_input(target: Dict[str, Any], event: Dict[str, Any]) -> Any:
    """What EventBridge sends the target: the whole event unless the target transforms it."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target or "InputTransformer" in target:
        raise NotImplementedError(f"target {target.get('Id')}: InputPath/InputTransformer are not simulated")
    return event
