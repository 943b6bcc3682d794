"""Assertions on the synthesised template (default cdk.json context): the promises of issue 3, and the
batch path and digests of issue 6 (defaults: delivery ``queue``, notification mode ``digest``)."""

from __future__ import annotations

import json

import pytest

from tests.infra.template_tools import (
    as_list,
    granted,
    logical_id,
    one,
    render,
    resources,
    role_statements,
    state_machine_definition,
)

pytestmark = pytest.mark.slow

TERMINAL_STATUSES = "SUCCEEDED,FAILED,INTERRUPTED,CANCELED,NEVER_ATTEMPTED,RECLAIMED"


#: The rules of Deadline Cloud events (the sweep's rate rule, WaitForJobSweep, invokes the function directly).
DEADLINE_RULES = ("TaskRunEventsRule", "TaskRequeueEventsRule", "JobRunEventsRule", "JobLifecycleEventsRule")


def _id(template, type_, prefix=""):
    return one(template, type_, prefix)[0]


def _queue(template, name):
    """``SessionWatchDeadLetterQueue``, ``EventsQueue``, ``EventsQueueDeadLetterQueue``, ``DigestsQueue``,
    ``DigestsQueueDeadLetterQueue``."""
    return logical_id(template, "AWS::SQS::Queue", name)


def _rule(template, name):
    """``TaskRunEventsRule`` or ``JobRunEventsRule``."""
    return logical_id(template, "AWS::Events::Rule", name)


# --- the function ---------------------------------------------------------------------------------


def test_function_is_arm64_current_python_json_logs_tracing_and_bounded(template):
    _, fn = one(template, "AWS::Lambda::Function", "SessionWatchFunction")
    props = fn["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "session_watch.handler.lambda_handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["ReservedConcurrentExecutions"] == 10
    logging = props["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == "INFO"
    log_group_id = logging["LogGroup"]["Ref"]
    log_group = template["Resources"][log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert log_group["DeletionPolicy"] == "Retain"


def test_function_environment_is_the_contract(template):
    _, fn = one(template, "AWS::Lambda::Function", "SessionWatchFunction")
    env = fn["Properties"]["Environment"]["Variables"]
    table_id = _id(template, "AWS::DynamoDB::GlobalTable", "HistoryTable")
    # WaitForJob's waiter table, and how long a waiter lives (the wait's timeout, 24 h, plus an hour)
    assert env.pop("WAITER_TABLE_NAME") == {"Ref": _id(template, "AWS::DynamoDB::GlobalTable", "WaitForJobWaiters")}
    assert env.pop("WAITER_TTL_HOURS") == "25"
    topic_id = logical_id(template, "AWS::SNS::Topic", "NotificationsTopic")
    assert env == {
        "TABLE_NAME": {"Ref": table_id},
        "TOPIC_ARN": {"Ref": topic_id},  # the machines' topic
        "EMAIL_TOPIC_ARN": {"Ref": logical_id(template, "AWS::SNS::Topic", "NotificationsEmailTopic")},
        "CHAT_TOPIC_ARN": {"Ref": logical_id(template, "AWS::SNS::Topic", "NotificationsChatTopic")},
        "EVENT_BUS_NAME": "default",  # sessionWatch:eventBus defaults to the account's default bus
        "NOTIFY_STATUSES": TERMINAL_STATUSES,
        "RECORD_RETENTION_DAYS": "90",
        "NOTIFY_MODE": "digest",
        "DIGEST_WINDOW_SECONDS": "60",
        "DIGEST_SAMPLE_SIZE": "10",
        "DIGEST_TABLE_NAME": {"Ref": _id(template, "AWS::DynamoDB::GlobalTable", "DigestsTable")},
        "DIGEST_QUEUE_URL": {"Ref": _queue(template, "DigestsQueue")},
        "ENRICHMENT_CALLS_PER_JOB_WINDOW": "1",
        "SUSPECT_WORKER_FAILURES": "5",
        "SUSPECT_WORKER_WINDOW_MINUTES": "15",
        "SUSPECT_WORKER_FAILURE_RATIO": "0.8",
        "LOG_EXCERPT_LINES": "30",
        # No MONITOR_URL: sessionWatch:monitorUrl is empty by default.
        "POWERTOOLS_SERVICE_NAME": "session-watch",
        "POWERTOOLS_METRICS_NAMESPACE": "DeadlineSessionWatch",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def test_function_asynchronous_failures_go_to_the_dead_letter_queue(template):
    dlq_id = _queue(template, "SessionWatchDeadLetterQueue")
    _, config = one(template, "AWS::Lambda::EventInvokeConfig")
    props = config["Properties"]
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert props["MaximumRetryAttempts"] == 2
    assert props["FunctionName"] == {"Ref": _id(template, "AWS::Lambda::Function", "SessionWatchFunction")}


# --- the EventBridge rules ---------------------------------------------------------------------------


def test_task_run_rule_matches_task_run_status_changes_of_terminal_statuses(template):
    props = template["Resources"][_rule(template, "TaskRunEventsRule")]["Properties"]
    assert "EventBusName" not in props  # the default bus
    assert props["State"] == "ENABLED"
    assert props["EventPattern"] == {
        "source": ["aws.deadline"],
        "detail-type": ["Task Run Status Change"],
        "detail": {"runStatus": ["SUCCEEDED", "FAILED", "CANCELED"]},  # no farm/queue filter by default
    }


#: The rules on Deadline Cloud's events (each targets the event queue, or the function in direct delivery).
DEADLINE_RULES = ("TaskRunEventsRule", "TaskRequeueEventsRule", "JobRunEventsRule", "JobLifecycleEventsRule")


def test_job_run_rule_matches_job_run_status_changes_that_end_a_job(template):
    props = template["Resources"][_rule(template, "JobRunEventsRule")]["Properties"]
    assert "EventBusName" not in props
    assert props["State"] == "ENABLED"
    assert props["EventPattern"] == {
        "source": ["aws.deadline"],
        "detail-type": ["Job Run Status Change"],
        "detail": {"taskRunStatus": ["SUCCEEDED", "FAILED", "CANCELED"]},
    }
    assert len(resources(template, "AWS::Events::Rule")) == len(DEADLINE_RULES) + 1  # + the waiters' sweep


def test_job_lifecycle_rule_matches_jobs_that_failed_before_they_ran(template):
    """A job that fails before it runs never reaches a run status (Deadline Cloud's EventBridge events:
    "Job Lifecycle Status Change"): the rule forwards CREATE_FAILED and UPLOAD_FAILED only (a job-level
    failure message, and WaitForJob's waiters resume on it)."""
    props = template["Resources"][_rule(template, "JobLifecycleEventsRule")]["Properties"]
    assert "EventBusName" not in props and props["State"] == "ENABLED"
    assert props["EventPattern"] == {
        "source": ["aws.deadline"],
        "detail-type": ["Job Lifecycle Status Change"],
        "detail": {"lifecycleStatus": ["CREATE_FAILED", "UPLOAD_FAILED"]},
    }


def test_requeue_rule_matches_running_tasks_sent_back_to_ready(template):
    props = template["Resources"][_rule(template, "TaskRequeueEventsRule")]["Properties"]
    assert props["EventPattern"] == {
        "source": ["aws.deadline"],
        "detail-type": ["Task Run Status Change"],
        # a reclaimed worker or an interrupted run, not a task requeued by hand from an ended status
        "detail": {"runStatus": ["READY"],
                   "previousRunStatus": ["RUNNING", "INTERRUPTING", "STARTING", "ASSIGNED", "SCHEDULED"]},
    }


def test_the_rules_target_the_event_queue_with_retries_and_the_dlq(template):
    queue_id = _queue(template, "EventsQueue")
    dlq_id = _queue(template, "SessionWatchDeadLetterQueue")
    for name in DEADLINE_RULES:
        [target] = template["Resources"][_rule(template, name)]["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}, name
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 4 * 3600}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    # In queue delivery only the waiters' sweep invokes the function asynchronously.
    [permission] = resources(template, "AWS::Lambda::Permission").values()
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": [_rule(template, "WaitForJobSweepRule"), "Arn"]}


def _queue_policy(template, queue_id):
    [policy] = [p for p in resources(template, "AWS::SQS::QueuePolicy").values()
                if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _tls_only(queue_id):
    return {
        "Action": "sqs:*", "Effect": "Deny", "Principal": {"AWS": "*"},
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    }


def test_event_queue_takes_events_from_the_three_rules_only_over_tls(template):
    queue_id = _queue(template, "EventsQueue")
    statements = _queue_policy(template, queue_id)
    assert [s for s in statements if s["Effect"] == "Deny"] == [_tls_only(queue_id)]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert sorted(render(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in allows) == sorted(
        f"<{_rule(template, name)}.Arn>" for name in DEADLINE_RULES)
    for allow in allows:
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert "sqs:SendMessage" in as_list(allow["Action"])
        assert set(as_list(allow["Action"])) <= {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
        assert allow["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert set(allow["Condition"]) == {"ArnEquals"}


def test_dead_letter_queue_is_encrypted_tls_only_and_writable_by_the_rules_only(template):
    dlq_id = _queue(template, "SessionWatchDeadLetterQueue")
    dlq = template["Resources"][dlq_id]
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    statements = _queue_policy(template, dlq_id)
    assert [s for s in statements if s["Effect"] == "Deny"] == [_tls_only(dlq_id)]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == len(DEADLINE_RULES)
    for allow in allows:
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert allow["Action"] == "sqs:SendMessage"
    assert sorted(json.dumps(a["Condition"], sort_keys=True) for a in allows) == sorted(
        json.dumps({"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [_rule(template, name), "Arn"]}}}, sort_keys=True)
        for name in DEADLINE_RULES)


# --- the batch path: queues and event sources ----------------------------------------------------------


@pytest.mark.parametrize("name", ["EventsQueue", "DigestsQueue"])
def test_queues_are_encrypted_tls_only_with_their_own_dead_letter_queue(template, name):
    queue_id = _queue(template, name)
    dlq_id = _queue(template, f"{name}DeadLetterQueue")
    props = template["Resources"][queue_id]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    dlq = template["Resources"][dlq_id]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 86400
    assert "RedrivePolicy" not in dlq
    for queue in (queue_id, dlq_id):
        assert [s for s in _queue_policy(template, queue) if s["Effect"] == "Deny"] == [_tls_only(queue)]
    # Nobody but the function (through its role) reads or writes the digest queue and the two DLQs.
    for queue in (dlq_id,) + ((queue_id,) if name == "DigestsQueue" else ()):
        assert [s for s in _queue_policy(template, queue) if s["Effect"] == "Allow"] == []


def test_queue_visibility_timeouts_are_six_function_timeouts_plus_the_batching_window(template):
    _, fn = one(template, "AWS::Lambda::Function", "SessionWatchFunction")
    timeout = fn["Properties"]["Timeout"]
    assert timeout == 60
    events = template["Resources"][_queue(template, "EventsQueue")]["Properties"]
    assert events["VisibilityTimeout"] == 6 * timeout + 5
    digests = template["Resources"][_queue(template, "DigestsQueue")]["Properties"]
    assert digests["VisibilityTimeout"] == 6 * timeout


def _mappings(template):
    return {render(m["Properties"]["EventSourceArn"]): m["Properties"]
            for m in resources(template, "AWS::Lambda::EventSourceMapping").values()}


def test_function_reads_the_event_queue_in_batches_reporting_item_failures(template):
    fn_id = _id(template, "AWS::Lambda::Function", "SessionWatchFunction")
    mapping = _mappings(template)[f"<{_queue(template, 'EventsQueue')}.Arn>"]
    assert mapping == {
        "EventSourceArn": {"Fn::GetAtt": [_queue(template, "EventsQueue"), "Arn"]},
        "FunctionName": {"Ref": fn_id},
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 5,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},  # bounds Deadline Cloud calls per second
    }


def test_function_reads_the_digest_queue_reporting_item_failures(template):
    fn_id = _id(template, "AWS::Lambda::Function", "SessionWatchFunction")
    mapping = _mappings(template)[f"<{_queue(template, 'DigestsQueue')}.Arn>"]
    assert mapping == {
        "EventSourceArn": {"Fn::GetAtt": [_queue(template, "DigestsQueue"), "Arn"]},
        "FunctionName": {"Ref": fn_id},
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},
    }
    assert len(resources(template, "AWS::Lambda::EventSourceMapping")) == 2


def test_reserved_concurrency_leaves_room_for_both_event_sources(template):
    _, fn = one(template, "AWS::Lambda::Function", "SessionWatchFunction")
    total = sum(m["ScalingConfig"]["MaximumConcurrency"] for m in _mappings(template).values())
    assert fn["Properties"]["ReservedConcurrentExecutions"] >= total


# --- the history table -------------------------------------------------------------------------------


def test_history_table_keys_index_ttl_pitr_encryption_and_retention(template):
    _, table = one(template, "AWS::DynamoDB::GlobalTable", "HistoryTable")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "jobId", "KeyType": "HASH"},
        {"AttributeName": "sessionActionId", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    by_queue_outcome, by_digest_window = props["GlobalSecondaryIndexes"]
    assert by_queue_outcome == {
        "IndexName": "byQueueOutcome",
        "KeySchema": [
            {"AttributeName": "queueOutcome", "KeyType": "HASH"},
            {"AttributeName": "occurredAt", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    # Sparse: only failures recorded in digest mode carry digestWindow ("<jobId>#<windowStart>#<shard>").
    assert by_digest_window == {
        "IndexName": "byDigestWindow",
        "KeySchema": [
            {"AttributeName": "digestWindow", "KeyType": "HASH"},
            {"AttributeName": "occurredAt", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {"jobId": "S", "sessionActionId": "S", "queueOutcome": "S", "occurredAt": "S",
                     "digestWindow": "S"}
    [replica] = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert replica["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"


def test_digest_table_keys_ttl_pitr_encryption_and_retention(template):
    _, table = one(template, "AWS::DynamoDB::GlobalTable", "DigestsTable")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "jobId", "KeyType": "HASH"},
        {"AttributeName": "digestKey", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "jobId": "S", "digestKey": "S"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}  # as the history table
    assert "GlobalSecondaryIndexes" not in props
    [replica] = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert replica["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"


# --- the notification topic ----------------------------------------------------------------------------


def test_topic_uses_a_rotating_customer_managed_key_and_enforces_tls(template):
    key_id, key = one(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    for topic_id, topic in resources(template, "AWS::SNS::Topic").items():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}, topic_id
        [policy] = [p for p in resources(template, "AWS::SNS::TopicPolicy").values()
                    if p["Properties"]["Topics"] == [{"Ref": topic_id}]]
        deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny == [{
            "Sid": "AllowPublishThroughSSLOnly", "Action": "sns:Publish", "Effect": "Deny", "Principal": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Resource": {"Ref": topic_id},
        }]


def test_no_email_subscription_by_default(template):
    assert resources(template, "AWS::SNS::Subscription") == {}


# --- least privilege -----------------------------------------------------------------------------------


def test_function_role_has_exactly_the_statements_it_needs(template):
    table_id = _id(template, "AWS::DynamoDB::GlobalTable", "HistoryTable")
    digest_table_id = _id(template, "AWS::DynamoDB::GlobalTable", "DigestsTable")
    topic_id = logical_id(template, "AWS::SNS::Topic", "NotificationsTopic")
    email_topic_id = logical_id(template, "AWS::SNS::Topic", "NotificationsEmailTopic")
    chat_topic_id = logical_id(template, "AWS::SNS::Topic", "NotificationsChatTopic")
    key_id = _id(template, "AWS::KMS::Key")
    dlq_id = _queue(template, "SessionWatchDeadLetterQueue")
    events_id = _queue(template, "EventsQueue")
    digests_id = _queue(template, "DigestsQueue")
    log_group_id = _id(template, "AWS::Logs::LogGroup", "SessionWatchFunctionLogGroup")
    _, role = one(template, "AWS::IAM::Role", "SessionWatchRole")
    assert "ManagedPolicyArns" not in role["Properties"]  # no AWSLambdaBasicExecutionRole: exact grants only
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"}

    deadline = ["arn:<AWS::Partition>:deadline:<AWS::Region>:<AWS::AccountId>:farm/*"]
    history = sorted([f"<{table_id}.Arn>", f"<{table_id}.Arn>/index/byQueueOutcome"])
    digest_ledger = [f"<{digest_table_id}.Arn>"]
    waiters = [f"<{_id(template, 'AWS::DynamoDB::GlobalTable', 'WaitForJobWaiters')}.Arn>"]
    wait_for_job = [f"<{_id(template, 'AWS::StepFunctions::StateMachine', 'WaitForJobStateMachine')}>"]
    consumed = sorted([f"<{events_id}.Arn>", f"<{digests_id}.Arn>"])
    assert granted(role_statements(template, "SessionWatchRole")) == {
        # BatchGetSessionAction / BatchGetTask / BatchGetJob / BatchGetSession / BatchGetStep authorize as these
        # Get* actions.
        "deadline:GetSessionAction": deadline,
        "deadline:GetTask": deadline,
        "deadline:ListSessionActions": deadline,
        "deadline:GetJob": deadline,
        "deadline:GetSession": deadline,
        "deadline:GetStep": deadline,  # step names; a WaitForJob on one step
        # The end of a failed action's session log: Deadline Cloud's session log groups only.
        "logs:GetLogEvents": ["arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/deadline/*:*"],
        "dynamodb:GetItem": sorted(history + digest_ledger),
        "dynamodb:UpdateItem": sorted(history + digest_ledger),
        "dynamodb:DeleteItem": sorted(digest_ledger + waiters),
        # The ledger: one job's items (its digest windows and suspect workers) for the job-level message;
        # the waiter table: a job's waiters.
        "dynamodb:Query": sorted(history + [f"<{table_id}.Arn>/index/byDigestWindow"] + digest_ledger + waiters),
        "dynamodb:PutItem": waiters,
        "dynamodb:Scan": waiters,  # the sweep: the waiter table holds open waiters only
        # Resuming WaitForJob's executions: exactly that state machine, nothing broader.
        "states:SendTaskSuccess": wait_for_job,
        "states:SendTaskFailure": wait_for_job,
        "states:SendTaskHeartbeat": wait_for_job,
        # Exactly the three audience topics (machines, email, chat); also authorizes PublishBatch.
        "sns:Publish": sorted([f"<{topic_id}>", f"<{email_topic_id}>", f"<{chat_topic_id}>"]),
        # The default bus, only for events whose source is session-watch (condition: test_channels.py).
        "events:PutEvents": ["arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default"],
        "kms:GenerateDataKey": [f"<{key_id}.Arn>"],
        "kms:Decrypt": [f"<{key_id}.Arn>"],
        "logs:CreateLogStream": [f"<{log_group_id}.Arn>"],
        "logs:PutLogEvents": [f"<{log_group_id}.Arn>"],
        # The on-failure destination (DLQ) and the delayed digest flushes.
        "sqs:SendMessage": sorted([f"<{dlq_id}.Arn>", f"<{digests_id}.Arn>"]),
        "sqs:GetQueueAttributes": sorted([f"<{dlq_id}.Arn>"] + consumed),
        "sqs:GetQueueUrl": sorted([f"<{dlq_id}.Arn>"] + consumed),
        # The two event source mappings (CDK's grant to consume).
        "sqs:ReceiveMessage": consumed,
        "sqs:DeleteMessage": consumed,
        "sqs:ChangeMessageVisibility": consumed,
        # The only "*": X-Ray has no resource-level permissions.
        "xray:PutTraceSegments": ["*"],
        "xray:PutTelemetryRecords": ["*"],
    }
    # No deadline:BatchGet* action exists for these reads (the batch operations authorize as Get*).
    actions = {a for s in role_statements(template, "SessionWatchRole") for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("deadline:Batch")}


def test_resource_star_only_where_the_service_has_no_narrower_arn(template):
    allowed_with_star = {
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
        # CloudWatch Logs vended delivery for the state machine's log group (no resource-level support).
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "*" in as_list(statement["Resource"]):
                assert set(as_list(statement["Action"])) <= allowed_with_star, statement


def test_state_machine_role_may_invoke_only_the_function(template):
    fn_id = _id(template, "AWS::Lambda::Function", "SessionWatchFunction")
    invoke = [s for s in role_statements(template, "WaitForSessionActionStateMachineRole")
              if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert len(invoke) == 1
    assert as_list(invoke[0]["Action"]) == ["lambda:InvokeFunction"]
    assert sorted(render(r) for r in invoke[0]["Resource"]) == [f"<{fn_id}.Arn>", f"<{fn_id}.Arn>:*"]
    actions = {a for s in role_statements(template, "WaitForSessionActionStateMachineRole") for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith(("dynamodb:", "sns:", "deadline:", "kms:"))}


# --- the state machine --------------------------------------------------------------------------------


def test_state_machine_logs_all_traces_and_times_out(template):
    _, machine = one(template, "AWS::StepFunctions::StateMachine", "WaitForSessionAction")
    props = machine["Properties"]
    assert props["StateMachineName"] == "WaitForSessionAction"
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    [destination] = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert template["Resources"][log_group_id]["Properties"]["RetentionInDays"] == 30
    assert state_machine_definition(template)["TimeoutSeconds"] == 24 * 3600


def test_state_machine_invokes_the_function_with_only_the_four_ids_and_retries_transient_errors(template):
    fn_id = _id(template, "AWS::Lambda::Function", "SessionWatchFunction")
    definition = state_machine_definition(template)
    assert definition["StartAt"] == "ReadSessionAction"
    read = definition["States"]["ReadSessionAction"]
    assert read["Type"] == "Task"
    assert read["Resource"] == "arn:<AWS::Partition>:states:::lambda:invoke"
    assert read["Parameters"] == {
        "FunctionName": f"<{fn_id}.Arn>",
        "Payload": {"farmId.$": "$.farmId", "queueId.$": "$.queueId", "jobId.$": "$.jobId",
                    "sessionActionId.$": "$.sessionActionId"},
    }
    assert read["OutputPath"] == "$.Payload"
    assert read["Next"] == "CheckOutcome"
    function_errors, lambda_errors = read["Retry"]
    assert function_errors["ErrorEquals"] == ["DeadlineThrottled", "DeadlineUnavailable", "RecordStoreError",
                                              "NotificationError", "NotificationPending", "DigestScheduleError",
                                              "WaiterResumeError"]
    assert lambda_errors["ErrorEquals"] == ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                                            "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]
    for retry in read["Retry"]:
        assert retry["MaxAttempts"] >= 3 and retry["BackoffRate"] == 2 and retry["JitterStrategy"] == "FULL"
    # Non-retryable errors (InvalidEventError, DeadlineResourceNotFound, ...) are neither retried nor
    # caught: they fail the execution under their own name, for the calling state machine to Catch.
    assert "Catch" not in read
    retried = {e for r in read["Retry"] for e in r["ErrorEquals"]}
    assert not retried & {"InvalidEventError", "UnsupportedEventError", "ConfigurationError",
                          "DeadlineResourceNotFound", "DeadlineAccessDenied", "DeadlineValidationError",
                          "States.ALL", "States.TaskFailed"}


def test_state_machine_choice_waits_while_not_terminal_then_succeeds_or_fails(template):
    states = state_machine_definition(template)["States"]
    choice = states["CheckOutcome"]
    assert choice["Type"] == "Choice"
    assert choice["Choices"] == [
        {"Variable": "$.outcome", "StringEquals": "completion", "Next": "SessionActionSucceeded"},
        {"Variable": "$.terminal", "BooleanEquals": True, "Next": "SessionActionFailed"},
    ]
    assert choice["Default"] == "WaitBeforeNextRead"
    assert states["WaitBeforeNextRead"] == {
        "Type": "Wait", "Seconds": 30, "Next": "ReadSessionAction",
        "Comment": states["WaitBeforeNextRead"]["Comment"],
    }
    assert states["SessionActionSucceeded"]["Type"] == "Succeed"
    assert "OutputPath" not in states["SessionActionSucceeded"]  # the record is the output
    failed = states["SessionActionFailed"]
    assert failed["Type"] == "Fail"
    assert failed["Error"] == "SessionActionFailed"
    assert failed["CausePath"].startswith("States.Format('Session action {} of job {} ended {}")
    for field in ("$.sessionActionId", "$.status", "$.actionType", "$.taskId", "$.environmentId",
                  "$.processExitCode"):
        assert field in failed["CausePath"]


# --- monitoring -----------------------------------------------------------------------------------------


def test_alarms_watch_errors_throttles_dlqs_backlog_and_state_machine_and_notify_operations(template):
    ops_topic = {"Ref": _id(template, "AWS::SNS::Topic", "MonitoringOperationsTopic")}
    fn = {"Ref": _id(template, "AWS::Lambda::Function", "SessionWatchFunction")}
    machine = {"Ref": _id(template, "AWS::StepFunctions::StateMachine", "WaitForSessionAction")}

    def queue_name(name):
        return {"Fn::GetAtt": [_queue(template, name), "QueueName"]}

    alarms = {k: v["Properties"] for k, v in resources(template, "AWS::CloudWatch::Alarm").items()}
    by_metric = sorted(
        (p["Namespace"], p["MetricName"], json.dumps(p["Dimensions"], sort_keys=True), p["Statistic"], p["Threshold"])
        for p in alarms.values() if "MetricName" in p
    )

    def dims(name, value):
        return json.dumps([{"Name": name, "Value": value}], sort_keys=True)

    assert by_metric == sorted([
        ("AWS/Lambda", "Errors", dims("FunctionName", fn), "Sum", 1),
        ("AWS/Lambda", "Throttles", dims("FunctionName", fn), "Sum", 1),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
         dims("QueueName", queue_name("SessionWatchDeadLetterQueue")), "Maximum", 1),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
         dims("QueueName", queue_name("EventsQueueDeadLetterQueue")), "Maximum", 1),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
         dims("QueueName", queue_name("DigestsQueueDeadLetterQueue")), "Maximum", 1),
        # A backlog: the oldest event has waited 10 minutes (sessionWatch:alarmEventQueueAgeSeconds).
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", dims("QueueName", queue_name("EventsQueue")), "Maximum", 600),
    ])
    # The state machine alarm: operational faults only, not executions that end in Fail because the
    # render failed (those reach people through the notification topic).
    [machine_alarm] = [p for p in alarms.values() if "Metrics" in p]
    [expression] = [m for m in machine_alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "timedOut + aborted + throttled"
    inputs = {m["Id"]: m["MetricStat"] for m in machine_alarm["Metrics"] if "MetricStat" in m}
    assert {k: (v["Metric"]["Namespace"], v["Metric"]["MetricName"]) for k, v in inputs.items()} == {
        "timedOut": ("AWS/States", "ExecutionsTimedOut"),
        "aborted": ("AWS/States", "ExecutionsAborted"),
        "throttled": ("AWS/States", "ExecutionThrottled"),
    }
    for stat in inputs.values():
        assert stat["Metric"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": machine}]
        assert stat["Stat"] == "Sum" and stat["Period"] == 300
    assert machine_alarm["Threshold"] == 1
    for props in alarms.values():
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["EvaluationPeriods"] == 1
        assert props.get("Period", 300) == 300
        assert props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"] == [ops_topic]
        assert props["OKActions"] == [ops_topic]


def test_cloudwatch_may_publish_to_the_encrypted_operations_topic(template):
    ops_id = _id(template, "AWS::SNS::Topic", "MonitoringOperationsTopic")
    [policy] = [p for p in resources(template, "AWS::SNS::TopicPolicy").values()
                if p["Properties"]["Topics"] == [{"Ref": ops_id}]]
    [allow] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": ops_id}
    assert render(allow["Condition"]["ArnLike"]["aws:SourceArn"]) == (
        "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*")
    _, key = one(template, "AWS::KMS::Key")
    [cloudwatch] = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                    if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_dashboard_shows_failures_completions_errors_duration_and_dlq_depth(template):
    _, dashboard = one(template, "AWS::CloudWatch::Dashboard")
    body = json.loads(render(dashboard["Properties"]["DashboardBody"]))
    widgets = {w["properties"].get("title"): w["properties"] for w in body["widgets"]}
    ours = widgets["Session actions: failures and completions"]["metrics"]
    assert [m[:4] for m in ours] == [
        ["DeadlineSessionWatch", "Failures", "service", "session-watch"],
        ["DeadlineSessionWatch", "Completions", "service", "session-watch"],
    ]
    assert all(m[4]["stat"] == "Sum" for m in ours)
    assert {m[1] for m in widgets["Function errors and throttles"]["metrics"]} >= {"Errors", "Throttles"}
    assert {m[1] for m in widgets["Function duration"]["metrics"]} == {"Duration"}
    dead_letters = widgets["Dead-letter queue depth"]["metrics"]
    assert {m[1] for m in dead_letters} == {"ApproximateNumberOfMessagesVisible"}
    assert len(dead_letters) == 3  # the function's, the event queue's, the digest queue's
    assert {m[1] for m in widgets["Event queue backlog"]["metrics"]} == {
        "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible", "ApproximateAgeOfOldestMessage"}
    assert {m[1] for m in widgets["Digest flushes"]["metrics"]} == {
        "ApproximateNumberOfMessagesDelayed", "NumberOfMessagesDeleted"}
    assert "Alarms" in widgets
    assert len(widgets["Alarms"]["alarms"]) == len(resources(template, "AWS::CloudWatch::Alarm"))


# --- outputs ----------------------------------------------------------------------------------------------


def test_outputs_name_the_tables_topic_state_machine_and_queues(template):
    outputs = template["Outputs"]
    assert outputs["TableName"]["Value"] == {"Ref": _id(template, "AWS::DynamoDB::GlobalTable", "HistoryTable")}
    assert outputs["TopicArn"]["Value"] == {"Ref": logical_id(template, "AWS::SNS::Topic", "NotificationsTopic")}
    assert outputs["StateMachineArn"]["Value"] == {"Ref": _id(template, "AWS::StepFunctions::StateMachine", "WaitForSessionAction")}
    assert outputs["DeadLetterQueueUrl"]["Value"] == {"Ref": _queue(template, "SessionWatchDeadLetterQueue")}
    assert outputs["EventQueueUrl"]["Value"] == {"Ref": _queue(template, "EventsQueue")}
    assert outputs["EventDeadLetterQueueUrl"]["Value"] == {"Ref": _queue(template, "EventsQueueDeadLetterQueue")}
    assert outputs["DigestTableName"]["Value"] == {"Ref": _id(template, "AWS::DynamoDB::GlobalTable", "DigestsTable")}
    assert outputs["DigestQueueUrl"]["Value"] == {"Ref": _queue(template, "DigestsQueue")}
    assert outputs["DigestDeadLetterQueueUrl"]["Value"] == {"Ref": _queue(template, "DigestsQueueDeadLetterQueue")}
    assert {"FunctionName", "OperationsTopicArn"} <= set(outputs)
    assert outputs["WaitForJobStateMachineArn"]["Value"] == {
        "Ref": _id(template, "AWS::StepFunctions::StateMachine", "WaitForJobStateMachine")}
    assert outputs["WaiterTableName"]["Value"] == {"Ref": _id(template, "AWS::DynamoDB::GlobalTable", "WaitForJobWaiters")}
    assert "SubmitAndWaitStateMachineArn" not in outputs  # optional: sessionWatch:submitAndWait


def test_wait_for_job_registers_with_a_task_token_and_times_out_as_wait_timed_out(template):
    definition = state_machine_definition(template, prefix="WaitForJobStateMachine")
    register = definition["States"]["RegisterWaiter"]
    assert register["Resource"] == "arn:<AWS::Partition>:states:::lambda:invoke.waitForTaskToken"
    assert register["Parameters"]["Payload"]["waitForJob"]["taskToken.$"] == "$$.Task.Token"
    assert register["TimeoutSeconds"] == 24 * 3600  # sessionWatch:waitForJobTimeoutHours
    assert register["HeartbeatSeconds"] == 4 * 5 * 60  # four sweeps (sessionWatch:waiterSweepMinutes)
    [catch] = register["Catch"]
    assert catch["ErrorEquals"] == ["States.Timeout", "States.HeartbeatTimeout"]
    assert definition["States"][catch["Next"]] == {
        "Type": "Fail", "Error": "WaitTimedOut", "Cause": definition["States"][catch["Next"]]["Cause"]}
    sweep = template["Resources"][_rule(template, "WaitForJobSweepRule")]["Properties"]
    assert sweep["ScheduleExpression"] == "rate(5 minutes)"
    [target] = sweep["Targets"]
    assert json.loads(target["Input"]) == {"sweepWaiters": {}}
    assert target["Arn"] == {"Fn::GetAtt": [_id(template, "AWS::Lambda::Function", "SessionWatchFunction"), "Arn"]}
    _, table = one(template, "AWS::DynamoDB::GlobalTable", "WaitForJobWaiters")
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert [k["AttributeName"] for k in table["Properties"]["KeySchema"]] == ["jobId", "waiterKey"]


def test_session_logs_of_every_farm_are_readable_when_none_is_configured(template):
    """Without sessionWatch:farmIds/queueIds the function reads Deadline Cloud's session log groups of this
    account and Region (``/aws/deadline/*``), and nothing else with logs:GetLogEvents."""
    [statement] = [s for s in role_statements(template, "SessionWatchRole")
                   if "logs:GetLogEvents" in as_list(s["Action"])]
    assert as_list(statement["Action"]) == ["logs:GetLogEvents"]
    [resource] = [render(r) for r in as_list(statement["Resource"])]
    assert resource.endswith(":log-group:/aws/deadline/*:*") and ":logs:" in resource
