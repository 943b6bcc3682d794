"""Hypothesis profiles, chosen with the environment variable ``HYPOTHESIS_PROFILE`` (default ``ci``).

* ``ci`` (``make test``): derandomized (the same examples on every run and every machine), no example
  database (a run does not depend on what earlier runs found), no deadline (the machine is shared), and a
  failure prints the ``@reproduce_failure`` blob. A test that passes here passes on every re-run.
* ``fuzz`` (``make fuzz``): random, ``FUZZ_SCALE`` times the examples of ``ci``, with an example database
  under ``.hypothesis/`` so that a failure found once is replayed first next time.

Tests keep their own example counts: ``@settings(max_examples=examples(300))`` is 300 under ``ci`` and
3,000 under ``fuzz``.
"""

from __future__ import annotations

import os

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROFILE_ENV = "HYPOTHESIS_PROFILE"
#: How many times more examples the fuzz profile runs than the ci profile.
FUZZ_SCALE = 10
_SCALE = {"ci": 1, "fuzz": FUZZ_SCALE}
_loaded = ["ci"]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    deadline=None,
    print_blob=True,
    max_examples=100 * FUZZ_SCALE,
)


def load() -> str:
    """Load the profile that ``HYPOTHESIS_PROFILE`` names (default ``ci``); returns its name."""
    name = os.environ.get(PROFILE_ENV, "ci")
    if name not in _SCALE:
        raise ValueError(f"{PROFILE_ENV}={name!r}: expected one of {sorted(_SCALE)}")
    settings.load_profile(name)
    _loaded[0] = name
    return name


def examples(count: int) -> int:
    """A test's own example count, scaled for the loaded profile (``count`` under ``ci``)."""
    return count * _SCALE[_loaded[0]]
