"""The minimal baseline handler the issue compares the function against.

It makes the same three AWS calls for a session action (GetSessionAction, a DynamoDB write, an SNS
publish) with the same client settings (botocore's standard retry mode, 5 attempts, the same timeouts)
and nothing else: no input validation, no normalisation, no idempotency or publishing lease, no
Powertools (logs, metrics, traces). Clients are created on first use, as the function does.

It deliberately imports nothing but the standard library and boto3 (it runs in the same stripped
interpreter setup as the function, see ``benchmarks.common.function_tree``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

_clients: Dict[str, Any] = {}


def client(service: str) -> Any:
    existing = _clients.get(service)
    if existing is None:
        import boto3
        from botocore.config import Config

        existing = _clients[service] = boto3.session.Session().client(
            service,
            config=Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=3,
                          read_timeout=10, tcp_keepalive=True),
        )
    return existing


def lambda_handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    ref = event.get("detail", event)
    response = client("deadline").get_session_action(
        farmId=ref["farmId"], queueId=ref["queueId"], jobId=ref["jobId"], sessionActionId=ref["sessionActionId"]
    )
    response.pop("ResponseMetadata", None)
    body = json.dumps(response, default=str)
    client("dynamodb").put_item(
        TableName=os.environ["TABLE_NAME"],
        Item={
            "jobId": {"S": ref["jobId"]},
            "sessionActionId": {"S": ref["sessionActionId"]},
            "status": {"S": str(response.get("status"))},
            "response": {"S": body},
        },
    )
    client("sns").publish(TopicArn=os.environ["TOPIC_ARN"], Message=body)
    return {"sessionActionId": ref["sessionActionId"], "status": response.get("status")}
