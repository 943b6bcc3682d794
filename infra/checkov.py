"""checkov acknowledgements, written beside the resources they concern (as cdk-nag's are, ``infra/nag.py``).

checkov reads ``Metadata.checkov.skip`` on a CloudFormation resource, ``[{"id": "CKV_AWS_27", "comment":
reason}]``: it reports the check as SKIPPED with ``Suppress comment: <reason>`` instead of FAILED. So
``make scan`` passes while only acknowledged findings remain, fails on a new one, and prints each
acknowledged finding with its reason. docs/hardening.md lists them (a test keeps the two equal).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from aws_cdk import CfnResource
from constructs import IConstruct

METADATA_KEY = "checkov"
CHECK_ID = re.compile(r"^CKV2?_AWS_\d+$")


def acknowledge(scope: IConstruct, check_id: str, reason: str) -> None:
    """Acknowledge checkov's ``check_id`` on ``scope`` (a CfnResource, or an L2 construct: its default child),
    with the reason ``make scan`` prints."""
    if not CHECK_ID.match(check_id):
        raise ValueError(f"{check_id!r} is not a checkov AWS check id (CKV_AWS_<n> or CKV2_AWS_<n>)")
    if not reason or not reason.strip():
        raise ValueError(f"acknowledging {check_id} needs a reason")
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource to acknowledge {check_id} on")
    metadata: Dict[str, Any] = dict(resource.get_metadata(METADATA_KEY) or {})
    skips: List[Dict[str, str]] = [s for s in metadata.get("skip", []) if s.get("id") != check_id]
    skips.append({"id": check_id, "comment": " ".join(reason.split())})
    metadata["skip"] = skips
    resource.add_metadata(METADATA_KEY, metadata)
