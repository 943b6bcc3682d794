#!/usr/bin/env python3
"""CDK entry point: ``npx cdk synth`` / ``npx cdk deploy``, or ``python app.py [-c key=value ...]`` (-> ./cdk.out,
or ``$CDK_OUTDIR``).

Configuration is CDK context: the defaults in cdk.json, overridable with ``-c sessionWatch:<key>=<value>``
(see README, "Configuration", and infra/config.py). The CDK CLI passes its ``-c`` values in CDK_CONTEXT_JSON;
``python app.py`` reads its own ``-c`` arguments the same way (as strings, as the CLI does), after them.
"""

import argparse
import os
import sys
from typing import Dict, List, Optional

# jsii's "Node 20 is end-of-life" banner: cosmetic here (CI and developer machines run Node 20, which
# the CDK still works on); only this major version is silenced, any other warning still shows.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def parse_arguments(argv: List[str]) -> Dict[str, str]:
    """``-c key=value`` / ``--context key=value`` (repeatable) -> context; anything else is refused."""
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="Synthesise the Deadline Session Watch stack into ./cdk.out (or $CDK_OUTDIR), as "
                    "`npx cdk synth` does. To deploy, use `npx cdk deploy -c key=value ...`.",
    )
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="context value, as `npx cdk synth -c KEY=VALUE` takes it (repeatable)")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unrecognised argument(s): {' '.join(unknown)} (python app.py only takes -c KEY=VALUE; "
                     "for other CDK options use npx cdk synth ...)")
    context: Dict[str, str] = {}
    for assignment in args.context:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            parser.error(f"-c {assignment!r}: expected KEY=VALUE, e.g. -c sessionWatch:notifyMode=each")
        context[key.strip()] = value
    return context


def main(argv: Optional[List[str]] = None) -> int:
    cli_context = parse_arguments(sys.argv[1:] if argv is None else argv)

    from infra.app import create_app
    from infra.config import ConfigError

    try:
        app = create_app(cli_context=cli_context)
    except ConfigError as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
