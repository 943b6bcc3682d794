"""The session log adapter (CloudWatch Logs GetLogEvents, through botocore's Stubber) and the excerpt's bounds."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from session_watch.adapters.session_logs import SessionLogReader
from session_watch.domain.enrichment import (
    LINE_CUT,
    LOG_EXCERPT_BYTES,
    excerpt_lines,
    log_end_time_ms,
)
from session_watch.errors import SessionLogUnreadable

GROUP = "/aws/deadline/farm-" + "0" * 32 + "/queue-" + "1" * 32
STREAM = "session-" + "2" * 32


def stubbed():
    client = boto3.client("logs", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def test_tail_reads_backwards_from_the_end_time_with_the_line_limit():
    client, stub = stubbed()
    stub.add_response(
        "get_log_events",
        {"events": [{"timestamp": 1, "message": "first", "ingestionTime": 2},
                    {"timestamp": 2, "message": "second", "ingestionTime": 3}],
         "nextForwardToken": "f/1", "nextBackwardToken": "b/1"},
        {"logGroupName": GROUP, "logStreamName": STREAM, "startFromHead": False, "limit": 30, "endTime": 1234},
    )
    with stub:
        assert SessionLogReader(client).tail(GROUP, STREAM, end_time_ms=1234, lines=30) == ["first", "second"]
    stub.assert_no_pending_responses()


def test_tail_without_an_end_time_reads_the_end_of_the_stream():
    client, stub = stubbed()
    stub.add_response("get_log_events", {"events": []},
                      {"logGroupName": GROUP, "logStreamName": STREAM, "startFromHead": False, "limit": 5})
    with stub:
        assert SessionLogReader(client).tail(GROUP, STREAM, end_time_ms=None, lines=5) == []


@pytest.mark.parametrize("code,words", [
    ("ResourceNotFoundException", "not in CloudWatch Logs"),
    ("AccessDeniedException", "may not read the session's log"),
    ("ThrottlingException", "busy"),
    ("ServiceUnavailableException", "did not answer"),
    ("InvalidParameterException", "could not be read"),
])
def test_get_log_events_errors_become_plain_words(code, words):
    client, stub = stubbed()
    stub.add_client_error("get_log_events", service_error_code=code, service_message="nope")
    with stub, pytest.raises(SessionLogUnreadable) as caught:
        SessionLogReader(client).tail(GROUP, STREAM, end_time_ms=1, lines=30)
    assert caught.value.code == code
    assert words in caught.value.reason and code in caught.value.reason
    assert "nope" not in caught.value.reason  # the service's own message is not repeated to people


def test_the_excerpt_keeps_the_last_lines_oldest_first():
    assert excerpt_lines([f"l{i}" for i in range(100)], max_lines=3) == ["l97", "l98", "l99"]
    assert excerpt_lines(["a\nb", "c\n"], max_lines=10) == ["a", "b", "c"]  # a message of several lines
    assert excerpt_lines(["a"], max_lines=0) == []


def test_the_excerpt_is_bounded_in_bytes_and_cuts_long_lines():
    long = "x" * 5000
    out = excerpt_lines([long], max_lines=5)
    assert out[0].endswith(LINE_CUT) and len(out[0].encode()) <= 512

    many = excerpt_lines(["\u00e9" * 200 for _ in range(100)], max_lines=100)  # 400 bytes each
    assert sum(len(line.encode()) + 1 for line in many) <= LOG_EXCERPT_BYTES
    assert len(many) == LOG_EXCERPT_BYTES // 401  # the newest that fit


def test_control_characters_become_spaces():
    assert excerpt_lines(["\x1b[31mred\x1b[0m\tok"], max_lines=1) == [" [31mred [0m\tok"]


def test_the_end_time_is_the_actions_end_plus_one_millisecond():
    assert log_end_time_ms({"endedAt": "2026-11-30T07:00:00.250Z"}) == 1_796_022_000_250 + 1
    assert log_end_time_ms({"endedAt": None, "workerUpdatedAt": "2026-11-30T07:00:00Z"}) == 1_796_022_000_001
    assert log_end_time_ms({"endedAt": None}) is None
