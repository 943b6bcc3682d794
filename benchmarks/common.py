"""Shared machinery of the benchmarks: the Lambda-like interpreter setup, moto's server as a child
process, the local stage (moto + the Deadline Cloud stand-in), farms to play, statistics, machine facts.

The Lambda-like setup
---------------------
Lambda runs the function from its asset: ``/var/task`` holds the function package and its pinned
dependencies (``lambda_src/requirements.txt``), *without* bytecode (the bundler installs with
``--no-compile`` and ``/var/task`` is read-only, so every cold start compiles what it imports). The
benchmarks rebuild that layout for this machine's interpreter (:func:`function_tree`): the same
distributions, copied from the running interpreter's site-packages (same versions as the asset; the
asset's one binary wheel, wrapt, is built for arm64/CPython 3.14 and cannot load here), and run fresh
interpreters with ``-I -S`` (no site-packages, no user site, no ``PYTHON*`` variables) and only that
tree on ``sys.path``. Two copies exist: ``source`` (no ``.pyc``, interpreters run with ``-B``: what
Lambda does) and ``bytecode`` (precompiled: what a deployment that ships ``.pyc`` would do).
"""

from __future__ import annotations

import compileall
import contextlib
import hashlib
import importlib.metadata as metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from local.offline_aws import isolate_from_aws, offline_environment

REPO = Path(__file__).resolve().parents[1]
LAMBDA_SRC = REPO / "lambda_src"
BENCH_DIR = Path(__file__).resolve().parent
BUILD = REPO / ".build" / "bench"  # .build/ is gitignored
REGION = "us-west-2"
ACCOUNT = "123456789012"

#: Credentials and endpoints no real AWS account answers: every client without a local endpoint
#: goes to a closed local port.
FAKE_AWS = offline_environment(REGION)


def apply_fake_aws() -> None:
    isolate_from_aws(REGION)


# --- the function's tree ------------------------------------------------------------------------


def function_requirements() -> List[str]:
    """Distribution names pinned in ``lambda_src/requirements.txt`` (what the asset ships)."""
    names = []
    for line in (LAMBDA_SRC / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[\[=<>!~; ]", line, maxsplit=1)[0])
    return names


def _tree_key(extra: str = "") -> str:
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    digest.update((LAMBDA_SRC / "requirements.txt").read_bytes())
    for name in function_requirements():
        digest.update(f"{name}={metadata.version(name)}".encode())
    digest.update(extra.encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class FunctionTree:
    """``deps``: the pinned distributions; ``code``: a directory holding ``session_watch`` (and the
    baseline handler). ``bytecode``: whether both were precompiled."""

    deps: Path
    code: Path
    bytecode: bool

    def sys_path(self) -> List[str]:
        return [str(self.code), str(self.deps)]

    def python_flags(self) -> List[str]:
        # -I: isolated (no PYTHON* variables, no user site, no script directory); -S: no site-packages.
        return ["-I", "-S"] + ([] if self.bytecode else ["-B"])


def _copy_distributions(target: Path) -> None:
    for name in function_requirements():
        dist = metadata.distribution(name)
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if ".." in parts or "__pycache__" in parts or str(file).endswith((".pyc", ".pyo")):
                continue
            source = Path(dist.locate_file(file))
            if not source.is_file():
                continue
            dest = target / Path(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)


def _copy_package(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)


def function_tree(*, bytecode: bool, variant: Optional[str] = None, observability_source: Optional[str] = None) -> FunctionTree:
    """The function's asset laid out for this interpreter (built once per dependency set; the code
    directory is rebuilt every call so that it is the working tree's). ``variant`` with
    ``observability_source`` gives a copy of the package whose ``observability.py`` is replaced."""
    BUILD.mkdir(parents=True, exist_ok=True)
    mode = "bytecode" if bytecode else "source"
    deps = BUILD / f"deps-{_tree_key()}-{mode}"
    if not (deps / ".complete").is_file():
        staging = BUILD / f"staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        _copy_distributions(staging)
        if bytecode:
            compileall.compile_dir(str(staging), quiet=2, workers=1)
        (staging / ".complete").write_text("\n".join(function_requirements()))
        shutil.rmtree(deps, ignore_errors=True)
        staging.rename(deps)
    code = BUILD / f"code-{variant or 'current'}-{mode}"
    shutil.rmtree(code, ignore_errors=True)
    _copy_package(LAMBDA_SRC / "session_watch", code / "session_watch")
    if observability_source is not None:
        (code / "session_watch" / "observability.py").write_text(observability_source)
    shutil.copy2(BENCH_DIR / "baseline_handler.py", code / "baseline_handler.py")
    if bytecode:
        compileall.compile_dir(str(code), quiet=2, workers=1)
    return FunctionTree(deps, code, bytecode)


def lambda_environment(task_root: Path, *, tracing: bool = True, sampled: bool = False,
                       extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment the Lambda runtime gives the function (as deployed: Powertools settings of the
    stack, active tracing), with fake credentials and local endpoints from ``extra``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(task_root),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14",
        "AWS_LAMBDA_FUNCTION_NAME": "session-watch",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/session-watch",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/29/[$LATEST]bench",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "_X_AMZN_TRACE_ID": trace_header(0, sampled),
        "POWERTOOLS_SERVICE_NAME": "session-watch",
        "POWERTOOLS_METRICS_NAMESPACE": "DeadlineSessionWatch",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    env.update(FAKE_AWS)
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    env.update(extra or {})
    return env


def trace_header(n: int, sampled: bool) -> str:
    """``_X_AMZN_TRACE_ID`` as the Lambda runtime sets it for an invocation."""
    root = f"1-{int(time.time()):08x}-{n:024x}"
    return f"Root={root};Parent={n + 1:016x};Sampled={1 if sampled else 0}"


# --- moto's server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class MotoServer:
    """moto's server (``benchmarks/moto_server.py``: ``python -m moto.server`` with its directory
    listing cached) on 127.0.0.1 and a free port, as a child process (so that its CPU is not the
    function's), stopped on exit."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen] = None

    def __enter__(self) -> "MotoServer":
        env = dict(os.environ, **FAKE_AWS, MOTO_PORT=str(self.port))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.moto_server", "127.0.0.1", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True, cwd=str(REPO),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("moto's server did not answer within 60 s")

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid) if self.process else 0.0

    def __exit__(self, *exc: Any) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


# --- the local stage: moto + the Deadline Cloud stand-in -----------------------------------------


@dataclass
class Stage:
    """moto (history table, topic, subscribed queue) and a Deadline stand-in over ``farm``."""

    moto: MotoServer
    aws: Any  # tests.support.aws.LocalAws
    standin: Any  # local.deadline_farm.DeadlineStandIn

    def function_env(self) -> Dict[str, str]:
        """What the deployed function's environment holds, pointed at the local stage. ``NOTIFY_MODE=each``:
        the per-event path these benchmarks measure (issue 5), one message per action; the function's
        default mode, digest, needs the digest table and queue (``benchmarks/batch_burst.py`` measures it)."""
        return {
            "NOTIFY_MODE": "each",
            "TABLE_NAME": self.aws.table_name,
            "TOPIC_ARN": self.aws.topic_arn,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto.endpoint,
            "AWS_ENDPOINT_URL_SNS": self.moto.endpoint,
            # the log excerpts' GetLogEvents (moto has no session logs here: one call per failure, answered
            # ResourceNotFoundException; without it the reads would go to no endpoint and be retried)
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": self.moto.endpoint,
            "AWS_ENDPOINT_URL_DEADLINE": self.standin.endpoint_url,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        }


@contextlib.contextmanager
def stage(farm: Any) -> Iterator[Stage]:
    """moto's server as a child process, freshly provisioned, and the stand-in (a thread here) over
    ``farm``."""
    apply_fake_aws()
    from local.deadline_farm import DeadlineStandIn
    from tests.support.aws import provision

    with MotoServer() as moto:
        aws = provision(moto.endpoint)
        with DeadlineStandIn(farm) as standin:
            yield Stage(moto, aws, standin)


@dataclass
class RenderedJob:
    """A render played on the farm: one terminal task event per task (as Deadline sent them) and the
    terminal session action of each task."""

    events: List[Dict[str, Any]]
    terminal_actions: Dict[str, str]  # session action id -> status
    refs: List[Dict[str, str]] = field(default_factory=list)  # direct-invocation inputs, one per action


def render(farm: Any, tasks: int, *, name: str = "shot", failed_every: int = 20, session_size: int = 50,
           jobs: int = 1) -> RenderedJob:
    """Render ``tasks`` frames (split over ``jobs`` jobs), ``session_size`` tasks per worker session;
    every ``failed_every``-th task fails with exit code 139, the others succeed."""
    events: List[Dict[str, Any]] = []
    actions: Dict[str, str] = {}
    refs: List[Dict[str, str]] = []
    per_job = -(-tasks // jobs)
    n = 0
    for j in range(jobs):
        count = min(per_job, tasks - j * per_job)
        if count <= 0:
            break
        job = farm.create_job(f"{name}{j:02d}", frames=range(1, count + 1))
        session_id = None
        for i, task_id in enumerate(job.task_ids):
            if i % session_size == 0:
                session_id = farm.start_session(job.job_id).session_id
            n += 1
            failed = failed_every and n % failed_every == 0
            action = farm.run_task(
                task_id, "FAILED" if failed else "SUCCEEDED", session_id=session_id,
                process_exit_code=139 if failed else 0,
                progress_message="Segmentation fault" if failed else None,
            )
            actions[action.session_action_id] = "FAILED" if failed else "SUCCEEDED"
            refs.append(farm.session_action_ref(action.session_action_id))
    for event in farm.drain_events():
        if event["detail-type"] == "Task Run Status Change" and event["detail"]["runStatus"] in ("SUCCEEDED", "FAILED"):
            events.append(event)
    return RenderedJob(events, actions, refs)


# --- statistics and facts --------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary(values: Sequence[float]) -> Dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "p90": ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))],
        "max": ordered[-1],
    }


def machine() -> Dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    commit, dirty = "", False
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        # docs/benchmarks.md itself is what the run writes: a change to it alone is not a dirty tree
        status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, check=True).stdout.splitlines()
        dirty = any(line[3:].strip() != "docs/benchmarks.md" for line in status)
    versions = {}
    for name in ("boto3", "botocore", "aws-lambda-powertools", "aws-xray-sdk", "moto"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "commit": commit,
        "dirty": dirty,
        "versions": versions,
    }


def dump(result: Mapping[str, Any]) -> None:
    print(json.dumps(result, indent=2, sort_keys=True, default=str))


# --- function processes ------------------------------------------------------------------------


class FunctionProcess:
    """A worker process (``benchmarks/worker.py``): one warm execution environment of the function
    (``kind="handler"``) or of the baseline (``kind="baseline"``), in the Lambda-like setup."""

    def __init__(self, kind: str, tree: FunctionTree, env: Mapping[str, str], log: Optional[Path] = None,
                 variants: Sequence[str] = ()) -> None:
        command = [sys.executable, *tree.python_flags(), str(BENCH_DIR / "worker.py"), "--kind", kind]
        for variant in variants:
            command += ["--variant", variant]
        for entry in tree.sys_path():
            command += ["--path", entry]
        command += ["--log", str(log or os.devnull)]
        self.kind = kind
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(env),
                                        text=True, bufsize=1, start_new_session=True)

    def _ask(self, command: Mapping[str, Any]) -> Any:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.kind} worker exited with {self.process.wait()}")
        return json.loads(line)

    def invoke(self, event: Mapping[str, Any], **options: Any) -> Dict[str, Any]:
        return self._ask(dict(options, op="invoke", event=event))

    def invoke_many(self, events: Sequence[Mapping[str, Any]], **options: Any) -> List[Dict[str, Any]]:
        return self._ask(dict(options, op="invoke_many", events=list(events)))

    def own_cpu(self, ref: Mapping[str, str], n: int) -> Dict[str, float]:
        return self._ask({"op": "own_cpu", "ref": dict(ref), "n": n})

    def stats(self) -> Dict[str, Any]:
        return self._ask({"op": "stats"})

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._ask({"op": "exit"})
            except (OSError, RuntimeError, ValueError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "FunctionProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
