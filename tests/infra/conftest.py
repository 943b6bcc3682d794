"""Synthesis fixtures for the infrastructure tests.

``synth`` runs ``python app.py`` once per test session, exactly as a developer would (cdk.json context,
local bundling), in a subprocess whose PATH holds a ``docker`` that fails and records any call, and no
other ``docker``; it is started as soon as the tests are collected (when one of them needs it), in the background. ``scoped_template`` builds the app in-process once with farms, queues, emails, the
``each`` notification mode, batch settings given as ``-c`` strings and an explicit account/region;
``direct_template`` once with ``eventDelivery=direct``. Both skip asset bundling (the default synth
covers it) and run cdk-nag (an unacknowledged finding fails them).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

# Before the first jsii import in this process (same setting app.py applies for its own process).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "DeadlineSessionWatch"

FARM = "farm-0123456789abcdef0123456789abcdef"
QUEUE_A = "queue-0123456789abcdef0123456789abcdef"
QUEUE_B = "queue-fedcba9876543210fedcba9876543210"
ACCOUNT = "111122223333"
REGION = "us-west-2"


@dataclass
class Synth:
    outdir: Path
    template: Dict[str, Any]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    docker_marker: Path
    path: str

    def asset_dir(self, logical_id_prefix: str = "SessionWatchFunction") -> Path:
        [function] = [v for k, v in self.template["Resources"].items()
                      if k.startswith(logical_id_prefix) and v["Type"] == "AWS::Lambda::Function"]
        key = function["Properties"]["Code"]["S3Key"]
        return self.outdir / f"asset.{key[: -len('.zip')]}"


def _fake_docker_path(bin_dir: Path) -> str:
    marker = bin_dir / "docker-was-called"
    docker = bin_dir / "docker"
    docker.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{marker}"\n'
        'echo "docker must not be used by this project\'s synth" >&2\n'
        "exit 97\n"
    )
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    node = shutil.which("node")
    assert node, "node is needed for jsii"
    candidates = [str(bin_dir), os.path.dirname(node), os.path.dirname(sys.executable), "/usr/bin", "/bin"]
    entries = []
    for entry in candidates:
        if entry in entries:
            continue
        if entry != str(bin_dir) and os.access(os.path.join(entry, "docker"), os.X_OK):
            continue  # a real docker: keep it off the PATH
        entries.append(entry)
    return os.pathsep.join(entries)


class BackgroundSynth:
    """``python app.py`` started in a subprocess (stdout and stderr to files); a thread notes when it ends, so that
    ``seconds`` is the synth's own duration however late the test asks for the result."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.outdir = root / "cdk.out"
        self.outdir.mkdir()
        self.bin_dir = bin_dir
        self.path = _fake_docker_path(bin_dir)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CDK_", "JSII_", "AWS_")) and k != "PATH"}
        env.update(PATH=self.path, CDK_OUTDIR=str(self.outdir))
        self.stdout, self.stderr = root / "stdout.txt", root / "stderr.txt"
        self.started = time.monotonic()
        self.ended: Optional[float] = None
        with open(self.stdout, "w") as out, open(self.stderr, "w") as err:
            self.process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=out,
                                            stderr=err, stdin=subprocess.DEVNULL)
        self._waiter = threading.Thread(target=self._wait, name="infra-synth", daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        self.process.wait()
        self.ended = time.monotonic()

    def result(self, timeout: float = 900) -> Synth:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._waiter.join()
        assert self.ended is not None
        template_file = self.outdir / f"{STACK_NAME}.template.json"
        template = json.loads(template_file.read_text()) if template_file.is_file() else {}
        return Synth(self.outdir, template, self.process.returncode, self.stdout.read_text(errors="replace"),
                     self.stderr.read_text(errors="replace"), self.ended - self.started,
                     self.bin_dir / "docker-was-called", self.path)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_BACKGROUND: Dict[str, BackgroundSynth] = {}


def _start_background_synth() -> BackgroundSynth:
    if "synth" not in _BACKGROUND:
        root = Path(tempfile.mkdtemp(prefix="session-watch-infra-synth-"))
        (root / "fake-bin").mkdir()
        _BACKGROUND["synth"] = BackgroundSynth(root, root / "fake-bin")
    return _BACKGROUND["synth"]


def pytest_collection_finish(session) -> None:
    """Start ``python app.py`` as soon as the tests are collected if one of them needs it (``synth``): it runs while
    the tests before that one do (it takes ~10 s of CPU, mostly jsii starting)."""
    if session.config.option.collectonly:
        return
    if any("synth" in getattr(item, "fixturenames", ()) for item in session.items):
        _start_background_synth()


def pytest_sessionfinish(session) -> None:
    synth = _BACKGROUND.pop("synth", None)
    if synth is not None:
        synth.stop()
        shutil.rmtree(synth.outdir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def background_synth() -> BackgroundSynth:
    return _start_background_synth()


@pytest.fixture(scope="session")
def synth(background_synth) -> Synth:
    """``python app.py`` as a developer runs it (cdk.json context, local bundling), in a subprocess whose PATH
    holds a ``docker`` that fails and records any call, and no other ``docker``."""
    return background_synth.result()


@pytest.fixture(scope="session")
def template(synth) -> Dict[str, Any]:
    assert synth.returncode == 0, f"python app.py failed:\n{synth.stderr[-5000:]}"
    return synth.template


SCOPED_CONTEXT = {
    "sessionWatch:farmIds": [FARM],
    "sessionWatch:queueIds": f"{QUEUE_A},{QUEUE_B}",  # as -c passes it: a comma-separated string
    "sessionWatch:taskRunStatuses": ["FAILED", "NOT_COMPATIBLE"],
    "sessionWatch:notifyStatuses": "FAILED,NEVER_ATTEMPTED",
    "sessionWatch:notificationEmails": [
        {"email": "render-ops@example.com", "filterPolicy": {"outcome": ["failure"]}},
        "lead@example.com",
    ],
    "sessionWatch:operationsEmails": ["oncall@example.com"],
    "sessionWatch:reservedConcurrency": "none",
    "sessionWatch:removalPolicy": "destroy",
    "sessionWatch:waitSeconds": "90",
    "sessionWatch:alarmFunctionErrors": 3,
    "sessionWatch:logRetentionDays": 90,
    # Notification mode and batch path, as -c passes them: strings.
    "sessionWatch:notifyMode": "each",
    "sessionWatch:digestWindowSeconds": "120",
    "sessionWatch:digestSampleSize": "25",
    "sessionWatch:monitorUrl": "https://monitor.example.com/{farmId}/{queueId}/{jobId}",
    "sessionWatch:enrichmentCallsPerJobWindow": "3",
    "sessionWatch:batchSize": "25",
    "sessionWatch:batchWindowSeconds": "2",
    "sessionWatch:maxConcurrency": "7",
    "sessionWatch:alarmEventQueueAgeSeconds": "900",
    # The default synth covers the asset; this one skips bundling to stay fast.
    "aws:cdk:bundling-stacks": [],
}

DIRECT_CONTEXT = {
    "sessionWatch:eventDelivery": "direct",
    "aws:cdk:bundling-stacks": [],
}


def build_app(outdir: Path, overrides: Dict[str, Any]):
    from infra.app import cdk_json_context, create_app

    context = {**cdk_json_context(), **overrides}
    return create_app(outdir=str(outdir), context=context)


def synth_in_process(outdir: Path, overrides: Dict[str, Any], *, account: str = "", region: str = "") -> Dict[str, Any]:
    """Synthesise in this process with cdk.json's context plus ``overrides``; the template."""
    saved = {k: os.environ.get(k) for k in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON")}
    for key in saved:
        os.environ.pop(key, None)
    if account and region:
        os.environ.update(CDK_DEFAULT_ACCOUNT=account, CDK_DEFAULT_REGION=region)
    try:
        app = build_app(outdir, overrides)
        app.synth()  # raises if cdk-nag reports an unacknowledged finding
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return json.loads((outdir / f"{STACK_NAME}.template.json").read_text())


@pytest.fixture(scope="session")
def scoped_template(tmp_path_factory) -> Dict[str, Any]:
    return synth_in_process(tmp_path_factory.mktemp("cdk.out-scoped"), SCOPED_CONTEXT, account=ACCOUNT, region=REGION)


@pytest.fixture(scope="session")
def direct_template(tmp_path_factory) -> Dict[str, Any]:
    return synth_in_process(tmp_path_factory.mktemp("cdk.out-direct"), DIRECT_CONTEXT)


def nag_findings_without_acknowledgements(outdir: Path, overrides: Dict[str, Any], monkeypatch):
    """Synthesise with every cdk-nag acknowledgement recorded instead of applied: (the findings cdk-nag
    then fails synth with, as (rule, construct path); the acknowledgements, as (rule, path, reason))."""
    import json

    import pytest

    import infra.nag

    acknowledged = []
    monkeypatch.setattr(infra.nag, "acknowledge", lambda scope, rule_id, reason: acknowledged.append(
        (rule_id, scope.node.path, reason)))
    app = build_app(outdir, overrides)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    found = {
        (v["ruleName"], c["constructPath"].removesuffix("/Resource"))
        for plugin in report["pluginReports"] for v in plugin["violations"] for c in v["violatingConstructs"]
    }
    return found, acknowledged
