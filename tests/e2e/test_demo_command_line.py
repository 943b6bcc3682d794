"""The demo's command line before any server starts: scenario errors a newcomer can act on, the header, the
temporary directory, and ``make demo DEMO_ARGS=--json`` printing nothing but the JSON. No moto needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from local.demo import run as demo_run
from local.demo.scenario import ScenarioError, available_scenarios, load_scenario, resolve_scenario
from tests.e2e.conftest import REPO_ROOT, SCENARIOS, TEST_SCENARIOS

SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.json"))


def _scenario(tmp_path: Path, **changes) -> Path:
    data = json.loads((TEST_SCENARIOS / "two-frames.json").read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        target = data
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        target[key] = value
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data))
    return path


def test_every_shipped_and_test_scenario_loads():
    assert available_scenarios() == SHIPPED and "render-12-frames" in SHIPPED
    for path in list(SCENARIOS.glob("*.json")) + list(TEST_SCENARIOS.glob("*.json")):
        assert load_scenario(path).name


@pytest.mark.parametrize("spec", ["render-12-frames", "render-12-frames.json"])
def test_a_shipped_scenario_can_be_named(spec):
    assert resolve_scenario(spec) == SCENARIOS / "render-12-frames.json"


def test_an_unknown_scenario_lists_the_available_ones(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario("render-13-frames")
    assert str(caught.value).startswith("render-13-frames: no such scenario file; available in local/scenarios/: ")
    assert str(caught.value).endswith(", ".join(SHIPPED))


def test_a_directory_is_a_clear_error():
    with pytest.raises(ScenarioError, match=r"local/scenarios: is a directory, not a scenario file; available"):
        load_scenario(SCENARIOS)


def test_broken_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x",\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}: not valid JSON: ")
    assert "line 2 column 1" in str(caught.value)


@pytest.mark.parametrize("change, message", [
    ({"expected": {}}, "scenario.json: unknown key 'expected' (allowed: description, expect, job, name, pipelines, "
                       "seed, stateMachine, timeline)"),
    ({"pipelines": "yes"}, "scenario.json: pipelines: must be true or false"),
    ({"job.frame": "1-2"}, "scenario.json: job: unknown key 'frame' (allowed: environment, farm, fleet, frames, "),
    ({"timeline.1.exitcode": 3}, "scenario.json: timeline[1] (enter): unknown key 'exitcode' (allowed: exitCode, "),
    ({"expect.row": {}}, "scenario.json: expect: unknown key 'row' (allowed: "),
    ({"expect.digest": {"message": 1}}, "scenario.json: expect.digest: unknown key 'message' (allowed: emails, "),
    ({"stateMachine": [{"action": "frame-1", "expect": {"state": "FAILED"}}]},
     "scenario.json: stateMachine[0].expect: unknown key 'state' (allowed: error, outcome, status)"),
    ({"job.frames": "1-x"}, "scenario.json: job.frames: "),
    ({"timeline": {"op": "deliver"}}, "scenario.json: timeline: must be a list, not dict"),
])
def test_unknown_keys_and_wrong_shapes_are_rejected_naming_them(tmp_path, change, message):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_scenario(tmp_path, **change))
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path))


def _cli(monkeypatch, run_demo):
    import local.demo.__main__ as cli

    monkeypatch.setattr(cli, "_fake_aws_environment", lambda: None)
    monkeypatch.setattr(cli.signal, "signal", lambda *_: None)
    monkeypatch.setattr(cli, "run_demo", run_demo)
    return cli


def test_the_header_names_the_scenario(monkeypatch, capsys):
    def stop(options, progress, on_ready):
        raise KeyboardInterrupt

    cli = _cli(monkeypatch, stop)
    assert cli.main(["--scenario", "throttled-deadline"]) == 130
    out = capsys.readouterr().out
    name = json.loads((SCENARIOS / "throttled-deadline.json").read_text())["name"]
    assert out.startswith(f"Deadline Session Watch demo: {name}\n  scenario local/scenarios/throttled-deadline.json\n")
    assert "?" not in out.splitlines()[0]


@pytest.mark.parametrize("json_flag", [False, True])
def test_a_scenario_error_is_one_error_verdict_and_exit_2(monkeypatch, capsys, json_flag):
    cli = _cli(monkeypatch, lambda *_: pytest.fail("the demo must not start"))
    assert cli.main(["--scenario", "local/scenarios"] + (["--json"] if json_flag else [])) == 2
    captured = capsys.readouterr()
    if json_flag:
        assert json.loads(captured.out)["error"].startswith("ScenarioError: local/scenarios: is a directory")
    else:
        assert captured.out.strip().startswith("VERDICT: ERROR - the demo could not run: ScenarioError: "
                                               "local/scenarios: is a directory")
    assert "Traceback" not in captured.out + captured.err


def test_the_temporary_directory_is_removed_even_on_ctrl_c(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_run.tempfile, "tempdir", str(tmp_path))
    seen = []

    class CtrlC(demo_run.Progress):
        def phase(self, *_args) -> None:
            seen.extend(tmp_path.glob(demo_run.TEMP_PREFIX + "*"))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        demo_run.run_demo(demo_run.DemoOptions(scenario=TEST_SCENARIOS / "two-frames.json"), CtrlC())
    assert len(seen) == 1, "the run made its temporary directory"
    assert list(tmp_path.iterdir()) == [], "and removed it"


def test_make_demo_json_prints_nothing_but_the_demo_output(tmp_path):
    """make echoes no command line and set-up writes to stderr: ``make demo DEMO_ARGS=--json | jq .`` works.
    The demo itself is replaced by a stand-in that prints JSON (tests/e2e/test_e2e_cli.py runs the real one)."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    if subprocess.run(["make", "-q", "setup"], cwd=REPO_ROOT, capture_output=True).returncode != 0:
        pytest.skip("make setup is not up to date here (make test runs it first)")
    stand_in = tmp_path / "python"
    stand_in.write_text('#!/bin/sh\nprintf \'{"argv": "%s"}\\n\' "$*"\n')
    stand_in.chmod(0o755)
    # As from a shell: not as a sub-make of `make test` (a sub-make prints "Entering directory" lines).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    result = subprocess.run(["make", "demo", "DEMO_ARGS=--json", f"PY={stand_in}"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"argv": "-m local.demo --synth --json"}
