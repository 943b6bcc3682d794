"""Lambda entry point: ``session_watch.handler.lambda_handler``.

Parses the input into a typed request (or recognises an SQS batch) and hands it to the one record path
(``usecases.Service``). Everything else lives elsewhere.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, Dict

from .adapters import clients
from .adapters.deadline_reader import DeadlineReader
from .adapters.digest_ledger import DigestLedger, DigestQueue
from .adapters.notifier import Notifier
from .adapters.record_store import RecordStore
from .adapters.waiters import JobParts, TaskTokens, WaiterStore
from .adapters.session_logs import SessionLogReader
from .batch import process_batch
from .config import Settings, get_settings
from .domain.requests import is_sqs_batch, parse_invocation
from .enricher import Enricher
from .observability import logger, metrics, tracer
from .ports import Ports
from .usecases import Service

#: Time after the invocation's deadline during which its publishing lease still holds.
LEASE_MARGIN_SECONDS = 1.0


@lru_cache(maxsize=1)
def _service(settings: Settings) -> Service:
    deadline = DeadlineReader(clients.client("deadline"))
    ports = Ports(
        deadline=deadline,
        records=RecordStore(clients.client("dynamodb"), settings.table_name),
        notifications=Notifier(
            clients.client("sns"), settings.topic_arn, email_topic_arn=settings.email_topic_arn,
            chat_topic_arn=settings.chat_topic_arn, event_bus_name=settings.event_bus_name,
            events_client=clients.lazy("events") if settings.event_bus_name else None,
        ),
        # The logs client is made on first use: only failed actions read their session's log.
        enricher=Enricher(deadline, settings,
                          SessionLogReader(clients.lazy("logs")) if settings.log_excerpt_lines else None),
        ledger=DigestLedger(clients.client("dynamodb"), settings.digest_table_name)
        if settings.digest_table_name else None,
        # Most invocations never queue a flush: the SQS client is made on first use.
        flush_queue=DigestQueue(clients.lazy("sqs"), settings.digest_queue_url) if settings.digest_queue_url else None,
        # WaitForJob's waiters: the Step Functions client is made on first resumption.
        waiters=WaiterStore(clients.client("dynamodb"), settings.waiter_table_name) if settings.waiter_table_name else None,
        task_tokens=TaskTokens(clients.lazy("stepfunctions")) if settings.waiter_table_name else None,
        job_parts=JobParts(clients.lazy("deadline")) if settings.waiter_table_name else None,
    )
    return Service(ports, settings)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: Any) -> Dict[str, Any]:
    settings = get_settings()
    remaining = context.get_remaining_time_in_millis() / 1000.0
    lease_seconds = max(remaining, 0.0) + LEASE_MARGIN_SECONDS
    if is_sqs_batch(event):
        return process_batch(event, _service(settings), now=time.time(), lease_seconds=lease_seconds)
    request = parse_invocation(event)
    correlation = getattr(request, "event_id", None) or (event.get("id") if isinstance(event, dict) else None)
    logger.set_correlation_id(correlation or getattr(request, "session_action_id", None))
    return _service(settings).process(request, now=time.time(), lease_seconds=lease_seconds)  # type: ignore[return-value]


def reset_for_tests() -> None:
    """Forget cached settings, clients and adapters (tests change the environment between cases)."""
    get_settings.cache_clear()
    _service.cache_clear()
    clients.reset()
