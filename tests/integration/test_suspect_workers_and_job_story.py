"""Issue 14 part B through the real handler against moto and the Deadline Cloud stand-in: suspect workers
(counted atomically across concurrent batches, a redelivery never counted twice, botocore re-sending the
counter's write, one notification per worker and window), one story per job (the job's open digest windows
published before its job-level message, whose numbers add up with them, exactly once across a crash), and
a job that fails before it runs (Job Lifecycle Status Change)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from session_watch import handler
from session_watch.adapters import clients
from tests.integration.test_batch_and_digests import by_kind, failing_job, flush_of, sqs_event, windows_of
from tests.integration.test_one_path_regressions import LoseFirstAnswer

#: One window for the whole test (a day): the farm's clock cannot straddle a boundary within a test run
#: unless it runs at midnight UTC.
ONE_WINDOW = {"SUSPECT_WORKER_WINDOW_MINUTES": "1440"}


def counters(local_aws):
    return [i for i in local_aws.ledger_items() if i["jobId"]["S"].startswith("worker#")]


def job_run_event(job, counts, status="FAILED"):
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Job Run Status Change",
            "source": "aws.deadline", "account": "123456789012", "time": "2026-11-29T10:00:00Z",
            "region": "us-west-2", "resources": [],
            "detail": {"farmId": job.farm_id, "queueId": job.queue_id, "jobId": job.job_id,
                       "previousTaskRunStatus": "RUNNING", "taskRunStatus": status, "taskRunStatusCounts": counts}}


# --- suspect workers ---------------------------------------------------------------------------------


def test_concurrent_batches_count_atomically_and_the_worker_is_told_once(farm, invoke, local_aws, lambda_env):
    lambda_env(**ONE_WINDOW)
    job, events = failing_job(farm, frames=6, sessions=1)
    answers = []

    def deliver(batch, name):
        answers.append(invoke(sqs_event(batch), request_id=name))

    # Two batches of 3 failures each, at the same time: neither reaches 5 alone; together they do.
    threads = [threading.Thread(target=deliver, args=(events[:3], "a")),
               threading.Thread(target=deliver, args=(events[3:], "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [{"batchItemFailures": []}] * 2
    [counter] = counters(local_aws)
    assert (counter["runs"], counter["failures"]) == ({"N": "6"}, {"N": "6"})
    assert counter["state"] == {"S": "published"}
    [suspect] = by_kind(local_aws.notifications(), "suspectWorker")
    assert suspect["record"]["failures"] == 6 and suspect["record"]["taskRuns"] == 6
    assert suspect["record"]["jobs"][0]["jobId"] == job.job_id
    assert suspect["record"]["latestFailure"]["processExitCode"] == 1
    assert suspect["MessageAttributes"]["kind"]["Value"] == "suspectWorker"


def test_a_redelivered_record_is_not_counted_twice(farm, invoke, local_aws, lambda_env):
    lambda_env(**ONE_WINDOW)
    job, events = failing_job(farm, frames=5, sessions=1)

    invoke(sqs_event(events[:4]))
    invoke(sqs_event(events[:4]), request_id="redelivery-1")  # the same four, delivered again
    invoke(events[0], request_id="redelivery-2")  # and one directly

    [counter] = counters(local_aws)
    assert counter["failures"] == {"N": "4"}  # 4 failures: not (yet) suspect
    assert by_kind(local_aws.notifications(), "suspectWorker") == []

    invoke(sqs_event([events[4]]), request_id="fifth")
    [suspect] = by_kind(local_aws.notifications(), "suspectWorker")
    assert suspect["record"]["failures"] == 5

    invoke(sqs_event(events), request_id="redelivery-3")  # everything again: nothing new
    assert local_aws.notifications() == []
    assert counters(local_aws)[0]["failures"] == {"N": "5"}


def test_a_resent_counter_update_counts_once(farm, invoke, local_aws, lambda_env):
    """botocore sends the counter's UpdateItem again after its first answer was lost: the batch's token is
    already in ``batches``, so the second one adds nothing."""
    lambda_env(**ONE_WINDOW)
    lossy = LoseFirstAnswer(clients.client("dynamodb"), local_aws.digest_table_name)
    clients._clients["dynamodb"] = lossy
    job, events = failing_job(farm, frames=4, sessions=1)

    assert invoke(sqs_event(events)) == {"batchItemFailures": []}

    assert lossy.lost == 1
    [counter] = counters(local_aws)
    assert (counter["runs"], counter["failures"]) == ({"N": "4"}, {"N": "4"})
    assert len(counter["batches"]["SS"]) == 1


def test_a_worker_that_also_succeeds_is_not_suspect(farm, invoke, local_aws, lambda_env):
    """5 failures of 20 task runs: a flaky frame range, not a broken worker."""
    lambda_env(**ONE_WINDOW)
    render = farm.farm
    job = render.create_job("mostly-fine", frames=list(range(1, 21)))
    session = render.start_session(job.job_id)
    for i, task_id in enumerate(job.task_ids):
        action = render.add_task_run(session.session_id, task_id, status="ASSIGNED")
        render.set_session_action_status(action.session_action_id, "RUNNING")
        if i < 5:
            render.set_session_action_status(action.session_action_id, "FAILED", process_exit_code=2)
        else:
            render.set_session_action_status(action.session_action_id, "SUCCEEDED", process_exit_code=0)
    events = [e for e in render.drain_events() if e["detail-type"] == "Task Run Status Change"
              and e["detail"]["runStatus"] in ("FAILED", "SUCCEEDED")]

    assert invoke(sqs_event(events)) == {"batchItemFailures": []}

    [counter] = counters(local_aws)
    assert (counter["runs"], counter["failures"]) == ({"N": "20"}, {"N": "5"})
    assert by_kind(local_aws.notifications(), "suspectWorker") == []


# --- one story per job -------------------------------------------------------------------------------


class CrashOnJobLevelPublish(Exception):
    """The invocation dies right before the job-level message is published (after the digest went out)."""


class SnsThatDiesOnJobLevel:
    def __init__(self, client) -> None:
        self._client, self.died = client, False

    def publish(self, **request):
        kind = request.get("MessageAttributes", {}).get("kind", {}).get("StringValue")
        if kind == "jobRun" and not self.died:
            self.died = True
            raise CrashOnJobLevelPublish()
        return self._client.publish(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_the_job_level_message_comes_after_the_jobs_digests_and_adds_up_with_them_once_across_a_crash(
        farm, invoke, local_aws, lambda_env):
    lambda_env(NOTIFY_MODE="digest", DIGEST_WINDOW_SECONDS="600", SUSPECT_WORKER_FAILURES="1000")
    job, events = failing_job(farm, frames=3, sessions=3)
    assert invoke(sqs_event(events)) == {"batchItemFailures": []}
    [window] = windows_of(local_aws)
    assert window["state"] == {"S": "scheduled"}  # the window is open; its flush is queued for later
    clients._clients["sns"] = SnsThatDiesOnJobLevel(clients.client("sns"))
    handler._service.cache_clear()  # the adapters take the client above
    event = job_run_event(job, {"FAILED": 3, "SUCCEEDED": 0})

    with pytest.raises(CrashOnJobLevelPublish):
        invoke(event, remaining_ms=0)  # the digest goes out first; the invocation dies before the job-level one
    [digest] = local_aws.notifications()
    assert digest["MessageAttributes"]["kind"]["Value"] == "digest" and digest["record"]["failures"] == 3

    time.sleep(1.1)  # the job-level lease (no remaining time: 1 s) runs out
    handler._service.cache_clear()  # a new execution environment takes the redelivery
    invoke(event, request_id="redelivery")
    [job_level] = local_aws.notifications()  # the digest is not published again
    summary = job_level["record"]["failureSummary"]
    assert job_level["MessageAttributes"]["kind"]["Value"] == "jobRun"
    assert summary["failedActions"] == digest["record"]["failures"] == 3
    assert summary["tasksNotSucceeded"] == 3 and summary["story"] == "3 failed actions for 3 tasks that did not succeed"
    assert sum(summary["byWorker"].values()) == 3 and len(summary["byWorker"]) == 3

    # The queued flush of the window arrives later: already published, nothing sent.
    assert invoke(sqs_event([flush_of(job, window)], queue="session-watch-digests")) == {"batchItemFailures": []}
    invoke(event, request_id="again")
    assert local_aws.notifications() == []


def test_the_job_level_message_lists_the_suspect_workers_of_the_job(farm, invoke, local_aws, lambda_env):
    lambda_env(**ONE_WINDOW)
    job, events = failing_job(farm, frames=5, sessions=1)
    invoke(sqs_event(events))
    local_aws.notifications()

    invoke(job_run_event(job, {"FAILED": 5}))

    [job_level] = local_aws.notifications()
    [suspect] = job_level["record"]["failureSummary"]["suspectWorkers"]
    [session_id] = {r["sessionId"]["S"] for r in local_aws.items() if r["jobId"]["S"] == job.job_id}
    assert suspect["failures"] == 5 and suspect["workerId"] == farm.farm.session(session_id).worker_id


# --- a job that fails before it runs -----------------------------------------------------------------


@pytest.mark.parametrize("status", ["CREATE_FAILED", "UPLOAD_FAILED"])
def test_a_job_that_failed_before_it_ran_gets_one_job_level_failure_message(farm, invoke, local_aws, status):
    render = farm.farm
    job = render.create_job("shot-090_fx_v001", frames=[1, 2])
    [event] = render.fail_job_lifecycle(job.job_id, status, "Job template validation failed: 'Frames' is empty")
    render.drain_events()

    result = invoke(event)
    invoke(dict(event, id=str(uuid.uuid4())), request_id="again")  # Deadline sends it again
    assert invoke(sqs_event([event]), request_id="through-the-queue") == {"batchItemFailures": []}

    assert result["jobLifecycle"]["status"] == "published"
    [message] = local_aws.notifications()
    assert message["MessageAttributes"]["kind"]["Value"] == "jobLifecycle"
    assert message["MessageAttributes"]["status"]["Value"] == status
    body = message["record"]
    assert body["lifecycleStatus"] == status and body["jobName"] == "shot-090_fx_v001"
    assert body["lifecycleStatusMessage"] == "Job template validation failed: 'Frames' is empty"
    assert message["Subject"].startswith("Deadline: shot-090_fx_v001: job could not")


def test_other_lifecycle_statuses_are_not_notified(farm, invoke, local_aws):
    job = farm.farm.create_job("fine", frames=[1])
    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Job Lifecycle Status Change",
             "source": "aws.deadline", "account": "123456789012", "time": "2026-11-29T10:00:00Z",
             "region": "us-west-2", "resources": [],
             "detail": {"farmId": job.farm_id, "queueId": job.queue_id, "jobId": job.job_id,
                        "previousLifecycleStatus": "CREATE_IN_PROGRESS", "lifecycleStatus": "CREATE_COMPLETE"}}
    assert invoke(event)["jobLifecycle"]["status"] == "not notified"
    assert local_aws.notifications() == []
