"""Names the function, the stack (``infra/``) and the local farm (``local/``) share, defined once.

Dependency-free on purpose: ``infra/`` and ``local/`` import this module (as
``lambda_src.session_watch.names``) without loading boto3, Powertools or the rest of the function.
"""

from __future__ import annotations

from typing import Tuple

# --- the service ---------------------------------------------------------------------------------

#: Powertools service name (``POWERTOOLS_SERVICE_NAME``) and metric namespace (``POWERTOOLS_METRICS_NAMESPACE``).
SERVICE_NAME = "session-watch"
METRICS_NAMESPACE = "DeadlineSessionWatch"
DEFAULT_STACK_NAME = "DeadlineSessionWatch"

# --- Deadline Cloud vocabulary -------------------------------------------------------------------

#: Session action statuses (GetSessionAction ``status``), by outcome.
COMPLETION_STATUSES: Tuple[str, ...] = ("SUCCEEDED",)
FAILURE_STATUSES: Tuple[str, ...] = ("FAILED", "INTERRUPTED", "CANCELED", "NEVER_ATTEMPTED", "RECLAIMED")
IN_PROGRESS_STATUSES: Tuple[str, ...] = ("ASSIGNED", "RUNNING", "CANCELING", "SCHEDULED", "RECLAIMING")
TERMINAL_STATUSES: Tuple[str, ...] = COMPLETION_STATUSES + FAILURE_STATUSES
SESSION_ACTION_STATUSES: Tuple[str, ...] = (
    "ASSIGNED", "RUNNING", "CANCELING", "SUCCEEDED", "FAILED", "INTERRUPTED", "CANCELED",
    "NEVER_ATTEMPTED", "SCHEDULED", "RECLAIMING", "RECLAIMED",
)
#: Task run statuses (``detail.runStatus`` of "Task Run Status Change" events).
TASK_RUN_STATUSES: Tuple[str, ...] = (
    "PENDING", "READY", "ASSIGNED", "STARTING", "SCHEDULED", "INTERRUPTING", "RUNNING", "SUSPENDED",
    "CANCELED", "FAILED", "SUCCEEDED", "NOT_COMPATIBLE",
)
#: Job run statuses that end a job (one job-level message each).
JOB_END_STATUSES: Tuple[str, ...] = ("SUCCEEDED", "FAILED", "CANCELED")
#: Union members of ``SessionActionDefinition``.
ACTION_TYPES: Tuple[str, ...] = ("taskRun", "envEnter", "envExit", "syncInputJobAttachments")
#: Union members of ``TaskParameterValue``.
PARAMETER_TYPES: Tuple[str, ...] = ("int", "float", "string", "path", "chunkInt")

#: Deadline Cloud's EventBridge events.
DEADLINE_SOURCE = "aws.deadline"
TASK_RUN_STATUS_CHANGE = "Task Run Status Change"
JOB_RUN_STATUS_CHANGE = "Job Run Status Change"
JOB_LIFECYCLE_STATUS_CHANGE = "Job Lifecycle Status Change"
#: Job lifecycle statuses of a job that failed before it ran (it never reaches a run status).
JOB_LIFECYCLE_FAILED_STATUSES: Tuple[str, ...] = ("CREATE_FAILED", "UPLOAD_FAILED")

# --- the record and its notifications ---------------------------------------------------------------

#: A record's ``outcome``.
OUTCOMES: Tuple[str, ...] = ("completion", "failure", "in_progress", "unknown")
#: ``kind`` message attribute: a session action's message, a job's digest of failures, a job-level message.
KIND_SESSION_ACTION = "sessionAction"
KIND_DIGEST = "digest"
KIND_JOB_RUN = "jobRun"
#: A worker that fails most task runs it picks up (``usecases/suspect_workers.py``); a job that failed
#: before it ran (``Job Lifecycle Status Change`` to CREATE_FAILED or UPLOAD_FAILED).
KIND_SUSPECT_WORKER = "suspectWorker"
KIND_JOB_LIFECYCLE = "jobLifecycle"
NOTIFICATION_KINDS: Tuple[str, ...] = (KIND_SESSION_ACTION, KIND_DIGEST, KIND_JOB_RUN, KIND_SUSPECT_WORKER,
                                       KIND_JOB_LIFECYCLE)
#: Record keys copied into every session action message's attributes (plus ``kind``).
RECORD_ATTRIBUTE_KEYS: Tuple[str, ...] = ("status", "outcome", "actionType", "farmId", "queueId", "jobId")
NOTIFICATION_ATTRIBUTES: Tuple[str, ...] = RECORD_ATTRIBUTE_KEYS + ("kind",)

#: Where notifications go, each its own format (README, "Notifications"): machines get the JSON object as
#: the SNS message body (the ``TOPIC_ARN`` topic), people by email the readable text (``EMAIL_TOPIC_ARN``),
#: people in chat Amazon Q Developer's custom notification (``CHAT_TOPIC_ARN``), and EventBridge an event
#: per notification (``EVENT_BUS_NAME``). A channel whose variable is unset is off (machines is always on).
CHANNEL_MACHINES = "machines"
CHANNEL_EMAIL = "email"
CHANNEL_CHAT = "chat"
CHANNEL_EVENTS = "events"
CHANNELS: Tuple[str, ...] = (CHANNEL_MACHINES, CHANNEL_EMAIL, CHANNEL_CHAT, CHANNEL_EVENTS)
#: The ``source`` of the EventBridge events, and their ``detail-type`` per notification kind.
EVENT_SOURCE = "session-watch"
DETAIL_TYPES = {KIND_SESSION_ACTION: "Session Action Ended", KIND_DIGEST: "Job Failures Digest", KIND_JOB_RUN: "Job Ended",
                KIND_SUSPECT_WORKER: "Suspect Worker", KIND_JOB_LIFECYCLE: "Job Failed Before Running"}

#: ``each``: one message per session action; ``digest``: one message per job and window of failures.
NOTIFY_MODE_EACH = "each"
NOTIFY_MODE_DIGEST = "digest"
NOTIFY_MODES: Tuple[str, ...] = (NOTIFY_MODE_EACH, NOTIFY_MODE_DIGEST)
DEFAULT_NOTIFY_MODE = NOTIFY_MODE_DIGEST
#: ``queue``: rule -> SQS -> function (batches); ``direct``: rule -> function (one invoke per event).
EVENT_DELIVERIES: Tuple[str, ...] = ("queue", "direct")

# --- tables --------------------------------------------------------------------------------------

#: History table: key (``jobId``, ``sessionActionId``), TTL ``expiresAt``.
HISTORY_PARTITION_KEY = "jobId"
HISTORY_SORT_KEY = "sessionActionId"
TTL_ATTRIBUTE = "expiresAt"
#: Recent outcomes of a queue: partition ``queueOutcome`` (``<queueId>#<outcome>``), sort ``occurredAt``.
QUEUE_OUTCOME_INDEX = "byQueueOutcome"
QUEUE_OUTCOME_KEY = "queueOutcome"
OCCURRED_AT_KEY = "occurredAt"
#: The failures of a job's digest window: partition ``digestWindow`` (``<jobId>#<windowStart>#<shard>``).
DIGEST_WINDOW_INDEX = "byDigestWindow"
DIGEST_WINDOW_KEY = "digestWindow"
#: Digest ledger table: key (``jobId``, ``digestKey``), TTL ``expiresAt``.
LEDGER_PARTITION_KEY = "jobId"
LEDGER_SORT_KEY = "digestKey"

# --- errors a caller can Catch (the classes live in errors.py; a test keeps them in step) ------------

RETRYABLE_ERROR_NAMES: Tuple[str, ...] = (
    "DeadlineThrottled",
    "DeadlineUnavailable",
    "RecordStoreError",
    "NotificationError",
    "NotificationPending",
    "DigestScheduleError",
    "WaiterResumeError",
)
NON_RETRYABLE_ERROR_NAMES: Tuple[str, ...] = (
    "InvalidEventError",
    "UnsupportedEventError",
    "ConfigurationError",
    "DeadlineResourceNotFound",
    "DeadlineAccessDenied",
    "DeadlineValidationError",
)

# --- the function's environment and the stack's context --------------------------------------------

ENV_TABLE_NAME = "TABLE_NAME"
ENV_TOPIC_ARN = "TOPIC_ARN"  # the machines' topic
ENV_EMAIL_TOPIC_ARN = "EMAIL_TOPIC_ARN"
ENV_CHAT_TOPIC_ARN = "CHAT_TOPIC_ARN"
ENV_EVENT_BUS_NAME = "EVENT_BUS_NAME"
ENV_NOTIFY_STATUSES = "NOTIFY_STATUSES"
ENV_RECORD_RETENTION_DAYS = "RECORD_RETENTION_DAYS"
ENV_NOTIFY_MODE = "NOTIFY_MODE"
ENV_DIGEST_WINDOW_SECONDS = "DIGEST_WINDOW_SECONDS"
ENV_DIGEST_SAMPLE_SIZE = "DIGEST_SAMPLE_SIZE"
ENV_DIGEST_TABLE_NAME = "DIGEST_TABLE_NAME"
ENV_DIGEST_QUEUE_URL = "DIGEST_QUEUE_URL"
ENV_MONITOR_URL = "MONITOR_URL"
ENV_ENRICHMENT_CALLS_PER_JOB_WINDOW = "ENRICHMENT_CALLS_PER_JOB_WINDOW"
#: Suspect workers (``sessionWatch:suspectWorker*``): failures, window and failure ratio.
ENV_SUSPECT_WORKER_FAILURES = "SUSPECT_WORKER_FAILURES"
ENV_SUSPECT_WORKER_WINDOW_MINUTES = "SUSPECT_WORKER_WINDOW_MINUTES"
ENV_SUSPECT_WORKER_FAILURE_RATIO = "SUSPECT_WORKER_FAILURE_RATIO"
DEFAULT_SUSPECT_WORKER_FAILURES = 5
DEFAULT_SUSPECT_WORKER_WINDOW_MINUTES = 15
DEFAULT_SUSPECT_WORKER_FAILURE_RATIO = 0.8
#: Lines of the session's log a failed action's record carries (``logExcerpt``); 0: none are read.
ENV_LOG_EXCERPT_LINES = "LOG_EXCERPT_LINES"
DEFAULT_LOG_EXCERPT_LINES = 30
MAX_LOG_EXCERPT_LINES = 100

#: Every CDK context key is ``sessionWatch:<name>``.
CONTEXT_PREFIX = "sessionWatch:"


def context_key(name: str) -> str:
    """``notifyMode`` -> ``sessionWatch:notifyMode``."""
    return CONTEXT_PREFIX + name


# --- waiting for jobs (WaitForJob, usecases/waiters.py) ----------------------------------------------

#: A Deadline Cloud event only waiters resume on (besides Job Run, Job Lifecycle and Task Run Status Change).
STEP_RUN_STATUS_CHANGE = "Step Run Status Change"
#: Run statuses that end a job, a step (``taskRunStatus``) or a task (``runStatus``) for a waiter.
WAIT_END_STATUSES: Tuple[str, ...] = ("SUCCEEDED", "FAILED", "CANCELED")
#: The function's direct inputs: register a waiter (WaitForJob's ``.waitForTaskToken`` step), and the
#: periodic sweep that re-checks open waiters (the schedule's input).
WAIT_FOR_JOB = "waitForJob"
SWEEP_WAITERS = "sweepWaiters"
#: What a waiter waits for: the whole job, one step, or one task.
WAIT_SCOPES: Tuple[str, ...] = ("job", "step", "task")

#: Errors WaitForJob fails with (``SendTaskFailure`` error, or the state machine's own Fail state), for a
#: caller's ``Catch``. A partial wait fails with the Step*/Task* name of what it waited for.
WAIT_ERROR_JOB_FAILED = "JobFailed"
WAIT_ERROR_JOB_CANCELED = "JobCanceled"
WAIT_ERROR_STEP_FAILED = "StepFailed"
WAIT_ERROR_STEP_CANCELED = "StepCanceled"
WAIT_ERROR_TASK_FAILED = "TaskFailed"
WAIT_ERROR_TASK_CANCELED = "TaskCanceled"
WAIT_ERROR_JOB_CREATE_FAILED = "JobCreateFailed"
WAIT_ERROR_JOB_UPLOAD_FAILED = "JobUploadFailed"
WAIT_ERROR_NOT_FOUND = "JobNotFound"  # the job (step, task) does not exist, or the function may not read it
WAIT_ERROR_TIMED_OUT = "WaitTimedOut"  # the wait outlived its timeout (States.Timeout / HeartbeatTimeout)
#: (scope, run status) -> error name.
WAIT_RUN_ERRORS = {
    ("job", "FAILED"): WAIT_ERROR_JOB_FAILED, ("job", "CANCELED"): WAIT_ERROR_JOB_CANCELED,
    ("step", "FAILED"): WAIT_ERROR_STEP_FAILED, ("step", "CANCELED"): WAIT_ERROR_STEP_CANCELED,
    ("task", "FAILED"): WAIT_ERROR_TASK_FAILED, ("task", "CANCELED"): WAIT_ERROR_TASK_CANCELED,
}
#: lifecycle status -> error name.
WAIT_LIFECYCLE_ERRORS = {"CREATE_FAILED": WAIT_ERROR_JOB_CREATE_FAILED, "UPLOAD_FAILED": WAIT_ERROR_JOB_UPLOAD_FAILED}
WAIT_ERROR_NAMES: Tuple[str, ...] = (
    WAIT_ERROR_JOB_FAILED, WAIT_ERROR_JOB_CANCELED, WAIT_ERROR_STEP_FAILED, WAIT_ERROR_STEP_CANCELED,
    WAIT_ERROR_TASK_FAILED, WAIT_ERROR_TASK_CANCELED, WAIT_ERROR_JOB_CREATE_FAILED, WAIT_ERROR_JOB_UPLOAD_FAILED,
    WAIT_ERROR_NOT_FOUND, WAIT_ERROR_TIMED_OUT,
)
#: Step Functions' answers to a token that is no longer waiting (late or duplicate resumption): recorded
#: and ignored (botocore model, stepfunctions SendTaskSuccess/SendTaskFailure errors).
TASK_TOKEN_GONE_ERRORS: Tuple[str, ...] = ("TaskDoesNotExist", "InvalidToken", "TaskTimedOut")

#: Waiter table: key (``jobId``, ``waiterKey``), TTL ``expiresAt``. ``waiterKey`` is
#: ``job#`` / ``step#<stepId>#`` / ``task#<stepId>#<taskId>#``, then a hash of the task token, so the
#: waiters an event resumes are one Query on the job with a key prefix.
WAITER_PARTITION_KEY = "jobId"
WAITER_SORT_KEY = "waiterKey"
ENV_WAITER_TABLE_NAME = "WAITER_TABLE_NAME"
#: How long a waiter item lives (hours): the WaitForJob timeout, after which Step Functions has given up.
ENV_WAITER_TTL_HOURS = "WAITER_TTL_HOURS"
#: WaitForJob's output/input limits (botocore model, stepfunctions SendTaskSuccess ``output`` max 262144,
#: SendTaskFailure ``error`` max 256 and ``cause`` max 32768).
SFN_OUTPUT_MAX = 262144
SFN_ERROR_MAX = 256
SFN_CAUSE_MAX = 32768
