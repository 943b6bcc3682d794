"""End-to-end fixtures: the stack synthesised once per configuration and session, and demo runs against it.

Three cloud assemblies, synthesised the way ``make demo`` does (``python app.py`` with the demo's context,
``sessionWatch:digestWindowSeconds=10``), one after the other in one process on first use
(``synth_assemblies.py``: one jsii start-up for the three):

* ``each``: ``-c sessionWatch:notifyMode=each`` (events through the event queue, the default delivery);
* ``digest``: the stack's default notification mode (digest), events through the event queue;
* ``direct``: ``notifyMode=each`` and ``-c sessionWatch:eventDelivery=direct`` (the rule invokes the function).

Each scenario run starts its own ``moto_server`` child process and Deadline Cloud stand-in (fresh state),
deploys the assembly into moto's CloudFormation, plays the scenario and returns the
:class:`local.demo.run.DemoResult` the tests assert on; a (scenario, configuration) pair runs once per
session. A run keeps about one core busy (the function and moto take turns), so the runs go to a pool of
worker processes (``demo_worker.py``; ``E2E_WORKERS``, default 4), all of them submitted, heaviest first,
when the session starts (test modules declare theirs in ``RUNS``), so that they run while the tests that
need no demo run do. The demo's progress and summary are
printed by the fixture, so pytest shows them when a test fails.

A test that runs a whole command as a user would (``python -m local.demo ...``) declares it in its module's
``EARLY`` (name -> (configuration, argv)); the command starts in the background as soon as that configuration's
assembly exists, and the test gets it running or done from ``started(name)``. Tests are ordered so that those
needing no assembly run first, then those needing one (``cdk_out``, ``started``), then those on demo runs.

Adding a scenario: a new (scenario, configuration) pair in a module's ``RUNS`` costs one demo run in the pool
(a small scenario: ~10 s of CPU, most of it deploying the stack into moto; the 1,000-task burst: ~45 s); a new
assertion on a run already declared costs nothing. Prefer an existing configuration: a new one costs a synth
(~3 s of CPU in the shared synth process) besides its runs.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "local" / "scenarios"
TEST_SCENARIOS = Path(__file__).resolve().parent / "scenarios"

#: configuration -> the context it is synthesised with (besides the demo's 10-second digest window)
CONFIGURATIONS: Dict[str, Dict[str, str]] = {
    "each": {"sessionWatch:notifyMode": "each"},
    "digest": {},
    "direct": {"sessionWatch:notifyMode": "each", "sessionWatch:eventDelivery": "direct"},
}


#: (scenario file, configuration) pairs the collected test modules will ask for (their ``RUNS``).
PLAN: List[Tuple[Path, str]] = []
#: name -> (configuration, command line) of the commands collected test modules start early (their ``EARLY``).
EARLY_PLAN: Dict[str, Tuple[str, List[str]]] = {}
#: The configurations the collected tests need an assembly of.
NEEDED: set = set()
#: Rough cost of a run, to start the longest first.
COST = {"job-fails-entirely": 100, "env-enter-fails-one-worker": 20, "render-12-frames": 15, "throttled-deadline": 15}


def _waits_for(item) -> int:
    """0: needs nothing synthesised here; 1: needs an assembly (``cdk_out``, ``started``); 2: needs a demo run."""
    if getattr(item.module, "RUNS", ()):
        return 2
    return 1 if {"cdk_out", "started"} & set(getattr(item, "fixturenames", ())) else 0


def pytest_collection_modifyitems(session, config, items) -> None:
    """Tests that need no assembly and no demo run go first: they run while the synth process and the pool
    work (a test that needs the assembly early would only wait for it); then those that need an assembly,
    then those that assert on demo runs."""
    items[:] = sorted(items, key=_waits_for)


def pytest_collection_finish(session) -> None:
    runs: List[Tuple[Path, str]] = []
    early: Dict[str, Tuple[str, List[str]]] = {}
    for item in session.items:
        for run in getattr(item.module, "RUNS", ()):
            if run not in runs:
                runs.append(run)
        if "started" in getattr(item, "fixturenames", ()):  # a module's commands start only for a test that uses them
            early.update(getattr(item.module, "EARLY", {}))
    PLAN[:] = sorted(runs, key=lambda r: COST.get(r[0].stem, 10) + (20 if r[1] == "digest" else 0), reverse=True)
    EARLY_PLAN.clear()
    EARLY_PLAN.update(early)
    NEEDED.clear()
    NEEDED.update({configuration for _, configuration in PLAN} | {c for c, _ in EARLY_PLAN.values()})
    if any("cdk_out" in getattr(item, "fixturenames", ()) for item in session.items):
        NEEDED.add("each")


class Assemblies:
    """The configurations' assemblies from one synth process (``synth_assemblies.py``: one jsii start-up for all
    of them), started the first time one is needed; ``get`` waits for that one only. The process builds the
    configurations the collected tests need (``NEEDED``), ``each`` first (the CLI tests and the heaviest runs
    need it); one asked for besides those gets a process of its own."""

    ORDER = ("each", "digest", "direct")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: List[subprocess.Popen] = []
        self.building: Dict[str, Tuple[subprocess.Popen, Path]] = {}  # name -> (its process, that process's log)
        self.started = time.monotonic()
        self.ready: Dict[str, Path] = {}
        self._lock = threading.Lock()

    def outdir(self, name: str) -> Path:
        return self.root / f"cdk.out-{name}"

    def _start(self, names: List[str]) -> None:
        from local.demo.run import DEMO_DIGEST_WINDOW_SECONDS, channel_context

        plan = []
        for name in sorted(names, key=lambda n: self.ORDER.index(n) if n in self.ORDER else len(self.ORDER)):
            # As make demo synthesises: its events queue is sessionWatch:eventQueueArns.
            context = dict({"sessionWatch:digestWindowSeconds": str(DEMO_DIGEST_WINDOW_SECONDS)},
                           **channel_context(), **CONFIGURATIONS[name])
            plan.append({"name": name, "outdir": str(self.outdir(name)), "context": context})
        number = len(self.processes)
        plan_file, log_file = self.root / f"plan-{number}.json", self.root / f"synth-{number}.log"
        plan_file.write_text(json.dumps(plan, indent=1))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
        env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
        with open(log_file, "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "tests.e2e.synth_assemblies", str(plan_file)],
                                       cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        for entry in plan:
            self.building[entry["name"]] = (process, log_file)

    def get(self, name: str) -> Path:
        from tests.e2e.synth_assemblies import ready_marker

        with self._lock:
            if name in self.ready:
                return self.ready[name]
            if not self.processes:
                self._start(sorted(NEEDED | {name}))
            elif name not in self.building:
                self._start([name])
            process, log_file = self.building[name]
        marker = ready_marker(self.outdir(name))
        deadline = time.monotonic() + 900
        while not marker.is_file():  # written once that assembly is complete
            if process.poll() is not None and not marker.is_file():
                log = log_file.read_text(errors="replace")
                pytest.fail(f"synthesising the {name} assembly failed (exit {process.returncode}) after "
                            f"{time.monotonic() - self.started:.0f}s:\n{log[-4000:]}")
            assert time.monotonic() < deadline, f"the {name} assembly was not synthesised within 900 s"
            time.sleep(0.1)
        with self._lock:
            self.ready[name] = self.outdir(name)
        return self.outdir(name)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def assemblies(tmp_path_factory):
    synths = Assemblies(tmp_path_factory.mktemp("e2e-assemblies"))
    yield synths
    synths.stop()


@pytest.fixture(scope="session")
def cdk_out(assemblies) -> Path:
    """The ``each`` assembly (what the CLI tests deploy: a message per action, no digest wait)."""
    return assemblies.get("each")


class DemoRuns:
    """Demo runs in worker processes, a few at a time; each (scenario, configuration) pair runs once."""

    def __init__(self, assemblies: Assemblies, root: Path, workers: int) -> None:
        self.assemblies = assemblies
        self.root = root
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="e2e-demo")
        self.futures: Dict[Tuple[Path, str], Future] = {}
        self.processes: List[subprocess.Popen] = []
        self._lock = threading.Lock()

    def submit(self, path: Path, configuration: str) -> Future:
        with self._lock:
            key = (Path(path), configuration)
            if key not in self.futures:
                self.futures[key] = self.pool.submit(self._run, *key)
            return self.futures[key]

    def _run(self, path: Path, configuration: str) -> Tuple[int, str, Optional[Any], float]:
        cdk_out = self.assemblies.get(configuration)
        workdir = self.root / f"demo-{path.stem}-{configuration}"
        workdir.mkdir(parents=True, exist_ok=True)
        out, log = workdir / "result.pickle", workdir / "progress.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PYTHONUNBUFFERED"] = "1"
        started = time.monotonic()
        with open(log, "w") as stdout:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.demo_worker", str(path), str(cdk_out), str(workdir), str(out)],
                cwd=REPO_ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT)
            self.processes.append(process)
            try:
                returncode = process.wait(timeout=900)
            except subprocess.TimeoutExpired:
                process.kill()
                returncode = process.wait()
        result = None
        if returncode == 0 and out.is_file():
            with open(out, "rb") as handle:
                result = pickle.load(handle)
        return returncode, log.read_text(errors="replace"), result, time.monotonic() - started

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)


@pytest.fixture(scope="session")
def demo_runs(assemblies, tmp_path_factory):
    runs = DemoRuns(assemblies, tmp_path_factory.mktemp("e2e-demos"), int(os.environ.get("E2E_WORKERS", "4")))
    yield runs
    runs.stop()


class Started:
    """A command started in the background: its output goes to files the test reads (``text``, ``wait_for``)."""

    def __init__(self, name: str, argv: List[str], workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.stdout = workdir / "stdout.txt"
        self.stderr = workdir / "stderr.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.stdout, "w") as out, open(self.stderr, "w") as err:
            self.process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL)

    def text(self, stream: str = "stdout") -> str:
        return (self.stdout if stream == "stdout" else self.stderr).read_text(errors="replace")

    def wait_for(self, marker: str, timeout: float, stream: str = "stderr") -> bool:
        """Whether ``marker`` appeared in the stream's output within ``timeout`` seconds (or before it ended)."""
        deadline = time.monotonic() + timeout
        while marker not in self.text(stream):
            if self.process.poll() is not None:
                return marker in self.text(stream)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)


class EarlyCommands:
    """The commands test modules declare in ``EARLY`` (name -> (configuration, argv)), started in the background as
    soon as their assembly exists, so that a test that runs a whole demo as a user would (``python -m local.demo``)
    finds it running or done instead of waiting for it in the test session's one thread. In ``argv``,
    ``{cdk_out}`` is the configuration's assembly and ``{workdir}`` a directory of the command's own."""

    def __init__(self, assemblies: Assemblies, root: Path) -> None:
        self.assemblies = assemblies
        self.root = root
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="e2e-early")
        self.futures: Dict[str, Future] = {}
        self._lock = threading.Lock()

    def start(self, name: str) -> Future:
        with self._lock:
            if name not in self.futures:
                self.futures[name] = self.pool.submit(self._start, name)
            return self.futures[name]

    def _start(self, name: str) -> Started:
        configuration, argv = EARLY_PLAN[name]
        cdk_out = self.assemblies.get(configuration)
        workdir = self.root / name
        workdir.mkdir(parents=True, exist_ok=True)
        return Started(name, [a.format(cdk_out=cdk_out, workdir=workdir) for a in argv], workdir)

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for future in self.futures.values():
            if future.done() and future.exception() is None:
                process = future.result().process
                if process.poll() is None:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="session")
def early_commands(assemblies, tmp_path_factory):
    commands = EarlyCommands(assemblies, tmp_path_factory.mktemp("e2e-early"))
    yield commands
    commands.stop()


@pytest.fixture(scope="session")
def started(early_commands):
    """``started(name)``: the :class:`Started` command the test module declared as ``EARLY[name]`` (started when
    the session started, once its assembly was synthesised)."""

    def get(name: str) -> Started:
        for early in EARLY_PLAN:
            early_commands.start(early)
        return early_commands.start(name).result(timeout=900)

    return get


@pytest.fixture(scope="session", autouse=True)
def _start_the_demo_runs(request):
    """Submit every planned run and start every early command when the session starts (nothing when no
    collected test needs one)."""
    if EARLY_PLAN:
        commands = request.getfixturevalue("early_commands")
        for name in EARLY_PLAN:
            commands.start(name)
    if PLAN:
        runs = request.getfixturevalue("demo_runs")
        for planned in PLAN:
            runs.submit(*planned)


@pytest.fixture(scope="session")
def run_scenario(demo_runs):
    """The :class:`~local.demo.run.DemoResult` of a scenario file run against one configuration (``each``,
    ``digest`` or ``direct``). The first call submits every run the collected modules declared."""

    def run(path: Path, configuration: str = "each"):
        for planned in PLAN:
            demo_runs.submit(*planned)
        returncode, output, result, seconds = demo_runs.submit(path, configuration).result()
        print(output)
        print(f"(demo run {path.name} [{configuration}]: {seconds:.1f} s in its worker)")
        if result is None:
            pytest.fail(f"the demo run {path.name} [{configuration}] ended {returncode} without a result:\n"
                        + output[-4000:])
        return result

    return run
