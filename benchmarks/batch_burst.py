"""Batch burst (issue 6): a render's worth of failing tasks through the per-event path and the SQS batch
path, in ``each`` and ``digest`` modes, side by side in one run.

Workloads: ``TASKS`` failing tasks of **one job**, and ``TASKS`` failing tasks spread over **100 jobs**
(sessions of 50 tasks, every task FAILED with exit code 139). Each task's ``Task Run Status Change``
(FAILED) is delivered once, and ``DUPLICATE_SHARE`` of them a second time (the same event: EventBridge
delivers at least once), shuffled. ``THROTTLED_SHARE`` of all Deadline calls answer ThrottlingException
(429, whole call, every operation, the hardening work's fault mix) and ``ITEM_ERROR_SHARE`` of the items of
every Batch* answer come back in its ``errors[]`` as InternalServerErrorException (per item, transient).

Variants, each on freshly provisioned moto servers and the same stand-in (counters reset):

* **per-event**: the baseline, one EventBridge event per invocation (``NOTIFY_MODE=each``), as
  ``benchmarks/burst.py`` plays it: ``PER_EVENT_WORKERS`` warm execution environments, a failed invocation
  redelivered after 1 s (2 s for ``NotificationPending``), 3 attempts in all (async invocation retries).
* **batch, each**: the SQS event source emulated in the driver as Lambda runs it for the stack's event queue:
  batches of up to ``EVENT_BATCH_SIZE`` messages (the queue holds the whole burst, so batches are full),
  at most ``EVENT_MAX_CONCURRENCY`` batches at once (the stack's ``maxConcurrency``: that many execution
  environments), ``ReportBatchItemFailures``: the messages a batch reports in ``batchItemFailures`` (all of
  them when the invocation fails) come back after ``REDELIVERY_DELAY_S`` (the visibility timeout, 6 min 5 s
  in the stack, compressed; longer than a batch takes here, so that a redelivered duplicate finds the first
  copy's batch finished, as it would on AWS) and are then received as Lambda's poller receives them: in the next
  batch, together with whatever else the queue holds (other redelivered messages, fresh ones), up to the batch
  size, and alone only when nothing else is visible; a message received ``MAX_RECEIVE_COUNT`` times that fails
  again goes to the dead-letter queue (counted as lost).
* **batch, digest**: the same, ``NOTIFY_MODE=digest`` with ``DIGEST_WINDOW_SECONDS=WINDOW_SECONDS`` (the
  stack's default, 60 s: moto makes the burst last minutes, and with the shortest window, 10 s, a job's
  failures would be cut into many more windows than the same burst on AWS would span; the price is up to
  70 s of waiting for the last flush). The digest
  queue is moto's SQS, which keeps a flush message invisible until its ``DelaySeconds`` (window end + 10 s
  - now) has passed, in real time; a poller per moto server reads it as the digest queue's event source
  does (batches of up to ``FLUSH_BATCH_SIZE``, ``ReportBatchItemFailures``, a failed flush visible again
  after 1 s, dead-lettered after ``MAX_RECEIVE_COUNT`` receives) and invokes a flush environment of its
  own with the SQS batch. The variant ends when every event is settled and the digest queue is empty.

``DIGEST_WINDOW_SECONDS`` is also the function's enrichment budget window; it is the same in all three
variants.

moto's server is CPU-bound, so, as in ``burst.py``, the history lives in ``SHARDS`` moto servers, jobs
split between them (each with its own tables, topic and digest queue; every message of a job goes to its
server's environments). A job's digest windows, its ledger items and its index keys must be in one table,
so the one-job workload runs on one moto server.

Checked afterwards, per variant: every failing action is in the table as FAILED (nothing lost, nothing
regressed); ``each``: exactly one message per failing action at the subscriber (an HTTP endpoint subscribed
to the topic); ``digest``: no per-action message, at most one digest per job and window, and for every
(job, window) the digest's failure count equals the records the table holds for that window, the counts
adding up to the failing actions.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import common
from .burst import DEFAULT_RETRY_DELAY_S, MAX_ATTEMPTS, RETRY_DELAY_S, _Queue

TASKS = 10_000
#: ``make bench``'s size (``python -m benchmarks.run --batch-tasks 10000`` for the issue's, most of an hour).
MAKE_BENCH_TASKS = 200
SPREAD_JOBS = 100
SESSION_SIZE = 50
DUPLICATE_SHARE = 0.20
THROTTLED_SHARE = 0.05
ITEM_ERROR_SHARE = 0.01
WINDOW_SECONDS = 60  # the stack's default (digestWindowSeconds)
SHARDS = 2
PER_EVENT_WORKERS = 8
EVENT_BATCH_SIZE = 100
EVENT_MAX_CONCURRENCY = 2
FLUSH_BATCH_SIZE = 10
MAX_RECEIVE_COUNT = 5
REDELIVERY_DELAY_S = 5.0
REMAINING_MS = 60_000  # the stack's function timeout
DEADLINE_BATCH_LIMIT = 100
DIGEST_GRACE_SECONDS = 10  # the function's: a window's flush is due this long after the window ends

VARIANTS = ("per-event", "batch each", "batch digest")
#: Deadline operations that read the session actions the events are about (the issue's "read calls").
READ_OPERATIONS = ("GetTask", "GetSessionAction", "BatchGetTask", "BatchGetSessionAction", "ListSessionActions")
#: Enrichment reads (job name and priority, worker and logs).
ENRICHMENT_OPERATIONS = ("GetJob", "GetSession", "BatchGetJob", "BatchGetSession")


# --- the subscriber --------------------------------------------------------------------------------


class Subscriber:
    """An HTTP endpoint subscribed to the topics: per-action messages by session action, digests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner._receive(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        # a listen backlog for the concurrent deliveries of a batch's PublishBatch calls (the default, 5,
        # refuses connections, and moto drops such a message from its PublishBatch answer)
        self.server = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 256})(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = "http://127.0.0.1:%d/" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with self._lock:
            self.actions: Counter = Counter()  # session action id -> per-action messages
            self.digests: List[Tuple[str, str, int]] = []  # (jobId, windowStart ISO, failures)
            self.other: Counter = Counter()

    def _receive(self, body: bytes) -> None:
        try:
            envelope = json.loads(body)
            if envelope.get("Type") != "Notification":
                with self._lock:
                    self.other[str(envelope.get("Type"))] += 1
                return
            doc = json.loads(envelope["Message"])
            kind = ((envelope.get("MessageAttributes") or {}).get("kind") or {}).get("Value") or doc.get("kind")
            with self._lock:
                if kind == "digest":
                    self.digests.append((str(doc["jobId"]), str(doc["windowStart"]), int(doc["failures"])))
                elif doc.get("sessionActionId"):
                    self.actions[doc["sessionActionId"]] += 1
                else:
                    self.other[str(kind)] += 1
        except (ValueError, KeyError, TypeError):
            with self._lock:
                self.other["unreadable"] += 1

    @property
    def messages(self) -> int:
        with self._lock:
            return sum(self.actions.values()) + len(self.digests) + sum(self.other.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- per-item faults of Batch* answers ---------------------------------------------------------------


class ItemFaults:
    """Wraps the stand-in's per-resource fault hook: each item of a Batch* call fails (in the answer's
    ``errors[]``, InternalServerErrorException) with probability ``share``, drawn per item per call."""

    def __init__(self, standin: Any) -> None:
        from local.deadline_farm import internal_error

        self._make_error = internal_error
        self._lock = threading.Lock()
        self._rng = random.Random(0)
        self.share = 0.0
        self.injected: Counter = Counter()
        self._original = standin.faults.resource_fault
        standin.faults.resource_fault = self._resource_fault

    def reset(self, seed: int, share: float) -> None:
        with self._lock:
            self._rng = random.Random(f"item-faults:{seed}")
            self.share = share
            self.injected = Counter()

    def _resource_fault(self, operation: str, resource_ids: Any) -> Any:
        error = self._original(operation, resource_ids)
        if error is None and operation.startswith("Batch"):
            with self._lock:
                hit = self.share > 0 and self._rng.random() < self.share
                if hit:
                    self.injected[operation] += 1
            if hit:
                error = self._make_error("Injected by the benchmark: this item failed", retry_after=None)
        return error


# --- the SQS event source, emulated ----------------------------------------------------------------


@dataclass
class _Message:
    message_id: str
    body: str
    sent_ms: int
    receives: int = 0
    first_receive_ms: Optional[int] = None


class _EventQueue:
    """The event queue as Lambda's SQS event source meets it: the whole burst waiting, full batches, failed
    messages visible again after ``REDELIVERY_DELAY_S``, dead-lettered after ``MAX_RECEIVE_COUNT`` receives.

    How a redelivered message comes back: as Lambda's SQS poller takes it, in the next batch with whatever
    else is visible in the queue, up to the batch size (the messages whose visibility timeout ran out
    first, then fresh ones); alone only when nothing else is visible. Lambda's poller reads with
    ReceiveMessage and hands the function what it received, it does not single out a redelivered message
    ("Using Lambda with Amazon SQS", the batching and "Implementing partial batch responses" sections of the
    Lambda developer guide)."""

    def __init__(self, events: Sequence[Dict[str, Any]]) -> None:
        sent = int(time.time() * 1000)
        self._fresh = deque(_Message(str(uuid.uuid4()), json.dumps(e, separators=(",", ":")), sent) for e in events)
        self._retry: List[Tuple[float, int, _Message]] = []
        self._seq = 0
        self.outstanding = len(self._fresh)
        self.dead_lettered: List[_Message] = []
        self._cond = threading.Condition()

    def take(self, size: int) -> Optional[List[_Message]]:
        with self._cond:
            while True:
                if self.outstanding == 0:
                    return None
                now = time.monotonic()
                # Lambda's poller receives whatever is visible, up to the batch size: the redelivered
                # messages whose visibility timeout has run out, and the fresh ones the queue still holds.
                batch: List[_Message] = []
                while self._retry and self._retry[0][0] <= now and len(batch) < size:
                    batch.append(heapq.heappop(self._retry)[2])
                while self._fresh and len(batch) < size:
                    batch.append(self._fresh.popleft())
                if batch:
                    return batch
                self._cond.wait(max(0.01, self._retry[0][0] - now) if self._retry else 0.5)

    def settle(self, message: _Message, processed: bool) -> None:
        with self._cond:
            if processed:
                self.outstanding -= 1
            elif message.receives >= MAX_RECEIVE_COUNT:
                self.dead_lettered.append(message)
                self.outstanding -= 1
            else:
                self._seq += 1
                heapq.heappush(self._retry, (time.monotonic() + REDELIVERY_DELAY_S, self._seq, message))
            self._cond.notify_all()


def _sqs_record(message: _Message, queue_arn: str) -> Dict[str, Any]:
    """One record of the event Lambda passes for an SQS batch (what ``tests/integration`` builds too)."""
    now = int(time.time() * 1000)
    message.receives += 1
    if message.first_receive_ms is None:
        message.first_receive_ms = now
    return {
        "messageId": message.message_id,
        "receiptHandle": f"{message.message_id}#{message.receives}",
        "body": message.body,
        "attributes": {"ApproximateReceiveCount": str(message.receives), "SentTimestamp": str(message.sent_ms),
                       "SenderId": "AIDAEVENTBRIDGE", "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms)},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(message.body.encode()).hexdigest(),  # noqa: S324 (what SQS sends)
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": common.REGION,
    }


def _failed_ids(answer: Dict[str, Any], batch_ids: Sequence[str]) -> set:
    """The messages Lambda leaves in the queue: the reported items, or the whole batch when the invocation
    failed or its response is not a valid partial-batch response."""
    if not answer.get("ok"):
        return set(batch_ids)
    failures = answer.get("batchItemFailures")
    if not isinstance(failures, list):
        return set(batch_ids)
    ids = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not item or item not in batch_ids:
            return set(batch_ids)
        ids.add(item)
    return ids


# --- one variant ----------------------------------------------------------------------------------


@dataclass
class _Shard:
    moto: common.MotoServer
    aws: Any  # tests.support.aws.LocalAws
    events: List[Dict[str, Any]]


class _Invocations:
    """What the driver saw of every invocation: client-side request counts, wall times, sizes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.redelivery_invocations = 0
        self.flush_invocations = 0
        self.calls: Counter = Counter()
        self.calls_redelivered: Counter = Counter()
        self.wall_ms: List[float] = []
        self.errors: Counter = Counter()
        self.item_failures = 0

    def add(self, answer: Dict[str, Any], *, redelivery: bool = False, flush: bool = False) -> None:
        with self.lock:
            self.count += 1
            self.calls.update(answer.get("calls") or {})
            if redelivery:
                self.redelivery_invocations += 1
                self.calls_redelivered.update(answer.get("calls") or {})
            if flush:
                self.flush_invocations += 1
            self.wall_ms.append(answer["wall_us"] / 1000)
            if not answer.get("ok"):
                self.errors[answer.get("error", "?")] += 1
            self.item_failures += len(answer.get("batchItemFailures") or [])


def _function_env(tree: common.FunctionTree, shard: _Shard, standin: Any, mode: str) -> Dict[str, str]:
    aws, endpoint = shard.aws, shard.moto.endpoint
    return common.lambda_environment(tree.code, extra={
        "TABLE_NAME": aws.table_name, "TOPIC_ARN": aws.topic_arn, "NOTIFY_MODE": mode,
        "DIGEST_TABLE_NAME": aws.digest_table_name, "DIGEST_QUEUE_URL": aws.digest_queue_url,
        "DIGEST_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_SNS": endpoint, "AWS_ENDPOINT_URL_SQS": endpoint,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": endpoint,
        "AWS_ENDPOINT_URL_DEADLINE": standin.endpoint_url,
    })


def _run_variant(variant: str, shards: List[_Shard], standin: Any, item_faults: ItemFaults,
                 subscriber: Subscriber, tree: common.FunctionTree, tmp: Path, seed: int,
                 expected: Dict[str, str]) -> Dict[str, Any]:
    from tests.support.aws import provision

    for shard in shards:  # fresh tables, topic and digest queue; the HTTP subscriber on the topic
        shard.aws = provision(shard.moto.endpoint)
        sns = shard.aws.client("sns")
        for sub in sns.list_subscriptions_by_topic(TopicArn=shard.aws.topic_arn)["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
        sns.subscribe(TopicArn=shard.aws.topic_arn, Protocol="http", Endpoint=subscriber.endpoint)
    standin.faults.clear()
    standin.faults.reseed(seed)
    standin.faults.error_rate("*", throttling=THROTTLED_SHARE)
    item_faults.reset(seed, ITEM_ERROR_SHARE)
    standin.reset_calls()
    subscriber.reset()

    mode = "digest" if variant == "batch digest" else "each"
    inv = _Invocations()
    lost: List[Dict[str, Any]] = []
    result: Dict[str, Any] = {"variant": variant, "mode": mode,
                              "deliveries": sum(len(s.events) for s in shards)}

    with ExitStack() as stack:
        def start(shard: _Shard, name: str) -> common.FunctionProcess:
            proc = common.FunctionProcess("handler", tree, _function_env(tree, shard, standin, mode),
                                          tmp / f"{variant.replace(' ', '-')}-{name}.log")
            stack.callback(proc.close)
            return proc

        environments = PER_EVENT_WORKERS if variant == "per-event" else EVENT_MAX_CONCURRENCY
        workers = [(i % len(shards), start(shards[i % len(shards)], f"w{i}")) for i in range(environments)]
        flushers = [(i, start(shards[i], f"flush{i}")) for i in range(len(shards))] if mode == "digest" else []
        for _, proc in workers + flushers:  # every environment is initialised before the burst starts
            proc.stats()
        moto_cpu0 = [s.moto.cpu_seconds() for s in shards]
        events_done = threading.Event()
        threads: List[threading.Thread] = []

        if variant == "per-event":
            queues = [_Queue(s.events) for s in shards]

            def dispatch(i: int, proc: common.FunctionProcess) -> None:
                queue = queues[i]
                while True:
                    item = queue.take()
                    if item is None:
                        return
                    attempt, event = item
                    answer = proc.invoke(event, remaining_ms=REMAINING_MS)
                    inv.add(answer, redelivery=attempt > 1)
                    if answer["ok"]:
                        queue.done()
                    elif answer.get("retryable", True) and attempt < MAX_ATTEMPTS:
                        queue.retry(event, attempt + 1, RETRY_DELAY_S.get(answer["error"], DEFAULT_RETRY_DELAY_S))
                    else:
                        with inv.lock:
                            lost.append({"event": event["id"], "error": answer["error"]})
                        queue.done()
        else:
            equeues = [_EventQueue(s.events) for s in shards]
            arn = f"arn:aws:sqs:{common.REGION}:{common.ACCOUNT}:session-watch-events"

            def dispatch(i: int, proc: common.FunctionProcess) -> None:
                queue = equeues[i]
                while True:
                    batch = queue.take(EVENT_BATCH_SIZE)
                    if batch is None:
                        return
                    redelivery = any(m.receives > 0 for m in batch)
                    answer = proc.invoke({"Records": [_sqs_record(m, arn) for m in batch]}, remaining_ms=REMAINING_MS)
                    inv.add(answer, redelivery=redelivery)
                    failed = _failed_ids(answer, [m.message_id for m in batch])
                    for message in batch:
                        queue.settle(message, message.message_id not in failed)

        for i, proc in workers:
            threads.append(threading.Thread(target=dispatch, args=(i, proc), daemon=True))

        flush_stats = {"received": 0, "failed": 0, "dead_lettered": 0}
        flush_lag: List[float] = []
        if flushers:
            def flush_loop(i: int, proc: common.FunctionProcess) -> None:
                aws = shards[i].aws
                sqs = aws.client("sqs")
                url = aws.digest_queue_url
                arn_ = f"arn:aws:sqs:{common.REGION}:{common.ACCOUNT}:{url.rsplit('/', 1)[-1]}"
                while True:
                    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=FLUSH_BATCH_SIZE,
                                              AttributeNames=["All"], WaitTimeSeconds=0).get("Messages") or []
                    if not got:
                        if events_done.is_set() and not any(aws.queue_counts(url).values()):
                            return
                        time.sleep(0.25)
                        continue
                    records = [{
                        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "attributes": {k: m["Attributes"][k] for k in (
                            "ApproximateReceiveCount", "SentTimestamp", "SenderId",
                            "ApproximateFirstReceiveTimestamp") if k in m.get("Attributes", {})},
                        "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
                        "eventSourceARN": arn_, "awsRegion": common.REGION,
                    } for m in got]
                    now = time.time()
                    for m in got:  # how late the flush runs: after its window's end + the 10 s grace
                        try:
                            start_ = int(json.loads(m["Body"])["digestFlush"]["windowStart"])
                        except (ValueError, KeyError, TypeError):
                            continue
                        with inv.lock:
                            flush_lag.append(now - (start_ + WINDOW_SECONDS + DIGEST_GRACE_SECONDS))
                    answer = proc.invoke({"Records": records}, remaining_ms=REMAINING_MS)
                    inv.add(answer, flush=True)
                    failed = _failed_ids(answer, [m["MessageId"] for m in got])
                    done = []
                    for m in got:
                        with inv.lock:
                            flush_stats["received"] += 1
                        if m["MessageId"] not in failed:
                            done.append(m)
                            continue
                        with inv.lock:
                            flush_stats["failed"] += 1
                        if int(m["Attributes"].get("ApproximateReceiveCount", "1")) >= MAX_RECEIVE_COUNT:
                            done.append(m)  # to the dead-letter queue
                            with inv.lock:
                                flush_stats["dead_lettered"] += 1
                                lost.append({"flush": m["Body"], "error": "dead-lettered"})
                        else:  # visible again after the (compressed) visibility timeout
                            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                                          VisibilityTimeout=int(REDELIVERY_DELAY_S))
                    if done:
                        sqs.delete_message_batch(QueueUrl=url, Entries=[
                            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)])

            flush_threads = [threading.Thread(target=flush_loop, args=(i, proc), daemon=True) for i, proc in flushers]
        else:
            flush_threads = []

        started = time.perf_counter()
        for thread in threads + flush_threads:
            thread.start()
        for thread in threads:
            thread.join()
        events_seconds = time.perf_counter() - started
        events_done.set()
        for thread in flush_threads:
            thread.join()
        wall_seconds = time.perf_counter() - started

        if variant != "per-event":
            for queue in equeues:
                lost.extend({"message": m.message_id, "error": "dead-lettered"} for m in queue.dead_lettered)
        result["moto_cpu_seconds"] = [s.moto.cpu_seconds() - c for s, c in zip(shards, moto_cpu0)]
        stats = [proc.stats() for _, proc in workers]
        flush_proc_stats = [proc.stats() for _, proc in flushers]

    log = standin.call_log
    deadline_calls = Counter(r.operation for r in log)
    deadline_errors = Counter(f"{r.operation} {r.error_code}" for r in log if r.error_code)
    reads = sum(n for op, n in deadline_calls.items() if op in READ_OPERATIONS)
    enrichment = sum(n for op, n in deadline_calls.items() if op in ENRICHMENT_OPERATIONS)
    actions = len(expected)
    client = inv.calls
    result.update(
        processes=len(workers), flush_processes=len(flushers), shards=len(shards),
        events_seconds=events_seconds, wall_seconds=wall_seconds,
        deliveries_per_second=result["deliveries"] / events_seconds,
        invocations=inv.count, redelivery_invocations=inv.redelivery_invocations,
        flush_invocations=inv.flush_invocations, invocation_errors=dict(inv.errors),
        item_failures_reported=inv.item_failures, flush=flush_stats,
        flush_lateness_s=common.summary(flush_lag),
        latency_ms=common.summary(inv.wall_ms),
        deadline_calls=dict(sorted(deadline_calls.items())),
        deadline_errors=dict(sorted(deadline_errors.items())),
        deadline_calls_total=sum(deadline_calls.values()),
        deadline_read_calls=reads,
        deadline_enrichment_calls=enrichment,
        deadline_other_calls=sum(deadline_calls.values()) - reads - enrichment,
        deadline_read_errors=sum(n for key, n in deadline_errors.items() if key.split()[0] in READ_OPERATIONS),
        client_read_calls_redelivered=sum(n for op, n in inv.calls_redelivered.items()
                                          if op.split(".", 1)[-1] in READ_OPERATIONS and op.startswith("deadline.")),
        deadline_item_errors_injected=dict(item_faults.injected),
        client_calls=dict(sorted(client.items())),
        client_calls_redelivered=dict(sorted(inv.calls_redelivered.items())),
        dynamodb_requests=sum(n for op, n in client.items() if op.startswith("dynamodb.")),
        sns_requests=sum(n for op, n in client.items() if op.startswith("sns.")),
        sqs_requests=sum(n for op, n in client.items() if op.startswith("sqs.")),
        peak_rss_mb=max(s["peak_rss_kb"] for s in stats + flush_proc_stats) / 1024,
        flush_peak_rss_mb=(max(s["peak_rss_kb"] for s in flush_proc_stats) / 1024) if flush_proc_stats else None,
        function_cpu_seconds=sum(s["cpu_s"] for s in stats + flush_proc_stats),
        lost_deliveries=len(lost), lost_examples=lost[:5],
        read_limit=math.ceil(actions / DEADLINE_BATCH_LIMIT),
        read_floor=2 * math.ceil(result["deliveries"] / EVENT_BATCH_SIZE) if variant != "per-event" else None,
    )
    check_started = time.perf_counter()
    result["check"] = _check(mode, shards, subscriber, expected)
    result["check_seconds"] = time.perf_counter() - check_started
    result["sns_messages"] = result["check"]["messages"]
    c = result["check"]
    result["lost"] = result["lost_deliveries"] + c["missing_records"] + c["wrong_status"] + c.get(
        "missing_notifications", 0) + c.get("not_in_digest", 0) + c.get("digest_mismatched_windows", 0)
    result["ok"] = result["lost"] == 0 and c["ok"]
    return result


def _epoch(iso: str) -> Optional[int]:
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _check(mode: str, shards: List[_Shard], subscriber: Subscriber, expected: Dict[str, str]) -> Dict[str, Any]:
    stored: Dict[str, Dict[str, Any]] = {}
    for shard in shards:
        dynamodb = shard.aws.client("dynamodb")
        for page in dynamodb.get_paginator("scan").paginate(TableName=shard.aws.table_name):
            for item in page["Items"]:
                stored[item["sessionActionId"]["S"]] = item
    missing = [a for a in expected if a not in stored]
    wrong = [a for a, status in expected.items() if a in stored and stored[a]["status"]["S"] != status]
    out: Dict[str, Any] = {
        "failing_actions": len(expected), "records": len(stored), "missing_records": len(missing),
        "wrong_status": len(wrong), "other_deliveries": dict(subscriber.other),
        "per_action_messages": sum(subscriber.actions.values()), "digests": len(subscriber.digests),
    }
    out["messages"] = out["per_action_messages"] + out["digests"]
    if mode == "each":
        notified = subscriber.actions
        out.update(
            not_marked_notified=sum(1 for a, s in expected.items()
                                    if a in stored and stored[a].get("notifiedStatus", {}).get("S") != s),
            missing_notifications=sum(1 for a in expected if notified[a] == 0),
            extra_notifications=sum(n - 1 for n in notified.values() if n > 1)
            + sum(n for a, n in notified.items() if a not in expected),
        )
        out["ok"] = (not missing and not wrong and out["not_marked_notified"] == 0 and out["missing_notifications"] == 0
                     and out["extra_notifications"] == 0 and out["digests"] == 0)
        return out

    # digest: per (job, window) the digest's count against the records the table holds for the window
    in_table: Counter = Counter()
    not_in_digest = 0
    for a in expected:
        item = stored.get(a)
        window = item.get("digestWindow", {}).get("S") if item else None
        if not window:
            not_in_digest += 1 if item else 0
            continue
        job_id, start, _shard = window.rsplit("#", 2)
        in_table[(job_id, int(start))] += 1
    per_window: Counter = Counter()
    digested: Counter = Counter()
    for job_id, start_iso, failures in subscriber.digests:
        key = (job_id, _epoch(start_iso))
        per_window[key] += 1
        digested[key] += failures
    mismatched = sum(1 for key in set(in_table) | set(digested) if in_table[key] != digested[key])
    ledger_unpublished = 0
    for shard in shards:
        for item in shard.aws.ledger_items():
            if item["digestKey"]["S"].startswith("window#") and item.get("state", {}).get("S") != "published":
                ledger_unpublished += 1
    jobs = {job for job, _ in per_window}
    out.update(
        not_in_digest=not_in_digest,
        windows=len(per_window),
        jobs_digested=len(jobs),
        max_digests_per_job_window=max(per_window.values(), default=0),
        duplicate_digests=sum(n - 1 for n in per_window.values() if n > 1),
        digest_failures_total=sum(f for _, _, f in subscriber.digests),
        digest_mismatched_windows=mismatched,
        ledger_windows_unpublished=ledger_unpublished,
        windows_per_job=common.summary([sum(1 for j, _ in per_window if j == job) for job in jobs]),
    )
    out["ok"] = (not missing and not wrong and not_in_digest == 0 and out["per_action_messages"] == 0
                 and out["max_digests_per_job_window"] <= 1 and mismatched == 0
                 and out["digest_failures_total"] == len(expected) and ledger_unpublished == 0)
    return out


# --- the benchmark -----------------------------------------------------------------------------------


def _workload(name: str, tasks: int, jobs: int, seed: int) -> Tuple[Any, common.RenderedJob, List[Dict[str, Any]], float]:
    from local.deadline_farm import RenderFarm

    farm = RenderFarm(seed=seed)
    t0 = time.perf_counter()
    rendered = common.render(farm, tasks, name=name, failed_every=1, session_size=SESSION_SIZE, jobs=jobs)
    farm_seconds = time.perf_counter() - t0
    rng = random.Random(seed)
    stream = rendered.events + [rng.choice(rendered.events) for _ in range(int(round(tasks * DUPLICATE_SHARE)))]
    rng.shuffle(stream)
    return farm, rendered, stream, farm_seconds


def _sessions(tasks: int, jobs: int) -> int:
    """Worker sessions ``common.render`` opens: one per ``SESSION_SIZE`` tasks of each job."""
    per_job = -(-tasks // jobs)
    counts = [min(per_job, tasks - j * per_job) for j in range(jobs)]
    return sum(-(-c // SESSION_SIZE) for c in counts if c > 0)


def run(tasks: int = TASKS, seed: int = 11, variants: Sequence[str] = VARIANTS) -> Dict[str, Any]:
    from local.deadline_farm import DeadlineStandIn

    common.apply_fake_aws()
    tree = common.function_tree(bytecode=True)
    result: Dict[str, Any] = {
        "tasks": tasks, "duplicate_share": DUPLICATE_SHARE, "throttled_share": THROTTLED_SHARE,
        "item_error_share": ITEM_ERROR_SHARE, "window_seconds": WINDOW_SECONDS, "shards": SHARDS,
        "per_event_workers": PER_EVENT_WORKERS, "event_batch_size": EVENT_BATCH_SIZE,
        "event_max_concurrency": EVENT_MAX_CONCURRENCY, "flush_batch_size": FLUSH_BATCH_SIZE,
        "max_receive_count": MAX_RECEIVE_COUNT, "redelivery_delay_s": REDELIVERY_DELAY_S,
        "session_size": SESSION_SIZE, "workloads": {},
    }
    workloads = (("one job", 1), (f"{SPREAD_JOBS} jobs", SPREAD_JOBS))
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        motos = [stack.enter_context(common.MotoServer()) for _ in range(SHARDS)]
        subscriber = Subscriber()
        stack.callback(subscriber.close)
        for name, jobs in workloads:
            farm, rendered, stream, farm_seconds = _workload("fail" if jobs == 1 else "spread", tasks, jobs, seed)
            job_ids = sorted({e["detail"]["jobId"] for e in stream})
            used = min(SHARDS, len(job_ids))
            shard_of = {job: i % used for i, job in enumerate(job_ids)}
            per_shard: List[List[Dict[str, Any]]] = [[] for _ in range(used)]
            for event in stream:
                per_shard[shard_of[event["detail"]["jobId"]]].append(event)
            shards = [_Shard(motos[i], None, per_shard[i]) for i in range(used)]
            w: Dict[str, Any] = {"jobs": jobs, "tasks": tasks, "failing_actions": len(rendered.terminal_actions),
                                 "deliveries": len(stream), "duplicates": len(stream) - len(rendered.events),
                                 "sessions": _sessions(tasks, jobs),
                                 "moto_servers": used, "farm_seconds": farm_seconds, "variants": {}}
            with DeadlineStandIn(farm) as standin:
                item_faults = ItemFaults(standin)
                for variant in variants:
                    print(f"[bench] batch_burst: {name}, {variant} ...", file=sys.stderr, flush=True)
                    t0 = time.perf_counter()
                    w["variants"][variant] = _run_variant(variant, shards, standin, item_faults, subscriber, tree,
                                                          tmp, seed, rendered.terminal_actions)
                    v = w["variants"][variant]
                    print(f"[bench] batch_burst: {name}, {variant}: {v['wall_seconds']:.0f} s "
                          f"(+{time.perf_counter() - t0 - v['wall_seconds']:.0f} s set-up and checks), "
                          f"lost {v['lost']}, ok {v['ok']}", file=sys.stderr, flush=True)
            _ratios(w)
            w["targets"] = _targets(w)
            result["workloads"][name] = w
    result["driver_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["ok"] = all(v["ok"] for w in result["workloads"].values() for v in w["variants"].values())
    result["targets_met"] = all(t["met"] for w in result["workloads"].values() for t in w["targets"])
    return result


def _ratios(w: Dict[str, Any]) -> None:
    base = w["variants"].get("per-event")
    if not base:
        return
    keys = ("deadline_calls_total", "deadline_read_calls", "sns_messages", "sns_requests", "dynamodb_requests",
            "wall_seconds", "events_seconds", "peak_rss_mb", "function_cpu_seconds")
    for v in w["variants"].values():
        v["vs_per_event"] = {k: (v[k] / base[k] if base.get(k) else None) for k in keys}


def _targets(w: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The issue's targets for one workload, each with what was measured."""
    out = []
    digest = w["variants"].get("batch digest")
    if digest:
        c = digest["check"]
        out.append({"target": "digest mode: at most one message per job per window", "limit": "≤ 1",
                    "reached": f"max {c['max_digests_per_job_window']} ({c['digests']} digests for {c['windows']} "
                               f"job windows of {c['jobs_digested']} jobs)",
                    "met": c["max_digests_per_job_window"] <= 1 and c["duplicate_digests"] == 0})
    for name in ("batch each", "batch digest"):
        v = w["variants"].get(name)
        if not v:
            continue
        limit = v["read_limit"] + v["deadline_enrichment_calls"]
        out.append({"target": f"{name}: Deadline read calls ≤ ceil(actions/100) + enrichment calls",
                    "limit": f"≤ {v['read_limit']} + {v['deadline_enrichment_calls']} = {limit}",
                    "reached": f"{v['deadline_read_calls']} read + {v['deadline_enrichment_calls']} enrichment = "
                               f"{v['deadline_read_calls'] + v['deadline_enrichment_calls']}",
                    "met": v["deadline_read_calls"] + v["deadline_enrichment_calls"] <= limit})
    for name, v in w["variants"].items():
        out.append({"target": f"{name}: nothing lost", "limit": "0",
                    "reached": f"{v['lost']} lost" + ("" if v["check"]["ok"] else " (check failed)"),
                    "met": v["ok"]})
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else TASKS
    common.dump(run(n))
