#!/usr/bin/env python3
"""CDK entry point: ``npx cdk synth`` / ``npx cdk deploy`` (or ``python app.py`` -> ./cdk.out).

Configuration is CDK context: the defaults in cdk.json, overridable with ``-c sessionWatch:<key>=<value>``
(see README, "Configuration", and infra/config.py).
"""

import os
import sys

# jsii's "Node 20 is end-of-life" banner: cosmetic here (CI and developer machines run Node 20, which
# the CDK still works on); only this major version is silenced, any other warning still shows.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.app import create_app  # noqa: E402  (after the environment is set)
from infra.config import ConfigError  # noqa: E402


def main() -> int:
    try:
        app = create_app()
    except ConfigError as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
