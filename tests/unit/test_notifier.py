"""The notifier adapter with botocore's Stubber (which validates every request against the botocore
model): each channel's format, error mapping, PublishBatch / PutEvents grouping, per-channel results.

The contract is AWS's documentation, not moto: the Amazon SNS Developer Guide ("Amazon SNS message
attributes") says attributes are sent only with the String message structure, so no request may combine
``MessageStructure=json`` with ``MessageAttributes``; SNS subjects are printable ASCII under 100
characters (SNS API reference, Publish, ``Subject``); EventBridge events carry ``Source``, ``DetailType``
and ``Detail`` (a JSON object) and name the bus (EventBridge API reference, PutEventsRequestEntry)."""

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from session_watch import names
from session_watch.adapters.notifier import BATCH_BYTES, BATCH_ENTRIES, Notifier
from session_watch.domain.notification import Notification
from session_watch.errors import NotificationError, NotificationRejected

TOPIC = "arn:aws:sns:us-west-2:123456789012:session-watch"
EMAIL = "arn:aws:sns:us-west-2:123456789012:session-watch-email"
CHAT = "arn:aws:sns:us-west-2:123456789012:session-watch-chat"
BUS = "session-watch"
ALL = names.CHANNELS


def note(size: int = 100, n: int = 0, kind: str = "sessionAction") -> Notification:
    body = json.dumps({"n": n, "x": "x" * size})
    return Notification(subject=f"Deadline: job {n}: FAILED", email=f"text {n}", attributes={"kind": kind, "jobId": "job-1"},
                        message=json.dumps({"default": body, "email": f"text {n}"}), body=body,
                        chat={"version": "1.0", "source": "custom", "content": {"description": f"d{n}"}})


@pytest.fixture
def sns():
    client = boto3.client("sns", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.fixture
def events():
    client = boto3.client("events", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield client, stubber


def every_channel(sns_client, events_client) -> Notifier:
    return Notifier(sns_client, TOPIC, email_topic_arn=EMAIL, chat_topic_arn=CHAT, events_client=events_client,
                    event_bus_name=BUS)


def test_each_channel_gets_its_own_format_and_none_combines_json_structure_with_attributes(sns, events):
    (client, stubber), (events_client, events_stubber) = sns, events
    n = note()
    attributes = {"kind": {"DataType": "String", "StringValue": "sessionAction"},
                  "jobId": {"DataType": "String", "StringValue": "job-1"}}
    stubber.add_response("publish", {"MessageId": "machines-1"},
                         {"TopicArn": TOPIC, "Subject": n.subject, "Message": n.body, "MessageAttributes": attributes})
    stubber.add_response("publish", {"MessageId": "email-1"},
                         {"TopicArn": EMAIL, "Subject": n.subject, "Message": n.email, "MessageAttributes": attributes})
    stubber.add_response("publish", {"MessageId": "chat-1"},
                         {"TopicArn": CHAT, "Message": json.dumps(n.chat), "MessageAttributes": attributes})
    events_stubber.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "event-1"}]},
                                {"Entries": [{"Source": "session-watch", "DetailType": "Session Action Ended",
                                              "Detail": n.body, "EventBusName": BUS}]})
    sent = []
    client.meta.events.register("before-parameter-build.sns.Publish", lambda params, **_: sent.append(params))

    results = every_channel(client, events_client).publish(n, ALL)

    assert results == {"machines": "machines-1", "email": "email-1", "chat": "chat-1", "events": "event-1"}
    assert all("MessageStructure" not in p for p in sent) and len(sent) == 3
    assert json.loads(sent[0]["Message"]) == json.loads(n.body)  # machines: the JSON object itself
    stubber.assert_no_pending_responses()
    events_stubber.assert_no_pending_responses()


def test_a_channel_that_is_off_is_not_published_and_only_machines_is_always_on(sns):
    client, _ = sns
    assert Notifier(client, TOPIC).channels == ("machines",)
    results = Notifier(client, TOPIC).publish_batch([(note(), ["email"])])
    assert isinstance(results[0]["email"], NotificationRejected)


def test_one_failing_channel_fails_alone(sns, events):
    (client, stubber), (events_client, events_stubber) = sns, events
    stubber.add_response("publish", {"MessageId": "machines-1"})
    stubber.add_client_error("publish", "InternalError", "boom", 500)  # email
    stubber.add_response("publish", {"MessageId": "chat-1"})
    events_stubber.add_response("put_events", {"FailedEntryCount": 1, "Entries": [
        {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]})

    results = every_channel(client, events_client).publish(note(), ALL)

    assert results["machines"] == "machines-1" and results["chat"] == "chat-1"
    assert type(results["email"]) is NotificationError and type(results["events"]) is NotificationError


def test_a_rejected_message_is_not_retryable_a_failed_publish_is(sns):
    client, stubber = sns
    stubber.add_client_error("publish", "InvalidParameter", "Message too long", 400)
    stubber.add_client_error("publish", "InternalError", "boom", 500)
    notifier = Notifier(client, TOPIC)

    rejected = notifier.publish(note(), ["machines"])["machines"]
    assert isinstance(rejected, NotificationRejected) and rejected.retryable is False
    assert "InvalidParameter" in str(rejected)
    failed = notifier.publish(note(), ["machines"])["machines"]
    assert type(failed) is NotificationError and failed.retryable is True


def test_publish_batch_groups_within_sns_limits_and_reports_each_entry(sns):
    client, stubber = sns
    notes = [(note(n=i), ["machines"]) for i in range(BATCH_ENTRIES + 3)]
    first = [{"Id": str(i), "MessageId": f"m{i}"} for i in range(BATCH_ENTRIES) if i != 4]
    stubber.add_response(
        "publish_batch",
        {"Successful": first, "Failed": [{"Id": "4", "Code": "InternalError", "SenderFault": False, "Message": "x"}]},
        {"TopicArn": TOPIC, "PublishBatchRequestEntries": ANY},
    )
    stubber.add_client_error("publish_batch", "ThrottledException", "slow down", 400)

    results = [r["machines"] for r in Notifier(client, TOPIC).publish_batch(notes)]

    assert results[0] == "m0" and isinstance(results[4], NotificationError)
    assert all(isinstance(r, NotificationError) for r in results[BATCH_ENTRIES:])  # the second request failed
    assert sum(isinstance(r, str) for r in results) == BATCH_ENTRIES - 1
    stubber.assert_no_pending_responses()


def test_publish_batch_splits_by_request_size(sns):
    client, stubber = sns
    big = [(note(size=BATCH_BYTES // 3, n=i), ["machines"]) for i in range(4)]  # three do not fit one request
    for ids in (["0", "1"], ["0", "1"]):
        stubber.add_response("publish_batch", {"Successful": [{"Id": i, "MessageId": "m" + i} for i in ids],
                                               "Failed": []})

    results = [r["machines"] for r in Notifier(client, TOPIC).publish_batch(big)]

    assert results == ["m0", "m1", "m0", "m1"]
    stubber.assert_no_pending_responses()


def test_events_go_out_ten_to_a_put_events_call_each_with_its_own_result(sns, events):
    (client, _), (events_client, events_stubber) = sns, events
    notes = [(note(n=i, kind="digest"), ["events"]) for i in range(12)]
    events_stubber.add_response("put_events", {"FailedEntryCount": 1, "Entries": [{"EventId": f"e{i}"} for i in range(9)]
                                               + [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}]})
    events_stubber.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e10"}, {"EventId": "e11"}]})

    results = [r["events"] for r in every_channel(client, events_client).publish_batch(notes)]

    assert results[:9] == [f"e{i}" for i in range(9)] and isinstance(results[9], NotificationError)
    assert results[10:] == ["e10", "e11"]
    events_stubber.assert_no_pending_responses()
