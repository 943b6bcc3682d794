"""The events channel: every notification is also an EventBridge event (source ``session-watch``, a
detail-type per kind, the JSON object as ``detail``) on a bus users route with their own rules.

* ``eventBus=default``: the account's default bus (nothing to create);
* ``eventBus=create``: a bus of the stack, plus an archive of its ``session-watch`` events
  (``eventArchiveDays``) to replay them;
* ``eventBus=none``: no events channel (the function gets no ``EVENT_BUS_NAME``).

``eventQueueArns``: one rule on the bus, pattern ``{"source": ["session-watch"]}``, delivering each event to
every listed SQS queue (the whole event as the message body), with retries and the function's dead-letter
queue for events it could not deliver. The queues are not this stack's, so their policies are not managed
here: each must let ``events.amazonaws.com`` ``sqs:SendMessage`` with ``aws:SourceArn`` = the rule's ARN
(output ``NotificationEventRuleArn``; infra/README.md, "Events").
"""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

from typing import Optional, Sequence

from aws_cdk import ArnFormat, Duration, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import nag

#: The pattern of the rule that routes the function's events.
EVENT_PATTERN_SOURCE = [names.EVENT_SOURCE]


class NotificationEvents(Construct):
    """The bus the function puts its events on (and its archive); :meth:`route_to_queues` adds the rule."""

    def __init__(self, scope: Construct, id: str, *, bus: str, archive_days: int) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.created_bus: Optional[events.EventBus] = None
        self.archive: Optional[events.Archive] = None
        if bus == "create":
            self.created_bus = events.EventBus(
                self, "Bus", description="Deadline Session Watch notifications (source session-watch)")
            self.archive = self.created_bus.archive(
                "Archive",
                description="Every Deadline Session Watch notification event, for replay",
                event_pattern=events.EventPattern(source=EVENT_PATTERN_SOURCE),
                retention=Duration.days(archive_days),
            )
            # CDK writes KmsKeyIdentifier "" when no key is given; left out, the archive uses an AWS owned key
            # (the bus's own encryption), which is what is meant.
            self.archive.node.default_child.add_property_deletion_override("KmsKeyIdentifier")
            # The function's EVENT_BUS_NAME: the bus's name (PutEvents takes a name or an ARN).
            self.bus_name: str = self.created_bus.event_bus_name
            self.bus_arn: str = self.created_bus.event_bus_arn
        else:
            # The account's default bus: arn:<partition>:events:<region>:<account>:event-bus/default.
            self.bus_name = "default"
            self.bus_arn = stack.format_arn(service="events", resource="event-bus", resource_name="default",
                                            arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        self.rule: Optional[events.Rule] = None

    def route_to_queues(
        self,
        queue_arns: Sequence[str],
        *,
        dead_letter_queue: sqs.IQueue,
        retry_attempts: int,
        max_event_age: Duration,
    ) -> Optional[events.Rule]:
        """One rule, ``{"source": ["session-watch"]}``, with every queue of ``queue_arns`` as a target."""
        if not queue_arns:
            return None
        self.rule = events.Rule(
            self,
            "ToQueues",
            description="Deadline Session Watch notifications -> the configured SQS queues",
            event_bus=self.created_bus,  # None: the default bus
            event_pattern=events.EventPattern(source=EVENT_PATTERN_SOURCE),
        )
        for index, arn in enumerate(queue_arns):
            self.rule.add_target(targets.SqsQueue(
                sqs.Queue.from_queue_arn(self, f"Queue{index}", arn),
                dead_letter_queue=dead_letter_queue,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age,
            ))
        stack = Stack.of(self)
        if Token.is_unresolved(stack.account) or Token.is_unresolved(stack.region):
            nag.acknowledge(
                self.rule,
                "Annotation::@aws-cdk/aws-events:ruleUnresolvedEnvironment",
                "An environment-agnostic synth cannot compare the queues' account and region with the stack's; "
                "eventQueueArns are documented as queues of the stack's account and region (infra/README.md, "
                "Events), which is where EventBridge delivers to SQS without a cross-account bus.",
            )
        return self.rule
