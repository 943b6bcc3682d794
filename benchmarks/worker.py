"""A function process: one Lambda execution environment, driven over a pipe.

Run as a script in the Lambda-like interpreter setup (``python -I -S worker.py ...``, see
``benchmarks.common.function_tree``); it imports the handler (``--kind handler``: the function, as
Lambda does, ``session_watch.handler.lambda_handler``) or the baseline (``--kind baseline``) and then
calls it in-process, one event at a time, exactly as the Lambda runtime does: the runtime sets
``_X_AMZN_TRACE_ID`` for the invocation and calls ``lambda_handler(event, context)``.

Commands arrive as JSON lines on stdin; answers go out as JSON lines on the original stdout. The
function's own stdout (Powertools logs and EMF metrics) goes to ``--log`` (Lambda sends it to
CloudWatch Logs; a file is this machine's equivalent), so that writing the logs is part of the cost.

Every HTTP request a botocore client sends (retries included) is counted per ``service.Operation`` with a
``before-send`` hook registered on each client when it is created.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
import traceback
from collections import Counter
from typing import Any, Dict, List


class Context:
    """What the Lambda runtime passes as ``context``."""

    function_name = "session-watch"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:session-watch"
    log_group_name = "/aws/lambda/session-watch"
    log_stream_name = "2026/11/29/[$LATEST]bench"

    def __init__(self, request_id: str, remaining_ms: int) -> None:
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + remaining_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


CALLS: Counter = Counter()
#: DynamoDB requests per table (and index): ``dynamodb.<Operation> <table>[/<index>]``.
TABLE_CALLS: Counter = Counter()
_LOCK = threading.Lock()
_TASK = threading.local()
#: Round trips on the invocation's critical path (see ``_count_round_trips``).
ROUND_TRIPS = [0]


def _count_requests() -> None:
    """Count every request each botocore client sends (registered when a client is created), from any
    thread (the function's fan-out sends from a pool)."""
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self, *args, **kwargs):
        client = original(self, *args, **kwargs)

        def before_send(event_name: str = "", request: Any = None, **_: Any) -> None:
            _, service, operation = event_name.split(".", 2)
            table = None
            if service == "dynamodb" and request is not None and request.body:
                try:
                    body = json.loads(request.body)
                    table = body.get("TableName")
                    if not table and body.get("TransactItems"):  # a transaction: its first item's table
                        first = body["TransactItems"][0]
                        table = next(iter(first.values())).get("TableName")
                    table = table or "?"
                    if body.get("IndexName"):
                        table += "/" + body["IndexName"]
                except (ValueError, AttributeError):
                    table = "?"
            with _LOCK:
                CALLS[f"{service}.{operation}"] += 1
                if table:
                    TABLE_CALLS[f"{service}.{operation} {table}"] += 1
                if getattr(_TASK, "calls", None) is not None:
                    _TASK.calls += 1  # a fan-out task's call: counted with its fan-out
                else:
                    ROUND_TRIPS[0] += 1  # one after another on the invocation's thread

        client.meta.events.register("before-send", before_send)
        return client

    botocore.session.Session.create_client = create_client


def _count_round_trips() -> None:
    """Round trips on an invocation's critical path, counted from the calls themselves, so that the figure
    does not depend on this machine's speed: every call made on the invocation's thread is one; a fan-out
    (``session_watch.fanout.run_all``) of tasks that make c1, c2, ... calls on ``WIDTH`` threads counts as
    the time the pool takes when every call takes the same time: its tasks dealt in order to the lane
    that frees first (what the executor does), the longest lane."""
    from session_watch import fanout

    original = fanout.run_all

    def run_all(tasks):
        counts = [0] * len(tasks)

        def counted(i, task):
            def run():
                _TASK.calls = 0
                try:
                    return task()
                finally:
                    counts[i] = _TASK.calls
                    _TASK.calls = None
            return run

        try:
            return original([counted(i, t) for i, t in enumerate(tasks)])
        finally:
            lanes = [0] * min(fanout.WIDTH, max(1, len(tasks)))
            for c in counts:
                lanes[lanes.index(min(lanes))] += c
            with _LOCK:
                ROUND_TRIPS[0] += max(lanes) if tasks else 0

    fanout.run_all = run_all


def _variant(names: List[str]) -> None:
    """Variants of the function's client settings (``benchmarks/warm_cost.py``)."""
    from session_watch.adapters import clients

    if "validate" in names:
        clients.VALIDATE_PARAMETERS = True
    if "dateutil" in names:
        clients.FAST_TIMESTAMPS = False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=("handler", "baseline"), required=True)
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--log", default=os.devnull)
    parser.add_argument("--variant", action="append", default=[])
    args = parser.parse_args()
    sys.path[:0] = args.path

    # Answers on a private copy of stdout; the function's stdout goes to the log file.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)

    import warnings

    # Powertools warns when an invocation added no metric (a NotificationPending, an error): not news here.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    _count_requests()
    if args.kind == "handler":
        from session_watch.errors import SessionWatchError
        from session_watch.handler import lambda_handler

        _count_round_trips()
        _variant(args.variant)
    else:
        from baseline_handler import lambda_handler

        SessionWatchError = ()  # noqa: N806 - the baseline raises whatever botocore raises

    from_trace = _trace_header
    invocation = 0

    def invoke(command: Dict[str, Any]) -> Dict[str, Any]:
        nonlocal invocation
        invocation += 1
        os.environ["_X_AMZN_TRACE_ID"] = from_trace(os.getpid() * 100000 + invocation, bool(command.get("sampled")))
        context = Context(command.get("request_id") or f"req-{invocation}", int(command.get("remaining_ms", 30000)))
        with _LOCK:
            CALLS.clear()
            TABLE_CALLS.clear()
            ROUND_TRIPS[0] = 0
        answer: Dict[str, Any] = {"ok": True}
        wall0, cpu0 = time.perf_counter_ns(), time.process_time_ns()
        try:
            result = lambda_handler(command["event"], context)
            answer["status"] = result.get("status") if isinstance(result, dict) else None
            answer["sessionActionId"] = result.get("sessionActionId") if isinstance(result, dict) else None
            if isinstance(result, dict) and "batchItemFailures" in result:  # an SQS batch (issue 6)
                answer["batchItemFailures"] = result["batchItemFailures"]
        except Exception as err:  # reported to the driver, as the runtime reports it to Lambda
            answer.update(ok=False, error=type(err).__name__, message=str(err)[:300],
                          typed=bool(SessionWatchError) and isinstance(err, SessionWatchError),
                          retryable=bool(getattr(err, "retryable", True)))
        answer["cpu_us"] = (time.process_time_ns() - cpu0) / 1000.0
        answer["wall_us"] = (time.perf_counter_ns() - wall0) / 1000.0
        with _LOCK:
            answer["calls"] = dict(CALLS)
            answer["table_calls"] = dict(TABLE_CALLS)
            answer["round_trips"] = ROUND_TRIPS[0]
        return answer

    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        try:
            if op == "invoke":
                reply: Any = invoke(command)
            elif op == "invoke_many":
                reply = [invoke(dict(command, event=event)) for event in command["events"]]
            elif op == "own_cpu":
                reply = _own_cpu(command["ref"], int(command["n"]))
            elif op == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                reply = {"peak_rss_kb": _peak_rss_kb(usage), "cpu_s": usage.ru_utime + usage.ru_stime,
                         "modules": len(sys.modules)}
            elif op == "exit":
                answers.write(json.dumps({"bye": True}) + "\n")
                return 0
            else:
                reply = {"error": f"unknown op {op}"}
        except Exception:
            reply = {"error": traceback.format_exc()}
        answers.write(json.dumps(reply, default=str) + "\n")
    return 0


def _peak_rss_kb(usage: "resource.struct_rusage") -> int:
    """Peak resident set size of this process since it started running this program.

    ``/proc/self/status`` ``VmHWM`` on Linux. Not ``getrusage``'s ``ru_maxrss``: Linux carries the
    high-water mark of the process image replaced by ``execve`` over, so a child started from a large
    driver would report the driver's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return usage.ru_maxrss


def _trace_header(n: int, sampled: bool) -> str:
    root = f"1-{int(time.time()):08x}-{n:024x}"
    return f"Root={root};Parent={n + 1:016x};Sampled={1 if sampled else 0}"


def _own_cpu(ref: Dict[str, str], n: int) -> Dict[str, float]:
    """CPU microseconds of the function's own work per event, outside any I/O: parse the input,
    normalise the GetSessionAction response (read once, as boto3 returns it), render the notification,
    and write the log line the function writes for a published record (to the real Powertools logger,
    i.e. the log file)."""
    from session_watch.adapters import clients
    from session_watch.domain.normalise import normalise_session_action
    from session_watch.domain.notification import render_notification
    from session_watch.domain.requests import parse_invocation
    from session_watch.observability import logger
    from session_watch.observability import safe_summary

    response = clients.client("deadline").get_session_action(**ref)
    response.pop("ResponseMetadata", None)
    parts = {"parse": 0, "normalise": 0, "render": 0, "log": 0}
    for _ in range(n):
        t0 = time.thread_time_ns()
        request = parse_invocation(ref)
        t1 = time.thread_time_ns()
        record = normalise_session_action(response, farm_id=request.farm_id, queue_id=request.queue_id,
                                          job_id=request.job_id)
        t2 = time.thread_time_ns()
        render_notification(record)
        t3 = time.thread_time_ns()
        logger.info("recorded and published", extra={**safe_summary(record), "messageId": "m-1"})
        t4 = time.thread_time_ns()
        parts["parse"] += t1 - t0
        parts["normalise"] += t2 - t1
        parts["render"] += t3 - t2
        parts["log"] += t4 - t3
    out = {k: v / n / 1000.0 for k, v in parts.items()}
    out["total"] = sum(out.values())
    return out


if __name__ == "__main__":
    sys.exit(main())
