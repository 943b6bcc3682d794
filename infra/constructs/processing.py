"""The session-action function, its role (least privilege), its dead-letter queue, and its reading of
the digest queue."""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

from typing import Dict, List, Optional, Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .. import checkov, lambda_defaults, nag
from ..config import DIGEST_MAX_CONCURRENCY, WatchConfig
from .digests import Digests
from .history_table import HistoryTable

HANDLER = "session_watch.handler.lambda_handler"
PACKAGE = "session_watch"
SERVICE_NAME = names.SERVICE_NAME
METRICS_NAMESPACE = names.METRICS_NAMESPACE
FUNCTION_TIMEOUT = Duration.seconds(60)
#: Digest flushes are few (at most one per job and window): small batches.
DIGEST_BATCH_SIZE = 10

#: Deadline Cloud reads the function makes (GetJob/GetSession: for readable messages and log locations).
#: The batch reads authorize as these same IAM actions (Service Authorization Reference for AWS Deadline
#: Cloud, "API operations" table): BatchGetSessionAction -> deadline:GetSessionAction, BatchGetTask ->
#: deadline:GetTask, BatchGetJob -> deadline:GetJob, BatchGetSession -> deadline:GetSession, BatchGetStep -> deadline:GetStep; there is no
#: deadline:BatchGet* action for them (deadline:BatchGetJobEntity is the worker agent's, unrelated).
DEADLINE_READ_ACTIONS = (
    "deadline:GetSessionAction",
    "deadline:GetTask",
    "deadline:ListSessionActions",
    "deadline:GetJob",
    "deadline:GetSession",
    "deadline:GetStep",
)
#: Deadline Cloud API operations the function may call, each with the IAM action that authorizes it.
DEADLINE_OPERATIONS = {
    "GetSessionAction": "deadline:GetSessionAction",
    "BatchGetSessionAction": "deadline:GetSessionAction",
    "GetTask": "deadline:GetTask",
    "BatchGetTask": "deadline:GetTask",
    "ListSessionActions": "deadline:ListSessionActions",
    "GetJob": "deadline:GetJob",
    "BatchGetJob": "deadline:GetJob",
    "GetSession": "deadline:GetSession",
    "BatchGetSession": "deadline:GetSession",
    "GetStep": "deadline:GetStep",
    "BatchGetStep": "deadline:GetStep",
}
#: Reading the end of a failed action's session log (``logExcerpt``). Deadline Cloud writes session logs to
#: the log group ``/aws/deadline/<farmId>/<queueId>`` (Deadline Cloud User Guide, "Session logs"); the ARN with
#: ``:*`` after the group name is the form IAM policies use for actions other than group create/delete
#: (CloudWatch Logs User Guide, "CloudWatch Logs resources and operations"), and covers its streams.
SESSION_LOG_ACTIONS = ("logs:GetLogEvents",)
DYNAMODB_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query")  # TransactWriteItems: UpdateItem
#: The digest ledger: conditional writes of window and job-run items (TransactWriteItems authorizes as
#: the Put/Update/Delete actions of its items; there is no separate IAM action for it), suspect-worker
#: counters, and Query of one job's items (its windows and suspect workers, for the job-level message).
DIGEST_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query")
#: Reading a farm encrypted with a customer managed key: the Deadline Cloud Developer Guide ("Key management",
#: the minimal IAM policy for read-only operations) requires kms:Decrypt and kms:DescribeKey on the farm's key,
#: used through Deadline Cloud (kms:ViaService = deadline.<region>.amazonaws.com).
#: https://docs.aws.amazon.com/deadline-cloud/latest/developerguide/key-management.html
DEADLINE_KMS_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")


def function_environment(
    config: WatchConfig,
    *,
    table_name: str,
    topic_arn: str,
    digest_table_name: str,
    digest_queue_url: str,
    email_topic_arn: Optional[str] = None,
    chat_topic_arn: Optional[str] = None,
    event_bus_name: Optional[str] = None,
) -> Dict[str, str]:
    """The function's environment (the contract ``session_watch.config`` reads); a channel whose value is
    ``None`` is off (its variable is left out)."""
    environment = {
        names.ENV_TABLE_NAME: table_name,
        names.ENV_TOPIC_ARN: topic_arn,
        "NOTIFY_STATUSES": ",".join(config.notify_statuses),
        "RECORD_RETENTION_DAYS": str(config.record_retention_days),
        "NOTIFY_MODE": config.notify_mode,
        "DIGEST_WINDOW_SECONDS": str(config.digest_window_seconds),
        "DIGEST_SAMPLE_SIZE": str(config.digest_sample_size),
        "DIGEST_TABLE_NAME": digest_table_name,
        "DIGEST_QUEUE_URL": digest_queue_url,
        "ENRICHMENT_CALLS_PER_JOB_WINDOW": str(config.enrichment_calls_per_job_window),
        names.ENV_SUSPECT_WORKER_FAILURES: str(config.suspect_worker_failures),
        names.ENV_SUSPECT_WORKER_WINDOW_MINUTES: str(config.suspect_worker_window_minutes),
        names.ENV_SUSPECT_WORKER_FAILURE_RATIO: repr(config.suspect_worker_failure_ratio),
        names.ENV_LOG_EXCERPT_LINES: str(config.log_excerpt_lines),
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    if config.monitor_url:
        environment["MONITOR_URL"] = config.monitor_url
    for name, value in ((names.ENV_EMAIL_TOPIC_ARN, email_topic_arn), (names.ENV_CHAT_TOPIC_ARN, chat_topic_arn),
                        (names.ENV_EVENT_BUS_NAME, event_bus_name)):
        if value:
            environment[name] = value
    return environment


def deadline_resource_names(farm_ids: Sequence[str], queue_ids: Sequence[str]) -> List[str]:
    """Resource part of the Deadline Cloud ARNs the function may read (after ``...:deadline:R:A:farm/``).

    Jobs are ``farm/{farmId}/queue/{queueId}/job/{jobId}``; the session actions, tasks and sessions the
    function reads belong to a job, so a queue is covered by ``queue/{queueId}`` plus ``queue/{queueId}/*``
    (the resources of the Deadline Cloud user guide's queue-scoped read-only policy, which lists these
    same Get/List actions).
    """
    if queue_ids:
        farms = list(farm_ids) or ["*"]
        names: List[str] = []
        for farm in farms:
            for queue in queue_ids:
                names += [f"{farm}/queue/{queue}", f"{farm}/queue/{queue}/*"]
        return names
    if farm_ids:
        return [f"{farm}/*" for farm in farm_ids]
    return ["*"]


def session_log_group_names(farm_ids: Sequence[str], queue_ids: Sequence[str]) -> List[str]:
    """The Deadline Cloud session log groups the function may read: ``/aws/deadline/<farmId>/<queueId>`` of
    the watched farms and queues (``*`` for what is not configured: every queue of a farm, every farm)."""
    farms = list(farm_ids) or ["*"]
    queues = list(queue_ids) or ["*"]
    if farms == ["*"] and queues == ["*"]:
        return ["/aws/deadline/*"]
    return [f"/aws/deadline/{farm}/{queue}" for farm in farms for queue in queues]


class SessionWatchFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: WatchConfig,
        history: HistoryTable,
        digests: Digests,
        topic: sns.ITopic,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        email_topic: Optional[sns.ITopic] = None,
        chat_topic: Optional[sns.ITopic] = None,
        event_bus_name: Optional[str] = None,
        event_bus_arn: Optional[str] = None,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)

        # Events the rule could not deliver and the function's own failed asynchronous invocations.
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        nag.acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue (of the EventBridge target and of the function's "
            "asynchronous invocations); a dead-letter queue has no dead-letter queue of its own.",
        )
        checkov.acknowledge(
            self.dead_letter_queue,
            "CKV_AWS_27",
            "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled: true), which CKV_AWS_27 does not "
            "recognise; TLS is enforced by the queue policy. It holds failed events: ids and statuses, no task "
            "parameters or messages. To satisfy the check anyway: encryption=sqs.QueueEncryption.KMS with the "
            "notifications key, and kms:Decrypt/GenerateDataKey on that key for Lambda's destination and EventBridge.",
        )

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Deadline Session Watch function: reads Deadline Cloud, writes history, notifies",
        )

        self.deadline_resources = [
            stack.format_arn(
                service="deadline",
                resource="farm",
                resource_name=name,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            for name in deadline_resource_names(config.farm_ids, config.queue_ids)
        ]
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadDeadlineSessionActions",
                actions=list(DEADLINE_READ_ACTIONS),
                resources=self.deadline_resources,
            )
        )
        self.session_log_resources = [
            stack.format_arn(service="logs", resource="log-group", resource_name=f"{name}:*",
                             arn_format=ArnFormat.COLON_RESOURCE_NAME)
            for name in session_log_group_names(config.farm_ids, config.queue_ids)
        ]
        if config.log_excerpt_lines:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadSessionLogs",
                    actions=list(SESSION_LOG_ACTIONS),
                    resources=self.session_log_resources,
                )
            )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteHistory",
                actions=list(DYNAMODB_ACTIONS),
                resources=[history.table.table_arn, history.index_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadDigestWindows",
                actions=["dynamodb:Query"],
                resources=[history.digest_window_index_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteDigestLedger",
                actions=list(DIGEST_TABLE_ACTIONS),
                resources=[digests.table.table_arn],
            )
        )
        # SQS-managed encryption: sending needs no KMS permission.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ScheduleDigestFlushes",
                actions=["sqs:SendMessage"],
                resources=[digests.queue.queue_arn],
            )
        )
        # PublishBatch authorizes as sns:Publish. Exactly the audience topics (machines, email, chat).
        topics = [t for t in (topic, email_topic, chat_topic) if t is not None]
        self.role.add_to_policy(
            iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[t.topic_arn for t in topics])
        )
        if event_bus_arn:
            # events:source is a condition key of PutEvents (EventBridge User Guide, "Using IAM policy conditions
            # in Amazon EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html;
            # its PutEvents example conditions on events:source with ForAllValues:StringEquals, "Example policy:
            # Send events to a custom bus in a different account"). ForAllValues: every entry of a PutEvents
            # request must have that source; Null=false: a request without any source is not let through
            # (ForAllValues is true of an empty set).
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="PutNotificationEvents",
                    actions=["events:PutEvents"],
                    resources=[event_bus_arn],
                    conditions={
                        "ForAllValues:StringEquals": {"events:source": [names.EVENT_SOURCE]},
                        "Null": {"events:source": "false"},
                    },
                )
            )
        if config.deadline_kms_key_arns:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="DecryptDeadlineFarms",
                    actions=list(DEADLINE_KMS_ACTIONS),
                    resources=list(config.deadline_kms_key_arns),
                    conditions={"StringEquals": {"kms:ViaService": f"deadline.{stack.region}.amazonaws.com"}},
                )
            )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="EncryptNotifications",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
            )
        )

        self.function = lambda_defaults.python_function(
            self,
            "Function",
            package=PACKAGE,
            handler=HANDLER,
            description="Records Deadline Cloud session actions and publishes their outcome",
            role=self.role,
            environment=function_environment(
                config,
                table_name=history.table.table_name,
                topic_arn=topic.topic_arn,
                digest_table_name=digests.table.table_name,
                digest_queue_url=digests.queue.queue_url,
                email_topic_arn=email_topic.topic_arn if email_topic is not None else None,
                chat_topic_arn=chat_topic.topic_arn if chat_topic is not None else None,
                event_bus_name=event_bus_name,
            ),
            log_retention=lambda_defaults.log_retention(config.log_retention_days),
            log_removal_policy=removal_policy,
            reserved_concurrency=config.reserved_concurrency,
            timeout=FUNCTION_TIMEOUT,
            # Asynchronous invocations (EventBridge): Lambda retries twice, then the event goes to the DLQ.
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        self.log_group = self.function.log_group
        self._acknowledge_checkov()

        # Delayed digest flushes: the same function reads them (CDK grants receive/delete on this queue).
        self.digest_event_source = event_sources.SqsEventSource(
            digests.queue,
            batch_size=DIGEST_BATCH_SIZE,
            report_batch_item_failures=True,
            max_concurrency=DIGEST_MAX_CONCURRENCY,
        )
        self.function.add_event_source(self.digest_event_source)

        self._acknowledge_findings()

    def _acknowledge_checkov(self) -> None:
        checkov.acknowledge(
            self.function,
            "CKV_AWS_116",
            "False positive: failed asynchronous invocations go to the dead-letter queue through "
            "EventInvokeConfig.DestinationConfig.OnFailure (the successor of DeadLetterConfig, with the error and "
            "request context); events EventBridge could not deliver go to the same queue (the target's "
            "DeadLetterConfig); messages read from the event and digest queues go to each queue's own "
            "dead-letter queue after 5 receives.",
        )
        checkov.acknowledge(
            self.function,
            "CKV_AWS_117",
            "The function calls only AWS public APIs (Deadline Cloud, DynamoDB, SNS, SQS) and reaches nothing "
            "private; a VPC would need NAT or interface endpoints and add cold-start cost for no isolation gain.",
        )
        checkov.acknowledge(
            self.function,
            "CKV_AWS_173",
            "The environment holds table names, a topic ARN, a queue URL, status lists and Powertools settings, "
            "no secret; Lambda encrypts it at rest with an AWS managed key.",
        )
        checkov.acknowledge(
            self.log_group,
            "CKV_AWS_158",
            "CloudWatch Logs encrypts every log group at rest; the function logs ids and statuses, never task "
            "parameters or progress messages (tests/integration/test_secrets_in_logs.py). A customer-managed key "
            "would need a key policy for logs.<region>.amazonaws.com and KMS cost for no data that needs it.",
        )

    def _acknowledge_findings(self) -> None:
        stack = Stack.of(self)
        policy = self.role.node.find_child("DefaultPolicy")
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level "
            "permissions; every other statement names exact ARNs.",
        )
        for arn in self.deadline_resources:
            finding = nag.resource_finding(stack, arn)
            if "*" not in finding:
                continue
            nag.acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::{finding}]",
                "Session actions are read for jobs created after deployment, so job ids cannot be "
                "listed; the read-only Deadline Cloud actions are scoped to the configured farms/queues "
                "(context sessionWatch:farmIds / sessionWatch:queueIds), or to every farm of this "
                "account and region when none is configured.",
            )
        for arn in self.session_log_resources:
            finding = nag.resource_finding(stack, arn)
            if "*" not in finding:
                continue
            nag.acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::{finding}]",
                "Session logs are read for sessions started after deployment, so stream names cannot be "
                "listed: logs:GetLogEvents is scoped to the Deadline Cloud session log groups of the "
                "configured farms/queues (/aws/deadline/<farmId>/<queueId>), or to /aws/deadline/* when "
                "none is configured.",
            )
