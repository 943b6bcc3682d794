"""Configuration from CDK context: defaults, overrides as -c passes them, and errors naming the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infra.config import DEFAULTS, PREFIX, ConfigError, EmailSubscription, load_config
from tests.infra.conftest import FARM, QUEUE_A, QUEUE_B, REPO_ROOT


def config(**overrides):
    return load_config({PREFIX + k: v for k, v in overrides.items()})


def test_defaults():
    cfg = config()
    assert cfg.farm_ids == () and cfg.queue_ids == ()
    assert cfg.task_run_statuses == ("SUCCEEDED", "FAILED", "CANCELED")
    assert cfg.notify_statuses == ("SUCCEEDED", "FAILED", "INTERRUPTED", "CANCELED", "NEVER_ATTEMPTED", "RECLAIMED")
    assert cfg.notification_emails == ()
    assert (cfg.record_retention_days, cfg.log_retention_days, cfg.wait_seconds) == (90, 30, 30)
    assert cfg.reserved_concurrency == 10
    assert cfg.removal_policy == "retain"
    assert cfg.state_machine_name == "WaitForSessionAction"
    assert (cfg.notify_mode, cfg.digest_window_seconds, cfg.digest_sample_size) == ("digest", 60, 10)
    assert cfg.monitor_url is None
    assert (cfg.event_delivery, cfg.batch_size, cfg.batch_window_seconds, cfg.max_concurrency) == ("queue", 100, 5, 2)
    assert cfg.enrichment_calls_per_job_window == 1
    assert cfg.alarm_event_queue_age_seconds == 600
    assert (cfg.wait_for_job_state_machine_name, cfg.wait_for_job_timeout_hours, cfg.waiter_sweep_minutes,
            cfg.submit_and_wait) == ("WaitForJob", 24, 5, False)
    assert config(submitAndWait="true").submit_and_wait is True  # -c passes a string



def test_command_line_strings_are_parsed():
    cfg = config(
        farmIds=f"{FARM}",
        queueIds=f" {QUEUE_A} , {QUEUE_B} ",
        notifyStatuses="failed,never_attempted",
        waitSeconds="90",
        reservedConcurrency="none",
        removalPolicy="DESTROY",
        notificationEmails='[{"email": "a@example.com", "filterPolicy": {"outcome": ["failure"]}}, "b@example.com"]',
    )
    assert cfg.farm_ids == (FARM,)
    assert cfg.queue_ids == (QUEUE_A, QUEUE_B)
    assert cfg.notify_statuses == ("FAILED", "NEVER_ATTEMPTED")
    assert cfg.wait_seconds == 90
    assert cfg.reserved_concurrency is None
    assert cfg.removal_policy == "destroy"
    assert cfg.notification_emails == (
        EmailSubscription("a@example.com", {"outcome": ("failure",)}),
        EmailSubscription("b@example.com", {}),
    )


def test_batch_path_and_digest_settings_from_command_line_strings():
    cfg = config(
        notifyMode="EACH",
        digestWindowSeconds="840",
        digestSampleSize="50",
        monitorUrl=" https://monitor.example.com/{farmId}/queues/{queueId}/jobs/{jobId} ",
        eventDelivery="Direct",
        batchSize="10",
        batchWindowSeconds="0",  # allowed: a batch of at most 10 needs no window
        maxConcurrency="1000",
        enrichmentCallsPerJobWindow="100",
        reservedConcurrency="none",
    )
    assert (cfg.notify_mode, cfg.event_delivery) == ("each", "direct")
    assert (cfg.digest_window_seconds, cfg.digest_sample_size) == (840, 50)
    assert cfg.monitor_url == "https://monitor.example.com/{farmId}/queues/{queueId}/jobs/{jobId}"
    assert (cfg.batch_size, cfg.batch_window_seconds, cfg.max_concurrency) == (10, 0, 1000)
    assert cfg.enrichment_calls_per_job_window == 100
    assert config(monitorUrl="").monitor_url is None
    assert config(monitorUrl="https://deadline.example.com").monitor_url == "https://deadline.example.com"


def test_reserved_concurrency_must_hold_both_event_sources():
    assert config(reservedConcurrency=4, maxConcurrency=2).reserved_concurrency == 4  # 2 events + 2 digests
    # Direct delivery has no event queue: only the digest queue's event source (2) counts.
    assert config(reservedConcurrency=2, maxConcurrency=50, eventDelivery="direct").reserved_concurrency == 2
    with pytest.raises(ConfigError) as caught:
        config(reservedConcurrency=10, maxConcurrency=9)
    assert str(caught.value).startswith(PREFIX + "reservedConcurrency: must be at least 11")


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("farmIds", ["farm-123"], "is not an id of the form farm-<32 hex>"),
        ("queueIds", "queue-xyz", "is not an id of the form queue-<32 hex>"),
        ("queueIds", [QUEUE_A, QUEUE_A], "lists an id twice"),
        ("taskRunStatuses", ["DONE"], "unknown value(s) DONE"),
        ("taskRunStatuses", [], "must name at least one"),
        ("notifyStatuses", "FAILED,EXPLODED", "unknown value(s) EXPLODED"),
        ("notificationEmails", ["not-an-email"], "is not an email address"),
        ("notificationEmails", [{"email": "a@example.com", "filterPolicy": {"colour": ["red"]}}],
         "is not a notification attribute"),
        ("notificationEmails", [{"email": "a@example.com", "filterPolicy": {"outcome": ["boom"]}}],
         "unknown value 'boom'"),
        ("notificationEmails", [{"email": "a@example.com", "filter": {}}], "unknown field(s) filter"),
        ("operationsEmails", "ops@", "is not an email address"),
        ("recordRetentionDays", "ninety", "must be a whole number"),
        ("recordRetentionDays", 0, "must be between 1 and 3650"),
        ("logRetentionDays", 31, "is not a retention CloudWatch Logs accepts"),
        ("reservedConcurrency", True, "must be a whole number"),
        ("waitSeconds", 0, "must be between 1 and 3600"),
        ("waitSeconds", "1.5", "must be a whole number"),
        ("reservedConcurrency", "", "must be a whole number"),
        ("stateMachineName", "has spaces", "must be 1-80 letters"),
        ("stackName", "1-starts-with-digit", "must be a CloudFormation stack name"),
        ("removalPolicy", "keep", "must be one of retain, destroy"),
        ("alarmFunctionErrors", 0, "must be between 1 and"),
        ("notifyMode", "batch", "must be one of each, digest"),
        ("digestWindowSeconds", 9, "must be between 10 and 840"),
        ("digestWindowSeconds", 841, "must be between 10 and 840"),  # a flush's delay must stay under 900 s
        ("digestSampleSize", 0, "must be between 1 and 50"),
        ("digestSampleSize", "51", "must be between 1 and 50"),
        ("monitorUrl", "http://monitor.example.com", "must be an https URL"),
        ("monitorUrl", "https://", "must be an https URL"),
        ("monitorUrl", "https://monitor.example.com/a b", "must be an https URL"),
        ("monitorUrl", "https://monitor.example.com/{stepId}", "unknown placeholder {stepId}"),
        ("monitorUrl", ["https://a.example.com"], "must be an https URL or empty"),
        ("eventDelivery", "sqs", "must be one of queue, direct"),
        ("batchSize", 0, "must be between 1 and 100"),
        ("batchSize", 101, "must be between 1 and 100"),
        ("batchWindowSeconds", -1, "must be between 0 and 300"),
        ("batchWindowSeconds", 301, "must be between 0 and 300"),
        ("batchWindowSeconds", "0", "must be at least 1 when sessionWatch:batchSize is above 10"),
        ("maxConcurrency", 1, "must be between 2 and 1000"),
        ("maxConcurrency", 1001, "must be between 2 and 1000"),
        ("enrichmentCallsPerJobWindow", 0, "must be between 1 and 100"),
        ("waitForJobTimeoutHours", 0, "must be between 1 and 8760"),
        ("waitForJobTimeoutHours", "a day", "must be a whole number"),
        ("waiterSweepMinutes", 61, "must be between 1 and 60"),
        ("submitAndWait", "yes", "must be true or false"),
        ("waitForJobStateMachineName", "has spaces", "must be 1-80 letters"),
        ("waitForJobStateMachineName", "WaitForSessionAction", "must differ from sessionWatch:stateMachineName"),
        ("enrichmentCallsPerJobWindow", 101, "must be between 1 and 100"),
        ("alarmEventQueueAgeSeconds", 59, "must be between 60 and 86400"),
        ("suspectWorkerFailures", 0, "must be between 1 and 1000"),
        ("suspectWorkerFailures", "many", "must be a whole number"),
        ("suspectWorkerWindowMinutes", 0, "must be between 1 and 1440"),
        ("suspectWorkerWindowMinutes", 1441, "must be between 1 and 1440"),
        ("suspectWorkerFailureRatio", 0, "must be a number greater than 0 and at most 1"),
        ("suspectWorkerFailureRatio", "1.5", "must be a number greater than 0 and at most 1"),
        ("suspectWorkerFailureRatio", "most", "must be a number greater than 0 and at most 1"),
        ("suspectWorkerFailureRatio", True, "must be a number greater than 0 and at most 1"),
        ("logExcerptLines", -1, "must be between 0 and 100"),
        ("logExcerptLines", 101, "must be between 0 and 100"),
        ("logExcerptLines", "thirty", "whole number"),
    ],
)
def test_bad_values_fail_naming_the_key(key, value, message):
    with pytest.raises(ConfigError) as caught:
        config(**{key: value})
    assert str(caught.value).startswith(PREFIX + key)
    assert message in str(caught.value)


def test_suspect_worker_keys_default_and_parse_command_line_strings():
    cfg = config()
    assert (cfg.suspect_worker_failures, cfg.suspect_worker_window_minutes, cfg.suspect_worker_failure_ratio) \
        == (5, 15, 0.8)
    cfg = config(suspectWorkerFailures="3", suspectWorkerWindowMinutes="30", suspectWorkerFailureRatio="0.5")
    assert (cfg.suspect_worker_failures, cfg.suspect_worker_window_minutes, cfg.suspect_worker_failure_ratio) \
        == (3, 30, 0.5)
    assert config(suspectWorkerFailureRatio=1).suspect_worker_failure_ratio == 1.0


def test_every_default_is_valid():
    assert config(**DEFAULTS) == config()


def test_null_means_the_default_as_the_cdk_drops_null_context_values():
    assert config(waitSeconds=None, reservedConcurrency=None) == config()


def test_synth_with_a_bad_or_unknown_key_fails_with_a_message_naming_it():
    """What `npx cdk synth -c sessionWatch:waitSeconds=soon` does: the CLI passes CDK_CONTEXT_JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    for context, expected in (
        ({"sessionWatch:waitSeconds": "soon"}, "sessionWatch:waitSeconds: must be a whole number"),
        ({"sessionWatch:farmId": "farm-x"}, "sessionWatch:farmId: is not a known key"),
    ):
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
        result = subprocess.run([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 2, result.stderr[-3000:]
        assert f"Configuration error: {expected}" in result.stderr
        assert "Traceback" not in result.stderr


def test_log_excerpt_lines_from_a_command_line_string_and_zero_turns_them_off():
    assert config().log_excerpt_lines == 30
    assert config(logExcerptLines="5").log_excerpt_lines == 5
    assert config(logExcerptLines="0").log_excerpt_lines == 0
