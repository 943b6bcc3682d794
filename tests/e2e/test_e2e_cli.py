"""``python -m local.demo`` as a user runs it: exit status, JSON output, --keep-running, and moto's server
stopped on every way out (Ctrl-C, an error, even ``kill -9`` of the process that started it)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import List

import pytest

from tests.e2e.conftest import REPO_ROOT, TEST_SCENARIOS

pytestmark = pytest.mark.slow


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _demo(*args: str) -> List[str]:
    return [sys.executable, "-m", "local.demo", *args]


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie child of ours would still "exist": reap it if it is ours (it is not: it is the demo's)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


def _closed(endpoint: str) -> bool:
    host, port = endpoint.rsplit("/", 1)[-1].split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) != 0


#: The two whole demos these tests run as a user would, started by conftest.py when the session starts (they
#: take ~30 s each, mostly deploying the stack into moto), so that they run while other tests do.
EARLY = {
    "cli-keep-running": ("each", _demo("--scenario", str(TEST_SCENARIOS / "two-frames-wrong-expectation.json"),
                                       "--cdk-out", "{cdk_out}", "--json", "--keep-running",
                                       "--workdir", "{workdir}/work")),
    "cli-bad-step": ("each", _demo("--scenario", str(TEST_SCENARIOS / "two-frames-bad-step.json"),
                                   "--cdk-out", "{cdk_out}", "--workdir", "{workdir}/work")),
}


def test_keep_running_json_then_ctrl_c_exits_1_for_an_unmet_expectation_and_stops_both_servers(started):
    """The scenario expects frame 2 to succeed; it fails (exit 2). The run completes, the JSON says which
    check failed, the servers stay up until Ctrl-C, then both stop and the exit status is 1."""
    demo = started("cli-keep-running")
    process = demo.process
    try:
        assert demo.wait_for("moto dashboard", 120), demo.text("stderr")[-3000:]
        exports = dict(re.findall(r"export (AWS_ENDPOINT_URL\w*)=(\S+)", demo.text("stderr")))
        moto = exports["AWS_ENDPOINT_URL"]
        assert not _closed(moto) and not _closed(exports["AWS_ENDPOINT_URL_DEADLINE"]), "kept running"
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=60)
        assert returncode == 1, demo.text("stderr")[-3000:] + demo.text("stdout")[-3000:]
        assert "Stopping." in demo.text("stderr")
    finally:
        if process.poll() is None:
            process.kill()
    result = json.loads(demo.text("stdout"))
    assert result["verdict"] == "FAIL"
    failed = [c for c in result["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["every row has the expected status, outcome and fields"]
    assert failed[0]["detail"] == "frame-2.status = 'FAILED', expected 'SUCCEEDED'"
    assert result["verdictLine"].startswith("VERDICT: FAIL - 1 of ")
    assert sorted(n["label"] for n in result["notifications"]) == ["frame-1", "frame-2", "job"]
    assert result["mode"] == "each" and result["delivery"] == "queue"
    assert {r["label"]: r["status"] for r in result["rows"]} == {"frame-1": "SUCCEEDED", "frame-2": "FAILED"}
    assert result["local"]["moto"]["endpoint"] == moto
    assert _gone(result["local"]["moto"]["pid"]), "moto's server still runs after Ctrl-C"
    assert _closed(moto) and _closed(result["local"]["deadlineStandIn"])


def test_a_missing_scenario_exits_2_with_an_error_verdict(tmp_path):
    result = subprocess.run(
        _demo("--scenario", str(tmp_path / "nope.json")),
        cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "VERDICT: ERROR - the demo could not run: ScenarioError" in result.stdout


def test_an_error_after_the_servers_started_exits_2_and_stops_them(started):
    demo = started("cli-bad-step")
    try:
        returncode = demo.wait(timeout=180)
    finally:
        if demo.process.poll() is None:
            demo.process.kill()
    stdout = demo.text("stdout")
    assert returncode == 2, stdout[-3000:] + demo.text("stderr")[-3000:]
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("VERDICT: ERROR - the demo could not run: ScenarioError: "), last
    assert "no pending CANCELED event of frame-1 to hold" in last
    match = re.search(r"moto_server \S+ at (\S+) \(pid (\d+)", stdout)
    standin = re.search(r"Deadline Cloud stand-in at (\S+)", stdout)
    assert match and standin, stdout[-3000:]
    assert _gone(int(match.group(2))) and _closed(match.group(1)) and _closed(standin.group(1))


PARENT = """
import sys, time
from local.moto_stack import MotoServer
server = MotoServer(log_path=None).start()
print(server.pid, server.endpoint, flush=True)
time.sleep(600)
"""


def test_moto_server_dies_with_its_parent_even_on_kill_9():
    """Linux: the kernel sends moto's server SIGTERM when the process that started it dies
    (PR_SET_PDEATHSIG), so not even ``kill -9`` of the demo leaves a server behind."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE,
                              text=True)
    try:
        pid, endpoint = parent.stdout.readline().split()
        assert not _closed(endpoint)
        parent.kill()
        parent.wait(timeout=10)
        assert _gone(int(pid)), "moto's server outlived the process that started it"
        assert _closed(endpoint)
    finally:
        if parent.poll() is None:
            parent.kill()
