"""The digest ledger table and the digest queue.

Ledger items (pk ``jobId``, sk ``digestKey``, TTL ``expiresAt``):

* ``window#<windowStart>``: a digest window of a job. ``state`` is ``scheduled`` (a flush is on the
  digest queue), ``publishing`` (a flush holds the lease until ``leaseUntil``) or ``published``.
* ``jobrun#<status>#<fingerprint>``: a job-level message, with the same states (duplicate deliveries
  publish once).

The queue carries ``{"digestFlush": {...}}`` messages, delayed until the window has closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Dict, Optional

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import DigestScheduleError
from .record_store import store_call

#: SQS ``DelaySeconds`` limit.
MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class WindowState:
    state: Optional[str]  # None: no such window in the ledger
    lease_until: Optional[float] = None


def window_key(window_start: int) -> str:
    return f"window#{window_start:010d}"


def job_run_key(status: str, fingerprint: str) -> str:
    return f"jobrun#{status}#{fingerprint}"


class DigestLedger:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    def open_window(self, job_id: str, window_start: int, *, flush_at: float, expires_at: int) -> bool:
        """Create the window item; True when this call created it (the caller schedules its flush)."""
        return self._conditional(
            job_id,
            window_key(window_start),
            "SET #state = if_not_exists(#state, :scheduled), flushAt = if_not_exists(flushAt, :flushAt), "
            "expiresAt = :expiresAt",
            {":scheduled": {"S": "scheduled"}, ":flushAt": {"N": _num(flush_at)},
             ":expiresAt": {"N": str(expires_at)}},
            "attribute_not_exists(jobId)",
        )

    def forget_window(self, job_id: str, window_start: int) -> None:
        """Scheduling the flush failed: remove the window so that a retry opens and schedules it again."""
        with store_call("DeleteItem", self._table):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=self._key(job_id, window_key(window_start)),
                    ConditionExpression="#state = :scheduled",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={":scheduled": {"S": "scheduled"}},
                )
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def begin(self, job_id: str, digest_key: str, *, now: float, lease_until: float, expires_at: int) -> bool:
        """Take the publishing lease of a ledger item (a window, a job-level message).

        False when it is already published or another invocation holds an unexpired lease.
        """
        return self._conditional(
            job_id,
            digest_key,
            "SET #state = :publishing, leaseUntil = :lease, expiresAt = :expiresAt",
            {":publishing": {"S": "publishing"}, ":published": {"S": "published"},
             ":lease": {"N": _num(lease_until)}, ":now": {"N": _num(now)},
             ":expiresAt": {"N": str(expires_at)}},
            "attribute_not_exists(#state) OR (#state <> :published AND "
            "(attribute_not_exists(leaseUntil) OR leaseUntil < :now OR #state <> :publishing))",
        )

    def state(self, job_id: str, digest_key: str) -> WindowState:
        with store_call("GetItem", self._table):
            item = self._client.get_item(
                TableName=self._table, Key=self._key(job_id, digest_key), ConsistentRead=True
            ).get("Item")
        if not item:
            return WindowState(None)
        lease = item.get("leaseUntil", {}).get("N")
        return WindowState(item.get("state", {}).get("S"), float(lease) if lease else None)

    def finish(self, job_id: str, digest_key: str, *, published_count: int, message_id: str) -> None:
        """The message is out: mark the item published and drop the lease."""
        with store_call("UpdateItem", self._table):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(job_id, digest_key),
                UpdateExpression="SET #state = :published, memberCount = :n, messageId = :m REMOVE leaseUntil",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":published": {"S": "published"}, ":n": {"N": str(published_count)},
                                           ":m": {"S": message_id or "-"}},
            )

    def release(self, job_id: str, digest_key: str) -> None:
        """Publishing failed: drop the lease so that a retry may publish at once."""
        with store_call("UpdateItem", self._table):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(job_id, digest_key),
                    UpdateExpression="SET #state = :scheduled REMOVE leaseUntil",
                    ConditionExpression="#state = :publishing",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={":scheduled": {"S": "scheduled"},
                                               ":publishing": {"S": "publishing"}},
                )
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def _conditional(self, job_id: str, digest_key: str, expression: str, values: Dict[str, Any],
                     condition: str) -> bool:
        names = {"#state": "state"} if "#state" in expression or "#state" in condition else None
        kwargs: Dict[str, Any] = dict(
            TableName=self._table,
            Key=self._key(job_id, digest_key),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        if names:
            kwargs["ExpressionAttributeNames"] = names
        with store_call("UpdateItem", self._table):
            try:
                self._client.update_item(**kwargs)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    @staticmethod
    def _key(job_id: str, digest_key: str) -> Dict[str, Any]:
        return {"jobId": {"S": job_id}, "digestKey": {"S": digest_key}}


class DigestQueue:
    """Schedules digest flushes: an SQS message delayed until the window has closed."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._client = sqs_client
        self._url = queue_url

    def schedule_flush(self, flush: Dict[str, Any], *, delay_seconds: float) -> str:
        delay = max(0, min(MAX_DELAY_SECONDS, int(delay_seconds + 0.999)))
        try:
            response = self._client.send_message(
                QueueUrl=self._url,
                MessageBody=json.dumps({"digestFlush": flush}, separators=(",", ":")),
                DelaySeconds=delay,
            )
        except ClientError as err:
            error = err.response.get("Error", {})
            raise DigestScheduleError(f"SendMessage {self._url}: {error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as err:
            raise DigestScheduleError(f"SendMessage {self._url}: {type(err).__name__}: {err}") from None
        return str(response.get("MessageId", ""))


def _num(value: float) -> str:
    return str(Decimal(str(round(value, 3))))
