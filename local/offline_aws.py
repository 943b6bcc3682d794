"""Keeping local runs away from real AWS: the one definition of the fake credentials and of the
environment that points every client without a local endpoint at a closed local port.

Used by the tests, the benchmarks, the demo, moto's server and the Deadline stand-in.
"""

from __future__ import annotations

import os
from typing import Dict, Optional

#: Credentials no AWS account answers to.
FAKE_CREDENTIALS: Dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

#: Where a client goes when it is given no local endpoint: a closed port on this machine.
CLOSED_ENDPOINT = "http://127.0.0.1:9"

#: Settings through which boto3 could find real credentials; removed by ``isolate_from_aws``.
CREDENTIAL_SOURCES = (
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


def offline_environment(region: Optional[str] = None) -> Dict[str, str]:
    """Fake credentials, the closed default endpoint, no instance metadata, no host prefixes
    (the Deadline stand-in needs none), and ``region`` when given."""
    env = dict(FAKE_CREDENTIALS)
    env.update(
        AWS_ENDPOINT_URL=CLOSED_ENDPOINT,
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        AWS_EC2_METADATA_DISABLED="true",
    )
    if region:
        env.update(AWS_DEFAULT_REGION=region, AWS_REGION=region)
    return env


def isolate_from_aws(region: Optional[str] = None, **extra: str) -> None:
    """Make this process unable to reach AWS: drop every credential source, set ``offline_environment``."""
    for key in CREDENTIAL_SOURCES:
        os.environ.pop(key, None)
    os.environ.update(offline_environment(region), **extra)
