import pytest

from session_watch.config import DEFAULT_RETENTION_DAYS, load_settings
from session_watch.domain.record import TERMINAL_STATUSES
from session_watch.errors import ConfigurationError

GOOD = {"TABLE_NAME": "history", "TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:session-watch"}


def test_defaults():
    settings = load_settings(GOOD)
    assert settings.notify_statuses == TERMINAL_STATUSES
    assert settings.retention_days == DEFAULT_RETENTION_DAYS


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
    ],
)
def test_bad_configuration_names_the_variable(env, variable):
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env)
    assert raised.value.variable == variable
    assert str(raised.value).startswith(variable)
