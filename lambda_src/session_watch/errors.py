"""Typed errors.

Every error raised out of the handler is one of these classes. Lambda reports the class name as
``errorType``, so a Step Functions ``Catch``/``Retry`` can match on it (``ErrorEquals``); the names are
part of the public contract (see README, "Errors").
"""

from __future__ import annotations

from . import names


class SessionWatchError(Exception):
    """Base class of every error this function raises on purpose."""

    #: True when a later retry of the same input may succeed.
    retryable = False


# --- Input -------------------------------------------------------------------------------------


class InvalidEventError(SessionWatchError):
    """The invocation input is malformed: a missing or badly formed field, or an unknown shape.

    ``field`` is the dotted path of the offending field (``detail.jobId``, ``sessionActionId``, ``event``).
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class UnsupportedEventError(InvalidEventError):
    """A well-formed EventBridge event of a kind this function does not handle."""


class ConfigurationError(SessionWatchError):
    """An environment variable is missing or invalid. ``variable`` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


class MalformedSessionActionError(SessionWatchError):
    """A Deadline Cloud answer does not have the shape of the API model. ``field`` names the part."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# --- Deadline Cloud ------------------------------------------------------------------------------


class DeadlineError(SessionWatchError):
    """A Deadline Cloud call failed. ``operation`` is the API operation, ``code`` the service error code."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        self.operation = operation
        self.code = code
        super().__init__(f"{operation}: {code}: {message}")


class DeadlineResourceNotFound(DeadlineError):
    """ResourceNotFoundException: the farm, queue, job, task or session action does not exist."""


class DeadlineAccessDenied(DeadlineError):
    """AccessDeniedException: the function's role may not read this resource."""


class DeadlineValidationError(DeadlineError):
    """ValidationException: the service rejected the request's parameters."""


class DeadlineThrottled(DeadlineError):
    """ThrottlingException after botocore's standard retries were used up."""

    retryable = True


class DeadlineUnavailable(DeadlineError):
    """A 5xx, a timeout or a connection failure after botocore's standard retries were used up."""

    retryable = True


# --- Our own stores ------------------------------------------------------------------------------


class RecordStoreError(SessionWatchError):
    """The history table could not be read or written (throttled after retries, missing table, ...)."""

    retryable = True


class NotificationError(SessionWatchError):
    """Publishing to the notification topic failed after retries. The record is kept; a retry publishes."""

    retryable = True


class NotificationRejected(NotificationError):
    """SNS rejected the message itself (``InvalidParameter``...): retrying the same message cannot help."""

    retryable = False


class DigestScheduleError(SessionWatchError):
    """The digest flush could not be put on the digest queue after retries. A retry schedules it."""

    retryable = True


class NotificationPending(SessionWatchError):
    """Another invocation holds the publishing lease for this (session action, status).

    Raised so that the event is retried later: by then the other invocation has either published (the
    retry is a no-op) or died (its lease has expired and the retry publishes). Nothing is lost.
    """

    retryable = True


class WaiterResumeError(SessionWatchError):
    """Step Functions refused to resume a waiter (throttled, KMS, ...) after retries. A retry resumes it.

    A token that no longer waits (TaskDoesNotExist, InvalidToken, TaskTimedOut) is not an error: late and
    duplicate resumptions are recorded and ignored."""

    retryable = True


#: Class names a Step Functions task should retry / should not (documented in the README; defined in
#: ``names.py``, which the stack reads too; a unit test keeps them equal to the classes here).
RETRYABLE_ERROR_NAMES = names.RETRYABLE_ERROR_NAMES
NON_RETRYABLE_ERROR_NAMES = names.NON_RETRYABLE_ERROR_NAMES


# --- Enrichment that never stops a record ------------------------------------------------------------


class SessionLogUnreadable(Exception):
    """The session's log could not be read (CloudWatch Logs refused, throttled after retries, no such
    stream). Never raised out of the handler: the record goes on with ``logExcerpt`` null and ``reason``
    (plain words a render wrangler understands) in ``enrichmentMissing``."""

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
