"""Build the CDK app: context (cdk.json + -c) -> validated config -> stack, with cdk-nag on every synth."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from .config import WatchConfig, load_config
from .stack import SessionWatchStack

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"


def cdk_json_context(path: Path = CDK_JSON) -> Mapping[str, Any]:
    """The ``context`` block of cdk.json (the CDK CLI passes it itself; ``python app.py`` needs this)."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("context", {})


def create_app(
    *,
    outdir: Optional[str] = None,
    context: Optional[Mapping[str, Any]] = None,
    cli_context: Optional[Mapping[str, Any]] = None,
) -> App:
    """An App with the stack and the cdk-nag AwsSolutions pack.

    ``context`` (default: cdk.json's) is the base; context the CDK CLI passes (``-c``, CDK_CONTEXT_JSON)
    overrides it, and ``cli_context`` (``python app.py -c key=value``) overrides both. Raises
    ``ConfigError`` naming the key at fault.
    """
    base = dict(cdk_json_context() if context is None else context)
    app = App(
        outdir=outdir or os.environ.get("CDK_OUTDIR") or str(REPO_ROOT / "cdk.out"),
        context=base,
        post_cli_context=dict(cli_context) if cli_context else None,
    )

    config: WatchConfig = load_config(app.node.get_all_context())

    SessionWatchStack(
        app,
        config.stack_name,
        config=config,
        env=_environment(),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app


def _environment() -> Optional[Environment]:
    """Deploy to the CLI's account/region when it knows them; otherwise the template is environment-agnostic."""
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    if account and region:
        return Environment(account=account, region=region)
    return None
