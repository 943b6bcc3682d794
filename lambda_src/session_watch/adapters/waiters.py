"""The waiter table (DynamoDB) and Step Functions' task tokens: what ``usecases/waiters.py`` stores and sends.

Waiter items: key (``jobId``, ``waiterKey``), TTL ``expiresAt``. ``waiterKey`` starts with the scope
(``job#``, ``step#<stepId>#``, ``task#<stepId>#<taskId>#``) and ends with a hash of the task token, so that
one Query with a key prefix finds the waiters an event resumes, and registering the same token twice writes
the same item. The table holds open waiters only (an item is deleted once its waiter is resumed), so the
sweep's Scan reads open waiters and nothing else.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional

from botocore.exceptions import BotoCoreError, ClientError

from .. import names
from ..domain.waiting import waiter_key
from ..errors import WaiterResumeError
from .record_store import store_call

#: Scan page size of the sweep (each page is one call; an invocation sweeps at most ``MAX_SWEEP`` waiters).
SCAN_PAGE = 500
MAX_SWEEP = 5000


class WaiterStore:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    def add(self, waiter: Mapping[str, Any], *, expires_at: int) -> str:
        """Store one waiter (farmId, queueId, jobId, stepId?, taskId?, taskToken, createdAt, executionArn?)."""
        key = waiter_key(_scope(waiter), waiter.get("stepId"), waiter.get("taskId"), waiter["taskToken"])
        item: Dict[str, Any] = {names.WAITER_SORT_KEY: {"S": key}, names.TTL_ATTRIBUTE: {"N": str(int(expires_at))}}
        for name in ("farmId", "queueId", "jobId", "stepId", "taskId", "taskToken", "createdAt", "executionArn"):
            if waiter.get(name) is not None:
                item[name] = {"S": str(waiter[name])}
        with store_call("PutItem", f"{self._table} jobId={waiter['jobId']}"):
            self._client.put_item(TableName=self._table, Item=item)
        return key

    def of_job(self, job_id: str, prefix: str) -> List[Dict[str, Any]]:
        """The open waiters of a job whose key starts with ``prefix`` (``""``: all of them; one paged Query)."""
        kwargs: Dict[str, Any] = dict(
            TableName=self._table, ConsistentRead=True, KeyConditionExpression="#j = :j",
            ExpressionAttributeNames={"#j": names.WAITER_PARTITION_KEY},
            ExpressionAttributeValues={":j": {"S": job_id}},
        )
        if prefix:  # DynamoDB refuses an empty string in a key condition
            kwargs["KeyConditionExpression"] += " AND begins_with(#k, :p)"
            kwargs["ExpressionAttributeNames"]["#k"] = names.WAITER_SORT_KEY
            kwargs["ExpressionAttributeValues"][":p"] = {"S": prefix}
        out: List[Dict[str, Any]] = []
        while True:
            with store_call("Query", f"{self._table} jobId={job_id}"):
                page = self._client.query(**kwargs)
            out.extend(_plain(i) for i in page.get("Items") or [])
            if not page.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def open_waiters(self, limit: int = MAX_SWEEP) -> Iterator[Dict[str, Any]]:
        """Every open waiter (a paged Scan of a table that holds open waiters only), at most ``limit``."""
        kwargs: Dict[str, Any] = dict(TableName=self._table, Limit=SCAN_PAGE)
        seen = 0
        while seen < limit:
            with store_call("Scan", self._table):
                page = self._client.scan(**kwargs)
            for item in page.get("Items") or []:
                seen += 1
                yield _plain(item)
            if not page.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def remove(self, job_id: str, key: str) -> None:
        with store_call("DeleteItem", f"{self._table} jobId={job_id}"):
            self._client.delete_item(TableName=self._table, Key={
                names.WAITER_PARTITION_KEY: {"S": job_id}, names.WAITER_SORT_KEY: {"S": key}})


class TaskTokens:
    """SendTaskSuccess / SendTaskFailure. A token that no longer waits answers "gone", never an error."""

    def __init__(self, sfn_client: Any) -> None:
        self._client = sfn_client

    def succeed(self, token: str, output: str) -> Optional[str]:
        """None when sent; the error code when the token no longer waits (late or duplicate)."""
        return self._send("SendTaskSuccess", taskToken=token, output=output)

    def fail(self, token: str, error: str, cause: str) -> Optional[str]:
        return self._send("SendTaskFailure", taskToken=token, error=error[: names.SFN_ERROR_MAX],
                          cause=cause[: names.SFN_CAUSE_MAX])

    def heartbeat(self, token: str) -> Optional[str]:
        """The waiter is alive (the sweep saw it): resets the task's HeartbeatSeconds clock."""
        return self._send("SendTaskHeartbeat", taskToken=token)

    def _send(self, operation: str, **kwargs: Any) -> Optional[str]:
        call = {"SendTaskSuccess": self._client.send_task_success,
                "SendTaskFailure": self._client.send_task_failure,
                "SendTaskHeartbeat": self._client.send_task_heartbeat}[operation]
        try:
            call(**kwargs)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code") or "Unknown")
            if code in names.TASK_TOKEN_GONE_ERRORS:
                return code
            raise WaiterResumeError(f"{operation}: {code}: {err.response.get('Error', {}).get('Message')}") from None
        except BotoCoreError as err:
            raise WaiterResumeError(f"{operation}: {type(err).__name__}: {err}") from None
        return None


def _scope(waiter: Mapping[str, Any]) -> str:
    return "task" if waiter.get("taskId") else "step" if waiter.get("stepId") else "job"


def _plain(item: Mapping[str, Any]) -> Dict[str, Any]:
    out = {k: (v.get("S") if "S" in v else v.get("N")) for k, v in item.items()}
    out["scope"] = _scope(out)
    return out


class JobParts:
    """GetStep and GetTask, whole answers (a wait on part of a job), with the Deadline reader's typed errors."""

    def __init__(self, deadline_client: Any) -> None:
        self._client = deadline_client

    def get_step(self, farm_id: str, queue_id: str, job_id: str, step_id: str) -> Dict[str, Any]:
        from .deadline_reader import _deadline_call, _plain

        with _deadline_call("GetStep"):
            return _plain(self._client.get_step(farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=step_id))

    def get_task(self, farm_id: str, queue_id: str, job_id: str, step_id: str, task_id: str) -> Dict[str, Any]:
        from .deadline_reader import _deadline_call, _plain

        with _deadline_call("GetTask"):
            return _plain(self._client.get_task(farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=step_id,
                                                taskId=task_id))
