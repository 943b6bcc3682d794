"""Warm cost: the handler vs the minimal baseline handler, same stand-ins, same run.

Two warm function processes (``benchmarks/worker.py``, Lambda-like setup with bytecode, tracing as
deployed; warm invocations unsampled, as X-Ray's default rule samples only the first request each second
and 5 % of the rest) handle direct invocations for terminal session actions they have not seen, in
alternating blocks so that drift hits both alike. Both make their calls against the same Deadline
stand-in and the same moto server. Per event:

* ``wall``       the invocation's duration (what Lambda bills), server time included;
* ``cpu``        CPU time of the function process for the invocation (all its threads): the function's
                 own work plus botocore's (signing, serialising, parsing), without the servers' work;
* ``server cpu`` moto's CPU per event (measured on moto's process over each block): the part of ``wall``
                 that is the stand-in's speed, not the function's.

Variants of the handler show what each choice costs: tracing off, every invocation sampled, botocore's
parameter validation back on, timestamps parsed by dateutil (botocore's default) rather than
``domain.normalise.parse_timestamp``.

``own CPU`` is the function's own work outside any I/O, per event: parse the input, normalise the
response, render the notification, write the log line (``worker._own_cpu``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from . import common


def _actions(farm: Any, n: int, name: str) -> List[Dict[str, str]]:
    job = farm.create_job(name, frames=range(1, n + 1))
    session = farm.start_session(job.job_id)
    refs = []
    for i, task_id in enumerate(job.task_ids):
        failed = i % 10 == 0
        action = farm.run_task(task_id, "FAILED" if failed else "SUCCEEDED", session_id=session.session_id,
                               process_exit_code=139 if failed else 0)
        refs.append(farm.session_action_ref(action.session_action_id))
    farm.drain_events()
    return refs


def run(events: int = 200, block: int = 20, warmup: int = 10, variant_events: int = 60) -> Dict[str, Any]:
    from local.deadline_farm import RenderFarm

    farm = RenderFarm(seed=21)
    per_kind = events + warmup
    refs = {
        "handler": _actions(farm, per_kind, "warm-h"),
        "baseline": _actions(farm, per_kind, "warm-b"),
        "handler, every invocation sampled": _actions(farm, variant_events + warmup, "warm-s"),
        "handler, tracing off": _actions(farm, variant_events + warmup, "warm-o"),
        "handler, botocore parameter validation on": _actions(farm, variant_events + warmup, "warm-v"),
        "handler, timestamps parsed by dateutil": _actions(farm, variant_events + warmup, "warm-d"),
    }
    tree = common.function_tree(bytecode=True)
    samples: Dict[str, List[Dict[str, Any]]] = {k: [] for k in refs}
    server_cpu: Dict[str, float] = {k: 0.0 for k in refs}
    with common.stage(farm) as st, tempfile.TemporaryDirectory() as tmp:
        base_env = common.lambda_environment(tree.code, extra=st.function_env())
        procs = {
            "handler": common.FunctionProcess("handler", tree, base_env, Path(tmp) / "h.log"),
            "baseline": common.FunctionProcess("baseline", tree, base_env, Path(tmp) / "b.log"),
            "handler, every invocation sampled": common.FunctionProcess("handler", tree, base_env, Path(tmp) / "s.log"),
            "handler, tracing off": common.FunctionProcess(
                "handler", tree, dict(base_env, POWERTOOLS_TRACE_DISABLED="true"), Path(tmp) / "o.log"),
            "handler, botocore parameter validation on": common.FunctionProcess(
                "handler", tree, base_env, Path(tmp) / "v.log", variants=["validate"]),
            "handler, timestamps parsed by dateutil": common.FunctionProcess(
                "handler", tree, base_env, Path(tmp) / "d.log", variants=["dateutil"]),
        }
        sampled = {"handler, every invocation sampled": True}
        try:
            for name, proc in procs.items():  # warm up: clients created, first-call costs paid
                answers = proc.invoke_many(refs[name][:warmup], sampled=sampled.get(name, False))
                _check(name, answers)
                refs[name] = refs[name][warmup:]
            cursor = {name: 0 for name in procs}
            while any(cursor[n] < len(refs[n]) for n in procs):
                for name, proc in procs.items():
                    size = block if name in ("handler", "baseline") else max(1, block * variant_events // events)
                    chunk = refs[name][cursor[name]: cursor[name] + size]
                    if not chunk:
                        continue
                    cursor[name] += len(chunk)
                    before = st.moto.cpu_seconds()
                    answers = proc.invoke_many(chunk, sampled=sampled.get(name, False))
                    server_cpu[name] += st.moto.cpu_seconds() - before
                    _check(name, answers)
                    samples[name].extend(answers)
            own = procs["handler"].own_cpu(refs["handler"][0], 3000)
        finally:
            for proc in procs.values():
                proc.close()

    result: Dict[str, Any] = {"events": events, "block": block, "kinds": {}}
    for name, answers in samples.items():
        result["kinds"][name] = {
            "n": len(answers),
            "wall_ms": common.median([a["wall_us"] for a in answers]) / 1000,
            "wall_ms_mean": sum(a["wall_us"] for a in answers) / len(answers) / 1000,
            "cpu_us": common.median([a["cpu_us"] for a in answers]),
            "cpu_us_mean": sum(a["cpu_us"] for a in answers) / len(answers),
            "server_cpu_ms": server_cpu[name] / len(answers) * 1000,
            "calls": answers[0]["calls"],
        }
    h, b = result["kinds"]["handler"], result["kinds"]["baseline"]
    result["wall_ratio"] = h["wall_ms"] / b["wall_ms"]
    result["cpu_ratio"] = h["cpu_us"] / b["cpu_us"]
    result["own_cpu_us"] = own
    for k in result["kinds"].values():
        k["cpu_vs_baseline"] = k["cpu_us"] / b["cpu_us"]
    return result


def _check(name: str, answers: List[Dict[str, Any]]) -> None:
    failed = [a for a in answers if not a["ok"]]
    if failed:
        raise RuntimeError(f"{name}: {len(failed)} invocations failed, e.g. {failed[0]}")


if __name__ == "__main__":
    common.dump(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
