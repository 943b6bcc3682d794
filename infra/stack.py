"""The stack: a thin composition of one construct per capability."""

from __future__ import annotations

from typing import Any, Optional

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from constructs import Construct

from . import lambda_defaults
from .config import WatchConfig
from .constructs.chat_channels import ChatChannels
from .constructs.digests import Digests
from .constructs.event_queue import EventQueue
from .constructs.history_table import HistoryTable
from .constructs.monitoring import Monitoring
from .constructs.notification_events import NotificationEvents
from .constructs.notifications import NotificationTopic
from .constructs.processing import FUNCTION_TIMEOUT, SessionWatchFunction
from .constructs.state_machine import WaitForSessionAction
from .constructs.submit_and_wait import SubmitAndWait
from .constructs.wait_for_job import WaitForJob
from .constructs.trigger import (
    DETAIL_TYPE,
    JOB_LIFECYCLE_DETAIL_TYPE,
    JOB_RUN_DETAIL_TYPE,
    DeadlineEventRule,
    event_detail,
    event_target,
    job_lifecycle_detail,
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
        # One topic per audience (machines, email, chat) and, unless eventBus is none, an EventBridge bus.
        self.notifications = NotificationTopic(
            self, "Notifications", emails=config.notification_emails,
            machine_queue_arns=config.machine_queue_arns, removal_policy=removal,
        )
        self.notification_events: Optional[NotificationEvents] = None
        if config.event_bus != "none":
            self.notification_events = NotificationEvents(
                self, "NotificationEvents", bus=config.event_bus, archive_days=config.event_archive_days)
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
            email_topic=self.notifications.email_topic,
            chat_topic=self.notifications.chat_topic,
            event_bus_name=self.notification_events.bus_name if self.notification_events else None,
            event_bus_arn=self.notification_events.bus_arn if self.notification_events else None,
        )
        if self.notification_events:
            self.notification_events.route_to_queues(
                config.event_queue_arns,
                dead_letter_queue=self.processing.dead_letter_queue,
                retry_attempts=config.event_retry_attempts,
                max_event_age=Duration.hours(config.event_max_age_hours),
            )
        self.chat = ChatChannels(self, "ChatChannels", topic=self.notifications.chat_topic,
                                 slack=config.slack_channels, teams=config.teams_channels) \
            if (config.slack_channels or config.teams_channels) else None
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
        self.job_lifecycle_rule = DeadlineEventRule(
            self,
            "JobLifecycleEvents",
            description="Deadline Cloud jobs that failed before they ran (CREATE_FAILED, UPLOAD_FAILED) -> "
                        "Deadline Session Watch (one job-level failure message; resumes WaitForJob)",
            detail_type=JOB_LIFECYCLE_DETAIL_TYPE,
            detail=job_lifecycle_detail(config.farm_ids, config.queue_ids),
            target=target(),
        )
        self.wait_for_job = WaitForJob(
            self,
            "WaitForJob",
            function=self.processing.function,
            deadline_resources=self.processing.deadline_resources,
            state_machine_name=config.wait_for_job_state_machine_name,
            timeout=Duration.hours(config.wait_for_job_timeout_hours),
            sweep_every=Duration.minutes(config.waiter_sweep_minutes),
            log_retention=log_retention,
            removal_policy=removal,
        )
        self.submit_and_wait: Optional[SubmitAndWait] = None
        if config.submit_and_wait:
            self.submit_and_wait = SubmitAndWait(
                self, "SubmitAndWait", wait_for_job=self.wait_for_job.state_machine,
                deadline_queue_resources=self.processing.deadline_resources,
                log_retention=log_retention, removal_policy=removal,
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
                  description="SNS topic for machines: the JSON object as the message body, with attributes "
                              "(subscribe SQS, Lambda, HTTPS here; raw message delivery and filter policies work)")
        CfnOutput(self, "EmailTopicArn", value=self.notifications.email_topic.topic_arn,
                  description="SNS topic for people by email: readable text with a subject, with attributes")
        CfnOutput(self, "ChatTopicArn", value=self.notifications.chat_topic.topic_arn,
                  description="SNS topic for Amazon Q Developer in chat applications (Slack, Microsoft Teams)")
        if self.notification_events:
            CfnOutput(self, "EventBusName", value=self.notification_events.bus_name,
                      description="EventBridge bus of the notification events (source session-watch)")
            if self.notification_events.rule is not None:
                CfnOutput(self, "NotificationEventRuleArn", value=self.notification_events.rule.rule_arn,
                          description="Rule delivering the notification events to eventQueueArns (the aws:SourceArn "
                                      "their queue policies must allow)")
        CfnOutput(self, "StateMachineArn", value=self.waiter.state_machine.state_machine_arn,
                  description="WaitForSessionAction state machine (input: farmId, queueId, jobId, sessionActionId)")
        CfnOutput(self, "WaitForJobStateMachineArn", value=self.wait_for_job.state_machine.state_machine_arn,
                  description="WaitForJob state machine (input: farmId, queueId, jobId, optional stepId, taskId; "
                              "call it with states:startExecution.sync:2)")
        CfnOutput(self, "WaiterTableName", value=self.wait_for_job.table.table_name,
                  description="DynamoDB table of WaitForJob's open waiters")
        if self.submit_and_wait:
            CfnOutput(self, "SubmitAndWaitStateMachineArn",
                      value=self.submit_and_wait.state_machine.state_machine_arn,
                      description="SubmitAndWait example pipeline (input: farmId, queueId, template, ...)")
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
