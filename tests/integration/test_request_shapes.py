"""The function's clients do not validate requests (``adapters/clients.py``: ``parameter_validation`` off,
it is CPU the function's own requests do not need). These tests hold every request the function sends to
the botocore model instead, the check botocore would have made, through the paths that send them: a
direct invocation, an SQS batch, a digest window and its flush, in both modes. They also pin the cost
paths of the batch: its conditional writes go side by side, and a window's flush reads its records with
one Query.
"""

from __future__ import annotations

import threading
from typing import Any, List, Tuple

import pytest
from botocore.validate import ParamValidationDecorator, ParamValidator

from session_watch import fanout
from session_watch.adapters import clients
from session_watch.names import DIGEST_WINDOW_INDEX
from session_watch.domain.keys import DIGEST_SHARDS, LEGACY_DIGEST_SHARDS

from tests.integration.test_batch_and_digests import failing_job, flush_of, sqs_event, windows_of


class ModelCheck:
    """Validates every request of the function's clients against the botocore model, as botocore does when
    ``parameter_validation`` is on (``before-parameter-build``: the parameters as the adapter gave them)."""

    def __init__(self) -> None:
        self.checked: List[str] = []
        #: each Query's index (None: the table itself)
        self.query_indexes: List[Any] = []
        self.invalid: List[Tuple[str, str]] = []
        self.threads: set = set()
        #: (operation, the thread that sent it), in the order sent
        self.sent: List[Tuple[str, str]] = []
        self._lock = threading.Lock()
        original = clients.client

        hooked: set = set()

        def client(service: str) -> Any:
            c = original(service)
            with self._lock:  # the fan-out's threads may ask for a new client at once: hook it once
                made = id(c) not in hooked
                hooked.add(id(c))
            if made:
                # the function's own setting: botocore's serializer without its validating wrapper
                assert not isinstance(c._serializer, ParamValidationDecorator)
                c.meta.events.register("before-parameter-build", self._check)
                c.meta.events.register("before-send", self._thread)
            return c

        self._original = original
        clients.client = client

    def _check(self, params: Any, model: Any, **_: Any) -> None:
        report = ParamValidator().validate(params, model.input_shape)
        with self._lock:
            self.checked.append(model.name)
            if model.name == "Query":
                self.query_indexes.append(params.get("IndexName"))
            if report.has_errors():
                self.invalid.append((model.name, report.generate_report()))

    def _thread(self, event_name: str = "", **_: Any) -> None:
        with self._lock:
            self.threads.add(threading.current_thread().name)
            self.sent.append((event_name.rsplit(".", 1)[-1], threading.current_thread().name))

    def close(self) -> None:
        clients.client = self._original


@pytest.fixture
def model_check(lambda_env):
    clients.reset()
    check = ModelCheck()
    yield check
    check.close()
    clients.reset()


@pytest.mark.parametrize("mode", ["each", "digest"])
def test_every_request_of_a_batch_and_a_flush_fits_the_botocore_model(
        farm, invoke, local_aws, lambda_env, model_check, mode):
    lambda_env(NOTIFY_MODE=mode)
    job, events = failing_job(farm, frames=6, sessions=2)

    assert invoke(sqs_event(events + events[:2])) == {"batchItemFailures": []}  # two duplicates
    invoke(events[0])  # a direct delivery of the same event
    for window in windows_of(local_aws) if mode == "digest" else []:
        assert invoke(sqs_event([flush_of(job, window)])) == {"batchItemFailures": []}

    assert model_check.invalid == []
    expected = {"BatchGetTask", "BatchGetSessionAction", "UpdateItem"} | (
        {"SendMessageBatch", "Query", "Publish"} if mode == "digest" else {"PublishBatch"})
    assert expected <= set(model_check.checked)
    # the batch's conditional writes went through the fan-out's threads
    assert any(name.startswith("fanout") for name in model_check.threads)


def test_a_window_records_its_index_keys_and_its_flush_reads_them_with_one_query(
        farm, invoke, local_aws, lambda_env, model_check):
    lambda_env(NOTIFY_MODE="digest")
    job, events = failing_job(farm, frames=5)
    invoke(sqs_event(events))
    [window] = windows_of(local_aws)
    assert window["shards"] == {"N": str(DIGEST_SHARDS)}

    model_check.checked.clear()
    assert invoke(sqs_event([flush_of(job, window)])) == {"batchItemFailures": []}

    # one Query of the window's records (byDigestWindow), and one of the job's suspect workers in the ledger
    assert model_check.query_indexes.count(DIGEST_WINDOW_INDEX) == 1
    assert model_check.checked.count("Query") == 2
    [digest] = [n for n in local_aws.notifications() if n["MessageAttributes"]["kind"]["Value"] == "digest"]
    assert digest["record"]["failures"] == 5


def test_a_window_opened_without_a_shard_count_is_read_over_the_legacy_keys(
        farm, invoke, local_aws, lambda_env, model_check):
    lambda_env(NOTIFY_MODE="digest")
    job, events = failing_job(farm, frames=3)
    invoke(sqs_event(events))
    [window] = windows_of(local_aws)
    dynamodb = local_aws.client("dynamodb")
    dynamodb.update_item(TableName=local_aws.digest_table_name, Key={k: window[k] for k in ("jobId", "digestKey")},
                         UpdateExpression="REMOVE shards")  # as a window opened by the code before it

    model_check.checked.clear()
    assert invoke(sqs_event([flush_of(job, window)])) == {"batchItemFailures": []}

    assert model_check.query_indexes.count(DIGEST_WINDOW_INDEX) == LEGACY_DIGEST_SHARDS
    assert model_check.checked.count("Query") == LEGACY_DIGEST_SHARDS + 1  # + the job's suspect workers


def test_the_fan_out_returns_each_outcome_in_order_and_an_error_as_the_tasks_own():
    def boom() -> int:
        raise RuntimeError("this task failed")

    done = fanout.run_all([lambda: 1, boom, lambda: 3])

    assert [d.value for d in done] == [1, None, 3]
    assert isinstance(done[1].error, RuntimeError) and done[0].error is None


def test_a_batch_opens_the_windows_of_its_jobs_together_and_queues_each_flush_once(
        farm, invoke, local_aws, lambda_env, model_check):
    lambda_env(NOTIFY_MODE="digest")
    events = []
    for n in range(3):
        _, job_events = failing_job(farm, frames=2, name=f"scene-{n}")
        events += job_events

    assert invoke(sqs_event(events)) == {"batchItemFailures": []}

    windows = windows_of(local_aws)
    assert len(windows) == 3 and all(w["state"] == {"S": "scheduled"} for w in windows)
    assert local_aws.queue_counts(local_aws.digest_queue_url)["ApproximateNumberOfMessagesDelayed"] == 3
    # one SendMessageBatch for the three flushes, one transaction marking the three windows scheduled
    assert model_check.checked.count("SendMessageBatch") == 1 and model_check.checked.count("TransactWriteItems") == 1
    assert model_check.invalid == []


def test_marking_windows_scheduled_together_falls_back_to_one_by_one_when_one_has_moved_on(local_aws):
    from session_watch.adapters.digest_ledger import DigestLedger

    ledger = DigestLedger(local_aws.client("dynamodb"), local_aws.digest_table_name)
    job = "job-" + "7" * 32
    for start in (60, 120, 180):
        ledger.open_window(job, start, flush_at=start + 70, expires_at=10**10)
    ledger.begin(job, "window#0000000120", now=1.0, lease_until=10**9, expires_at=10**10)  # its flush runs

    ledger.mark_scheduled_many([(job, 60), (job, 120), (job, 180)])

    states = {i["digestKey"]["S"]: i["state"]["S"] for i in windows_of(local_aws)}
    assert states == {"window#0000000060": "scheduled", "window#0000000120": "publishing",
                      "window#0000000180": "scheduled"}


def test_a_batch_of_flushes_publishes_its_digests_together_and_marks_them_published_together(
        farm, invoke, local_aws, lambda_env, model_check):
    lambda_env(NOTIFY_MODE="digest")
    jobs, events = [], []
    for n in range(3):
        job, job_events = failing_job(farm, frames=2, name=f"scene-{n}")
        jobs.append(job)
        events += job_events
    invoke(sqs_event(events))
    windows = windows_of(local_aws)
    job_by_id = {j.job_id: j for j in jobs}
    flushes = [flush_of(job_by_id[w["jobId"]["S"]], w) for w in windows]

    model_check.checked.clear()
    assert invoke(sqs_event(flushes + flushes[:1])) == {"batchItemFailures": []}  # one flush twice in the batch
    # the leases taken together, the digests published together, the windows marked published together
    assert model_check.checked.count("TransactWriteItems") == 2 and model_check.checked.count("PublishBatch") >= 1
    assert "GetItem" not in model_check.checked
    # a redelivery of them all: the leases cannot be taken together (published), each flush finds its own
    assert invoke(sqs_event(flushes)) == {"batchItemFailures": []}

    assert all(w["state"] == {"S": "published"} and w["memberCount"] == {"N": "2"} for w in windows_of(local_aws))
    digests = [n for n in local_aws.notifications() if n["MessageAttributes"]["kind"]["Value"] == "digest"]
    assert sorted(d["record"]["jobId"] for d in digests) == sorted(j.job_id for j in jobs)  # each once
    assert model_check.invalid == []


def test_a_batchs_log_reads_and_worker_counters_go_side_by_side(
        farm, invoke, local_aws, lambda_env, model_check):
    """Each failure's log read (GetLogEvents) and each worker's suspect counter (UpdateItem) are independent
    of the others: in a batch they go through the fan-out's threads rather than one after another on the
    invocation's critical path."""
    lambda_env(NOTIFY_MODE="each", SUSPECT_WORKER_FAILURES="1000")
    job, events = failing_job(farm, frames=6, sessions=3)

    assert invoke(sqs_event(events)) == {"batchItemFailures": []}

    log_reads = [thread for operation, thread in model_check.sent if operation == "GetLogEvents"]
    # one read per session log and end time (two failures of a session that ended at the same moment share it)
    items = local_aws.client("dynamodb").scan(TableName=local_aws.table_name)["Items"]
    reads = {(i["sessionId"]["S"], i["endedAt"]["S"]) for i in items if i["jobId"]["S"] == job.job_id}
    assert len(items) == 6 and model_check.checked.count("GetLogEvents") == len(reads)
    assert log_reads and all(thread.startswith("fanout") for thread in log_reads)  # every attempt sent
    counters = [item for item in local_aws.client("dynamodb").scan(TableName=local_aws.digest_table_name)["Items"]
                if item["jobId"]["S"].startswith("worker#")]
    assert len(counters) == 3  # one counter item per worker (and window)
    assert not model_check.invalid
