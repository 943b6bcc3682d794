"""``python local/moto_stack/moto_main.py -H HOST -p PORT``: moto's server with the speed-ups of
``moto_speedups.py`` applied in its process (same answers, less time). ``MotoServer`` starts this."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import moto_pipeline_fixes  # noqa: E402  (fixes for moto bugs WaitForJob and its pipelines meet; see the module)
import moto_speedups  # noqa: E402  (a sibling module, found through the path set above)

if __name__ == "__main__":
    applied = moto_speedups.apply()
    moto_pipeline_fixes.apply()
    print(f"moto speed-ups applied: {', '.join(applied) or 'none'}", flush=True)
    from moto.server import main

    main(sys.argv[1:])
