"""Fixtures shared by every suite. Nothing here may reach a real AWS endpoint: fake credentials are set
before any test module imports boto3, and every client is pointed at 127.0.0.1.

Hypothesis runs under the profile ``HYPOTHESIS_PROFILE`` names (``tests/hypothesis_profiles.py``): ``ci``,
derandomized, unless ``make fuzz`` asks for ``fuzz``. It is loaded here, before any test module is imported,
so that every ``@settings`` inherits from it."""

from __future__ import annotations

import logging

import pytest

from tests import hypothesis_profiles
from tests.support.aws import LambdaContext, apply_fake_credentials, function_environment, provision

apply_fake_credentials()
hypothesis_profiles.load()

# moto's ThreadedMotoServer serves through werkzeug, which logs every request at INFO: a failing test's
# report would show hundreds of request lines instead of the failure. Its warnings and errors still show.
logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server on a free local port, for the whole test session, with the fixes of
    tests/support/moto_fixes.py (moto bugs, each pinned by tests/integration/test_moto_bugs.py)."""
    from moto.server import ThreadedMotoServer

    from tests.support import moto_fixes

    moto_fixes.apply()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def local_aws(moto_endpoint):
    """Fresh history table, topic and subscribed queue for one test."""
    return provision(moto_endpoint)


@pytest.fixture
def lambda_env(local_aws, monkeypatch):
    """Set the deployed function's environment; returns a function to add or change variables."""
    from session_watch import handler

    def apply(**extra):
        for key, value in function_environment(local_aws, **extra).items():
            monkeypatch.setenv(key, value)
        handler.reset_for_tests()

    apply()
    yield apply
    handler.reset_for_tests()


@pytest.fixture
def invoke(lambda_env):
    """Call the real handler the way the Lambda runtime does: ``lambda_handler(event, context)``."""
    from session_watch.handler import lambda_handler

    def call(event, *, remaining_ms: int = 30_000, request_id: str = "req-1"):
        return lambda_handler(event, LambdaContext(request_id=request_id, remaining_ms=remaining_ms))

    return call


@pytest.fixture
def farm(monkeypatch):
    """A fresh simulated farm behind the project's Deadline Cloud stand-in (on a free local port),
    reached through AWS_ENDPOINT_URL_DEADLINE as the function would reach Deadline Cloud."""
    from local.deadline_farm import DeadlineStandIn, RenderFarm
    from tests.support.farm import TestFarm

    with DeadlineStandIn(RenderFarm(seed=0)) as standin:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DEADLINE", standin.endpoint_url)
        monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
        yield TestFarm(standin.farm, standin)


@pytest.fixture
def function_logs():
    """What the function writes to its log stream (the Powertools JSON lines), as a list of dicts."""
    import io
    import json

    from session_watch.observability import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)

    class Logs:
        def text(self) -> str:
            return stream.getvalue()

        def lines(self):
            return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield Logs()
    logger.registered_handler.setStream(previous)
