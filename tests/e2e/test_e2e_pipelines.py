"""Pipelines waiting on render jobs, end to end, in the demo run of the render scenario (``each`` mode, the
event queue; the run test_e2e_render.py asserts on too, so this costs no run of its own): the deployed
SubmitAndWait definition (its CreateJob step replaced, see local/demo/pipelines.py) runs the deployed
WaitForJob with ``startExecution.sync:2`` in moto's interpreter, and the real handler resumes it:

* ``event``: the job's events go through the deployed rules and the event queue to the function;
* ``sweep``: the job's events are dropped; the deployed scheduled rule's input (the sweep) resumes it;
* ``failing``: WaitForJob fails with JobFailed; the pipeline branches on that name;
* ``ended-before``: the job ended before the pipeline started; registering resumes it at once.
"""

from __future__ import annotations

import pytest

from lambda_src.session_watch import names
from local.demo.report import as_json
from tests.e2e.conftest import SCENARIOS

pytestmark = pytest.mark.slow

RUNS = [(SCENARIOS / "render-12-frames.json", "each")]


@pytest.fixture(scope="module")
def demo(run_scenario):
    return run_scenario(SCENARIOS / "render-12-frames.json", "each")


@pytest.fixture(scope="module")
def pipelines(demo):
    runs = {run.label: run for run in demo.pipelines}
    assert sorted(runs) == ["ended-before", "event", "failing", "sweep"]
    return runs


def test_a_job_whose_event_arrives_resumes_its_pipeline_with_the_job_summary(pipelines):
    run = pipelines["event"]
    assert (run.status, run.error, run.problem, run.resumed_by) == ("SUCCEEDED", None, None, "event")
    assert run.registered["waiter"]["status"] == "waiting"  # registered before the job ended
    summary = run.output["job"]["summary"]
    assert summary["jobId"] == run.job_id and summary["status"] == "SUCCEEDED" and summary["name"] == "pipeline event"
    assert summary["taskRunStatusCounts"]["SUCCEEDED"] == 2 and summary["failedActions"] == []
    assert run.states == ["WithDefaults", "SubmitJob", "WaitForJob", "Publish", "Done"]
    assert run.wait_for_job["status"] == "SUCCEEDED"


def test_a_job_whose_events_are_lost_is_resumed_by_the_sweep(pipelines):
    run = pipelines["sweep"]
    assert (run.status, run.resumed_by) == ("SUCCEEDED", "sweep")
    assert run.registered["waiter"]["status"] == "waiting"
    assert run.output["job"]["summary"]["status"] == "SUCCEEDED"


def test_a_failing_job_is_caught_by_its_error_name(pipelines):
    run = pipelines["failing"]
    assert (run.status, run.error) == ("FAILED", names.WAIT_ERROR_JOB_FAILED)
    assert run.wait_for_job["status"] == "FAILED" and run.wait_for_job["error"] == "JobFailed"
    assert run.states[-3:] == ["Outcome", "HandleFailedRender", "RenderFailed"]  # branched on JobFailed
    assert "ended FAILED; tasks: 1 FAILED, 1 SUCCEEDED of 2" in run.cause or \
        "ended FAILED; tasks: 1 SUCCEEDED, 1 FAILED of 2" in run.cause
    assert "first failure: taskRun sessionaction-" in run.cause and "exit code 1" in run.cause


def test_a_job_that_ended_before_the_waiter_registered_resumes_at_once(pipelines):
    run = pipelines["ended-before"]
    assert (run.status, run.resumed_by) == ("SUCCEEDED", "registration")
    assert run.registered["waiter"]["status"] == "succeeded"


def test_json_report_lists_each_pipeline_with_its_state_machine_status_and_output(demo):
    report = as_json(demo)["pipelines"]
    assert [p["label"] for p in report] == ["event", "sweep", "failing", "ended-before"]
    for entry in report:
        assert entry["stateMachine"].endswith("-demo") and entry["status"] in ("SUCCEEDED", "FAILED")
        assert "output" in entry and entry["waitForJob"]["status"] == entry["status"]
    assert all(c.ok for c in demo.checks if c.name.startswith("pipeline"))
