"""Encrypted, TLS-only SQS queues with their own dead-letter queue (shared by the event and digest queues)."""

from __future__ import annotations

from typing import Tuple

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import checkov

#: Why these queues use SQS-managed encryption rather than a customer-managed KMS key (checkov CKV_AWS_27).
SQS_MANAGED_ENCRYPTION = (
    "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled: true), which CKV_AWS_27 does not recognise; "
    "TLS is enforced by the queue policy. The queues hold Deadline Cloud's events (ids and statuses) and the "
    "function's digest flush requests (ids and a window start): no task parameters, no messages. SQS-managed "
    "keys also let EventBridge send to the event queue without a key policy."
)

#: Receives before a message moves to the dead-letter queue. With ReportBatchItemFailures only the items
#: that failed are received again, so five receives are five attempts of that one item.
MAX_RECEIVE_COUNT = 5
DEAD_LETTER_RETENTION = Duration.days(14)


def visibility_timeout(function_timeout: Duration, batching_window: Duration = Duration.seconds(0)) -> Duration:
    """What Lambda's SQS documentation advises: at least six times the function timeout plus the batching
    window, so that a batch still in work (or retried after a throttle) is not received twice."""
    return Duration.seconds(6 * int(function_timeout.to_seconds()) + int(batching_window.to_seconds()))


def queue_with_dead_letter_queue(
    scope: Construct,
    id: str,
    *,
    visibility: Duration,
    retention: Duration,
) -> Tuple[sqs.Queue, sqs.Queue]:
    """``{id}`` and ``{id}DeadLetterQueue``: SQS-managed SSE, TLS-only queue policies, redrive after
    ``MAX_RECEIVE_COUNT`` receives."""
    dead_letter_queue = sqs.Queue(
        scope,
        f"{id}DeadLetterQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )
    # No cdk-nag acknowledgement needed: AwsSolutions-SQS3 recognises a queue another queue's redrive
    # policy names as a dead-letter queue.
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility,
        retention_period=retention,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVE_COUNT, queue=dead_letter_queue),
    )
    for each in (queue, dead_letter_queue):
        checkov.acknowledge(each, "CKV_AWS_27", SQS_MANAGED_ENCRYPTION)
    return queue, dead_letter_queue
