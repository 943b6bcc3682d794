"""Lambda entry point: ``session_watch.handler.lambda_handler``.

Parses the input into a typed request and calls ``service.process``. Everything else lives elsewhere.
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
from .config import Settings, get_settings
from .domain.requests import is_sqs_batch, parse_invocation
from .enricher import Enricher
from .observability import logger, metrics, tracer
from .service import Ports, process

#: Time after the invocation's deadline during which its publishing lease still holds.
LEASE_MARGIN_SECONDS = 1.0


@lru_cache(maxsize=1)
def _ports(settings: Settings) -> Ports:
    deadline = DeadlineReader(clients.client("deadline"))
    return Ports(
        deadline=deadline,
        records=RecordStore(clients.client("dynamodb"), settings.table_name),
        notifications=Notifier(clients.client("sns"), settings.topic_arn),
        enricher=Enricher(deadline, settings),
        ledger=DigestLedger(clients.client("dynamodb"), settings.digest_table_name)
        if settings.digest_table_name else None,
        digest_queue=_LazyQueue(settings.digest_queue_url) if settings.digest_queue_url else None,
    )


class _LazyQueue:
    """The digest queue adapter, with its SQS client made on first use (most invocations never send)."""

    def __init__(self, url: str) -> None:
        self._url = url

    def schedule_flush(self, flush, *, delay_seconds):
        return DigestQueue(clients.client("sqs"), self._url).schedule_flush(flush, delay_seconds=delay_seconds)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: Any) -> Dict[str, Any]:
    settings = get_settings()
    remaining = context.get_remaining_time_in_millis() / 1000.0
    lease_seconds = max(remaining, 0.0) + LEASE_MARGIN_SECONDS
    if is_sqs_batch(event):
        from .batch import process_batch  # Powertools' batch utility: loaded only by the batch path

        return process_batch(event, _ports(settings), settings, now=time.time(), lease_seconds=lease_seconds)
    request = parse_invocation(event)
    correlation = getattr(request, "event_id", None) or (event.get("id") if isinstance(event, dict) else None)
    logger.set_correlation_id(correlation or getattr(request, "session_action_id", None))
    return process(request, _ports(settings), settings, now=time.time(), lease_seconds=lease_seconds)


def reset_for_tests() -> None:
    """Forget cached settings, clients and adapters (tests change the environment between cases)."""
    get_settings.cache_clear()
    _ports.cache_clear()
    clients.reset()
