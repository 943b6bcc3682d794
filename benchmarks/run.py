"""``python -m benchmarks.run`` (``make bench``): run every benchmark, rewrite ``docs/benchmarks.md``.

Options: ``--quick`` (small sizes, for a smoke run: the figures are not the issue's), ``--only NAME ...``
(a subset; the document is still rewritten with what ran), ``--json PATH`` (also write the raw results),
``--batch-tasks N`` (failing tasks per workload of ``batch_burst``; ``make bench`` uses
``batch_burst.MAKE_BENCH_TASKS``), ``--scale-tasks N`` (the render of ``calls_at_scale``; ``make bench`` uses
``calls_at_scale.MAKE_BENCH_TASKS``, the issue's figure is ``--scale-tasks 10000``). ``make bench``'s sizes
keep the whole run near ten minutes on 2 cores; the document states how long it took. Exits 1 when a correctness check failed (a lost or duplicated notification in a burst, a call-count
limit exceeded, more than one digest per job and window), after writing the document; the batch path's
read-call target is reported (PASS / NOT MET), not a failure of the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional

from . import (asset, batch_burst, batch_cost, burst, calls_at_scale, calls_per_event, cold_start, common, report,
               warm_cost)

DOC = common.REPO / "docs" / "benchmarks.md"


#: ``make bench``'s sizes: all of it in about ten minutes on 2 cores (the run states its time).
BURST_EVENTS = 1_000
COLD_START_ROUNDS = 5


def benchmarks(quick: bool, batch_tasks: Optional[int] = None,
               scale_tasks: Optional[int] = None) -> Dict[str, Callable[[], Dict[str, Any]]]:
    tasks = batch_tasks or (200 if quick else batch_burst.MAKE_BENCH_TASKS)
    scale = scale_tasks or (500 if quick else calls_at_scale.MAKE_BENCH_TASKS)
    return {
        "cold_start": lambda: cold_start.run(rounds=3 if quick else COLD_START_ROUNDS),
        "warm_cost": lambda: warm_cost.run(events=40 if quick else 160, variant_events=20 if quick else 40),
        "batch_cost": batch_cost.run,
        "calls_at_scale": lambda: calls_at_scale.run(tasks=scale),
        "calls_per_event": lambda: calls_per_event.run(events=5 if quick else 20),
        "burst": lambda: burst.run(events=500 if quick else BURST_EVENTS),
        "batch_burst": lambda: batch_burst.run(tasks=tasks),
        "asset": asset.run,
    }


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--batch-tasks", type=int, default=None)
    parser.add_argument("--scale-tasks", type=int, default=None)
    args = parser.parse_args(argv)
    options = ((["--quick"] if args.quick else []) + (["--only", *args.only] if args.only else [])
               + ([f"--batch-tasks {args.batch_tasks}"] if args.batch_tasks else [])
               + ([f"--scale-tasks {args.scale_tasks}"] if args.scale_tasks else []))
    command = "make bench" if not options else "python -m benchmarks.run " + " ".join(options)

    results: Dict[str, Any] = {"machine": common.machine(), "command": command, "quick": args.quick,
                               "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "timings": {}}
    started = time.perf_counter()
    for name, bench in benchmarks(args.quick, args.batch_tasks, args.scale_tasks).items():
        if args.only and name not in args.only:
            continue
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results[name] = bench()
        results["timings"][name] = time.perf_counter() - t0
        print(f"[bench] {name}: {results['timings'][name]:.0f} s", file=sys.stderr, flush=True)
    results["seconds"] = time.perf_counter() - started

    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(report.render(results))
    print(f"[bench] wrote {DOC.relative_to(common.REPO)} ({results['seconds']:.0f} s in all)", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    if "batch_burst" in results:
        for workload, w in results["batch_burst"]["workloads"].items():
            for t in w["targets"]:
                print(f"[bench] {'PASS   ' if t['met'] else 'NOT MET'} {workload}: {t['target']}: {t['reached']} "
                      f"(limit {t['limit']})", file=sys.stderr)
    failed = [name for name in ("burst", "calls_per_event", "batch_burst", "batch_cost", "calls_at_scale")
              if name in results and not results[name].get("ok")]
    if failed:
        print(f"[bench] correctness check failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
