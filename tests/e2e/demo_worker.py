"""``python -m tests.e2e.demo_worker SCENARIO CDK_OUT WORKDIR OUT``: one demo run in its own process (the
e2e fixtures run several at once), its :class:`local.demo.run.DemoResult` pickled to OUT and its progress
and summary printed on stdout (the fixture shows them with a failing test)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main(argv) -> int:
    scenario, cdk_out, workdir, out = (Path(a) for a in argv)
    from local.demo.__main__ import _fake_aws_environment
    from local.demo.report import TextProgress, print_summary
    from local.demo.run import LAMBDA_SRC, DemoOptions, run_demo

    _fake_aws_environment()
    if str(LAMBDA_SRC) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SRC))
    result = run_demo(DemoOptions(scenario=scenario, cdk_out=cdk_out, workdir=workdir), TextProgress(sys.stdout))
    print_summary(result, sys.stdout)
    with open(out, "wb") as handle:
        pickle.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
