"""The history table: one item per (job, session action), with a "recent outcomes of a queue" index and a
sparse "failures of a job's digest window" index."""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

PARTITION_KEY = names.HISTORY_PARTITION_KEY
SORT_KEY = names.HISTORY_SORT_KEY
TTL_ATTRIBUTE = names.TTL_ATTRIBUTE
QUEUE_OUTCOME_INDEX = names.QUEUE_OUTCOME_INDEX
QUEUE_OUTCOME_KEY = names.QUEUE_OUTCOME_KEY  # "<queueId>#<outcome>", set on every item
OCCURRED_AT_KEY = names.OCCURRED_AT_KEY  # ISO-8601 UTC: endedAt, else workerUpdatedAt, else startedAt, else recorded
DIGEST_WINDOW_INDEX = names.DIGEST_WINDOW_INDEX
DIGEST_WINDOW_KEY = names.DIGEST_WINDOW_KEY  # "<jobId>#<windowStart>#<shard>", only on failures in digest mode


def durable_table(scope: Construct, id: str, *, partition_key: str, sort_key: str, ttl_attribute: str,
                  removal_policy: RemovalPolicy, **extra: Any) -> dynamodb.TableV2:
    """The project's table defaults: string keys, on demand, AWS managed key, PITR, TTL, deletion
    protection when retained."""
    return dynamodb.TableV2(
        scope,
        id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING),
        billing=dynamodb.Billing.on_demand(),
        encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=ttl_attribute,
        deletion_protection=removal_policy == RemovalPolicy.RETAIN,
        removal_policy=removal_policy,
        **extra,
    )


class HistoryTable(Construct):
    """On-demand, point-in-time recovery, TTL on ``expiresAt``, encrypted with the AWS managed key.

    Recent failures of a queue (newest first)::

        table.query(IndexName="byQueueOutcome",
                    KeyConditionExpression="queueOutcome = :q AND occurredAt >= :since",
                    ExpressionAttributeValues={":q": "queue-...#failure", ":since": "2026-11-20T00:00:00Z"},
                    ScanIndexForward=False)

    The failures of one digest window (one query per shard 0..7; only digest-mode failures carry the key)::

        table.query(IndexName="byDigestWindow", KeyConditionExpression="digestWindow = :w",
                    ExpressionAttributeValues={":w": "job-...#1767225660#3"})
    """

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.table = durable_table(
            self,
            "Table",
            partition_key=PARTITION_KEY,
            sort_key=SORT_KEY,
            ttl_attribute=TTL_ATTRIBUTE,
            removal_policy=removal_policy,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=QUEUE_OUTCOME_INDEX,
                    partition_key=dynamodb.Attribute(name=QUEUE_OUTCOME_KEY, type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name=OCCURRED_AT_KEY, type=dynamodb.AttributeType.STRING),
                    projection_type=dynamodb.ProjectionType.ALL,
                ),
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=DIGEST_WINDOW_INDEX,
                    partition_key=dynamodb.Attribute(name=DIGEST_WINDOW_KEY, type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name=OCCURRED_AT_KEY, type=dynamodb.AttributeType.STRING),
                    projection_type=dynamodb.ProjectionType.ALL,
                ),
            ],
        )

    @property
    def index_arn(self) -> str:
        return f"{self.table.table_arn}/index/{QUEUE_OUTCOME_INDEX}"

    @property
    def digest_window_index_arn(self) -> str:
        return f"{self.table.table_arn}/index/{DIGEST_WINDOW_INDEX}"
