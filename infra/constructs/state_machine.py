"""``WaitForSessionAction``: a Step Functions state machine another pipeline can call as a step.

Input ``{farmId, queueId, jobId, sessionActionId}`` (other keys are ignored). It invokes the function
with exactly those four keys, retries the function's transient errors, waits and reads again while the
record is not terminal, then succeeds with the record (``outcome`` = ``completion``) or fails with
``SessionActionFailed`` and a cause built from the record. Errors the function raises that are not
worth retrying (``InvalidEventError``, ``UnsupportedEventError``, ``ConfigurationError``,
``DeadlineResourceNotFound``, ``DeadlineAccessDenied``, ``DeadlineValidationError``) and retryable ones
whose retries ran out fail the execution under their own name, for the caller to ``Catch``.
"""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .. import checkov, nag

INPUT_KEYS = ("farmId", "queueId", "jobId", "sessionActionId")

#: errorType of the function's retryable errors.
FUNCTION_RETRYABLE_ERRORS = names.RETRYABLE_ERROR_NAMES
#: Transient errors of the Lambda service itself.
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
#: Errors that fail the execution at once (documented for callers' Catch).
NON_RETRYABLE_ERRORS = names.NON_RETRYABLE_ERROR_NAMES
FAILED_ERROR = "SessionActionFailed"
FAILED_CAUSE_FORMAT = (
    "Session action {} of job {} ended {} ({} action; task {}; environment {}; exit code {}; "
    "session {})"
)


class WaitForSessionAction(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        state_machine_name: str,
        wait: Duration,
        timeout: Duration,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)

        read = tasks.LambdaInvoke(
            self,
            "ReadSessionAction",
            lambda_function=function,
            payload=sfn.TaskInput.from_object({key: sfn.JsonPath.string_at(f"$.{key}") for key in INPUT_KEYS}),
            output_path="$.Payload",  # the state's output is the record itself
            retry_on_service_exceptions=False,  # explicit retries below
            comment="Read the session action through the function; its output is the record.",
        )
        read.add_retry(
            errors=list(FUNCTION_RETRYABLE_ERRORS),
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            max_delay=Duration.seconds(60),
            jitter_strategy=sfn.JitterType.FULL,
        )
        read.add_retry(
            errors=list(LAMBDA_TRANSIENT_ERRORS),
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            max_delay=Duration.seconds(60),
            jitter_strategy=sfn.JitterType.FULL,
        )

        succeeded = sfn.Succeed(self, "SessionActionSucceeded", comment="The record, outcome completion.")
        failed = sfn.Fail(
            self,
            "SessionActionFailedState",
            state_name=FAILED_ERROR,
            error=FAILED_ERROR,
            cause_path=sfn.JsonPath.format(
                FAILED_CAUSE_FORMAT,
                sfn.JsonPath.string_at("$.sessionActionId"),
                sfn.JsonPath.string_at("$.jobId"),
                sfn.JsonPath.string_at("$.status"),
                sfn.JsonPath.string_at("$.actionType"),
                sfn.JsonPath.string_at("$.taskId"),
                sfn.JsonPath.string_at("$.environmentId"),
                sfn.JsonPath.string_at("$.processExitCode"),
                sfn.JsonPath.string_at("$.sessionId"),
            ),
        )
        wait_state = sfn.Wait(
            self,
            "WaitBeforeNextRead",
            time=sfn.WaitTime.duration(wait),
            comment="Not terminal yet: wait, then read the session action again.",
        )
        decide = (
            sfn.Choice(self, "CheckOutcome")
            .when(sfn.Condition.string_equals("$.outcome", "completion"), succeeded)
            .when(sfn.Condition.boolean_equals("$.terminal", True), failed)
            .otherwise(wait_state)
        )
        wait_state.next(read)
        definition = read.next(decide)

        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            comment="Wait for a Deadline Cloud session action to end; succeed or fail with its record.",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )

        checkov.acknowledge(
            self.log_group,
            "CKV_AWS_158",
            "CloudWatch Logs encrypts every log group at rest; the state machine logs with "
            "includeExecutionData false, so no input or output reaches it. A customer-managed key would need a "
            "key policy for logs.<region>.amazonaws.com and KMS cost for no data that needs it.",
        )

        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs delivery (logs:CreateLogDelivery and related) and X-Ray "
            "(PutTraceSegments, PutTelemetryRecords, GetSampling*) support no resource-level permissions.",
        )
        stack = Stack.of(self)
        nag.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag.resource_finding(stack, function.function_arn)}:*]",
            "lambda:InvokeFunction on the function's versions and aliases (ARN:*), as CDK's LambdaInvoke "
            "grants it; the function itself is named exactly.",
        )
