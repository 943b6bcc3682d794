"""Cold start: fresh processes, side by side, in the Lambda-like interpreter setup (``common.function_tree``).

Per fresh process, measured inside it from the first line of the program (so interpreter start-up, the
same for every kind, is left out; the process's whole wall time is recorded too):

* ``import``      importing the modules (``boto3``; ``boto3`` then ``session_watch.handler``, as the function
                  loads them by its first event; ``baseline_handler``, which imports boto3 itself);
* ``first event`` importing it and handling one event, client creation included: a direct invocation
                  for a terminal session action the function has not seen (GetSessionAction, the
                  conditional UpdateItem, Publish, the second UpdateItem; the baseline: GetSessionAction,
                  PutItem, Publish), against the Deadline stand-in and moto's server.

The Lambda environment is as deployed: ``LAMBDA_TASK_ROOT`` set, active tracing (the first invocation
of an environment is sampled, ``Sampled=1``), so the X-Ray SDK loads and the trace segments really go
out over UDP (to a local socket here, counted, to show the tracer works).

Two interpreter setups: ``source`` (no ``.pyc``, as the asset ships: every cold start compiles what it
imports) and ``bytecode`` (precompiled). Kinds are interleaved (one process of each kind per round) so
that drift hits them alike. Variants of ``observability.py`` show what each Powertools part costs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any, Dict, List, Optional

from . import common

#: Appended to the current ``observability.py``: a tracer that patches every library the X-Ray SDK knows
#: (``patch_all``, Powertools' default), in place of botocore only.
PATCH_ALL = (
    "\ntracer = Tracer(service=SERVICE)  # noqa: E305 - the variant: auto_patch patches every known library\n"
)

#: What Powertools' event parser would add: pydantic models of the EventBridge envelope (imported).
PARSER_IMPORTS = (
    "\nfrom aws_lambda_powertools.utilities.parser import parse as _parse  # noqa: E402,F401\n"
    "from aws_lambda_powertools.utilities.parser.models import EventBridgeModel as _EventBridgeModel  # noqa\n"
)
PARSER_DISTRIBUTIONS = ("pydantic", "pydantic-core", "annotated-types", "typing-inspection")
SECRET = "zq-cold-secret-7741"
#: What a cold start of the function imports: boto3 (its first event creates clients) and the handler.
HANDLER = ("boto3", "session_watch.handler")

SNIPPET = r'''
import json, os, sys, time
t0 = time.perf_counter()
sys.path[:0] = {path!r}
import importlib
for name in {modules!r}:
    module = importlib.import_module(name)
t1 = time.perf_counter()
out = {{"import": t1 - t0}}
event = {event!r}
if event is not None:
    class Context:
        function_name = "session-watch"; function_version = "$LATEST"; memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:session-watch"
        aws_request_id = "cold-1"
        def get_remaining_time_in_millis(self):
            return 30000
    result = module.lambda_handler(event, Context())
    out["first_event"] = time.perf_counter() - t0
    out["status"] = result.get("status")
out["modules"] = len(sys.modules)
sys.stderr.write("BENCH " + json.dumps(out) + "\n")
'''


class XRayDaemon:
    """A UDP socket standing in for the X-Ray daemon: collects the segment documents sent to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.by_trace: Dict[str, List[str]] = defaultdict(list)
        self.secret_hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if SECRET.encode() in data:
                self.secret_hits += 1
            try:
                document = json.loads(data.split(b"\n", 1)[1])
            except (IndexError, ValueError):
                continue
            self.by_trace[document.get("trace_id", "?")].append(document.get("name", "?"))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def _parser_deps() -> Optional[str]:
    """A directory with pydantic and its dependencies (for the parser variant), or None."""
    import importlib.metadata as md

    target = common.BUILD / f"parser-deps-{common._tree_key('parser')}"
    if not (target / ".complete").is_file():
        try:
            for name in PARSER_DISTRIBUTIONS:
                dist = md.distribution(name)
                for file in dist.files or []:
                    parts = file.parts
                    if ".." in parts or "__pycache__" in parts:
                        continue
                    source = dist.locate_file(file)
                    dest = target.joinpath(*parts)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(source.read_bytes())
        except md.PackageNotFoundError:
            return None
        (target / ".complete").write_text("")
    return str(target)


def run(rounds: int = 11, variants: bool = True) -> Dict[str, Any]:
    from local.deadline_farm import RenderFarm

    observability = (common.LAMBDA_SRC / "session_watch" / "observability.py").read_text()
    kinds: List[Dict[str, Any]] = [
        {"name": "import boto3", "variant": "current", "module": "boto3", "event": False},
        {"name": "baseline handler", "variant": "current", "module": "baseline_handler", "event": True},
        # As shipped: the handler's first event needs boto3, so its import is measured with boto3 loaded
        # (importing boto3, then the handler), against ``import boto3`` alone.
        {"name": "handler", "variant": "current", "module": HANDLER, "event": True, "traced": True},
    ]
    if variants:
        parser_path = _parser_deps()
        kinds += [
            {"name": "handler, X-Ray SDK patch_all", "variant": "patch_all", "module": HANDLER,
             "event": True, "traced": True, "source": observability + PATCH_ALL},
            {"name": "handler, tracing off (POWERTOOLS_TRACE_DISABLED)", "variant": "current",
             "module": HANDLER, "event": True, "env": {"POWERTOOLS_TRACE_DISABLED": "true"}},
        ]
        if parser_path:
            kinds.append({"name": "handler + Powertools parser (pydantic EventBridgeModel)", "variant": "parser",
                          "module": HANDLER, "event": True, "traced": True,
                          "source": observability + PARSER_IMPORTS, "extra_path": [parser_path]})

    farm = RenderFarm(seed=11)
    needed = rounds * sum(1 for k in kinds if k["event"]) * 2 + 4
    # distinctive task parameters and progress messages: they must show up in no log line and no trace
    job = farm.create_job("cold", frames=[{"Frame": i, "Scene": {"path": f"/mnt/{SECRET}/shot-{i}.blend"}}
                                          for i in range(1, needed + 1)])
    session = farm.start_session(job.job_id)
    refs = []
    for task_id in job.task_ids:
        action = farm.run_task(task_id, "FAILED", session_id=session.session_id, process_exit_code=139,
                               progress_message=f"crashed: token={SECRET}-message")
        refs.append(farm.session_action_ref(action.session_action_id))
    farm.drain_events()

    daemon = XRayDaemon()
    results: Dict[str, Any] = {"rounds": rounds, "setups": {}}
    started = time.perf_counter()
    try:
        with common.stage(farm) as st:
            for setup in ("source", "bytecode"):
                bytecode = setup == "bytecode"
                trees = {}
                for kind in kinds:
                    if kind["variant"] not in trees:
                        trees[kind["variant"]] = common.function_tree(
                            bytecode=bytecode, variant=kind["variant"], observability_source=kind.get("source"))
                samples: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
                traces: Dict[str, List[List[str]]] = defaultdict(list)
                for r in range(rounds):
                    order = kinds[r % len(kinds):] + kinds[: r % len(kinds)]
                    for kind in order:
                        tree = trees[kind["variant"]]
                        event = refs.pop() if kind["event"] else None
                        root = f"1-{int(time.time()):08x}-{os.getpid():08x}{len(refs):08x}{r:08x}"
                        extra = dict(st.function_env(), AWS_XRAY_DAEMON_ADDRESS=daemon.address, **kind.get("env", {}))
                        env = common.lambda_environment(tree.code, sampled=True, extra=extra)
                        env["_X_AMZN_TRACE_ID"] = f"Root={root};Parent=0000000000000001;Sampled=1"
                        path = tree.sys_path() + kind.get("extra_path", [])
                        modules = kind["module"] if isinstance(kind["module"], tuple) else (kind["module"],)
                        code = SNIPPET.format(path=path, modules=list(modules), event=event)
                        t0 = time.perf_counter()
                        proc = subprocess.run([sys.executable, *tree.python_flags(), "-c", code], env=env,
                                              capture_output=True, text=True, timeout=120)
                        wall = time.perf_counter() - t0
                        line = next((l for l in proc.stderr.splitlines() if l.startswith("BENCH ")), None)
                        if proc.returncode != 0 or line is None:
                            raise RuntimeError(f"{kind['name']} ({setup}) failed:\n{proc.stderr[-3000:]}")
                        sample = json.loads(line[6:])
                        sample["secret_in_output"] = SECRET in proc.stdout or SECRET in proc.stderr
                        sample["process_wall"] = wall
                        samples[kind["name"]].append(sample)
                        if kind.get("traced"):
                            traces[kind["name"]].append(root)
                time.sleep(0.5)  # let the last UDP datagrams arrive
                results["setups"][setup] = _summarise(kinds, samples, traces, daemon)
    finally:
        daemon.close()
    results["seconds"] = time.perf_counter() - started
    results["secret_in_traces"] = daemon.secret_hits
    results["secret_in_logs"] = sum(s.get("secret_processes", 0) for s in results["setups"].values())
    for setup in results["setups"].values():
        k = setup["kinds"]
        setup["import_ratio"] = k["handler"]["import_ms"] / k["import boto3"]["import_ms"]
        setup["first_event_ratio"] = k["handler"]["first_event_ms"] / k["baseline handler"]["first_event_ms"]
        for name, entry in k.items():
            if "first_event_ms" in entry:
                entry["first_event_vs_baseline"] = entry["first_event_ms"] / k["baseline handler"]["first_event_ms"]
            entry["import_vs_boto3"] = entry["import_ms"] / k["import boto3"]["import_ms"]
    return results


def _summarise(kinds, samples, traces, daemon) -> Dict[str, Any]:
    out: Dict[str, Any] = {"kinds": {}, "secret_processes": sum(
        1 for got in samples.values() for s in got if s.get("secret_in_output"))}
    for kind in kinds:
        got = samples[kind["name"]]
        entry: Dict[str, Any] = {
            "import_ms": common.median([s["import"] for s in got]) * 1000,
            "process_wall_ms": common.median([s["process_wall"] for s in got]) * 1000,
            "modules": int(common.median([s["modules"] for s in got])),
            "n": len(got),
        }
        if kind["event"]:
            entry["first_event_ms"] = common.median([s["first_event"] for s in got]) * 1000
            entry["first_event_spread_ms"] = [min(s["first_event"] for s in got) * 1000,
                                              max(s["first_event"] for s in got) * 1000]
        if kind.get("traced"):
            names = [daemon.by_trace.get(root, []) for root in traces[kind["name"]]]
            entry["xray_documents_per_invocation"] = common.median([len(n) for n in names])
            entry["xray_names"] = sorted(set(x for n in names for x in n))
        out["kinds"][kind["name"]] = entry
    return out


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    common.dump(run(rounds))
