"""The Docker-free bundler: failures are errors (never a Docker fallback), the cache is keyed on content."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bundling import LocalBundlingError, LocalPythonBundler
from infra.lambda_defaults import RUNTIME, WHEEL_PLATFORM, runtime_python_version


def _source(tmp_path: Path, requirements: str) -> Path:
    source = tmp_path / "src"
    (source / "pkg" / "tests").mkdir(parents=True)
    (source / "pkg" / "__init__.py").write_text("")
    (source / "pkg" / "handler.py").write_text("def handler(event, context):\n    return event\n")
    (source / "pkg" / "tests" / "test_handler.py").write_text("")
    (source / "pkg" / "__pycache__").mkdir()
    (source / "pkg" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"")
    (source / "requirements.txt").write_text(requirements)
    return source


def _bundler(source: Path, cache: Path | None = None) -> LocalPythonBundler:
    return LocalPythonBundler(source_dir=source, package="pkg", requirements=source / "requirements.txt",
                              python_version="3.14", cache_dir=cache)


def test_runtime_and_platform():
    assert runtime_python_version() == "3.14" and RUNTIME.name == "python3.14"
    assert WHEEL_PLATFORM == "manylinux2014_aarch64"


def test_pip_failure_raises_a_clear_error_instead_of_returning_false(tmp_path):
    source = _source(tmp_path, "this is not a requirement ===\n")
    with pytest.raises(LocalBundlingError) as caught:
        _bundler(source, tmp_path / "cache").try_bundle(str(tmp_path / "out"))
    message = str(caught.value)
    assert "Docker is not used" in message and "pip exited" in message
    assert "--platform manylinux2014_aarch64" in message and "--only-binary=:all:" in message
    assert list((tmp_path / "cache").iterdir()) == []  # no half-built cache entry is left behind


def test_missing_requirements_file_is_an_error(tmp_path):
    source = _source(tmp_path, "")
    (source / "requirements.txt").unlink()
    with pytest.raises(LocalBundlingError, match="requirements file .* not found"):
        _bundler(source).try_bundle(str(tmp_path / "out"))


def test_package_copy_leaves_out_tests_and_caches_and_the_cache_is_reused(tmp_path):
    source = _source(tmp_path, "# no third-party dependency\n")
    cache = tmp_path / "cache"
    bundler = _bundler(source, cache)
    assert bundler.try_bundle(str(tmp_path / "out"), None) is True
    files = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")}
    assert files == {"pkg", "pkg/__init__.py", "pkg/handler.py"}
    [entry] = list(cache.iterdir())
    assert entry.name == bundler.cache_key()
    marker = entry / "sentinel"
    marker.write_text("cached")
    bundler.try_bundle(str(tmp_path / "out2"))
    assert (tmp_path / "out2" / "sentinel").read_text() == "cached"  # no second pip run


def test_cache_key_follows_the_requirements_and_the_target(tmp_path):
    source = _source(tmp_path, "boto3==1.44.8\n")
    first = _bundler(source).cache_key()
    (source / "requirements.txt").write_text("boto3==1.44.9\n")
    assert _bundler(source).cache_key() != first
    other_python = LocalPythonBundler(source_dir=source, package="pkg", requirements=source / "requirements.txt",
                                      python_version="3.13")
    assert other_python.cache_key() != _bundler(source).cache_key()
