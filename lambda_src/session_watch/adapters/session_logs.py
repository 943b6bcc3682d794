"""Reads the end of a session's log from CloudWatch Logs (``GetLogEvents``), mapping its errors to plain words.

Deadline Cloud writes each session's log to CloudWatch Logs: group ``/aws/deadline/<farmId>/<queueId>``,
stream ``<sessionId>`` (or what ``GetSession.log.options`` names); one stream holds every action of the
session in time order, so the lines of one action end at its ``endedAt``. ``tail`` reads backwards from
``endTime`` (``startFromHead=false``, ``limit``): one call, the newest ``limit`` events before that time.
The answer's ``events`` are in time order, oldest first (CloudWatch Logs API Reference, GetLogEvents).

The lines are log lines of the render: sensitive. They are returned and never logged here.
"""

from __future__ import annotations

from typing import Any, List, Optional

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import SessionLogUnreadable

#: GetLogEvents' ``limit`` is 1..10000 (CloudWatch Logs API Reference, GetLogEvents).
MAX_LIMIT = 10000


class SessionLogReader:
    """``SessionLogPort`` over a CloudWatch Logs client (made lazily: ``clients.lazy("logs")``)."""

    def __init__(self, logs_client: Any) -> None:
        self._client = logs_client

    def tail(self, log_group: str, log_stream: str, *, end_time_ms: Optional[int], lines: int) -> List[str]:
        params: dict = {
            "logGroupName": log_group,
            "logStreamName": log_stream,
            "startFromHead": False,
            "limit": max(1, min(int(lines), MAX_LIMIT)),
        }
        if end_time_ms is not None:
            params["endTime"] = int(end_time_ms)
        try:
            response = self._client.get_log_events(**params)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code") or "Unknown")
            raise SessionLogUnreadable(_words(code), code) from None
        except BotoCoreError as err:
            raise SessionLogUnreadable(f"CloudWatch Logs did not answer, still after retries "
                                       f"(GetLogEvents {type(err).__name__})", type(err).__name__) from None
        events = response.get("events") or []
        return [str(e.get("message", "")) for e in events if isinstance(e, dict)]


def _words(code: str) -> str:
    if code == "ResourceNotFoundException":
        return ("the session's log is not in CloudWatch Logs (no such log group or stream yet) "
                "(GetLogEvents ResourceNotFoundException)")
    if code in ("AccessDeniedException", "AccessDenied"):
        return ("this service may not read the session's log (access denied: the function's role reads only the "
                "log groups of the farms and queues it watches) (GetLogEvents AccessDeniedException)")
    if code in ("ThrottlingException", "LimitExceededException"):
        return f"CloudWatch Logs was busy and refused the read, still after retries (GetLogEvents {code})"
    if code == "ServiceUnavailableException":
        return "CloudWatch Logs did not answer, still after retries (GetLogEvents ServiceUnavailableException)"
    return f"the session's log could not be read (GetLogEvents {code})"
