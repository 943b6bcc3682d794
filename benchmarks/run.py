"""``python -m benchmarks.run`` (``make bench``): run every benchmark, rewrite ``docs/benchmarks.md``.

Options: ``--quick`` (small sizes, for a smoke run: the figures are not the issue's), ``--only NAME ...``
(a subset; the document is still rewritten with what ran), ``--json PATH`` (also write the raw results).
Exits 1 when a correctness check failed (a lost or duplicated notification in the burst, a call-count
limit exceeded), after writing the document.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict

from . import asset, burst, calls_per_event, cold_start, common, report, warm_cost

DOC = common.REPO / "docs" / "benchmarks.md"


def benchmarks(quick: bool) -> Dict[str, Callable[[], Dict[str, Any]]]:
    return {
        "cold_start": lambda: cold_start.run(rounds=3 if quick else 11),
        "warm_cost": lambda: warm_cost.run(events=40 if quick else 200, variant_events=20 if quick else 60),
        "calls_per_event": lambda: calls_per_event.run(events=5 if quick else 20),
        "burst": lambda: burst.run(events=500 if quick else burst.EVENTS),
        "asset": asset.run,
    }


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    command = "make bench" if not (args.quick or args.only) else "python -m benchmarks.run " + " ".join(
        (["--quick"] if args.quick else []) + (["--only", *args.only] if args.only else []))

    results: Dict[str, Any] = {"machine": common.machine(), "command": command, "quick": args.quick,
                               "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "timings": {}}
    started = time.perf_counter()
    for name, bench in benchmarks(args.quick).items():
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
    failed = [name for name in ("burst", "calls_per_event") if name in results and not results[name].get("ok")]
    if failed:
        print(f"[bench] correctness check failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
