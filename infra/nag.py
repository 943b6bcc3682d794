"""cdk-nag (v3) helpers: acknowledgements with reasons, and finding ids for resources with tokens."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (``AwsSolutions-IAM5[Resource::...]`` style id) on ``scope``."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def resource_finding(stack: Stack, value: str) -> str:
    """How cdk-nag writes a policy resource in a finding id: ``{"Ref": "X"}`` -> ``<X>``,
    ``{"Fn::GetAtt": ["A", "B"]}`` -> ``<A.B>``, literals as they are (an ARN with a known account and
    region is a literal; an environment-agnostic one is a join of pseudo-parameters)."""
    return _render(stack.resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(function, argument)] = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag finding")
