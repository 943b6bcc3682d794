"""Serve a sample farm for manual exploration: ``python -m local.deadline_farm --port 0 [--seed N]``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import threading
from typing import List, Optional

from .sample import build_sample_farm
from .server import DeadlineStandIn


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.deadline_farm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free port)")
    parser.add_argument("--seed", default="0", help="seed of the IDs and faults (default 0)")
    parser.add_argument("--events", action="store_true", help="print the sample's EventBridge events as JSON lines")
    parser.add_argument("--throttle", type=float, default=0.0, help="probability of ThrottlingException per call")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    seed = int(args.seed) if args.seed.lstrip("-").isdigit() else args.seed

    sample = build_sample_farm(seed)
    standin = DeadlineStandIn(sample.farm, host=args.host, port=args.port, seed=seed, verbose=args.verbose)
    if args.throttle:
        standin.faults.error_rate("*", throttling=args.throttle)
    standin.start()
    out = sys.stdout
    print(f"Deadline Cloud stand-in listening on {standin.endpoint_url}", file=out)
    print("\n# Point boto3 / the AWS CLI at it:", file=out)
    for name, value in standin.client_env().items():
        print(f"export {name}={shlex.quote(value)}", file=out)
    print("\n# Sample resources (keyword arguments for the boto3 calls):", file=out)
    for name, ref in sample.refs.items():
        print(f"{name}: {json.dumps(ref)}", file=out)
    for note in sample.notes:
        print(f"note: {note}", file=out)
    ref = sample.refs["sessionAction:failed"]
    print(
        "\n# Try:\n"
        "python -c 'import boto3, json; print(boto3.client(\"deadline\").get_session_action("
        + ", ".join(f"{k}=\"{v}\"" for k, v in ref.items())
        + "))'",
        file=out,
    )
    if args.events:
        print("\n# Events:", file=out)
        for event in sample.farm.drain_events():
            print(json.dumps(event), file=out)
    print("\nCtrl-C to stop.", file=out, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
