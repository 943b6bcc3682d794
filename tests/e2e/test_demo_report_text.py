"""The demo's text: short names by default, right plurals, a readable answer for every kind of invocation."""

from __future__ import annotations

from local.demo.checks import plural
from local.demo.report import _result_text, _rule_text, shorten


def test_plural():
    assert [plural(1, "digest"), plural(2, "digest"), plural(0, "batch", "batches"), plural(1, "batch", "batches")] == [
        "1 digest", "2 digests", "0 batches", "1 batch"]


def test_short_names_keep_what_tells_things_apart():
    text = ("DeadlineSessionWatch-EventsQueue7396B467-7CQHMUJF9TSY -> function; job job-67470adb95c5775b2e16ed419f00bfc8, "
            "sessionaction-7ca21deba26c5ee2978f5e400ae8a510-3; MonitoringDashboard0C3675C6; Logs: https://us-west-2."
            "console.aws.amazon.com/cloudwatch/home?region=us-west-2#logsV2:log-groups/log-group/$252Faws/log-events/"
            "session-7ca21deba26c5ee2978f5e400ae8a510")
    assert shorten(text) == ("EventsQueue -> function; job job-6747…, sessionaction-7ca2…-3; MonitoringDashboard; "
                             "Logs: https://us-west-2.console.aws.amazon.com/…/session-7ca2…")
    assert shorten("frame-7#2: RUNNING -> FAILED [late]: ok (batch 3)") == "frame-7#2: RUNNING -> FAILED [late]: ok (batch 3)"


def test_a_direct_invocation_answer_in_words():
    assert _result_text({"status": "FAILED", "outcome": "failure"}) == "FAILED/failure"
    assert _result_text({"jobRun": {"jobId": "job-1", "taskRunStatus": "FAILED", "status": "published"}}) == \
        "FAILED (published)"
    assert "None" not in _result_text({"skipped": "task has no session action", "status": None})


def test_a_rule_pattern_in_words():
    assert _rule_text('{"detail": {"taskRunStatus": ["SUCCEEDED", "FAILED"]}, "detail-type": ["Job Run Status Change"],'
                      ' "source": ["aws.deadline"]}') == "Job Run Status Change with taskRunStatus SUCCEEDED, FAILED"
