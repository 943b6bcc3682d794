"""Lambda defaults in one place: arm64, the current Python runtime, JSON logs into an explicit log group
with retention, active X-Ray tracing, and a code asset bundled locally (never with Docker)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

from aws_cdk import AssetHashType, BundlingOptions, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .bundling import LocalPythonBundler

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SOURCE = REPO_ROOT / "lambda_src"
BUILD_CACHE = REPO_ROOT / ".build" / "lambda-deps"

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
#: Wheel platform tag for ``ARCHITECTURE``: manylinux2014 (glibc 2.17) wheels run on the glibc 2.34 of
#: the Amazon Linux 2023 based Python runtimes.
WHEEL_PLATFORM = "manylinux2014_aarch64"

#: Excluded from the asset's source fingerprint (so test runs that leave caches behind do not churn it).
SOURCE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/tests"]


_RETENTION = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


def log_retention(days: int) -> logs.RetentionDays:
    """The ``RetentionDays`` member for a number of days (``config`` validated it already)."""
    if days not in _RETENTION:
        raise ValueError(f"CloudWatch Logs has no retention of {days} days")
    return logs.RetentionDays[_RETENTION[days]]


def runtime_python_version(runtime: lambda_.Runtime = RUNTIME) -> str:
    """``python3.14`` -> ``3.14``."""
    name = runtime.name
    if not name.startswith("python"):
        raise ValueError(f"{name} is not a Python runtime")
    return name[len("python"):]


def python_code(package: str, *, source_dir: Path = LAMBDA_SOURCE) -> lambda_.Code:
    """The asset: ``source_dir/requirements.txt`` installed for the Lambda platform plus ``package``."""
    bundler = LocalPythonBundler(
        source_dir=source_dir,
        package=package,
        requirements=source_dir / "requirements.txt",
        python_version=runtime_python_version(),
        platform=WHEEL_PLATFORM,
        cache_dir=BUILD_CACHE,
    )
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=SOURCE_EXCLUDES,
        asset_hash_type=AssetHashType.SOURCE,
        bundling=BundlingOptions(
            # Required by the API, never pulled or run: the local bundler always succeeds or raises.
            image=RUNTIME.bundling_image,
            local=bundler,
        ),
    )


def python_function(
    scope: Construct,
    id: str,
    *,
    package: str,
    handler: str,
    description: str,
    role: iam.IRole,
    environment: Mapping[str, str],
    log_retention: logs.RetentionDays,
    log_removal_policy: RemovalPolicy,
    reserved_concurrency: Optional[int],
    timeout: Duration = Duration.seconds(60),
    memory_size: int = 512,
    **kwargs,
) -> lambda_.Function:
    log_group = logs.LogGroup(
        scope,
        f"{id}LogGroup",
        retention=log_retention,
        removal_policy=log_removal_policy,
    )
    # The role has no managed policy: it may write to this log group and nowhere else.
    log_group.grant_write(role)
    return lambda_.Function(
        scope,
        id,
        description=description,
        code=python_code(package),
        handler=handler,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        memory_size=memory_size,
        timeout=timeout,
        role=role,
        environment=dict(environment),
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        system_log_level_v2=lambda_.SystemLogLevel.INFO,  # keeps the START/END/REPORT lines
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        reserved_concurrent_executions=reserved_concurrency,
        **kwargs,
    )
