"""A job that fails before it runs: the ``Job Lifecycle Status Change`` event parsed into a typed request
(typed errors naming the field), and its job-level failure message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from session_watch.domain.job_lifecycle import render_job_lifecycle
from session_watch.domain.requests import JobLifecycleChange, parse_invocation
from session_watch.errors import InvalidEventError

EVENT = json.loads((Path(__file__).parent.parent / "events" / "job-lifecycle-create-failed.json").read_text())


def event(**detail):
    return dict(EVENT, detail=dict(EVENT["detail"], **detail))


def test_the_event_is_parsed():
    assert parse_invocation(EVENT) == JobLifecycleChange(
        farm_id="farm-0123456789abcdef0123456789abcdef", queue_id="queue-0123456789abcdef0123456789abcdef",
        job_id="job-0123456789abcdef0123456789abcdef", lifecycle_status="CREATE_FAILED",
        previous_lifecycle_status="CREATE_IN_PROGRESS", event_id=EVENT["id"])


@pytest.mark.parametrize("detail, field, problem", [
    ({"lifecycleStatus": None}, "detail.lifecycleStatus", "is missing"),
    ({"lifecycleStatus": "failed!"}, "detail.lifecycleStatus", "is not a job lifecycle status"),
    ({"previousLifecycleStatus": 3}, "detail.previousLifecycleStatus", "is not a job lifecycle status"),
    ({"jobId": "job-1"}, "detail.jobId", "is not a valid id"),
    ({"farmId": None}, "detail.farmId", "is missing"),
])
def test_bad_input_names_the_field(detail, field, problem):
    with pytest.raises(InvalidEventError) as raised:
        parse_invocation(event(**detail))
    assert str(raised.value).startswith(field) and problem in str(raised.value)


def test_the_message_says_why_the_job_failed_before_it_ran():
    change = parse_invocation(EVENT)
    job = {"name": "shot-090_fx_v001", "priority": 50, "lifecycleStatus": "CREATE_FAILED",
           "lifecycleStatusMessage": "Job template validation failed: parameter 'Frames' has no value"}

    note = render_job_lifecycle(change, job=job, monitor_url=None)

    doc = json.loads(note.body)
    assert doc["kind"] == "jobLifecycle" and doc["lifecycleStatus"] == "CREATE_FAILED"
    assert doc["lifecycleStatusMessage"] == job["lifecycleStatusMessage"] and doc["jobName"] == job["name"]
    assert note.attributes == {"kind": "jobLifecycle", "outcome": "failure", "status": "CREATE_FAILED",
                               "farmId": change.farm_id, "queueId": change.queue_id, "jobId": change.job_id}
    assert note.subject == "Deadline: shot-090_fx_v001: job could not be created (CREATE_FAILED)"
    assert "parameter 'Frames' has no value" in note.email and "submit the job again" in note.email
    assert note.chat["metadata"]["threadId"] == f"deadline-job-{change.job_id}"
    assert "Frames" in note.chat["content"]["description"]


def test_without_the_job_the_message_still_goes_out_and_says_what_is_missing():
    change = parse_invocation(event(lifecycleStatus="UPLOAD_FAILED"))
    note = render_job_lifecycle(change, job=None, monitor_url=None,
                                missing=["lifecycleStatusMessage: GetJob failed (DeadlineThrottled)"])
    doc = json.loads(note.body)
    assert doc["lifecycleStatusMessage"] is None and doc["notIncluded"]
    assert "could not upload its attachments" in note.subject and "Not included" in note.email
