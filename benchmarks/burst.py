"""Burst: 10,000 ``Task Run Status Change`` events through the handler, against the Deadline stand-in and
moto's server, with faults.

The render: 8,000 frames in 4 jobs (sessions of 50 tasks), every 20th frame FAILED (exit 139), the rest
SUCCEEDED; the burst is the 8,000 terminal task events Deadline sent plus 2,000 redeliveries of random
ones (same event id: EventBridge delivers at least once), shuffled. 5 % of all Deadline calls answer
ThrottlingException (429).

How the handler runs: ``WORKERS`` function processes (``benchmarks/worker.py``), each one warm Lambda
execution environment in the Lambda-like setup (pinned dependencies only, bytecode, tracing as deployed,
unsampled). Each calls ``session_watch.handler.lambda_handler(event, context)`` in-process, one event at a
time, as the Lambda runtime does. A dispatcher thread per worker takes the next event from a shared queue
(several environments work on the same table at once, so redeliveries race each other as in Lambda). An
invocation that fails is redelivered, as Lambda's asynchronous invocation and EventBridge's retry policy
would, after a delay compressed from minutes to seconds (1 s; 2 s for ``NotificationPending``), up to
``MAX_ATTEMPTS`` attempts in all, as the stack configures it (``MaximumRetryAttempts: 2``); an event that
still fails is counted as lost (it would go to the dead-letter queue).

moto's server is CPU-bound (its UpdateItem expression validation alone takes ~20 ms a request), so the
history lives in ``SHARDS`` moto servers, one per half of the jobs, each with its own table, topic and
subscribed queue; every event of a job (its redeliveries too) goes to its shard's workers. Each moto
process can then use a core.

Checked afterwards: every terminal session action of the farm is in the table with its terminal status
and ``notifiedStatus`` (nothing lost, nothing regressed) and the topics' subscriber received exactly one
notification per terminal action. The subscriber is an HTTP endpoint in the driver (SNS ``http``
protocol), not the SQS queue the tests read: moto's SQS ``ReceiveMessage`` gets slower with every
message held, and reading back 8,000 would take minutes.
"""

from __future__ import annotations

import heapq
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Tuple

from . import common

EVENTS = 10_000
DUPLICATE_SHARE = 0.20
THROTTLED_SHARE = 0.05
WORKERS = 8
SHARDS = 2
MAX_ATTEMPTS = 3  # the stack: Lambda's asynchronous invocation retries a failed event twice
REMAINING_MS = 60_000  # the stack's function timeout
RETRY_DELAY_S = {"NotificationPending": 2.0}
DEFAULT_RETRY_DELAY_S = 1.0


class Subscriber:
    """An HTTP endpoint subscribed to the topics: counts notifications per session action."""

    def __init__(self) -> None:
        self.received: Counter = Counter()
        self.other: Counter = Counter()
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    envelope = json.loads(body)
                    if envelope.get("Type") == "Notification":
                        key = json.loads(envelope["Message"])["sessionActionId"]
                        with lock:
                            owner.received[key] += 1
                    else:
                        with lock:
                            owner.other[str(envelope.get("Type"))] += 1
                except (ValueError, KeyError, TypeError):
                    with lock:
                        owner.other["unreadable"] += 1
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

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Queue:
    """Events of one shard, each ready at a time (redeliveries wait), with the count still to finish."""

    def __init__(self, events: List[Dict[str, Any]]) -> None:
        self._heap: List[Tuple[float, int, int, Dict[str, Any]]] = [(0.0, i, 1, e) for i, e in enumerate(events)]
        heapq.heapify(self._heap)
        self._seq = len(events)
        self.outstanding = len(events)
        self._cond = threading.Condition()

    def take(self):
        with self._cond:
            while True:
                if self.outstanding == 0:
                    return None
                if self._heap:
                    ready_at = self._heap[0][0]
                    now = time.monotonic()
                    if ready_at <= now:
                        _, _, attempt, event = heapq.heappop(self._heap)
                        return attempt, event
                    self._cond.wait(ready_at - now)
                else:
                    self._cond.wait(0.5)

    def retry(self, event: Dict[str, Any], attempt: int, delay: float) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, attempt, event))
            self._cond.notify_all()

    def done(self) -> None:
        with self._cond:
            self.outstanding -= 1
            self._cond.notify_all()


def run(events: int = EVENTS, workers: int = WORKERS, shards: int = SHARDS, seed: int = 7) -> Dict[str, Any]:
    from local.deadline_farm import DeadlineStandIn, RenderFarm
    from tests.support.aws import provision

    common.apply_fake_aws()
    unique = int(round(events * (1 - DUPLICATE_SHARE)))
    farm = RenderFarm(seed=seed)
    t_farm = time.perf_counter()
    rendered = common.render(farm, unique, name="burst", jobs=2 * shards)
    farm_seconds = time.perf_counter() - t_farm
    rng = random.Random(seed)
    stream = rendered.events + [rng.choice(rendered.events) for _ in range(events - unique)]
    rng.shuffle(stream)
    jobs = sorted({e["detail"]["jobId"] for e in stream})
    shard_of = {job: i % shards for i, job in enumerate(jobs)}
    per_shard: List[List[Dict[str, Any]]] = [[] for _ in range(shards)]
    for event in stream:
        per_shard[shard_of[event["detail"]["jobId"]]].append(event)

    tree = common.function_tree(bytecode=True)
    answers: List[Dict[str, Any]] = []
    lost: List[Dict[str, Any]] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    result: Dict[str, Any] = {"events": events, "unique_events": unique, "duplicates": events - unique,
                              "workers": workers, "shards": shards, "throttled_share": THROTTLED_SHARE,
                              "farm_seconds": farm_seconds}

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        standin = stack.enter_context(DeadlineStandIn(farm))
        standin.faults.reseed(seed)
        standin.faults.error_rate("*", throttling=THROTTLED_SHARE)
        motos = [stack.enter_context(common.MotoServer()) for _ in range(shards)]
        stages = [provision(m.endpoint) for m in motos]
        subscriber = Subscriber()
        stack.callback(subscriber.close)
        for aws in stages:  # the HTTP subscriber replaces the queue (see the module's docstring)
            sns = aws.client("sns")
            for sub in sns.list_subscriptions_by_topic(TopicArn=aws.topic_arn)["Subscriptions"]:
                sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
            sns.subscribe(TopicArn=aws.topic_arn, Protocol="http", Endpoint=subscriber.endpoint)
        procs: List[Tuple[int, common.FunctionProcess]] = []
        for w in range(workers):
            shard = w % shards
            env = common.lambda_environment(tree.code, extra={
                "NOTIFY_MODE": "each",  # one message per action (the check below); batch_burst.py measures digests
                "TABLE_NAME": stages[shard].table_name, "TOPIC_ARN": stages[shard].topic_arn,
                "AWS_ENDPOINT_URL_DYNAMODB": motos[shard].endpoint, "AWS_ENDPOINT_URL_SNS": motos[shard].endpoint,
                "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": motos[shard].endpoint,
                "AWS_ENDPOINT_URL_DEADLINE": standin.endpoint_url,
            })
            proc = common.FunctionProcess("handler", tree, env, tmp / f"worker{w}.log")
            stack.callback(proc.close)
            procs.append((shard, proc))
        queues = [_Queue(events_) for events_ in per_shard]
        for shard, proc in procs:  # every environment is initialised before the burst starts
            proc.stats()
        moto_cpu0 = [m.cpu_seconds() for m in motos]

        def dispatch(shard: int, proc: common.FunctionProcess) -> None:
            queue = queues[shard]
            while True:
                item = queue.take()
                if item is None:
                    return
                attempt, event = item
                answer = proc.invoke(event, remaining_ms=REMAINING_MS)
                answer["attempt"] = attempt
                with lock:
                    answers.append(answer)
                if answer["ok"]:
                    queue.done()
                    continue
                with lock:
                    errors[answer["error"]] += 1
                if answer.get("retryable", True) and attempt < MAX_ATTEMPTS:
                    queue.retry(event, attempt + 1, RETRY_DELAY_S.get(answer["error"], DEFAULT_RETRY_DELAY_S))
                else:
                    with lock:
                        lost.append({"event": event["id"], "error": answer["error"], "message": answer.get("message")})
                    queue.done()

        threads = [threading.Thread(target=dispatch, args=(shard, proc), daemon=True) for shard, proc in procs]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        burst_seconds = time.perf_counter() - started

        result["moto_cpu_seconds"] = [m.cpu_seconds() - c for m, c in zip(motos, moto_cpu0)]
        result["worker_stats"] = [proc.stats() for _, proc in procs]
        result["deadline_calls"] = dict(standin.calls)
        result["deadline_faults_injected"] = {f"{op} {code}": n for (op, code), n in standin.faults.injected.items()}
        check_started = time.perf_counter()
        result["check"] = _check(rendered, stages, subscriber)
        result["check_seconds"] = time.perf_counter() - check_started

    walls = [a["wall_us"] / 1000 for a in answers]
    calls: Counter = Counter()
    for a in answers:
        calls.update(a["calls"])
    result.update(
        burst_seconds=burst_seconds,
        events_per_second=events / burst_seconds,
        invocations=len(answers),
        redeliveries=len(answers) - events,
        errors=dict(errors),
        lost_events=len(lost),
        lost_examples=lost[:5],
        latency_ms=common.summary(walls),
        requests=dict(calls),
        requests_per_event={k: v / events for k, v in calls.items()},
        peak_rss_mb=max(s["peak_rss_kb"] for s in result["worker_stats"]) / 1024,
        mean_peak_rss_mb=sum(s["peak_rss_kb"] for s in result["worker_stats"]) / len(result["worker_stats"]) / 1024,
        worker_cpu_seconds=sum(s["cpu_s"] for s in result["worker_stats"]),
    )
    import resource

    result["driver_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    check = result["check"]
    result["ok"] = (result["lost_events"] == 0 and check["missing_records"] == 0 and check["regressed"] == 0
                    and check["not_marked_notified"] == 0 and check["missing_notifications"] == 0
                    and check["extra_notifications"] == 0)
    return result


def _check(rendered: common.RenderedJob, stages: List[Any], subscriber: Subscriber) -> Dict[str, Any]:
    expected = rendered.terminal_actions  # session action id -> terminal status
    stored: Dict[str, Dict[str, Any]] = {}
    for aws in stages:
        dynamodb = aws.client("dynamodb")
        for page in dynamodb.get_paginator("scan").paginate(TableName=aws.table_name):
            for item in page["Items"]:
                stored[item["sessionActionId"]["S"]] = item
    notified = subscriber.received
    missing = [a for a in expected if a not in stored]
    regressed = [a for a, status in expected.items() if a in stored and stored[a]["status"]["S"] != status]
    unmarked = [a for a, status in expected.items()
                if a in stored and stored[a].get("notifiedStatus", {}).get("S") != status]
    return {
        "terminal_actions": len(expected),
        "records": len(stored),
        "missing_records": len(missing),
        "regressed": len(regressed),
        "not_marked_notified": len(unmarked),
        "notifications": sum(notified.values()),
        "missing_notifications": sum(1 for a in expected if notified[a] == 0),
        "extra_notifications": sum(n - 1 for n in notified.values() if n > 1) + sum(
            n for a, n in notified.items() if a not in expected),
        "other_deliveries": dict(subscriber.other),
        "failed_actions": sum(1 for s in expected.values() if s == "FAILED"),
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else EVENTS
    common.dump(run(n))
