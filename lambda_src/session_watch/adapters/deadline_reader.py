"""Reads session actions and tasks from Deadline Cloud, mapping its errors to typed ones."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    ReadTimeoutError,
)

from botocore.parsers import ResponseParserError

from ..domain.requests import SessionActionRef, TaskRunChange
from ..errors import (
    DeadlineAccessDenied,
    DeadlineError,
    DeadlineResourceNotFound,
    DeadlineThrottled,
    DeadlineUnavailable,
    DeadlineValidationError,
    MalformedSessionActionError,
)

_ERRORS = {
    "ResourceNotFoundException": DeadlineResourceNotFound,
    "AccessDeniedException": DeadlineAccessDenied,
    "ValidationException": DeadlineValidationError,
    "ThrottlingException": DeadlineThrottled,
    "InternalServerErrorException": DeadlineUnavailable,
}


@contextmanager
def _deadline_call(operation: str) -> Iterator[None]:
    """Translate what botocore raises (after its own retries) into this project's typed errors."""
    try:
        yield
    except ClientError as err:
        error = err.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or "")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        cls = _ERRORS.get(code)
        if cls is None:
            cls = DeadlineUnavailable if status >= 500 else DeadlineError
        raise cls(operation, code, message) from None
    except (ResponseParserError, AttributeError, TypeError, ValueError, RuntimeError) as err:
        # botocore's parser meets an answer that breaks the API model: name it, never a bare error.
        raise MalformedSessionActionError(
            f"{operation} response", f"does not fit the API model ({type(err).__name__})"
        ) from None
    except (BotoConnectionError, ReadTimeoutError) as err:
        raise DeadlineUnavailable(operation, type(err).__name__, str(err)) from None
    except BotoCoreError as err:
        raise DeadlineUnavailable(operation, type(err).__name__, str(err)) from None


class DeadlineReader:
    def __init__(self, deadline_client: Any) -> None:
        self._client = deadline_client

    def get_session_action(self, ref: SessionActionRef) -> Dict[str, Any]:
        with _deadline_call("GetSessionAction"):
            response = self._client.get_session_action(
                farmId=ref.farm_id,
                queueId=ref.queue_id,
                jobId=ref.job_id,
                sessionActionId=ref.session_action_id,
            )
        response = dict(response)
        response.pop("ResponseMetadata", None)
        return response

    def latest_session_action_id(self, task: TaskRunChange) -> Optional[str]:
        """The task's latest session action: ``GetTask.latestSessionActionId``, else the newest listed."""
        with _deadline_call("GetTask"):
            response = self._client.get_task(
                farmId=task.farm_id,
                queueId=task.queue_id,
                jobId=task.job_id,
                stepId=task.step_id,
                taskId=task.task_id,
            )
        latest = response.get("latestSessionActionId")
        if latest:
            return str(latest)
        summaries = self.task_session_actions(task)
        return summaries[0]["sessionActionId"] if summaries else None

    def task_session_actions(self, task: TaskRunChange) -> List[Dict[str, Any]]:
        """Summaries of the task's session actions, newest first."""
        summaries: List[Dict[str, Any]] = []
        with _deadline_call("ListSessionActions"):
            paginator = self._client.get_paginator("list_session_actions")
            for page in paginator.paginate(
                farmId=task.farm_id,
                queueId=task.queue_id,
                jobId=task.job_id,
                taskId=task.task_id,
                PaginationConfig={"PageSize": 100},
            ):
                summaries.extend(page.get("sessionActions") or [])
        for i, summary in enumerate(summaries):
            if not isinstance(summary, dict) or not summary.get("sessionActionId"):
                raise MalformedSessionActionError(
                    f"sessionActions[{i}].sessionActionId", "is missing"
                )
        summaries.sort(key=_newest_first_key, reverse=True)
        return summaries


def _newest_first_key(summary: Dict[str, Any]) -> tuple:
    """Order by the action's times, then by the number that ends its id (``sessionaction-<hex>-<n>``)."""
    times = [summary.get(k) for k in ("endedAt", "workerUpdatedAt", "startedAt")]
    latest = max((t.timestamp() for t in times if hasattr(t, "timestamp")), default=0.0)
    suffix = str(summary["sessionActionId"]).rsplit("-", 1)[-1]
    return (latest, int(suffix) if suffix.isdigit() else -1)
