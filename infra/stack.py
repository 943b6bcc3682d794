"""The stack: a thin composition of one construct per capability."""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from . import lambda_defaults
from .config import WatchConfig
from .constructs.digests import Digests
from .constructs.event_queue import EventQueue
from .constructs.history_table import HistoryTable
from .constructs.monitoring import Monitoring
from .constructs.notifications import NotificationTopic
from .constructs.processing import FUNCTION_TIMEOUT, SessionWatchFunction
from .constructs.state_machine import WaitForSessionAction
from .constructs.trigger import (
    DETAIL_TYPE,
    JOB_RUN_DETAIL_TYPE,
    DeadlineEventRule,
    event_detail,
    event_target,
    job_run_detail,
    requeue_detail,
)

_REMOVAL = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}


class SessionWatchStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: WatchConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            id,
            description="Deadline Session Watch: records Deadline Cloud session actions and notifies on them",
            **kwargs,
        )
        removal = _REMOVAL[config.removal_policy]
        log_retention = lambda_defaults.log_retention(config.log_retention_days)

        self.history = HistoryTable(self, "History", removal_policy=removal)
        self.notifications = NotificationTopic(
            self, "Notifications", emails=config.notification_emails, removal_policy=removal
        )
        self.digests = Digests(self, "Digests", function_timeout=FUNCTION_TIMEOUT, removal_policy=removal)
        self.processing = SessionWatchFunction(
            self,
            "SessionWatch",
            config=config,
            history=self.history,
            digests=self.digests,
            topic=self.notifications.topic,
            key=self.notifications.key,
            removal_policy=removal,
        )
        # Delivery "queue": rule -> EventQueue -> function in batches; "direct": rule -> function.
        self.events: Optional[EventQueue] = None
        if config.event_delivery == "queue":
            self.events = EventQueue(
                self,
                "Events",
                function=self.processing.function,
                batch_size=config.batch_size,
                batching_window=Duration.seconds(config.batch_window_seconds),
                max_concurrency=config.max_concurrency,
            )

        def target():
            return event_target(
                function=self.processing.function,
                queue=self.events.queue if self.events else None,
                dead_letter_queue=self.processing.dead_letter_queue,
                retry_attempts=config.event_retry_attempts,
                max_event_age=Duration.hours(config.event_max_age_hours),
            )

        self.task_run_rule = DeadlineEventRule(
            self,
            "TaskRunEvents",
            description="Deadline Cloud task runs reaching a watched status -> Deadline Session Watch",
            detail_type=DETAIL_TYPE,
            detail=event_detail(config.task_run_statuses, config.farm_ids, config.queue_ids),
            target=target(),
        )
        self.requeue_rule = DeadlineEventRule(
            self,
            "TaskRequeueEvents",
            description="Deadline Cloud task runs requeued after their worker was reclaimed or the run "
                        "interrupted -> Deadline Session Watch",
            detail_type=DETAIL_TYPE,
            detail=requeue_detail(config.farm_ids, config.queue_ids),
            target=target(),
        )
        self.job_run_rule = DeadlineEventRule(
            self,
            "JobRunEvents",
            description="Deadline Cloud jobs whose task runs succeeded, failed or were canceled -> "
                        "Deadline Session Watch (one job-level message)",
            detail_type=JOB_RUN_DETAIL_TYPE,
            detail=job_run_detail(config.farm_ids, config.queue_ids),
            target=target(),
        )
        self.waiter = WaitForSessionAction(
            self,
            "WaitForSessionAction",
            function=self.processing.function,
            state_machine_name=config.state_machine_name,
            wait=Duration.seconds(config.wait_seconds),
            timeout=Duration.hours(config.state_machine_timeout_hours),
            log_retention=log_retention,
            removal_policy=removal,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            function=self.processing.function,
            dead_letter_queue=self.processing.dead_letter_queue,
            event_queue=self.events.queue if self.events else None,
            event_dead_letter_queue=self.events.dead_letter_queue if self.events else None,
            digest_queue=self.digests.queue,
            digest_dead_letter_queue=self.digests.dead_letter_queue,
            state_machine=self.waiter.state_machine,
            key=self.notifications.key,
            operations_emails=config.operations_emails,
        )

        CfnOutput(self, "TableName", value=self.history.table.table_name,
                  description="DynamoDB history table (index byQueueOutcome: recent outcomes of a queue)")
        CfnOutput(self, "TopicArn", value=self.notifications.topic.topic_arn,
                  description="SNS topic of session action notifications (subscribe here)")
        CfnOutput(self, "StateMachineArn", value=self.waiter.state_machine.state_machine_arn,
                  description="WaitForSessionAction state machine (input: farmId, queueId, jobId, sessionActionId)")
        CfnOutput(self, "DeadLetterQueueUrl", value=self.processing.dead_letter_queue.queue_url,
                  description="Events and invocations the function could not process")
        CfnOutput(self, "FunctionName", value=self.processing.function.function_name,
                  description="The session-watch function")
        CfnOutput(self, "OperationsTopicArn", value=self.monitoring.operations_topic.topic_arn,
                  description="SNS topic the alarms notify")
        if self.events:
            CfnOutput(self, "EventQueueUrl", value=self.events.queue.queue_url,
                      description="SQS queue of Deadline Cloud events the function reads in batches")
            CfnOutput(self, "EventDeadLetterQueueUrl", value=self.events.dead_letter_queue.queue_url,
                      description="Events the function failed on five times")
        CfnOutput(self, "DigestTableName", value=self.digests.table.table_name,
                  description="DynamoDB digest ledger (windows scheduled/published, job-level message dedupe)")
        CfnOutput(self, "DigestQueueUrl", value=self.digests.queue.queue_url,
                  description="SQS queue of delayed digest flushes (the function sends and reads it)")
        CfnOutput(self, "DigestDeadLetterQueueUrl", value=self.digests.dead_letter_queue.queue_url,
                  description="Digest flushes the function failed on five times")
