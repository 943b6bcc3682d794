"""Local AWS for tests: moto's server on 127.0.0.1, the history table, the topic and a queue that
reads what the topic publishes (the way a real subscriber would)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import boto3
import requests

from local.offline_aws import isolate_from_aws

REGION = "us-west-2"
ACCOUNT = "123456789012"  # moto's default account

#: What the tests run under: no way to real AWS (local.offline_aws), Powertools as the stack sets it
#: (tracing off outside Lambda).
POWERTOOLS = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "session-watch",
    "POWERTOOLS_METRICS_NAMESPACE": "DeadlineSessionWatch",
}


def create_history_table(dynamodb: Any, name: str) -> None:
    """The table as the stack defines it (key schema and the byQueueOutcome index)."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "jobId", "AttributeType": "S"},
            {"AttributeName": "sessionActionId", "AttributeType": "S"},
            {"AttributeName": "queueOutcome", "AttributeType": "S"},
            {"AttributeName": "occurredAt", "AttributeType": "S"},
            {"AttributeName": "digestWindow", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "jobId", "KeyType": "HASH"},
            {"AttributeName": "sessionActionId", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byQueueOutcome",
                "KeySchema": [
                    {"AttributeName": "queueOutcome", "KeyType": "HASH"},
                    {"AttributeName": "occurredAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "byDigestWindow",
                "KeySchema": [
                    {"AttributeName": "digestWindow", "KeyType": "HASH"},
                    {"AttributeName": "occurredAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )


def create_digest_table(dynamodb: Any, name: str) -> None:
    """The digest ledger as the stack defines it."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "jobId", "AttributeType": "S"},
            {"AttributeName": "digestKey", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "jobId", "KeyType": "HASH"},
            {"AttributeName": "digestKey", "KeyType": "RANGE"},
        ],
    )


@dataclass
class LocalAws:
    endpoint: str
    table_name: str
    topic_arn: str
    queue_url: str
    digest_table_name: str = ""
    digest_queue_url: str = ""

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def item(self, job_id: str, session_action_id: str) -> Optional[Dict[str, Any]]:
        """The stored row, as DynamoDB JSON."""
        response = self.client("dynamodb").get_item(
            TableName=self.table_name,
            Key={"jobId": {"S": job_id}, "sessionActionId": {"S": session_action_id}},
            ConsistentRead=True,
        )
        return response.get("Item")

    def items(self) -> List[Dict[str, Any]]:
        return self.client("dynamodb").scan(TableName=self.table_name)["Items"]

    def ledger_items(self) -> List[Dict[str, Any]]:
        return self.client("dynamodb").scan(TableName=self.digest_table_name)["Items"]

    def queue_counts(self, queue_url: str) -> Dict[str, int]:
        """Visible, in-flight and delayed messages of a queue (moto honours DelaySeconds)."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        attrs = self.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        return {name: int(attrs.get(name, 0)) for name in names}

    def notifications(self) -> List[Dict[str, Any]]:
        """Every SNS message delivered to the subscribed queue so far (drained): the SNS envelope with
        ``Message`` parsed (the record) and ``Subject``/``MessageAttributes`` as SNS sent them."""
        sqs = self.client("sqs")
        out = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = batch.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                envelope["record"] = json.loads(envelope["Message"])
                out.append(envelope)
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def provision(endpoint: str, table_name: str = "session-watch-history", topic_name: str = "session-watch") -> LocalAws:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    create_history_table(dynamodb, table_name)
    sns = boto3.client("sns", endpoint_url=endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{topic_name}-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    digest_table = f"{table_name}-digests"
    create_digest_table(dynamodb, digest_table)
    digest_queue_url = sqs.create_queue(QueueName=f"{topic_name}-digest-flushes")["QueueUrl"]
    return LocalAws(endpoint, table_name, topic_arn, queue_url, digest_table, digest_queue_url)


def function_environment(aws: LocalAws, **extra: str) -> Dict[str, str]:
    """What the deployed function's environment holds, pointed at local AWS."""
    env = {
        "TABLE_NAME": aws.table_name,
        "TOPIC_ARN": aws.topic_arn,
        "NOTIFY_MODE": "each",
        "DIGEST_TABLE_NAME": aws.digest_table_name,
        "DIGEST_QUEUE_URL": aws.digest_queue_url,
        "AWS_ENDPOINT_URL_DYNAMODB": aws.endpoint,
        "AWS_ENDPOINT_URL_SNS": aws.endpoint,
        "AWS_ENDPOINT_URL_SQS": aws.endpoint,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": aws.endpoint,  # session logs (logExcerpt); the service id is "CloudWatch Logs"
    }
    env.update(extra)
    return env


class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the attributes Powertools reads)."""

    function_name = "session-watch"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:session-watch"
    log_group_name = "/aws/lambda/session-watch"
    log_stream_name = "2026/11/29/[$LATEST]0000"

    def __init__(self, request_id: str = "req-1", remaining_ms: int = 30_000) -> None:
        self.aws_request_id = request_id
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def apply_fake_credentials() -> None:
    isolate_from_aws(REGION, **POWERTOOLS)
