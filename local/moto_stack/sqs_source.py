"""Lambda's part of an SQS event source mapping (``AWS::Lambda::EventSourceMapping`` on a queue), emulated.

moto's CloudFormation creates the mapping, but moto would run it itself, inside ``SendMessage``, through its
Lambda backend (which runs no code without Docker) and then delete the messages. So the deployment creates
each SQS mapping *disabled* (an :class:`~local.moto_stack.deploy.Adaptation`, printed by the demo) and
:class:`SqsEventSources` does what the Lambda service does, with the settings read back from moto
(``GetEventSourceMapping``: BatchSize, MaximumBatchingWindowInSeconds, FunctionResponseTypes,
ScalingConfig.MaximumConcurrency) and from the queue (``GetQueueAttributes``: VisibilityTimeout,
RedrivePolicy); ``Enabled`` is the template's:

* polls the queue (``ReceiveMessage``, 10 at a time, every attribute) and builds batches of up to BatchSize
  messages (and under Lambda's 6 MB invocation payload);
* builds the event Lambda sends: ``{"Records": [{messageId, receiptHandle, body, attributes
  (ApproximateReceiveCount, SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp), messageAttributes
  ({stringValue, stringListValues, binaryListValues, dataType}), md5OfBody, [md5OfMessageAttributes],
  eventSource "aws:sqs", eventSourceARN, awsRegion}]}``;
* invokes the real handler through :class:`~local.moto_stack.runtime.FunctionRuntime` (synchronously, as
  Lambda invokes for an event source);
* with ``ReportBatchItemFailures``: deletes every message of the batch that ``batchItemFailures`` does not
  list; a response Lambda treats as a complete failure (not an object, ``batchItemFailures`` not a list, an
  item without ``itemIdentifier``, an empty or null one, an id that is not in the batch) or a function
  error leaves the whole batch in the queue; without it, a successful invocation deletes the whole batch;
* leaves failed messages in the queue: they come back after the visibility timeout with
  ``ApproximateReceiveCount`` one higher, and the queue's redrive policy moves a message received
  ``maxReceiveCount`` times to its dead-letter queue (moto's ``ReceiveMessage`` does that, as SQS does);
* runs at most ``ScalingConfig.MaximumConcurrency`` invocations of one mapping at a time, and at most
  ``environments`` in all (default 1: the handler runs in this process, and Lambda would give concurrent
  invocations separate execution environments, which one process cannot; see :meth:`deviations`);
* ``DelaySeconds``: moto's SQS keeps a delayed message (the function's digest flushes) invisible until
  its delay has passed, in real time, so it reaches the function no earlier than on AWS.

Time is compressed only where that cannot change what the function sees (every such change is listed by
:meth:`SqsEventSources.deviations`, and the demo prints them):

* a partial batch is invoked as soon as the queue has nothing more to give, instead of after
  MaximumBatchingWindowInSeconds: the scenario waits (``drain``) while the batch forms, so nothing else can
  arrive in that window and the batch is the one Lambda would have sent;
* a message the function failed becomes visible again after ``retry_visibility_seconds`` (ChangeMessage-
  Visibility) instead of after the queue's VisibilityTimeout.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from .runtime import FunctionRuntime, Invocation
from .server import MotoServer

#: Lambda's limit on a synchronous invocation's request payload.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
#: Lambda's default MaximumConcurrency when ScalingConfig does not set one (the function's own concurrency
#: is the limit then); the local emulation is bounded by ``environments`` anyway.
UNBOUNDED = 1000
SQS_RECEIVE_MAX = 10


class EventSourceError(RuntimeError):
    """A mapping the emulation cannot run faithfully (the message says which and why)."""


@dataclass
class SqsMapping:
    """One SQS event source mapping of the deployed function, as deployed."""

    logical_id: str
    uuid: str
    queue_arn: str
    queue_url: str
    queue_name: str
    function_arn: str
    enabled: bool
    batch_size: int
    batching_window: int
    report_batch_item_failures: bool
    maximum_concurrency: Optional[int]
    visibility_timeout: int
    max_receive_count: Optional[int] = None
    dead_letter_arn: Optional[str] = None
    filter_criteria: Optional[Dict[str, Any]] = None

    @property
    def dead_letter_name(self) -> Optional[str]:
        return self.dead_letter_arn.rsplit(":", 1)[-1] if self.dead_letter_arn else None

    def describe(self) -> str:
        parts = [f"BatchSize {self.batch_size}", f"window {self.batching_window} s",
                 "ReportBatchItemFailures" if self.report_batch_item_failures else "whole-batch retries",
                 f"MaximumConcurrency {self.maximum_concurrency or 'unset'}",
                 f"VisibilityTimeout {self.visibility_timeout} s"]
        if self.max_receive_count:
            parts.append(f"maxReceiveCount {self.max_receive_count} -> {self.dead_letter_name}")
        return f"{self.queue_name} -> function ({', '.join(parts)})" + ("" if self.enabled else " [disabled]")


@dataclass
class Batch:
    """One invocation of the function with a batch of messages from one mapping."""

    number: int
    mapping: str  # logical id of the mapping
    queue: str  # queue name
    message_ids: List[str]
    receive_counts: List[int]
    event: Dict[str, Any]
    invocation: Optional[Invocation] = None
    failed: List[str] = field(default_factory=list)
    reason: str = ""
    concurrent: int = 1  # invocations of this mapping running while this one ran (itself included)

    @property
    def size(self) -> int:
        return len(self.message_ids)

    @property
    def outcome(self) -> str:
        if not self.failed:
            return "ok"
        return "failed" if len(self.failed) == self.size else "partial"

    def summary(self) -> str:
        text = f"batch {self.number} ({self.queue}, {self.size} message{'s' if self.size != 1 else ''})"
        if not self.failed:
            return f"{text}: all processed"
        return f"{text}: {len(self.failed)} left for redelivery ({self.reason})"


@dataclass
class TrackedMessage:
    """A message of a mapped queue and what became of it."""

    message_id: str
    queue_arn: str
    queue_name: str
    body: str
    origin: Any = None  # the EventBridge Delivery that sent it, when it came from a rule
    attempts: List[Tuple[Batch, bool]] = field(default_factory=list)  # (batch, processed)
    deleted: bool = False
    dead_lettered: bool = False

    @property
    def invocations(self) -> List[Invocation]:
        return [b.invocation for b, _ in self.attempts if b.invocation is not None]

    @property
    def state(self) -> str:
        if self.deleted:
            return "processed"
        if self.dead_lettered:
            return "dead-lettered"
        return "in the queue" if self.attempts else "not received yet"


class SqsEventSources:
    """Every SQS event source mapping of one function, run on demand (:meth:`drain`)."""

    def __init__(
        self,
        moto: MotoServer,
        runtime: FunctionRuntime,
        mappings: Sequence[SqsMapping],
        *,
        environments: int = 1,
        retry_visibility_seconds: float = 1.0,
        poll_interval: float = 0.1,
        on_batch: Optional[Callable[[Batch], None]] = None,
    ) -> None:
        self.moto = moto
        self.runtime = runtime
        self.mappings = list(mappings)
        self.environments = max(1, int(environments))
        self.retry_visibility_seconds = retry_visibility_seconds
        self.poll_interval = poll_interval
        self.on_batch = on_batch
        self.sqs = moto.client("sqs")
        self.batches: List[Batch] = []
        self.messages: Dict[str, TrackedMessage] = {}
        self.peak_concurrency: Dict[str, int] = {m.logical_id: 0 for m in self.mappings}
        self.timed_out = False
        self._lock = threading.Lock()
        self._running: Dict[str, int] = {m.logical_id: 0 for m in self.mappings}
        for mapping in self.mappings:
            if mapping.filter_criteria:
                raise EventSourceError(f"{mapping.logical_id}: FilterCriteria are not simulated")

    # -- reading the deployed mappings ------------------------------------------------------------

    @classmethod
    def from_deployed(cls, deployed: Any, moto: MotoServer, runtime: FunctionRuntime, **kwargs: Any) -> "SqsEventSources":
        return cls(moto, runtime, deployed_mappings(deployed, moto, runtime.function_arn), **kwargs)

    def mapping_for_queue(self, queue_arn: str) -> Optional[SqsMapping]:
        return next((m for m in self.mappings if m.queue_arn == queue_arn), None)

    def deviations(self) -> List[str]:
        """What differs from Lambda's SQS event source, for people."""
        out = []
        windows = sorted({m.batching_window for m in self.mappings if m.enabled and m.batching_window})
        if windows:
            out.append(
                "a partial batch is invoked as soon as the queue has nothing more to give, not after "
                f"MaximumBatchingWindowInSeconds ({', '.join(f'{w} s' for w in windows)}): the scenario waits "
                "meanwhile, so no other message could join the batch")
        for m in self.mappings:
            if m.enabled and m.visibility_timeout > self.retry_visibility_seconds:
                out.append(
                    f"{m.queue_name}: a message the function failed is visible again after "
                    f"{self.retry_visibility_seconds:g} s (ChangeMessageVisibility), not after the queue's "
                    f"VisibilityTimeout of {m.visibility_timeout} s")
        bounded = [m for m in self.mappings if m.enabled and (m.maximum_concurrency or UNBOUNDED) > self.environments]
        if bounded:
            limits = ", ".join(f"{m.queue_name} {m.maximum_concurrency or 'unset'}" for m in bounded)
            out.append(
                f"at most {self.environments} invocation{'s' if self.environments > 1 else ''} at a time in "
                f"this process (MaximumConcurrency: {limits}); Lambda would run concurrent batches in "
                "separate execution environments, each with its own caches")
        disabled = [m.queue_name for m in self.mappings if not m.enabled]
        if disabled:
            out.append(f"not polled, disabled in the template: {', '.join(disabled)}")
        return out

    # -- EventBridge's side -------------------------------------------------------------------------

    def track(self, queue_arn: str, message_id: str, body: str, origin: Any = None) -> TrackedMessage:
        """Remember a message sent to a queue (by EventBridge: ``origin`` is its Delivery)."""
        with self._lock:
            tracked = self.messages.get(message_id)
            if tracked is None:
                tracked = TrackedMessage(message_id, queue_arn, queue_arn.rsplit(":", 1)[-1], body, origin)
                self.messages[message_id] = tracked
            elif origin is not None:
                tracked.origin = origin
            return tracked

    # -- Lambda's side ------------------------------------------------------------------------------

    def drain(self, *, include_delayed: bool = False, timeout: float = 60.0) -> List[Batch]:
        """Poll every enabled mapping until its queue is empty: nothing visible, nothing in flight (failed
        messages wait out their visibility and are retried or dead-lettered) and, with ``include_delayed``,
        nothing delayed (waits, in real time, for delayed messages to become visible). Returns the batches
        run. Gives up after ``timeout`` seconds (``timed_out`` says so)."""
        deadline = time.monotonic() + timeout
        ran: List[Batch] = []
        empty_readings = 0
        while True:
            round_batches = self._round()
            ran += round_batches
            if round_batches:
                empty_readings = 0
                continue
            pending = self.pending(include_delayed=include_delayed)
            if not any(pending.values()):
                # The counts are read one after the other: a message whose visibility ends between two of
                # them is in neither. Empty twice in a row, a poll apart, is empty.
                empty_readings += 1
                if empty_readings >= 2:
                    self._mark_dead_lettered()
                    return ran
            else:
                empty_readings = 0
            if time.monotonic() > deadline:
                self.timed_out = True
                return ran
            time.sleep(self.poll_interval)

    def pending(self, *, include_delayed: bool = True) -> Dict[str, int]:
        """Queue name -> messages not yet processed (visible + in flight [+ delayed])."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        if include_delayed:
            names.append("ApproximateNumberOfMessagesDelayed")
        out = {}
        for m in self.mappings:
            if not m.enabled:
                continue
            attrs = self.sqs.get_queue_attributes(QueueUrl=m.queue_url, AttributeNames=names)["Attributes"]
            out[m.queue_name] = sum(int(attrs.get(n, 0)) for n in names)
        return out

    def _round(self) -> List[Batch]:
        """One pass over the mappings: each takes up to its concurrency's worth of batches and runs them."""
        ran: List[Batch] = []
        for mapping in self.mappings:
            if not mapping.enabled:
                continue
            slots = min(mapping.maximum_concurrency or UNBOUNDED, self.environments)
            batches = []
            for _ in range(slots):
                batch = self._receive_batch(mapping)
                if batch is None:
                    break
                batches.append(batch)
            if not batches:
                continue
            if len(batches) == 1:
                self._run(mapping, batches[0])
            else:
                with ThreadPoolExecutor(max_workers=len(batches), thread_name_prefix=f"esm-{mapping.queue_name}") as pool:
                    list(pool.map(lambda b: self._run(mapping, b), batches))
            for batch in batches:
                self._settle(mapping, batch)
            ran += batches
        return ran

    def _receive_batch(self, mapping: SqsMapping) -> Optional[Batch]:
        records: List[Dict[str, Any]] = []
        size = 0
        while len(records) < mapping.batch_size:
            want = min(SQS_RECEIVE_MAX, mapping.batch_size - len(records))
            got = self.sqs.receive_message(
                QueueUrl=mapping.queue_url, MaxNumberOfMessages=want, WaitTimeSeconds=0,
                VisibilityTimeout=mapping.visibility_timeout,
                AttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            for message in got:
                record = lambda_record(message, mapping.queue_arn, self.moto.region)
                record_size = len(json.dumps(record))
                if records and size + record_size > MAX_PAYLOAD_BYTES:
                    # Lambda would stop the batch here; this message goes back at once for the next batch
                    self.sqs.change_message_visibility(QueueUrl=mapping.queue_url,
                                                       ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
                    continue
                records.append(record)
                size += record_size
            if size >= MAX_PAYLOAD_BYTES or mapping.batching_window == 0:
                break  # without a batching window Lambda sends what one poll returned
        if not records:
            return None
        with self._lock:
            number = len(self.batches) + 1
            batch = Batch(
                number=number, mapping=mapping.logical_id, queue=mapping.queue_name,
                message_ids=[r["messageId"] for r in records],
                receive_counts=[int(r["attributes"].get("ApproximateReceiveCount", 1)) for r in records],
                event={"Records": records},
            )
            self.batches.append(batch)
            for record in records:
                if record["messageId"] not in self.messages:
                    self.messages[record["messageId"]] = TrackedMessage(
                        record["messageId"], mapping.queue_arn, mapping.queue_name, record["body"])
        return batch

    def _run(self, mapping: SqsMapping, batch: Batch) -> None:
        with self._lock:
            self._running[mapping.logical_id] += 1
            running = self._running[mapping.logical_id]
            self.peak_concurrency[mapping.logical_id] = max(self.peak_concurrency[mapping.logical_id], running)
        batch.concurrent = running
        try:
            batch.invocation = self.runtime.invoke(
                batch.event, source=f"SQS {mapping.queue_name} (event source mapping {mapping.logical_id})",
                attempt=max(batch.receive_counts),
            )
        finally:
            with self._lock:
                self._running[mapping.logical_id] -= 1

    def _settle(self, mapping: SqsMapping, batch: Batch) -> None:
        """Delete what was processed; leave the rest for redelivery (visible again shortly)."""
        assert batch.invocation is not None
        failed, reason = batch_item_failures(batch.invocation, batch.message_ids, mapping.report_batch_item_failures)
        batch.failed = [mid for mid in batch.message_ids if mid in failed]
        batch.reason = reason
        handles = {r["messageId"]: r["receiptHandle"] for r in batch.event["Records"]}
        done = [mid for mid in batch.message_ids if mid not in failed]
        for chunk in _chunks(done, 10):
            response = self.sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": handles[mid]} for i, mid in enumerate(chunk)],
            )
            if response.get("Failed"):
                raise EventSourceError(f"DeleteMessageBatch on {mapping.queue_name} failed: {response['Failed']}")
        retry_after = int(min(mapping.visibility_timeout, self.retry_visibility_seconds))
        for chunk in _chunks(batch.failed, 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": handles[mid], "VisibilityTimeout": retry_after}
                         for i, mid in enumerate(chunk)],
            )
        with self._lock:
            for mid in batch.message_ids:
                tracked = self.messages[mid]
                ok = mid not in failed
                tracked.attempts.append((batch, ok))
                tracked.deleted = tracked.deleted or ok
        if self.on_batch is not None:
            self.on_batch(batch)

    def _mark_dead_lettered(self) -> None:
        """The queues are empty: a message received, never processed and no longer there went to the DLQ
        (moto's ReceiveMessage moved it there once it had been received maxReceiveCount times)."""
        with self._lock:
            for tracked in self.messages.values():
                if tracked.attempts and not tracked.deleted:
                    tracked.dead_lettered = True

    # -- summaries ------------------------------------------------------------------------------------

    def stats(self) -> Dict[str, Dict[str, Any]]:
        """Per mapping: batches, messages, invocation errors, records failed, peak concurrency."""
        out: Dict[str, Dict[str, Any]] = {}
        for m in self.mappings:
            mine = [b for b in self.batches if b.mapping == m.logical_id and b.invocation is not None]
            out[m.queue_name] = {
                "mapping": m.logical_id,
                "batches": len(mine),
                "records": sum(b.size for b in mine),
                "largestBatch": max((b.size for b in mine), default=0),
                "functionErrors": sum(1 for b in mine if not b.invocation.ok),
                "recordsFailed": sum(len(b.failed) for b in mine),
                "peakConcurrency": self.peak_concurrency.get(m.logical_id, 0),
                "maximumConcurrency": m.maximum_concurrency,
                "deadLettered": sum(1 for t in self.messages.values()
                                    if t.queue_arn == m.queue_arn and t.dead_lettered),
            }
        return out


# --- the pieces -------------------------------------------------------------------------------------


def lambda_record(message: Dict[str, Any], queue_arn: str, region: str) -> Dict[str, Any]:
    """An SQS ReceiveMessage message as Lambda puts it in the event (``Records[]`` item)."""
    attributes = {k: v for k, v in (message.get("Attributes") or {}).items()}
    message_attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        item: Dict[str, Any] = {
            "stringListValues": list(value.get("StringListValues") or []),
            "binaryListValues": list(value.get("BinaryListValues") or []),
            "dataType": value.get("DataType"),
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            import base64

            raw = value["BinaryValue"]
            item["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, (bytes, bytearray)) else raw
        message_attributes[name] = item
    record: Dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def batch_item_failures(invocation: Invocation, message_ids: Sequence[str], report: bool) -> Tuple[Set[str], str]:
    """The messages Lambda leaves in the queue after an invocation, and why (Lambda's rules for
    ``ReportBatchItemFailures``: an empty or null list, an empty or null response mean success; an invalid
    response, an empty/null/missing itemIdentifier or an id not in the batch fail the whole batch)."""
    everything = set(message_ids)
    if not invocation.ok:
        return everything, f"function error {invocation.error_type}"
    if not report:
        return set(), ""
    result = invocation.result
    if result is None or result == {}:
        return set(), ""
    if not isinstance(result, dict):
        return everything, "invalid response (not an object): the whole batch is retried"
    items = result.get("batchItemFailures")
    if items is None:
        return set(), ""
    if not isinstance(items, list):
        return everything, "invalid batchItemFailures (not a list): the whole batch is retried"
    failed: Set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return everything, f"invalid batchItemFailures item {item!r}: the whole batch is retried"
        if identifier not in everything:
            return everything, f"batchItemFailures names {identifier!r}, not in the batch: the whole batch is retried"
        failed.add(identifier)
    return failed, f"listed in batchItemFailures ({len(failed)})" if failed else ""


def deployed_mappings(deployed: Any, moto: MotoServer, function_arn: str) -> List[SqsMapping]:
    """The function's SQS event source mappings: created by moto's CloudFormation (disabled, see
    ``deploy.adapt_template``), read back with GetEventSourceMapping; ``Enabled`` from the template."""
    out: List[SqsMapping] = []
    for logical_id in deployed.logical_ids("AWS::Lambda::EventSourceMapping"):
        props = deployed.template["Resources"][logical_id].get("Properties", {})
        mapping = read_mapping(moto, deployed.physical_id(logical_id), logical_id=logical_id,
                               enabled=props.get("Enabled", True) not in (False, "false", "False"))
        if _function_name(mapping.function_arn) == _function_name(function_arn):
            out.append(mapping)
    return out


def read_mapping(moto: MotoServer, uuid: str, *, logical_id: Optional[str] = None,
                 enabled: Optional[bool] = None) -> SqsMapping:
    """One mapping as moto holds it (GetEventSourceMapping) plus its queue's settings (GetQueueAttributes).
    ``enabled`` overrides moto's state (the deployment creates the mappings disabled)."""
    config = moto.client("lambda").get_event_source_mapping(UUID=uuid)
    sqs = moto.client("sqs")
    arn = config["EventSourceArn"]
    if arn.split(":")[2] != "sqs":
        raise EventSourceError(f"{logical_id or uuid}: event source {arn} is not an SQS queue; only SQS is simulated")
    account, name = arn.split(":")[4], arn.split(":")[5]
    url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"]) if attrs.get("RedrivePolicy") else {}
    scaling = config.get("ScalingConfig") or {}
    return SqsMapping(
        logical_id=logical_id or uuid,
        uuid=config["UUID"],
        queue_arn=arn,
        queue_url=url,
        queue_name=name,
        function_arn=config["FunctionArn"],
        enabled=(config.get("State") == "Enabled") if enabled is None else enabled,
        batch_size=int(config.get("BatchSize") or 10),
        batching_window=int(config.get("MaximumBatchingWindowInSeconds") or 0),
        report_batch_item_failures="ReportBatchItemFailures" in (config.get("FunctionResponseTypes") or []),
        maximum_concurrency=int(scaling["MaximumConcurrency"]) if scaling.get("MaximumConcurrency") else None,
        visibility_timeout=int(attrs.get("VisibilityTimeout", 30)),
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive.get("maxReceiveCount") else None,
        dead_letter_arn=redrive.get("deadLetterTargetArn"),
        filter_criteria=config.get("FilterCriteria") or None,
    )


def _function_name(arn_or_name: str) -> str:
    return arn_or_name.split(":function:")[-1].split(":")[0]


def _chunks(items: Sequence[str], size: int) -> List[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
