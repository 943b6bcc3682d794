"""The stack: a thin composition of one construct per capability."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from . import lambda_defaults
from .config import WatchConfig
from .constructs.history_table import HistoryTable
from .constructs.monitoring import Monitoring
from .constructs.notifications import NotificationTopic
from .constructs.processing import SessionWatchFunction
from .constructs.state_machine import WaitForSessionAction
from .constructs.trigger import TaskRunStatusTrigger

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
        self.processing = SessionWatchFunction(
            self,
            "SessionWatch",
            config=config,
            history=self.history,
            topic=self.notifications.topic,
            key=self.notifications.key,
            removal_policy=removal,
        )
        self.trigger = TaskRunStatusTrigger(
            self,
            "TaskRunEvents",
            function=self.processing.function,
            dead_letter_queue=self.processing.dead_letter_queue,
            run_statuses=config.task_run_statuses,
            farm_ids=config.farm_ids,
            queue_ids=config.queue_ids,
            retry_attempts=config.event_retry_attempts,
            max_event_age=Duration.hours(config.event_max_age_hours),
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
