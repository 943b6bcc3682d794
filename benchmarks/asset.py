"""The function's asset: its zipped size (what Lambda receives) and where import time goes.

The asset is the one CDK really builds: ``python app.py`` synthesises the stack into a temporary
``CDK_OUTDIR`` (local bundling, no Docker), the function's asset directory is found through the assets
manifest and zipped as CDK packages it (deflate). The import-time breakdown is ``python -X importtime``
of ``import session_watch.handler`` in the Lambda-like setup (``common.function_tree``: the same pinned
distributions for this machine's interpreter, tracing on as deployed), grouped by top-level package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Tuple

from . import common

LAMBDA_ZIP_LIMIT_MB = 50  # direct upload limit of a zipped deployment package
LAMBDA_UNZIPPED_LIMIT_MB = 250


def _synth(outdir: Path) -> Tuple[Path, float]:
    import time

    env = dict(os.environ, CDK_OUTDIR=str(outdir))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "app.py"], cwd=common.REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"synth failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    for manifest in outdir.glob("*.assets.json"):
        for entry in json.loads(manifest.read_text()).get("files", {}).values():
            source = entry.get("source", {})
            path = outdir / source.get("path", "")
            if source.get("packaging") == "zip" and (path / "session_watch" / "handler.py").is_file():
                return path, seconds
    raise RuntimeError("no asset with session_watch/handler.py in the synthesised assembly")


def _zip(directory: Path, target: Path) -> Dict[str, Any]:
    per_top: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    files = 0
    unzipped = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(directory)
            archive.write(path, rel.as_posix())
            files += 1
            unzipped += path.stat().st_size
    with zipfile.ZipFile(target) as archive:
        for info in archive.infolist():
            top = info.filename.split("/", 1)[0]
            if top.endswith(".dist-info"):
                top = "*.dist-info"
            per_top[top][0] += info.file_size
            per_top[top][1] += info.compress_size
    botocore_data = sum(i.compress_size for i in zipfile.ZipFile(target).infolist()
                        if i.filename.startswith("botocore/data/"))
    return {
        "zipped_mb": target.stat().st_size / 2**20,
        "unzipped_mb": unzipped / 2**20,
        "files": files,
        "by_top_level": sorted(({"name": k, "unzipped_mb": v[0] / 2**20, "zipped_mb": v[1] / 2**20}
                                for k, v in per_top.items()), key=lambda e: -e["zipped_mb"]),
        "botocore_data_zipped_mb": botocore_data / 2**20,
    }


def _importtime(tree: common.FunctionTree, env: Dict[str, str]) -> Dict[str, Any]:
    code = f"import sys; sys.path[:0] = {tree.sys_path()!r}; import session_watch.handler"
    proc = subprocess.run([sys.executable, *tree.python_flags(), "-X", "importtime", "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    rows = []  # (module, self us, cumulative us), as -X importtime prints them
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        rows.append((name.strip(), int(self_us), int(cumulative_us)))
    by_package: Dict[str, int] = defaultdict(int)
    for name, self_us, _ in rows:
        by_package[_group(name)] += self_us
    total = sum(self_us for _, self_us, _ in rows)
    heaviest = [{"module": name, "cumulative_ms": cumulative / 1000, "self_ms": self_us / 1000}
                for name, self_us, cumulative in sorted(rows, key=lambda r: -r[2])[:15]]
    return {
        "total_ms": total / 1000,
        "modules": len(rows),
        "by_package_ms": dict(sorted(((k, v / 1000) for k, v in by_package.items()), key=lambda kv: -kv[1])),
        "heaviest_cumulative": heaviest,
    }


def _group(module: str) -> str:
    top = module.split(".", 1)[0]
    if top in ("session_watch", "boto3", "botocore", "aws_lambda_powertools", "aws_xray_sdk", "urllib3",
               "dateutil", "jmespath", "s3transfer", "wrapt", "six", "typing_extensions"):
        return top
    return "stdlib"


def run() -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            asset_dir, seconds = _synth(Path(tmp) / "cdk.out")
            result["synth_seconds"] = seconds
            result["source"] = "synthesised asset (python app.py)"
            result.update(_zip(asset_dir, Path(tmp) / "asset.zip"))
        except Exception as err:  # infra may be mid-change: measure the same tree, say so
            result["synth_error"] = str(err)[-1500:]
            tree = common.function_tree(bytecode=False)
            staging = Path(tmp) / "tree"
            import shutil

            shutil.copytree(tree.deps, staging, ignore=shutil.ignore_patterns(".complete"))
            shutil.copytree(tree.code / "session_watch", staging / "session_watch")
            result["source"] = "function tree (synth failed; same pinned distributions for this interpreter)"
            result.update(_zip(staging, Path(tmp) / "asset.zip"))
    result["limits_mb"] = {"zipped": LAMBDA_ZIP_LIMIT_MB, "unzipped": LAMBDA_UNZIPPED_LIMIT_MB}
    result["importtime"] = {}
    for setup in ("bytecode", "source"):
        tree = common.function_tree(bytecode=setup == "bytecode")
        env = common.lambda_environment(tree.code)
        result["importtime"][setup] = _importtime(tree, env)
    return result


if __name__ == "__main__":
    common.dump(run())
