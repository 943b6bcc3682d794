"""Reading the session action a request is about, normalised: one Get* call at a time, or Batch* calls
for a whole batch of messages (the only difference between the single and the batch entries' reads).

A ``TaskRunChange`` is about its task's latest session action (``GetTask.latestSessionActionId``), unless
the task has moved on since the event (see ``action_the_event_reports``). A ``SessionActionRef`` names
its action. ``None`` means there is nothing to record (a task with no session action, or a requeue with no
reclaimed or interrupted run).
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Union

from ..domain.normalise import normalise_session_action
from ..domain.record import Record
from ..domain.requests import SessionActionRef, TaskRunChange
from ..errors import DeadlineError, MalformedSessionActionError, SessionWatchError
from ..ports import Answer, DeadlinePort

#: For a task run status that ends a run: the session action statuses of the run it reports.
ACTION_STATUSES_FOR_RUN_STATUS = {
    "SUCCEEDED": frozenset({"SUCCEEDED"}),
    "FAILED": frozenset({"FAILED", "NEVER_ATTEMPTED", "INTERRUPTED"}),
    "CANCELED": frozenset({"CANCELED", "NEVER_ATTEMPTED"}),
    # Back to READY from a run (the rule forwards RUNNING -> READY): the worker was reclaimed or the run
    # interrupted, and Deadline requeued the task. No event says RECLAIMED or INTERRUPTED itself.
    "READY": frozenset({"RECLAIMED", "INTERRUPTED", "RECLAIMING"}),
}
#: Run statuses whose event reports nothing to record when no action ended that way.
ONLY_IF_MATCHED = frozenset({"READY"})

ActionRequest = Union[SessionActionRef, TaskRunChange]


class SingleReads:
    """GetTask / GetSessionAction (ListSessionActions when needed), one request at a time."""

    def __init__(self, deadline: DeadlinePort) -> None:
        self.deadline = deadline

    def record_for(self, request: ActionRequest) -> Optional[Record]:
        if isinstance(request, TaskRunChange):
            latest_id = self.deadline.latest_session_action_id(request)
            if latest_id is None:
                return None
            response = self.deadline.get_session_action(_ref(request, latest_id))
            reported = action_the_event_reports(request, latest_id, response, self.deadline)
            return None if reported is None else _normalise(reported, request)
        return _normalise(self.deadline.get_session_action(request), request)


class BatchReads(SingleReads):
    """One BatchGetTask for the batch's task events, one BatchGetSessionAction for every action to read
    (100 identifiers a call), answers matched by whole identifiers. A per-item error is raised when that
    item is processed (it fails alone); what the batch reads did not settle is read with single calls."""

    def __init__(self, deadline: DeadlinePort, requests: Iterable[ActionRequest]) -> None:
        super().__init__(deadline)
        self._records: Dict[ActionRequest, Optional[Record]] = {}
        self._errors: Dict[ActionRequest, SessionWatchError] = {}
        self._prefetch(list(dict.fromkeys(requests)))

    def record_for(self, request: ActionRequest) -> Optional[Record]:
        if request in self._errors:
            raise self._errors[request]
        if request in self._records:
            return self._records[request]
        return super().record_for(request)

    def prefetched(self) -> Dict[ActionRequest, Optional[Record]]:
        return dict(self._records)

    def _prefetch(self, requests: list) -> None:
        tasks = [r for r in requests if isinstance(r, TaskRunChange)]
        refs: Dict[ActionRequest, SessionActionRef] = {r: r for r in requests if isinstance(r, SessionActionRef)}
        if tasks:
            try:
                found, errors = self.deadline.batch_get_tasks(tasks)
            except (DeadlineError, MalformedSessionActionError) as err:
                self._errors.update((t, err) for t in tasks)
                found, errors = {}, {}
            for task in tasks:
                ident = (task.farm_id, task.queue_id, task.job_id, task.step_id, task.task_id)
                if ident in errors:
                    self._errors[task] = errors[ident]
                latest = (found.get(ident) or {}).get("latestSessionActionId")
                if latest and task not in self._errors:
                    refs[task] = _ref(task, str(latest))
                # else: no latest action id: the single read lists the task's actions
        if not refs:
            return
        try:
            actions, action_errors = self.deadline.batch_get_session_actions(refs.values())
        except (DeadlineError, MalformedSessionActionError) as err:
            self._errors.update((r, err) for r in refs)
            return
        for request, ref in refs.items():
            action_ident = (ref.farm_id, ref.queue_id, ref.job_id, ref.session_action_id)
            if action_ident in action_errors:
                self._errors[request] = action_errors[action_ident]
                continue
            response = actions.get(action_ident)
            if response is None:
                continue
            try:
                if isinstance(request, TaskRunChange):
                    # The task may have moved on since the event: rare, and read with single calls.
                    response = action_the_event_reports(request, ref.session_action_id, response, self.deadline)
                self._records[request] = None if response is None else _normalise(response, request)
            except SessionWatchError as err:
                self._errors[request] = err


def action_the_event_reports(
    task: TaskRunChange, latest_id: str, response: Answer, deadline: DeadlinePort
) -> Optional[Answer]:
    """The task's latest action, unless it ended otherwise than the event says.

    When the event says how the task ended but the latest action ended otherwise, or has not ended, the
    task has moved on since the event (Deadline retried it, and the retry may even have ended already):
    the newest action of the task that ended as the event says is the one to record, so the failure the
    event reports is not lost. ``None`` for a requeue (READY) event when no action of the task was
    reclaimed or interrupted (a task requeued by hand): there is nothing new to record.
    """
    expected = ACTION_STATUSES_FOR_RUN_STATUS.get(task.run_status or "")
    if expected and response.get("status") not in expected:
        for summary in deadline.task_session_actions(task):
            if summary.get("status") in expected and summary["sessionActionId"] != latest_id:
                return deadline.get_session_action(_ref(task, summary["sessionActionId"]))
        if task.run_status in ONLY_IF_MATCHED:
            return None
    return response


def _ref(task: TaskRunChange, session_action_id: str) -> SessionActionRef:
    return SessionActionRef(task.farm_id, task.queue_id, task.job_id, session_action_id)


def _normalise(response: Answer, request: ActionRequest) -> Record:
    return normalise_session_action(response, farm_id=request.farm_id, queue_id=request.queue_id,
                                    job_id=request.job_id)
