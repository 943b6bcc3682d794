"""Chat messages (pure): Amazon Q Developer in chat applications custom notifications.

Format: https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html ("Event schema",
"Parameter details"): version "1.0" and source "custom" required; textType only "client-markdown"; every
value a string, a list of strings or a map of strings. Length limits checked here: title 250 and
description 8000 (the limits cited from that page), and the module's own conservative limits for the
fields no readable limit was found for (see domain/chat.py).
"""

import json

import pytest

from session_watch.domain import chat
from session_watch.domain.chat import (
    CHAT_THREAD_PREFIX,
    chat_for_digest,
    chat_for_job_run,
    chat_for_record,
    thread_id,
)
from session_watch.domain.digest import render_digest, render_job_run
from session_watch.domain.enrichment import ROOT_CAUSE_FIELDS, JobInfo, logs_console_url
from session_watch.domain.record import RECORD_FIELDS
from session_watch.domain.requests import JobRunChange

DOC_URL = "https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html"
ORIGINAL_FALLBACK = chat._fallback

FARM = "farm-" + "0" * 32
QUEUE = "queue-" + "1" * 32
JOB = "job-" + "2" * 32
OTHER_JOB = "job-" + "9" * 32
STEP = "step-" + "a" * 32
WORKER = "worker-" + "b" * 32
FLEET = "fleet-" + "c" * 32
WINDOW = 1795683660  # 2026-11-26T09:01:00Z
MONITOR = "https://monitor.example"

# The limits every message is checked against (characters, items).
LIMITS = {
    "id": 128,
    "title": 250,  # cited from the documentation page
    "description": 8000,  # cited from the documentation page (the module keeps to 3000)
    "nextSteps": (3, 200),
    "keywords": (5, 50),
    "threadId": 128,
    "summary": 200,
    "eventType": 64,
    "relatedResources": (5, 256),
    "additionalContext": (10, 64, 256),
}


def check_format(message):
    """The documented format, and every length within ``LIMITS``; returns the message."""
    assert isinstance(message, dict)
    json.dumps(message)  # JSON-serialisable
    assert set(message) <= {"version", "source", "id", "content", "metadata"}
    assert message["version"] == "1.0" and message["source"] == "custom"
    assert isinstance(message["id"], str) and 0 < len(message["id"]) <= LIMITS["id"]

    content = message["content"]
    assert set(content) <= {"textType", "title", "description", "nextSteps", "keywords"}
    assert content["textType"] == "client-markdown"
    for key in ("title", "description"):
        assert isinstance(content[key], str) and 0 < len(content[key]) <= LIMITS[key], key
    assert "\n" not in content["title"]
    for key in ("nextSteps", "keywords"):
        most, size = LIMITS[key]
        values = content[key]
        assert isinstance(values, list) and len(values) <= most, key
        assert all(isinstance(v, str) and 0 < len(v) <= size and "\n" not in v for v in values), key
    assert 1 <= len(content["nextSteps"])

    metadata = message["metadata"]
    assert set(metadata) <= {"threadId", "summary", "eventType", "relatedResources", "additionalContext"}
    for key in ("threadId", "summary", "eventType"):
        assert isinstance(metadata[key], str) and 0 < len(metadata[key]) <= LIMITS[key], key
    assert metadata["eventType"].isalnum()
    most, size = LIMITS["relatedResources"]
    assert isinstance(metadata["relatedResources"], list) and len(metadata["relatedResources"]) <= most
    assert all(isinstance(v, str) and 0 < len(v) <= size for v in metadata["relatedResources"])
    most, key_size, value_size = LIMITS["additionalContext"]
    context = metadata["additionalContext"]
    assert isinstance(context, dict) and len(context) <= most
    assert all(isinstance(k, str) and 0 < len(k) <= key_size for k in context)
    assert all(isinstance(v, str) and 0 < len(v) <= value_size for v in context.values())
    return message


def record(n=7, **extra):
    r = dict.fromkeys(RECORD_FIELDS)
    session_id = f"session-{'3' * 32}"
    r.update(farmId=FARM, queueId=QUEUE, jobId=JOB, sessionId=session_id, sessionActionId=f"sessionaction-{'3' * 32}-{n}",
             status="FAILED", outcome="failure", terminal=True, actionType="taskRun", stepId=STEP,
             taskId=f"task-{'5' * 32}-{n}", parameters={"Frame": n, "Scene": "/mnt/shots/a.blend"},
             parameterTypes={"Frame": "int", "Scene": "path"}, startedAt="2026-11-26T09:00:01.000Z",
             endedAt="2026-11-26T09:01:07.000Z", workerUpdatedAt="2026-11-26T09:01:07.000Z", durationSeconds=66.0,
             processExitCode=139, progressPercent=42.0, progressMessage="Segmentation fault (core dumped)",
             manifests=[], acquiredLimits=[], jobName="shot-042_lighting", jobPriority=50, workerId=WORKER,
             fleetId=FLEET, logGroup=f"/aws/deadline/{FARM}/{QUEUE}", logStream=session_id,
             logsUrl=logs_console_url("us-west-2", f"/aws/deadline/{FARM}/{QUEUE}", session_id),
             monitorUrl=f"{MONITOR}/farms/{FARM}/queues/{QUEUE}/jobs/{JOB}", rootCause=None, enrichmentMissing=None)
    r.update(extra)
    return r


def env_cause(message="conda: command not found"):
    cause = dict.fromkeys(ROOT_CAUSE_FIELDS)
    cause.update(sessionActionId=f"sessionaction-{'3' * 32}-0", sessionId=f"session-{'3' * 32}", actionType="envEnter",
                 status="FAILED", environmentId=f"JOB:{JOB}:Setup", processExitCode=2, progressMessage=message,
                 endedAt="2026-11-26T09:00:59.000Z")
    return cause


def default_of(notification):
    """The JSON document a renderer built (the SNS ``default``)."""
    return json.loads(json.loads(notification.message)["default"])


def digest_doc(records, job=JobInfo(JOB, "shot-042_lighting", 50), **kwargs):
    args = dict(window_start=WINDOW, window_seconds=60, sample_size=10, job=job, monitor_url=MONITOR)
    args.update(kwargs)
    return default_of(render_digest(records, **args))


def job_run_doc(status="FAILED", counts=None, job_id=JOB, name="shot-042_lighting", **kwargs):
    change = JobRunChange(farm_id=FARM, queue_id=QUEUE, job_id=job_id, task_run_status=status,
                          previous_task_run_status="RUNNING",
                          task_run_status_counts=counts if counts is not None else {"FAILED": 3, "SUCCEEDED": 117})
    return default_of(render_job_run(change, job=JobInfo(job_id, name, 50), monitor_url=MONITOR, **kwargs))


# --- the documentation and the constants --------------------------------------------------------------


def test_the_module_names_the_documentation_and_keeps_within_the_checked_limits():
    assert chat.DOC_URL == DOC_URL and DOC_URL in chat.__doc__
    assert chat.TITLE_LIMIT <= LIMITS["title"] and chat.DESCRIPTION_LIMIT <= LIMITS["description"]
    assert (chat.VERSION, chat.SOURCE, chat.TEXT_TYPE) == ("1.0", "custom", "client-markdown")


# --- a session action ---------------------------------------------------------------------------------


def test_a_failed_task_run():
    r = record(rootCause=env_cause())
    message = check_format(chat_for_record(r))
    content, metadata = message["content"], message["metadata"]
    title = content["title"]
    assert "shot-042_lighting" in title and "Task run failed (exit 139)" in title
    assert "Frame=7" in title and r["taskId"] in title and WORKER in title
    description = content["description"]
    assert f"[CloudWatch Logs]({r['logsUrl']})" in description
    assert f"[Deadline Cloud monitor]({r['monitorUrl']})" in description
    assert "*Status:* FAILED (exit 139)" in description and WORKER in description and FLEET in description
    assert "Frame=7, Scene=/mnt/shots/a.blend" in description
    assert "Segmentation fault (core dumped)" in description
    assert "conda: command not found" in description and f"JOB:{JOB}:Setup" in description
    assert 1 <= len(content["nextSteps"]) <= 3
    assert any("root cause" in step.lower() for step in content["nextSteps"])
    assert any("Requeue" in step for step in content["nextSteps"])
    assert content["keywords"][:3] == ["FAILED", "taskRun", "shot-042_lighting"]
    assert metadata["threadId"] == CHAT_THREAD_PREFIX + JOB == thread_id(JOB)
    assert metadata["eventType"] == "SessionActionFailed"
    assert JOB in metadata["relatedResources"] and r["sessionActionId"] in metadata["relatedResources"]
    context = metadata["additionalContext"]
    assert (context["farmId"], context["queueId"], context["jobId"]) == (FARM, QUEUE, JOB)
    assert (context["sessionActionId"], context["status"]) == (r["sessionActionId"], "FAILED")
    assert "\n" not in metadata["summary"] and "Task run failed" in metadata["summary"]


def test_the_id_is_stable_for_a_retry_and_differs_by_action_and_status():
    first = chat_for_record(record())
    assert chat_for_record(record()) == first
    assert chat_for_record(record(n=8))["id"] != first["id"]
    assert chat_for_record(record(status="SUCCEEDED", outcome="completion"))["id"] != first["id"]


@pytest.mark.parametrize("status, event_type", [
    ("SUCCEEDED", "SessionActionSucceeded"), ("NEVER_ATTEMPTED", "SessionActionNeverAttempted"),
    ("INTERRUPTED", "SessionActionInterrupted"), ("CANCELED", "SessionActionCanceled"),
    ("RECLAIMED", "SessionActionReclaimed"), ("SOMETHING_NEW", "SessionActionSomethingNew"),
])
def test_every_status(status, event_type):
    outcome = "completion" if status == "SUCCEEDED" else "failure"
    message = check_format(chat_for_record(record(status=status, outcome=outcome, processExitCode=None)))
    assert message["metadata"]["eventType"] == event_type
    assert message["content"]["keywords"][0] == status


def test_without_a_logs_link_the_log_location_is_told():
    message = check_format(chat_for_record(record(logsUrl=None, monitorUrl=None)))
    description = message["content"]["description"]
    assert "[CloudWatch Logs]" not in description
    assert f"/aws/deadline/{FARM}/{QUEUE}" in description and f"session-{'3' * 32}" in description


def test_a_link_that_is_not_a_web_address_is_not_made_a_link():
    for url in ("javascript:alert(1)", "https://a b", "https://x\n[y](z)", 42):
        description = chat_for_record(record(logsUrl=url))["content"]["description"]
        assert "[CloudWatch Logs]" not in description


def test_a_link_with_parentheses_stays_one_link():
    message = check_format(chat_for_record(record(logsUrl="https://console.example/a(b)c")))
    assert "[CloudWatch Logs](https://console.example/a%28b%29c)" in message["content"]["description"]


def test_a_record_with_everything_none_but_the_ids():
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId=FARM, queueId=QUEUE, jobId=JOB, sessionActionId=f"sessionaction-{'3' * 32}-1")
    message = check_format(chat_for_record(r))
    assert message["metadata"]["threadId"] == thread_id(JOB)
    assert JOB in message["content"]["title"]


@pytest.mark.parametrize("odd", [{}, {"jobId": None}, {"jobId": 12, "status": 3, "parameters": "x"}, None, [],
                                 {"rootCause": "x", "enrichmentMissing": "y", "durationSeconds": "1"}])
def test_odd_records_still_give_a_valid_message(odd):
    check_format(chat_for_record(odd))


def test_huge_records_stay_within_every_limit():
    params = {f"P{i:04d}": "v" * 50 for i in range(1000)}
    r = record(progressMessage="x\n" * 50_000, parameters=params, jobName="n" * 10_000,
               rootCause=env_cause("y" * 100_000), enrichmentMissing=[f"reason {i} " + "z" * 500 for i in range(100)],
               taskId="t" * 10_000, workerId="w" * 10_000, stepId="s" * 10_000)
    message = check_format(chat_for_record(r))
    description = message["content"]["description"]
    assert len(description) <= chat.DESCRIPTION_LIMIT
    assert f"[CloudWatch Logs]({r['logsUrl']})" in description
    # no more of the parameters than the email shows (parameters_text: 200 characters)
    assert description.count("P0") <= 200 // len("P0000=")
    assert len(json.dumps(message)) < 12_000


def test_a_huge_job_id_gives_a_short_thread_id_the_same_everywhere():
    huge = "job-" + "7" * 10_000
    assert len(thread_id(huge)) <= LIMITS["threadId"] and thread_id(huge) == thread_id(huge)
    assert thread_id(huge) != thread_id("job-" + "7" * 9_999)
    check_format(chat_for_record(record(jobId=huge)))
    assert thread_id("") == thread_id("") and thread_id("a b") != thread_id("a c")


def test_markdown_of_the_inputs_cannot_break_the_code_spans():
    message = check_format(chat_for_record(record(progressMessage="```\n# not a heading\n```",
                                                  parameters={"Frame": "`x`"})))
    description = message["content"]["description"]
    assert description.count("```") == 2  # only the message's own block


# --- a digest ------------------------------------------------------------------------------------------


def failures(count, job_id=JOB, **extra):
    out = []
    for n in range(1, count + 1):
        status = "NEVER_ATTEMPTED" if n % 4 == 0 else "FAILED"
        out.append(record(n, jobId=job_id, status=status, processExitCode=None if status != "FAILED" else 139,
                          endedAt=f"2026-11-26T09:01:{n % 60:02d}.000Z", **extra))
    return out


def test_a_digest():
    records = failures(7)
    records += [record(20, rootCause=env_cause(), status="NEVER_ATTEMPTED", processExitCode=None)]
    doc = digest_doc(records)
    message = check_format(chat_for_digest(doc))
    content, metadata = message["content"], message["metadata"]
    assert content["title"].endswith("shot-042_lighting: 8 failures in 60 s (FAILED 6, NEVER_ATTEMPTED 2)")
    description = content["description"]
    assert "*Failures:* 8" in description and "139 6" in description
    assert f"[Deadline Cloud monitor]({MONITOR}/farms/{FARM}/queues/{QUEUE}/jobs/{JOB})" in description
    first = doc["sample"][0]
    assert f"`{first['taskId']}` `Frame=1, Scene=/mnt/shots/a.blend` FAILED, exit 139" in description
    assert f"[CloudWatch Logs]({first['logsUrl']})" in description
    assert "conda: command not found" in description and "explains 1 action" in description
    assert metadata["eventType"] == "JobFailuresDigest" and metadata["threadId"] == thread_id(JOB)
    assert metadata["additionalContext"]["failures"] == "8"
    assert metadata["additionalContext"]["windowStart"] == "2026-11-26T09:01:00Z"
    assert chat_for_digest(doc)["id"] == message["id"]
    assert chat_for_digest(digest_doc(records, window_start=WINDOW + 60))["id"] != message["id"]


def test_a_digest_of_many_failures_and_huge_fields():
    params = {f"P{i:04d}": "v" * 50 for i in range(1000)}
    records = [record(n, progressMessage="m" * 100_000, parameters=params, stepId=f"step-{n:032x}",
                      rootCause=dict(env_cause("c" * 100_000), sessionActionId=f"cause-{n}"),
                      enrichmentMissing=["x" * 5000]) for n in range(1, 2001)]
    doc = digest_doc(records, job=JobInfo(JOB, "n" * 10_000, 1), sample_size=50)
    message = check_format(chat_for_digest(doc))
    assert len(message["content"]["description"]) <= chat.DESCRIPTION_LIMIT
    assert "2000 failures" in message["content"]["title"]


def test_a_digest_without_a_job_name_or_links():
    records = failures(3, logsUrl=None, jobName=None)
    doc = digest_doc(records, job=None, monitor_url=None)
    message = check_format(chat_for_digest(doc))
    assert JOB in message["content"]["title"] and "[CloudWatch Logs]" not in message["content"]["description"]


@pytest.mark.parametrize("doc", [{}, {"jobId": JOB}, {"failures": "x", "byStatus": [], "sample": "y"},
                                 {"sample": [None, 1, {"logsUrl": 5}], "rootCauses": [{}], "windowStart": 3}, None])
def test_odd_digest_documents(doc):
    check_format(chat_for_digest(doc))


# --- a job-level message ------------------------------------------------------------------------------


@pytest.mark.parametrize("status, event_type", [("SUCCEEDED", "JobSucceeded"), ("FAILED", "JobFailed"),
                                                ("CANCELED", "JobCanceled")])
def test_a_job_level_message(status, event_type):
    counts = {"SUCCEEDED": 120} if status == "SUCCEEDED" else {"FAILED": 3, "CANCELED": 0, "SUCCEEDED": 117}
    doc = job_run_doc(status, counts)
    message = check_format(chat_for_job_run(doc))
    content, metadata = message["content"], message["metadata"]
    assert metadata["eventType"] == event_type and metadata["threadId"] == thread_id(JOB)
    assert content["title"].startswith(("\u2705", "\u274c"))
    assert "shot-042_lighting: job " + status.lower() in content["title"]
    assert f"{sum(counts.values())} tasks" in content["title"]
    assert f"[Deadline Cloud monitor]({MONITOR}/farms/{FARM}/queues/{QUEUE}/jobs/{JOB})" in content["description"]
    assert "(was RUNNING)" in content["description"]
    assert metadata["additionalContext"]["status"] == status
    assert chat_for_job_run(doc)["id"] == message["id"]


def test_job_level_odd_and_huge_documents():
    counts = {f"STATUS_{i}": i for i in range(1000)}
    check_format(chat_for_job_run(job_run_doc("FAILED", counts, name="n" * 10_000, missing=["m" * 10_000] * 50)))
    for doc in ({}, {"jobId": None, "taskRunStatusCounts": "x"}, {"taskRunStatus": 5}, None):
        check_format(chat_for_job_run(doc))


# --- one thread per job ---------------------------------------------------------------------------------


def test_one_thread_per_job_across_the_three_kinds():
    ours = {chat_for_record(record())["metadata"]["threadId"],
            chat_for_digest(digest_doc(failures(3)))["metadata"]["threadId"],
            chat_for_job_run(job_run_doc())["metadata"]["threadId"]}
    theirs = {chat_for_record(record(jobId=OTHER_JOB))["metadata"]["threadId"],
              chat_for_digest(digest_doc(failures(3, job_id=OTHER_JOB), job=JobInfo(OTHER_JOB, "b", 1)))
              ["metadata"]["threadId"],
              chat_for_job_run(job_run_doc(job_id=OTHER_JOB))["metadata"]["threadId"]}
    assert ours == {thread_id(JOB)} and theirs == {thread_id(OTHER_JOB)}
    assert thread_id(JOB) != thread_id(OTHER_JOB)


@pytest.fixture(autouse=True)
def no_fallback(monkeypatch):
    """Every input here, odd ones included, is rendered in full: the last-resort message is not used."""
    def fail(*args):
        raise AssertionError(f"fallback used for {args}")
    monkeypatch.setattr(chat, "_fallback", fail)


def test_an_unexpected_error_gives_the_last_resort_message(monkeypatch):
    monkeypatch.setattr(chat, "_fallback", ORIGINAL_FALLBACK)
    for name, render, source in (("_record_message", chat_for_record, record()),
                                 ("_digest_message", chat_for_digest, {"jobId": JOB}),
                                 ("_job_run_message", chat_for_job_run, {"jobId": JOB, "taskRunStatus": "FAILED"})):
        monkeypatch.setattr(chat, name, lambda *_: 1 / 0)
        message = check_format(render(source))
        assert message["metadata"]["threadId"] == thread_id(JOB)
