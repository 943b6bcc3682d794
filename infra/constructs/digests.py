"""Digest mode's storage: the digest ledger table and the queue of delayed digest flushes.

``DigestTable`` (pk ``jobId``, sk ``digestKey``, TTL ``expiresAt``) holds ``window#<windowStart:010d>``
items (state scheduled/publishing/published, flushAt, lease) and ``jobrun#<taskRunStatus>#<hash>`` items
(deduplication of job-level messages). ``DigestQueue`` carries ``{"digestFlush": {...}}`` messages the
function sends to itself with a delay (window end + grace - now, at most 850 s < SQS's 900 s); the same
function reads them through an SQS event source.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .queues import queue_with_dead_letter_queue, visibility_timeout

PARTITION_KEY = "jobId"
SORT_KEY = "digestKey"
TTL_ATTRIBUTE = "expiresAt"
#: A flush is due within 15 minutes of being sent; a day covers any backlog short of an outage.
QUEUE_RETENTION = Duration.days(1)


class Digests(Construct):
    """The ledger is on demand, point-in-time recovery, AWS managed KMS encryption (as the history table);
    the queue is SQS-managed SSE, TLS-only, with its own dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_timeout: Duration,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        self.queue, self.dead_letter_queue = queue_with_dead_letter_queue(
            self,
            "Queue",
            visibility=visibility_timeout(function_timeout),
            retention=QUEUE_RETENTION,
        )
