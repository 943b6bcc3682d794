"""The history table: one item per session action, written with conditions that make repeated and
out-of-order deliveries harmless and that claim the right to publish a status exactly once.

Item = the record's non-null fields (numbers as DynamoDB numbers) plus bookkeeping:
``expiresAt`` (TTL, epoch seconds), ``recordedAt``, ``occurredAt`` and ``queueOutcome`` (the
``byQueueOutcome`` index: recent failures of a queue), ``notifiedStatus`` (the status already published),
``notifyingStatus``/``notifyLeaseUntil``/``notifyingBy`` (an in-flight publish; the lease ends when the
invocation that took it can no longer be running; ``notifyingBy`` lets a retried request of the same
call recognise its own lease).
"""

from __future__ import annotations

import math
import uuid
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, cast

from botocore.exceptions import BotoCoreError, ClientError

from .. import names
from ..domain.record import RECORD_FIELDS, ROOT_CAUSE_FIELDS, Record
from ..errors import RecordStoreError
from ..ports import SaveKind, SaveResult

QUEUE_OUTCOME_INDEX = names.QUEUE_OUTCOME_INDEX
DIGEST_WINDOW_INDEX = names.DIGEST_WINDOW_INDEX
#: TransactWriteItems takes at most 100 actions.
TRANSACTION_LIMIT = 100


@contextmanager
def store_call(operation: str, resource: str) -> Iterator[None]:
    """Turn what botocore raises (after its retries) into ``RecordStoreError`` naming the call."""
    try:
        yield
    except ClientError as err:
        error = err.response.get("Error", {})
        raise RecordStoreError(f"{operation} {resource}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as err:
        raise RecordStoreError(f"{operation} {resource}: {type(err).__name__}: {err}") from None


class RecordStore:
    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self._table = table_name
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    # --- writes ------------------------------------------------------------------------------

    def save(
        self,
        record: Record,
        *,
        claim_notification: bool,
        now: float,
        lease_until: float,
        expires_at: int,
        recorded_at: str,
        digest_window: Optional[str] = None,
    ) -> SaveResult:
        """Write ``record`` unless that would regress a terminal record; optionally claim its publish.

        With ``digest_window`` (digest mode) the claim is final: the record joins that digest window
        (``digestWindow``, the ``byDigestWindow`` index) and counts as notified; the digest flush publishes.

        One UpdateItem. On a failed condition, DynamoDB returns the stored item and the reason is read
        from it (no second request).
        """
        values: Dict[str, Any] = {}
        names: Dict[str, str] = {}
        sets, removes = [], []
        for i, key in enumerate(RECORD_FIELDS):
            if key in ("jobId", "sessionActionId"):
                continue
            names[f"#f{i}"] = key
            value = cast(Mapping[str, Any], record).get(key)
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":f{i}"] = value
                sets.append(f"#f{i} = :f{i}")
        extra = {
            "expiresAt": expires_at,
            "recordedAt": recorded_at,
            "occurredAt": occurred_at(record, recorded_at),
            "queueOutcome": f"{record['queueId']}#{record['outcome']}",
        }
        # This call's claim: botocore may send the same UpdateItem again after a timeout, and that retry
        # must recognise the lease the first attempt took as its own, not another invocation's.
        token = uuid.uuid4().hex
        if claim_notification and digest_window:
            extra.update(notifiedStatus=record["status"], digestWindow=digest_window)
        elif claim_notification:
            extra.update(notifyingStatus=record["status"], notifyLeaseUntil=Decimal(str(lease_until)),
                         notifyingBy=token)
        for key, value in extra.items():
            names[f"#{key}"] = key
            values[f":{key}"] = value
            sets.append(f"#{key} = :{key}")

        values[":false"] = False
        values[":status"] = record["status"]
        condition = (
            "(attribute_not_exists(sessionActionId) OR #terminal = :false OR #status = :status)"
        )
        names["#terminal"] = "terminal"
        names["#status"] = "status"
        if claim_notification:
            values[":now"] = Decimal(str(now))
            condition += (
                " AND (attribute_not_exists(notifiedStatus) OR notifiedStatus <> :status)"
                " AND (attribute_not_exists(notifyLeaseUntil) OR notifyLeaseUntil < :now"
                " OR notifyingStatus <> :status"
            )
            if digest_window:
                condition += ")"
            else:
                values[":token"] = token
                condition += " OR notifyingBy = :token)"

        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(record),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=self._serialize_values(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                with store_call("UpdateItem", self._table):
                    raise
            old = err.response.get("Item") or self._get_raw(record)
            return self._why_not_written(record, old, claim_notification)
        except BotoCoreError:
            with store_call("UpdateItem", self._table):
                raise

        old_item = response.get("Attributes") or {}
        previous = old_item.get("status", {}).get("S")
        kind = SaveKind.CLAIMED if claim_notification else SaveKind.WRITTEN
        prefix = f"{record['status']}#"
        done = frozenset(c[len(prefix):] for c in old_item.get("channelsDone", {}).get("SS", []) if c.startswith(prefix))
        return SaveResult(kind, previous, channels_done=done)

    def move_to_digest(self, record: Record, digest_window: str) -> None:
        """Put a record that missed its digest window's flush into another window."""
        self._update(record, "SET digestWindow = :window", {":window": digest_window})

    def mark_published(self, published: Sequence[Tuple[Record, Sequence[str], bool]]) -> None:
        """Remember what was published and release the claims: TransactWriteItems of up to 100
        unconditional updates (one UpdateItem for one). A complete notification sets ``notifiedStatus``;
        a partial one adds its channels to ``channelsDone`` (``<status>#<channel>``), so that the retry
        publishes only the others. A transaction the service cancels (a concurrent write to one of the
        items) falls back to one UpdateItem per record, so no record is left unmarked.
        """
        unique = list({(r["jobId"], r["sessionActionId"]): (r, c, done) for r, c, done in published}.values())
        updates = [self._published_update(*entry) for entry in unique]
        for start in range(0, len(updates), TRANSACTION_LIMIT):
            chunk = updates[start:start + TRANSACTION_LIMIT]
            if len(chunk) == 1:
                with store_call("UpdateItem", self._table):
                    self._client.update_item(TableName=self._table, **chunk[0])
                continue
            try:
                self._client.transact_write_items(
                    TransactItems=[{"Update": dict(TableName=self._table, **u)} for u in chunk])
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in (
                    "TransactionCanceledException", "TransactionConflictException"
                ):
                    with store_call("TransactWriteItems", self._table):
                        raise
                for update in chunk:
                    with store_call("UpdateItem", self._table):
                        self._client.update_item(TableName=self._table, **update)
            except BotoCoreError:
                with store_call("TransactWriteItems", self._table):
                    raise

    def _published_update(self, record: Record, channels: Sequence[str], complete: bool) -> Dict[str, Any]:
        release = "notifyLeaseUntil, notifyingStatus, notifyingBy"
        if complete:
            return dict(Key=self._key(record),
                        UpdateExpression=f"SET notifiedStatus = :status REMOVE {release}, channelsDone",
                        ExpressionAttributeValues=self._serialize_values({":status": record["status"]}))
        done = {"SS": sorted(f"{record['status']}#{c}" for c in channels)}
        return dict(Key=self._key(record), UpdateExpression=f"ADD channelsDone :done REMOVE {release}",
                    ExpressionAttributeValues={":done": done})

    def release_claim(self, record: Record) -> None:
        """Publishing failed: drop the lease so that a retry may publish at once."""
        self._update(
            record,
            "REMOVE notifyLeaseUntil, notifyingStatus, notifyingBy",
            {":status": record["status"]},
            condition="notifyingStatus = :status",
        )

    # --- reads -------------------------------------------------------------------------------

    def get(self, job_id: str, session_action_id: str) -> Optional[Record]:
        raw = self._get_raw({"jobId": job_id, "sessionActionId": session_action_id})
        return self.to_record(raw) if raw else None

    def digest_members(self, window_keys: Sequence[str]) -> List[Record]:
        """Every record that joined the given digest window keys (the ``byDigestWindow`` index)."""
        records: List[Record] = []
        for key in window_keys:
            records.extend(self._query(
                f"{self._table}/{DIGEST_WINDOW_INDEX}", IndexName=DIGEST_WINDOW_INDEX,
                KeyConditionExpression="digestWindow = :w", ExpressionAttributeValues={":w": {"S": key}}))
        return records

    def records_of_job(self, job_id: str, *, limit: Optional[int] = None) -> List[Record]:
        """Every record of one job (its partition: one Query, paged), at most ``limit`` of them."""
        return self._query(f"{self._table} jobId={job_id}", limit=limit, KeyConditionExpression="jobId = :j",
                           ExpressionAttributeValues={":j": {"S": job_id}})

    def _query(self, resource: str, *, limit: Optional[int] = None, **request: Any) -> List[Record]:
        """One Query, every page of it (at most ``limit`` records), as records."""
        records: List[Record] = []
        kwargs: Dict[str, Any] = dict(TableName=self._table, **request)
        while limit is None or len(records) < limit:
            if limit is not None:
                kwargs["Limit"] = limit - len(records)
            with store_call("Query", resource):
                page = self._client.query(**kwargs)
            records.extend(self.to_record(item) for item in page.get("Items") or [])
            last = page.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
        return records

    def to_record(self, item: Mapping[str, Any]) -> Record:
        """A stored item (DynamoDB JSON) back to a record with every contract key."""
        plain = {k: self._deserializer.deserialize(v) for k, v in item.items() if k in RECORD_FIELDS}
        record: Any = dict.fromkeys(RECORD_FIELDS)
        record.update(_from_dynamo(plain))
        # DynamoDB keeps numbers, not their Python type: restore the contract's types.
        for key, kind in (("processExitCode", int), ("progressPercent", float), ("durationSeconds", float)):
            if record[key] is not None:
                record[key] = kind(record[key])
        cause = record.get("rootCause")
        if isinstance(cause, dict):  # DynamoDB keeps no nulls: restore every key of the contract
            record["rootCause"] = {key: cause.get(key) for key in ROOT_CAUSE_FIELDS}
            if record["rootCause"]["processExitCode"] is not None:
                record["rootCause"]["processExitCode"] = int(record["rootCause"]["processExitCode"])
        types = record.get("parameterTypes") or {}
        for name, value in (record.get("parameters") or {}).items():
            if types.get(name) == "float" and isinstance(value, int):
                record["parameters"][name] = float(value)
        return record

    # --- helpers -----------------------------------------------------------------------------

    def _why_not_written(
        self, record: Record, old: Optional[Mapping[str, Any]], claim: bool
    ) -> SaveResult:
        if not old:
            # The condition failed on an item that is gone now: let the caller retry.
            raise RecordStoreError(
                f"UpdateItem {self._table}: condition failed but no item is stored for "
                f"{record['jobId']}/{record['sessionActionId']}; retry"
            )
        stored = self.to_record(old)
        previous = stored.get("status")
        if stored.get("terminal") and previous != record["status"]:
            return SaveResult(SaveKind.STALE, previous, stored)
        if claim and old.get("notifiedStatus", {}).get("S") == record["status"]:
            return SaveResult(SaveKind.DUPLICATE, previous, stored, old.get("digestWindow", {}).get("S"))
        if claim:
            return SaveResult(SaveKind.PENDING, previous, stored)
        # Cannot happen with the conditions above; be explicit rather than silently drop the write.
        raise RecordStoreError(f"UpdateItem {self._table}: unexpected condition failure")

    def _update(
        self, record: Record, expression: str, values: Dict[str, Any], condition: Optional[str] = None
    ) -> None:
        kwargs: Dict[str, Any] = dict(
            TableName=self._table,
            Key=self._key(record),
            UpdateExpression=expression,
            ExpressionAttributeValues=self._serialize_values(values),
        )
        if condition:
            kwargs["ConditionExpression"] = condition
        with store_call("UpdateItem", self._table):
            try:
                self._client.update_item(**kwargs)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def _get_raw(self, record: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        with store_call("GetItem", self._table):
            response = self._client.get_item(
                TableName=self._table, Key=self._key(record), ConsistentRead=True
            )
        return response.get("Item")

    def _key(self, record: Mapping[str, Any]) -> Dict[str, Any]:
        return {"jobId": {"S": record["jobId"]}, "sessionActionId": {"S": record["sessionActionId"]}}

    def _serialize_values(self, values: Mapping[str, Any]) -> Dict[str, Any]:
        return {k: self._serializer.serialize(_to_dynamo(v)) for k, v in values.items()}


def occurred_at(record: Record, recorded_at: str) -> str:
    """When the action last changed: the sort key of the ``byQueueOutcome`` index."""
    return record.get("endedAt") or record.get("workerUpdatedAt") or record.get("startedAt") or recorded_at


def _to_dynamo(value: Any) -> Any:
    """Floats become Decimals (DynamoDB numbers); nested maps and lists are converted too."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value
