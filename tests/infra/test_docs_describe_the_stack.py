"""The infrastructure documents describe the stack as it is: the rules it builds, no project history."""

from __future__ import annotations

import re

import pytest

from tests.infra.conftest import REPO_ROOT

DOCUMENTS = ["README.md", "infra/README.md", "docs/hardening.md"]


def test_infra_readme_names_every_rule_the_stack_builds(template):
    text = (REPO_ROOT / "infra" / "README.md").read_text()
    rules = [logical_id for logical_id, r in template["Resources"].items() if r["Type"] == "AWS::Events::Rule"]
    claimed = re.search(r"`DeadlineEventRule` x (\d+)", text)
    assert claimed and int(claimed.group(1)) == len(rules), (claimed and claimed.group(0), rules)
    for logical_id in rules:
        name = re.sub(r"Rule[0-9A-F]{8}$", "", logical_id)  # TaskRunEventsRuleB3A248F3 -> TaskRunEvents
        assert f"`{name}`" in text, name


@pytest.mark.parametrize("document", DOCUMENTS)
def test_documents_describe_the_product_not_its_history(document):
    text = (REPO_ROOT / document).read_text()
    assert not re.search(r"\bissues? #?\d+", text, re.IGNORECASE), re.findall(r".{40}\bissues? #?\d+.{20}", text, re.I)
