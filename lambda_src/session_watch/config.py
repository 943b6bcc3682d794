"""Configuration from environment variables, validated once per execution environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import FrozenSet, Mapping, Optional, Tuple

from . import names
from .domain.record import KNOWN_STATUSES, TERMINAL_STATUSES
from .errors import ConfigurationError

_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

DEFAULT_RETENTION_DAYS = 90
NOTIFY_MODES = names.NOTIFY_MODES
DEFAULT_NOTIFY_MODE = names.DEFAULT_NOTIFY_MODE
_QUEUE_URL = re.compile(r"^https?://[A-Za-z0-9.:-]+(/[A-Za-z0-9_./-]*)?/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_MONITOR_URL = re.compile(r"^https://[^\s]{1,2000}$")
#: ``PutEventsRequestEntry.EventBusName`` (botocore model events/2015-10-07, shape
#: ``NonPartnerEventBusNameOrArn``): a bus name or its ARN, 1..1600 characters.
_EVENT_BUS = re.compile(r"^(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus/)?[.\-_A-Za-z0-9]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


@dataclass(frozen=True)
class Settings:
    table_name: str
    topic_arn: str
    notify_statuses: FrozenSet[str]
    retention_days: int
    notify_mode: str = DEFAULT_NOTIFY_MODE
    digest_window_seconds: int = 60
    digest_sample_size: int = 10
    digest_table_name: Optional[str] = None
    digest_queue_url: Optional[str] = None
    monitor_url: Optional[str] = None
    enrichment_calls_per_job_window: int = 1
    region: Optional[str] = None
    partition: str = "aws"
    #: The people's and the events' channels (each off when unset); ``topic_arn`` is the machines' topic.
    email_topic_arn: Optional[str] = None
    chat_topic_arn: Optional[str] = None
    event_bus_name: Optional[str] = None
    #: Suspect workers: at least this many failed task runs in a window of this many minutes, making up at
    #: least this share of the worker's task runs that ended in the window.
    suspect_worker_failures: int = names.DEFAULT_SUSPECT_WORKER_FAILURES
    suspect_worker_window_minutes: int = names.DEFAULT_SUSPECT_WORKER_WINDOW_MINUTES
    suspect_worker_failure_ratio: float = names.DEFAULT_SUSPECT_WORKER_FAILURE_RATIO
    #: WaitForJob's waiters (off when unset) and how long a waiter item lives (the wait's timeout).
    waiter_table_name: Optional[str] = None
    waiter_ttl_hours: int = 24
    #: Lines of the session's log a failed action's record carries (``logExcerpt``); 0: none are read.
    log_excerpt_lines: int = names.DEFAULT_LOG_EXCERPT_LINES

    @property
    def channels(self) -> Tuple[str, ...]:
        """The notification channels that are on, in ``names.CHANNELS`` order."""
        on = {names.CHANNEL_MACHINES: True, names.CHANNEL_EMAIL: bool(self.email_topic_arn),
              names.CHANNEL_CHAT: bool(self.chat_topic_arn), names.CHANNEL_EVENTS: bool(self.event_bus_name)}
        return tuple(c for c in names.CHANNELS if on[c])

    @property
    def digest(self) -> bool:
        return self.notify_mode == names.NOTIFY_MODE_DIGEST


def load_settings(environ: Optional[Mapping[str, str]] = None) -> Settings:
    """Read and validate the configuration; raise ``ConfigurationError`` naming the variable at fault."""
    env = os.environ if environ is None else environ

    table_name = env.get("TABLE_NAME", "").strip()
    if not table_name:
        raise ConfigurationError("TABLE_NAME", "is not set; it must name the DynamoDB history table")
    if not _TABLE_NAME.match(table_name):
        raise ConfigurationError("TABLE_NAME", f"{table_name!r} is not a valid DynamoDB table name")

    topic_arn = env.get("TOPIC_ARN", "").strip()
    if not topic_arn:
        raise ConfigurationError("TOPIC_ARN", "is not set; it must be the notification topic's ARN")
    if not _TOPIC_ARN.match(topic_arn):
        raise ConfigurationError("TOPIC_ARN", f"{topic_arn!r} is not an SNS topic ARN")

    raw_statuses = env.get("NOTIFY_STATUSES", "").strip()
    if raw_statuses:
        statuses = frozenset(s.strip().upper() for s in raw_statuses.split(",") if s.strip())
        unknown = sorted(statuses - KNOWN_STATUSES)
        if unknown:
            raise ConfigurationError(
                "NOTIFY_STATUSES",
                f"unknown session action status(es) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(KNOWN_STATUSES))}",
            )
        if not statuses:
            raise ConfigurationError("NOTIFY_STATUSES", "names no status")
    else:
        statuses = TERMINAL_STATUSES

    raw_days = env.get("RECORD_RETENTION_DAYS", "").strip() or str(DEFAULT_RETENTION_DAYS)
    try:
        retention_days = int(raw_days)
    except ValueError:
        raise ConfigurationError("RECORD_RETENTION_DAYS", f"{raw_days!r} is not a whole number") from None
    if not 1 <= retention_days <= 3650:
        raise ConfigurationError("RECORD_RETENTION_DAYS", f"{retention_days} is outside 1..3650")

    mode = (env.get("NOTIFY_MODE", "").strip().lower() or DEFAULT_NOTIFY_MODE)
    if mode not in NOTIFY_MODES:
        raise ConfigurationError("NOTIFY_MODE", f"{mode!r} is not one of {', '.join(NOTIFY_MODES)}")
    window = _int(env, "DIGEST_WINDOW_SECONDS", 60, 10, 840)
    sample = _int(env, "DIGEST_SAMPLE_SIZE", 10, 1, 50)
    calls = _int(env, "ENRICHMENT_CALLS_PER_JOB_WINDOW", 1, 1, 100)
    suspect_failures = _int(env, names.ENV_SUSPECT_WORKER_FAILURES, names.DEFAULT_SUSPECT_WORKER_FAILURES, 1, 1000)
    suspect_minutes = _int(env, names.ENV_SUSPECT_WORKER_WINDOW_MINUTES,
                           names.DEFAULT_SUSPECT_WORKER_WINDOW_MINUTES, 1, 1440)
    suspect_ratio = _ratio(env, names.ENV_SUSPECT_WORKER_FAILURE_RATIO, names.DEFAULT_SUSPECT_WORKER_FAILURE_RATIO)
    excerpt_lines = _int(env, names.ENV_LOG_EXCERPT_LINES, names.DEFAULT_LOG_EXCERPT_LINES, 0,
                         names.MAX_LOG_EXCERPT_LINES)

    digest_table = env.get("DIGEST_TABLE_NAME", "").strip() or None
    if digest_table and not _TABLE_NAME.match(digest_table):
        raise ConfigurationError("DIGEST_TABLE_NAME", f"{digest_table!r} is not a valid DynamoDB table name")
    digest_queue = env.get("DIGEST_QUEUE_URL", "").strip() or None
    if digest_queue and not _QUEUE_URL.match(digest_queue):
        raise ConfigurationError("DIGEST_QUEUE_URL", f"{digest_queue!r} is not an SQS queue URL")
    if mode == "digest":
        if not digest_table:
            raise ConfigurationError("DIGEST_TABLE_NAME", "is not set; digest mode needs the digest table")
        if not digest_queue:
            raise ConfigurationError("DIGEST_QUEUE_URL", "is not set; digest mode needs the digest queue")

    monitor = env.get("MONITOR_URL", "").strip() or None
    if monitor and not _MONITOR_URL.match(monitor):
        raise ConfigurationError("MONITOR_URL", f"{monitor[:80]!r} is not an https URL")

    email_topic = _optional_topic(env, names.ENV_EMAIL_TOPIC_ARN)
    chat_topic = _optional_topic(env, names.ENV_CHAT_TOPIC_ARN)
    event_bus = env.get(names.ENV_EVENT_BUS_NAME, "").strip() or None
    if event_bus and (len(event_bus) > 1600 or not _EVENT_BUS.match(event_bus)):
        raise ConfigurationError(names.ENV_EVENT_BUS_NAME, f"{event_bus[:80]!r} is not an EventBridge bus name or ARN")

    waiter_table = env.get(names.ENV_WAITER_TABLE_NAME, "").strip() or None
    if waiter_table and not _TABLE_NAME.match(waiter_table):
        raise ConfigurationError(names.ENV_WAITER_TABLE_NAME, f"{waiter_table!r} is not a valid DynamoDB table name")
    waiter_ttl = _int(env, names.ENV_WAITER_TTL_HOURS, 24, 1, 8760)

    region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip() or None
    if region and not _REGION.match(region):
        region = None  # only used for console links: a link we cannot build is left out
    partition = topic_arn.split(":", 2)[1]

    return Settings(
        table_name, topic_arn, statuses, retention_days,
        notify_mode=mode, digest_window_seconds=window, digest_sample_size=sample,
        digest_table_name=digest_table, digest_queue_url=digest_queue, monitor_url=monitor,
        enrichment_calls_per_job_window=calls, region=region, partition=partition,
        email_topic_arn=email_topic, chat_topic_arn=chat_topic, event_bus_name=event_bus,
        suspect_worker_failures=suspect_failures, suspect_worker_window_minutes=suspect_minutes,
        suspect_worker_failure_ratio=suspect_ratio,
        waiter_table_name=waiter_table, waiter_ttl_hours=waiter_ttl,
        log_excerpt_lines=excerpt_lines,
    )


def _optional_topic(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name, "").strip() or None
    if value and not _TOPIC_ARN.match(value):
        raise ConfigurationError(name, f"{value[:80]!r} is not an SNS topic ARN")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(name, f"{raw[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigurationError(name, f"{value} is outside {low}..{high}")
    return value


def _ratio(env: Mapping[str, str], name: str, default: float) -> float:
    """A share: a number greater than 0 and at most 1."""
    raw = env.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"{raw[:40]!r} is not a number") from None
    if not 0 < value <= 1:  # also rejects nan
        raise ConfigurationError(name, f"{raw[:40]} is outside (0, 1]: a share of the task runs, e.g. 0.8")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this execution environment (validated on first use, then cached)."""
    return load_settings()
