"""``eventDelivery=direct``: the rules invoke the function (asynchronously, with retries and the DLQ) and
there is no event queue; the digest queue and its event source stay."""

from __future__ import annotations

import pytest

from tests.infra.template_tools import granted, logical_id, one, render, resources, role_statements

pytestmark = pytest.mark.slow


def test_the_rules_target_the_function_with_retries_and_the_dlq(direct_template):
    fn_id = logical_id(direct_template, "AWS::Lambda::Function", "SessionWatchFunction")
    dlq_id = logical_id(direct_template, "AWS::SQS::Queue", "SessionWatchDeadLetterQueue")
    rule_ids = [logical_id(direct_template, "AWS::Events::Rule", name)
                for name in ("TaskRunEventsRule", "TaskRequeueEventsRule", "JobRunEventsRule", "JobLifecycleEventsRule")]
    sweep_id = logical_id(direct_template, "AWS::Events::Rule", "WaitForJobSweepRule")
    for rule_id in rule_ids:
        [target] = direct_template["Resources"][rule_id]["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 4 * 3600}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    permissions = [p["Properties"] for p in resources(direct_template, "AWS::Lambda::Permission").values()]
    assert sorted(render(p["SourceArn"]) for p in permissions) == sorted(f"<{r}.Arn>" for r in rule_ids + [sweep_id])
    for permission in permissions:
        assert permission["Principal"] == "events.amazonaws.com"
        assert permission["Action"] == "lambda:InvokeFunction"
        assert permission["FunctionName"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    _, invoke_config = one(direct_template, "AWS::Lambda::EventInvokeConfig")
    assert invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [dlq_id, "Arn"]}


def test_no_event_queue_only_the_digest_queue_feeds_the_function(direct_template):
    queues = set(resources(direct_template, "AWS::SQS::Queue"))
    assert not [q for q in queues if q.startswith("Events")]
    digests_id = logical_id(direct_template, "AWS::SQS::Queue", "DigestsQueue")
    [mapping] = [m["Properties"] for m in resources(direct_template, "AWS::Lambda::EventSourceMapping").values()]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [digests_id, "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    consumed = granted(role_statements(direct_template, "SessionWatchRole"))["sqs:ReceiveMessage"]
    assert consumed == [f"<{digests_id}.Arn>"]
    assert "EventQueueUrl" not in direct_template["Outputs"]
    assert {"DigestQueueUrl", "DigestTableName"} <= set(direct_template["Outputs"])
    metrics = [a["Properties"].get("MetricName") for a in resources(direct_template, "AWS::CloudWatch::Alarm").values()]
    assert "ApproximateAgeOfOldestMessage" not in metrics  # no event queue, no backlog alarm
    assert metrics.count("ApproximateNumberOfMessagesVisible") == 2  # the function's and the digest queue's DLQs
