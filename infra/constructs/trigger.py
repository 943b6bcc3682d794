"""EventBridge rule: Deadline Cloud "Task Run Status Change" events -> the function."""

from __future__ import annotations

from typing import Any, Dict, Sequence

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

EVENT_SOURCE = "aws.deadline"
DETAIL_TYPE = "Task Run Status Change"


def event_detail(run_statuses: Sequence[str], farm_ids: Sequence[str], queue_ids: Sequence[str]) -> Dict[str, Any]:
    detail: Dict[str, Any] = {"runStatus": list(run_statuses)}
    if farm_ids:
        detail["farmId"] = list(farm_ids)
    if queue_ids:
        detail["queueId"] = list(queue_ids)
    return detail


class TaskRunStatusTrigger(Construct):
    """A rule on the default bus; its target retries, then sends undeliverable events to ``dead_letter_queue``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        run_statuses: Sequence[str],
        farm_ids: Sequence[str],
        queue_ids: Sequence[str],
        retry_attempts: int,
        max_event_age: Duration,
    ) -> None:
        super().__init__(scope, id)
        self.rule = events.Rule(
            self,
            "Rule",
            description="Deadline Cloud task runs reaching a watched status -> Deadline Session Watch",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE],
                detail_type=[DETAIL_TYPE],
                detail=event_detail(run_statuses, farm_ids, queue_ids),
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age,
            )
        )
