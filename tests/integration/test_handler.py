"""The real handler, called as Lambda calls it, against moto (DynamoDB, SNS read through an SQS
subscription) and the project's Deadline Cloud stand-in reached through AWS_ENDPOINT_URL_DEADLINE."""

from __future__ import annotations

import json
import time

import pytest

from session_watch import handler as handler_module
from session_watch.adapters.notifier import Notifier
from session_watch.domain.record import RECORD_FIELDS
from session_watch.errors import (
    ConfigurationError,
    DeadlineAccessDenied,
    DeadlineResourceNotFound,
    DeadlineThrottled,
    DeadlineUnavailable,
    DeadlineValidationError,
    InvalidEventError,
    NotificationError,
    NotificationPending,
    RecordStoreError,
    UnsupportedEventError,
)

SECRET_PARAMETER = "/mnt/secret-project/zx81-unique-scene.blend"
SECRET_MESSAGE = "frame 12 exploded: token=qq-unique-progress-7731"


def assert_nothing_written_or_published(local_aws):
    assert local_aws.items() == []
    assert local_aws.notifications() == []


# --- the three inputs ---------------------------------------------------------------------------


def test_direct_invocation_records_publishes_and_returns_the_record(farm, invoke, local_aws):
    ids = farm.task_action(status="FAILED", exit_code=139, message="Segmentation fault", frame=12)

    result = invoke(farm.direct(ids))

    assert list(result) == list(RECORD_FIELDS)
    assert result["sessionActionId"] == ids.session_action_id
    assert (result["status"], result["outcome"], result["terminal"]) == ("FAILED", "failure", True)
    assert result["actionType"] == "taskRun" and result["taskId"] == ids.task_id
    assert result["parameters"]["Frame"] == 12 and result["parameterTypes"]["Frame"] == "int"
    assert result["processExitCode"] == 139
    json.dumps(result, allow_nan=False)

    item = local_aws.item(ids.job_id, ids.session_action_id)
    assert item["status"] == {"S": "FAILED"}
    assert item["processExitCode"] == {"N": "139"}
    assert "N" in item["progressPercent"] and "N" in item["durationSeconds"]  # floats as numbers
    assert item["parameters"]["M"]["Frame"] == {"N": "12"}
    assert int(item["expiresAt"]["N"]) > time.time() + 89 * 86400  # TTL: 90 days by default
    assert item["queueOutcome"] == {"S": f"{ids.queue_id}#failure"}
    assert item["notifiedStatus"] == {"S": "FAILED"}
    assert "environmentId" not in item  # null fields are not stored

    [message] = local_aws.notifications()
    assert message["record"] == result
    job = farm.farm.job(ids.job_id)
    step = job.steps[0].name
    assert message["Subject"].startswith(f"Deadline: {job.name}: {step} Frame=12 failed (exit 139) on worker-")
    assert len(message["Subject"]) < 100
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {"status": "FAILED", "outcome": "failure", "actionType": "taskRun",
                          "farmId": ids.farm_id, "queueId": ids.queue_id, "jobId": ids.job_id,
                          "kind": "sessionAction"}


def test_eventbridge_event_carrying_a_session_action(farm, invoke, local_aws):
    ids = farm.env_action("envEnter", status="SUCCEEDED")
    event = {"version": "0", "id": "e-1", "source": "studio.pipeline", "detail-type": "Check Session Action",
             "detail": farm.direct(ids)}

    result = invoke(event)

    assert (result["actionType"], result["outcome"]) == ("envEnter", "completion")
    assert result["environmentId"] == ids.environment_id
    assert local_aws.item(ids.job_id, ids.session_action_id)["status"] == {"S": "SUCCEEDED"}
    [message] = local_aws.notifications()
    name = farm.farm.job(ids.job_id).name
    assert message["Subject"].startswith(f"Deadline: {name}: Environment enter Setup completed on worker-")


def test_task_run_status_change_reads_the_tasks_latest_action(farm, invoke, local_aws):
    ids = farm.task_action(status="FAILED", exit_code=1)
    farm.reset_calls()

    result = invoke(farm.task_event(ids, "FAILED"))

    assert result["sessionActionId"] == ids.session_action_id and result["status"] == "FAILED"
    assert farm.calls() == {"GetTask": 1, "GetSessionAction": 1, "GetJob": 1, "GetStep": 1, "GetSession": 1}
    assert len(local_aws.notifications()) == 1


def test_task_without_latest_action_id_falls_back_to_listing(farm, invoke, local_aws):
    ids = farm.task_action(status="SUCCEEDED")
    farm.hide_latest_session_action(ids)
    farm.reset_calls()

    result = invoke(farm.task_event(ids, "SUCCEEDED"))

    assert result["sessionActionId"] == ids.session_action_id
    assert farm.calls()["ListSessionActions"] >= 1
    assert local_aws.item(ids.job_id, ids.session_action_id)["status"] == {"S": "SUCCEEDED"}


def test_task_that_never_ran_is_skipped_without_writing(farm, invoke, local_aws):
    ids = farm.task_without_action()

    result = invoke(farm.task_event(ids, "CANCELED"))

    assert result["skipped"] and result["taskId"] == ids.task_id and result["sessionActionId"] is None
    assert_nothing_written_or_published(local_aws)


def test_task_event_after_the_task_was_retried_records_the_failed_action(farm, invoke, local_aws):
    """The event says FAILED, but Deadline already started a retry: the failure must not be lost."""
    ids = farm.task_action(status="FAILED", exit_code=2)
    retry = farm.retry_task(ids)  # a new, RUNNING session action becomes the latest

    result = invoke(farm.task_event(ids, "FAILED"))

    assert result["sessionActionId"] == ids.session_action_id and result["status"] == "FAILED"
    assert retry.session_action_id != ids.session_action_id
    assert [m["record"]["sessionActionId"] for m in local_aws.notifications()] == [ids.session_action_id]


def test_late_failed_event_after_the_retry_already_succeeded_records_the_failure(farm, invoke, local_aws):
    """The retry ended too (SUCCEEDED) before the first attempt's FAILED event arrived."""
    ids = farm.task_action(status="FAILED", exit_code=139)
    retry = farm.retry_task(ids)
    farm.farm.set_session_action_status(retry.session_action_id, "SUCCEEDED", process_exit_code=0)
    invoke(farm.task_event(ids, "SUCCEEDED"))

    result = invoke(farm.task_event(ids, "FAILED"))  # the late one

    assert (result["sessionActionId"], result["status"]) == (ids.session_action_id, "FAILED")
    published = sorted((m["record"]["sessionActionId"], m["record"]["status"]) for m in local_aws.notifications())
    assert published == sorted([(ids.session_action_id, "FAILED"), (retry.session_action_id, "SUCCEEDED")])


# --- repetition and order -----------------------------------------------------------------------


def test_duplicate_deliveries_publish_once(farm, invoke, local_aws):
    ids = farm.task_action(status="FAILED", exit_code=139)
    event = farm.task_event(ids, "FAILED")

    results = [invoke(event, request_id=f"r{i}") for i in range(5)]

    assert len(local_aws.notifications()) == 1
    assert all(r == results[0] for r in results)
    assert local_aws.item(ids.job_id, ids.session_action_id)["notifiedStatus"] == {"S": "FAILED"}


def test_in_progress_then_terminal_publishes_only_the_terminal_status(farm, invoke, local_aws):
    ids = farm.task_action(status="RUNNING")
    assert invoke(farm.direct(ids))["outcome"] == "in_progress"
    assert local_aws.notifications() == []
    assert local_aws.item(ids.job_id, ids.session_action_id)["status"] == {"S": "RUNNING"}

    farm.set_status(ids, "SUCCEEDED")
    assert invoke(farm.direct(ids))["status"] == "SUCCEEDED"

    [message] = local_aws.notifications()
    assert message["record"]["status"] == "SUCCEEDED"


def test_out_of_order_read_never_regresses_a_terminal_record(farm, invoke, local_aws):
    ids = farm.task_action(status="SUCCEEDED")
    invoke(farm.direct(ids))
    local_aws.notifications()
    farm.set_status(ids, "RUNNING")  # a late, stale read of the action

    result = invoke(farm.direct(ids))

    assert result["status"] == "SUCCEEDED"  # the stored, newer record is returned
    assert local_aws.item(ids.job_id, ids.session_action_id)["status"] == {"S": "SUCCEEDED"}
    assert local_aws.notifications() == []


class FrozenClock:
    """Stands in for the handler's ``time`` module: ``time()`` moves only when the test advances it."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_crash_between_write_and_publish_is_repaired_by_the_retry(farm, invoke, local_aws, monkeypatch):
    ids = farm.task_action(status="FAILED", exit_code=139)
    event = farm.task_event(ids, "FAILED")
    real_publish = Notifier.publish

    def crash(self, notification, channels):
        raise RuntimeError("Runtime exited: the process was killed before publishing")

    # The function's clock stands still unless the test moves it: "while the crashed invocation could still
    # be running" must not depend on how fast this machine runs the next invocation.
    clock = FrozenClock()
    monkeypatch.setattr(handler_module, "time", clock)
    monkeypatch.setattr(Notifier, "publish", crash)
    with pytest.raises(RuntimeError):
        invoke(event, remaining_ms=0)  # lease = remaining time + 1 s
    assert local_aws.item(ids.job_id, ids.session_action_id)["status"] == {"S": "FAILED"}
    assert "notifiedStatus" not in local_aws.item(ids.job_id, ids.session_action_id)
    monkeypatch.setattr(Notifier, "publish", real_publish)

    # A retry while the crashed invocation could still be running must not publish yet ...
    with pytest.raises(NotificationPending):
        invoke(event)
    assert local_aws.notifications() == []

    # ... the retry after its lease ran out publishes, once.
    clock.advance(1.2)
    assert invoke(event)["status"] == "FAILED"
    invoke(event)
    assert len(local_aws.notifications()) == 1


def test_publish_failure_keeps_the_record_and_the_retry_publishes(farm, invoke, local_aws, monkeypatch):
    ids = farm.task_action(status="FAILED")
    sns = local_aws.client("sns")
    sns.delete_topic(TopicArn=local_aws.topic_arn)

    with pytest.raises(NotificationError) as raised:
        invoke(farm.direct(ids))
    assert "NotFound" in str(raised.value)
    assert local_aws.item(ids.job_id, ids.session_action_id)["status"] == {"S": "FAILED"}

    # The topic is back (same ARN); the retry publishes at once: the failed attempt released its lease.
    sns.create_topic(Name=local_aws.topic_arn.rsplit(":", 1)[1])
    queue_arn = local_aws.client("sqs").get_queue_attributes(
        QueueUrl=local_aws.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=local_aws.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    invoke(farm.direct(ids))
    assert len(local_aws.notifications()) == 1


# --- configuration and statuses ------------------------------------------------------------------


def test_notify_statuses_limits_what_is_published(farm, invoke, local_aws, lambda_env):
    lambda_env(NOTIFY_STATUSES="FAILED")
    ok = farm.task_action(status="SUCCEEDED")
    bad = farm.task_action(status="FAILED")

    invoke(farm.direct(ok))
    invoke(farm.direct(bad))

    assert [m["record"]["sessionActionId"] for m in local_aws.notifications()] == [bad.session_action_id]
    assert local_aws.item(ok.job_id, ok.session_action_id)["status"] == {"S": "SUCCEEDED"}


def test_unknown_status_is_recorded_warned_and_not_published(farm, invoke, local_aws, function_logs):
    ids = farm.task_action(status="SUCCEEDED")
    farm.set_status(ids, "SUSPENDED_BY_QUOTA")

    result = invoke(farm.direct(ids))

    assert (result["status"], result["outcome"], result["terminal"]) == ("SUSPENDED_BY_QUOTA", "unknown", False)
    assert local_aws.item(ids.job_id, ids.session_action_id)["outcome"] == {"S": "unknown"}
    assert local_aws.notifications() == []
    warnings = [line for line in function_logs.lines() if line["level"] == "WARNING"]
    assert [w["status"] for w in warnings] == ["SUSPENDED_BY_QUOTA"]
    assert "status this version does not know" in warnings[0]["message"]


def test_unknown_union_member_is_recorded_by_name(farm, invoke, local_aws):
    ids = farm.unknown_member_action("gpuWarmup", status="FAILED")

    result = invoke(farm.direct(ids))

    assert result["actionType"] == "gpuWarmup"
    assert local_aws.item(ids.job_id, ids.session_action_id)["actionType"] == {"S": "gpuWarmup"}
    [message] = local_aws.notifications()
    assert message["MessageAttributes"]["actionType"]["Value"] == "gpuWarmup"


def test_missing_configuration_names_the_variable(farm, invoke, local_aws, monkeypatch):
    from session_watch import handler

    monkeypatch.delenv("TOPIC_ARN")
    handler.reset_for_tests()
    with pytest.raises(ConfigurationError, match="^TOPIC_ARN"):
        invoke(farm.direct(farm.task_action(status="FAILED")))
    assert_nothing_written_or_published(local_aws)


def test_recent_failures_of_a_queue_are_one_index_query(farm, invoke, local_aws):
    failed = [farm.task_action(status="FAILED") for _ in range(3)]
    ok = farm.task_action(status="SUCCEEDED")
    for ids in failed + [ok]:
        invoke(farm.direct(ids))

    response = local_aws.client("dynamodb").query(
        TableName=local_aws.table_name, IndexName="byQueueOutcome",
        KeyConditionExpression="queueOutcome = :q AND occurredAt >= :since",
        ExpressionAttributeValues={":q": {"S": f"{ok.queue_id}#failure"}, ":since": {"S": "2000-01-01"}},
        ScanIndexForward=False,
    )
    assert sorted(i["sessionActionId"]["S"] for i in response["Items"]) == sorted(f.session_action_id for f in failed)


# --- error paths: typed errors, nothing written ------------------------------------------------------


@pytest.mark.parametrize(
    "event, error, field",
    [
        ({"farmId": "farm-1"}, InvalidEventError, "farmId"),
        ({"detail-type": "Task Run Status Change", "source": "aws.deadline", "detail": {"farmId": "x"}},
         InvalidEventError, "detail.farmId"),
        ({"detail-type": "Job Run Status Change", "source": "aws.deadline", "detail": {}},
         InvalidEventError, "detail.farmId"),
        ({"detail-type": "Step Lifecycle Status Change", "source": "aws.deadline", "detail": {}},
         UnsupportedEventError, "detail-type"),
        ([1, 2], InvalidEventError, "event"),
    ],
)
def test_malformed_input_raises_a_typed_error_and_touches_nothing(farm, invoke, local_aws, event, error, field):
    farm.reset_calls()
    with pytest.raises(error) as raised:
        invoke(event)
    assert raised.value.field == field
    assert farm.calls() == {}
    assert_nothing_written_or_published(local_aws)


@pytest.mark.parametrize(
    "fault, error",
    [
        ("ResourceNotFoundException", DeadlineResourceNotFound),
        ("AccessDeniedException", DeadlineAccessDenied),
        ("ValidationException", DeadlineValidationError),
        ("ThrottlingException", DeadlineThrottled),
        ("InternalServerErrorException", DeadlineUnavailable),
    ],
)
def test_deadline_errors_surface_as_typed_errors(farm, invoke, local_aws, fault, error):
    ids = farm.task_action(status="FAILED")
    farm.fail_next("GetSessionAction", fault, times=10)
    farm.reset_calls()

    with pytest.raises(error) as raised:
        invoke(farm.direct(ids))

    assert type(raised.value).__name__ == error.__name__
    retried = fault in ("ThrottlingException", "InternalServerErrorException")
    assert farm.calls()["GetSessionAction"] == (5 if retried else 1)  # standard mode: 5 attempts
    assert_nothing_written_or_published(local_aws)


def test_transient_throttling_is_retried_and_nothing_is_lost(farm, invoke, local_aws):
    ids = farm.task_action(status="FAILED")
    farm.fail_next("GetSessionAction", "ThrottlingException", times=2)
    farm.reset_calls()

    assert invoke(farm.direct(ids))["status"] == "FAILED"

    assert farm.calls()["GetSessionAction"] == 3
    assert len(local_aws.notifications()) == 1


def test_missing_table_is_a_record_store_error_and_nothing_is_published(farm, invoke, local_aws):
    ids = farm.task_action(status="FAILED")
    local_aws.client("dynamodb").delete_table(TableName=local_aws.table_name)

    with pytest.raises(RecordStoreError, match="ResourceNotFoundException"):
        invoke(farm.direct(ids))
    assert local_aws.notifications() == []


# --- sensitive fields ------------------------------------------------------------------------------


def test_parameters_and_progress_messages_never_reach_the_logs(farm, invoke, local_aws, function_logs, capfd):
    ids = farm.task_action(status="FAILED", message=SECRET_MESSAGE, scene=SECRET_PARAMETER)
    running = farm.task_action(status="RUNNING", message=SECRET_MESSAGE, scene=SECRET_PARAMETER)

    invoke(farm.direct(ids))
    invoke(farm.task_event(ids, "FAILED"))  # duplicate path
    invoke(farm.direct(running))
    farm.set_status(ids, "RUNNING")
    invoke(farm.direct(ids))  # stale path
    with pytest.raises(DeadlineResourceNotFound):
        farm.fail_next("GetSessionAction", "ResourceNotFoundException", times=1)
        invoke(farm.direct(ids))

    lines = function_logs.lines()
    assert {"recorded and published", "status already published; duplicate delivery ignored",
            "recorded", "stored record is already terminal; older status ignored"} <= {l["message"] for l in lines}
    logs, other = function_logs.text(), capfd.readouterr()
    for secret in (SECRET_PARAMETER, SECRET_MESSAGE, "zx81-unique", "qq-unique"):
        assert secret not in logs and secret not in other.out and secret not in other.err
    # ... while the record and the notification do carry them for the people who need them.
    [message] = local_aws.notifications()
    assert message["record"]["progressMessage"] == SECRET_MESSAGE
