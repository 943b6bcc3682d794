"""A whole job's failure summary from its history (every stored record of the job). Pure: no AWS, no I/O.

The job-level message tells tasks (Deadline Cloud's ``taskRunStatusCounts``) while the digests tell
failed session actions; this summary says how the two relate. Every failed action is exactly one of:

* the **last action of a task that did not succeed** (the task's failure as the job counts it: FAILED,
  NEVER_ATTEMPTED, INTERRUPTED -> failed; CANCELED -> canceled);
* a **retry**: a FAILED run of a task that ran again afterwards;
* a **reclaim** (RECLAIMED), an **interruption** (INTERRUPTED), a **cancel** (CANCELED) or a **never
  attempted** run (NEVER_ATTEMPTED) of a task that ran again afterwards;
* an **environment enter** / **environment exit** / **job attachments sync** (not task runs).

so that ``failedActions`` = ``tasksNotSucceeded`` + the sum of ``otherFailedActions``, and the story line
reads e.g. "7 failed actions for 4 tasks that did not succeed (3 failed, 1 canceled): 1 retry, 1 reclaim,
1 environment enter".
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .enrichment import ROOT_CAUSE_FIELDS, id_number
from .record import FAILURE_STATUSES

#: Rows of each count table; the rest are added up as ``other``.
COUNT_LIMIT = 20
#: Root causes listed (the ones explaining most actions).
ROOT_CAUSE_LIMIT = 5
_MESSAGE_LIMIT = 200

#: Kinds of failed actions that are not a task's last: the key in ``otherFailedActions`` and its words.
_KINDS = (
    ("retries", "retry", "retries"),
    ("reclaims", "reclaim", "reclaims"),
    ("interruptions", "interruption", "interruptions"),
    ("cancels", "canceled run", "canceled runs"),
    ("neverAttempted", "never attempted run", "never attempted runs"),
    ("environmentEnters", "environment enter", "environment enters"),
    ("environmentExits", "environment exit", "environment exits"),
    ("attachmentSyncs", "job attachments sync", "job attachments syncs"),
    ("otherActions", "other action", "other actions"),
)
_BY_STATUS = {"FAILED": "retries", "RECLAIMED": "reclaims", "INTERRUPTED": "interruptions",
              "CANCELED": "cancels", "NEVER_ATTEMPTED": "neverAttempted"}
_BY_ACTION = {"envEnter": "environmentEnters", "envExit": "environmentExits",
              "syncInputJobAttachments": "attachmentSyncs"}


def summarise(records: Iterable[Mapping[str, Any]], *, suspects: Sequence[Mapping[str, Any]] = (),
              truncated: bool = False) -> Dict[str, Any]:
    """The job's failure summary (JSON-safe) from its stored records and the suspect workers listed
    under it. ``truncated``: the history read stopped at its limit (the counts are a lower bound)."""
    records = [r for r in records if isinstance(r, Mapping)]
    by_task: Dict[Any, List[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("actionType") == "taskRun" and record.get("taskId"):
            by_task.setdefault(record["taskId"], []).append(record)
    last_of_task = {task: max(actions, key=_order)["sessionActionId"] for task, actions in by_task.items()}

    failed = [r for r in records if r.get("status") in FAILURE_STATUSES]
    other: Counter = Counter()
    tasks: Counter = Counter()
    by_status: Counter = Counter()
    by_step: Counter = Counter()
    by_exit: Counter = Counter()
    by_worker: Counter = Counter()
    causes: Dict[str, List[Any]] = {}
    for record in failed:
        status = str(record.get("status"))
        by_status[status] += 1
        by_step[_step(record)] += 1
        code = record.get("processExitCode")
        by_exit["none" if code is None else str(code)] += 1
        by_worker[str(record.get("workerId") or "unknown")] += 1
        action = record.get("actionType")
        if action == "taskRun" and record.get("taskId"):
            if last_of_task.get(record["taskId"]) == record.get("sessionActionId"):
                tasks["canceled" if status == "CANCELED" else "failed"] += 1
            else:
                other[_BY_STATUS.get(status, "otherActions")] += 1
        else:
            other[_BY_ACTION.get(str(action), "otherActions")] += 1
        cause = record.get("rootCause")
        if isinstance(cause, Mapping):
            cause_id = cause.get("sessionActionId")
            if isinstance(cause_id, str) and cause_id and cause_id != record.get("sessionActionId"):
                entry = causes.setdefault(cause_id, [0, cause, record.get("logsUrl"), len(causes)])
                entry[0] += 1

    not_succeeded = sum(tasks.values())
    summary: Dict[str, Any] = {
        "actions": len(records),
        "failedActions": len(failed),
        "tasksNotSucceeded": not_succeeded,
        "tasksFailed": tasks["failed"],
        "tasksCanceled": tasks["canceled"],
        "otherFailedActions": {key: other[key] for key, _, _ in _KINDS if other[key]},
        "story": story(len(failed), tasks["failed"], tasks["canceled"], other),
        "byStatus": _top(by_status),
        "byStep": _top(by_step),
        "byExitCode": _top(by_exit),
        "byWorker": _top(by_worker),
        "rootCauses": _root_causes(causes),
        "suspectWorkers": [dict(s) for s in suspects],
    }
    if truncated:
        summary["historyTruncated"] = True
    return summary


def story(failed_actions: int, tasks_failed: int, tasks_canceled: int, other: Mapping[str, int]) -> str:
    """One line saying how the failed actions relate to the tasks."""
    if not failed_actions:
        return "No failed actions."
    tasks = tasks_failed + tasks_canceled
    split = [f"{n} {w}" for n, w in ((tasks_failed, "failed"), (tasks_canceled, "canceled")) if n]
    text = (f"{_n(failed_actions, 'failed action', 'failed actions')} for "
            f"{_n(tasks, 'task', 'tasks')} that did not succeed"
            + (f" ({', '.join(split)})" if len(split) > 1 else ""))
    parts = [_n(other[key], one, many) for key, one, many in _KINDS if other.get(key)]
    return text + (": " + ", ".join(parts) if parts else "")


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _order(record: Mapping[str, Any]) -> Tuple[Any, ...]:
    """A task's actions in the order they ran: by when they ended (else started), then by id number."""
    when = record.get("endedAt") or record.get("startedAt") or ""
    return (str(when), id_number(record.get("sessionActionId")), str(record.get("sessionActionId")))


def _step(record: Mapping[str, Any]) -> str:
    if record.get("stepName"):
        return str(record["stepName"])[:80]
    if record.get("stepId"):
        return str(record["stepId"])
    environment = record.get("environmentId")
    if isinstance(environment, str) and environment:
        return f"environment {environment.rsplit(':', 1)[-1]}"[:80]
    return "none"


def _top(counter: Counter) -> Dict[str, int]:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) <= COUNT_LIMIT:
        return dict(items)
    out = dict(items[:COUNT_LIMIT - 1])
    out["other"] = sum(n for _, n in items[COUNT_LIMIT - 1:])
    return out


def _root_causes(causes: Mapping[str, List[Any]]) -> List[Dict[str, Any]]:
    out = []
    for explains, cause, logs_url, _ in heapq.nsmallest(ROOT_CAUSE_LIMIT, causes.values(), key=lambda e: (-e[0], e[3])):
        entry = {key: cause.get(key) for key in ROOT_CAUSE_FIELDS}
        message = entry.get("progressMessage")
        if isinstance(message, str) and len(message) > _MESSAGE_LIMIT:
            entry["progressMessage"] = message[:_MESSAGE_LIMIT - 3] + "..."
        entry.update(explains=explains, logsUrl=logs_url)
        out.append(entry)
    return out


def summary_lines(summary: Optional[Mapping[str, Any]]) -> List[str]:
    """The summary as plain text blocks (the job-level email)."""
    if not isinstance(summary, Mapping):
        return []
    blocks = [f"Failures (the job's history): {summary.get('story')}"
              + (" (history read in part)" if summary.get("historyTruncated") else "") + "\n"]
    for title, key in (("Failed actions by status", "byStatus"), ("By step", "byStep"),
                       ("By exit code", "byExitCode"), ("By worker", "byWorker")):
        counts = summary.get(key)
        if isinstance(counts, Mapping) and counts:
            width = max(len(str(k)) for k in counts)
            blocks.append(f"{title}:\n" + "".join(f"  {str(k):<{width}}  {n:>7}\n" for k, n in counts.items()))
    causes = summary.get("rootCauses") or []
    if causes:
        lines = ["Root causes (each the first failed action of its session):"]
        for n, cause in enumerate(causes, 1):
            if isinstance(cause, Mapping):
                what = cause.get("environmentId") or cause.get("taskId") or cause.get("sessionActionId")
                code = cause.get("processExitCode")
                lines.append(f"  {n}. {cause.get('actionType')} {what}: {cause.get('status')}"
                             + (f", exit {code}" if code is not None else "")
                             + f"; explains {cause.get('explains')}")
                if cause.get("progressMessage"):
                    lines.append(f"     {cause.get('progressMessage')}")
                if cause.get("logsUrl"):
                    lines.append(f"     Logs: {cause.get('logsUrl')}")
        blocks.append("\n".join(lines) + "\n")
    suspects = summary.get("suspectWorkers") or []
    if suspects:
        from .suspect_worker import suspect_line

        blocks.append("Suspect workers:\n" + "".join(f"  - {suspect_line(s)}\n" for s in suspects
                                                     if isinstance(s, Mapping)))
    return blocks
