"""The template for a scoped configuration: farms, queues, emails with filters, explicit environment."""

from __future__ import annotations

import pytest

from tests.infra.conftest import ACCOUNT, FARM, QUEUE_A, QUEUE_B, REGION
from tests.infra.template_tools import as_list, one, render, resources, role_statements, state_machine_definition

pytestmark = pytest.mark.slow


def test_deadline_reads_are_scoped_to_the_configured_queues(scoped_template):
    [statement] = [s for s in role_statements(scoped_template, "SessionWatchRole")
                   if any(a.startswith("deadline:") for a in as_list(s["Action"]))]
    base = f"arn:aws:deadline:{REGION}:{ACCOUNT}:farm/{FARM}/queue"
    assert sorted(render(r) for r in as_list(statement["Resource"])) == sorted([
        f"{base}/{QUEUE_A}", f"{base}/{QUEUE_A}/*", f"{base}/{QUEUE_B}", f"{base}/{QUEUE_B}/*",
    ])


def test_rule_filters_on_configured_statuses_farms_and_queues(scoped_template):
    _, rule = one(scoped_template, "AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"]["detail"] == {
        "runStatus": ["FAILED", "NOT_COMPATIBLE"],
        "farmId": [FARM],
        "queueId": [QUEUE_A, QUEUE_B],
    }


def test_email_subscriptions_with_their_filter_policies(scoped_template):
    topics = {k: v for k, v in resources(scoped_template, "AWS::SNS::Topic").items()}
    notifications_id = next(k for k in topics if k.startswith("Notifications"))
    operations_id = next(k for k in topics if k.startswith("MonitoringOperationsTopic"))
    subscriptions = {s["Properties"]["Endpoint"]: s["Properties"]
                     for s in resources(scoped_template, "AWS::SNS::Subscription").values()}
    assert set(subscriptions) == {"render-ops@example.com", "lead@example.com", "oncall@example.com"}
    failures_only = subscriptions["render-ops@example.com"]
    assert failures_only["Protocol"] == "email"
    assert failures_only["TopicArn"] == {"Ref": notifications_id}
    assert failures_only["FilterPolicy"] == {"outcome": ["failure"]}
    assert failures_only.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"
    assert "FilterPolicy" not in subscriptions["lead@example.com"]
    assert subscriptions["oncall@example.com"]["TopicArn"] == {"Ref": operations_id}


def test_overrides_reach_function_state_machine_alarms_and_removal_policy(scoped_template):
    _, fn = one(scoped_template, "AWS::Lambda::Function", "SessionWatchFunction")
    assert fn["Properties"]["Environment"]["Variables"]["NOTIFY_STATUSES"] == "FAILED,NEVER_ATTEMPTED"
    assert "ReservedConcurrentExecutions" not in fn["Properties"]
    assert state_machine_definition(scoped_template)["States"]["WaitBeforeNextRead"]["Seconds"] == 90
    [errors] = [a["Properties"] for a in resources(scoped_template, "AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("MetricName") == "Errors"]
    assert errors["Threshold"] == 3
    _, table = one(scoped_template, "AWS::DynamoDB::GlobalTable")
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["Replicas"][0]["DeletionProtectionEnabled"] is False
    for log_group in resources(scoped_template, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == 90
        assert log_group["DeletionPolicy"] == "Delete"
