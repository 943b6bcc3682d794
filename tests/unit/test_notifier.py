"""The notifier adapter with botocore's Stubber: error mapping and PublishBatch grouping."""

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from session_watch.adapters.notifier import BATCH_BYTES, BATCH_ENTRIES, Notifier
from session_watch.domain.notification import Notification
from session_watch.errors import NotificationError, NotificationRejected

TOPIC = "arn:aws:sns:us-west-2:123456789012:session-watch"


def note(size: int = 100, n: int = 0) -> Notification:
    return Notification(subject=f"s{n}", email="e", message=json.dumps({"default": "x" * size, "email": "e"}),
                        attributes={"kind": "sessionAction"})


@pytest.fixture
def sns():
    client = boto3.client("sns", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield client, stubber


def test_a_rejected_message_is_not_retryable_a_failed_publish_is(sns):
    client, stubber = sns
    stubber.add_client_error("publish", "InvalidParameter", "Message too long", 400)
    stubber.add_client_error("publish", "InternalError", "boom", 500)
    notifier = Notifier(client, TOPIC)

    with pytest.raises(NotificationRejected) as rejected:
        notifier.publish(note())
    assert rejected.value.retryable is False and "InvalidParameter" in str(rejected.value)
    with pytest.raises(NotificationError) as failed:
        notifier.publish(note())
    assert type(failed.value) is NotificationError and failed.value.retryable is True


def test_publish_batch_groups_within_sns_limits_and_reports_each_entry(sns):
    client, stubber = sns
    notes = [note(n=i) for i in range(BATCH_ENTRIES + 3)]
    first = [{"Id": str(i), "MessageId": f"m{i}"} for i in range(BATCH_ENTRIES) if i != 4]
    stubber.add_response(
        "publish_batch",
        {"Successful": first, "Failed": [{"Id": "4", "Code": "InternalError", "SenderFault": False, "Message": "x"}]},
        {"TopicArn": TOPIC, "PublishBatchRequestEntries": ANY},
    )
    stubber.add_client_error("publish_batch", "ThrottledException", "slow down", 400)

    results = Notifier(client, TOPIC).publish_batch(notes)

    assert results[0] == "m0" and isinstance(results[4], NotificationError)
    assert all(isinstance(r, NotificationError) for r in results[BATCH_ENTRIES:])  # the second request failed
    assert sum(isinstance(r, str) for r in results) == BATCH_ENTRIES - 1
    stubber.assert_no_pending_responses()


def test_publish_batch_splits_by_request_size(sns):
    client, stubber = sns
    big = [note(size=BATCH_BYTES // 3, n=i) for i in range(4)]  # three do not fit one request with room
    for ids in (["0", "1"], ["2", "3"]):
        stubber.add_response("publish_batch", {"Successful": [{"Id": i, "MessageId": "m" + i} for i in ids],
                                               "Failed": []})

    results = Notifier(client, TOPIC).publish_batch(big)

    assert results == ["m0", "m1", "m2", "m3"]
    stubber.assert_no_pending_responses()
