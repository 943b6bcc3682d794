"""``python -m local.demo [--scenario NAME|FILE] [--mode each|digest] [--delivery queue|direct] [--keep-running]
[--verbose] [--json] [--synth] [--cdk-out DIR] [--workdir DIR]``"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import List, Optional

from ..offline_aws import FAKE_CREDENTIALS, isolate_from_aws
from .report import TextProgress, as_json, print_summary
from .scenario import available_scenarios, load_scenario
from .run import (
    DEFAULT_SCENARIO,
    DEFAULT_STACK,
    DEMO_DIGEST_WINDOW_SECONDS,
    EVENT_DELIVERIES,
    NOTIFY_MODES,
    REPO_ROOT,
    DemoOptions,
    DemoResult,
    run_demo,
)


def _fake_aws_environment() -> None:
    """Nothing in this process may reach AWS: fake credentials, and any client not given a local endpoint
    goes to a closed local port (the function gets moto's endpoint while it runs)."""
    isolate_from_aws()
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _stop_on(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def _wait_for_ctrl_c(result: DemoResult, out) -> None:
    env = {
        "AWS_ENDPOINT_URL": result.moto["endpoint"],
        "AWS_ENDPOINT_URL_DEADLINE": result.standin_endpoint,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": result.moto["region"],
    }
    outputs = result.deployed.outputs
    lines = ["", "Kept running for exploration (Ctrl-C stops both servers):"]
    lines += [f"  export {key}={shlex.quote(value)}" for key, value in env.items()]
    lines += [
        f"  aws dynamodb scan --table-name {outputs.get('TableName')}",
        f"  aws stepfunctions list-executions --state-machine-arn {outputs.get('StateMachineArn')}",
        f"  aws deadline get-job --farm-id {result.ids['farmId']} --queue-id {result.ids['queueId']} "
        f"--job-id {result.ids['jobId']}",
        f"  moto dashboard: {result.moto['endpoint']}/moto-api/",
    ]
    try:  # Ctrl-C at any point from here on means "stop now", not an interrupted run
        print("\n".join(lines), file=out, flush=True)
        idle = threading.Event()
        while not idle.wait(0.2):  # wake up often: a signal the kernel hands to another thread is only
            pass                   # acted on when the main thread runs Python code again
    except KeyboardInterrupt:
        print("\nStopping.", file=out, flush=True)


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.demo",
        description="Deadline Session Watch end to end on a simulated render farm, locally: no AWS account, no Docker.",
    )
    parser.add_argument("--scenario", default=str(DEFAULT_SCENARIO.relative_to(REPO_ROOT)),
                        help="a scenario file, or the name of one in local/scenarios/ ("
                             + ", ".join(available_scenarios()) + f"; default {DEFAULT_SCENARIO.stem})")
    parser.add_argument("--keep-running", action="store_true",
                        help="keep moto and the Deadline Cloud stand-in up after the run (Ctrl-C stops them)")
    parser.add_argument("--verbose", action="store_true",
                        help="print every name, id, link and detail in full (default: short names, the essentials)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON on stdout (progress on stderr)")
    parser.add_argument("--mode", choices=NOTIFY_MODES, default=None,
                        help="notification mode to synthesise the stack with (-c sessionWatch:notifyMode=...; "
                             "implies --synth; default: the stack's own default, digest)")
    parser.add_argument("--delivery", choices=EVENT_DELIVERIES, default=None,
                        help="how events reach the function (-c sessionWatch:eventDelivery=...; implies --synth; "
                             "default: the stack's own default, queue)")
    parser.add_argument("--synth", action="store_true",
                        help="run python app.py into --cdk-out first (with -c sessionWatch:digestWindowSeconds="
                             f"{DEMO_DIGEST_WINDOW_SECONDS}, so a digest flush comes within about 25 s)")
    parser.add_argument("--cdk-out", type=Path, default=REPO_ROOT / "cdk.out",
                        help="cloud assembly (default ./cdk.out)")
    parser.add_argument("--stack", default=DEFAULT_STACK, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, default=None, help="where logs go (default: a new temporary directory)")
    args = parser.parse_args(argv)

    _fake_aws_environment()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop_on)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even if started with SIGINT ignored
    if str(REPO_ROOT / "lambda_src") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "lambda_src"))

    progress_out = sys.stderr if args.json else sys.stdout
    progress = TextProgress(progress_out, verbose=args.verbose)
    options = DemoOptions(scenario=Path(args.scenario), cdk_out=args.cdk_out, stack_name=args.stack, synth=args.synth,
                          workdir=args.workdir, mode=args.mode, delivery=args.delivery)

    def on_ready(result: DemoResult) -> None:
        if args.json:
            print(json.dumps(as_json(result), indent=2, default=str), flush=True)
        else:
            print_summary(result, sys.stdout, verbose=args.verbose)
        if args.keep_running:
            _wait_for_ctrl_c(result, progress_out)

    try:
        scenario = load_scenario(args.scenario)  # a ScenarioError names the file and what is wrong with it
        options.scenario = scenario.path
        progress.header(scenario.name, _shown_path(scenario.path))
        result = run_demo(options, progress, on_ready)
    except KeyboardInterrupt:
        print("\nVERDICT: INTERRUPTED - servers stopped", file=progress_out, flush=True)
        return 130
    except Exception as err:  # ScenarioError, DeployError, MotoServerError, ...: reported; servers already stopped
        print(f"\nVERDICT: ERROR - the demo could not run: {type(err).__name__}: {err}", file=progress_out, flush=True)
        if args.json:
            print(json.dumps({"verdict": "ERROR", "error": f"{type(err).__name__}: {err}"}), flush=True)
        return 2
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
