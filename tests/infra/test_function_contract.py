"""The stack and the function agree: error names, statuses, notification attributes, metrics, handler."""

from __future__ import annotations

import importlib

from infra import config
from infra.constructs import processing, state_machine
from infra.constructs.history_table import OCCURRED_AT_KEY, QUEUE_OUTCOME_INDEX, QUEUE_OUTCOME_KEY, TTL_ATTRIBUTE


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

    assert tuple(config.NOTIFICATION_ATTRIBUTES) == tuple(notification.ATTRIBUTE_KEYS)


def test_dashboard_metrics_are_metrics_the_function_emits():
    from session_watch.observability import Metric

    emitted = {v for k, v in vars(Metric).items() if k.isupper()}
    assert {"Failures", "Completions", "Recorded", "Published", "Deduplicated", "StaleIgnored",
            "UnknownStatus"} <= emitted


def test_handler_and_environment_names():
    module, function = processing.HANDLER.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), function))
    from session_watch.config import load_settings

    settings = load_settings({
        "TABLE_NAME": "history", "TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:topic",
        "NOTIFY_STATUSES": ",".join(config.DEFAULTS["notifyStatuses"]),
        "RECORD_RETENTION_DAYS": str(config.DEFAULTS["recordRetentionDays"]),
    })
    assert settings.retention_days == 90


def test_table_names_match_the_record_store():
    import inspect

    from session_watch.adapters import record_store

    source = inspect.getsource(record_store)
    for name in (TTL_ATTRIBUTE, QUEUE_OUTCOME_KEY, OCCURRED_AT_KEY, QUEUE_OUTCOME_INDEX):
        assert name in source
