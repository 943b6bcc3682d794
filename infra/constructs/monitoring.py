"""Alarms (to an operations topic) and a dashboard for the function, its queues and dead-letter queues,
and the state machine."""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

from typing import List, Optional, Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..config import WatchConfig

METRICS_NAMESPACE = names.METRICS_NAMESPACE
SERVICE_DIMENSION = {"service": names.SERVICE_NAME}


def function_metric(name: str, period: Duration) -> cloudwatch.Metric:
    """A metric the function emits (Powertools EMF, dimension service=session-watch)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=SERVICE_DIMENSION,
        statistic=cloudwatch.Stats.SUM,
        period=period,
        label=name,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: WatchConfig,
        function: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        event_queue: Optional[sqs.IQueue],
        event_dead_letter_queue: Optional[sqs.IQueue],
        digest_queue: sqs.IQueue,
        digest_dead_letter_queue: sqs.IQueue,
        state_machine: sfn.IStateMachine,
        key: kms.IKey,
        operations_emails: Sequence[str],
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        period = Duration.minutes(config.alarm_period_minutes)

        self.operations_topic = sns.Topic(
            self,
            "OperationsTopic",
            display_name="Deadline Session Watch operations",
            master_key=key,
            enforce_ssl=True,
        )
        # CloudWatch alarms publish as the CloudWatch service: allow it on this topic (the TLS topic
        # policy replaces SNS's default policy) and on the key that encrypts the topic.
        self.operations_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.operations_topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch", resource="alarm", resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
            )
        )
        for email in operations_emails:
            self.operations_topic.add_subscription(subscriptions.EmailSubscription(email))

        action = cw_actions.SnsAction(self.operations_topic)

        def alarm(alarm_id: str, metric: cloudwatch.IMetric, threshold: int, description: str) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            return created

        self.function_errors = alarm(
            "FunctionErrors",
            function.metric_errors(period=period, statistic=cloudwatch.Stats.SUM),
            config.alarm_function_errors,
            "The session-watch function raised errors (see its log group; retryable ones are retried).",
        )
        self.function_throttles = alarm(
            "FunctionThrottles",
            function.metric_throttles(period=period, statistic=cloudwatch.Stats.SUM),
            config.alarm_function_throttles,
            "The session-watch function was throttled (reserved concurrency: sessionWatch:reservedConcurrency).",
        )
        self.dead_letter_messages = alarm(
            "DeadLetterQueueDepth",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=period, statistic=cloudwatch.Stats.MAXIMUM
            ),
            config.alarm_dead_letter_messages,
            "Events or invocations the function could not process are waiting in the dead-letter queue.",
        )
        self.digest_dead_letter_messages = alarm(
            "DigestDeadLetterQueueDepth",
            digest_dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=period, statistic=cloudwatch.Stats.MAXIMUM
            ),
            config.alarm_dead_letter_messages,
            "Digest flushes the function failed on five times are waiting in the digest dead-letter queue "
            "(those failures were recorded but their digest was not sent).",
        )
        self.event_dead_letter_messages: Optional[cloudwatch.Alarm] = None
        self.event_queue_age: Optional[cloudwatch.Alarm] = None
        if event_queue is not None and event_dead_letter_queue is not None:
            self.event_dead_letter_messages = alarm(
                "EventDeadLetterQueueDepth",
                event_dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=period, statistic=cloudwatch.Stats.MAXIMUM
                ),
                config.alarm_dead_letter_messages,
                "Deadline Cloud events the function failed on five times are waiting in the event "
                "dead-letter queue (redrive them to the event queue once the cause is fixed).",
            )
            self.event_queue_age = alarm(
                "EventQueueBacklog",
                event_queue.metric_approximate_age_of_oldest_message(
                    period=period, statistic=cloudwatch.Stats.MAXIMUM
                ),
                config.alarm_event_queue_age_seconds,
                "Deadline Cloud events wait in the event queue longer than "
                f"{config.alarm_event_queue_age_seconds} s: the function falls behind (sessionWatch:maxConcurrency "
                "bounds it) or fails.",
            )
        # A render that fails ends its execution in Fail (SessionActionFailed) by design and reaches people
        # through the notification topic; it must not page operations. The alarm counts what is an
        # operational fault of the state machine itself; errors of the function are FunctionErrors above.
        self.state_machine_failures = alarm(
            "StateMachineFailures",
            cloudwatch.MathExpression(
                expression="timedOut + aborted + throttled",
                using_metrics={
                    "timedOut": state_machine.metric_timed_out(period=period, statistic=cloudwatch.Stats.SUM),
                    "aborted": state_machine.metric_aborted(period=period, statistic=cloudwatch.Stats.SUM),
                    "throttled": state_machine.metric_throttled(period=period, statistic=cloudwatch.Stats.SUM),
                },
                label="Executions timed out, aborted or throttled",
                period=period,
            ),
            config.alarm_state_machine_failures,
            "WaitForSessionAction executions timed out, were aborted or throttled. (A failed session action "
            "ends its execution in Fail by design and is not counted; function errors are FunctionErrors.)",
        )
        self.alarms: List[cloudwatch.Alarm] = [
            alarm_
            for alarm_ in (
                self.function_errors,
                self.function_throttles,
                self.dead_letter_messages,
                self.event_dead_letter_messages,
                self.digest_dead_letter_messages,
                self.event_queue_age,
                self.state_machine_failures,
            )
            if alarm_ is not None
        ]

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.days(1),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Session actions: failures and completions",
                left=[function_metric("Failures", period), function_metric("Completions", period)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function errors and throttles",
                left=[
                    function.metric_errors(period=period, statistic=cloudwatch.Stats.SUM, label="Errors"),
                    function.metric_throttles(period=period, statistic=cloudwatch.Stats.SUM, label="Throttles"),
                    function.metric_invocations(period=period, statistic=cloudwatch.Stats.SUM, label="Invocations"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function duration",
                left=[
                    function.metric_duration(period=period, statistic=cloudwatch.Stats.percentile(50), label="p50"),
                    function.metric_duration(period=period, statistic=cloudwatch.Stats.percentile(99), label="p99"),
                    function.metric_duration(period=period, statistic=cloudwatch.Stats.MAXIMUM, label="max"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=period, statistic=cloudwatch.Stats.MAXIMUM, label=label
                    )
                    for queue, label in (
                        (dead_letter_queue, "Undelivered events and invocations"),
                        (event_dead_letter_queue, "Events"),
                        (digest_dead_letter_queue, "Digest flushes"),
                    )
                    if queue is not None
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="WaitForSessionAction executions",
                left=[
                    state_machine.metric_succeeded(period=period, statistic=cloudwatch.Stats.SUM, label="Succeeded"),
                    state_machine.metric_failed(period=period, statistic=cloudwatch.Stats.SUM, label="Failed"),
                    state_machine.metric_timed_out(period=period, statistic=cloudwatch.Stats.SUM, label="Timed out"),
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Records, notifications, duplicates",
                left=[function_metric(name, period) for name in
                      ("Recorded", "Published", "Deduplicated", "StaleIgnored", "UnknownStatus")],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12),
        )
        queue_widgets: List[cloudwatch.IWidget] = []
        if event_queue is not None:
            queue_widgets.append(
                cloudwatch.GraphWidget(
                    title="Event queue backlog",
                    left=[
                        event_queue.metric_approximate_number_of_messages_visible(
                            period=period, statistic=cloudwatch.Stats.MAXIMUM, label="Waiting"
                        ),
                        event_queue.metric_approximate_number_of_messages_not_visible(
                            period=period, statistic=cloudwatch.Stats.MAXIMUM, label="In work"
                        ),
                    ],
                    right=[
                        event_queue.metric_approximate_age_of_oldest_message(
                            period=period, statistic=cloudwatch.Stats.MAXIMUM, label="Oldest (s)"
                        )
                    ],
                    width=12,
                )
            )
        queue_widgets.append(
            cloudwatch.GraphWidget(
                title="Digest flushes",
                left=[
                    digest_queue.metric_approximate_number_of_messages_delayed(
                        period=period, statistic=cloudwatch.Stats.MAXIMUM, label="Scheduled (delayed)"
                    ),
                    digest_queue.metric_number_of_messages_deleted(
                        period=period, statistic=cloudwatch.Stats.SUM, label="Flushed"
                    ),
                ],
                width=12,
            )
        )
        self.dashboard.add_widgets(*queue_widgets)

