"""The function's code type-checks (mypy), so the typed record and the ports mean something: a misspelt
record key or a call that does not fit a port is an error here, not a silent ``None`` at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MYPY = [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--no-error-summary",
        "--cache-dir", str(ROOT / ".mypy_cache")]


def mypy(*targets: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(MYPY + list(targets), cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_function_type_checks():
    result = mypy("session_watch", cwd=ROOT / "lambda_src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelt_record_key_is_a_type_error(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from session_watch.domain.record import Record\n"
        "def job_of(record: Record) -> str:\n"
        "    return record['jobid']\n"
    )
    result = mypy(str(probe), cwd=ROOT / "lambda_src")
    assert result.returncode == 1 and '"jobid"' in result.stdout, result.stdout
