"""Configuration from environment variables, validated once per execution environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import FrozenSet, Mapping, Optional

from .domain.record import KNOWN_STATUSES, TERMINAL_STATUSES
from .errors import ConfigurationError

_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

DEFAULT_RETENTION_DAYS = 90


@dataclass(frozen=True)
class Settings:
    table_name: str
    topic_arn: str
    notify_statuses: FrozenSet[str]
    retention_days: int


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

    return Settings(table_name, topic_arn, statuses, retention_days)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this execution environment (validated on first use, then cached)."""
    return load_settings()
