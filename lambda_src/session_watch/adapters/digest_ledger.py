"""The digest ledger table and the digest queue.

Ledger items (pk ``jobId``, sk ``digestKey``, TTL ``expiresAt``; key formats in ``domain/keys.py``):

* ``window#<windowStart>``: a digest window of a job. ``state`` is ``opening`` (created; its flush is not
  known to be on the digest queue yet), ``scheduled`` (the flush is queued), ``publishing`` (a flush holds
  the lease until ``leaseUntil``) or ``published``.
* ``jobrun#<status>#<fingerprint>``: a job-level message, with the same publishing states.
* ``lifecycle#<status>``: a job's lifecycle failure message (CREATE_FAILED, UPLOAD_FAILED), the same states.
* ``suspect#<workerId>#<windowStart>``: a suspect worker that failed task runs of this job (what the job's
  digests and job-level message list under "Suspect workers").
* partition ``worker#<workerId>``, ``suspect#<windowStart>``: a worker's task runs in one window
  (``runs``, ``failures``: ADD counters; ``jobs``: the ``farmId/queueId/jobId`` it ran; ``batches``: the
  tokens of the calls that counted, so that botocore re-sending a call counts nothing twice) and the
  publishing states of its suspect notification.

``leaseBy`` names the call that took a lease, so that botocore re-sending that call (its first answer
lost) recognises the lease as its own. The queue carries ``{"digestFlush": {...}}`` messages, delayed
until the window has closed.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple, Union

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.keys import DIGEST_SHARDS, job_suspect_key, suspect_window_key, window_key, worker_partition
from ..errors import DigestScheduleError
from .record_store import TRANSACTION_LIMIT, store_call

#: SQS ``DelaySeconds`` limit.
MAX_DELAY_SECONDS = 900
#: SendMessageBatch takes at most 10 messages.
SEND_BATCH_LIMIT = 10

OPENING, SCHEDULED, PUBLISHING, PUBLISHED = "opening", "scheduled", "publishing", "published"


class Lease(frozenset):
    """A publishing lease taken: the channels already published on, and what the item recorded."""

    shards: Optional[int]

    def __new__(cls, channels: Any = (), *, shards: Optional[int] = None) -> "Lease":
        lease = super().__new__(cls, channels)
        lease.shards = shards
        return lease


class DigestLedger:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name

    def open_window(self, job_id: str, window_start: int, *, flush_at: float, expires_at: int) -> Optional[str]:
        """Create the window item if it is not there; return its state before this call (``None``: created).

        Unconditional (``if_not_exists``) and answered with the old item, so that botocore re-sending it
        after a lost answer learns what the first attempt found rather than failing a condition: the caller
        queues the flush whenever the state is ``None`` or ``opening``.
        """
        with store_call("UpdateItem", self._table):
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(job_id, window_key(window_start)),
                UpdateExpression="SET #state = if_not_exists(#state, :opening), "
                                 "flushAt = if_not_exists(flushAt, :flushAt), "
                                 "expiresAt = if_not_exists(expiresAt, :expiresAt), "
                                 "shards = if_not_exists(shards, :shards)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":opening": {"S": OPENING}, ":flushAt": {"N": _num(flush_at)},
                                           ":expiresAt": {"N": str(expires_at)},
                                           ":shards": {"N": str(DIGEST_SHARDS)}},
                ReturnValues="ALL_OLD",
            )
        return (response.get("Attributes") or {}).get("state", {}).get("S")

    def mark_scheduled(self, job_id: str, window_start: int) -> None:
        """The window's flush is on the digest queue (only an ``opening`` window changes)."""
        self._conditional(job_id, window_key(window_start), "SET #state = :scheduled",
                          {":scheduled": {"S": SCHEDULED}, ":opening": {"S": OPENING}}, "#state = :opening")

    def _transact(self, items: List[Dict[str, Any]]) -> bool:
        """One TransactWriteItems; False when DynamoDB cancels it (a condition failed, or a concurrent
        write): the caller then writes the items one by one. Any other failure raises ``RecordStoreError``."""
        try:
            self._client.transact_write_items(TransactItems=items)
            return True
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("TransactionCanceledException",
                                                              "TransactionConflictException"):
                return False
            with store_call("TransactWriteItems", self._table):
                raise
        except BotoCoreError:
            with store_call("TransactWriteItems", self._table):
                raise

    def mark_scheduled_many(self, windows: Sequence[Tuple[str, int]]) -> None:
        """``mark_scheduled`` for many windows (jobId, windowStart): one TransactWriteItems of up to 100
        conditional updates. When DynamoDB cancels it (a window has moved on meanwhile: its condition
        failed; or a concurrent write), each window is marked on its own, which skips the moved ones."""
        for start in range(0, len(windows), TRANSACTION_LIMIT):
            chunk = windows[start:start + TRANSACTION_LIMIT]
            if len(chunk) == 1:
                self.mark_scheduled(*chunk[0])
                continue
            if self._transact([{"Update": {
                    "TableName": self._table, "Key": self._key(job_id, window_key(window_start)),
                    "UpdateExpression": "SET #state = :scheduled", "ConditionExpression": "#state = :opening",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {":scheduled": {"S": SCHEDULED}, ":opening": {"S": OPENING}},
                }} for job_id, window_start in chunk]):
                continue
            for job_id, window_start in chunk:
                self.mark_scheduled(job_id, window_start)

    def begin(self, job_id: str, digest_key: str, *, now: float, lease_until: float,
              expires_at: int) -> Optional["Lease"]:
        """Take the publishing lease of a ledger item (a window, a job-level message).

        ``None`` when it is already published or another call holds an unexpired lease; else the channels
        an earlier lease already published it on (``channelsDone``), which this one must not repeat, with
        the index keys the window's records went to (``Lease.shards``; ``None``: not recorded).
        """
        token = uuid.uuid4().hex
        old = self._conditional(
            job_id,
            digest_key,
            "SET #state = :publishing, leaseUntil = :lease, leaseBy = :token, expiresAt = :expiresAt",
            {":publishing": {"S": PUBLISHING}, ":published": {"S": PUBLISHED},
             ":lease": {"N": _num(lease_until)}, ":now": {"N": _num(now)}, ":token": {"S": token},
             ":expiresAt": {"N": str(expires_at)}},
            "attribute_not_exists(#state) OR (#state <> :published AND "
            "(attribute_not_exists(leaseUntil) OR leaseUntil < :now OR #state <> :publishing"
            " OR leaseBy = :token))",
        )
        if old is None:
            return None
        shards = old.get("shards", {}).get("N")
        return Lease(old.get("channelsDone", {}).get("SS", []), shards=int(shards) if shards else None)

    def begin_many(self, items: Sequence[Tuple[str, str]], *, now: float, lease_until: float,
                   expires_at: int, shards: int) -> bool:
        """``begin`` for many window items (jobId, digestKey) in one TransactWriteItems, all or none: True
        when every lease was taken. Only for windows opened with ``shards`` index keys and published on no
        channel yet (``begin``'s answer would then say nothing this call does not know); any other (and any
        item another call holds, or has published) cancels it, and the caller takes each lease on its own.
        A resent transaction (its answer lost) carries the same ``ClientRequestToken`` (botocore fills it in)
        and is answered as the first was."""
        if not items:
            return True
        token = uuid.uuid4().hex
        return self._transact([{"Update": {
                "TableName": self._table, "Key": self._key(job_id, digest_key),
                "UpdateExpression": "SET #state = :publishing, leaseUntil = :lease, leaseBy = :token, "
                                    "expiresAt = :expiresAt",
                "ConditionExpression": "#state <> :published AND shards = :shards "
                                       "AND attribute_not_exists(channelsDone) AND (attribute_not_exists(leaseUntil) "
                                       "OR leaseUntil < :now OR #state <> :publishing)",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {
                    ":publishing": {"S": PUBLISHING}, ":published": {"S": PUBLISHED}, ":lease": {"N": _num(lease_until)},
                    ":now": {"N": _num(now)}, ":token": {"S": token}, ":expiresAt": {"N": str(expires_at)},
                    ":shards": {"N": str(shards)}},
            }} for job_id, digest_key in items])

    def state(self, job_id: str, digest_key: str) -> Optional[str]:
        """The item's state (strongly consistent read); ``None`` when there is no such item."""
        with store_call("GetItem", self._table):
            item = self._client.get_item(
                TableName=self._table, Key=self._key(job_id, digest_key), ConsistentRead=True
            ).get("Item")
        return (item or {}).get("state", {}).get("S")

    def finish(self, job_id: str, digest_key: str, *, published_count: int, message_id: str,
               channels: Sequence[str] = (), complete: bool = True) -> None:
        """The message is out on ``channels``: when ``complete``, mark the item published; else remember
        those channels and drop the lease, so that the retry publishes only the others."""
        if not complete:
            with store_call("UpdateItem", self._table):
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(job_id, digest_key),
                    UpdateExpression="SET #state = :scheduled ADD channelsDone :done REMOVE leaseUntil, leaseBy",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues={":scheduled": {"S": SCHEDULED}, ":done": {"SS": sorted(channels)}},
                )
            return
        with store_call("UpdateItem", self._table):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(job_id, digest_key),
                UpdateExpression="SET #state = :published, memberCount = :n, messageId = :m "
                                 "REMOVE leaseUntil, leaseBy",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":published": {"S": PUBLISHED}, ":n": {"N": str(published_count)},
                                           ":m": {"S": message_id or "-"}},
            )

    def finish_many(self, finished: Sequence[Tuple[str, str, int, str]]) -> None:
        """``finish`` (complete) for many items (jobId, digestKey, published count, message id): one
        TransactWriteItems of up to 100 updates; one by one when DynamoDB cancels it (a concurrent write)."""
        for start in range(0, len(finished), TRANSACTION_LIMIT):
            chunk = finished[start:start + TRANSACTION_LIMIT]
            if self._transact([{"Update": {
                    "TableName": self._table, "Key": self._key(job_id, digest_key),
                    "UpdateExpression": "SET #state = :published, memberCount = :n, messageId = :m "
                                        "REMOVE leaseUntil, leaseBy",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {":published": {"S": PUBLISHED}, ":n": {"N": str(n)},
                                                  ":m": {"S": message_id or "-"}},
                }} for job_id, digest_key, n, message_id in chunk]):
                continue
            for job_id, digest_key, n, message_id in chunk:
                self.finish(job_id, digest_key, published_count=n, message_id=message_id)

    def release(self, job_id: str, digest_key: str) -> None:
        """Publishing failed: drop the lease so that a retry may publish at once."""
        self._conditional(
            job_id, digest_key, "SET #state = :scheduled REMOVE leaseUntil, leaseBy",
            {":scheduled": {"S": SCHEDULED}, ":publishing": {"S": PUBLISHING}}, "#state = :publishing",
        )

    def _conditional(self, job_id: str, digest_key: str, expression: str, values: Dict[str, Any],
                     condition: str) -> Optional[Dict[str, Any]]:
        """The update if ``condition`` holds: the item as it was (``{}`` when new), or ``None``."""
        with store_call("UpdateItem", self._table):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=self._key(job_id, digest_key),
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_OLD",
                )
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    return None
                raise
        return response.get("Attributes") or {}

    # --- suspect workers and the job's ledger items ---------------------------------------------

    def count_worker_runs(self, worker_id: str, window_start: int, *, runs: int, failures: int,
                          jobs: Sequence[str], fleet_id: Optional[str], expires_at: int) -> Dict[str, Any]:
        """Add ``runs`` and ``failures`` to a worker's window counters (one UpdateItem, atomic across
        concurrent batches) and return the counters after it: ``runs``, ``failures``, ``jobs``, ``fleetId``,
        ``state``.

        Each call carries a token added to ``batches`` under the condition that it is not there yet: when
        botocore re-sends the call after a lost answer, the condition fails and the stored item (already
        counted) is returned, so nothing counts twice.
        """
        token = uuid.uuid4().hex
        sets = ["workerId = :worker", "windowStart = :start", "expiresAt = if_not_exists(expiresAt, :expiresAt)"]
        values: Dict[str, Any] = {
            ":runs": {"N": str(runs)}, ":failures": {"N": str(failures)}, ":batch": {"SS": [token]},
            ":token": {"S": token}, ":worker": {"S": worker_id}, ":start": {"N": str(window_start)},
            ":expiresAt": {"N": str(expires_at)},
        }
        adds = ["runs :runs", "failures :failures", "batches :batch"]
        if jobs:
            adds.append("jobs :jobs")
            values[":jobs"] = {"SS": sorted(set(jobs))}
        if fleet_id:
            sets.append("fleetId = :fleet")
            values[":fleet"] = {"S": fleet_id}
        key = self._key(worker_partition(worker_id), suspect_window_key(window_start))
        with store_call("UpdateItem", self._table):
            try:
                response = self._client.update_item(
                    TableName=self._table, Key=key,
                    UpdateExpression="SET " + ", ".join(sets) + " ADD " + ", ".join(adds),
                    ConditionExpression="NOT contains(batches, :token)",
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                item = response.get("Attributes") or {}
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                item = err.response.get("Item") or self._client.get_item(
                    TableName=self._table, Key=key, ConsistentRead=True).get("Item") or {}
        return {
            "runs": int(item.get("runs", {}).get("N", "0")),
            "failures": int(item.get("failures", {}).get("N", "0")),
            "jobs": sorted(item.get("jobs", {}).get("SS", [])),
            "fleetId": item.get("fleetId", {}).get("S"),
            "state": item.get("state", {}).get("S"),
        }

    def mark_suspect(self, job_ids: Sequence[str], worker_id: str, window_start: int,
                     entry: Mapping[str, Any], *, expires_at: int) -> None:
        """List a suspect worker under each job it failed (one UpdateItem per job; the same item again
        when repeated)."""
        body = json.dumps(dict(entry), separators=(",", ":"), default=str)
        for job_id in sorted(set(job_ids)):
            with store_call("UpdateItem", self._table):
                self._client.update_item(
                    TableName=self._table, Key=self._key(job_id, job_suspect_key(worker_id, window_start)),
                    UpdateExpression="SET workerId = :w, suspect = :s, expiresAt = :e",
                    ExpressionAttributeValues={":w": {"S": worker_id}, ":s": {"S": body},
                                               ":e": {"N": str(expires_at)}})

    def job_items(self, job_id: str, prefix: str = "") -> List[Dict[str, Any]]:
        """The job's ledger items (windows, job-level messages, suspect workers), those whose key starts
        with ``prefix``: ``digestKey``, ``state`` and, for a suspect worker, ``suspect`` (a dict)."""
        kwargs: Dict[str, Any] = dict(TableName=self._table, ConsistentRead=True,
                                      KeyConditionExpression="jobId = :j AND begins_with(digestKey, :p)",
                                      ExpressionAttributeValues={":j": {"S": job_id}, ":p": {"S": prefix}})
        if not prefix:
            kwargs.update(KeyConditionExpression="jobId = :j", ExpressionAttributeValues={":j": {"S": job_id}})
        out: List[Dict[str, Any]] = []
        while True:
            with store_call("Query", self._table):
                page = self._client.query(**kwargs)
            for item in page.get("Items") or []:
                entry: Dict[str, Any] = {"digestKey": item["digestKey"]["S"], "state": item.get("state", {}).get("S")}
                if "suspect" in item:
                    try:
                        entry["suspect"] = json.loads(item["suspect"]["S"])
                    except ValueError:
                        continue
                out.append(entry)
            last = page.get("LastEvaluatedKey")
            if not last:
                return out
            kwargs["ExclusiveStartKey"] = last

    @staticmethod
    def _key(job_id: str, digest_key: str) -> Dict[str, Any]:
        return {"jobId": {"S": job_id}, "digestKey": {"S": digest_key}}


class DigestQueue:
    """Schedules digest flushes: an SQS message delayed until the window has closed."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._client = sqs_client
        self._url = queue_url

    def schedule_flush(self, flush: Mapping[str, Any], *, delay_seconds: float) -> str:
        delay = _delay(delay_seconds)
        try:
            response = self._client.send_message(
                QueueUrl=self._url,
                MessageBody=json.dumps({"digestFlush": dict(flush)}, separators=(",", ":")),
                DelaySeconds=delay,
            )
        except ClientError as err:
            error = err.response.get("Error", {})
            raise DigestScheduleError(f"SendMessage {self._url}: {error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as err:
            raise DigestScheduleError(f"SendMessage {self._url}: {type(err).__name__}: {err}") from None
        return str(response.get("MessageId", ""))


    def schedule_flushes(self, flushes: Sequence[Tuple[Mapping[str, Any], float]]) -> List[Union[str, DigestScheduleError]]:
        """``schedule_flush`` for many (flush, delay): SendMessageBatch of up to 10 messages, each with its
        own ``DelaySeconds``; per flush, in order, its message id or its ``DigestScheduleError``."""
        out: List[Union[str, DigestScheduleError]] = []
        for start in range(0, len(flushes), SEND_BATCH_LIMIT):
            chunk = flushes[start:start + SEND_BATCH_LIMIT]
            entries = [{"Id": str(i), "MessageBody": json.dumps({"digestFlush": dict(flush)}, separators=(",", ":")),
                        "DelaySeconds": _delay(delay)} for i, (flush, delay) in enumerate(chunk)]
            try:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except ClientError as err:
                error = err.response.get("Error", {})
                failure = DigestScheduleError(f"SendMessageBatch {self._url}: {error.get('Code')}: {error.get('Message')}")
                out.extend(failure for _ in chunk)
                continue
            except BotoCoreError as err:
                failure = DigestScheduleError(f"SendMessageBatch {self._url}: {type(err).__name__}: {err}")
                out.extend(failure for _ in chunk)
                continue
            sent = {e["Id"]: str(e.get("MessageId", "")) for e in response.get("Successful") or []}
            failed = {e["Id"]: e for e in response.get("Failed") or []}
            for i in range(len(chunk)):
                if str(i) in sent:
                    out.append(sent[str(i)])
                else:
                    f = failed.get(str(i), {})
                    out.append(DigestScheduleError(f"SendMessageBatch {self._url}: {f.get('Code')}: {f.get('Message')}"))
        return out


def _delay(delay_seconds: float) -> int:
    return max(0, min(MAX_DELAY_SECONDS, int(delay_seconds + 0.999)))


def _num(value: float) -> str:
    return str(Decimal(str(round(value, 3))))
