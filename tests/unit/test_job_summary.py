"""The job's failure summary (domain/job_summary.py) and the job-level message that carries it."""

from __future__ import annotations

import json
from typing import Any, Dict

from session_watch.domain.digest import render_job_run
from session_watch.domain.job_summary import story, summarise
from session_watch.domain.record import RECORD_FIELDS
from session_watch.domain.requests import JobRunChange

FARM, QUEUE, JOB = "farm-" + "0" * 32, "queue-" + "1" * 32, "job-" + "2" * 32
RENDER = "step-" + "4" * 32


def action(n: int, status: str, *, task: Any = None, minute: int = 0, kind: str = "taskRun", worker: str = "w-a",
           exit_code: Any = None, cause: Any = None, **extra: Any) -> Dict[str, Any]:
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId=FARM, queueId=QUEUE, jobId=JOB, sessionActionId=f"sessionaction-{'3' * 32}-{n}",
             status=status, actionType=kind, stepId=RENDER if kind == "taskRun" else None,
             taskId=f"task-{'5' * 32}-{task}" if task is not None else None, workerId=worker,
             processExitCode=exit_code, endedAt=f"2026-11-20T10:{minute:02d}:00Z", rootCause=cause,
             environmentId="JOB:job-x:Blender-4.2" if kind != "taskRun" else None)
    r.update(extra)
    return r


def twelve_frames():
    """The demo's 12-frame render: frame 7 fails twice, 8 is canceled, 9 is reclaimed then succeeds,
    worker D's environment enter fails and leaves 10 and 11 NEVER_ATTEMPTED; the rest succeed."""
    enter = action(30, "FAILED", kind="envEnter", worker="w-d", exit_code=1, minute=40,
                   progressMessage="conda: PackagesNotFoundError")
    cause = {k: enter.get(k) for k in ("sessionActionId", "sessionId", "actionType", "status", "environmentId",
                                       "stepId", "taskId", "processExitCode", "progressMessage", "endedAt")}
    records = [action(n, "SUCCEEDED", task=n, minute=n, exit_code=0) for n in (1, 2, 3, 4, 5, 6, 12)]
    records += [
        action(7, "FAILED", task=7, minute=20, worker="w-b", exit_code=139),
        action(17, "FAILED", task=7, minute=25, exit_code=139),  # the retry, on worker A
        action(8, "CANCELED", task=8, minute=27, worker="w-b"),
        action(9, "RECLAIMED", task=9, minute=30, worker="w-c"),
        action(19, "SUCCEEDED", task=9, minute=36, exit_code=0),
        enter,
        action(10, "NEVER_ATTEMPTED", task=10, minute=41, worker="w-d", cause=cause),
        action(11, "NEVER_ATTEMPTED", task=11, minute=41, worker="w-d", cause=cause),
    ]
    return records


def test_failed_actions_add_up_to_tasks_and_the_other_actions():
    summary = summarise(twelve_frames())

    assert summary["failedActions"] == 7
    assert (summary["tasksNotSucceeded"], summary["tasksFailed"], summary["tasksCanceled"]) == (4, 3, 1)
    assert summary["otherFailedActions"] == {"retries": 1, "reclaims": 1, "environmentEnters": 1}
    assert summary["failedActions"] == summary["tasksNotSucceeded"] + sum(summary["otherFailedActions"].values())
    assert summary["story"] == ("7 failed actions for 4 tasks that did not succeed (3 failed, 1 canceled): "
                                "1 retry, 1 reclaim, 1 environment enter")
    assert summary["byStatus"] == {"FAILED": 3, "NEVER_ATTEMPTED": 2, "CANCELED": 1, "RECLAIMED": 1}
    assert summary["byExitCode"] == {"139": 2, "none": 4, "1": 1}
    assert summary["byWorker"] == {"w-d": 3, "w-b": 2, "w-a": 1, "w-c": 1}
    assert summary["byStep"] == {RENDER: 6, "environment Blender-4.2": 1}
    [cause] = summary["rootCauses"]
    assert cause["explains"] == 2 and cause["actionType"] == "envEnter"


def test_step_names_are_shown_where_records_have_them():
    records = [action(1, "FAILED", task=1, stepName="Render"), action(2, "FAILED", task=2)]
    assert summarise(records)["byStep"] == {"Render": 1, RENDER: 1}


def test_the_order_of_a_tasks_actions_decides_what_is_a_retry():
    # The retry's record may be stored first: the order is when the actions ended.
    records = [action(2, "FAILED", task=1, minute=9), action(1, "FAILED", task=1, minute=5)]
    summary = summarise(records)
    assert (summary["tasksFailed"], summary["otherFailedActions"]) == (1, {"retries": 1})
    # A task whose retry succeeded: its failure is a retry, and no task failed.
    recovered = summarise([action(1, "FAILED", task=1, minute=5), action(2, "SUCCEEDED", task=1, minute=9)])
    assert recovered["story"] == "1 failed action for 0 tasks that did not succeed: 1 retry"


def test_a_job_without_failures():
    summary = summarise([action(1, "SUCCEEDED", task=1)])
    assert summary["failedActions"] == 0 and summary["story"] == "No failed actions."


def test_the_story_reads_right_for_one():
    assert story(1, 1, 0, {}) == "1 failed action for 1 task that did not succeed"
    assert story(3, 1, 0, {"retries": 2}) == "3 failed actions for 1 task that did not succeed: 2 retries"


def test_the_job_level_message_carries_the_summary_and_its_numbers_add_up():
    suspect = {"workerId": "w-d", "fleetId": "fleet-1", "failures": 5, "taskRuns": 5,
               "windowStart": "2026-11-20T10:30:00Z", "windowEnd": "2026-11-20T10:45:00Z", "steps": ["Render"]}
    summary = summarise(twelve_frames(), suspects=[suspect])
    change = JobRunChange(FARM, QUEUE, JOB, "FAILED", "RUNNING", {"SUCCEEDED": 8, "FAILED": 3, "CANCELED": 1})

    note = render_job_run(change, job=None, monitor_url=None, summary=summary)

    doc = json.loads(note.body)
    assert doc["failureSummary"]["failedActions"] == 7 and doc["failureSummary"]["tasksNotSucceeded"] == 4
    # The tasks that did not succeed are the job's FAILED and CANCELED task counts.
    counts = doc["taskRunStatusCounts"]
    assert doc["failureSummary"]["tasksNotSucceeded"] == counts["FAILED"] + counts["CANCELED"]
    assert "7 failed actions for 4 tasks that did not succeed (3 failed, 1 canceled)" in note.email
    assert "By worker:" in note.email and "Suspect workers:" in note.email and "w-d (fleet fleet-1)" in note.email
    assert "Root causes" in note.email
    description = note.chat["content"]["description"]
    assert "7 failed actions for 4 tasks" in description and "Suspect worker" in description
