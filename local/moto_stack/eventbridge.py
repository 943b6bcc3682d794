"""EventBridge's part: route each event through the deployed rules to the deployed function.

The rules are read back from moto's EventBridge (``ListRules``/``DescribeRule``/``ListTargetsByRule`` on the
bus), so what is evaluated is the pattern CloudFormation deployed, not a copy. Each pattern is evaluated
with moto's own matcher (``moto.events.models.EventPattern``, the code moto uses for ``PutEvents``);
moto's ``TestEventPattern`` API returns nothing in this version.

A matching rule's target that is the deployed function is invoked asynchronously, as EventBridge invokes
Lambda: on a function error Lambda retries up to ``MaximumRetryAttempts`` times (the function's
``AWS::Lambda::EventInvokeConfig``, default 2), then sends the invocation record to the on-failure
destination. Lambda waits about a minute, then two, between those attempts; here they follow at once.
Targets that are not the function (none in this stack) are listed as not simulated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from .runtime import FunctionRuntime, Invocation
from .server import MotoServer


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
    invocations: List[Invocation] = field(default_factory=list)
    dead_lettered: bool = False
    unsimulated_targets: List[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.matched_rules)

    @property
    def outcome(self) -> str:
        if not self.matched:
            return "filtered"
        if self.dead_lettered:
            return "dead-lettered"
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
    ) -> None:
        from moto.events.models import EventPattern

        self.moto = moto
        self.runtime = runtime
        self.bus_name = bus_name
        self.async_config = async_config or AsyncInvokeConfig()
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
        return [r for r in self.rules if any(t["Arn"] == self.runtime.function_arn for t in r.targets)]

    def put(self, event: Dict[str, Any], *, label: Optional[str] = None, note: str = "") -> Delivery:
        delivery = Delivery(event=event, label=label, note=note)
        for rule in self.rules:
            if not rule.matches(event):
                continue
            delivery.matched_rules.append(rule.name)
            for target in rule.targets:
                if target["Arn"] != self.runtime.function_arn:
                    delivery.unsimulated_targets.append(target["Arn"])
                    continue
                self._invoke_async(delivery, _target_input(target, event), rule)
        self.deliveries.append(delivery)
        return delivery

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


def _target_input(target: Dict[str, Any], event: Dict[str, Any]) -> Any:
    """What EventBridge sends the target: the whole event unless the target transforms it."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target or "InputTransformer" in target:
        raise NotImplementedError(f"target {target.get('Id')}: InputPath/InputTransformer are not simulated")
    return event
