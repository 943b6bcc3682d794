"""The one place that owns Powertools Logger, Tracer and Metrics.

Defaults apply when the Powertools variables are not set (POWERTOOLS_SERVICE_NAME,
POWERTOOLS_METRICS_NAMESPACE); the stack sets them explicitly.

Tracing costs at cold start, so it is paid for only where it is used (measured in
``benchmarks/cold_start.py``, figures in docs/benchmarks.md):

* the X-Ray SDK is imported only when Powertools would trace (in Lambda, unless
  ``POWERTOOLS_TRACE_DISABLED`` is set). Elsewhere (tests, the local demo, SAM local) the tracer gets a
  provider that records nothing, which is what the X-Ray SDK does when Powertools disables it, without
  importing the SDK (outside Lambda its recorder even builds a botocore X-Ray client at import);
* only botocore is patched: every call the function makes is an AWS SDK call, so patching the other
  libraries the X-Ray SDK knows (sqlite3, requests, httpx, database drivers, ...) would only cost
  imports.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Dict, Iterator, Mapping, Optional, Sequence

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from . import names

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or names.SERVICE_NAME
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or names.METRICS_NAMESPACE

#: Libraries the tracer instruments: the AWS SDK only (the function makes no other calls).
TRACED_MODULES = ("botocore",)


class _Untraced(BaseSegment):
    """A subsegment that records nothing (as the X-Ray SDK's dummy segments when it is disabled)."""

    def close(self, end_time: Optional[int] = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class UntracedProvider(BaseProvider):
    """The tracer's provider when tracing is off: no X-Ray SDK import, nothing recorded or sent."""

    @contextmanager
    def in_subsegment(self, name: Optional[str] = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _Untraced()

    @asynccontextmanager
    async def in_subsegment_async(self, name: Optional[str] = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        yield _Untraced()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


def tracing_enabled() -> bool:
    """Whether Powertools traces in this environment (its own rule: in Lambda, not under SAM local or
    Chalice, and not disabled with ``POWERTOOLS_TRACE_DISABLED``)."""
    return not Tracer._is_tracer_disabled()


def _make_tracer() -> Tracer:
    if tracing_enabled():
        return Tracer(service=SERVICE, patch_modules=TRACED_MODULES)
    return Tracer(service=SERVICE, disabled=True, provider=UntracedProvider())


logger = Logger(service=SERVICE)
tracer = _make_tracer()
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
    DIGESTED = "AddedToDigest"
    DIGESTS_PUBLISHED = "DigestsPublished"
    JOB_RUN_PUBLISHED = "JobRunMessagesPublished"
    ENRICHMENT_SKIPPED = "EnrichmentCallsSkipped"
    ENRICHMENT_FAILED = "EnrichmentCallsFailed"
    ITEM_FAILURES = "BatchItemFailures"
    SUSPECT_WORKERS = "SuspectWorkersPublished"
    JOB_LIFECYCLE_PUBLISHED = "JobLifecycleMessagesPublished"
    WAITERS_REGISTERED = "WaitersRegistered"
    WAITERS_RESUMED = "WaitersResumed"
    WAITERS_RESUMED_BY_SWEEP = "WaitersResumedBySweep"
    WAITER_TOKENS_GONE = "WaiterTokensGone"


def count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


#: Record keys that may be logged: ids and statuses. Never parameters, progress messages or log lines.
LOGGABLE_RECORD_KEYS = ("farmId", "queueId", "jobId", "sessionId", "sessionActionId", "status", "outcome",
                        "actionType", "stepId", "taskId", "environmentId", "processExitCode")


def safe_summary(record: Mapping[str, Any]) -> Dict[str, Any]:
    """What may be logged about a record (``LOGGABLE_RECORD_KEYS``)."""
    return {key: record.get(key) for key in LOGGABLE_RECORD_KEYS}
