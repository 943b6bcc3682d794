"""The one place that owns Powertools Logger, Tracer and Metrics.

Defaults apply when the Powertools variables are not set (POWERTOOLS_SERVICE_NAME,
POWERTOOLS_METRICS_NAMESPACE); the stack sets them explicitly.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "session-watch"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "DeadlineSessionWatch"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


class Metric:
    """Metric names (namespace ``DeadlineSessionWatch``, dimension ``service``)."""

    RECORDED = "Recorded"
    PUBLISHED = "Published"
    DEDUPLICATED = "Deduplicated"
    FAILURES = "Failures"
    COMPLETIONS = "Completions"
    STALE_IGNORED = "StaleIgnored"
    UNKNOWN_STATUS = "UnknownStatus"
    NO_SESSION_ACTION = "TaskWithoutSessionAction"


def count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
