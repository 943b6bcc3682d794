"""Message rendering: subject, email text, the JSON message and the filterable attributes."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from session_watch.domain.enrichment import ROOT_CAUSE_FIELDS
from session_watch.domain.notification import (
    CUT_MARKER,
    MESSAGE_BYTE_BUDGET,
    SNS_MESSAGE_LIMIT,
    TRIMMED_NOTE,
    render_email,
    render_notification,
    render_subject,
    session_log_location,
)
from session_watch.domain.record import RECORD_FIELDS
from tests.hypothesis_profiles import examples


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
    assert subject == "Deadline: job-" + "2" * 32 + ": Task Frame=12 failed (exit 139)"
    assert len(subject) < 100


WORKER = "worker-" + "ab" * 16


def test_subject_starts_with_the_job_name_then_step_frame_status_exit_code_and_worker():
    subject = render_subject(record(jobName="shot-042_lighting_v003", stepName="Render", workerId=WORKER,
                                    parameters={"Frame": "7", "Scene": "/mnt/projects/shot-042/lighting_v003.blend"}))
    # The scene path does not fit whole: it is left out, never cut in the middle; the worker is shortened.
    assert subject == "Deadline: shot-042_lighting_v003: Render Frame=7 failed (exit 139) on worker-abababab..."
    assert "/mnt" not in subject and len(subject) < 100


def test_subject_keeps_short_parameters_and_the_whole_worker_when_they_fit():
    subject = render_subject(record(jobName="shot-1", stepName="Sim", workerId=WORKER,
                                    parameters={"Frame": "7", "Shot": "a"}))
    assert subject == f"Deadline: shot-1: Sim Frame=7 failed (exit 139) on {WORKER}, Shot=a"


def test_the_frame_comes_first_and_paths_last_whatever_their_names():
    subject = render_subject(record(jobName="shot-050_fx_v001", stepName="Simulate", processExitCode=3,
                                    parameters={"Cache": "/mnt/projects/shot-050/fx/cache_v001.vdb", "Frame": "5",
                                                "Angle": "30"}))
    assert subject.startswith("Deadline: shot-050_fx_v001: Simulate Frame=5 failed (exit 3)")
    assert subject.index("Angle=30") < subject.index("Cache=") if "Cache=" in subject else "Angle=30" in subject


def test_a_long_job_name_is_cut_at_a_word_boundary():
    name = "lighting department shot 42 version 3 with the new rig and the final final look"
    subject = render_subject(record(jobName=name, stepName="Render", parameters={"Frame": "10"},
                                    status="NEVER_ATTEMPTED", processExitCode=None))
    assert subject.startswith("Deadline: lighting department shot 42 version...: Render Frame=10 never attempted")
    assert len(subject) < 100


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"status": "SUCCEEDED", "outcome": "completion", "processExitCode": 0}, ": Task Frame=12 completed"),
        ({"status": "NEVER_ATTEMPTED", "processExitCode": None}, "Task Frame=12 never attempted"),
        ({"status": "CANCELED", "processExitCode": None}, "Task Frame=12 canceled"),
        ({"status": "RECLAIMED", "processExitCode": None}, "Task Frame=12 reclaimed"),
        ({"parameters": None}, "Task task 12 failed (exit 139)"),
        ({"actionType": "envEnter", "taskId": None, "environmentId": "JOB:job-x:Setup", "parameters": None},
         "Environment enter Setup failed (exit 139)"),
        ({"actionType": "gpuWarmup", "taskId": None, "parameters": None}, "Action gpuWarmup of step-"),
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
    notification = render_notification(record())
    assert notification.attributes == {
        "status": "FAILED", "outcome": "failure", "actionType": "taskRun",
        "farmId": "farm-" + "0" * 32, "queueId": "queue-" + "1" * 32, "jobId": "job-" + "2" * 32,
        "kind": "sessionAction",
    }
    assert notification.kind == "sessionAction"


@settings(max_examples=examples(300), deadline=None)
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


# --- enriched records (issue 6) ------------------------------------------------------------------------

LOGS_URL = ("https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#logsV2:log-groups/log-group/"
            "$252Fcustom$252Fgroup/log-events/custom-stream")


def enriched(**overrides):
    cause = dict.fromkeys(ROOT_CAUSE_FIELDS)
    cause.update(sessionActionId="sessionaction-" + "3" * 32 + "-0", sessionId="session-" + "3" * 32,
                 actionType="envEnter", status="FAILED", environmentId="JOB:job-" + "2" * 32 + ":Setup",
                 processExitCode=2, progressMessage="conda: command not found", endedAt="2026-11-20T18:40:00.000Z")
    values = dict(status="NEVER_ATTEMPTED", processExitCode=None, progressMessage=None,
                  jobName="shot-042_lighting", jobPriority=75, workerId="worker-" + "b" * 32,
                  fleetId="fleet-" + "a" * 32, logGroup="/custom/group", logStream="custom-stream", logsUrl=LOGS_URL,
                  monitorUrl="https://monitor.example/farms/f/queues/q/jobs/j", rootCause=cause,
                  enrichmentMissing=["fleetId: GetSession ThrottlingException"])
    values.update(overrides)
    return record(**values)


def rows(email):
    """{label: value} of the top ``Label: value`` block of an email."""
    out = {}
    for line in email.split("\n\n")[1].splitlines():
        label, _, value = line.partition(":")
        out[label.strip()] = value.strip()
    return out


def test_email_of_an_enriched_record_has_job_worker_logs_monitor_root_cause_and_what_is_missing():
    email = render_email(enriched())
    top = rows(email)
    assert top["Job"] == "shot-042_lighting (priority 75)"
    assert top["Job id"] == "job-" + "2" * 32
    assert top["Worker"] == "worker-" + "b" * 32 and top["Fleet"] == "fleet-" + "a" * 32
    assert top["Log group"] == "/custom/group" and top["Log stream"] == "custom-stream"
    assert top["Logs"] == LOGS_URL
    assert top["Monitor"] == "https://monitor.example/farms/f/queues/q/jobs/j"

    block = email.split("Root cause (the first failed action of this session):\n", 1)[1].split("\n\n")[0]
    assert "Environment enter JOB:job-" + "2" * 32 + ":Setup" in block
    assert "Exit code:" in block and " 2\n" in block + "\n"
    assert "conda: command not found" in block
    assert "sessionaction-" + "3" * 32 + "-0" in block
    assert email.rstrip().endswith("Not included: fleetId: GetSession ThrottlingException")


def test_email_without_enrichment_keeps_the_earlier_layout():
    email = render_email(record())
    top = rows(email)
    assert top["Job"] == "job-" + "2" * 32 and "Job id" not in top
    assert top["Log group"] == "/aws/deadline/farm-" + "0" * 32 + "/queue-" + "1" * 32
    for absent in ("Root cause", "Not included", "Worker:", "Monitor:", "Logs:", TRIMMED_NOTE):
        assert absent not in email


def test_enriched_log_location_wins_over_the_default():
    assert session_log_location(enriched()) == {"logGroup": "/custom/group", "logStream": "custom-stream"}
    assert session_log_location(record()) == {"logGroup": "/aws/deadline/farm-" + "0" * 32 + "/queue-" + "1" * 32,
                                              "logStream": "session-" + "3" * 32}


def test_a_multi_line_message_stays_readable():
    email = render_email(record(progressMessage="line one\nline two"))
    assert "Message:        line one\n                line two\n" in email


def test_default_message_is_the_enriched_record_as_json():
    r = enriched()
    assert json.loads(json.loads(render_notification(r).message)["default"]) == r


def message_bytes(notification):
    return len(notification.message.encode("utf-8"))


def test_huge_message_and_parameters_are_cut_in_the_email_first():
    """A 200 KB progress message (beyond the model's 4,096, but the cap must not rely on that) fits."""
    r = enriched(progressMessage="\x01" * 40_000, parameters={f"P{i}": "v" * 3000 for i in range(40)})
    notification = render_notification(r)
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET < SNS_MESSAGE_LIMIT
    body = json.loads(notification.message)
    assert CUT_MARKER in body["email"] and TRIMMED_NOTE in body["email"]
    default = json.loads(body["default"])
    assert default["sessionActionId"] == r["sessionActionId"] and default["status"] == "NEVER_ATTEMPTED"
    assert default["logsUrl"] == LOGS_URL  # links and ids survive


def test_record_json_is_kept_whole_when_cutting_the_email_is_enough():
    # 25,000 control characters: 7 bytes each in the (twice escaped) record JSON, 6 in the email
    r = enriched(progressMessage="\x01" * 25_000)
    notification = render_notification(r)
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET
    body = json.loads(notification.message)
    assert json.loads(body["default"]) == r
    assert CUT_MARKER in body["email"] and TRIMMED_NOTE in body["email"]
    assert len(body["email"]) < 5000


def test_root_cause_message_is_cut_too():
    cause = dict.fromkeys(ROOT_CAUSE_FIELDS) | {"sessionActionId": "s-0", "status": "FAILED",
                                                "progressMessage": "\"" * 300_000}
    notification = render_notification(enriched(rootCause=cause))
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET
    default = json.loads(json.loads(notification.message)["default"])
    assert default["rootCause"]["sessionActionId"] == "s-0"
    assert default["rootCause"]["progressMessage"].endswith(CUT_MARKER)


def test_anything_else_too_big_is_cut_and_the_ids_survive():
    r = enriched(environmentId="E" * 400_000, stepId="\u0007" * 100_000, jobName="J" * 300_000,
                 manifests=[{"outputManifestPath": "p" * 1000, "outputManifestHash": "h"}] * 2000)
    notification = render_notification(r)
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET
    default = json.loads(json.loads(notification.message)["default"])
    assert default["sessionActionId"] == r["sessionActionId"] and default["jobId"] == r["jobId"]


def test_lone_surrogates_do_not_break_the_message():
    notification = render_notification(record(progressMessage="bad \ud800 text", parameters={"F": "\udfff"}))
    notification.message.encode("utf-8")  # SNS needs valid UTF-8
    assert "bad ? text" in json.loads(notification.message)["email"]


CHAR = st.characters(exclude_categories=("Cs",))  # lone surrogates: see test_lone_surrogates_do_not_break_the_message
TEXT = st.one_of(st.text(CHAR, max_size=30), st.builds(lambda c, n: c * n, CHAR, st.integers(1000, 120_000)))


@settings(max_examples=examples(150), deadline=None)
@given(
    message=st.one_of(st.none(), TEXT),
    params=st.dictionaries(st.text(CHAR, max_size=20), st.one_of(st.integers(), TEXT), max_size=6),
    cause_message=st.one_of(st.none(), TEXT),
    env=st.one_of(st.none(), TEXT),
    missing=st.one_of(st.none(), st.lists(TEXT, max_size=3)),
)
def test_message_always_fits_sns_and_never_fails(message, params, cause_message, env, missing):
    cause = dict.fromkeys(ROOT_CAUSE_FIELDS) | {"sessionActionId": "s-0", "progressMessage": cause_message}
    r = enriched(progressMessage=message, parameters=params, rootCause=cause, environmentId=env,
                 enrichmentMissing=missing)
    notification = render_notification(r)
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET
    body = json.loads(notification.message)
    default = json.loads(body["default"])
    assert default["sessionActionId"] == r["sessionActionId"]
    if TRIMMED_NOTE not in body["email"]:
        assert default == json.loads(json.dumps(r))
    assert 0 < len(notification.subject) < 100 and notification.subject.isascii()
