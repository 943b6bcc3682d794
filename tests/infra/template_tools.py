"""Small helpers to read a synthesised CloudFormation template in assertions."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, List, Tuple


def resources(template: Dict[str, Any], type_: str) -> Dict[str, Dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def one(template: Dict[str, Any], type_: str, prefix: str = "") -> Tuple[str, Dict[str, Any]]:
    found = [(k, v) for k, v in resources(template, type_).items() if k.startswith(prefix)]
    assert len(found) == 1, f"expected one {type_} starting with {prefix!r}, found {[k for k, _ in found]}"
    return found[0]


def logical_id(template: Dict[str, Any], type_: str, name: str) -> str:
    """The logical id of the one ``type_`` resource whose id is ``name`` plus CDK's 8-hex-digit hash
    (a prefix is not enough: ``EventsQueue`` is also the start of ``EventsQueueDeadLetterQueue...``)."""
    pattern = re.compile(re.escape(name) + r"[0-9A-F]{8}")
    found = [k for k in resources(template, type_) if pattern.fullmatch(k)]
    assert len(found) == 1, f"expected one {type_} named {name}, found {found}"
    return found[0]


def render(value: Any) -> str:
    """A string with tokens written as ``<Ref>`` / ``<Logical.Attr>`` (like cdk-nag writes them)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(fn, arg)] = value.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if fn == "Fn::Join":
            return arg[0].join(render(part) for part in arg[1])
        if fn == "Fn::Sub":
            return arg if isinstance(arg, str) else arg[0]
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Every statement of every identity policy (AWS::IAM::Policy and inline role policies)."""
    for logical_id, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield logical_id, statement
    for logical_id, role in resources(template, "AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            for statement in inline["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def role_statements(template: Dict[str, Any], role_prefix: str) -> List[Dict[str, Any]]:
    role_id, _ = one(template, "AWS::IAM::Role", role_prefix)
    out = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def granted(statements: List[Dict[str, Any]]) -> Dict[str, List[str]]:
    """Action -> sorted rendered resources, over every Allow statement (an action in two statements gets
    the union of their resources)."""
    out: Dict[str, set] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow", statement
        for action in as_list(statement["Action"]):
            out.setdefault(action, set()).update(render(r) for r in as_list(statement["Resource"]))
    return {action: sorted(resources_) for action, resources_ in out.items()}


def state_machine_definition(template: Dict[str, Any], substitutions: Dict[str, str] | None = None,
                             prefix: str = "WaitForSessionAction") -> Dict[str, Any]:
    """A state machine's ASL (WaitForSessionAction's unless ``prefix`` names another); tokens become
    ``<...>`` unless ``substitutions`` maps their rendering."""
    _, machine = one(template, "AWS::StepFunctions::StateMachine", prefix)
    definition = machine["Properties"]["DefinitionString"]
    if isinstance(definition, str):
        text = definition
    else:
        parts = definition["Fn::Join"][1]
        text = ""
        for part in parts:
            rendered = render(part)
            text += (substitutions or {}).get(rendered, rendered)
    return json.loads(text)
