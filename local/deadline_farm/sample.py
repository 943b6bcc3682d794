"""A small, reproducible farm with one example of each case the session watcher meets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Union

from .farm import (
    ManualClock,
    RenderFarm,
    job_environment_id,
    task_run_definition,
    unknown_definition,
)


@dataclass
class SampleFarm:
    """The farm plus the IDs worth poking at (all keyword-argument dicts for boto3 calls)."""

    farm: RenderFarm
    refs: Dict[str, Dict[str, str]] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


def build_sample_farm(seed: Union[int, str] = 0) -> SampleFarm:
    """A farm (fixed clock, seeded IDs) with:

    * ``shot42`` (10 frames): a step-level attachments sync, then frames 1-5 succeeded in one session, frame 6 FAILED with exit code 139,
      frame 7 RUNNING at 61.5 %, the rest READY;
    * ``env-broken`` (2 frames): its job environment failed to enter, so both task runs of the
      session ended NEVER_ATTEMPTED (their tasks FAILED); the session also holds a job-level
      attachments sync (SUCCEEDED, before the failure), a chunked task run (no taskId) and an action
      of a definition type the SDK does not know.

    The events of all of this are in ``farm``'s outbox.
    """
    farm = RenderFarm(seed, clock=ManualClock())
    sample = SampleFarm(farm)

    shot = farm.create_job("shot42", steps={"Render": range(1, 11)}, priority=70)
    render = shot.steps[0]
    session = farm.start_session(shot.job_id)
    farm.add_sync_input_job_attachments(session.session_id, render.step_id, status="SUCCEEDED")
    for task in render.tasks[:5]:
        farm.run_task(task.task_id, "SUCCEEDED", session_id=session.session_id)
    failing = farm.run_task(
        render.tasks[5].task_id,
        "FAILED",
        process_exit_code=139,
        progress_percent=61.5,
        progress_message="Segmentation fault while rendering frame 6",
    )
    running = farm.add_task_run(failing.session_id, render.tasks[6].task_id)
    farm.set_session_action_status(running.session_action_id, "RUNNING")
    farm.report_progress(running.session_action_id, 61.5, "Rendering tile 8/13")
    sample.refs["job:shot42"] = farm.job_ref(shot.job_id)
    sample.refs["task:succeeded"] = farm.task_ref(render.tasks[0].task_id)
    sample.refs["task:failed"] = farm.task_ref(render.tasks[5].task_id)
    sample.refs["task:running"] = farm.task_ref(render.tasks[6].task_id)
    sample.refs["sessionAction:failed"] = farm.session_action_ref(failing.session_action_id)
    sample.refs["session:shot42"] = farm.session_ref(session.session_id)

    broken = farm.create_job("env-broken", steps={"Render": [1, 2]}, priority=50)
    step = broken.steps[0]
    session2 = farm.start_session(broken.job_id)
    farm.add_sync_input_job_attachments(session2.session_id, status="SUCCEEDED")
    env = farm.add_env_enter(session2.session_id, job_environment_id(broken.job_id, "Conda"))
    farm.add_session_action(
        session2.session_id,
        task_run_definition(step.step_id, {"Frame": {"chunkInt": "1-2"}}),
    )
    farm.add_session_action(session2.session_id, unknown_definition("stepWarmUp", {"stepId": step.step_id}))
    never = [farm.add_task_run(session2.session_id, t.task_id) for t in step.tasks]
    farm.set_session_action_status(env.session_action_id, "RUNNING")
    farm.fail_session_action(
        env.session_action_id, process_exit_code=1, progress_message="conda: package 'blender=9.9' not found"
    )
    farm.end_session(session2.session_id)
    sample.refs["job:env-broken"] = farm.job_ref(broken.job_id)
    sample.refs["sessionAction:envEnter-failed"] = farm.session_action_ref(env.session_action_id)
    sample.refs["sessionAction:never-attempted"] = farm.session_action_ref(never[0].session_action_id)
    sample.refs["task:never-attempted"] = farm.task_ref(step.tasks[0].task_id)
    sample.refs["session:env-broken"] = farm.session_ref(session2.session_id)
    sample.notes.append(
        "env-broken's session also holds a chunked taskRun (no taskId) and an unknown definition member "
        "'stepWarmUp' (boto3 shows it as SDK_UNKNOWN_MEMBER)."
    )
    return sample
