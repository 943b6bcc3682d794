"""Digest mode's storage: the digest ledger table and the queue of delayed digest flushes.

``DigestTable`` (pk ``jobId``, sk ``digestKey``, TTL ``expiresAt``) holds ``window#<windowStart:010d>``
items (state scheduled/publishing/published, flushAt, lease) and ``jobrun#<taskRunStatus>#<hash>`` items
(deduplication of job-level messages). ``DigestQueue`` carries ``{"digestFlush": {...}}`` messages the
function sends to itself with a delay (window end + grace - now, at most 850 s < SQS's 900 s); the same
function reads them through an SQS event source.
"""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

from aws_cdk import Duration, RemovalPolicy
from constructs import Construct

from .history_table import durable_table
from .queues import queue_with_dead_letter_queue, visibility_timeout

PARTITION_KEY = names.LEDGER_PARTITION_KEY
SORT_KEY = names.LEDGER_SORT_KEY
TTL_ATTRIBUTE = names.TTL_ATTRIBUTE
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
        self.table = durable_table(
            self,
            "Table",
            partition_key=PARTITION_KEY,
            sort_key=SORT_KEY,
            ttl_attribute=TTL_ATTRIBUTE,
            removal_policy=removal_policy,
        )
        self.queue, self.dead_letter_queue = queue_with_dead_letter_queue(
            self,
            "Queue",
            visibility=visibility_timeout(function_timeout),
            retention=QUEUE_RETENTION,
        )
