"""``WaitForJob``: a state machine a pipeline calls as one step to wait, without polling, for a Deadline
Cloud job (or one of its steps or tasks) to end; with its waiter table and the sweep that backs up lost events.

Input ``{farmId, queueId, jobId}``, optionally ``stepId`` or ``stepId`` + ``taskId`` (other keys are ignored).
``RegisterWaiter`` invokes the function with ``{"waitForJob": {..., "taskToken": $$.Task.Token}}``
(``.waitForTaskToken``): the function stores a waiter (with a TTL) in the waiter table, then reads the job,
and resumes the execution at once if it already ended. Otherwise the function resumes it when Deadline
Cloud's events say the job (step, task) ended, or the sweep (a rate rule invoking the function with
``{"sweepWaiters": {}}``) finds it ended with BatchGetJob. The sweep also heartbeats the waiters it found
still waiting: ``HeartbeatSeconds`` is four sweep intervals, so a lost waiter fails in minutes, not hours.

Output: the job summary (SendTaskSuccess). Errors (SendTaskFailure), for a caller's ``Catch``: JobFailed,
JobCanceled, StepFailed, StepCanceled, TaskFailed, TaskCanceled, JobCreateFailed, JobUploadFailed,
JobNotFound; ``WaitTimedOut`` (this state machine's own Fail state) when the wait outlived
``waitForJobTimeoutHours`` or stopped receiving heartbeats.

Why a table of its own (not the digest ledger): the sweep Scans every open waiter, and this table holds
open waiters only (a resumed waiter is deleted); in the ledger the Scan would read every digest item too.
"""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

from typing import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .. import checkov, nag
from .history_table import durable_table
from .state_machine import FUNCTION_RETRYABLE_ERRORS, LAMBDA_TRANSIENT_ERRORS

INPUT_KEYS = ("farmId", "queueId", "jobId", "stepId", "taskId")
REGISTER_STATE = "RegisterWaiter"
TIMED_OUT_STATE = names.WAIT_ERROR_TIMED_OUT
#: The errors a wait that outlived its time raises in Step Functions (task timeout, missed heartbeats).
TIMEOUT_ERRORS = ("States.Timeout", "States.HeartbeatTimeout")
#: The sweep heartbeats every open waiter; a waiter missing this many sweeps in a row times out.
HEARTBEAT_SWEEPS = 4
#: Waiter table: the function writes, queries, scans (the sweep) and deletes waiters.
WAITER_TABLE_ACTIONS = ("dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DeleteItem")
#: Resuming an execution. Scoped to this state machine's ARN, as CDK's ``StateMachine.grantTaskResponse``
#: scopes these same three actions.
TASK_RESPONSE_ACTIONS = ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat")
#: A partial wait reads the step (GetStep) or the task (GetTask); BatchGetJob authorizes as deadline:GetJob.
DEADLINE_PART_ACTIONS = ("deadline:GetStep", "deadline:GetTask", "deadline:GetJob")


class WaitForJob(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.Function,
        deadline_resources: Sequence[str],
        state_machine_name: str,
        timeout: Duration,
        sweep_every: Duration,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)

        self.table = durable_table(
            self, "Waiters", partition_key=names.WAITER_PARTITION_KEY, sort_key=names.WAITER_SORT_KEY,
            ttl_attribute=names.TTL_ATTRIBUTE, removal_policy=removal_policy,
        )

        # Optional stepId/taskId: a JSONPath to an absent key fails the state, so default them to null first.
        defaults = sfn.Pass(
            self, "WithDefaults",
            parameters={"request": sfn.JsonPath.json_merge(
                sfn.JsonPath.string_to_json('{"stepId":null,"taskId":null}'), sfn.JsonPath.entire_payload)},
            comment="stepId and taskId are optional: null unless the input names them.",
        )
        register = tasks.LambdaInvoke(
            self,
            REGISTER_STATE,
            lambda_function=function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object({names.WAIT_FOR_JOB: {
                **{key: sfn.JsonPath.string_at(f"$.request.{key}") for key in INPUT_KEYS},
                "taskToken": sfn.JsonPath.task_token,
                "executionArn": sfn.JsonPath.string_at("$$.Execution.Id"),
            }}),
            task_timeout=sfn.Timeout.duration(timeout),
            heartbeat_timeout=sfn.Timeout.duration(Duration.minutes(sweep_every.to_minutes() * HEARTBEAT_SWEEPS)),
            retry_on_service_exceptions=False,
            comment="Register a waiter through the function; it resumes this task when the job ends.",
        )
        for errors in (FUNCTION_RETRYABLE_ERRORS, LAMBDA_TRANSIENT_ERRORS):
            register.add_retry(errors=list(errors), interval=Duration.seconds(2), backoff_rate=2, max_attempts=6,
                               max_delay=Duration.seconds(60), jitter_strategy=sfn.JitterType.FULL)
        timed_out = sfn.Fail(
            self, "TimedOut", state_name=TIMED_OUT_STATE, error=names.WAIT_ERROR_TIMED_OUT,
            cause=f"The job did not end within the wait's timeout ({int(timeout.to_hours())} h), or the waiter "
                  "stopped receiving heartbeats from the sweep",
        )
        register.add_catch(timed_out, errors=list(TIMEOUT_ERRORS), result_path=sfn.JsonPath.DISCARD)
        done = sfn.Succeed(self, "JobEnded", comment="The job summary.")

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            comment="Wait for a Deadline Cloud job (step, task) to end; succeed with its summary or fail with a "
                    "documented error name",
            definition_body=sfn.DefinitionBody.from_chainable(defaults.next(register).next(done)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # The task's own timeout (caught: WaitTimedOut) comes first; this one only bounds a stuck execution.
            timeout=timeout.plus(Duration.hours(1)),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )

        # The function's side. A Policy of its own (not the role's default policy, which the function depends
        # on): the state machine depends on the function, and this policy names the state machine.
        self.function_policy = iam.Policy(self, "FunctionPolicy", statements=[
            iam.PolicyStatement(sid="WriteWaiters", actions=list(WAITER_TABLE_ACTIONS),
                                resources=[self.table.table_arn]),
            iam.PolicyStatement(sid="ResumeWaiters", actions=list(TASK_RESPONSE_ACTIONS),
                                resources=[self.state_machine.state_machine_arn]),
            iam.PolicyStatement(sid="ReadDeadlineJobParts", actions=list(DEADLINE_PART_ACTIONS),
                                resources=list(deadline_resources)),
        ])
        assert function.role is not None
        self.function_policy.attach_to_role(function.role)
        function.add_environment(names.ENV_WAITER_TABLE_NAME, self.table.table_name)
        function.add_environment(names.ENV_WAITER_TTL_HOURS, str(int(timeout.to_hours()) + 1))

        # The safety net: every sweep_every, the function re-checks open waiters.
        self.sweep_rule = events.Rule(
            self, "SweepRule", schedule=events.Schedule.rate(sweep_every),
            description="Re-check WaitForJob's open waiters (Deadline Cloud's events are best effort)",
        )
        self.sweep_rule.add_target(targets.LambdaFunction(
            function, event=events.RuleTargetInput.from_object({names.SWEEP_WAITERS: {}}), retry_attempts=2,
            max_event_age=sweep_every))

        checkov.acknowledge(
            self.log_group, "CKV_AWS_158",
            "CloudWatch Logs encrypts every log group at rest; the state machine logs with includeExecutionData "
            "false, so no input, output or task token reaches it.",
        )
        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        nag.acknowledge(
            policy, "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs delivery (logs:CreateLogDelivery and related) and X-Ray support no resource-level "
            "permissions.",
        )
        nag.acknowledge(
            policy, f"AwsSolutions-IAM5[Resource::{nag.resource_finding(stack, function.function_arn)}:*]",
            "lambda:InvokeFunction on the function's versions and aliases (ARN:*), as CDK's LambdaInvoke grants it.",
        )
        for resource in deadline_resources:
            finding = nag.resource_finding(stack, resource)
            if "*" in finding:
                nag.acknowledge(
                    self.function_policy, f"AwsSolutions-IAM5[Resource::{finding}]",
                    "Jobs are submitted after deployment, so their ids cannot be listed: the reads are scoped to "
                    "the configured farms/queues, the same resources as the function's other Deadline reads.",
                )
