"""The notification channels and the farms' KMS keys, as the template builds them from context keys alone:
one topic per audience (machines, email, chat), the events on an EventBridge bus, Slack and Teams channels,
SQS queues for machines and for events, and kms:Decrypt/DescribeKey on the keys of encrypted farms."""

from __future__ import annotations

import json

import pytest

from infra.config import PREFIX, ConfigError, SlackChannel, TeamsChannel, load_config
from tests.infra.conftest import ACCOUNT, REGION, nag_findings_without_acknowledgements, synth_in_process
from tests.infra.template_tools import as_list, granted, logical_id, one, render, resources, role_statements

pytestmark = pytest.mark.slow

KEY_A = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_B = "arn:aws:kms:us-west-2:111122223333:key/mrk-0123456789abcdef0123456789abcdef"
EVENTS_QUEUE = "arn:aws:sqs:us-west-2:111122223333:pipeline-events"
MACHINE_QUEUE = "arn:aws:sqs:us-west-2:111122223333:render-records"
TEAM = "a1b2c3d4-0000-1111-2222-333344445555"
TENANT = "f0e1d2c3-0000-1111-2222-333344445555"
TEAMS_CHANNEL = "19%3aabcdef0123%40thread.tacv2"

#: Every channel from context keys alone, as `npx cdk deploy -c ...` passes them (strings).
CHANNELS_CONTEXT = {
    "sessionWatch:notificationEmails": '[{"email":"wranglers@example.com","filterPolicy":{"outcome":["failure"]}}]',
    "sessionWatch:machineQueueArns": MACHINE_QUEUE,
    "sessionWatch:eventBus": "create",
    "sessionWatch:eventArchiveDays": "7",
    "sessionWatch:eventQueueArns": EVENTS_QUEUE,
    "sessionWatch:slackChannels": "T0123ABCD/C0456EFGH",
    "sessionWatch:teamsChannels": f"{TEAM}/{TEAMS_CHANNEL}/{TENANT}",
    "sessionWatch:deadlineKmsKeyArns": f"{KEY_A},{KEY_B}",
    "aws:cdk:bundling-stacks": [],
}


@pytest.fixture(scope="session")
def channels_template(tmp_path_factory):
    return synth_in_process(tmp_path_factory.mktemp("cdk.out-channels"), CHANNELS_CONTEXT, account=ACCOUNT, region=REGION)


def _topic(template, name):
    """``NotificationsTopic`` (machines), ``NotificationsEmailTopic``, ``NotificationsChatTopic``."""
    return logical_id(template, "AWS::SNS::Topic", name)


def _function_statements(template):
    return role_statements(template, "SessionWatchRole")


def _statement(template, sid):
    [statement] = [s for s in _function_statements(template) if s.get("Sid") == sid]
    return statement


# --- KMS keys of encrypted farms ------------------------------------------------------------------------


def test_no_farm_key_statement_without_keys(template):
    actions = {a for s in _function_statements(template) for a in as_list(s["Action"])}
    assert "kms:DescribeKey" not in actions
    assert not [s for s in _function_statements(template) if "kms:ViaService" in json.dumps(s)]
    # kms:Decrypt stays only for the notification key (the topics' encryption).
    assert granted(_function_statements(template))["kms:Decrypt"] == [f"<{_id_key(template)}.Arn>"]


def _id_key(template):
    return one(template, "AWS::KMS::Key")[0]


def test_farm_keys_get_exactly_decrypt_and_describe_through_deadline_cloud(channels_template):
    statement = _statement(channels_template, "DecryptDeadlineFarms")
    assert statement == {
        "Sid": "DecryptDeadlineFarms",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": [KEY_A, KEY_B],
        "Condition": {"StringEquals": {"kms:ViaService": f"deadline.{REGION}.amazonaws.com"}},
    }
    # No other statement grants anything on those keys.
    others = [s for s in _function_statements(channels_template) if s is not statement]
    assert not [s for s in others if {KEY_A, KEY_B} & {render(r) for r in as_list(s["Resource"])}]


def test_farm_key_condition_names_the_stack_region_when_environment_agnostic(tmp_path):
    template = synth_in_process(tmp_path, {"sessionWatch:deadlineKmsKeyArns": KEY_A, "aws:cdk:bundling-stacks": []})
    condition = _statement(template, "DecryptDeadlineFarms")["Condition"]["StringEquals"]["kms:ViaService"]
    assert render(condition) == "deadline.<AWS::Region>.amazonaws.com"


# --- publishing: three topics, one bus ------------------------------------------------------------------------


def test_function_publishes_to_exactly_the_three_audience_topics(channels_template):
    topics = sorted(f"<{_topic(channels_template, n)}>"
                    for n in ("NotificationsTopic", "NotificationsEmailTopic", "NotificationsChatTopic"))
    assert granted(_function_statements(channels_template))["sns:Publish"] == topics
    key_id = _id_key(channels_template)
    for name in ("NotificationsTopic", "NotificationsEmailTopic", "NotificationsChatTopic"):
        topic = channels_template["Resources"][_topic(channels_template, name)]
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    env = one(channels_template, "AWS::Lambda::Function", "SessionWatchFunction")[1]["Properties"]["Environment"]
    variables = env["Variables"]
    assert variables["TOPIC_ARN"] == {"Ref": _topic(channels_template, "NotificationsTopic")}
    assert variables["EMAIL_TOPIC_ARN"] == {"Ref": _topic(channels_template, "NotificationsEmailTopic")}
    assert variables["CHAT_TOPIC_ARN"] == {"Ref": _topic(channels_template, "NotificationsChatTopic")}


def test_put_events_only_on_the_bus_and_only_with_source_session_watch(channels_template, template):
    bus_id = logical_id(channels_template, "AWS::Events::EventBus", "NotificationEventsBus")
    statement = _statement(channels_template, "PutNotificationEvents")
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {"events:source": ["session-watch"]},
        "Null": {"events:source": "false"},
    }
    fn = one(channels_template, "AWS::Lambda::Function", "SessionWatchFunction")[1]
    assert fn["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"] == {"Ref": bus_id}
    # Default context: the account's default bus, same condition.
    default = _statement(template, "PutNotificationEvents")
    assert render(default["Resource"]) == "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default"
    assert default["Condition"] == statement["Condition"]


def test_event_bus_none_turns_the_events_channel_off(tmp_path):
    template = synth_in_process(tmp_path, {"sessionWatch:eventBus": "none", "aws:cdk:bundling-stacks": []})
    actions = {a for s in _function_statements(template) for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("events:")}
    fn = one(template, "AWS::Lambda::Function", "SessionWatchFunction")[1]
    assert "EVENT_BUS_NAME" not in fn["Properties"]["Environment"]["Variables"]
    assert "EventBusName" not in template["Outputs"]


def test_created_bus_archives_its_session_watch_events(channels_template):
    bus_id = logical_id(channels_template, "AWS::Events::EventBus", "NotificationEventsBus")
    _, archive = one(channels_template, "AWS::Events::Archive")
    assert archive["Properties"]["SourceArn"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert archive["Properties"]["EventPattern"] == {"source": ["session-watch"]}
    assert archive["Properties"]["RetentionDays"] == 7
    assert "KmsKeyIdentifier" not in archive["Properties"]
    assert channels_template["Outputs"]["EventBusName"]["Value"] == {"Ref": bus_id}


def test_rule_routes_session_watch_events_to_the_configured_queues(channels_template):
    bus_id = logical_id(channels_template, "AWS::Events::EventBus", "NotificationEventsBus")
    rule_id = logical_id(channels_template, "AWS::Events::Rule", "NotificationEventsToQueues")
    props = channels_template["Resources"][rule_id]["Properties"]
    assert props["EventPattern"] == {"source": ["session-watch"]}
    assert props["EventBusName"] == {"Ref": bus_id}
    [target] = props["Targets"]
    assert target["Arn"] == EVENTS_QUEUE
    assert "Input" not in target and "InputTransformer" not in target  # the whole event is the message body
    dlq_id = logical_id(channels_template, "AWS::SQS::Queue", "SessionWatchDeadLetterQueue")
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 4 * 3600, "MaximumRetryAttempts": 8}
    assert channels_template["Outputs"]["NotificationEventRuleArn"]["Value"] == {"Fn::GetAtt": [rule_id, "Arn"]}
    # The queue is the user's: the stack writes no policy on it.
    for policy in resources(channels_template, "AWS::SQS::QueuePolicy").values():
        assert EVENTS_QUEUE not in json.dumps(policy["Properties"]["Queues"])


def test_default_bus_rule_has_no_bus_name(tmp_path):
    template = synth_in_process(tmp_path, {"sessionWatch:eventQueueArns": EVENTS_QUEUE, "aws:cdk:bundling-stacks": []})
    rule_id = logical_id(template, "AWS::Events::Rule", "NotificationEventsToQueues")
    props = template["Resources"][rule_id]["Properties"]
    assert "EventBusName" not in props  # the default bus
    assert props["EventPattern"] == {"source": ["session-watch"]}
    assert resources(template, "AWS::Events::EventBus") == {} and resources(template, "AWS::Events::Archive") == {}


# --- subscriptions ---------------------------------------------------------------------------------------------


def test_machine_queues_subscribe_to_the_machines_topic_with_raw_delivery(channels_template):
    [sub] = [s["Properties"] for s in resources(channels_template, "AWS::SNS::Subscription").values()
             if s["Properties"]["Protocol"] == "sqs"]
    assert sub == {"Protocol": "sqs", "Endpoint": MACHINE_QUEUE, "RawMessageDelivery": True,
                   "TopicArn": {"Ref": _topic(channels_template, "NotificationsTopic")}}


def test_email_subscribes_to_the_email_topic_with_its_filter_policy(channels_template):
    [sub] = [s["Properties"] for s in resources(channels_template, "AWS::SNS::Subscription").values()
             if s["Properties"]["Protocol"] == "email"]
    assert sub["Endpoint"] == "wranglers@example.com"
    assert sub["TopicArn"] == {"Ref": _topic(channels_template, "NotificationsEmailTopic")}
    assert sub["FilterPolicy"] == {"outcome": ["failure"]}
    assert sub.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"


# --- chat -------------------------------------------------------------------------------------------------------


def test_slack_and_teams_channels_read_the_chat_topic_with_a_read_only_guardrail(channels_template):
    chat_topic = {"Ref": _topic(channels_template, "NotificationsChatTopic")}
    role_id, role = one(channels_template, "AWS::IAM::Role", "ChatChannelsChannelRole")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "chatbot.amazonaws.com"}
    assert "ManagedPolicyArns" not in role["Properties"]
    assert granted(role_statements(channels_template, "ChatChannelsChannelRole")) == {
        "cloudwatch:Describe*": ["*"], "cloudwatch:Get*": ["*"], "cloudwatch:List*": ["*"]}
    guardrail = ["arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess"]
    _, slack = one(channels_template, "AWS::Chatbot::SlackChannelConfiguration")
    props = slack["Properties"]
    assert (props["SlackWorkspaceId"], props["SlackChannelId"]) == ("T0123ABCD", "C0456EFGH")
    assert props["SnsTopicArns"] == [chat_topic]
    assert [render(p) for p in props["GuardrailPolicies"]] == guardrail
    assert props["IamRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    _, teams = one(channels_template, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration")
    props = teams["Properties"]
    assert (props["TeamId"], props["TeamsChannelId"], props["TeamsTenantId"]) == (TEAM, TEAMS_CHANNEL, TENANT)
    assert props["SnsTopicArns"] == [chat_topic]
    assert [render(p) for p in props["GuardrailPolicies"]] == guardrail
    assert props["IamRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_no_chat_configuration_by_default(template):
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::Chatbot::")]
    assert _topic(template, "NotificationsChatTopic")  # the topic is there to subscribe by hand


def test_outputs_name_every_topic_and_the_bus(channels_template):
    outputs = channels_template["Outputs"]
    assert outputs["TopicArn"]["Value"] == {"Ref": _topic(channels_template, "NotificationsTopic")}
    assert outputs["EmailTopicArn"]["Value"] == {"Ref": _topic(channels_template, "NotificationsEmailTopic")}
    assert outputs["ChatTopicArn"]["Value"] == {"Ref": _topic(channels_template, "NotificationsChatTopic")}
    assert "EventBusName" in outputs


def test_nag_acknowledgements_of_the_channels_cover_real_findings_only(tmp_path, monkeypatch):
    """Without the acknowledgements, cdk-nag (and CDK's annotation) fail synth with exactly the acknowledged
    findings: the chat role's read-only CloudWatch wildcards, and the unresolved-environment note of the rule."""
    context = {k: v for k, v in CHANNELS_CONTEXT.items() if k != "sessionWatch:eventBus"}
    found, acknowledged = nag_findings_without_acknowledgements(tmp_path, context, monkeypatch)
    assert found == {(rule_id, path) for rule_id, path, _ in acknowledged}
    assert all(len(reason) > 40 for _, _, reason in acknowledged)
    new = {(rule_id, path) for rule_id, path, _ in acknowledged if "/ChatChannels/" in path or "/NotificationEvents/" in path}
    assert {rule_id for rule_id, _ in new} == {
        "AwsSolutions-IAM5[Action::cloudwatch:Describe*]", "AwsSolutions-IAM5[Action::cloudwatch:Get*]",
        "AwsSolutions-IAM5[Action::cloudwatch:List*]", "AwsSolutions-IAM5[Resource::*]",
        "Annotation::@aws-cdk/aws-events:ruleUnresolvedEnvironment",
    }


# --- context keys ------------------------------------------------------------------------------------------------


def config(**overrides):
    return load_config({PREFIX + k: v for k, v in overrides.items()})


def test_channel_keys_default_to_off_except_the_default_bus():
    cfg = config()
    assert cfg.deadline_kms_key_arns == () and cfg.event_queue_arns == () and cfg.machine_queue_arns == ()
    assert cfg.slack_channels == () and cfg.teams_channels == ()
    assert (cfg.event_bus, cfg.event_archive_days) == ("default", 30)


def test_channel_keys_parse_as_the_cli_passes_them():
    cfg = config(deadlineKmsKeyArns=f"{KEY_A}, {KEY_B}", eventBus="CREATE", eventArchiveDays="90",
                 eventQueueArns=f'["{EVENTS_QUEUE}"]', machineQueueArns=MACHINE_QUEUE,
                 slackChannels="T0123ABCD/C0456EFGH,T0123ABCD/C0999", teamsChannels=f"{TEAM}/{TEAMS_CHANNEL}/{TENANT}")
    assert cfg.deadline_kms_key_arns == (KEY_A, KEY_B)
    assert (cfg.event_bus, cfg.event_archive_days) == ("create", 90)
    assert cfg.event_queue_arns == (EVENTS_QUEUE,) and cfg.machine_queue_arns == (MACHINE_QUEUE,)
    assert cfg.slack_channels == (SlackChannel("T0123ABCD", "C0456EFGH"), SlackChannel("T0123ABCD", "C0999"))
    assert cfg.teams_channels == (TeamsChannel(TEAM, TEAMS_CHANNEL, TENANT),)


@pytest.mark.parametrize("key, value, words", [
    ("deadlineKmsKeyArns", "arn:aws:kms:us-west-2:111122223333:alias/render", "not an alias"),
    ("deadlineKmsKeyArns", "1234abcd-12ab-34cd-56ef-1234567890ab", "key/<key id>"),
    ("deadlineKmsKeyArns", f"{KEY_A},{KEY_A}", "twice"),
    ("eventBus", "custom", "default, create, none"),
    ("eventArchiveDays", "0", "between 1 and 3650"),
    ("eventQueueArns", "https://sqs.us-west-2.amazonaws.com/111122223333/q", "arn:aws:sqs"),
    ("eventQueueArns", "arn:aws:sns:us-west-2:111122223333:topic", "arn:aws:sqs"),
    ("machineQueueArns", "arn:aws:sqs:us-west-2:1111:q", "arn:aws:sqs"),
    ("slackChannels", "C0456EFGH", "<workspace id>/<channel id>"),
    ("slackChannels", "t0123abcd/C0456EFGH", "<workspace id>/<channel id>"),
    ("slackChannels", "T0123ABCD/C0456EFGH,T0123ABCD/C0456EFGH", "twice"),
    ("teamsChannels", f"{TEAM}/19:abc@thread.tacv2/{TENANT}", "URL-encoded"),
    ("teamsChannels", f"team/{TEAMS_CHANNEL}/{TENANT}", "UUIDs"),
])
def test_bad_channel_values_name_the_key(key, value, words):
    with pytest.raises(ConfigError) as err:
        config(**{key: value})
    assert str(err.value).startswith(PREFIX + key)
    assert words in str(err.value)


def test_event_queues_need_a_bus():
    with pytest.raises(ConfigError, match=r"^sessionWatch:eventQueueArns: needs an event bus"):
        config(eventBus="none", eventQueueArns=EVENTS_QUEUE)
