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


def test_error_names_are_the_functions_error_classes_with_their_retry_flags():
    from session_watch import errors, names

    for name in names.RETRYABLE_ERROR_NAMES:
        assert issubclass(getattr(errors, name), errors.SessionWatchError) and getattr(errors, name).retryable is True
    for name in names.NON_RETRYABLE_ERROR_NAMES:
        assert getattr(errors, name).retryable is False
    raised_on_purpose = {n for n, c in vars(errors).items()
                         if isinstance(c, type) and issubclass(c, errors.SessionWatchError) and c.retryable}
    assert raised_on_purpose == set(names.RETRYABLE_ERROR_NAMES)


def test_the_stack_and_the_local_farm_use_the_functions_names_not_copies():
    """One definition (``lambda_src/session_watch/names.py``): the stack and the local farm hold the very
    same objects, so there is nothing to keep in step."""
    from lambda_src.session_watch import names
    from local.deadline_farm import farm
    from local.demo import run

    assert state_machine.FUNCTION_RETRYABLE_ERRORS is names.RETRYABLE_ERROR_NAMES
    assert state_machine.NON_RETRYABLE_ERRORS is names.NON_RETRYABLE_ERROR_NAMES
    assert config.SESSION_ACTION_STATUSES is names.SESSION_ACTION_STATUSES
    assert config.TERMINAL_SESSION_ACTION_STATUSES is names.TERMINAL_STATUSES
    assert config.NOTIFY_MODES is names.NOTIFY_MODES and run.NOTIFY_MODES is names.NOTIFY_MODES
    assert config.NOTIFICATION_ATTRIBUTES is names.NOTIFICATION_ATTRIBUTES
    assert processing.METRICS_NAMESPACE is names.METRICS_NAMESPACE
    assert DIGEST_WINDOW_INDEX is names.DIGEST_WINDOW_INDEX and QUEUE_OUTCOME_INDEX is names.QUEUE_OUTCOME_INDEX
    assert farm.SESSION_ACTION_STATUSES is names.SESSION_ACTION_STATUSES
    assert farm.TASK_RUN_STATUSES is names.TASK_RUN_STATUSES


def test_the_shared_names_module_imports_nothing_but_typing():
    import ast

    tree = ast.parse((FUNCTION_PACKAGE / "names.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "typing"}


def test_the_function_uses_the_shared_names():
    from session_watch import errors, names
    from session_watch.adapters import record_store
    from session_watch.domain import notification, record

    assert errors.RETRYABLE_ERROR_NAMES is names.RETRYABLE_ERROR_NAMES
    assert record_store.DIGEST_WINDOW_INDEX is names.DIGEST_WINDOW_INDEX
    assert notification.ATTRIBUTE_KEYS is names.RECORD_ATTRIBUTE_KEYS
    assert set(names.NOTIFICATION_KINDS) == {notification.KIND_SESSION_ACTION, notification.KIND_DIGEST,
                                             notification.KIND_JOB_RUN, notification.KIND_SUSPECT_WORKER,
                                             notification.KIND_JOB_LIFECYCLE}
    assert set(names.DETAIL_TYPES) == set(names.NOTIFICATION_KINDS)
    assert record.KNOWN_STATUSES == set(names.SESSION_ACTION_STATUSES)
    assert {o.value for o in record.Outcome} == set(names.OUTCOMES)


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
     "digestWindowSeconds": 840, "digestSampleSize": 50, "enrichmentCallsPerJobWindow": 100,
     "suspectWorkerFailures": 3, "suspectWorkerWindowMinutes": 1440, "suspectWorkerFailureRatio": 0.35},
    {"logExcerptLines": 0},
    {"logExcerptLines": 100},
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
    assert (settings.suspect_worker_failures, settings.suspect_worker_window_minutes,
            settings.suspect_worker_failure_ratio) == (cfg.suspect_worker_failures,
                                                       cfg.suspect_worker_window_minutes,
                                                       cfg.suspect_worker_failure_ratio)
    assert settings.log_excerpt_lines == cfg.log_excerpt_lines


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
