"""Deployment configuration read from CDK context, validated once before any construct is built.

Every key is namespaced ``sessionWatch:`` and has a documented default (``DEFAULTS`` below, mirrored in
``cdk.json``). Override any of them on the command line, e.g.::

    npx cdk deploy -c sessionWatch:farmIds=farm-0123...,farm-4567... -c sessionWatch:waitSeconds=60

Values from ``cdk.json`` are JSON; values from ``-c`` are strings, so lists accept a JSON array or a
comma-separated string, numbers accept digits, and objects accept JSON. A bad value raises
``ConfigError`` whose message starts with the key at fault; ``app.py`` turns it into a non-zero exit.
"""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlparse

PREFIX = names.CONTEXT_PREFIX

#: Session action statuses (GetSessionAction ``status``): the function's NOTIFY_STATUSES vocabulary.
SESSION_ACTION_STATUSES = names.SESSION_ACTION_STATUSES
TERMINAL_SESSION_ACTION_STATUSES = names.TERMINAL_STATUSES
#: Task run statuses (``detail.runStatus`` of "Task Run Status Change" events).
TASK_RUN_STATUSES = names.TASK_RUN_STATUSES
#: Default rule filter: the terminal task run statuses that have a session action to read.
#: NOT_COMPATIBLE is left out on purpose: such a task never ran (no fleet can take it), so it has no
#: session action for the function to record; add it with -c if you want those events anyway.
DEFAULT_TASK_RUN_STATUSES = ("SUCCEEDED", "FAILED", "CANCELED")

#: Message attributes the function sets on every notification (subscription filter policies match these).
NOTIFICATION_ATTRIBUTES = names.NOTIFICATION_ATTRIBUTES
#: ``kind``: a session action's message, a job's digest of failures, or a job-level (job run) message.
NOTIFICATION_KINDS = names.NOTIFICATION_KINDS
OUTCOMES = names.OUTCOMES
ACTION_TYPES = names.ACTION_TYPES

#: Retention values CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)

REMOVAL_POLICIES = ("retain", "destroy")

#: ``each``: one message per session action; ``digest``: one message per job and window of failures.
NOTIFY_MODES = names.NOTIFY_MODES
#: ``queue``: rule -> SQS -> function (batches); ``direct``: rule -> function (one asynchronous invoke per event).
EVENT_DELIVERIES = names.EVENT_DELIVERIES
#: Placeholders a monitor URL may hold (the function fills them in).
MONITOR_URL_PLACEHOLDERS = ("farmId", "queueId", "jobId")
#: ``default``: the account's default bus; ``create``: a bus of the stack (with an archive of its events);
#: ``none``: no events channel.
EVENT_BUSES = ("default", "create", "none")
#: Maximum concurrency of the digest queue's event source (fixed: at most one flush per job and window).
DIGEST_MAX_CONCURRENCY = 2
#: Lambda requires a batching window of at least one second when an SQS batch holds more than this.
SQS_BATCH_SIZE_WITHOUT_WINDOW = 10

_FARM_ID = re.compile(r"^farm-[0-9a-f]{32}$")
_QUEUE_ID = re.compile(r"^queue-[0-9a-f]{32}$")
_JOB_ID = re.compile(r"^job-[0-9a-f]{32}$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_SFN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
#: A KMS key ARN (not an alias: an IAM policy naming an alias ARN does not control access to the key).
#: Key ids are UUIDs, multi-Region keys ``mrk-<32 hex>`` (AWS KMS Developer Guide, "Key identifiers").
_KMS_KEY_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:kms:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:key/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$")
#: An SQS queue ARN: names are 1-80 letters, digits, '-' or '_' (a FIFO queue's ends in ``.fifo``).
_SQS_QUEUE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:sqs:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,75}(\.fifo)?$")
#: Amazon Q Developer in chat applications ids (AWS Chatbot API reference: SlackChannelConfiguration,
#: TeamsChannelConfiguration): a Slack workspace (team) id ``^[0-9A-Z]{1,255}$``, a Slack channel id
#: ``^[A-Za-z0-9]+$``; a Teams team and tenant id are UUIDs; a Teams channel id is URL-encoded
#: (``19%3a...%40thread.tacv2``), pattern ``^([a-zA-Z0-9-_=+/.,])*%3[aA]([a-zA-Z0-9-_=+/.,])*%40([a-zA-Z0-9-_=+/.,])*$``.
_SLACK_WORKSPACE_ID = re.compile(r"^[0-9A-Z]{1,255}$")
_SLACK_CHANNEL_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")
_TEAMS_CHANNEL_ID = re.compile(r"^([a-zA-Z0-9-_=+/.,])*%3[aA]([a-zA-Z0-9-_=+/.,])*%40([a-zA-Z0-9-_=+/.,])*$")

#: Every key with its default. ``cdk.json`` carries the same values (a test keeps them in step).
DEFAULTS: Dict[str, Any] = {
    "stackName": names.DEFAULT_STACK_NAME,
    "farmIds": [],
    "queueIds": [],
    "taskRunStatuses": list(DEFAULT_TASK_RUN_STATUSES),
    "notifyStatuses": list(TERMINAL_SESSION_ACTION_STATUSES),
    "notificationEmails": [],
    "operationsEmails": [],
    "recordRetentionDays": 90,
    "logRetentionDays": 30,
    "reservedConcurrency": 10,
    "eventRetryAttempts": 8,
    "eventMaxAgeHours": 4,
    "stateMachineName": "WaitForSessionAction",
    "waitSeconds": 30,
    "stateMachineTimeoutHours": 24,
    "alarmPeriodMinutes": 5,
    "alarmFunctionErrors": 1,
    "alarmFunctionThrottles": 1,
    "alarmDeadLetterMessages": 1,
    "alarmStateMachineFailures": 1,
    "removalPolicy": "retain",
    "notifyMode": names.DEFAULT_NOTIFY_MODE,
    "digestWindowSeconds": 60,
    "digestSampleSize": 10,
    "monitorUrl": "",
    "eventDelivery": "queue",
    "batchSize": 100,
    "batchWindowSeconds": 5,
    "maxConcurrency": 2,
    "enrichmentCallsPerJobWindow": 1,
    "alarmEventQueueAgeSeconds": 600,
    "deadlineKmsKeyArns": [],
    "eventBus": "default",
    "eventArchiveDays": 30,
    "eventQueueArns": [],
    "machineQueueArns": [],
    "slackChannels": [],
    "teamsChannels": [],
    # Suspect workers: a worker whose failed task runs reach suspectWorkerFailures in a window of
    # suspectWorkerWindowMinutes, making up at least suspectWorkerFailureRatio of its task runs there.
    "suspectWorkerFailures": names.DEFAULT_SUSPECT_WORKER_FAILURES,
    "suspectWorkerWindowMinutes": names.DEFAULT_SUSPECT_WORKER_WINDOW_MINUTES,
    "suspectWorkerFailureRatio": names.DEFAULT_SUSPECT_WORKER_FAILURE_RATIO,
    # WaitForJob (pipelines waiting on render jobs) and the optional SubmitAndWait example.
    "waitForJobStateMachineName": "WaitForJob",
    "waitForJobTimeoutHours": 24,
    "waiterSweepMinutes": 5,
    "submitAndWait": False,
    "logExcerptLines": names.DEFAULT_LOG_EXCERPT_LINES,
}


class ConfigError(ValueError):
    """A context value is invalid. ``key`` is the full context key (``sessionWatch:...``)."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class EmailSubscription:
    email: str
    #: Message attribute -> allowed values; empty means every notification.
    filter_policy: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SlackChannel:
    workspace_id: str
    channel_id: str


@dataclass(frozen=True)
class TeamsChannel:
    team_id: str
    channel_id: str
    tenant_id: str


@dataclass(frozen=True)
class WatchConfig:
    stack_name: str
    farm_ids: Tuple[str, ...]
    queue_ids: Tuple[str, ...]
    task_run_statuses: Tuple[str, ...]
    notify_statuses: Tuple[str, ...]
    notification_emails: Tuple[EmailSubscription, ...]
    operations_emails: Tuple[str, ...]
    record_retention_days: int
    log_retention_days: int
    reserved_concurrency: Optional[int]
    event_retry_attempts: int
    event_max_age_hours: int
    state_machine_name: str
    wait_seconds: int
    state_machine_timeout_hours: int
    alarm_period_minutes: int
    alarm_function_errors: int
    alarm_function_throttles: int
    alarm_dead_letter_messages: int
    alarm_state_machine_failures: int
    removal_policy: str
    notify_mode: str
    digest_window_seconds: int
    digest_sample_size: int
    monitor_url: Optional[str]
    event_delivery: str
    batch_size: int
    batch_window_seconds: int
    max_concurrency: int
    enrichment_calls_per_job_window: int
    alarm_event_queue_age_seconds: int
    deadline_kms_key_arns: Tuple[str, ...] = ()
    event_bus: str = "default"
    event_archive_days: int = 30
    event_queue_arns: Tuple[str, ...] = ()
    machine_queue_arns: Tuple[str, ...] = ()
    slack_channels: Tuple[SlackChannel, ...] = ()
    teams_channels: Tuple[TeamsChannel, ...] = ()
    suspect_worker_failures: int = names.DEFAULT_SUSPECT_WORKER_FAILURES
    suspect_worker_window_minutes: int = names.DEFAULT_SUSPECT_WORKER_WINDOW_MINUTES
    suspect_worker_failure_ratio: float = names.DEFAULT_SUSPECT_WORKER_FAILURE_RATIO
    wait_for_job_state_machine_name: str = "WaitForJob"
    wait_for_job_timeout_hours: int = 24
    waiter_sweep_minutes: int = 5
    submit_and_wait: bool = False
    #: Lines of the session's log a failed action's record carries (``logExcerpt``); 0 turns the reads off.
    log_excerpt_lines: int = names.DEFAULT_LOG_EXCERPT_LINES


def load_config(context: Mapping[str, Any]) -> WatchConfig:
    """Read every ``sessionWatch:`` key of ``context`` (e.g. ``app.node.get_all_context()``).

    An absent key takes its default. So does ``null``: the CDK drops null context values, so "off" is
    spelt ``"none"`` (``reservedConcurrency``).
    """
    typos = unknown_keys(context)
    if typos:
        raise ConfigError(typos[0], "is not a known key; known: "
                                    + ", ".join(sorted(PREFIX + name for name in DEFAULTS)))

    def raw(name: str) -> Any:
        value = context.get(PREFIX + name)
        return DEFAULTS[name] if value is None else value

    def key(name: str) -> str:
        return PREFIX + name

    farm_ids = _ids(key("farmIds"), raw("farmIds"), _FARM_ID, "farm-<32 hex>")
    queue_ids = _ids(key("queueIds"), raw("queueIds"), _QUEUE_ID, "queue-<32 hex>")

    config = WatchConfig(
        stack_name=_name(key("stackName"), raw("stackName"), _STACK_NAME,
                         "a CloudFormation stack name (letters, digits, hyphens; starts with a letter)"),
        farm_ids=farm_ids,
        queue_ids=queue_ids,
        task_run_statuses=_choices(key("taskRunStatuses"), raw("taskRunStatuses"), TASK_RUN_STATUSES,
                                   upper=True, allow_empty=False),
        notify_statuses=_choices(key("notifyStatuses"), raw("notifyStatuses"), SESSION_ACTION_STATUSES,
                                 upper=True, allow_empty=False),
        notification_emails=_email_subscriptions(key("notificationEmails"), raw("notificationEmails")),
        operations_emails=tuple(_email(key("operationsEmails"), e)
                                for e in _str_list(key("operationsEmails"), raw("operationsEmails"))),
        record_retention_days=_int(key("recordRetentionDays"), raw("recordRetentionDays"), 1, 3650),
        log_retention_days=_log_retention(key("logRetentionDays"), raw("logRetentionDays")),
        reserved_concurrency=_optional_int(key("reservedConcurrency"), raw("reservedConcurrency"), 1, 1000),
        event_retry_attempts=_int(key("eventRetryAttempts"), raw("eventRetryAttempts"), 0, 185),
        event_max_age_hours=_int(key("eventMaxAgeHours"), raw("eventMaxAgeHours"), 1, 24),
        state_machine_name=_name(key("stateMachineName"), raw("stateMachineName"), _SFN_NAME,
                                 "1-80 letters, digits, '-' or '_'"),
        wait_seconds=_int(key("waitSeconds"), raw("waitSeconds"), 1, 3600),
        state_machine_timeout_hours=_int(key("stateMachineTimeoutHours"), raw("stateMachineTimeoutHours"),
                                         1, 8760),
        alarm_period_minutes=_int(key("alarmPeriodMinutes"), raw("alarmPeriodMinutes"), 1, 1440),
        alarm_function_errors=_int(key("alarmFunctionErrors"), raw("alarmFunctionErrors"), 1, 100000),
        alarm_function_throttles=_int(key("alarmFunctionThrottles"), raw("alarmFunctionThrottles"), 1, 100000),
        alarm_dead_letter_messages=_int(key("alarmDeadLetterMessages"), raw("alarmDeadLetterMessages"),
                                        1, 100000),
        alarm_state_machine_failures=_int(key("alarmStateMachineFailures"), raw("alarmStateMachineFailures"),
                                          1, 100000),
        removal_policy=_choice(key("removalPolicy"), raw("removalPolicy"), REMOVAL_POLICIES),
        notify_mode=_choice(key("notifyMode"), raw("notifyMode"), NOTIFY_MODES),
        digest_window_seconds=_int(key("digestWindowSeconds"), raw("digestWindowSeconds"), 10, 840),
        digest_sample_size=_int(key("digestSampleSize"), raw("digestSampleSize"), 1, 50),
        monitor_url=_monitor_url(key("monitorUrl"), raw("monitorUrl")),
        event_delivery=_choice(key("eventDelivery"), raw("eventDelivery"), EVENT_DELIVERIES),
        batch_size=_int(key("batchSize"), raw("batchSize"), 1, 100),
        batch_window_seconds=_int(key("batchWindowSeconds"), raw("batchWindowSeconds"), 0, 300),
        max_concurrency=_int(key("maxConcurrency"), raw("maxConcurrency"), 2, 1000),
        enrichment_calls_per_job_window=_int(key("enrichmentCallsPerJobWindow"),
                                             raw("enrichmentCallsPerJobWindow"), 1, 100),
        alarm_event_queue_age_seconds=_int(key("alarmEventQueueAgeSeconds"), raw("alarmEventQueueAgeSeconds"),
                                           60, 86400),
        deadline_kms_key_arns=_ids(key("deadlineKmsKeyArns"), raw("deadlineKmsKeyArns"), _KMS_KEY_ARN,
                                   "arn:aws:kms:<region>:<account>:key/<key id> (a key ARN, not an alias)"),
        event_bus=_choice(key("eventBus"), raw("eventBus"), EVENT_BUSES),
        event_archive_days=_int(key("eventArchiveDays"), raw("eventArchiveDays"), 1, 3650),
        event_queue_arns=_ids(key("eventQueueArns"), raw("eventQueueArns"), _SQS_QUEUE_ARN,
                              "arn:aws:sqs:<region>:<account>:<queue name>"),
        machine_queue_arns=_ids(key("machineQueueArns"), raw("machineQueueArns"), _SQS_QUEUE_ARN,
                                "arn:aws:sqs:<region>:<account>:<queue name>"),
        slack_channels=_slack_channels(key("slackChannels"), raw("slackChannels")),
        teams_channels=_teams_channels(key("teamsChannels"), raw("teamsChannels")),
        suspect_worker_failures=_int(key("suspectWorkerFailures"), raw("suspectWorkerFailures"), 1, 1000),
        suspect_worker_window_minutes=_int(key("suspectWorkerWindowMinutes"), raw("suspectWorkerWindowMinutes"),
                                           1, 1440),
        suspect_worker_failure_ratio=_ratio(key("suspectWorkerFailureRatio"), raw("suspectWorkerFailureRatio")),
        wait_for_job_state_machine_name=_name(key("waitForJobStateMachineName"), raw("waitForJobStateMachineName"),
                                              _SFN_NAME, "1-80 letters, digits, '-' or '_'"),
        wait_for_job_timeout_hours=_int(key("waitForJobTimeoutHours"), raw("waitForJobTimeoutHours"), 1, 8760),
        waiter_sweep_minutes=_int(key("waiterSweepMinutes"), raw("waiterSweepMinutes"), 1, 60),
        submit_and_wait=_bool(key("submitAndWait"), raw("submitAndWait")),
        log_excerpt_lines=_int(key("logExcerptLines"), raw("logExcerptLines"), 0, names.MAX_LOG_EXCERPT_LINES),
    )
    _check_combination(config)
    return config


def _check_combination(config: WatchConfig) -> None:
    """Rules that involve two keys (each key on its own was valid)."""
    if config.batch_size > SQS_BATCH_SIZE_WITHOUT_WINDOW and config.batch_window_seconds < 1:
        raise ConfigError(PREFIX + "batchWindowSeconds",
                          f"must be at least 1 when {PREFIX}batchSize is above {SQS_BATCH_SIZE_WITHOUT_WINDOW} "
                          f"(Lambda requires a batching window for larger SQS batches); got 0 with batchSize "
                          f"{config.batch_size}")
    if config.reserved_concurrency is not None:
        # Event source mappings whose maximum concurrency exceeds the function's reserved concurrency get
        # throttled: their messages come back, are received again and end up in the dead-letter queue.
        needed = DIGEST_MAX_CONCURRENCY + (config.max_concurrency if config.event_delivery == "queue" else 0)
        if config.reserved_concurrency < needed:
            raise ConfigError(PREFIX + "reservedConcurrency",
                              f"must be at least {needed} (maxConcurrency {config.max_concurrency} of the event "
                              f"queue + {DIGEST_MAX_CONCURRENCY} of the digest queue), or none; got "
                              f"{config.reserved_concurrency}")


    if config.event_bus == "none" and config.event_queue_arns:
        raise ConfigError(PREFIX + "eventQueueArns",
                          f"needs an event bus, but {PREFIX}eventBus is none; set it to default or create, "
                          "or leave eventQueueArns empty")
    if config.wait_for_job_state_machine_name == config.state_machine_name:
        raise ConfigError(PREFIX + "waitForJobStateMachineName",
                          f"must differ from {PREFIX}stateMachineName ({config.state_machine_name!r}): two state "
                          "machines cannot share a name")


def unknown_keys(context: Mapping[str, Any]) -> Sequence[str]:
    """``sessionWatch:`` keys in ``context`` that this code does not know (typos)."""
    known = {PREFIX + name for name in DEFAULTS}
    return sorted(k for k in context if k.startswith(PREFIX) and k not in known)


# --- parsing helpers ------------------------------------------------------------------------------


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _str_list(key: str, value: Any) -> Tuple[str, ...]:
    value = _maybe_json(value)
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
        return tuple(item for item in items if item)
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(key, f"every entry must be a non-empty string, got {item!r}")
            out.append(item.strip())
        return tuple(out)
    raise ConfigError(key, f"must be a list of strings or a comma-separated string, got {value!r}")


def _ids(key: str, value: Any, pattern: "re.Pattern[str]", shape: str) -> Tuple[str, ...]:
    ids = _str_list(key, value)
    for item in ids:
        if not pattern.match(item):
            raise ConfigError(key, f"{item!r} is not an id of the form {shape}")
    if len(set(ids)) != len(ids):
        raise ConfigError(key, "lists an id twice")
    return ids


def _choices(key: str, value: Any, allowed: Sequence[str], *, upper: bool, allow_empty: bool
             ) -> Tuple[str, ...]:
    items = _str_list(key, value)
    items = tuple(item.upper() if upper else item for item in items)
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise ConfigError(key, f"unknown value(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    if not items and not allow_empty:
        raise ConfigError(key, f"must name at least one of: {', '.join(allowed)}")
    return tuple(dict.fromkeys(items))  # de-duplicated, order kept


def _bool(key: str, value: Any) -> bool:
    """true/false (JSON from cdk.json, a string from ``-c``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(key, f"must be true or false, got {value!r}")


def _choice(key: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise ConfigError(key, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value.strip().lower()


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(key, f"must be a whole number between {low} and {high}, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ConfigError(key, f"must be a whole number between {low} and {high}, got {value!r}")
        value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ConfigError(key, f"must be a whole number between {low} and {high}, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return value


def _ratio(key: str, value: Any) -> float:
    """A share of task runs: a number greater than 0 and at most 1 (JSON number or its text)."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ConfigError(key, f"must be a number greater than 0 and at most 1 (e.g. 0.8), got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(key, f"must be a number greater than 0 and at most 1 (e.g. 0.8), got {value!r}")
    return float(value)


def _optional_int(key: str, value: Any, low: int, high: int) -> Optional[int]:
    if isinstance(value, str) and value.strip().lower() in ("none", "off"):
        return None
    return _int(key, value, low, high)


def _log_retention(key: str, value: Any) -> int:
    days = _int(key, value, 1, 3653)
    if days not in LOG_RETENTION_DAYS:
        raise ConfigError(key, f"{days} is not a retention CloudWatch Logs accepts; use one of "
                               f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
    return days


def _monitor_url(key: str, value: Any) -> Optional[str]:
    if not isinstance(value, str):
        raise ConfigError(key, f"must be an https URL or empty, got {value!r}")
    url = value.strip()
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.netloc or re.search(r"\s", url) or len(url) > 2048:
        raise ConfigError(key, f"must be an https URL (https://host/...) of at most 2048 characters, got {value!r}")
    for placeholder in re.findall(r"\{([^{}]*)\}", url):
        if placeholder not in MONITOR_URL_PLACEHOLDERS:
            raise ConfigError(key, f"unknown placeholder {{{placeholder}}}; allowed: "
                                   + ", ".join("{" + p + "}" for p in MONITOR_URL_PLACEHOLDERS))
    return url


def _name(key: str, value: Any, pattern: "re.Pattern[str]", shape: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ConfigError(key, f"must be {shape}, got {value!r}")
    return value


def _email(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ConfigError(key, f"{value!r} is not an email address")
    return value.strip()


def _email_subscriptions(key: str, value: Any) -> Tuple[EmailSubscription, ...]:
    value = _maybe_json(value)
    if isinstance(value, str):
        value = _str_list(key, value)
    if not isinstance(value, (list, tuple)):
        raise ConfigError(key, "must be a list of email addresses or of "
                               '{"email": ..., "filterPolicy": {"outcome": ["failure"]}} objects')
    subscriptions = []
    for index, entry in enumerate(value):
        where = f"{key}[{index}]"
        if isinstance(entry, str):
            subscriptions.append(EmailSubscription(_email(where, entry)))
            continue
        if not isinstance(entry, dict):
            raise ConfigError(where, f"must be an email address or an object, got {entry!r}")
        extra = sorted(set(entry) - {"email", "filterPolicy"})
        if extra:
            raise ConfigError(where, f"unknown field(s) {', '.join(extra)}; allowed: email, filterPolicy")
        email = _email(f"{where}.email", entry.get("email"))
        subscriptions.append(EmailSubscription(email, _filter_policy(f"{where}.filterPolicy",
                                                                     entry.get("filterPolicy") or {})))
    emails = [s.email.lower() for s in subscriptions]
    if len(set(emails)) != len(emails):
        raise ConfigError(key, "lists an email address twice")
    return tuple(subscriptions)


_ATTRIBUTE_VALUES: Dict[str, Optional[Tuple[str, ...]]] = {
    "status": SESSION_ACTION_STATUSES,
    "outcome": OUTCOMES,
    "actionType": ACTION_TYPES,
    "farmId": None,
    "queueId": None,
    "jobId": None,
    "kind": NOTIFICATION_KINDS,
}
_ATTRIBUTE_PATTERNS = {"farmId": _FARM_ID, "queueId": _QUEUE_ID, "jobId": _JOB_ID}


def _filter_policy(key: str, value: Any) -> Mapping[str, Tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(key, f"must be an object of attribute -> list of values, got {value!r}")
    policy: Dict[str, Tuple[str, ...]] = {}
    for attribute, allowed in value.items():
        where = f"{key}.{attribute}"
        if attribute not in _ATTRIBUTE_VALUES:
            raise ConfigError(where, f"is not a notification attribute; use one of "
                                     f"{', '.join(NOTIFICATION_ATTRIBUTES)}")
        values = _str_list(where, allowed)
        if not values:
            raise ConfigError(where, "must list at least one value")
        vocabulary = _ATTRIBUTE_VALUES[attribute]
        for item in values:
            if vocabulary is not None and item not in vocabulary:
                raise ConfigError(where, f"unknown value {item!r}; allowed: {', '.join(vocabulary)}")
            if attribute in _ATTRIBUTE_PATTERNS and not _ATTRIBUTE_PATTERNS[attribute].match(item):
                raise ConfigError(where, f"{item!r} is not a valid {attribute}")
        policy[attribute] = values
    return policy


def _slack_channels(key: str, value: Any) -> Tuple[SlackChannel, ...]:
    """``T0123ABCD/C0456EFGH`` (workspace id / channel id) entries."""
    out = []
    for entry in _str_list(key, value):
        parts = entry.split("/")
        if len(parts) != 2 or not _SLACK_WORKSPACE_ID.match(parts[0]) or not _SLACK_CHANNEL_ID.match(parts[1]):
            raise ConfigError(key, f"{entry!r} is not <workspace id>/<channel id>, e.g. T0123ABCD/C0456EFGH "
                                   "(workspace id: capital letters and digits; channel id: letters and digits)")
        out.append(SlackChannel(parts[0], parts[1]))
    if len(set(out)) != len(out):
        raise ConfigError(key, "lists a channel twice")
    return tuple(out)


def _teams_channels(key: str, value: Any) -> Tuple[TeamsChannel, ...]:
    """``<team id>/<channel id>/<tenant id>`` entries (team and tenant: UUIDs; the channel id URL-encoded, and
    it may itself hold '/': the first and last parts are the team and the tenant, the rest is the channel)."""
    out = []
    for entry in _str_list(key, value):
        team, _, rest = entry.partition("/")
        channel, _, tenant = rest.rpartition("/")
        if not (_UUID.match(team) and _UUID.match(tenant) and _TEAMS_CHANNEL_ID.match(channel) and channel):
            raise ConfigError(key, f"{entry!r} is not <team id>/<channel id>/<tenant id>: team and tenant are UUIDs, "
                                   "the channel id is URL-encoded as the Amazon Q Developer console shows it "
                                   "(19%3a...%40thread.tacv2)")
        out.append(TeamsChannel(team, channel, tenant))
    if len(set(out)) != len(out):
        raise ConfigError(key, "lists a channel twice")
    return tuple(out)
