"""``python -m tests.e2e.synth_assemblies PLAN.json``: several cloud assemblies from one process.

PLAN.json is a list of ``{"name": ..., "outdir": ..., "context": {...}}``. Each entry is synthesised the way
``python app.py`` does with that context passed as ``-c`` values (``infra.app.create_app(cli_context=...)``,
on top of cdk.json's context, local bundling, cdk-nag), one after the other, in the order given. Once an
assembly is complete, ``<outdir>.ready`` is written, so that a test can use it while the next one is built.

Why one process: most of a synth is the jsii kernel starting and loading aws-cdk-lib (a first synth costs
about four times a second one in the same process), so three configurations cost one start-up, not three.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

# Before the first jsii import (app.py sets the same for its own process).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def ready_marker(outdir: Path) -> Path:
    outdir = Path(outdir)
    return outdir.with_name(outdir.name + ".ready")


def main(argv) -> int:
    [plan_file] = argv
    plan = json.loads(Path(plan_file).read_text())
    from infra.app import create_app

    for entry in plan:
        started = time.monotonic()
        outdir = Path(entry["outdir"])
        app = create_app(outdir=str(outdir), cli_context={k: str(v) for k, v in entry["context"].items()})
        app.synth()
        ready_marker(outdir).write_text(f"{time.monotonic() - started:.1f}\n")
        print(f"{entry['name']}: synthesised into {outdir} in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
