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

# --- the record and its notifications ---------------------------------------------------------------

#: A record's ``outcome``.
OUTCOMES: Tuple[str, ...] = ("completion", "failure", "in_progress", "unknown")
#: ``kind`` message attribute: a session action's message, a job's digest of failures, a job-level message.
KIND_SESSION_ACTION = "sessionAction"
KIND_DIGEST = "digest"
KIND_JOB_RUN = "jobRun"
NOTIFICATION_KINDS: Tuple[str, ...] = (KIND_SESSION_ACTION, KIND_DIGEST, KIND_JOB_RUN)
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
DETAIL_TYPES = {KIND_SESSION_ACTION: "Session Action Ended", KIND_DIGEST: "Job Failures Digest", KIND_JOB_RUN: "Job Ended"}

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
#: Lines of the session's log a failed action's record carries (``logExcerpt``); 0: none are read.
ENV_LOG_EXCERPT_LINES = "LOG_EXCERPT_LINES"
DEFAULT_LOG_EXCERPT_LINES = 30
MAX_LOG_EXCERPT_LINES = 100

#: Every CDK context key is ``sessionWatch:<name>``.
CONTEXT_PREFIX = "sessionWatch:"


def context_key(name: str) -> str:
    """``notifyMode`` -> ``sessionWatch:notifyMode``."""
    return CONTEXT_PREFIX + name
