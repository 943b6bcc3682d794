"""A small stand-in for the function, to test the local SQS event source and EventBridge plumbing
(``local/moto_stack``) independently of the real handler. What it does with a message is chosen by the
message body (an EventBridge event whose ``detail.action`` says it, or a plain ``{"action": ...}``):

``ok``            processed
``fail``          listed in ``batchItemFailures`` every time
``fail-once``     listed while ApproximateReceiveCount is 1
``raise``         the invocation raises (a function error: the whole batch is retried)
``bad-item``      the response lists an empty itemIdentifier (Lambda then fails the whole batch)
``sleep``         sleeps ``seconds`` (to see concurrent invocations)
``schedule``      sends ``{"action": "ok", "scheduled": true}`` to NEXT_QUEUE_URL with DelaySeconds ``delay``

Every call is appended to ``CALLS`` (the event as received, and when it started and ended).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List

CALLS: List[Dict[str, Any]] = []


def reset_for_tests() -> None:
    """FunctionRuntime calls this on activation; the record of calls is kept for the test to read."""


def _action(body: Any) -> Dict[str, Any]:
    if isinstance(body, dict) and isinstance(body.get("detail"), dict):
        return body["detail"]
    return body if isinstance(body, dict) else {}


def lambda_handler(event: Any, context: Any) -> Any:
    call = {"event": event, "started": time.monotonic(), "requestId": context.aws_request_id}
    CALLS.append(call)
    print(json.dumps({"level": "INFO", "message": f"fake handler: {len(event.get('Records', []))} records"}))
    try:
        if "Records" not in event:
            action = _action(event)
            if action.get("action") == "raise":
                raise RuntimeError("the fake handler was asked to fail")
            return {"direct": True, "action": action.get("action")}
        failures = []
        for record in event["Records"]:
            action = _action(json.loads(record["body"]))
            kind = action.get("action", "ok")
            received = int(record["attributes"]["ApproximateReceiveCount"])
            if kind == "fail" or (kind == "fail-once" and received == 1):
                failures.append(record["messageId"])
            elif kind == "raise":
                raise RuntimeError("the fake handler was asked to fail")
            elif kind == "bad-item":
                return {"batchItemFailures": [{"itemIdentifier": ""}]}
            elif kind == "sleep":
                time.sleep(float(action.get("seconds", 0.3)))
            elif kind == "schedule":
                import boto3

                boto3.client("sqs").send_message(
                    QueueUrl=os.environ["NEXT_QUEUE_URL"],
                    MessageBody=json.dumps({"action": "ok", "scheduled": True}),
                    DelaySeconds=int(action.get("delay", 2)),
                )
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid in failures]}
    finally:
        call["ended"] = time.monotonic()
