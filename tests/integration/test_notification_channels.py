"""Every channel through the real handler, against moto (SNS topics with subscribed queues, an EventBridge
bus with a rule into a queue) and the Deadline Cloud stand-in: each channel's message in its own format,
published once per (session action, status) / digest window / job end; one channel failing is retried
without re-sending the others."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from botocore.awsrequest import AWSResponse

from session_watch import names
from session_watch.adapters import clients
from session_watch.errors import NotificationError
from tests.integration.test_batch_and_digests import failing_job, flush_of, sqs_event, windows_of
from tests.support.aws import REGION


class Subscriber:
    """A queue that receives one channel (an SNS subscription or an EventBridge rule target)."""

    def __init__(self, sqs, url: str) -> None:
        self.sqs, self.url = sqs, url

    def take(self) -> List[Dict[str, Any]]:
        out = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not batch.get("Messages"):
                return out
            for message in batch["Messages"]:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def channels(local_aws, lambda_env):
    """The email and chat topics and an event bus with a rule, each read by its own queue; the function
    configured with every channel."""
    sns, sqs, events = (local_aws.client(s) for s in ("sns", "sqs", "events"))

    def queue(name: str):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    out: Dict[str, Any] = {"machines": Subscriber(sqs, local_aws.queue_url)}
    env = {}
    for channel, variable in (("email", names.ENV_EMAIL_TOPIC_ARN), ("chat", names.ENV_CHAT_TOPIC_ARN)):
        topic = sns.create_topic(Name=f"session-watch-{channel}")["TopicArn"]
        url, arn = queue(f"session-watch-{channel}-subscriber")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        out[channel], env[variable] = Subscriber(sqs, url), topic
    bus = events.create_event_bus(Name="session-watch-events")["EventBusArn"]
    url, arn = queue("session-watch-event-subscriber")
    events.put_rule(Name="all-session-watch", EventBusName="session-watch-events",
                    EventPattern=json.dumps({"source": [names.EVENT_SOURCE]}))
    events.put_targets(Rule="all-session-watch", EventBusName="session-watch-events", Targets=[{"Id": "q", "Arn": arn}])
    out["events"] = Subscriber(sqs, url)
    lambda_env(EMAIL_TOPIC_ARN=env[names.ENV_EMAIL_TOPIC_ARN], CHAT_TOPIC_ARN=env[names.ENV_CHAT_TOPIC_ARN],
               EVENT_BUS_NAME=bus, AWS_ENDPOINT_URL_EVENTBRIDGE=local_aws.endpoint)
    out["topics"] = env
    return out


def take_all(channels) -> Dict[str, List[Dict[str, Any]]]:
    return {c: channels[c].take() for c in names.CHANNELS}


def test_a_failed_task_reaches_every_channel_once_each_in_its_format(farm, invoke, local_aws, channels):
    ids = farm.task_action(status="FAILED", exit_code=139)
    event = farm.task_event(ids, "FAILED")

    record = invoke(event)
    invoke(event, request_id="redelivery")  # a duplicate: nothing more on any channel

    got = take_all(channels)
    assert {c: len(m) for c, m in got.items()} == {"machines": 1, "email": 1, "chat": 1, "events": 1}
    [machines], [email], [chat], [ev] = got["machines"], got["email"], got["chat"], got["events"]
    # Machines: the record itself is the message, and the attributes arrive (String structure).
    assert json.loads(machines["Message"]) == json.loads(json.dumps(record))
    assert machines["MessageAttributes"]["outcome"]["Value"] == "failure"
    assert machines["MessageAttributes"]["kind"]["Value"] == "sessionAction"
    # Email: the readable text, with its subject and the same attributes to filter on.
    assert email["Subject"].startswith("Deadline:") and "exit 139" in email["Message"]
    assert not email["Message"].lstrip().startswith("{")  # text, not JSON
    assert email["MessageAttributes"]["status"]["Value"] == "FAILED"
    # Chat: Amazon Q Developer's custom notification, one thread per job.
    message = json.loads(chat["Message"])
    assert message["version"] == "1.0" and message["source"] == "custom"
    assert message["content"]["textType"] == "client-markdown" and message["content"]["title"]
    assert message["metadata"]["threadId"].endswith(ids.job_id)
    # Events: source session-watch, a detail-type per kind, the record as detail.
    assert ev["source"] == names.EVENT_SOURCE and ev["detail-type"] == "Session Action Ended"
    assert ev["detail"]["sessionActionId"] == ids.session_action_id and ev["detail"]["processExitCode"] == 139
    item = local_aws.item(ids.job_id, ids.session_action_id)
    assert item["notifiedStatus"] == {"S": "FAILED"} and "channelsDone" not in item


def failing_topic(topic_arn: str):
    """A botocore before-call hook: SNS Publish to ``topic_arn`` answers 500 (after botocore's retries)."""
    def hook(params, **_):
        if params.get("body", {}).get("TopicArn") == topic_arn:
            return (AWSResponse("https://sns", 500, {}, None),
                    {"Error": {"Code": "InternalError", "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": 500}})
        return None
    return hook


def test_one_failing_channel_is_retried_without_re_sending_the_others(farm, invoke, local_aws, channels):
    ids = farm.task_action(status="FAILED", exit_code=2)
    event = farm.task_event(ids, "FAILED")
    hook = failing_topic(channels["topics"][names.ENV_CHAT_TOPIC_ARN])
    clients.client("sns").meta.events.register("before-call.sns.Publish", hook)

    with pytest.raises(NotificationError):
        invoke(event, remaining_ms=0)

    got = take_all(channels)
    assert {c: len(m) for c, m in got.items()} == {"machines": 1, "email": 1, "chat": 0, "events": 1}
    item = local_aws.item(ids.job_id, ids.session_action_id)
    assert "notifiedStatus" not in item and "notifyingStatus" not in item  # released for the retry at once
    assert set(item["channelsDone"]["SS"]) == {"FAILED#machines", "FAILED#email", "FAILED#events"}

    clients.client("sns").meta.events.unregister("before-call.sns.Publish", hook)
    invoke(event, request_id="retry")

    got = take_all(channels)
    assert {c: len(m) for c, m in got.items()} == {"machines": 0, "email": 0, "chat": 1, "events": 0}
    item = local_aws.item(ids.job_id, ids.session_action_id)
    assert item["notifiedStatus"] == {"S": "FAILED"} and "channelsDone" not in item


def test_a_batch_publishes_each_channel_in_batches_once(farm, invoke, local_aws, channels):
    job, events = failing_job(farm, frames=12)

    assert invoke(sqs_event(events + events[:3])) == {"batchItemFailures": []}

    got = take_all(channels)
    # 12 failed actions, and their worker (12 failures of 12 task runs) as a suspect worker: 13 on each.
    assert {c: len(m) for c, m in got.items()} == {"machines": 13, "email": 13, "chat": 13, "events": 13}
    actions = [m for m in got["machines"] if m["MessageAttributes"]["kind"]["Value"] == "sessionAction"]
    assert len({json.loads(m["Message"])["sessionActionId"] for m in actions}) == 12
    assert {e["detail"]["jobId"] for e in got["events"] if "jobId" in e["detail"]} == {job.job_id}
    worker = farm.farm.session(json.loads(actions[0]["Message"])["sessionId"]).worker_id
    for channel in ("machines", "email", "chat"):
        [suspect] = [m for m in got[channel] if m["MessageAttributes"]["kind"]["Value"] == "suspectWorker"]
        assert worker in suspect["Message"]
    [event] = [e for e in got["events"] if e["detail-type"] == "Suspect Worker"]
    assert event["detail"]["workerId"] == worker and event["detail"]["failures"] == 12
    assert event["detail"]["sameStepsSucceededElsewhere"] is False and event["detail"]["whatToDo"]


def test_a_digest_and_a_job_level_message_reach_every_channel_once(farm, invoke, local_aws, lambda_env, channels):
    lambda_env(NOTIFY_MODE="digest")
    job, events = failing_job(farm, frames=3)
    assert invoke(sqs_event(events)) == {"batchItemFailures": []}
    for window in windows_of(local_aws):
        invoke(flush_of(job, window))
        invoke(flush_of(job, window), request_id="again")
    ended = farm.farm.drain_events()  # noqa: F841 (the job run event is built below)
    job_end = {"version": "0", "id": "job-end-1", "detail-type": "Job Run Status Change", "source": "aws.deadline",
               "account": "111122223333", "time": "2026-11-20T18:50:00Z", "region": REGION, "resources": [],
               "detail": {"farmId": job.farm_id, "queueId": job.queue_id, "jobId": job.job_id,
                          "previousTaskRunStatus": "RUNNING", "taskRunStatus": "FAILED",
                          "taskRunStatusCounts": {"FAILED": 3, "SUCCEEDED": 0}}}
    invoke(job_end)
    invoke(job_end, request_id="again")

    got = take_all(channels)
    kinds = {c: sorted(m["MessageAttributes"]["kind"]["Value"] for m in got[c]) for c in ("machines", "email", "chat")}
    assert kinds["machines"] == kinds["email"] == kinds["chat"] == sorted(["digest"] * len(kinds["machines"][:-1]) + ["jobRun"])
    assert sorted(e["detail-type"] for e in got["events"]) == sorted(
        ["Job Failures Digest"] * (len(got["events"]) - 1) + ["Job Ended"])
    digests = [json.loads(m["Message"]) for m in got["machines"] if m["MessageAttributes"]["kind"]["Value"] == "digest"]
    assert sum(d["failures"] for d in digests) == 3
    chats = [json.loads(m["Message"]) for m in got["chat"]]
    assert len({c["metadata"]["threadId"] for c in chats}) == 1  # one thread per job
