"""Regressions of the delivery promises on the default path (event queue + digests), through the real
handler against moto and the Deadline Cloud stand-in. Each failed before the one-path core:

1. Batch reads keyed by session action id alone mixed up jobs.
2. A failed task and the tasks it left NEVER_ATTEMPTED, in one batch, failed each other (the batch's own
   lease on the root cause was taken for another invocation's).
3. A crash between creating a digest window and queueing its flush left the window unflushed for good.
4. botocore re-sending the window's UpdateItem (its first answer lost) queued no flush.
5. The "batch processed" log line's ``published`` count went negative.
"""

from __future__ import annotations

import json

import pytest

from session_watch.adapters import clients
from tests.integration.test_batch_and_digests import failing_job, sqs_event, windows_of


def ref_body(farm_id, queue_id, job_id, session_action_id):
    return {"farmId": farm_id, "queueId": queue_id, "jobId": job_id, "sessionActionId": session_action_id}


# --- 1. whole identifiers --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["each", "digest"])
def test_a_reference_naming_the_wrong_job_fails_alone_and_writes_nothing_under_it(
        farm, invoke, local_aws, lambda_env, mode):
    lambda_env(NOTIFY_MODE=mode)
    good = farm.task_action(status="FAILED", exit_code=2)
    other = farm.task_action(status="SUCCEEDED")  # a real job, but not the action's
    wrong = ref_body(good.farm_id, good.queue_id, other.job_id, good.session_action_id)
    batch = sqs_event([wrong, ref_body(good.farm_id, good.queue_id, good.job_id, good.session_action_id)])

    response = invoke(batch)

    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    assert local_aws.item(other.job_id, good.session_action_id) is None
    assert local_aws.item(good.job_id, good.session_action_id)["status"] == {"S": "FAILED"}
    messages = local_aws.notifications()
    assert all(m["MessageAttributes"]["jobId"]["Value"] != other.job_id for m in messages)
    if mode == "each":
        assert [m["record"]["jobId"] for m in messages] == [good.job_id]
    # The single-call path rejects the same reference the same way.
    from session_watch.errors import DeadlineResourceNotFound
    with pytest.raises(DeadlineResourceNotFound):
        invoke(wrong)


def test_the_same_action_id_under_two_jobs_in_one_batch_is_two_identifiers(farm, invoke, local_aws):
    first = farm.task_action(status="FAILED")
    second = farm.task_action(status="FAILED")
    bodies = [ref_body(first.farm_id, first.queue_id, first.job_id, first.session_action_id),
              ref_body(second.farm_id, second.queue_id, second.job_id, first.session_action_id),
              ref_body(second.farm_id, second.queue_id, second.job_id, second.session_action_id)]
    batch = sqs_event(bodies)

    response = invoke(batch)

    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [batch["Records"][1]["messageId"]]
    assert local_aws.item(second.job_id, first.session_action_id) is None
    assert sorted(m["record"]["sessionActionId"] for m in local_aws.notifications()) == sorted(
        [first.session_action_id, second.session_action_id])


# --- 2. a batch knows its own claims ------------------------------------------------------------------


def failed_task_then_never_attempted(farm, frames: int = 3):
    """One session: the first task run fails, the runs queued behind it end NEVER_ATTEMPTED."""
    render = farm.farm
    job = render.create_job("one-bad-frame", frames=list(range(1, frames + 1)))
    session = render.start_session(job.job_id)
    runs = [render.add_task_run(session.session_id, t, status="ASSIGNED") for t in job.task_ids]
    render.set_session_action_status(runs[0].session_action_id, "RUNNING")
    render.set_session_action_status(runs[0].session_action_id, "FAILED", process_exit_code=9,
                                     progress_message="Error: out of memory")
    for run in runs[1:]:
        if render.session_action(run.session_action_id).status != "NEVER_ATTEMPTED":
            render.set_session_action_status(run.session_action_id, "NEVER_ATTEMPTED")
    events = [e for e in render.drain_events()
              if e["detail-type"] == "Task Run Status Change" and e["detail"]["runStatus"] == "FAILED"]
    return job, runs, events


@pytest.mark.parametrize("order", ["failed first", "never attempted first"])
@pytest.mark.parametrize("mode", ["each", "digest"])
def test_a_failed_task_and_the_tasks_it_left_never_attempted_in_one_batch_all_succeed(
        farm, invoke, local_aws, lambda_env, mode, order):
    lambda_env(NOTIFY_MODE=mode)
    job, runs, events = failed_task_then_never_attempted(farm)
    assert len(events) == 3
    if order == "never attempted first":
        events = events[::-1]

    assert invoke(sqs_event(events)) == {"batchItemFailures": []}

    rows = {r["sessionActionId"]["S"]: r for r in local_aws.items() if r["jobId"]["S"] == job.job_id}
    assert {k: r["status"]["S"] for k, r in rows.items()} == {
        runs[0].session_action_id: "FAILED", runs[1].session_action_id: "NEVER_ATTEMPTED",
        runs[2].session_action_id: "NEVER_ATTEMPTED"}
    assert all(r["notifiedStatus"] == {"S": r["status"]["S"]} for r in rows.values())
    assert all("notifyingStatus" not in r for r in rows.values())
    never = [rows[r.session_action_id] for r in runs[1:]]
    assert all(r["rootCause"]["M"]["sessionActionId"] == {"S": runs[0].session_action_id} for r in never)
    if mode == "each":
        published = sorted(m["record"]["sessionActionId"] for m in local_aws.notifications())
        assert published == sorted(r.session_action_id for r in runs)  # each once, the cause included
    else:
        assert all("digestWindow" in r for r in rows.values())


# --- 3 and 4. the flush is queued, whatever happened to the window -------------------------------------


class LoseFirstAnswer:
    """A DynamoDB client that applies the first UpdateItem on ``table`` and loses its answer; botocore then
    sends the identical request again (its standard retry after a read timeout)."""

    def __init__(self, client, table: str) -> None:
        self._client, self._table, self.lost = client, table, 0

    def update_item(self, **request):
        if request.get("TableName") == self._table and not self.lost:
            self.lost += 1
            self._client.update_item(**request)  # applied; the answer never arrives
        return self._client.update_item(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_resent_window_update_still_queues_the_flush(farm, invoke, local_aws, lambda_env):
    lambda_env(NOTIFY_MODE="digest")
    lossy = LoseFirstAnswer(clients.client("dynamodb"), local_aws.digest_table_name)
    clients._clients["dynamodb"] = lossy  # what the handler's adapters will use
    job, events = failing_job(farm, frames=2)

    assert invoke(sqs_event(events)) == {"batchItemFailures": []}

    assert lossy.lost == 1
    windows = windows_of(local_aws)
    assert len(windows) >= 1 and all(w["state"] == {"S": "scheduled"} for w in windows)
    assert local_aws.queue_counts(local_aws.digest_queue_url)["ApproximateNumberOfMessagesDelayed"] == len(windows)


class CrashOnSendMessage(Exception):
    """The invocation dies (timeout, out of memory) right before the flush goes on the digest queue."""


class SqsThatDiesOnce:
    def __init__(self, client) -> None:
        self._client, self.died = client, False

    def send_message(self, **request):
        if not self.died:
            self.died = True
            raise CrashOnSendMessage()
        return self._client.send_message(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.mark.parametrize("repair_by", ["the redelivery", "a later failure of the job"])
def test_a_crash_between_creating_the_window_and_queueing_its_flush_is_repaired(
        farm, invoke, local_aws, lambda_env, repair_by):
    lambda_env(NOTIFY_MODE="digest", DIGEST_WINDOW_SECONDS="600")  # one window for the whole test
    clients._clients["sqs"] = SqsThatDiesOnce(clients.client("sqs"))
    job, events = failing_job(farm, frames=2)
    ids = farm.task_action(status="FAILED")

    with pytest.raises(CrashOnSendMessage):
        invoke(events[0])  # direct delivery: the invocation dies
    [window] = windows_of(local_aws)
    assert window["state"] == {"S": "opening"}
    assert local_aws.queue_counts(local_aws.digest_queue_url)["ApproximateNumberOfMessagesDelayed"] == 0

    from session_watch import handler
    handler._service.cache_clear()  # a new execution environment takes the retry
    invoke(events[0] if repair_by == "the redelivery" else events[1])

    [window] = windows_of(local_aws)
    assert window["state"] == {"S": "scheduled"}
    assert local_aws.queue_counts(local_aws.digest_queue_url)["ApproximateNumberOfMessagesDelayed"] == 1
    assert ids  # another job's failure is not involved


def test_a_resent_ledger_lease_is_recognised_as_this_calls_own(local_aws):
    from session_watch.adapters.digest_ledger import DigestLedger

    lossy = LoseFirstAnswer(local_aws.client("dynamodb"), local_aws.digest_table_name)
    ledger = DigestLedger(lossy, local_aws.digest_table_name)

    taken = ledger.begin("job-" + "2" * 32, "window#0000000060", now=100.0, lease_until=130.0, expires_at=10**9)
    assert taken == frozenset() and lossy.lost == 1  # taken (nothing published yet), not "held by another"
    # Another call still finds the lease taken.
    assert DigestLedger(local_aws.client("dynamodb"), local_aws.digest_table_name).begin(
        "job-" + "2" * 32, "window#0000000060", now=101.0, lease_until=131.0, expires_at=10**9) is None


# --- 5. the batch's log line ------------------------------------------------------------------------


def test_the_batch_log_line_counts_what_was_published(farm, invoke, local_aws, function_logs):
    job, events = failing_job(farm, frames=4)
    farm.standin.faults.fail_resource(events[1]["detail"]["taskId"], "InternalServerErrorException")
    batch = sqs_event(events + ["{not json", "{}"])

    response = invoke(batch)

    assert len(response["batchItemFailures"]) == 3
    [line] = [l for l in function_logs.lines() if l.get("message") == "batch processed"]
    assert line["messages"] == 6 and line["failed"] == 3 and line["published"] == 3
    assert len(local_aws.notifications()) == 3
    assert json.dumps(line)  # a plain JSON log line
