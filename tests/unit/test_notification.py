"""Message rendering: subject, email text, the JSON message and the filterable attributes."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from session_watch.domain.notification import render_notification, render_subject
from session_watch.domain.record import RECORD_FIELDS


def record(**overrides):
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(
        farmId="farm-" + "0" * 32, queueId="queue-" + "1" * 32, jobId="job-" + "2" * 32,
        sessionId="session-" + "3" * 32, sessionActionId="sessionaction-" + "3" * 32 + "-4",
        status="FAILED", outcome="failure", terminal=True, actionType="taskRun",
        stepId="step-" + "5" * 32, taskId="task-" + "5" * 32 + "-12",
        parameters={"Frame": 12}, parameterTypes={"Frame": "int"}, processExitCode=139,
        durationSeconds=165.8, progressMessage="Segmentation fault", startedAt="2026-11-20T18:41:02.118Z",
    )
    r.update(overrides)
    return r


def test_failure_subject_says_what_failed_and_how():
    subject = render_subject(record())
    assert subject.startswith("Deadline: Task run failed (exit 139): [Frame=12]")
    assert len(subject) < 100


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"status": "SUCCEEDED", "outcome": "completion", "processExitCode": 0}, "Task run completed"),
        ({"status": "NEVER_ATTEMPTED", "processExitCode": None}, "Task run never attempted"),
        ({"status": "CANCELED", "processExitCode": None}, "Task run canceled"),
        ({"status": "RECLAIMED", "processExitCode": None}, "Task run reclaimed"),
        ({"actionType": "envEnter", "taskId": None, "environmentId": "JOB:job-x:Setup", "parameters": None},
         "Environment enter failed (exit 139): JOB:job-x:Setup"),
        ({"actionType": "gpuWarmup"}, "Action gpuWarmup failed"),
    ],
)
def test_subject_wording(overrides, words):
    assert words in render_subject(record(**overrides))


def test_email_text_has_what_a_wrangler_needs():
    email = json.loads(render_notification(record()).message)["email"]
    for expected in ("Job:", "job-" + "2" * 32, "Step:", "Task:", "task-" + "5" * 32 + "-12", "FAILED",
                     "Exit code:", "139", "Duration:", "2m 46s", "Message:", "Segmentation fault",
                     "Log group:", "/aws/deadline/farm-" + "0" * 32 + "/queue-" + "1" * 32,
                     "Log stream:", "session-" + "3" * 32):
        assert expected in email, expected


def test_default_message_is_the_record_as_json():
    r = record()
    assert json.loads(json.loads(render_notification(r).message)["default"]) == r


def test_attributes_for_filter_policies():
    attributes = render_notification(record()).attributes
    assert attributes == {
        "status": "FAILED", "outcome": "failure", "actionType": "taskRun",
        "farmId": "farm-" + "0" * 32, "queueId": "queue-" + "1" * 32, "jobId": "job-" + "2" * 32,
    }


@settings(max_examples=300, deadline=None)
@given(
    action=st.one_of(st.sampled_from(["taskRun", "envEnter", "envExit", "syncInputJobAttachments"]), st.text(max_size=300)),
    status=st.text(max_size=50),
    params=st.dictionaries(st.text(max_size=50), st.one_of(st.integers(), st.text(max_size=500)), max_size=5),
    env=st.one_of(st.none(), st.text(max_size=400)),
    code=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
)
def test_subject_is_always_short_printable_ascii(action, status, params, env, code):
    subject = render_subject(record(actionType=action, status=status, parameters=params, environmentId=env,
                                    taskId=None if env else "task-1", processExitCode=code))
    assert 0 < len(subject) < 100
    assert all(32 <= ord(c) < 127 for c in subject)
