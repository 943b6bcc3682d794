"""The template for a scoped configuration: farms, queues, emails with filters, explicit environment, the
``each`` notification mode, a monitor URL and batch settings given as ``-c`` strings."""

from __future__ import annotations

import pytest

from tests.infra.conftest import ACCOUNT, FARM, QUEUE_A, QUEUE_B, REGION
from tests.infra.template_tools import (
    as_list,
    logical_id,
    one,
    render,
    resources,
    role_statements,
    state_machine_definition,
)

pytestmark = pytest.mark.slow


def test_deadline_reads_are_scoped_to_the_configured_queues(scoped_template):
    statements = [s for s in role_statements(scoped_template, "SessionWatchRole")
                  if any(a.startswith("deadline:") for a in as_list(s["Action"]))]
    assert len(statements) == 2  # the function's reads, and WaitForJob's reads of steps and tasks
    base = f"arn:aws:deadline:{REGION}:{ACCOUNT}:farm/{FARM}/queue"
    for statement in statements:
        assert sorted(render(r) for r in as_list(statement["Resource"])) == sorted([
            f"{base}/{QUEUE_A}", f"{base}/{QUEUE_A}/*", f"{base}/{QUEUE_B}", f"{base}/{QUEUE_B}/*",
        ])


def test_rules_filter_on_configured_statuses_farms_and_queues(scoped_template):
    task_runs = scoped_template["Resources"][logical_id(scoped_template, "AWS::Events::Rule", "TaskRunEventsRule")]
    assert task_runs["Properties"]["EventPattern"]["detail"] == {
        "runStatus": ["FAILED", "NOT_COMPATIBLE"],
        "farmId": [FARM],
        "queueId": [QUEUE_A, QUEUE_B],
    }
    requeues = scoped_template["Resources"][logical_id(scoped_template, "AWS::Events::Rule", "TaskRequeueEventsRule")]
    assert requeues["Properties"]["EventPattern"]["detail"]["farmId"] == [FARM]
    assert requeues["Properties"]["EventPattern"]["detail"]["queueId"] == [QUEUE_A, QUEUE_B]
    job_runs = scoped_template["Resources"][logical_id(scoped_template, "AWS::Events::Rule", "JobRunEventsRule")]
    assert job_runs["Properties"]["EventPattern"]["detail"] == {
        "taskRunStatus": ["SUCCEEDED", "FAILED", "CANCELED"],  # not taskRunStatuses: those are task runs
        "farmId": [FARM],
        "queueId": [QUEUE_A, QUEUE_B],
    }
    lifecycle = scoped_template["Resources"][logical_id(scoped_template, "AWS::Events::Rule",
                                                        "JobLifecycleEventsRule")]
    assert lifecycle["Properties"]["EventPattern"]["detail"] == {
        "lifecycleStatus": ["CREATE_FAILED", "UPLOAD_FAILED"], "farmId": [FARM], "queueId": [QUEUE_A, QUEUE_B]}


def test_email_subscriptions_with_their_filter_policies(scoped_template):
    topics = {k: v for k, v in resources(scoped_template, "AWS::SNS::Topic").items()}
    email_topic_id = next(k for k in topics if k.startswith("NotificationsEmailTopic"))
    operations_id = next(k for k in topics if k.startswith("MonitoringOperationsTopic"))
    subscriptions = {s["Properties"]["Endpoint"]: s["Properties"]
                     for s in resources(scoped_template, "AWS::SNS::Subscription").values()}
    assert set(subscriptions) == {"render-ops@example.com", "lead@example.com", "oncall@example.com"}
    failures_only = subscriptions["render-ops@example.com"]
    assert failures_only["Protocol"] == "email"
    assert failures_only["TopicArn"] == {"Ref": email_topic_id}  # people by email: the email topic
    assert failures_only["FilterPolicy"] == {"outcome": ["failure"]}
    assert failures_only.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"
    assert "FilterPolicy" not in subscriptions["lead@example.com"]
    assert subscriptions["lead@example.com"]["TopicArn"] == {"Ref": email_topic_id}
    assert subscriptions["oncall@example.com"]["TopicArn"] == {"Ref": operations_id}


def test_overrides_reach_function_state_machine_alarms_and_removal_policy(scoped_template):
    _, fn = one(scoped_template, "AWS::Lambda::Function", "SessionWatchFunction")
    assert fn["Properties"]["Environment"]["Variables"]["NOTIFY_STATUSES"] == "FAILED,NEVER_ATTEMPTED"
    assert "ReservedConcurrentExecutions" not in fn["Properties"]
    assert state_machine_definition(scoped_template)["States"]["WaitBeforeNextRead"]["Seconds"] == 90
    [errors] = [a["Properties"] for a in resources(scoped_template, "AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("MetricName") == "Errors"]
    assert errors["Threshold"] == 3
    tables = resources(scoped_template, "AWS::DynamoDB::GlobalTable")
    assert len(tables) == 3  # history, digest ledger and WaitForJob's waiters
    for table in tables.values():
        assert table["DeletionPolicy"] == "Delete"
        assert table["Properties"]["Replicas"][0]["DeletionProtectionEnabled"] is False
    for log_group in resources(scoped_template, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == 90
        assert log_group["DeletionPolicy"] == "Delete"


def test_notification_mode_and_enrichment_settings_reach_the_function(scoped_template):
    _, fn = one(scoped_template, "AWS::Lambda::Function", "SessionWatchFunction")
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["NOTIFY_MODE"] == "each"
    assert env["DIGEST_WINDOW_SECONDS"] == "120"
    assert env["DIGEST_SAMPLE_SIZE"] == "25"
    assert env["ENRICHMENT_CALLS_PER_JOB_WINDOW"] == "3"
    assert env["MONITOR_URL"] == "https://monitor.example.com/{farmId}/{queueId}/{jobId}"
    # In each mode too: job-level messages are deduplicated in the digest table.
    assert {"DIGEST_TABLE_NAME", "DIGEST_QUEUE_URL"} <= set(env)


def test_batch_settings_from_context_reach_the_event_source_and_the_queue(scoped_template):
    queue_id = logical_id(scoped_template, "AWS::SQS::Queue", "EventsQueue")
    [mapping] = [m["Properties"] for m in resources(scoped_template, "AWS::Lambda::EventSourceMapping").values()
                 if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}]
    assert mapping["BatchSize"] == 25
    assert mapping["MaximumBatchingWindowInSeconds"] == 2
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 7}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert scoped_template["Resources"][queue_id]["Properties"]["VisibilityTimeout"] == 6 * 60 + 2
    [age] = [a["Properties"] for a in resources(scoped_template, "AWS::CloudWatch::Alarm").values()
             if a["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"]
    assert age["Threshold"] == 900


def test_session_logs_are_read_only_from_the_watched_queues_log_groups(scoped_template):
    """logs:GetLogEvents, alone in its statement, on exactly /aws/deadline/<farm>/<queue> of each watched queue
    (and its streams: the ``:*`` form), never a wider group."""
    [statement] = [s for s in role_statements(scoped_template, "SessionWatchRole")
                   if "logs:GetLogEvents" in as_list(s["Action"])]
    assert as_list(statement["Action"]) == ["logs:GetLogEvents"]
    base = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/deadline/{FARM}"
    assert sorted(render(r) for r in as_list(statement["Resource"])) == sorted([
        f"{base}/{QUEUE_A}:*", f"{base}/{QUEUE_B}:*",
    ])
    assert statement.get("Condition") is None and statement["Effect"] == "Allow"


def test_step_names_are_read_with_the_other_deadline_reads(scoped_template):
    # the statement of the session-action reads (WaitForJob's own policy reads steps too, for a step wait)
    [statement] = [s for s in role_statements(scoped_template, "SessionWatchRole")
                   if "deadline:GetSessionAction" in as_list(s["Action"])]
    assert "deadline:GetStep" in as_list(statement["Action"])
    _, fn = one(scoped_template, "AWS::Lambda::Function", "SessionWatchFunction")
    assert fn["Properties"]["Environment"]["Variables"]["LOG_EXCERPT_LINES"] == "30"
