"""The stack and the function agree: error names, statuses, notification attributes, metrics, handler."""

from __future__ import annotations

import importlib

from pathlib import Path

import pytest

from infra import config
from infra.constructs import digests, processing, state_machine
from infra.constructs.history_table import (
    DIGEST_WINDOW_INDEX,
    DIGEST_WINDOW_KEY,
    OCCURRED_AT_KEY,
    QUEUE_OUTCOME_INDEX,
    QUEUE_OUTCOME_KEY,
    TTL_ATTRIBUTE,
)

FUNCTION_PACKAGE = Path(__file__).resolve().parents[2] / "lambda_src" / "session_watch"


def test_retried_error_names_are_the_functions_retryable_errors():
    from session_watch import errors

    assert set(state_machine.FUNCTION_RETRYABLE_ERRORS) == set(errors.RETRYABLE_ERROR_NAMES)
    for name in state_machine.FUNCTION_RETRYABLE_ERRORS:
        assert getattr(errors, name).retryable is True
    for name in state_machine.NON_RETRYABLE_ERRORS:
        assert getattr(errors, name).retryable is False


def test_status_vocabularies_match_the_function():
    from session_watch.domain import record

    assert set(config.SESSION_ACTION_STATUSES) == set(record.KNOWN_STATUSES)
    assert set(config.TERMINAL_SESSION_ACTION_STATUSES) == set(record.TERMINAL_STATUSES)
    assert set(config.OUTCOMES) == {o.value for o in record.Outcome}
    assert set(config.ACTION_TYPES) == set(record.KNOWN_ACTION_TYPES)


def test_filter_policy_attributes_are_the_message_attributes_the_function_sets():
    from session_watch.domain import notification

    # Every message also carries "kind" (sessionAction, digest or jobRun).
    assert set(config.NOTIFICATION_ATTRIBUTES) == set(notification.ATTRIBUTE_KEYS) | {"kind"}
    assert set(config.NOTIFICATION_KINDS) == {
        notification.KIND_SESSION_ACTION, notification.KIND_DIGEST, notification.KIND_JOB_RUN}


def test_dashboard_metrics_are_metrics_the_function_emits():
    from session_watch.observability import Metric

    emitted = {v for k, v in vars(Metric).items() if k.isupper()}
    assert {"Failures", "Completions", "Recorded", "Published", "Deduplicated", "StaleIgnored",
            "UnknownStatus"} <= emitted


def test_handler_is_importable():
    module, function = processing.HANDLER.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("overrides", [
    {},  # the defaults: digest mode
    {"notifyMode": "each", "monitorUrl": "https://monitor.example.com/{farmId}/{queueId}/{jobId}",
     "digestWindowSeconds": 840, "digestSampleSize": 50, "enrichmentCallsPerJobWindow": 100},
])
def test_the_environment_the_stack_sets_is_one_the_function_accepts(overrides):
    """``processing.function_environment`` (what the stack gives the function) through the function's own
    ``load_settings``, with concrete names where the template has tokens."""
    from session_watch.config import load_settings

    cfg = config.load_config({config.PREFIX + k: v for k, v in overrides.items()})
    environment = processing.function_environment(
        cfg,
        table_name="DeadlineSessionWatch-HistoryTable-1A2B3C",
        topic_arn="arn:aws:sns:us-west-2:111122223333:DeadlineSessionWatch-Topic-1A2B3C",
        digest_table_name="DeadlineSessionWatch-DigestsTable-1A2B3C",
        digest_queue_url="https://sqs.us-west-2.amazonaws.com/111122223333/DeadlineSessionWatch-DigestsQueue-1A2B3C",
    )
    assert ("MONITOR_URL" in environment) == bool(cfg.monitor_url)
    settings = load_settings(environment)
    assert settings.retention_days == cfg.record_retention_days


def _function_source() -> str:
    return "\n".join(p.read_text() for p in sorted(FUNCTION_PACKAGE.rglob("*.py")))


def test_digest_names_match_the_function():
    """The history index and the digest ledger's key names appear in the function's code."""
    source = _function_source()
    for name in (DIGEST_WINDOW_INDEX, DIGEST_WINDOW_KEY, digests.SORT_KEY):
        assert name in source, name
    for variable in ("NOTIFY_MODE", "DIGEST_WINDOW_SECONDS", "DIGEST_SAMPLE_SIZE", "DIGEST_TABLE_NAME",
                     "DIGEST_QUEUE_URL", "ENRICHMENT_CALLS_PER_JOB_WINDOW", "MONITOR_URL"):
        assert variable in source, variable


def test_deadline_operations_are_authorized_by_the_granted_actions():
    assert set(processing.DEADLINE_OPERATIONS.values()) == set(processing.DEADLINE_READ_ACTIONS)
    for operation, action in processing.DEADLINE_OPERATIONS.items():
        assert action == "deadline:" + operation.removeprefix("Batch"), operation


def test_table_names_match_the_record_store():
    import inspect

    from session_watch.adapters import record_store

    source = inspect.getsource(record_store)
    for name in (TTL_ATTRIBUTE, QUEUE_OUTCOME_KEY, OCCURRED_AT_KEY, QUEUE_OUTCOME_INDEX):
        assert name in source
