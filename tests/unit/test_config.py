import pytest

from session_watch.config import DEFAULT_RETENTION_DAYS, load_settings
from session_watch.domain.record import TERMINAL_STATUSES
from session_watch.errors import ConfigurationError

GOOD = {
    "TABLE_NAME": "history",
    "TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:session-watch",
    "DIGEST_TABLE_NAME": "digests",
    "DIGEST_QUEUE_URL": "https://sqs.us-west-2.amazonaws.com/111122223333/session-watch-digests",
}


def test_defaults():
    settings = load_settings(GOOD)
    assert settings.notify_statuses == TERMINAL_STATUSES
    assert settings.retention_days == DEFAULT_RETENTION_DAYS
    assert settings.notify_mode == "digest" and settings.digest
    assert (settings.digest_window_seconds, settings.digest_sample_size) == (60, 10)
    assert settings.enrichment_calls_per_job_window == 1
    assert settings.monitor_url is None and settings.partition == "aws"
    assert (settings.suspect_worker_failures, settings.suspect_worker_window_minutes,
            settings.suspect_worker_failure_ratio) == (5, 15, 0.8)


def test_each_mode_needs_no_digest_resources():
    env = {k: v for k, v in GOOD.items() if not k.startswith("DIGEST_")}
    settings = load_settings(dict(env, NOTIFY_MODE="Each", AWS_REGION="eu-west-1"))
    assert settings.notify_mode == "each" and not settings.digest
    assert settings.digest_table_name is None and settings.region == "eu-west-1"


def test_partition_comes_from_the_topic():
    settings = load_settings(dict(GOOD, TOPIC_ARN="arn:aws-cn:sns:cn-north-1:111122223333:t"))
    assert settings.partition == "aws-cn"


def test_notify_statuses_are_parsed():
    settings = load_settings(dict(GOOD, NOTIFY_STATUSES=" failed, NEVER_ATTEMPTED ,"))
    assert settings.notify_statuses == {"FAILED", "NEVER_ATTEMPTED"}


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"TOPIC_ARN": GOOD["TOPIC_ARN"]}, "TABLE_NAME"),
        ({"TABLE_NAME": "history"}, "TOPIC_ARN"),
        (dict(GOOD, TABLE_NAME="a b"), "TABLE_NAME"),
        (dict(GOOD, TOPIC_ARN="arn:aws:sqs:us-west-2:111122223333:q"), "TOPIC_ARN"),
        (dict(GOOD, NOTIFY_STATUSES="FAILED,EXPLODED"), "NOTIFY_STATUSES"),
        (dict(GOOD, NOTIFY_STATUSES=" , "), "NOTIFY_STATUSES"),
        (dict(GOOD, RECORD_RETENTION_DAYS="ten"), "RECORD_RETENTION_DAYS"),
        (dict(GOOD, RECORD_RETENTION_DAYS="0"), "RECORD_RETENTION_DAYS"),
        (dict(GOOD, NOTIFY_MODE="sometimes"), "NOTIFY_MODE"),
        ({k: v for k, v in GOOD.items() if k != "DIGEST_TABLE_NAME"}, "DIGEST_TABLE_NAME"),
        ({k: v for k, v in GOOD.items() if k != "DIGEST_QUEUE_URL"}, "DIGEST_QUEUE_URL"),
        (dict(GOOD, DIGEST_QUEUE_URL="not a url"), "DIGEST_QUEUE_URL"),
        (dict(GOOD, DIGEST_WINDOW_SECONDS="5"), "DIGEST_WINDOW_SECONDS"),
        (dict(GOOD, DIGEST_WINDOW_SECONDS="900"), "DIGEST_WINDOW_SECONDS"),
        (dict(GOOD, DIGEST_SAMPLE_SIZE="0"), "DIGEST_SAMPLE_SIZE"),
        (dict(GOOD, ENRICHMENT_CALLS_PER_JOB_WINDOW="many"), "ENRICHMENT_CALLS_PER_JOB_WINDOW"),
        (dict(GOOD, MONITOR_URL="http://insecure.example.com"), "MONITOR_URL"),
        (dict(GOOD, SUSPECT_WORKER_FAILURES="0"), "SUSPECT_WORKER_FAILURES"),
        (dict(GOOD, SUSPECT_WORKER_WINDOW_MINUTES="a while"), "SUSPECT_WORKER_WINDOW_MINUTES"),
        (dict(GOOD, SUSPECT_WORKER_FAILURE_RATIO="0"), "SUSPECT_WORKER_FAILURE_RATIO"),
        (dict(GOOD, SUSPECT_WORKER_FAILURE_RATIO="1.01"), "SUSPECT_WORKER_FAILURE_RATIO"),
        (dict(GOOD, SUSPECT_WORKER_FAILURE_RATIO="nan"), "SUSPECT_WORKER_FAILURE_RATIO"),
        (dict(GOOD, SUSPECT_WORKER_FAILURE_RATIO="most"), "SUSPECT_WORKER_FAILURE_RATIO"),
    ],
)
def test_bad_configuration_names_the_variable(env, variable):
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)
    assert raised.value.variable == variable
    assert str(raised.value).startswith(variable)
