"""Docker-free bundling of the Lambda asset.

``LocalPythonBundler`` implements CDK's ``ILocalBundling``: CDK calls ``try_bundle`` before it would
ever start a container. It

1. pip-installs ``requirements.txt`` as wheels built for the Lambda platform (``manylinux2014_aarch64``,
   the runtime's CPython version, ``--only-binary=:all:``) into a cache directory under ``.build/``
   keyed by the requirements' content and the target platform, so repeated synths reuse it;
2. copies that tree into the asset, without ``bin/`` and caches;
3. copies the function package (``session_watch``) without ``__pycache__``, tests or bytecode.

It never returns ``False`` (which would make CDK fall back to Docker): a failure raises
``LocalBundlingError`` with pip's output.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import jsii
from aws_cdk import ILocalBundling

#: Bump to invalidate every cached dependency tree (when the steps below change).
CACHE_FORMAT = "1"

#: Written last into a cache entry: its presence means the entry is whole.
COMPLETE_MARKER = ".complete"

#: Patterns left out of the copied function package.
PACKAGE_IGNORE = ("__pycache__", "*.pyc", "*.pyo", "tests", "test_*.py", "*_test.py", "conftest.py",
                  ".pytest_cache", ".mypy_cache", ".ruff_cache")
#: Top-level entries of the pip target directory the function does not need.
DEPENDENCY_PRUNE = ("bin", "__pycache__")


class LocalBundlingError(RuntimeError):
    """Local bundling failed; CDK must not fall back to Docker."""


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    def __init__(
        self,
        *,
        source_dir: Path,
        package: str,
        requirements: Path,
        python_version: str,
        platform: str = "manylinux2014_aarch64",
        cache_dir: Optional[Path] = None,
        python: str = sys.executable,
    ) -> None:
        self.source_dir = Path(source_dir)
        self.package = package
        self.requirements = Path(requirements)
        self.python_version = python_version
        self.platform = platform
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.python = python

    # CDK calls this (through jsii) with the asset's output directory and the BundlingOptions.
    def try_bundle(self, output_dir: str, options: Any = None, **_: Any) -> bool:
        try:
            self.bundle(Path(output_dir))
        except LocalBundlingError:
            raise
        except Exception as err:  # pragma: no cover - unexpected I/O errors, reported the same way
            raise LocalBundlingError(f"Local bundling of the Lambda asset failed (Docker is not used): "
                                     f"{type(err).__name__}: {err}") from err
        return True

    def bundle(self, output_dir: Path) -> None:
        package_dir = self.source_dir / self.package
        if not (package_dir / "__init__.py").is_file():
            raise LocalBundlingError(f"Local bundling: {package_dir} is not a Python package")
        output_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.dependencies(), output_dir, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(COMPLETE_MARKER))
        shutil.copytree(package_dir, output_dir / self.package,
                        ignore=shutil.ignore_patterns(*PACKAGE_IGNORE), dirs_exist_ok=True)

    def cache_key(self) -> str:
        digest = hashlib.sha256()
        for part in (CACHE_FORMAT, self.platform, self.python_version, "cp"):
            digest.update(part.encode() + b"\0")
        digest.update(self.requirements.read_bytes())
        return digest.hexdigest()[:24]

    def dependencies(self) -> Path:
        """A directory holding the installed requirements (built once per cache key)."""
        if not self.requirements.is_file():
            raise LocalBundlingError(f"Local bundling: requirements file {self.requirements} not found")
        if self.cache_dir is None:
            target = Path(tempfile.mkdtemp(prefix="lambda-deps-"))
            self._pip_install(target)
            return target
        final = self.cache_dir / self.cache_key()
        if (final / COMPLETE_MARKER).is_file():
            return final
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="tmp-", dir=self.cache_dir))
        try:
            self._pip_install(staging)
            (staging / COMPLETE_MARKER).write_text(self.requirements.read_text())
            try:
                os.replace(staging, final)
            except OSError:
                # Another synth finished the same key first: use theirs.
                if not (final / COMPLETE_MARKER).is_file():
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return final

    def _pip_install(self, target: Path) -> None:
        command = [
            self.python, "-m", "pip", "install",
            "--quiet", "--disable-pip-version-check", "--no-compile", "--no-input",
            "--platform", self.platform,
            "--only-binary=:all:",
            "--python-version", self.python_version,
            "--implementation", "cp",
            "--target", str(target),
            "--requirement", str(self.requirements),
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise LocalBundlingError(f"Local bundling: could not run pip ({' '.join(command)}): {err}") from err
        if result.returncode != 0:
            output = "\n".join(
                line for line in (result.stderr + result.stdout).splitlines() if "is ignored" not in line
            )[-4000:]
            raise LocalBundlingError(
                f"Local bundling of the Lambda asset failed (Docker is not used): pip exited "
                f"{result.returncode} installing {self.requirements} for {self.platform} / "
                f"CPython {self.python_version}.\nCommand: {' '.join(command)}\n{output}"
            )
        for name in DEPENDENCY_PRUNE:
            shutil.rmtree(target / name, ignore_errors=True)
        for cache in target.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
