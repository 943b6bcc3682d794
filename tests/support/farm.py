"""A test-friendly face over the Deadline Cloud stand-in (``local.deadline_farm``): make session actions
in a given state, deliver the events Deadline would send, inject faults, count calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional

from local.deadline_farm import DeadlineStandIn, RenderFarm, job_environment_id, unknown_definition


@dataclass(frozen=True)
class Ids:
    farm_id: str
    queue_id: str
    job_id: str
    step_id: Optional[str]
    task_id: Optional[str]
    session_id: Optional[str]
    session_action_id: Optional[str]
    environment_id: Optional[str] = None


class TestFarm:
    __test__ = False  # not a test class

    def __init__(self, farm: RenderFarm, standin: DeadlineStandIn) -> None:
        self.farm = farm
        self.standin = standin
        self._jobs = 0

    # --- making session actions -----------------------------------------------------------------

    def _job(self, parameters: Optional[Dict[str, Any]] = None):
        self._jobs += 1
        frame = dict(parameters or {"Frame": 1})
        return self.farm.create_job(f"shot{self._jobs:03d}", frames=[frame])

    def task_action(
        self,
        status: str = "SUCCEEDED",
        *,
        exit_code: Any = None,
        message: Optional[str] = None,
        frame: int = 1,
        scene: Optional[str] = None,
    ) -> Ids:
        """A job with one task whose (only) taskRun session action is in ``status``."""
        parameters: Dict[str, Any] = {"Frame": frame}
        if scene is not None:
            parameters["Scene"] = {"path": scene}
        job = self._job(parameters)
        task_id = job.task_ids[0]
        session = self.farm.start_session(job.job_id)
        action = self.farm.add_task_run(session.session_id, task_id, status="ASSIGNED")
        if status != "ASSIGNED":
            self.farm.set_session_action_status(action.session_action_id, "RUNNING", progress_percent=42.5)
        if status not in ("ASSIGNED", "RUNNING"):
            fields: Dict[str, Any] = {}
            if exit_code is not None:
                fields["process_exit_code"] = exit_code
            if message is not None:  # with the status: the session's log gets the error line, as a worker logs it
                fields["progress_message"] = message
            self.farm.set_session_action_status(action.session_action_id, status, **fields)
        elif message is not None:
            self.farm.set_session_action_status(action.session_action_id, status, progress_message=message)
        return self._ids(action.session_action_id)

    def env_action(self, kind: str = "envEnter", status: str = "SUCCEEDED") -> Ids:
        job = self._job()
        session = self.farm.start_session(job.job_id)
        environment_id = job_environment_id(job.job_id, "Setup")
        add = self.farm.add_env_enter if kind == "envEnter" else self.farm.add_env_exit
        action = add(session.session_id, environment_id, status=status)
        return self._ids(action.session_action_id, environment_id=environment_id)

    def unknown_member_action(self, member: str, status: str = "FAILED") -> Ids:
        job = self._job()
        session = self.farm.start_session(job.job_id)
        action = self.farm.add_session_action(session.session_id, unknown_definition(member), status=status)
        return self._ids(action.session_action_id)

    def task_without_action(self) -> Ids:
        job = self._job()
        task = self.farm.task(job.task_ids[0])
        return Ids(job.farm_id, job.queue_id, job.job_id, task.step_id, task.task_id, None, None)

    def retry_task(self, ids: Ids) -> Ids:
        """Deadline schedules a retry of the task: a new RUNNING action becomes its latest."""
        session = self.farm.start_session(ids.job_id)
        action = self.farm.add_task_run(session.session_id, ids.task_id, status="RUNNING")
        return self._ids(action.session_action_id)

    def set_status(self, ids: Ids, status: str) -> None:
        """Make the stand-in answer ``status`` for the action from now on, whatever it was: a stale
        read or a status the service adds later."""
        with self.farm.lock:
            self.farm.session_action(ids.session_action_id).status = status

    def hide_latest_session_action(self, ids: Ids) -> None:
        with self.farm.lock:
            self.farm.task(ids.task_id).latest_session_action_id = None

    # --- inputs -------------------------------------------------------------------------------------

    @staticmethod
    def direct(ids: Ids) -> Dict[str, str]:
        return {"farmId": ids.farm_id, "queueId": ids.queue_id, "jobId": ids.job_id,
                "sessionActionId": ids.session_action_id}

    @staticmethod
    def task_event(ids: Ids, run_status: str, previous: str = "RUNNING") -> Dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Task Run Status Change",
            "source": "aws.deadline",
            "account": "111122223333",
            "time": "2026-11-20T18:43:48Z",
            "region": "us-west-2",
            "resources": [],
            "detail": {"farmId": ids.farm_id, "queueId": ids.queue_id, "jobId": ids.job_id,
                       "stepId": ids.step_id, "taskId": ids.task_id,
                       "previousRunStatus": previous, "runStatus": run_status},
        }

    # --- faults and calls -----------------------------------------------------------------------------

    def fail_next(self, operation: str, error: str, times: int = 1) -> None:
        self.standin.faults.fail_next(operation, times, error)

    def calls(self) -> Dict[str, int]:
        return {op: n for op, n in self.standin.calls.items() if n}

    def reset_calls(self) -> None:
        self.standin.reset_calls()

    def _ids(self, session_action_id: str, environment_id: Optional[str] = None) -> Ids:
        action = self.farm.session_action(session_action_id)
        body = next(iter(action.definition.values()))
        return Ids(
            farm_id=action.farm_id, queue_id=action.queue_id, job_id=action.job_id,
            step_id=body.get("stepId") if isinstance(body, dict) else None,
            task_id=action.task_id, session_id=action.session_id,
            session_action_id=session_action_id, environment_id=environment_id,
        )
