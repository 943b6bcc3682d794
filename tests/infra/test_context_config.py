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
    ],
)
def test_bad_values_fail_naming_the_key(key, value, message):
    with pytest.raises(ConfigError) as caught:
        config(**{key: value})
    assert str(caught.value).startswith(PREFIX + key)
    assert message in str(caught.value)


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
