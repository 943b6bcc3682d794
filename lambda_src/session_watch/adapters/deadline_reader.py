"""Reads session actions and tasks from Deadline Cloud, mapping its errors to typed ones."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    ReadTimeoutError,
)

from botocore.parsers import ResponseParserError

from ..domain.requests import SessionActionRef, TaskRunChange
from ..ports import BatchAnswer, Identifier
from ..errors import (
    DeadlineAccessDenied,
    DeadlineError,
    DeadlineResourceNotFound,
    DeadlineThrottled,
    DeadlineUnavailable,
    DeadlineValidationError,
    MalformedSessionActionError,
)

#: Most identifiers a Deadline Cloud Batch* call takes.
BATCH_LIMIT = 100

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
        raise cls(operation, code, message + _hint(code, message)) from None
    except (ResponseParserError, AttributeError, TypeError, ValueError, RuntimeError) as err:
        # botocore's parser meets an answer that breaks the API model: name it, never a bare error.
        raise MalformedSessionActionError(
            f"{operation} response", f"does not fit the API model ({type(err).__name__})"
        ) from None
    except (BotoConnectionError, ReadTimeoutError) as err:
        raise DeadlineUnavailable(operation, type(err).__name__, str(err)) from None
    except BotoCoreError as err:
        raise DeadlineUnavailable(operation, type(err).__name__, str(err)) from None


def _typed_error(operation: str, code: str, message: str) -> DeadlineError:
    """A per-item error of a Batch* answer as the typed error a single call would have raised."""
    return _ERRORS.get(code, DeadlineError)(operation, code, message + _hint(code, message))


#: What a refused read of a farm encrypted with a customer managed key needs (Deadline Cloud Developer
#: Guide, "Key management": kms:Decrypt and kms:DescribeKey on the key, through Deadline Cloud).
KMS_HINT = (" (if the farm is encrypted with a customer managed KMS key, add the key's ARN to the context key "
            "sessionWatch:deadlineKmsKeyArns and deploy again: the function then may use it through Deadline Cloud)")


def _hint(code: str, message: str) -> str:
    """What to do about an access denial that names KMS."""
    if code in ("AccessDeniedException", "AccessDenied") and "kms" in message.lower():
        return KMS_HINT
    return ""




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


    # --- enrichment reads ----------------------------------------------------------------------

    def get_job(self, farm_id: str, queue_id: str, job_id: str) -> Dict[str, Any]:
        with _deadline_call("GetJob"):
            response = self._client.get_job(farmId=farm_id, queueId=queue_id, jobId=job_id)
        return _plain(response)

    def get_session(self, farm_id: str, queue_id: str, job_id: str, session_id: str) -> Dict[str, Any]:
        with _deadline_call("GetSession"):
            response = self._client.get_session(
                farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=session_id
            )
        return _plain(response)

    def get_step(self, farm_id: str, queue_id: str, job_id: str, step_id: str) -> Dict[str, Any]:
        with _deadline_call("GetStep"):
            response = self._client.get_step(farmId=farm_id, queueId=queue_id, jobId=job_id, stepId=step_id)
        return _plain(response)

    def session_actions_of_session(
        self, farm_id: str, queue_id: str, job_id: str, session_id: str
    ) -> List[Dict[str, Any]]:
        """Summaries of every action of one session (ListSessionActions(sessionId=...), all pages)."""
        summaries: List[Dict[str, Any]] = []
        with _deadline_call("ListSessionActions"):
            paginator = self._client.get_paginator("list_session_actions")
            for page in paginator.paginate(
                farmId=farm_id, queueId=queue_id, jobId=job_id, sessionId=session_id,
                PaginationConfig={"PageSize": 100},
            ):
                summaries.extend(page.get("sessionActions") or [])
        for i, summary in enumerate(summaries):
            if not isinstance(summary, dict) or not summary.get("sessionActionId"):
                raise MalformedSessionActionError(f"sessionActions[{i}].sessionActionId", "is missing")
        return summaries

    # --- batch reads (up to BATCH_LIMIT identifiers a call, per-item errors) ---------------------
    # Every request identifier and every answer (item or error) is keyed by the item's whole identifier
    # (farmId, queueId, jobId, ... and its own id): the Batch* answers carry all of them (botocore model,
    # ``BatchGet*Item`` / ``BatchGet*Error``), and an id alone may be asked for under two jobs in one batch.

    def batch_get_session_actions(self, refs: Iterable[SessionActionRef]) -> BatchAnswer:
        """Full session actions, and the typed error of each identifier the service could not return."""
        return self._batch("BatchGetSessionAction", "batch_get_session_action", "sessionActions",
                           SESSION_ACTION_KEYS,
                           [{"farmId": r.farm_id, "queueId": r.queue_id, "jobId": r.job_id,
                             "sessionActionId": r.session_action_id} for r in refs])

    def batch_get_tasks(self, tasks: Iterable[TaskRunChange]) -> BatchAnswer:
        return self._batch("BatchGetTask", "batch_get_task", "tasks", TASK_KEYS,
                           [{"farmId": t.farm_id, "queueId": t.queue_id, "jobId": t.job_id, "stepId": t.step_id,
                             "taskId": t.task_id} for t in tasks])

    def batch_get_jobs(self, jobs: Iterable[Tuple[str, str, str]]) -> BatchAnswer:
        return self._batch("BatchGetJob", "batch_get_job", "jobs", JOB_KEYS,
                           [{"farmId": farm, "queueId": queue, "jobId": job} for farm, queue, job in jobs])

    def batch_get_sessions(self, sessions: Iterable[Tuple[str, str, str, str]]) -> BatchAnswer:
        return self._batch("BatchGetSession", "batch_get_session", "sessions", SESSION_KEYS,
                           [{"farmId": farm, "queueId": queue, "jobId": job, "sessionId": session}
                            for farm, queue, job, session in sessions])

    def batch_get_steps(self, steps: Iterable[Tuple[str, str, str, str]]) -> BatchAnswer:
        return self._batch("BatchGetStep", "batch_get_step", "steps", STEP_KEYS,
                           [{"farmId": farm, "queueId": queue, "jobId": job, "stepId": step}
                            for farm, queue, job, step in steps])

    def _batch(
        self, operation: str, method: str, list_key: str, keys: Tuple[str, ...],
        identifiers: Sequence[Dict[str, str]],
    ) -> BatchAnswer:
        unique = list({identifier_of(i, keys): i for i in identifiers}.items())
        found: Dict[Identifier, Dict[str, Any]] = {}
        errors: Dict[Identifier, DeadlineError] = {}
        for start in range(0, len(unique), BATCH_LIMIT):
            chunk = unique[start:start + BATCH_LIMIT]
            with _deadline_call(operation):
                response = getattr(self._client, method)(identifiers=[i for _, i in chunk])
            for i, item in enumerate(response.get(list_key) or []):
                ident = _answer_identifier(item, keys, f"{operation} {list_key}[{i}]")
                found[ident] = _plain(item)
            for i, error in enumerate(response.get("errors") or []):
                ident = _answer_identifier(error, keys, f"{operation} errors[{i}]")
                code = str(error.get("code") or "Unknown")
                errors[ident] = _typed_error(operation, code, str(error.get("message") or ""))
            for ident, _ in chunk:
                if ident not in found and ident not in errors:
                    errors[ident] = DeadlineUnavailable(
                        operation, "Missing", "the answer neither returned nor failed this item; retry"
                    )
        return found, errors


#: The whole identifier of each kind of item, in order (the key of a Batch* answer).
SESSION_ACTION_KEYS = ("farmId", "queueId", "jobId", "sessionActionId")
TASK_KEYS = ("farmId", "queueId", "jobId", "stepId", "taskId")
JOB_KEYS = ("farmId", "queueId", "jobId")
SESSION_KEYS = ("farmId", "queueId", "jobId", "sessionId")
STEP_KEYS = ("farmId", "queueId", "jobId", "stepId")


def identifier_of(obj: Mapping[str, Any], keys: Tuple[str, ...]) -> Identifier:
    return tuple(str(obj[k]) for k in keys)


def _answer_identifier(obj: Any, keys: Tuple[str, ...], where: str) -> Identifier:
    if not isinstance(obj, Mapping):
        raise MalformedSessionActionError(where, "is not an object")
    for key in keys:
        if not isinstance(obj.get(key), str):
            raise MalformedSessionActionError(f"{where}.{key}", "is missing")
    return identifier_of(obj, keys)


def _newest_first_key(summary: Dict[str, Any]) -> tuple:
    """Order by the action's times, then by the number that ends its id (``sessionaction-<hex>-<n>``)."""
    times = [summary.get(k) for k in ("endedAt", "workerUpdatedAt", "startedAt")]
    latest = max((t.timestamp() for t in times if isinstance(t, datetime)), default=0.0)
    suffix = str(summary["sessionActionId"]).rsplit("-", 1)[-1]
    return (latest, int(suffix) if suffix.isdigit() else -1)


def _plain(response: Mapping[str, Any]) -> Dict[str, Any]:
    result = dict(response)
    result.pop("ResponseMetadata", None)
    return result
