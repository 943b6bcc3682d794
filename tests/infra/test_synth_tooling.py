"""Synthesis as a developer runs it: no Docker, the asset's contents, cfn-lint, cdk-nag, cdk.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import REPO_ROOT, nag_findings_without_acknowledgements

pytestmark = pytest.mark.slow


def test_synth_succeeds_with_no_docker_on_the_path(synth):
    assert synth.returncode == 0, synth.stderr[-5000:]
    assert "docker" not in [p.name for entry in synth.path.split(":")[1:] for p in Path(entry).glob("docker")]
    assert not synth.docker_marker.exists(), f"docker was called: {synth.docker_marker.read_text()}"
    assert "Bundling asset DeadlineSessionWatch/SessionWatch/Function/Code/Stage" in synth.stderr
    assert "end-of-life" not in synth.stderr  # app.py silences only jsii's Node 20 banner
    assert synth.seconds < 300


def _files(root: Path):
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_asset_holds_the_handler_and_its_dependencies_only(synth, template):
    asset = synth.asset_dir()
    files = _files(asset)
    # The function package and its handler.
    assert "session_watch/handler.py" in files
    assert "session_watch/__init__.py" in files
    # Its pinned dependencies, built for arm64 / CPython 3.14 (wrapt is the one compiled wheel).
    for dist in ("boto3-1.44.8.dist-info", "botocore-1.44.8.dist-info", "aws_lambda_powertools-3.37.0.dist-info"):
        assert dist in files, dist
    assert "aws_xray_sdk/__init__.py" in files  # powertools[tracer]
    compiled = [f for f in files if f.endswith(".so")]
    assert compiled and all("cpython-314-aarch64-linux-gnu" in f for f in compiled), compiled
    # Nothing else: no tests, no infra, no caches, no bytecode, no console scripts, no requirements.
    top = {f.split("/")[0] for f in files}
    assert not top & {"tests", "infra", "bin", "lambda_src", "requirements.txt", "app.py", "cdk.json",
                      ".build", "node_modules", ".complete"}
    for f in files:
        parts = f.split("/")
        assert "__pycache__" not in parts and not f.endswith((".pyc", ".pyo")), f
        if parts[0] == "session_watch":
            assert "tests" not in parts and not parts[-1].startswith("test_") and parts[-1] != "conftest.py", f


def test_asset_package_matches_the_source(synth):
    asset = synth.asset_dir() / "session_watch"
    source = REPO_ROOT / "lambda_src" / "session_watch"
    wanted = {p.relative_to(source).as_posix() for p in source.rglob("*.py") if "__pycache__" not in p.parts}
    assert {p.relative_to(asset).as_posix() for p in asset.rglob("*.py")} == wanted


#: cfn-lint's entry point (the package has no ``__main__``: ``python -m cfnlint`` runs nothing).
CFN_LINT = "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"


def test_cfn_lint_finds_no_error(synth, template):
    template_file = synth.outdir / "DeadlineSessionWatch.template.json"
    result = subprocess.run(
        [sys.executable, "-c", CFN_LINT, "--format", "json", str(template_file)],
        capture_output=True, text=True, timeout=300,
    )
    # 0: nothing found; 4: warnings only (2 would be errors). Anything else: cfn-lint did not run.
    assert result.returncode in (0, 4), result.stderr[-3000:]
    assert result.stdout.strip().startswith("["), (result.stdout[-2000:], result.stderr[-2000:])
    findings = json.loads(result.stdout)
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], json.dumps(errors, indent=1)
    # The only warning is CDK's own explicit DependsOn on roles (W3005); anything new should be looked at.
    assert {f["Rule"]["Id"] for f in findings} <= {"W3005"}, json.dumps(findings, indent=1)


def test_cdk_nag_ran_and_reported_nothing(synth, template):
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert report["title"] == "Validation Report"
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []  # (the next test shows the AwsSolutions pack does report when it should)


def test_every_acknowledgement_covers_a_real_finding_and_nothing_else(tmp_path, monkeypatch):
    """Without the acknowledgements, cdk-nag fails synth with exactly the acknowledged findings."""
    found, acknowledged = nag_findings_without_acknowledgements(tmp_path, {"aws:cdk:bundling-stacks": []}, monkeypatch)
    assert found == {(rule_id, path) for rule_id, path, _ in acknowledged}
    assert all(len(reason) > 40 for _, _, reason in acknowledged)
    assert {rule_id for rule_id, _, _ in acknowledged} == {
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:deadline:<AWS::Region>:<AWS::AccountId>:farm/*]",
        # logs:GetLogEvents on Deadline Cloud's session log groups (no farm configured: every farm's)
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/deadline/*:*]",
        "AwsSolutions-IAM5[Resource::<SessionWatchFunction9A7B5F28.Arn>:*]",
    }


def test_cdk_json_context_documents_every_key_with_its_default():
    from infra.config import DEFAULTS, PREFIX

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    ours = {k[len(PREFIX):]: v for k, v in context.items() if k.startswith(PREFIX)}
    assert ours == DEFAULTS


def test_cdk_cli_is_pinned_and_locked():
    package = json.loads((REPO_ROOT / "package.json").read_text())
    version = package["devDependencies"]["aws-cdk"]
    assert version[0].isdigit(), "pin an exact CDK CLI version"
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == version
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert cdk_json["app"] == ".venv/bin/python app.py"
