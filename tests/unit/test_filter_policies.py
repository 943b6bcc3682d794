"""The filter policies infra/README.md documents select what it says they select, on the message attributes
the function sets (the same on the machines, email and chat topics).

The matcher is SNS's documented rule for attribute-scope policies with exact string values (Amazon SNS
Developer Guide, "Amazon SNS subscription filter policies" and "Filter policy constraints"): a message is
delivered when, for every attribute the policy names, the message has that attribute (String) and its value
is one of the policy's values (AND across attributes, OR within one attribute's list); a message lacking an
attribute the policy names is not delivered. It is evaluated here, not through moto's SNS, so the test pins
the documented contract rather than moto's implementation of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Mapping

import pytest

from session_watch.domain.digest import render_digest, render_job_run
from session_watch.domain.notification import render_notification
from session_watch.domain.record import RECORD_FIELDS
from session_watch.domain.requests import JobRunChange

README = Path(__file__).resolve().parents[2] / "infra" / "README.md"
FARM, QUEUE, OTHER_QUEUE = "farm-" + "0" * 32, "queue-" + "1" * 32, "queue-" + "9" * 32
JOB, OTHER_JOB = "job-" + "2" * 32, "job-" + "8" * 32


def delivered(policy: Mapping[str, List[str]], attributes: Mapping[str, str]) -> bool:
    return all(name in attributes and attributes[name] in values for name, values in policy.items())


def record(status: str, outcome: str, queue: str = QUEUE, job: str = JOB, action: str = "taskRun") -> Dict:
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId=FARM, queueId=queue, jobId=job, sessionId="session-" + "3" * 32,
             sessionActionId=f"sessionaction-{'3' * 32}-{status.lower()}", status=status, outcome=outcome,
             terminal=True, actionType=action, stepId="step-" + "5" * 32, taskId="task-" + "5" * 32 + "-1",
             startedAt="2026-11-20T18:41:02.118Z")
    return r


def messages() -> Dict[str, Dict[str, str]]:
    """Label -> the message attributes the function sets, for every kind of notification."""
    out = {}
    for status in ("SUCCEEDED", "FAILED", "CANCELED", "INTERRUPTED", "NEVER_ATTEMPTED", "RECLAIMED"):
        outcome = "completion" if status == "SUCCEEDED" else "failure"
        out[f"action {status}"] = render_notification(record(status, outcome)).attributes
    out["action FAILED, other queue"] = render_notification(record("FAILED", "failure", queue=OTHER_QUEUE)).attributes
    out["action FAILED, other job"] = render_notification(record("FAILED", "failure", job=OTHER_JOB)).attributes
    out["action SUCCEEDED, envEnter"] = render_notification(record("SUCCEEDED", "completion", action="envEnter")).attributes
    out["digest"] = render_digest([record("FAILED", "failure")], window_start=1_700_000_000, window_seconds=60,
                                  sample_size=10, job=None, monitor_url=None).attributes
    for status in ("SUCCEEDED", "FAILED", "CANCELED"):
        change = JobRunChange(FARM, QUEUE, JOB, status, "RUNNING", {status: 1})
        out[f"job {status}"] = render_job_run(change, job=None, monitor_url=None).attributes
    return out


def documented_policies() -> Dict[str, str]:
    """The README's table: filter policy (JSON) -> what it says the policy selects."""
    section = README.read_text().split("| filter policy | selects |", 1)[1].split("\n\n", 1)[0]
    out = {}
    for line in section.splitlines():
        found = re.match(r"\| `(\{.*\})` \| (.*) \|$", line.strip())
        if found:
            out[found.group(1).replace("queue-0123…", QUEUE).replace("job-0123…", JOB)] = found.group(2)
    return out


#: What each documented policy must deliver, by label of :func:`messages` (every other label: not delivered).
EXPECTED = {
    '{"outcome": ["failure"]}': {"action FAILED", "action CANCELED", "action INTERRUPTED", "action NEVER_ATTEMPTED",
                                 "action RECLAIMED", "action FAILED, other queue", "action FAILED, other job",
                                 "digest", "job FAILED", "job CANCELED"},
    '{"kind": ["jobRun"]}': {"job SUCCEEDED", "job FAILED", "job CANCELED"},
    '{"kind": ["digest", "jobRun"]}': {"digest", "job SUCCEEDED", "job FAILED", "job CANCELED"},
    f'{{"queueId": ["{QUEUE}"]}}': set(messages()) - {"action FAILED, other queue"},
    f'{{"jobId": ["{JOB}"]}}': set(messages()) - {"action FAILED, other job"},
    f'{{"outcome": ["failure"], "queueId": ["{QUEUE}"]}}': {
        "action FAILED", "action CANCELED", "action INTERRUPTED", "action NEVER_ATTEMPTED", "action RECLAIMED",
        "action FAILED, other job", "digest", "job FAILED", "job CANCELED"},
}


def test_the_readme_documents_exactly_these_policies():
    assert set(documented_policies()) == set(EXPECTED)


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_a_documented_policy_selects_what_it_says(policy):
    selected = {label for label, attributes in messages().items() if delivered(json.loads(policy), attributes)}
    assert selected == EXPECTED[policy], documented_policies().get(policy)


def test_the_failures_only_policy_is_the_one_the_stack_subscribes_with():
    """The policy of the README's `notificationEmails` example is accepted as is by the stack's validation."""
    from infra.config import PREFIX, load_config

    cfg = load_config({PREFIX + "notificationEmails": '[{"email":"w@example.com","filterPolicy":{"outcome":["failure"]}}]'})
    assert dict(cfg.notification_emails[0].filter_policy) == {"outcome": ("failure",)}


def test_the_matcher_follows_the_documented_rule():
    assert delivered({"outcome": ["failure"]}, {"outcome": "failure", "kind": "digest"})
    assert not delivered({"outcome": ["failure"]}, {"kind": "digest"})  # attribute missing: not delivered
    assert not delivered({"outcome": ["failure"], "kind": ["jobRun"]}, {"outcome": "failure", "kind": "digest"})
    assert delivered({"kind": ["digest", "jobRun"]}, {"kind": "jobRun"})
    assert delivered({}, {"kind": "digest"})
