"""Calls at scale: every AWS call the default path makes for a render's failures, against the floor.

``TASKS`` failing tasks spread over ``JOBS`` jobs (sessions of 50 tasks; their events interleaved, as jobs
that render side by side send them), no faults, no duplicates: the
default path (``NOTIFY_MODE=digest``, the event queue), as the stack runs it. The events go in batches of
``BATCH`` (the queue holds the whole burst), alternating between ``ENVIRONMENTS`` warm execution
environments (the event source's ``maxConcurrency``); then every digest window the table holds is flushed
as the digest queue's event source delivers flushes (batches of 10, a flush environment of its own). The
flushes are invoked as soon as the events are in rather than after their ``DelaySeconds``: a flush does the
same work whenever it runs, and the run takes seconds instead of a window.

Every request the function processes' clients send is counted (retries included), Deadline calls too.

The floor (the issue's): one conditional write per record, two Batch* reads per 100 events
(BatchGetTask and BatchGetSessionAction), and one publish per digest window per channel (one channel here:
the machines' topic). The ratio is all calls over the floor. Per digest window: the calls that serve the
window besides its publish (its ledger item's UpdateItem/GetItem/TransactWriteItems share, the flush's
SendMessage(Batch) share, the flush's Query), averaged over the windows.
"""

from __future__ import annotations

import json
import math
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List

from . import common
from .batch_burst import _Message, _sqs_record

TASKS = 10_000
JOBS = 100
BATCH = 100
ENVIRONMENTS = 2
FLUSH_BATCH = 10
#: The longest digest window the function takes (``DIGEST_WINDOW_SECONDS``): on this machine the render takes
#: minutes (moto is slow), on AWS seconds; a long window keeps a job's failures in one window, as on AWS.
WINDOW_SECONDS = 840
#: ``make bench``'s size (``--scale-tasks 10000`` for the issue's).
MAKE_BENCH_TASKS = 2_000
ARN = f"arn:aws:sqs:{common.REGION}:{common.ACCOUNT}:session-watch-events"
FLUSH_ARN = f"arn:aws:sqs:{common.REGION}:{common.ACCOUNT}:session-watch-digest-flushes"


def _batch(bodies: List[Any], arn: str) -> Dict[str, Any]:
    sent = int(time.time() * 1000)
    return {"Records": [_sqs_record(_Message(str(uuid.uuid4()), json.dumps(b, separators=(",", ":")), sent), arn)
                        for b in bodies]}


def run(tasks: int = TASKS, jobs: int = JOBS) -> Dict[str, Any]:
    from local.deadline_farm import RenderFarm

    farm = RenderFarm(seed=41)
    rendered = common.render(farm, tasks, name="scale", failed_every=1, session_size=50, jobs=jobs)
    events = list(rendered.events)
    random.Random(41).shuffle(events)  # the jobs render side by side: their failures arrive interleaved
    tree = common.function_tree(bytecode=True)
    calls: Counter = Counter()
    table_calls: Counter = Counter()
    round_trips: List[int] = []
    late_reads: List[int] = []
    late_limit: List[int] = []
    failures = 0
    started = time.perf_counter()
    with common.stage(farm) as st, tempfile.TemporaryDirectory() as tmp:
        env = common.lambda_environment(tree.code, extra=dict(
            st.function_env(), NOTIFY_MODE="digest", DIGEST_WINDOW_SECONDS=str(WINDOW_SECONDS),
            DIGEST_TABLE_NAME=st.aws.digest_table_name,
            DIGEST_QUEUE_URL=st.aws.digest_queue_url, AWS_ENDPOINT_URL_SQS=st.moto.endpoint))
        procs = [common.FunctionProcess("handler", tree, env, Path(tmp) / f"e{i}.log") for i in range(ENVIRONMENTS)]
        flusher = common.FunctionProcess("handler", tree, env, Path(tmp) / "flush.log")
        try:
            digest_get = f"dynamodb.GetItem {st.aws.digest_table_name}"
            for i in range(0, len(events), BATCH):
                answer = procs[(i // BATCH) % ENVIRONMENTS].invoke(_batch(events[i:i + BATCH], ARN),
                                                                  remaining_ms=60_000)
                # the late-join check: at most one ledger read per window the batch joined (a batch joins one
                # window per job), never one per record
                get_items = (answer.get("table_calls") or {}).get(digest_get, 0)
                late_reads.append(get_items)
                late_limit.append(len({e["detail"]["jobId"] for e in events[i:i + BATCH]}))
                failures += 0 if answer["ok"] else BATCH
                failures += len(answer.get("batchItemFailures") or [])
                calls.update(answer["calls"])
                table_calls.update(answer.get("table_calls") or {})
                round_trips.append(answer.get("round_trips") or 0)
            windows = [i for i in st.aws.ledger_items() if i["digestKey"]["S"].startswith("window#")]
            job_of = {e["detail"]["jobId"]: e["detail"] for e in events}
            flushes = [{"digestFlush": {"farmId": job_of[w["jobId"]["S"]]["farmId"],
                                        "queueId": job_of[w["jobId"]["S"]]["queueId"], "jobId": w["jobId"]["S"],
                                        "windowStart": int(w["digestKey"]["S"].split("#")[1])}} for w in windows]
            for i in range(0, len(flushes), FLUSH_BATCH):
                answer = flusher.invoke(_batch(flushes[i:i + FLUSH_BATCH], FLUSH_ARN), remaining_ms=60_000)
                failures += 0 if answer["ok"] else FLUSH_BATCH
                failures += len(answer.get("batchItemFailures") or [])
                calls.update(answer["calls"])
                table_calls.update(answer.get("table_calls") or {})
            published = [i for i in st.aws.ledger_items() if i["digestKey"]["S"].startswith("window#")
                         and i.get("state", {}).get("S") == "published"]
            counted = sum(int(i.get("memberCount", {}).get("N", "0")) for i in published)
        finally:
            for proc in procs + [flusher]:
                proc.close()
    seconds = time.perf_counter() - started
    digest_table = st.aws.digest_table_name
    window_calls = (sum(n for k, n in table_calls.items() if k.endswith(" " + digest_table))
                    + sum(n for k, n in calls.items() if k.startswith("sqs.SendMessage"))
                    + sum(n for k, n in table_calls.items() if k.startswith("dynamodb.Query") and "byDigestWindow" in k))
    floor = {"conditional writes": len(rendered.terminal_actions), "Batch* reads": 2 * math.ceil(len(events) / 100),
             "publishes": len(windows)}
    total = sum(calls.values())
    return {
        "tasks": tasks, "jobs": jobs, "events": len(events), "batch": BATCH, "environments": ENVIRONMENTS,
        "windows": len(windows), "windows_published": len(published), "failures_in_digests": counted,
        "calls": dict(sorted(calls.items())), "table_calls": dict(sorted(table_calls.items())),
        "calls_total": total, "floor": floor, "floor_total": sum(floor.values()),
        "ratio": total / sum(floor.values()),
        "window_calls": window_calls, "window_calls_per_window": window_calls / max(1, len(windows)),
        "digest_get_items": sum(n for k, n in table_calls.items() if k == f"dynamodb.GetItem {digest_table}"),
        "late_join_reads": sum(late_reads), "late_join_reads_within": all(n <= m for n, m in zip(late_reads, late_limit)),
        "window_seconds": WINDOW_SECONDS,
        "max_round_trips": max(round_trips, default=0), "failed_items": failures, "seconds": seconds,
        "ok": failures == 0 and len(published) == len(windows) and counted == len(rendered.terminal_actions),
    }


if __name__ == "__main__":
    common.dump(run(int(sys.argv[1]) if len(sys.argv) > 1 else TASKS))
