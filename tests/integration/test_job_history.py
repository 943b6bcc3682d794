"""The job's history (``RecordStore.records_of_job``): one Query on the job's partition, paged, bounded."""

from __future__ import annotations

import time

from session_watch.adapters.record_store import RecordStore
from session_watch.domain.record import RECORD_FIELDS

JOB, OTHER_JOB = "job-" + "2" * 32, "job-" + "4" * 32


def record(job_id: str, n: int, status: str = "FAILED"):
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId="farm-" + "0" * 32, queueId="queue-" + "1" * 32, jobId=job_id,
             sessionId="session-" + "3" * 32, sessionActionId=f"sessionaction-{'3' * 32}-{n}",
             status=status, outcome="failure" if status == "FAILED" else "completion", terminal=True,
             actionType="taskRun", processExitCode=n)
    return r


class CountingClient:
    def __init__(self, client, page_size=None):
        self._client, self.queries, self._page = client, [], page_size

    def query(self, **request):
        self.queries.append(request)
        if self._page and "Limit" not in request:
            request = dict(request, Limit=self._page)
        return self._client.query(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def _store_with(local_aws, records, page_size=None):
    client = CountingClient(local_aws.client("dynamodb"), page_size)
    store = RecordStore(client, local_aws.table_name)
    now = time.time()
    for r in records:
        store.save(r, claim_notification=False, now=now, lease_until=now + 60, expires_at=int(now) + 3600,
                   recorded_at="2026-12-04T00:00:00Z")
    return store, client


def test_records_of_job_reads_every_page_of_the_job_and_nothing_else(local_aws):
    store, client = _store_with(local_aws, [record(JOB, n) for n in range(7)] + [record(OTHER_JOB, 1)], 3)

    got = store.records_of_job(JOB)

    assert sorted(r["processExitCode"] for r in got) == list(range(7))
    assert {r["jobId"] for r in got} == {JOB}
    assert set(got[0]) == set(RECORD_FIELDS)  # every contract key, as a stored record comes back
    assert len(client.queries) == 3  # pages of 3: 3 + 3 + 1


def test_records_of_job_stops_at_its_limit(local_aws):
    store, client = _store_with(local_aws, [record(JOB, n) for n in range(7)])

    got = store.records_of_job(JOB, limit=4)

    assert len(got) == 4
    assert client.queries[-1]["Limit"] == 4


def test_records_of_an_unknown_job_is_empty(local_aws):
    store, _ = _store_with(local_aws, [record(JOB, 1)])
    assert store.records_of_job(OTHER_JOB) == []
