"""``python app.py`` as infra/README offers it: ``-c key=value`` is honoured (as ``npx cdk synth -c`` would
pass it), a bad value is refused naming the key, and anything else on the command line is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.infra.conftest import REPO_ROOT, STACK_NAME


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "AWS_"))}
    env.update(extra)
    return env


def _app(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO_ROOT, env=_env(**env), capture_output=True,
                          text=True, timeout=300)


def test_a_bad_context_value_on_the_command_line_is_refused_naming_the_key(tmp_path):
    result = _app("-c", "sessionWatch:notifyMode=bogus", CDK_OUTDIR=str(tmp_path))
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Configuration error: sessionWatch:notifyMode: must be one of each, digest, got 'bogus'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / f"{STACK_NAME}.template.json").exists()


@pytest.mark.parametrize("args, message", [
    (["synth"], "unrecognised argument(s): synth"),
    (["-c", "sessionWatch:notifyMode"], "expected KEY=VALUE"),
])
def test_other_arguments_are_refused_pointing_to_the_cdk_cli(tmp_path, args, message):
    result = _app(*args, CDK_OUTDIR=str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_context_on_the_command_line_changes_the_template(tmp_path):
    """-c values override cdk.json and CDK_CONTEXT_JSON (here only used to skip bundling, as the CLI's
    --exclusively would)."""
    result = _app("-c", "sessionWatch:notifyMode=each", "--context", "sessionWatch:digestWindowSeconds=30",
                  CDK_OUTDIR=str(tmp_path),
                  CDK_CONTEXT_JSON=json.dumps({"aws:cdk:bundling-stacks": [], "sessionWatch:notifyMode": "digest"}))
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / f"{STACK_NAME}.template.json").read_text())
    [function] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    variables = function["Properties"]["Environment"]["Variables"]
    assert (variables["NOTIFY_MODE"], variables["DIGEST_WINDOW_SECONDS"]) == ("each", "30")
