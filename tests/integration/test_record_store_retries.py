"""The record store when botocore sends the same request again (the first answer was lost to a read
timeout, but DynamoDB had applied the write): the retry must not mistake its own claim for another's."""

from __future__ import annotations

import time

from session_watch.adapters.record_store import RecordStore, SaveKind
from session_watch.domain.record import RECORD_FIELDS


class AnswerLostOnce:
    """A DynamoDB client whose first UpdateItem answer is lost after the write was applied; botocore then
    sends the identical request again (its standard retry after a read timeout)."""

    def __init__(self, client) -> None:
        self._client = client
        self.sent = 0

    def update_item(self, **request):
        self.sent += 1
        self._client.update_item(**request)  # applied by DynamoDB; the answer never arrives
        self.sent += 1
        return self._client.update_item(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def failed_record():
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId="farm-" + "0" * 32, queueId="queue-" + "1" * 32, jobId="job-" + "2" * 32,
             sessionId="session-" + "3" * 32, sessionActionId="sessionaction-" + "3" * 32 + "-1",
             status="FAILED", outcome="failure", terminal=True, actionType="taskRun")
    return r


def test_a_resent_claim_is_recognised_as_this_calls_own(local_aws):
    client = AnswerLostOnce(local_aws.client("dynamodb"))
    store = RecordStore(client, local_aws.table_name)
    now = time.time()

    result = store.save(failed_record(), claim_notification=True, now=now, lease_until=now + 30,
                        expires_at=int(now) + 86400, recorded_at="2026-11-29T10:00:00.000Z")

    assert client.sent == 2
    assert result.kind is SaveKind.CLAIMED  # not PENDING: the lease held is this call's own
    item = local_aws.item(failed_record()["jobId"], failed_record()["sessionActionId"])
    assert item["notifyingStatus"] == {"S": "FAILED"} and "notifyingBy" in item


def test_another_calls_claim_is_still_pending(local_aws):
    store = RecordStore(local_aws.client("dynamodb"), local_aws.table_name)
    now = time.time()
    kwargs = dict(claim_notification=True, now=now, lease_until=now + 30, expires_at=int(now) + 86400,
                  recorded_at="2026-11-29T10:00:00.000Z")

    assert store.save(failed_record(), **kwargs).kind is SaveKind.CLAIMED
    assert store.save(failed_record(), **kwargs).kind is SaveKind.PENDING  # a second call: another token
    store.mark_published([(failed_record(), ["machines"], True)])
    item = local_aws.item(failed_record()["jobId"], failed_record()["sessionActionId"])
    assert "notifyingBy" not in item and item["notifiedStatus"] == {"S": "FAILED"}
