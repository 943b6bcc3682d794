"""EventBridge rules for Deadline Cloud events, and their target: the event queue or the function.

Rules on the default bus, with the same farm/queue filter and the same target:

- ``Task Run Status Change`` with ``runStatus`` in the watched statuses: one event per task run, the
  function reads the task's session action;
- ``Task Run Status Change`` from a running status back to ``READY``: the run was reclaimed or
  interrupted and the task requeued; the function records that run (RECLAIMED, INTERRUPTED);
- ``Job Run Status Change`` with ``taskRunStatus`` SUCCEEDED / FAILED / CANCELED: one job-level message
  with the task-run counts (and it resumes WaitForJob's waiters of that job);
- ``Job Lifecycle Status Change`` with ``lifecycleStatus`` CREATE_FAILED / UPLOAD_FAILED: a job that failed
  before it ran (it never reaches a run status): one job-level failure message, and it resumes WaitForJob's
  waiters (a step's waiters resume on its tasks' events: no rule for Step Run Status Change).

Delivery ``queue`` (default): the target is the event queue (CDK's ``SqsQueue`` target adds a queue
policy statement that lets in this rule's events only: ``aws:SourceArn`` = the rule). Delivery
``direct``: the target is the function (asynchronous invoke). Either way EventBridge retries delivery and
sends what it could not deliver to the function's dead-letter queue.
"""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

from typing import Any, Dict, Optional, Sequence

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambda_src.session_watch import names

EVENT_SOURCE = "aws.deadline"
DETAIL_TYPE = "Task Run Status Change"
JOB_RUN_DETAIL_TYPE = "Job Run Status Change"
JOB_LIFECYCLE_DETAIL_TYPE = names.JOB_LIFECYCLE_STATUS_CHANGE
#: A job that failed before it ran: its lifecycle reached one of these (``detail.lifecycleStatus``).
JOB_LIFECYCLE_FAILED_STATUSES = names.JOB_LIFECYCLE_FAILED_STATUSES
#: A task back to READY from one of these: its worker was reclaimed or its run interrupted, and Deadline
#: requeued it. No event says RECLAIMED or INTERRUPTED itself; this one lets the function record that run.
REQUEUED_FROM = ("RUNNING", "INTERRUPTING", "STARTING", "ASSIGNED", "SCHEDULED")

#: Job-level messages: a job's task runs reached one of these (``detail.taskRunStatus``).
JOB_RUN_STATUSES = ("SUCCEEDED", "FAILED", "CANCELED")


def _scope(detail: Dict[str, Any], farm_ids: Sequence[str], queue_ids: Sequence[str]) -> Dict[str, Any]:
    if farm_ids:
        detail["farmId"] = list(farm_ids)
    if queue_ids:
        detail["queueId"] = list(queue_ids)
    return detail


def event_detail(run_statuses: Sequence[str], farm_ids: Sequence[str], queue_ids: Sequence[str]) -> Dict[str, Any]:
    """The ``detail`` filter of the task run rule."""
    return _scope({"runStatus": list(run_statuses)}, farm_ids, queue_ids)


def requeue_detail(farm_ids: Sequence[str], queue_ids: Sequence[str]) -> Dict[str, Any]:
    """The ``detail`` filter of the requeue rule: a running task back to READY (not a task requeued by
    hand from SUCCEEDED, FAILED or CANCELED)."""
    return _scope({"runStatus": ["READY"], "previousRunStatus": list(REQUEUED_FROM)}, farm_ids, queue_ids)


def job_run_detail(farm_ids: Sequence[str], queue_ids: Sequence[str]) -> Dict[str, Any]:
    """The ``detail`` filter of the job run rule."""
    return _scope({"taskRunStatus": list(JOB_RUN_STATUSES)}, farm_ids, queue_ids)


def job_lifecycle_detail(farm_ids: Sequence[str], queue_ids: Sequence[str]) -> Dict[str, Any]:
    """The ``detail`` filter of the job lifecycle rule: a job that failed before it ran."""
    return _scope({"lifecycleStatus": list(names.JOB_LIFECYCLE_FAILED_STATUSES)}, farm_ids, queue_ids)


def event_target(
    *,
    function: lambda_.IFunction,
    queue: Optional[sqs.IQueue],
    dead_letter_queue: sqs.IQueue,
    retry_attempts: int,
    max_event_age: Duration,
) -> events.IRuleTarget:
    """The event queue when there is one (delivery ``queue``), else the function (delivery ``direct``)."""
    if queue is not None:
        return targets.SqsQueue(
            queue,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
    return targets.LambdaFunction(
        function,
        dead_letter_queue=dead_letter_queue,
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
    )


class DeadlineEventRule(Construct):
    """One rule on the default bus (``source`` aws.deadline, one detail-type) with one target."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        description: str,
        detail_type: str,
        detail: Dict[str, Any],
        target: events.IRuleTarget,
    ) -> None:
        super().__init__(scope, id)
        self.rule = events.Rule(
            self,
            "Rule",
            description=description,
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE],
                detail_type=[detail_type],
                detail=detail,
            ),
        )
        self.rule.add_target(target)
