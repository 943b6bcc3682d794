"""``SubmitAndWait`` (optional, context ``sessionWatch:submitAndWait=true``): the starting point for a
pipeline. It submits a Deadline Cloud job from the job template in its input (``aws-sdk:deadline:createJob``),
waits for it with WaitForJob (``states:startExecution.sync:2``) and branches on the outcome.

Input: ``{farmId, queueId, template}`` and optionally ``templateType`` (JSON or YAML; default JSON),
``priority`` (default 50) and ``parameters`` (the template's job parameters, Deadline's ``JobParameter``
map, e.g. ``{"Frames": {"string": "1-10"}}``).

How a caller reads WaitForJob's error: with ``startExecution.sync:2`` a failed child execution fails the
parent task with ``States.TaskFailed`` and a cause that is the child's DescribeExecution as JSON (Step
Functions Developer Guide, "Start a new AWS Step Functions state machine execution"). ``ReadFailure`` parses
it (``States.StringToJson``), and ``Outcome`` branches on the child's ``Error``: JobFailed, JobCanceled,
WaitTimedOut, or anything else. Replace the Pass states ``Publish`` and ``HandleFailedRender`` with your steps.
"""

from __future__ import annotations

from typing import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambda_src.session_watch import names

from .. import checkov, nag

SUBMIT_STATE = "SubmitJob"
WAIT_STATE = "WaitForJob"
#: The child's DescribeExecution, parsed from the failed task's cause.
FAILURE_PATH = "$.failure.execution"


class SubmitAndWait(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        wait_for_job: sfn.IStateMachine,
        deadline_queue_resources: Sequence[str],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        timeout: Duration = Duration.hours(25),
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)

        defaults = sfn.Pass(
            self, "WithDefaults",
            parameters={"request": sfn.JsonPath.json_merge(
                sfn.JsonPath.string_to_json('{"templateType":"JSON","priority":50,"parameters":{}}'),
                sfn.JsonPath.entire_payload)},
            comment="templateType, priority and parameters are optional.",
        )
        submit = tasks.CallAwsService(
            self, SUBMIT_STATE,
            service="deadline",
            action="createJob",
            iam_action="deadline:CreateJob",
            iam_resources=list(deadline_queue_resources),
            parameters={
                "FarmId": sfn.JsonPath.string_at("$.request.farmId"),
                "QueueId": sfn.JsonPath.string_at("$.request.queueId"),
                "Template": sfn.JsonPath.string_at("$.request.template"),
                "TemplateType": sfn.JsonPath.string_at("$.request.templateType"),
                "Priority": sfn.JsonPath.number_at("$.request.priority"),
                "Parameters": sfn.JsonPath.object_at("$.request.parameters"),
            },
            result_selector={"jobId": sfn.JsonPath.string_at("$.JobId")},
            result_path="$.submitted",
            comment="Submit the job (Deadline Cloud CreateJob).",
        )
        wait = tasks.StepFunctionsStartExecution(
            self, WAIT_STATE,
            state_machine=wait_for_job,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,  # startExecution.sync:2
            input=sfn.TaskInput.from_object({
                "farmId": sfn.JsonPath.string_at("$.request.farmId"),
                "queueId": sfn.JsonPath.string_at("$.request.queueId"),
                "jobId": sfn.JsonPath.string_at("$.submitted.jobId"),
            }),
            associate_with_parent=True,
            result_selector={"summary": sfn.JsonPath.object_at("$.Output")},
            result_path="$.job",
            comment="Wait for the job with WaitForJob; its output is the job summary.",
        )
        read_failure = sfn.Pass(
            self, "ReadFailure",
            parameters={"execution": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.failure.Cause"))},
            result_path="$.failure",
            comment="The cause of States.TaskFailed is WaitForJob's DescribeExecution: its Error names the outcome.",
        )
        wait.add_catch(read_failure, errors=["States.TaskFailed"], result_path="$.failure")

        publish = sfn.Pass(self, "Publish", comment="The job succeeded: publish its output (your step here).")
        handle_failed = sfn.Pass(self, "HandleFailedRender",
                                 comment="The job failed: e.g. notify, requeue failed tasks (your step here).")
        failed = sfn.Fail(self, "RenderFailed", error=names.WAIT_ERROR_JOB_FAILED,
                          cause_path=f"{FAILURE_PATH}.Cause")
        canceled = sfn.Fail(self, "RenderCanceled", error=names.WAIT_ERROR_JOB_CANCELED,
                            cause_path=f"{FAILURE_PATH}.Cause")
        timed_out = sfn.Fail(self, "RenderTimedOut", error=names.WAIT_ERROR_TIMED_OUT,
                             cause_path=f"{FAILURE_PATH}.Cause")
        other = sfn.Fail(self, "WaitFailed", error_path=f"{FAILURE_PATH}.Error", cause_path=f"{FAILURE_PATH}.Cause")
        outcome = (
            sfn.Choice(self, "Outcome")
            .when(sfn.Condition.string_equals(f"{FAILURE_PATH}.Error", names.WAIT_ERROR_JOB_FAILED),
                  handle_failed.next(failed))
            .when(sfn.Condition.string_equals(f"{FAILURE_PATH}.Error", names.WAIT_ERROR_JOB_CANCELED), canceled)
            .when(sfn.Condition.string_equals(f"{FAILURE_PATH}.Error", names.WAIT_ERROR_TIMED_OUT), timed_out)
            .otherwise(other)
        )
        read_failure.next(outcome)

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            comment="Submit a Deadline Cloud job, wait for it (WaitForJob) and branch on the outcome",
            definition_body=sfn.DefinitionBody.from_chainable(
                defaults.next(submit).next(wait).next(publish).next(sfn.Succeed(self, "Done"))),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        checkov.acknowledge(
            self.log_group, "CKV_AWS_158",
            "CloudWatch Logs encrypts every log group at rest; the state machine logs with includeExecutionData false.",
        )
        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        nag.acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                        "CloudWatch Logs delivery and X-Ray support no resource-level permissions.")
        for resource in deadline_queue_resources:
            finding = nag.resource_finding(stack, resource)
            if "*" in finding:
                nag.acknowledge(policy, f"AwsSolutions-IAM5[Resource::{finding}]",
                                "deadline:CreateJob on the farms/queues the stack watches (configured by context).")
        # CDK's grant for startExecution.sync:2: DescribeExecution/StopExecution on WaitForJob's executions,
        # written as execution:<name of the state machine taken from its ARN>*.
        machine_id = stack.resolve(wait_for_job.node.default_child.logical_id)  # type: ignore[union-attr]
        name_of_arn = '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"%s"}]}]}' % machine_id
        nag.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"{name_of_arn}*]",
            "startExecution.sync:2 must describe and stop the executions of WaitForJob it starts; their names are "
            "not known in advance (CDK's grant for the .sync integration).",
        )
