"""Integration fixtures.

``session_logs``: the simulated farm writes its sessions' logs into moto's CloudWatch Logs (group
``/aws/deadline/<farmId>/<queueId>``, stream ``<sessionId>``), as a worker agent writes them, so that the
function reads real log lines (``logExcerpt``). Without it the function finds no log stream and says so in
``enrichmentMissing`` (writing every session's log costs a few seconds in the tests that make hundreds of
actions, so only the tests that read logs ask for it).
"""

from __future__ import annotations

import boto3
import pytest

from tests.support.aws import REGION


@pytest.fixture
def session_logs(farm, local_aws):
    from local.deadline_farm.session_logs import CloudWatchLogsSink

    logs = boto3.client("logs", endpoint_url=local_aws.endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    farm.farm.session_log_sink = CloudWatchLogsSink(logs)
    return logs
