"""Fixes for moto bugs that WaitForJob and its pipelines meet, applied in moto's server process
(``moto_main.py``) and in the tests' in-process mock (tests/infra/test_wait_for_job.py). Each names what AWS
documents; ``apply`` returns the names of the fixes it applied.

* ``sfn-task-failure-cause`` (moto 5.2.5): ``SendTaskFailure`` drops its ``cause`` (the response handler reads
  only ``taskToken`` and ``error``). Step Functions API reference, SendTaskFailure: ``cause`` is "a more
  detailed explanation of the cause of the failure" (up to 32768 characters), carried to the failed task.
  -> the handler passes ``cause`` on when the backend (the interpreter's) takes it.
* ``sfn-start-execution-integration`` (moto 5.2.5): the ``states:startExecution`` service integration
  (``.sync``, ``.sync:2``) calls boto3 with the state's PascalCase parameters (``StateMachineArn``,
  ``Input``), which botocore rejects (KeyError), and reads the answers by their PascalCase names while boto3
  gives camelCase. Step Functions Developer Guide ("Start a new AWS Step Functions state machine execution"):
  the task takes ``StateMachineArn``, ``Input``, ``Name`` and its output (and a failed child's cause) has the
  DescribeExecution fields in PascalCase (``ExecutionArn``, ``Status``, ``Output``, ``Error``, ``Cause``...).
  Also, without a ``Name`` moto names every child execution "None" (so the second one fails with
  ExecutionAlreadyExists); Step Functions generates a unique name (StartExecution API reference, ``name``).
  -> parameters go to boto3 in camelCase (with a UUID name when none is given); answers come back in
  PascalCase, dates as epoch milliseconds.
* ``events-scheduled-rule-gets-events`` (moto 5.2.5): PutEvents hands every event to every rule of the bus,
  scheduled rules too: a rule with no event pattern matches everything, and its Lambda target then raises
  NotImplementedError (PutEvents answers 500). EventBridge User Guide: a rule has an event pattern or a
  schedule; a scheduled rule runs on its schedule and matches no events. -> a rule without an event pattern
  is skipped by PutEvents.
"""

from __future__ import annotations

import inspect
import uuid
from typing import Any, Dict, List


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


def _answer(response: Dict[str, Any]) -> Dict[str, Any]:
    """A boto3 answer as the integration gives it: PascalCase names, dates as epoch milliseconds."""
    from datetime import datetime

    return {_pascal(k): int(v.timestamp() * 1000) if isinstance(v, datetime) else v for k, v in response.items()}


def _task_failure_cause() -> None:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse.send_task_failure, "_pipeline_fix", False):
        return

    def send_task_failure(self):  # type: ignore[no-untyped-def]
        backend = self.stepfunction_backend
        kwargs = {"error": self._get_param("error")}
        if "cause" in inspect.signature(backend.send_task_failure).parameters:
            kwargs["cause"] = self._get_param("cause")
        backend.send_task_failure(self._get_param("taskToken"), **kwargs)
        return EmptyResult()

    send_task_failure._pipeline_fix = True  # type: ignore[attr-defined]
    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


def _start_execution_integration() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn as m

    cls = m.StateTaskServiceSfn
    if getattr(cls._eval_service_task, "_pipeline_fix", False):
        return
    original_eval = cls._eval_service_task
    original_normalise = cls._normalise_response

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):  # type: ignore[no-untyped-def]
        camel = {_camel(k): v for k, v in normalised_parameters.items()}
        if self._get_boto_service_action() == "start_execution" and not camel.get("name"):
            camel["name"] = str(uuid.uuid4())  # moto would name every child "None" (and refuse the second)
        original_eval(self, env, resource_runtime_part, camel, state_credentials)
        response = env.stack.pop()
        env.stack.append(_answer(response) if isinstance(response, dict) else response)

    def _normalise_response(self, response: Any, boto_service_name: Any = None,  # type: ignore[no-untyped-def]
                            service_action_name: Any = None) -> None:
        original_normalise(self, response, boto_service_name, service_action_name)
        if isinstance(response, dict):
            items: Dict[str, Any] = dict(response)
            response.clear()
            response.update(_answer(items))

    _eval_service_task._pipeline_fix = True  # type: ignore[attr-defined]
    cls._eval_service_task = _eval_service_task  # type: ignore[method-assign]
    cls._normalise_response = _normalise_response  # type: ignore[method-assign]


def _scheduled_rules_get_no_events() -> None:
    from moto.events.models import Rule

    if getattr(Rule.send_to_targets, "_pipeline_fix", False):
        return
    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):  # type: ignore[no-untyped-def]
        if not self.event_pattern.get_pattern() and getattr(self, "scheduled_expression", None):
            return None
        return original(self, original_event, transform_input)

    send_to_targets._pipeline_fix = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def apply() -> List[str]:
    _task_failure_cause()
    _start_execution_integration()
    _scheduled_rules_get_no_events()
    return ["sfn-task-failure-cause", "sfn-start-execution-integration", "events-scheduled-rule-gets-events"]
