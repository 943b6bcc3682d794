"""checkov acknowledgements: on the resources, each with a reason, the same as docs/hardening.md lists; and,
when ``make scan`` has created ``.venv-checkov``, checkov itself passes on the template and fails on a new
finding. (Installing checkov takes more than a minute, so ``make test`` does not; ``make scan`` does.)"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest

from infra import checkov
from tests.infra.conftest import REPO_ROOT

HARDENING = REPO_ROOT / "docs" / "hardening.md"
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
HASH = re.compile(r"[0-9A-F]{8}$")


def _acknowledged(template) -> Dict[Tuple[str, str], str]:
    """(check id, logical id without its hash) -> reason, from the resources' Metadata.checkov.skip."""
    out = {}
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            out[(skip["id"], HASH.sub("", logical_id))] = skip.get("comment", "")
    return out


def _documented() -> Set[Tuple[str, str]]:
    section = HARDENING.read_text().split("## Infrastructure as code: checkov", 1)[1].split("\n## ", 1)[0]
    pairs = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| CKV") and len(cells) >= 4:
            pairs |= {(cells[0], name.strip()) for name in cells[1].split(",")}
    return pairs


def test_every_acknowledgement_has_a_reason_and_docs_hardening_lists_exactly_them(template):
    acknowledged = _acknowledged(template)
    assert acknowledged, "no checkov acknowledgement in the template"
    for (check, resource), reason in acknowledged.items():
        assert checkov.CHECK_ID.match(check), check
        assert len(reason) >= 40, f"{check} on {resource}: the reason is {reason!r}"
    assert set(acknowledged) == _documented()


def test_direct_delivery_keeps_the_acknowledgements_of_the_resources_it_has(direct_template):
    expected = {pair for pair in _documented() if not pair[1].startswith("EventsQueue")}
    assert set(_acknowledged(direct_template)) == expected


def test_acknowledge_refuses_an_empty_reason_or_a_bad_id():
    from aws_cdk import Stack
    from aws_cdk import aws_sqs as sqs

    queue = sqs.Queue(Stack(), "Queue")
    with pytest.raises(ValueError, match="needs a reason"):
        checkov.acknowledge(queue, "CKV_AWS_27", " ")
    with pytest.raises(ValueError, match="not a checkov AWS check id"):
        checkov.acknowledge(queue, "AwsSolutions-SQS3", "a reason")
    checkov.acknowledge(queue, "CKV_AWS_27", "first")
    checkov.acknowledge(queue, "CKV_AWS_27", "second  reason")
    assert queue.node.default_child.get_metadata("checkov") == {"skip": [{"id": "CKV_AWS_27", "comment": "second reason"}]}


def _checkov(template_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHECKOV), "-f", str(template_file), "--framework", "cloudformation",
                           "--skip-download", "--compact"], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.skipif(not CHECKOV.exists(), reason="no .venv-checkov here (make scan creates it)")
def test_checkov_passes_with_only_acknowledged_findings_and_fails_on_a_new_one(template, tmp_path):
    passing = tmp_path / "template.json"
    passing.write_text(json.dumps(template))
    result = _checkov(passing)
    assert result.returncode == 0, result.stdout[-5000:]
    assert re.search(r"Failed checks: 0, Skipped checks: [1-9]", result.stdout), result.stdout[:2000]
    for reason in set(_acknowledged(template).values()):
        assert f"Suppress comment: {reason}" in result.stdout

    new_finding = copy.deepcopy(template)
    [function] = [r for r in new_finding["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    skips = function["Metadata"]["checkov"]["skip"]
    skips[:] = [s for s in skips if s["id"] != "CKV_AWS_117"]
    failing = tmp_path / "new-finding.json"
    failing.write_text(json.dumps(new_finding))
    result = _checkov(failing)
    assert result.returncode == 1, result.stdout[-5000:]
    assert "Failed checks: 1," in result.stdout
    assert re.search(r"CKV_AWS_117.*\n\s+FAILED for resource: AWS::Lambda::Function", result.stdout)
