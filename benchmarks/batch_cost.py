"""A batch of 100: its round trips on the critical path, its memory and CPU, against the baseline handler.

Fresh function processes (``benchmarks/worker.py``, the Lambda-like setup with bytecode, tracing as
deployed), each handling one SQS batch of ``BATCH`` ``Task Run Status Change`` (FAILED) events for actions
it has not seen (a cold batch: nothing cached, every enrichment read and digest window to make), against
the Deadline stand-in and moto's server, no faults:

* **round trips on the critical path**: counted from the calls themselves (``worker._count_round_trips``):
  each call on the invocation's thread is one; a fan-out of tasks over the pool's ``WIDTH`` threads counts
  as its longest lane when every call takes the same time. Retries count as calls. The figure does not
  depend on the machine.
* **peak memory**: the process's peak RSS after the batch, against a fresh baseline process
  (``benchmarks/baseline_handler.py``) after ``BATCH`` direct invocations (the naive handler meets the same
  events one at a time).
* **CPU per event**: the process's CPU time for the batch (every thread) divided by its events, against the
  baseline's median CPU per event.

Scenarios: ``each`` and ``digest`` mode; all the events of one job, and spread over ``JOBS`` jobs (in
digest mode every job's window is opened by the batch).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from . import common
from .batch_burst import _Message, _sqs_record

BATCH = 100
#: A warm-up batch first (another job's events): the clients are made, as in a warm environment.
WARMUP = 5
JOBS = 100
ARN = f"arn:aws:sqs:{common.REGION}:{common.ACCOUNT}:session-watch-events"
SCENARIOS = (("each", 1), ("each", JOBS), ("digest", 1), ("digest", JOBS))


def _events(farm: Any, name: str, jobs: int) -> List[Dict[str, Any]]:
    rendered = common.render(farm, BATCH, name=name, failed_every=1, session_size=50, jobs=jobs)
    return rendered.events


def _batch(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    import json
    import time
    import uuid

    sent = int(time.time() * 1000)
    return {"Records": [_sqs_record(_Message(str(uuid.uuid4()), json.dumps(e, separators=(",", ":")), sent), ARN)
                        for e in events]}


def run(batch: int = BATCH) -> Dict[str, Any]:
    from local.deadline_farm import RenderFarm

    farm = RenderFarm(seed=31)
    inputs = {f"{mode}, {jobs} job{'s' if jobs > 1 else ''}": (mode, _events(farm, f"b{mode[0]}{jobs}", jobs))
              for mode, jobs in SCENARIOS}
    warmups = {name: _events(farm, f"w{i}", 1)[:WARMUP] for i, name in enumerate(inputs)}
    baseline_refs = common.render(farm, batch, name="bbase", failed_every=1).refs
    farm.drain_events()
    tree = common.function_tree(bytecode=True)
    result: Dict[str, Any] = {"batch": batch, "scenarios": {}}
    with common.stage(farm) as st, tempfile.TemporaryDirectory() as tmp:
        digest_env = {"DIGEST_TABLE_NAME": st.aws.digest_table_name, "DIGEST_QUEUE_URL": st.aws.digest_queue_url,
                      "AWS_ENDPOINT_URL_SQS": st.moto.endpoint}
        with common.FunctionProcess("baseline", tree, common.lambda_environment(tree.code, extra=st.function_env()),
                                    Path(tmp) / "base.log") as base:
            answers = base.invoke_many(baseline_refs)
            base_stats = base.stats()
        failed = [a for a in answers if not a["ok"]]
        result["baseline"] = {
            "events": len(answers), "failed": len(failed), "peak_rss_mb": base_stats["peak_rss_kb"] / 1024,
            "cpu_us_per_event": common.median([a["cpu_us"] for a in answers]),
            "round_trips_per_event": common.median([sum(a["calls"].values()) for a in answers]),
        }
        for name, (mode, events) in inputs.items():
            env = common.lambda_environment(tree.code, extra=dict(st.function_env(), NOTIFY_MODE=mode, **digest_env))
            with common.FunctionProcess("handler", tree, env, Path(tmp) / f"{mode}.log") as fn:
                warm = fn.invoke(_batch(warmups[name]), remaining_ms=60_000)  # clients made, another job
                answer = fn.invoke(_batch(events), remaining_ms=60_000)
                stats = fn.stats()
            calls = answer.get("calls") or {}
            result["scenarios"][name] = {
                "mode": mode, "messages": len(events),
                "ok": answer["ok"] and not answer.get("batchItemFailures") and warm["ok"],
                "error": answer.get("error"), "item_failures": len(answer.get("batchItemFailures") or []),
                "round_trips": answer.get("round_trips"), "calls": dict(sorted(calls.items())),
                "calls_total": sum(calls.values()), "peak_rss_mb": stats["peak_rss_kb"] / 1024,
                "cpu_us_per_event": answer["cpu_us"] / len(events), "wall_ms": answer["wall_us"] / 1000,
            }
    b = result["baseline"]
    for s in result["scenarios"].values():
        s["memory_ratio"] = s["peak_rss_mb"] / b["peak_rss_mb"]
        s["cpu_ratio"] = s["cpu_us_per_event"] / b["cpu_us_per_event"]
    scenarios = result["scenarios"].values()
    result["max_round_trips"] = max(s["round_trips"] or 0 for s in scenarios)
    result["max_memory_ratio"] = max(s["memory_ratio"] for s in scenarios)
    result["ok"] = all(s["ok"] for s in scenarios) and not b["failed"]
    return result


if __name__ == "__main__":
    common.dump(run(int(sys.argv[1]) if len(sys.argv) > 1 else BATCH))
