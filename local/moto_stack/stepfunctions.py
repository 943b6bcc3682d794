"""Run the deployed state machine through moto's Step Functions interpreter.

moto interprets the deployed definition (Retry, Choice, Fail with ``CausePath``/``States.Format``, ...),
but its Lambda cannot run code without Docker: a ``lambda:invoke`` task gets the next answer queued for
moto's "lambda-simple" backend. So for each execution :class:`StateMachineRunner`

1. works out the payload the definition's Lambda task sends for the execution input (``Parameters.Payload``
   with ``"key.$": "$.path"`` selectors, as the deployed ASL has it);
2. invokes the real handler in this process with that payload (request-response) and queues its JSON
   answer as moto's "lambda-simple" response;
3. starts the execution, waits for its end, and checks in the execution history that the interpreter
   scheduled exactly one Lambda call, with exactly that payload, and read back exactly that answer.

If the handler raises, nothing can be queued (lambda-simple cannot answer with a function error), so the
execution is not started and the run reports the error instead. A record that is not terminal would make
the state machine wait and read again; such a run is refused rather than faked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .runtime import FunctionRuntime, Invocation
from .server import MotoServer


class StateMachineRunError(RuntimeError):
    pass


@dataclass
class StateMachineRun:
    label: str
    input: Dict[str, Any]
    payload: Optional[Dict[str, Any]] = None
    invocation: Optional[Invocation] = None
    execution_arn: Optional[str] = None
    status: str = "NOT_STARTED"
    output: Any = None
    error: Optional[str] = None
    cause: Optional[str] = None
    lambda_calls: int = 0
    payload_matches: Optional[bool] = None
    answer_matches: Optional[bool] = None
    problem: Optional[str] = None
    seconds: float = 0.0
    states: List[str] = field(default_factory=list)


def _select(document: Any, path: str) -> Any:
    if path == "$":
        return document
    if not path.startswith("$."):
        raise StateMachineRunError(f"JSONPath {path!r} is not supported by the demo's payload evaluation")
    value = document
    for part in path[2:].split("."):
        if not isinstance(value, dict) or part not in value:
            raise StateMachineRunError(f"{path} is not in the input")
        value = value[part]
    return value


def _render_parameters(template: Any, document: Any) -> Any:
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or value.startswith("States."):
                    raise StateMachineRunError(f"{key}: intrinsic functions are not evaluated by the demo")
                out[key[:-2]] = _select(document, value)
            else:
                out[key] = _render_parameters(value, document)
        return out
    if isinstance(template, list):
        return [_render_parameters(v, document) for v in template]
    return template


class StateMachineRunner:
    def __init__(self, moto: MotoServer, runtime: FunctionRuntime, state_machine_arn: str) -> None:
        self.moto = moto
        self.runtime = runtime
        self.arn = state_machine_arn
        self.sfn = moto.client("stepfunctions")
        description = self.sfn.describe_state_machine(stateMachineArn=state_machine_arn)
        self.name = description["name"]
        self.definition = json.loads(description["definition"])
        self.task = self._lambda_task()
        self.runs: List[StateMachineRun] = []

    def _lambda_task(self) -> Dict[str, Any]:
        """The definition's first state must be the Lambda task calling the deployed function."""
        state = self.definition["States"][self.definition["StartAt"]]
        resource = state.get("Resource", "")
        function = state.get("Parameters", {}).get("FunctionName")
        if state.get("Type") != "Task" or not resource.endswith(":states:::lambda:invoke"):
            raise StateMachineRunError(f"{self.name}: the first state is not a lambda:invoke task")
        if function not in (self.runtime.function_arn, self.runtime.function_name):
            raise StateMachineRunError(f"{self.name}: its task invokes {function}, not the deployed function")
        if state.get("InputPath", "$") != "$":
            raise StateMachineRunError(f"{self.name}: InputPath is not evaluated by the demo")
        return state

    def payload_for(self, execution_input: Dict[str, Any]) -> Any:
        return _render_parameters(self.task["Parameters"].get("Payload", execution_input), execution_input)

    def run(self, execution_input: Dict[str, Any], *, label: str, name: str, timeout: float = 30.0) -> StateMachineRun:
        started = time.monotonic()
        run = StateMachineRun(label=label, input=execution_input)
        self.runs.append(run)
        run.payload = self.payload_for(execution_input)
        run.invocation = self.runtime.invoke(run.payload, source=f"Step Functions {self.name} ({name})")
        if not run.invocation.ok:
            run.problem = (f"the function raised {run.invocation.error_type}; moto's lambda-simple backend cannot "
                           "answer with a function error, so the execution was not started")
            run.seconds = time.monotonic() - started
            return run
        answer = run.invocation.result
        if isinstance(answer, dict) and answer.get("terminal") is False:
            run.problem = ("the record is not terminal; the state machine would wait and read again, which the demo "
                           "does not simulate")
            run.seconds = time.monotonic() - started
            return run
        self.moto.queue_lambda_result(json.dumps(answer))
        run.execution_arn = self.sfn.start_execution(
            stateMachineArn=self.arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]
        deadline = time.monotonic() + timeout
        while True:
            execution = self.sfn.describe_execution(executionArn=run.execution_arn)
            if execution["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                run.problem = f"still RUNNING after {timeout:.0f}s"
                break
            time.sleep(0.05)
        run.status = execution["status"]
        run.output = json.loads(execution["output"]) if execution.get("output") else None
        run.error = execution.get("error")
        run.cause = execution.get("cause")
        self._check_history(run)
        run.seconds = time.monotonic() - started
        return run

    def _check_history(self, run: StateMachineRun) -> None:
        events = self.sfn.get_execution_history(executionArn=run.execution_arn, maxResults=1000)["events"]
        scheduled = [e for e in events if e["type"] == "TaskScheduled"]
        run.lambda_calls = len(scheduled)
        run.states = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        if scheduled:
            parameters = json.loads(scheduled[0]["taskScheduledEventDetails"]["parameters"])
            run.payload_matches = parameters.get("Payload") == run.payload
        succeeded = [e for e in events if e["type"] == "TaskSucceeded"]
        if succeeded:
            output = json.loads(succeeded[0]["taskSucceededEventDetails"]["output"])
            run.answer_matches = output.get("Payload") == run.invocation.result
        if run.lambda_calls != 1:
            run.problem = f"the interpreter scheduled {run.lambda_calls} Lambda calls, 1 was expected"
        elif run.payload_matches is False:
            run.problem = "the payload the interpreter sent differs from the one the handler was given"
        elif run.answer_matches is False:
            run.problem = "the interpreter read an answer other than the handler's"
