"""What a waiter resumes with: whether the thing waited for has ended, and the output or error. Pure.

A waiter waits for a whole job (``GetJob``), one step (``GetStep``) or one task (``GetTask``). It has ended
when the run status is SUCCEEDED, FAILED or CANCELED, or (for the job) when its lifecycle status is
CREATE_FAILED or UPLOAD_FAILED. SUCCEEDED resumes with ``SendTaskSuccess`` and the summary; anything
else with ``SendTaskFailure``, an error name from ``names.WAIT_ERROR_NAMES`` and a cause naming the counts
and the first failure. Sizes stay within Step Functions' limits (``names.SFN_*_MAX``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .. import names

#: At most this many failed actions ride in the summary (each with its root cause); the rest are counted.
MAX_FAILED_ACTIONS = 20
#: The summary's JSON stays under this (a margin below SendTaskSuccess's 262144 for the caller's own keys).
OUTPUT_BUDGET = names.SFN_OUTPUT_MAX - 6 * 1024
#: Keys of a failed action's record the summary keeps (task parameters are left out: they can be sensitive).
FAILED_ACTION_KEYS = (
    "sessionActionId", "sessionId", "status", "actionType", "stepId", "taskId", "environmentId", "startedAt",
    "endedAt", "durationSeconds", "processExitCode", "progressMessage", "workerId", "fleetId", "logGroup",
    "logStream", "logsUrl", "rootCause",
)


@dataclass(frozen=True)
class Resumption:
    """How to resume a waiter: ``error`` None -> SendTaskSuccess(output); else SendTaskFailure(error, cause)."""

    output: Dict[str, Any]
    error: Optional[str] = None
    cause: str = ""

    @property
    def succeeded(self) -> bool:
        return self.error is None


def ended_status(scope: str, answer: Mapping[str, Any]) -> Optional[str]:
    """The status that ended the job/step/task of ``answer`` (GetJob/GetStep/GetTask), or None if it runs on."""
    if scope == "job":
        lifecycle = answer.get("lifecycleStatus")
        if lifecycle in names.JOB_LIFECYCLE_FAILED_STATUSES:
            return str(lifecycle)
    status = answer.get("runStatus" if scope == "task" else "taskRunStatus")
    return str(status) if status in names.WAIT_END_STATUSES else None


def resumption(scope: str, ids: Mapping[str, Optional[str]], answer: Mapping[str, Any], job: Mapping[str, Any],
               failed_actions: Sequence[Mapping[str, Any]]) -> Resumption:
    """The output (and error) for a waiter whose ``scope`` ended, as ``answer`` says; ``job`` is GetJob's
    answer (the same as ``answer`` for a whole-job wait), ``failed_actions`` the job's failed records."""
    status = ended_status(scope, answer)
    if status is None:
        raise ValueError(f"the {scope} has not ended")
    output = summary(scope, ids, answer, job, failed_actions, status)
    if status == "SUCCEEDED":
        return Resumption(output)
    error = names.WAIT_LIFECYCLE_ERRORS.get(status) or names.WAIT_RUN_ERRORS[(scope, status)]
    return Resumption(output, error=error[: names.SFN_ERROR_MAX], cause=cause(scope, output, job))


def summary(scope: str, ids: Mapping[str, Optional[str]], answer: Mapping[str, Any], job: Mapping[str, Any],
            failed_actions: Sequence[Mapping[str, Any]], status: str) -> Dict[str, Any]:
    """The job summary: ids, name, statuses, task counts, duration, failed actions (capped to fit)."""
    out: Dict[str, Any] = {k: v for k, v in ids.items() if v is not None}
    out.update(
        waitedFor=scope,
        status=status,
        name=job.get("name"),
        lifecycleStatus=job.get("lifecycleStatus"),
        lifecycleStatusMessage=job.get("lifecycleStatusMessage"),
        taskRunStatus=job.get("taskRunStatus"),
        taskRunStatusCounts=dict(job.get("taskRunStatusCounts") or {}),
        startedAt=_iso(job.get("startedAt")),
        endedAt=_iso(job.get("endedAt")),
        durationSeconds=_duration(job.get("startedAt"), job.get("endedAt")),
    )
    if scope != "job":
        out["stepName"] = answer.get("name") if scope == "step" else None
        out["stepTaskRunStatusCounts" if scope == "step" else "taskRunStatus"] = (
            dict(answer.get("taskRunStatusCounts") or {}) if scope == "step" else answer.get("runStatus"))
        out["startedAt"], out["endedAt"] = _iso(answer.get("startedAt")), _iso(answer.get("endedAt"))
        out["durationSeconds"] = _duration(answer.get("startedAt"), answer.get("endedAt"))
        if scope == "task":
            out["taskRunStatus"] = job.get("taskRunStatus")
            out["runStatus"] = answer.get("runStatus")
    relevant = [a for a in failed_actions if _in_scope(scope, ids, a)]
    kept = [{k: a.get(k) for k in FAILED_ACTION_KEYS} for a in relevant[:MAX_FAILED_ACTIONS]]
    out["failedActionsTotal"] = len(relevant)
    out["failedActions"] = kept
    while kept and len(_json(out)) > OUTPUT_BUDGET:  # drop from the end until it fits
        kept.pop()
    out["failedActionsTruncated"] = len(kept) < len(relevant)
    if len(_json(out)) > OUTPUT_BUDGET:  # a huge lifecycle message: shorten it too
        out["lifecycleStatusMessage"] = (out.get("lifecycleStatusMessage") or "")[:1024]
    return out


def cause(scope: str, output: Mapping[str, Any], job: Mapping[str, Any]) -> str:
    """One paragraph: what ended how, the task counts, and the first failure (within SendTaskFailure's cause)."""
    what = {"job": "Job", "step": f"Step {output.get('stepId')} of job", "task": f"Task {output.get('taskId')} of job"}[scope]
    text = f"{what} {job.get('name') or ''} ({output.get('jobId')}) ended {output['status']}".replace("  ", " ")
    if output["status"] in names.JOB_LIFECYCLE_FAILED_STATUSES and job.get("lifecycleStatusMessage"):
        text += f": {job.get('lifecycleStatusMessage')}"
    counts = {k: v for k, v in (output.get("taskRunStatusCounts") or {}).items() if v}
    if counts:
        total = sum(counts.values())
        text += "; tasks: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        text += f" of {total}"
    first = (output.get("failedActions") or [None])[0]
    if first:
        text += "; first failure: " + describe_failure(first)
    if output.get("failedActionsTotal", 0) > 1:
        text += f" ({output['failedActionsTotal']} failed actions in all)"
    return text[: names.SFN_CAUSE_MAX]


def describe_failure(action: Mapping[str, Any]) -> str:
    parts = [f"{action.get('actionType') or 'action'} {action.get('sessionActionId')} {action.get('status')}"]
    if action.get("taskId"):
        parts.append(f"task {action['taskId']}")
    if action.get("environmentId"):
        parts.append(f"environment {action['environmentId']}")
    if action.get("processExitCode") is not None:
        parts.append(f"exit code {action['processExitCode']}")
    if action.get("workerId"):
        parts.append(f"worker {action['workerId']}")
    root = action.get("rootCause")
    if isinstance(root, Mapping) and root.get("sessionActionId"):
        parts.append(f"root cause {root.get('actionType')} {root.get('sessionActionId')} {root.get('status')}"
                     + (f" exit code {root['processExitCode']}" if root.get("processExitCode") is not None else ""))
    if action.get("progressMessage"):
        parts.append(f"message {str(action['progressMessage'])[:300]!r}")
    return ", ".join(parts)


def failed_records(records: Sequence[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """The failed actions of a job's history, oldest first (as the history table orders them, by id)."""
    failed = [r for r in records if r.get("outcome") == "failure"]
    return sorted(failed, key=lambda r: (str(r.get("endedAt") or ""), str(r.get("sessionActionId"))))


def waiter_prefix(scope: str, step_id: Optional[str] = None, task_id: Optional[str] = None) -> str:
    """The start of the waiter table's sort key for a scope: ``job#``, ``step#<stepId>#``,
    ``step#<stepId>#task#<taskId>#``: a task's waiters sort under its step, so that one Query with the step's
    prefix finds the waiters of the step and of its tasks (a task's end may end either)."""
    if scope == "job":
        return "job#"
    if scope == "step":
        return f"step#{step_id}#"
    return f"step#{step_id}#task#{task_id}#"


def waiter_key(scope: str, step_id: Optional[str], task_id: Optional[str], task_token: str) -> str:
    """The prefix, then a hash of the task token (the same token registered twice is one item)."""
    return waiter_prefix(scope, step_id, task_id) + hashlib.sha256(task_token.encode()).hexdigest()[:32]


def _in_scope(scope: str, ids: Mapping[str, Optional[str]], action: Mapping[str, Any]) -> bool:
    if scope == "job":
        return True
    if scope == "step":
        return action.get("stepId") == ids.get("stepId")
    return action.get("taskId") == ids.get("taskId")


def _iso(value: Any) -> Optional[str]:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value is not None else None


def _duration(started: Any, ended: Any) -> Optional[float]:
    if isinstance(started, datetime) and isinstance(ended, datetime):
        return round((ended - started).total_seconds(), 3)
    if isinstance(started, str) and isinstance(ended, str):
        try:
            return round((datetime.fromisoformat(ended.replace("Z", "+00:00"))
                          - datetime.fromisoformat(started.replace("Z", "+00:00"))).total_seconds(), 3)
        except ValueError:
            return None
    return None


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
