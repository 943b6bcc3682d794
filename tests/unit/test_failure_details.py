"""What every failure carries into its messages (issue 14): the step's name instead of its id, the end of the
session's log (a block in the email, a short tail in chat, each digest sample entry), and the size rules that
make the excerpt the first thing to shrink."""

from __future__ import annotations

import json

from session_watch.domain.chat import LOG_LINES_SHOWN, chat_for_record
from session_watch.domain.digest import SAMPLE_LOG_BYTES, SAMPLE_LOG_LINES
from session_watch.domain.notification import MESSAGE_BYTE_BUDGET, render_notification
from tests.unit.test_digest import STEP_A, digest, failed
from tests.unit.test_notification import record

EXCERPT = [f"Fra:7 Mem:{n}M | Rendering {n}/13 tiles" for n in range(1, 28)] + [
    "Error: Segmentation fault (core dumped) in Cycles BVH build", "openjd: Process exited with code 139",
    "openjd: Task run FAILED"]


def failure(**overrides):
    values = dict(stepName="Render", logExcerpt=list(EXCERPT), jobName="shot-042_lighting_v003",
                  workerId="worker-" + "b" * 32)
    values.update(overrides)
    return record(**values)


def email_of(notification):
    return json.loads(notification.message)["email"]


# --- the email -----------------------------------------------------------------------------------------


def test_the_email_names_the_step_and_shows_the_log_excerpt_oldest_first():
    email = email_of(render_notification(failure()))
    assert "Step:" in email and "Render (step-" + "5" * 32 + ")" in email
    assert "The end of the session's log, up to the action's end (last 30 lines):" in email
    block = email.split("(last 30 lines):\n", 1)[1]
    assert block.index("Rendering 1/13") < block.index("Segmentation fault") < block.index("Task run FAILED")


def test_the_machines_json_keeps_the_step_id_and_name_and_every_line():
    default = json.loads(json.loads(render_notification(failure()).message)["default"])
    assert default["stepId"] == "step-" + "5" * 32 and default["stepName"] == "Render"
    assert default["logExcerpt"] == EXCERPT


def test_an_empty_excerpt_says_nothing_was_logged_and_a_null_one_is_left_out():
    assert "nothing was logged" in email_of(render_notification(failure(logExcerpt=[])))
    assert "session's log, up to" not in email_of(render_notification(failure(logExcerpt=None)))


def test_the_excerpt_shrinks_first_when_the_message_is_too_big():
    big = "x" * 120_000  # progress message and parameters together push the message over the SNS budget
    notification = render_notification(failure(progressMessage=big, parameters={"Scene": "y" * 60_000}))
    body = json.loads(notification.message)
    assert len(notification.message.encode()) <= MESSAGE_BYTE_BUDGET
    default = json.loads(body["default"])
    assert default["logExcerpt"] in (EXCERPT[-5:], None)  # shrunk before anything else was cut
    assert default["progressMessage"] == big or default["logExcerpt"] is None


# --- chat ------------------------------------------------------------------------------------------------


def test_chat_shows_the_step_name_and_a_short_tail_of_the_log():
    message = chat_for_record(failure())
    description = message["content"]["description"]
    assert "step *Render*" in description and "step-" + "5" * 32 not in description
    assert f"*Log* (last {LOG_LINES_SHOWN} lines up to the action's end):" in description
    tail = description.split("```\n", 1)[1]
    assert "openjd: Task run FAILED" in tail and "Rendering 1/13" not in description
    assert "Render" in message["content"]["title"]
    assert message["metadata"]["additionalContext"]["stepId"] == "step-" + "5" * 32  # machines keep the id
    assert len(description) <= 3000


def test_chat_without_an_excerpt_has_no_log_block():
    assert "*Log* (last" not in chat_for_record(failure(logExcerpt=None))["content"]["description"]


# --- the digest ------------------------------------------------------------------------------------------


def test_the_digest_names_steps_and_carries_each_samples_log_tail():
    records = [failed(n, stepName="Render", logExcerpt=list(EXCERPT)) for n in range(1, 4)]
    notification, doc, email = digest(records)
    assert doc["byStep"] == {STEP_A: 3} and doc["stepNames"] == {STEP_A: "Render"}
    assert all(s["stepName"] == "Render" and s["stepId"] == STEP_A for s in doc["sample"])
    first = doc["sample"][0]["logExcerpt"]
    assert first == EXCERPT[-SAMPLE_LOG_LINES:] and sum(len(x.encode()) + 1 for x in first) <= SAMPLE_LOG_BYTES
    assert "By step:\n  Render" in email and f"By step:\n  {STEP_A}" not in email
    assert "Log, up to the action's end (last 10 lines):" in email and "Task run FAILED" in email
    chat = notification.chat["content"]["description"]
    assert "*By step:* Render 3" in chat
    assert "in *Render*" in chat and "log: `Error: Segmentation fault" in chat


def test_the_largest_sample_keeps_every_excerpt_whole_within_the_sns_budget():
    """50 sample entries (the most), each with 30 long log lines and a long message: the per-entry bound
    (10 lines, 1 KiB) keeps the message within the SNS budget without cutting anything."""
    long_lines = ["z" * 600 for _ in range(30)]
    records = [failed(n, stepName="Render", logExcerpt=long_lines, message="m" * 4000) for n in range(1, 51)]
    notification, doc, _ = digest(records, sample_size=50)
    assert len(notification.message.encode()) <= MESSAGE_BYTE_BUDGET
    excerpts = [s["logExcerpt"] for s in doc["sample"]]
    assert len(excerpts) == 50 and all(e and sum(len(x.encode()) + 1 for x in e) <= SAMPLE_LOG_BYTES
                                       for e in excerpts)
    assert all(line.endswith("\u2026") for line in excerpts[0])  # each line cut to its bound, marked


def test_a_digest_too_big_for_sns_drops_the_sample_excerpts_before_anything_else():
    records = [failed(n, stepName="Render", logExcerpt=["z" * 600] * 30, message="m" * 4000,
                      parameters={f"P{i}": "s" * 3000 for i in range(30)}) for n in range(1, 51)]
    notification, doc, _ = digest(records, sample_size=50)
    assert len(notification.message.encode()) <= MESSAGE_BYTE_BUDGET
    assert all(s["logExcerpt"] is None for s in doc["sample"])
    assert doc["sample"][0]["stepName"] == "Render"  # the rest of each entry is still there
