"""Suspect workers: the rule, the per-batch tally and the notification. Pure: no AWS, no I/O, no logging.

A worker is suspect in a window when its failed task runs reach ``failures`` (default 5) and make up at
least ``ratio`` (default 0.8) of its task runs that ended in that window (``window_seconds``, fixed buckets
of the actions' ``endedAt``), across all jobs.

What counts (GetSessionAction ``status``; the Deadline Cloud API reference's statuses of a session action):

* a **task run** (``actionType`` taskRun) that ran on a worker (``workerId`` known) and ended;
* ``SUCCEEDED`` is a run; ``FAILED`` (the process failed on that worker) and ``INTERRUPTED`` (the run was
  stopped while it ran on that worker) are runs that failed;
* ``CANCELED`` (a person or the job canceled it), ``NEVER_ATTEMPTED`` (it never ran: its cause is an
  earlier action of the session, recorded as its root cause; counting it would count one failure many
  times) and ``RECLAIMED`` (the service took the worker back, e.g. a spot reclaim) are not counted at all:
  none says anything about the worker's health. Environment enters are not task runs.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from .. import names
from .notification import (
    Notification,
    attribute_values,
    cut_text,
    fit_message,
    json_text,
    parameters_text,
    rows_text,
    shrink,
)

#: Statuses of a task run that count against its worker, and those that count as a run only.
FAILURE_STATUSES = frozenset({"FAILED", "INTERRUPTED"})
RUN_STATUSES = FAILURE_STATUSES | {"SUCCEEDED"}
#: Failed actions listed in the message (the JSON says how many there were).
FAILED_ACTIONS_LIMIT = 10
#: Lines of the latest failure's log excerpt shown in the email (the JSON has what the record has).
EXCERPT_LINES = 30
_TEXT_LIMIT = 300

WHAT_TO_DO = (
    "Stop the worker, or set it to not accept work in its fleet (Deadline Cloud monitor: Fleets > worker).",
    "Check its disk space, GPU driver, licence and mounts; the latest failure's log says what failed.",
    "Its tasks are retried on other workers; requeue those that used up their retries once it is fixed.",
)


def counts_against_worker(record: Mapping[str, Any]) -> bool:
    """Whether a record is a task run that ended on a known worker with a status the rule counts."""
    return (record.get("actionType") == "taskRun" and bool(record.get("workerId"))
            and record.get("status") in RUN_STATUSES)


def is_suspect(failures: int, runs: int, *, threshold: int, ratio: float) -> bool:
    """At least ``threshold`` failures that are at least ``ratio`` of the runs (exact: no float rounding)."""
    if runs <= 0 or failures < threshold:
        return False
    return Fraction(failures) >= Fraction(str(ratio)) * runs


def window_of(record: Mapping[str, Any], window_seconds: int, now: float) -> int:
    """The start (epoch seconds) of the window the action ended in (``now`` when it has no ``endedAt``)."""
    when = epoch(record.get("endedAt"))
    when = now if when is None else when
    return int(when // window_seconds) * window_seconds


def epoch(value: Any) -> Optional[float]:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


@dataclass
class WorkerTally:
    """One worker's task runs in one window, as one batch saw them (what one UpdateItem adds)."""

    worker_id: str
    window_start: int
    fleet_id: Optional[str] = None
    runs: int = 0
    failures: int = 0
    #: ``farmId/queueId/jobId`` of the jobs whose runs it ran.
    jobs: Set[str] = field(default_factory=set)


def tally(runs: Iterable[Tuple[Mapping[str, Any], bool]], *, window_seconds: int, now: float) -> List[WorkerTally]:
    """Group a batch's saved task runs per worker and window. ``runs`` holds (record, counted): a record
    that was not counted (a redelivery) adds nothing but still has its worker's window checked."""
    out: Dict[Tuple[str, int], WorkerTally] = {}
    for record, counted in runs:
        if not counts_against_worker(record):
            continue
        worker = str(record["workerId"])
        start = window_of(record, window_seconds, now)
        entry = out.setdefault((worker, start), WorkerTally(worker, start))
        entry.fleet_id = entry.fleet_id or record.get("fleetId")
        if counted:
            entry.runs += 1
            entry.failures += record.get("status") in FAILURE_STATUSES
            entry.jobs.add(job_ref(record))
    return list(out.values())


def job_ref(record: Mapping[str, Any]) -> str:
    return f"{record.get('farmId')}/{record.get('queueId')}/{record.get('jobId')}"


def step_label(record: Mapping[str, Any]) -> str:
    """The step's name when the record has it (``stepName``), else its id."""
    return str(record.get("stepName") or record.get("stepId") or "none")


# --- the notification ------------------------------------------------------------------------------


def suspect_document(
    *,
    worker_id: str,
    fleet_id: Optional[str],
    window_start: int,
    window_seconds: int,
    runs: int,
    failures: int,
    threshold: int,
    ratio: float,
    history: Iterable[Mapping[str, Any]],
) -> Dict[str, Any]:
    """The suspect worker's JSON object, from its counters and the history of the jobs it ran.

    ``history`` is every stored record of those jobs: the worker's failed task runs in the window give the
    jobs, steps, exit codes and the latest failure; other workers' SUCCEEDED runs of the same steps in the
    window say whether the steps work elsewhere.
    """
    end = window_start + window_seconds
    mine: List[Mapping[str, Any]] = []
    succeeded_elsewhere: Dict[Tuple[Any, Any], Set[str]] = {}
    job_names: Dict[Any, Any] = {}
    for record in history:
        if not isinstance(record, Mapping) or record.get("actionType") != "taskRun":
            continue
        if record.get("jobName"):
            job_names.setdefault(record.get("jobId"), record.get("jobName"))
        ended = epoch(record.get("endedAt"))
        if ended is None or not window_start <= ended < end:
            continue
        if record.get("workerId") == worker_id and record.get("status") in FAILURE_STATUSES:
            mine.append(record)
        elif record.get("workerId") not in (None, worker_id) and record.get("status") == "SUCCEEDED":
            succeeded_elsewhere.setdefault((record.get("jobId"), record.get("stepId")), set()).add(
                str(record.get("workerId")))

    mine.sort(key=lambda r: (str(r.get("endedAt") or ""), str(r.get("sessionActionId") or "")))
    jobs: Dict[Any, Dict[str, Any]] = {}
    steps: Dict[Tuple[Any, Any], Dict[str, Any]] = {}
    exit_codes: Counter = Counter()
    for record in mine:
        job_id = record.get("jobId")
        job = jobs.setdefault(job_id, {"jobId": job_id, "jobName": job_names.get(job_id),
                                       "farmId": record.get("farmId"), "queueId": record.get("queueId"),
                                       "failures": 0})
        job["failures"] += 1
        key = (job_id, record.get("stepId"))
        step = steps.setdefault(key, {"jobId": job_id, "stepId": record.get("stepId"),
                                      "stepName": record.get("stepName"), "failures": 0,
                                      "succeededOnOtherWorkers": sorted(succeeded_elsewhere.get(key, ()))})
        step["failures"] += 1
        code = record.get("processExitCode")
        exit_codes["none" if code is None else str(code)] += 1

    latest = mine[-1] if mine else None
    first = mine[0] if mine else None
    doc: Dict[str, Any] = {
        "kind": names.KIND_SUSPECT_WORKER,
        "workerId": worker_id,
        "fleetId": fleet_id or (latest or {}).get("fleetId"),
        "farmId": (latest or {}).get("farmId"),
        "queueId": (latest or {}).get("queueId"),
        "windowStart": _iso(window_start),
        "windowEnd": _iso(end),
        "failures": failures,
        "taskRuns": runs,
        "failureRatio": round(failures / runs, 3) if runs else None,
        "rule": {"failures": threshold, "failureRatio": ratio, "windowMinutes": window_seconds // 60},
        "jobs": list(jobs.values()),
        "steps": list(steps.values()),
        "exitCodes": dict(sorted(exit_codes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "sameStepsSucceededElsewhere": any(s["succeededOnOtherWorkers"] for s in steps.values()),
        "firstFailureAt": (first or {}).get("endedAt"),
        "failedActions": [_action(r) for r in mine[-FAILED_ACTIONS_LIMIT:]],
        "latestFailure": None if latest is None else dict(
            _action(latest), progressMessage=cut_text(str(latest.get("progressMessage")), _TEXT_LIMIT, "...")
            if latest.get("progressMessage") else None,
            logGroup=latest.get("logGroup"), logStream=latest.get("logStream"),
            logExcerpt=latest.get("logExcerpt")),
        "whatToDo": list(WHAT_TO_DO),
    }
    return doc


def _action(record: Mapping[str, Any]) -> Dict[str, Any]:
    parameters = record.get("parameters")
    return {
        "sessionActionId": record.get("sessionActionId"),
        "sessionId": record.get("sessionId"),
        "jobId": record.get("jobId"),
        "stepId": record.get("stepId"),
        "stepName": record.get("stepName"),
        "taskId": record.get("taskId"),
        "parameters": shrink(parameters, 200, 20) if isinstance(parameters, Mapping) else None,
        "status": record.get("status"),
        "processExitCode": record.get("processExitCode"),
        "endedAt": record.get("endedAt"),
        "logsUrl": record.get("logsUrl"),
    }


def render_suspect_worker(doc: Mapping[str, Any]) -> Notification:
    """The suspect worker's message on every channel: the JSON object, the email text, the chat message."""
    failures, runs = doc.get("failures"), doc.get("taskRuns")
    subject = cut_text(f"Deadline: suspect worker {doc.get('workerId')}: {failures} of {runs} task runs failed",
                       96, "...")
    default, email, message = fit_message(
        lambda d, note: (json_text(d), _email(d, subject, note)),
        dict(doc),
        reductions=[lambda d: {k: shrink(v, 256, 10) for k, v in d.items()},
                    lambda d: {k: shrink(v, 64, 3) for k, v in d.items()}],
        minimal=lambda d: {k: shrink(d.get(k), 128, 1) for k in ("kind", "workerId", "fleetId", "farmId", "queueId",
                                                                 "windowStart", "windowEnd", "failures", "taskRuns")},
    )
    attributes = attribute_values({"kind": names.KIND_SUSPECT_WORKER, "outcome": "failure",
                                   "farmId": doc.get("farmId"), "queueId": doc.get("queueId")})
    return Notification(subject=subject, email=email, message=message, attributes=attributes, body=default,
                        chat=_chat(json.loads(default)))


def suspect_line(entry: Mapping[str, Any]) -> str:
    """One line for a job's "Suspect workers" section (digest, job-level message)."""
    steps = entry.get("steps") or []
    elsewhere = "; the same steps succeeded on other workers" if entry.get("sameStepsSucceededElsewhere") else ""
    return (f"{entry.get('workerId')} (fleet {entry.get('fleetId') or 'unknown'}): {entry.get('failures')} of "
            f"{entry.get('taskRuns')} task runs failed {entry.get('windowStart')} to {entry.get('windowEnd')}"
            + (f", {len(steps)} step{'' if len(steps) == 1 else 's'}" if steps else "") + elsewhere)


def job_entry(doc: Mapping[str, Any]) -> Dict[str, Any]:
    """What a job's ledger keeps of a suspect worker (and its digests and job-level message show)."""
    return {k: doc.get(k) for k in ("workerId", "fleetId", "windowStart", "windowEnd", "failures", "taskRuns",
                                    "sameStepsSucceededElsewhere", "exitCodes")} | {
        "steps": [s.get("stepName") or s.get("stepId") for s in (doc.get("steps") or [])][:10]}


def _email(doc: Mapping[str, Any], subject: str, note: Optional[str]) -> str:
    found = doc.get("rule")
    rule: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    blocks = [subject + "\n\n" + rows_text([
        ("Worker", doc.get("workerId")),
        ("Fleet", doc.get("fleetId")),
        ("Farm / queue", f"{doc.get('farmId')} / {doc.get('queueId')}"),
        ("Window", f"{doc.get('windowStart')} to {doc.get('windowEnd')}"),
        ("Failed task runs", f"{doc.get('failures')} of {doc.get('taskRuns')} that ended in the window"),
        ("Rule", f"at least {rule.get('failures')} failures and {rule.get('failureRatio')} of the task runs "
                 f"in {rule.get('windowMinutes')} minutes"),
        ("Exit codes", ", ".join(f"{k} ({v})" for k, v in (doc.get("exitCodes") or {}).items()) or None),
    ])]
    steps = doc.get("steps") or []
    if steps:
        lines = ["Jobs and steps it failed:"]
        names_of = {j.get("jobId"): j.get("jobName") for j in doc.get("jobs") or [] if isinstance(j, Mapping)}
        for step in steps:
            if not isinstance(step, Mapping):
                continue
            others = step.get("succeededOnOtherWorkers") or []
            where = (f"succeeded on {len(others)} other worker{'' if len(others) == 1 else 's'} in the window"
                     if others else "no other worker had succeeded on it in the window so far")
            lines.append(f"  {names_of.get(step.get('jobId')) or step.get('jobId')} / "
                         f"{step.get('stepName') or step.get('stepId')}: {step.get('failures')} failed; {where}")
        blocks.append("\n".join(lines) + "\n")
    latest = doc.get("latestFailure")
    if isinstance(latest, Mapping):
        frames = parameters_text(latest.get("parameters"))
        blocks.append("Latest failure:\n" + rows_text([
            ("Task", " ".join(p for p in (str(latest.get("taskId") or ""), f"[{frames}]" if frames else "") if p)
             or None),
            ("Step", latest.get("stepName") or latest.get("stepId")),
            ("Status", f"{latest.get('status')}" + (f", exit {latest.get('processExitCode')}"
                                                    if latest.get("processExitCode") is not None else "")),
            ("Message", latest.get("progressMessage")),
            ("Ended", latest.get("endedAt")),
            ("Logs", latest.get("logsUrl")),
        ], indent="  "))
        excerpt = latest.get("logExcerpt")
        if isinstance(excerpt, list) and excerpt:
            blocks.append("Its last log lines:\n" + "".join(f"  | {line}\n" for line in excerpt[-EXCERPT_LINES:]))
    todo = doc.get("whatToDo") or []
    if todo:
        blocks.append("What to do:\n" + "".join(f"  - {t}\n" for t in todo))
    if note:
        blocks.append(note + "\n")
    return "\n".join(blocks)


def _chat(doc: Mapping[str, Any]) -> Dict[str, Any]:
    from .chat import custom_notification

    worker = str(doc.get("workerId"))
    lines = [f"*Worker:* `{worker}`" + (f" (fleet `{doc.get('fleetId')}`)" if doc.get("fleetId") else ""),
             f"*Failed task runs:* {doc.get('failures')} of {doc.get('taskRuns')} between {doc.get('windowStart')} "
             f"and {doc.get('windowEnd')}"]
    codes = doc.get("exitCodes") or {}
    if codes:
        lines.append("*Exit codes:* " + ", ".join(f"{k} ({v})" for k, v in list(codes.items())[:5]))
    for step in (doc.get("steps") or [])[:5]:
        if isinstance(step, Mapping):
            others = step.get("succeededOnOtherWorkers") or []
            lines.append(f"\u2022 {step.get('stepName') or step.get('stepId')}: {step.get('failures')} failed"
                         + (f", succeeded on {len(others)} other worker(s)" if others else ""))
    found = doc.get("latestFailure")
    latest: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    excerpt = latest.get("logExcerpt")
    if isinstance(excerpt, list) and excerpt:
        lines.append("```\n" + "\n".join(str(x)[:200] for x in excerpt[-5:]).replace("```", "'''") + "\n```")
    if latest and isinstance(latest.get("logsUrl"), str) and latest["logsUrl"].startswith("https://"):
        lines.append(f"*Latest failure's log:* [CloudWatch Logs]({latest['logsUrl']})")
    return custom_notification(
        kind=names.KIND_SUSPECT_WORKER,
        message_id=f"suspect:{worker}:{doc.get('windowStart')}",
        thread=f"worker-{worker}",
        title=f"\u26a0\ufe0f Suspect worker {worker}: {doc.get('failures')} of {doc.get('taskRuns')} task runs failed",
        description="\n".join(lines),
        next_steps=list(doc.get("whatToDo") or []),
        keywords=["suspectWorker", worker],
        event_type="SuspectWorker",
        related=[worker, doc.get("fleetId")],
        context=[("kind", names.KIND_SUSPECT_WORKER), ("workerId", worker), ("fleetId", doc.get("fleetId")),
                 ("failures", doc.get("failures")), ("taskRuns", doc.get("taskRuns"))],
    )


def _iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")
