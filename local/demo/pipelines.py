"""The demo's pipelines: SubmitAndWait's definition runs in moto's Step Functions interpreter, calling the
deployed WaitForJob with ``startExecution.sync:2``, for four jobs on the local farm:

* ``event``: WaitForJob waits; the job renders; its events go through the deployed rules to the function,
  which resumes the waiter (SendTaskSuccess);
* ``sweep``: the job's events are lost (dropped, as EventBridge may); the sweep (the deployed rate rule's
  input, ``{"sweepWaiters": {}}``) finds it ended with BatchGetJob and resumes it;
* ``failing``: a frame fails; the waiter fails with ``JobFailed``; the pipeline catches ``States.TaskFailed``,
  reads WaitForJob's error and branches to ``HandleFailedRender``;
* ``ended-before``: the job ended before the pipeline started; registering the waiter resumes it at once.

What is simulated, and why: moto runs no Lambda code without Docker, so when WaitForJob's
``RegisterWaiter`` task is scheduled (moto's lambda-simple answers it; a ``.waitForTaskToken`` task ignores
the answer), the demo invokes the real handler with the payload the interpreter built (read from the
execution's history: it carries the task token), as Lambda would. moto cannot call Deadline Cloud
(``aws-sdk:deadline:createJob`` would reach moto, which has no Deadline Cloud), so the demo's copy of
SubmitAndWait has its ``SubmitJob`` state replaced by a Pass state that takes the job id from the input; the
rest of the definition is the deployed one.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from lambda_src.session_watch import names

#: The pipelines the demo runs: (label, how the job ends and how the function hears of it, expected).
PIPELINES = (
    ("event", "renders 2 frames; its events reach the function", "SUCCEEDED", None),
    ("sweep", "renders 2 frames; its events are lost; the sweep finds it ended", "SUCCEEDED", None),
    ("failing", "frame 2 fails; its events reach the function", "FAILED", names.WAIT_ERROR_JOB_FAILED),
    ("ended-before", "ended before the pipeline started", "SUCCEEDED", None),
)
SUBMIT_STATE = "SubmitJob"


class PipelineError(RuntimeError):
    pass


@dataclass
class PipelineRun:
    label: str
    story: str
    job_id: str
    expected_status: str
    expected_error: Optional[str]
    state_machine: str = ""
    execution_arn: Optional[str] = None
    status: str = "NOT_STARTED"
    output: Any = None
    error: Optional[str] = None
    cause: Optional[str] = None
    states: List[str] = field(default_factory=list)
    wait_for_job: Dict[str, Any] = field(default_factory=dict)  # the child execution: status, error, output
    registered: Optional[Dict[str, Any]] = None  # what registering the waiter returned
    resumed_by: Optional[str] = None  # event, sweep, registration
    problem: Optional[str] = None

    @property
    def ok(self) -> bool:
        return (not self.problem and self.status == self.expected_status and self.error == self.expected_error
                and bool(self.wait_for_job))

    def as_dict(self) -> Dict[str, Any]:
        return {"label": self.label, "story": self.story, "jobId": self.job_id, "stateMachine": self.state_machine,
                "executionArn": self.execution_arn, "status": self.status, "error": self.error, "cause": self.cause,
                "output": self.output, "states": self.states, "waitForJob": self.wait_for_job,
                "registered": self.registered, "resumedBy": self.resumed_by, "problem": self.problem,
                "expected": {"status": self.expected_status, "error": self.expected_error}}


def demo_pipeline_definition(submit_and_wait: Dict[str, Any]) -> Dict[str, Any]:
    """SubmitAndWait's definition with ``SubmitJob`` replaced by a Pass state that takes ``jobId`` from the
    input (moto cannot call Deadline Cloud's CreateJob)."""
    definition = json.loads(json.dumps(submit_and_wait))
    submit = definition["States"].get(SUBMIT_STATE)
    if not submit or "aws-sdk:deadline:createJob" not in submit.get("Resource", ""):
        raise PipelineError(f"SubmitAndWait has no {SUBMIT_STATE} state calling deadline:createJob")
    definition["States"][SUBMIT_STATE] = {
        "Type": "Pass", "Comment": "demo: the job is already on the local farm (moto cannot call CreateJob)",
        "Parameters": {"jobId.$": "$.request.jobId"}, "ResultPath": "$.submitted", "Next": submit["Next"],
    }
    return definition


class Pipelines:
    """Runs the four pipelines against a deployed stack (moto server, the function runtime, the farm)."""

    def __init__(self, *, moto: Any, runtime: Any, farm: Any, bus: Any, outputs: Dict[str, str],
                 say: Callable[[str], None]) -> None:
        self.moto, self.runtime, self.farm, self.bus, self.say = moto, runtime, farm, bus, say
        self.sfn = moto.client("stepfunctions")
        self.wait_for_job_arn = outputs["WaitForJobStateMachineArn"]
        if "SubmitAndWaitStateMachineArn" not in outputs:
            raise PipelineError("the stack has no SubmitAndWait (synthesise with -c sessionWatch:submitAndWait=true)")
        deployed = self.sfn.describe_state_machine(stateMachineArn=outputs["SubmitAndWaitStateMachineArn"])
        self.pipeline_arn = self.sfn.create_state_machine(
            name=f"{deployed['name']}-demo", definition=json.dumps(demo_pipeline_definition(
                json.loads(deployed["definition"]))), roleArn=deployed["roleArn"])["stateMachineArn"]
        self.pipeline_name = f"{deployed['name']}-demo"
        self.sweep_rule = ""
        self.sweep_input = self._sweep_input()

    def _sweep_input(self) -> Dict[str, Any]:
        """The input the deployed rate rule (a scheduled rule: no event pattern) gives the function."""
        events = self.moto.client("events")
        for summary in events.list_rules().get("Rules", []):
            if not summary.get("ScheduleExpression"):
                continue
            for target in events.list_targets_by_rule(Rule=summary["Name"]).get("Targets", []):
                text = target.get("Input")
                if target["Arn"] == self.runtime.function_arn and text and names.SWEEP_WAITERS in json.loads(text):
                    self.sweep_rule = f"{summary['Name']} ({summary['ScheduleExpression']})"
                    return json.loads(text)
        raise PipelineError("no deployed scheduled rule invokes the function with the sweep's input")

    def run(self) -> List[PipelineRun]:
        runs = []
        for label, story, status, error in PIPELINES:
            job = self.farm.create_job(f"pipeline {label}", frames=[1, 2])
            run = PipelineRun(label, story, job.job_id, status, error, state_machine=self.pipeline_name)
            runs.append(run)
            try:
                self._one(run, job)
            except Exception as err:  # reported in the run, checked by the demo's checks
                run.problem = f"{type(err).__name__}: {err}"
            self.say(f"pipeline {label}: {run.status}" + (f" {run.error}" if run.error else "")
                     + f" (WaitForJob {run.wait_for_job.get('status')}, resumed by {run.resumed_by})"
                     + (f"; PROBLEM: {run.problem}" if run.problem else ""))
            if run.states:
                self.say(f"  states: {' > '.join(run.states)}")
            summary = (run.output or {}).get("job", {}).get("summary") if isinstance(run.output, dict) else None
            if summary:
                self.say(f"  output: job summary of {summary.get('name')!r}: {summary.get('status')}, tasks "
                         f"{ {k: v for k, v in (summary.get('taskRunStatusCounts') or {}).items() if v} }, "
                         f"{summary.get('durationSeconds')} s, "
                         f"{summary.get('failedActionsTotal')} failed actions")
            if run.cause:
                self.say(f"  cause: {run.cause[:300]}")
        return runs

    def _one(self, run: PipelineRun, job: Any) -> None:
        ids = {"farmId": job.farm_id, "queueId": job.queue_id, "jobId": job.job_id}
        self.farm.drain_events()
        if run.label == "ended-before":
            self._render(job, ["SUCCEEDED", "SUCCEEDED"], deliver=True)
        run.execution_arn = self.sfn.start_execution(
            stateMachineArn=self.pipeline_arn, name=f"demo-{run.label}-{uuid.uuid4().hex[:8]}",
            input=json.dumps({**ids, "pipelineRun": run.label}))["executionArn"]
        child = self._child(job.job_id, run.execution_arn)
        payload = self._registration(child)
        run.registered = self.runtime.invoke(payload, source=f"Step Functions WaitForJob ({run.label})").result
        if run.label == "ended-before":
            run.resumed_by = "registration"
        elif run.label == "event":
            self._render(job, ["SUCCEEDED", "SUCCEEDED"], deliver=True)
            run.resumed_by = "event"
        elif run.label == "failing":
            self._render(job, ["SUCCEEDED", "FAILED"], deliver=True)
            run.resumed_by = "event"
        elif run.label == "sweep":
            self._render(job, ["SUCCEEDED", "SUCCEEDED"], deliver=False)
            swept = self.runtime.invoke(self.sweep_input, source=f"EventBridge scheduled rule {self.sweep_rule}")
            run.resumed_by = "sweep" if swept.ok else f"sweep failed: {swept.error_type}"
        description = self._ended(run.execution_arn)
        child_description = self.sfn.describe_execution(executionArn=child)
        run.wait_for_job = {k: child_description.get(k) for k in ("executionArn", "status", "error", "cause")}
        run.wait_for_job["output"] = json.loads(child_description["output"]) if child_description.get("output") else None
        run.status = description["status"]
        run.output = json.loads(description["output"]) if description.get("output") else None
        run.error, run.cause = description.get("error"), description.get("cause")
        events = self.sfn.get_execution_history(executionArn=run.execution_arn, maxResults=1000)["events"]
        run.states = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def _render(self, job: Any, outcomes: List[str], *, deliver: bool) -> None:
        self.farm.drain_events()
        for task_id, outcome in zip(job.task_ids, outcomes):
            self.farm.run_task(task_id, outcome)
        events = self.farm.drain_events()
        if deliver:
            self.bus.put_many([(e, None) for e in events], note="pipeline")
            self.bus.settle()

    def _child(self, job_id: str, parent: str, timeout: float = 20.0) -> str:
        """The WaitForJob execution the pipeline started for ``job_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=parent)
            if described["status"] != "RUNNING":
                events = self.sfn.get_execution_history(executionArn=parent, maxResults=1000)["events"]
                raise PipelineError(f"the pipeline ended {described['status']} {described.get('error')} "
                                    f"{described.get('cause')} before WaitForJob started; "
                                    f"history: {[e['type'] for e in events]}")
            for execution in self.sfn.list_executions(stateMachineArn=self.wait_for_job_arn)["executions"]:
                described = self.sfn.describe_execution(executionArn=execution["executionArn"])
                if json.loads(described.get("input") or "{}").get("jobId") == job_id:
                    return execution["executionArn"]
            time.sleep(0.1)
        raise PipelineError(f"the pipeline started no WaitForJob execution for {job_id}")

    def _registration(self, execution: str, timeout: float = 20.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
            for event in events:
                if event["type"] == "TaskScheduled":
                    return json.loads(event["taskScheduledEventDetails"]["parameters"])["Payload"]
            time.sleep(0.05)
        raise PipelineError("WaitForJob never scheduled RegisterWaiter")

    def _ended(self, execution: str, timeout: float = 30.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            description = self.sfn.describe_execution(executionArn=execution)
            if description["status"] != "RUNNING":
                return description
            time.sleep(0.1)
        raise PipelineError(f"still RUNNING after {timeout:.0f} s")
