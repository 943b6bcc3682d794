"""The batch path: EventBridge -> ``EventQueue`` -> the function, in batches (``eventDelivery=queue``).

Each message body is the EventBridge event JSON. The function reads the queue through an SQS event source
with ``ReportBatchItemFailures``: it reports the items it could not process, only those come back (after
the visibility timeout) and, after ``MAX_RECEIVE_COUNT`` receives, go to the queue's own dead-letter queue.
The event source's maximum concurrency bounds how many batches run at once, and so the Deadline Cloud
calls per second.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from .queues import queue_with_dead_letter_queue, visibility_timeout

#: Events wait at most this long; the rule's own maximum event age is hours, and a backlog alarms long before.
RETENTION = Duration.days(4)


class EventQueue(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.Function,
        batch_size: int,
        batching_window: Duration,
        max_concurrency: int,
    ) -> None:
        super().__init__(scope, id)
        timeout = function.timeout or Duration.seconds(3)  # Lambda's default when none is set
        self.queue, self.dead_letter_queue = queue_with_dead_letter_queue(
            self,
            "Queue",
            visibility=visibility_timeout(timeout, batching_window),
            retention=RETENTION,
        )
        self.event_source = event_sources.SqsEventSource(
            self.queue,
            batch_size=batch_size,
            max_batching_window=batching_window if batching_window.to_seconds() > 0 else None,
            report_batch_item_failures=True,
            max_concurrency=max_concurrency,
        )
        function.add_event_source(self.event_source)
