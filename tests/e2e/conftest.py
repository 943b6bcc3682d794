"""End-to-end fixtures: the stack synthesised once per session, and demo runs against it.

Each scenario run starts its own ``moto_server`` child process and Deadline Cloud stand-in (fresh state),
deploys the synthesised template into moto's CloudFormation, plays the scenario and returns the
:class:`local.demo.run.DemoResult` the tests assert on. The demo's own progress goes to stdout, so pytest
shows it when a test fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "local" / "scenarios"
TEST_SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory) -> Path:
    """``python app.py`` with CDK_OUTDIR in a temporary directory (as ``make synth`` writes cdk.out)."""
    outdir = tmp_path_factory.mktemp("e2e-cdk.out")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["CDK_OUTDIR"] = str(outdir)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    seconds = time.monotonic() - started
    assert result.returncode == 0, f"python app.py failed after {seconds:.0f}s:\n{result.stderr[-4000:]}"
    return outdir


@pytest.fixture(scope="session")
def run_scenario(cdk_out, tmp_path_factory):
    """Run a scenario file through the whole demo; the result of each file is computed once."""
    from local.demo.report import TextProgress, print_summary
    from local.demo.run import DemoOptions, run_demo

    results = {}

    def run(path: Path):
        if path not in results:
            workdir = tmp_path_factory.mktemp(f"demo-{path.stem}")
            progress = TextProgress(sys.stdout)
            result = run_demo(DemoOptions(scenario=path, cdk_out=cdk_out, workdir=workdir), progress)
            print_summary(result, sys.stdout)
            results[path] = result
        return results[path]

    return run
