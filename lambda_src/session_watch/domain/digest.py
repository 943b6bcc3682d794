"""Grouped messages. Pure: no AWS, no I/O, no logging (messages may hold sensitive text).

* ``render_digest``: the failures of one job in one window -> ONE message (counts by status, step and
  exit code, the first failed actions with their frames and log links, the root causes found).
* ``render_job_run``: Deadline Cloud's ``Job Run Status Change`` -> one job-level message with the
  task run counts.

Both are built as a JSON document first (the SNS ``default``); the email text is rendered from that
document, so that when the message must be cut to fit SNS both are cut alike (``fit_message``).
"""

from __future__ import annotations

import json

import heapq
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .enrichment import JOB_NAME_LIMIT, ROOT_CAUSE_FIELDS, JobInfo, excerpt_lines, id_number, monitor_job_url
from .chat import chat_for_digest, chat_for_job_run
from .notification import (
    KIND_DIGEST,
    KIND_JOB_RUN,
    Notification,
    attribute_values,
    cut_text,
    dedupe,
    fit_message,
    job_subject,
    job_text,
    json_text,
    log_excerpt_text,
    not_included_text,
    parameters_text,
    root_cause_rows,
    rows_text,
    shrink,
)
from .job_summary import summary_lines
from .suspect_worker import suspect_line
from .record import Record
from .requests import JobRunChange

#: Characters of a progress message in a digest (sample and root causes).
SAMPLE_MESSAGE_LIMIT = 200
#: The end of the session's log in each sample entry: its last lines, within this many UTF-8 bytes (a sample
#: of 50 stays far within the SNS limit, in the JSON and the email alike).
SAMPLE_LOG_LINES = 10
SAMPLE_LOG_BYTES = 1024
#: Distinct root causes listed (the ones explaining most actions); the JSON says how many there were.
ROOT_CAUSE_LIMIT = 10
#: Rows of each count table (by status, step, exit code); the rest are added up as ``other``.
COUNT_LIMIT = 20
#: Distinct "Not included" reasons listed.
NOT_INCLUDED_LIMIT = 20
#: Key of a count for actions without that value (no exit code, no step).
NONE_KEY = "none"
OTHER_KEY = "other"
_KEY_LIMIT = 80
_PARAMETER_LIMIT = 200
#: Any other text of a sample or root cause entry (ids, links): far above real ones, so that one odd
#: record cannot make the document huge before the size cap even starts.
_FIELD_LIMIT = 1024

#: The order task run statuses are told in a job-level message (others follow, by name).
_STATUS_ORDER = ("FAILED", "CANCELED", "NOT_COMPATIBLE", "SUSPENDED", "INTERRUPTING", "SUCCEEDED",
                 "RUNNING", "STARTING", "ASSIGNED", "SCHEDULED", "READY", "PENDING")


# --- digest --------------------------------------------------------------------------------------


def render_digest(
    records: Iterable[Record],
    *,
    window_start: int,
    window_seconds: int,
    sample_size: int,
    job: Optional[JobInfo],
    monitor_url: Optional[str],
    missing: Sequence[str] = (),
    suspects: Sequence[Mapping[str, Any]] = (),
) -> Notification:
    """One message for the failed actions (``records``, all of one job) of the window that starts at
    ``window_start`` (epoch seconds) and lasts ``window_seconds``.

    ``sample_size`` failed actions are listed, earliest first (by endedAt, else startedAt; then the
    number of the session action id). ``job`` gives the name and priority (else the records' own
    ``jobName``/``jobPriority``, else the job id). ``monitor_url`` is the configured ``MONITOR_URL``
    (``monitor_job_url`` makes the job's link; a link that already names the job is kept as it is).
    ``missing`` and the records' ``enrichmentMissing`` make the "Not included" line (deduplicated).

    One pass over ``records`` (any iterable, a generator included), memory bounded by the sample, the
    count tables and the distinct root causes. The message always fits SNS.
    """
    summary = _Summary(max(int(sample_size), 0))
    for record in records:
        if isinstance(record, Mapping):
            summary.add(record)

    farm_id, queue_id, job_id = summary.ids
    if job is not None:
        job_id = job_id or job.job_id
    job_name = (job.name if job else None) or summary.job_name
    job_priority = job.priority if job and job.priority is not None else summary.job_priority
    start = _utc(window_start)
    end = _utc(window_start + window_seconds) if isinstance(window_seconds, int) and start else None
    not_included = dedupe(list(missing or ()) + list(summary.missing))
    causes = summary.root_causes()

    doc: Dict[str, Any] = {
        "kind": KIND_DIGEST,
        "farmId": farm_id,
        "queueId": queue_id,
        "jobId": job_id,
        "jobName": shrink(job_name, JOB_NAME_LIMIT, 1),
        "jobPriority": job_priority,
        "windowStart": _iso(start) or str(window_start),
        "windowEnd": _iso(end),
        "failures": summary.count,
        "byStatus": _top(summary.by_status),
        "byStep": _top(summary.by_step),
        # The names of the steps ``byStep`` counts by id (people read names; machines keep both).
        "stepNames": {k: v for k, v in summary.step_names.items() if k in summary.by_step},
        "byExitCode": _top(summary.by_exit_code),
        "sample": [_sample(record) for record in summary.sample()],
        "rootCauses": causes,
        "distinctRootCauses": len(summary.causes),
        "monitorUrl": monitor_job_url(monitor_url, farm_id, queue_id, job_id) if job_id else None,
        "notIncluded": _bounded_list([cut_text(str(m), _FIELD_LIMIT) for m in not_included], NOT_INCLUDED_LIMIT),
        # Workers found suspect (``domain/suspect_worker.py``) that failed task runs of this job.
        "suspectWorkers": [shrink(dict(s), 256, 10) for s in list(suspects)[:10] if isinstance(s, Mapping)],
    }
    failures = summary.count
    noun = "failure" if failures == 1 else "failures"
    subject = job_subject(job_name or job_id or "unknown job", f"{failures} {noun}",
                          f"in window {_window_text(start, end)}")

    default, email, message = fit_message(
        lambda d, note: (_json(d), _digest_email(d, subject, note)),
        doc,
        reductions=[_sample_excerpts(3), _sample_excerpts(0), _trim_digest(100, 60, 10), _shrink(128, 10),
                    _shrink(64, 5)],
        minimal=_minimal_digest,
    )
    attributes = attribute_values({"kind": KIND_DIGEST, "outcome": "failure", "farmId": farm_id,
                                   "queueId": queue_id, "jobId": job_id})
    return Notification(subject=subject, email=email, message=message, attributes=attributes, body=default,
                        chat=chat_for_digest(json.loads(default)))


class _Summary:
    """What a digest needs of its records, gathered in one pass."""

    def __init__(self, sample_size: int) -> None:
        self.sample_size = sample_size
        self.count = 0
        self.ids: Tuple[Any, Any, Any] = (None, None, None)
        self.job_name: Optional[str] = None
        self.job_priority: Optional[int] = None
        self.by_status: Counter = Counter()
        self.by_step: Counter = Counter()
        self.by_exit_code: Counter = Counter()
        #: step id (as in ``by_step``) -> the step's name
        self.step_names: Dict[str, str] = {}
        #: root cause id -> [actions it explains, the cause, a logs link of its session, first seen]
        self.causes: Dict[str, List[Any]] = {}
        self.missing: Dict[str, None] = {}
        self._candidates: List[Tuple[Tuple[Any, ...], Mapping[str, Any]]] = []

    def add(self, record: Mapping[str, Any]) -> None:
        self.count += 1
        if self.count == 1:
            self.ids = (record.get("farmId"), record.get("queueId"), record.get("jobId"))
        if self.job_name is None and record.get("jobName"):
            self.job_name, self.job_priority = record.get("jobName"), record.get("jobPriority")
        self.by_status[_key(record.get("status"))] += 1
        self.by_step[_key(record.get("stepId"))] += 1
        if record.get("stepId") and record.get("stepName"):
            self.step_names.setdefault(_key(record.get("stepId")), cut_text(str(record.get("stepName")), _KEY_LIMIT, "..."))
        self.by_exit_code[_key(record.get("processExitCode"))] += 1

        cause = record.get("rootCause")
        if isinstance(cause, Mapping):
            cause_id = cause.get("sessionActionId")
            # An action that failed itself is its own story, not another action's root cause.
            if isinstance(cause_id, str) and cause_id and cause_id != record.get("sessionActionId"):
                entry = self.causes.get(cause_id)
                if entry is None:
                    self.causes[cause_id] = [1, cause, record.get("logsUrl"), len(self.causes)]
                else:
                    entry[0] += 1

        missing = record.get("enrichmentMissing")
        if isinstance(missing, (list, tuple)):
            for reason in missing:
                if isinstance(reason, str) and reason:
                    self.missing.setdefault(reason, None)

        if self.sample_size:
            self._candidates.append((_sample_key(record, self.count), record))
            if len(self._candidates) >= 4 * self.sample_size + 64:
                self._candidates = heapq.nsmallest(self.sample_size, self._candidates, key=_first)

    def sample(self) -> List[Mapping[str, Any]]:
        return [record for _, record in heapq.nsmallest(self.sample_size, self._candidates, key=_first)]

    def root_causes(self) -> List[Dict[str, Any]]:
        top = heapq.nsmallest(ROOT_CAUSE_LIMIT, self.causes.values(), key=lambda e: (-e[0], e[3]))
        out = []
        for explains, cause, logs_url, _ in top:
            entry = {key: cause.get(key) for key in ROOT_CAUSE_FIELDS}
            entry["progressMessage"] = _clip(entry["progressMessage"], SAMPLE_MESSAGE_LIMIT)
            entry["explains"] = explains
            entry["logsUrl"] = logs_url
            out.append(_bounded(entry))
        return out


def _first(candidate: Tuple[Tuple[Any, ...], Any]) -> Tuple[Any, ...]:
    return candidate[0]


def _sample_key(record: Mapping[str, Any], seq: int) -> Tuple[Any, ...]:
    when = record.get("endedAt") or record.get("startedAt")
    action_id = record.get("sessionActionId")
    return (when is None, str(when) if when is not None else "", id_number(action_id),
            str(action_id) if action_id is not None else "", seq)


def _sample(record: Mapping[str, Any]) -> Dict[str, Any]:
    parameters = record.get("parameters")
    cause = record.get("rootCause")
    return _bounded({
        "sessionActionId": record.get("sessionActionId"),
        "sessionId": record.get("sessionId"),
        "actionType": record.get("actionType"),
        "status": record.get("status"),
        "stepId": record.get("stepId"),
        "stepName": record.get("stepName"),
        "taskId": record.get("taskId"),
        "environmentId": record.get("environmentId"),
        "parameters": shrink(parameters, _PARAMETER_LIMIT, 20) if isinstance(parameters, Mapping) else None,
        "processExitCode": record.get("processExitCode"),
        "progressMessage": _clip(record.get("progressMessage"), SAMPLE_MESSAGE_LIMIT),
        "startedAt": record.get("startedAt"),
        "endedAt": record.get("endedAt"),
        "workerId": record.get("workerId"),
        "logExcerpt": _sample_excerpt(record.get("logExcerpt")),
        "logGroup": record.get("logGroup"),
        "logStream": record.get("logStream"),
        "logsUrl": record.get("logsUrl"),
        "rootCauseId": cause.get("sessionActionId") if isinstance(cause, Mapping) else None,
    })


def _bounded(entry: Dict[str, Any]) -> Dict[str, Any]:
    return {k: shrink(v, _FIELD_LIMIT, 20) if k not in ("parameters", "logExcerpt") else v
            for k, v in entry.items()}


def _sample_excerpt(lines: Any) -> Optional[List[str]]:
    """A sample entry's log excerpt: its last ``SAMPLE_LOG_LINES`` lines within ``SAMPLE_LOG_BYTES``."""
    if not isinstance(lines, (list, tuple)):
        return None
    return excerpt_lines([str(line) for line in lines], max_lines=SAMPLE_LOG_LINES, max_bytes=SAMPLE_LOG_BYTES,
                         line_bytes=256)


def _digest_email(doc: Mapping[str, Any], subject: str, note: Optional[str]) -> str:
    failures = doc.get("failures")
    blocks = [subject + "\n\n" + rows_text([
        ("Job", job_text(doc.get("jobName"), doc.get("jobPriority")) or doc.get("jobId")),
        ("Job id", doc.get("jobId") if doc.get("jobName") else None),
        ("Farm / queue", f"{doc.get('farmId')} / {doc.get('queueId')}"),
        ("Window", f"{doc.get('windowStart')} to {doc.get('windowEnd')}"),
        ("Failures", failures),
        ("Monitor", doc.get("monitorUrl")),
    ])]
    names: Mapping[str, Any] = doc.get("stepNames") or {} if isinstance(doc.get("stepNames"), Mapping) else {}
    for title, key in (("By status", "byStatus"), ("By step", "byStep"), ("By exit code", "byExitCode")):
        counts = doc.get(key)
        if isinstance(counts, Mapping) and counts:
            if key == "byStep":  # step names, not ids (the JSON keeps both)
                counts = {str(names.get(k) or k): n for k, n in counts.items()}
            blocks.append(f"{title}:\n" + _counts_text(counts))

    causes = doc.get("rootCauses") or []
    if causes:
        distinct = doc.get("distinctRootCauses") or len(causes)
        most = "the one" if len(causes) == 1 else f"the {len(causes)}"
        shown = f"{most} explaining most actions of {distinct}" if distinct > len(causes) else str(distinct)
        lines = [f"Root causes ({shown}; each the first failed action of its session):"]
        for n, cause in enumerate(causes, 1):
            if not isinstance(cause, Mapping):
                continue
            explains = cause.get("explains")
            lines.append(f"  {n}. explains {explains} action{'' if explains == 1 else 's'}")
            rows = root_cause_rows(cause) + [("Logs", cause.get("logsUrl"))]
            lines.append(rows_text(rows, indent="     ").rstrip("\n"))
        blocks.append("\n".join(lines) + "\n")

    sample = doc.get("sample") or []
    if sample:
        if failures == 1:
            heading = "The failed action:"
        elif isinstance(failures, int) and len(sample) >= failures:
            heading = f"The {failures} failed actions:"
        else:
            heading = f"First {len(sample)} of {failures} failed actions:"
        lines = [heading]
        for n, item in enumerate(sample, 1):
            if not isinstance(item, Mapping):
                continue
            what = item.get("taskId") or item.get("environmentId") or item.get("sessionActionId")
            frames = parameters_text(item.get("parameters"))
            lines.append(f"  {n}. {what}" + (f"  [{frames}]" if frames else ""))
            exit_code = item.get("processExitCode")
            status = f"{item.get('status')}" + (f", exit {exit_code}" if exit_code is not None else "")
            lines.append(rows_text([
                ("Step", item.get("stepName") or item.get("stepId")),
                ("Status", status),
                ("Worker", item.get("workerId")),
                ("Message", item.get("progressMessage")),
                ("Root cause", item.get("rootCauseId")),
                ("Logs", item.get("logsUrl")),
            ], indent="     ").rstrip("\n"))
            excerpt = log_excerpt_text(item.get("logExcerpt"), indent="       ",
                                       heading="     Log, up to the action's end")
            if excerpt:
                lines.append(excerpt.rstrip("\n"))
        blocks.append("\n".join(lines) + "\n")

    suspects = [entry for entry in doc.get("suspectWorkers") or [] if isinstance(entry, Mapping)]
    if suspects:
        blocks.append("Suspect workers (each fails most task runs it picks up):\n"
                      + "".join(f"  - {suspect_line(entry)}\n" for entry in suspects))
    missing = not_included_text(doc.get("notIncluded"), limit=NOT_INCLUDED_LIMIT + 1)
    if missing:
        blocks.append(missing + "\n")
    if note:
        blocks.append(note + "\n")
    return "\n".join(blocks)


def _trim_digest(message_limit: int, parameter_limit: int, max_items: int):
    def trim(doc: Dict[str, Any]) -> Dict[str, Any]:
        out = dict(doc)
        out["sample"] = [
            dict(item, progressMessage=shrink(item.get("progressMessage"), message_limit, max_items),
                 parameters=shrink(item.get("parameters"), parameter_limit, max_items), logExcerpt=None)
            if isinstance(item, Mapping) else item
            for item in doc.get("sample") or []
        ]
        out["rootCauses"] = [
            dict(item, progressMessage=shrink(item.get("progressMessage"), message_limit, max_items))
            if isinstance(item, Mapping) else item
            for item in doc.get("rootCauses") or []
        ]
        return out
    return trim


def _sample_excerpts(lines: int):
    """The sample's log excerpts cut to their last ``lines`` (none when 0): the first thing to go."""
    def trim(doc: Dict[str, Any]) -> Dict[str, Any]:
        out = dict(doc)
        out["sample"] = [
            dict(item, logExcerpt=(list(item["logExcerpt"])[-lines:] if lines else None))
            if isinstance(item, Mapping) and isinstance(item.get("logExcerpt"), list) else item
            for item in doc.get("sample") or []
        ]
        return out
    return trim


def _shrink(text_limit: int, max_items: int):
    def trim(doc: Dict[str, Any]) -> Dict[str, Any]:
        return {k: shrink(v, text_limit, max_items) for k, v in doc.items()}
    return trim


def _minimal_digest(doc: Dict[str, Any]) -> Dict[str, Any]:
    keep = ("kind", "farmId", "queueId", "jobId", "jobName", "jobPriority", "windowStart", "windowEnd",
            "failures", "distinctRootCauses", "monitorUrl")
    out = {k: shrink(doc.get(k), 256, 1) for k in keep}
    out.update(byStatus={}, byStep={}, stepNames={}, byExitCode={}, sample=[], rootCauses=[], notIncluded=[],
               suspectWorkers=[{k: shrink(s.get(k), 128, 1) for k in ("workerId", "fleetId", "failures", "taskRuns")}
                               for s in doc.get("suspectWorkers") or [] if isinstance(s, Mapping)][:10])
    return out


# --- job run -------------------------------------------------------------------------------------


def render_job_run(
    change: JobRunChange,
    *,
    job: Optional[JobInfo],
    monitor_url: Optional[str],
    missing: Sequence[str] = (),
    summary: Optional[Mapping[str, Any]] = None,
) -> Notification:
    """One job-level message for a ``Job Run Status Change``: the job's task run status and counts, and
    (``summary``, ``domain/job_summary.py``) the whole job's failures from its history: how failed actions
    relate to tasks, by status, step, exit code and worker, root causes and suspect workers.

    The text lists the non-zero counts; the JSON has them all (``failureSummary``). ``monitor_url`` as for
    ``render_digest``.
    """
    counts = dict(change.task_run_status_counts or {})
    name = job.name if job and job.name else None
    doc: Dict[str, Any] = {
        "kind": KIND_JOB_RUN,
        "farmId": change.farm_id,
        "queueId": change.queue_id,
        "jobId": change.job_id,
        "jobName": shrink(name, JOB_NAME_LIMIT, 1),
        "jobPriority": job.priority if job else None,
        "taskRunStatus": change.task_run_status,
        "previousTaskRunStatus": change.previous_task_run_status,
        "taskRunStatusCounts": counts,
        "monitorUrl": monitor_job_url(monitor_url, change.farm_id, change.queue_id, change.job_id),
        "notIncluded": _bounded_list([cut_text(str(m), _FIELD_LIMIT) for m in dedupe(missing or ())],
                                     NOT_INCLUDED_LIMIT),
    }
    if summary is not None:
        doc["failureSummary"] = shrink(dict(summary), _FIELD_LIMIT, 50)
    total = sum(v for v in counts.values() if isinstance(v, int))
    nonzero = _ordered_nonzero(counts)
    told = ", ".join(f"{n} {_status_word(s)}" for s, n in nonzero[:3])
    if len(nonzero) > 3:
        told += f", +{len(nonzero) - 3} more"
    tail = f" {_status_word(change.task_run_status)} ({told + ' of ' if told else ''}{total} task{'' if total == 1 else 's'})"
    subject = job_subject(name or change.job_id, "job", tail.strip())

    default, email, message = fit_message(
        lambda d, note: (_json(d), _job_run_email(d, subject, note)),
        doc,
        reductions=[_shrink(128, 20), _shrink(64, 12)],
        minimal=lambda d: {k: shrink(d.get(k), 128, 1) for k in ("kind", "farmId", "queueId", "jobId",
                                                                 "taskRunStatus", "previousTaskRunStatus")}
        | {"failureSummary": {k: (d.get("failureSummary") or {}).get(k) for k in (
            "failedActions", "tasksNotSucceeded", "story")}},
    )
    attributes = attribute_values({
        "kind": KIND_JOB_RUN,
        "outcome": "completion" if change.task_run_status == "SUCCEEDED" else "failure",
        "status": change.task_run_status,
        "farmId": change.farm_id,
        "queueId": change.queue_id,
        "jobId": change.job_id,
    })
    return Notification(subject=subject, email=email, message=message, attributes=attributes, body=default,
                        chat=chat_for_job_run(json.loads(default)))


def _job_run_email(doc: Mapping[str, Any], subject: str, note: Optional[str]) -> str:
    counts = doc.get("taskRunStatusCounts")
    counts = counts if isinstance(counts, Mapping) else {}
    previous = doc.get("previousTaskRunStatus")
    status = f"{doc.get('taskRunStatus')}" + (f" (was {previous})" if previous else "")
    blocks = [subject + "\n\n" + rows_text([
        ("Job", job_text(doc.get("jobName"), doc.get("jobPriority")) or doc.get("jobId")),
        ("Job id", doc.get("jobId") if doc.get("jobName") else None),
        ("Farm / queue", f"{doc.get('farmId')} / {doc.get('queueId')}"),
        ("Status", status),
        ("Tasks", sum(v for v in counts.values() if isinstance(v, int))),
        ("Monitor", doc.get("monitorUrl")),
    ])]
    nonzero = _ordered_nonzero(counts)
    if nonzero:
        blocks.append("Tasks by run status:\n" + _counts_text(dict(nonzero)))
    blocks.extend(summary_lines(doc.get("failureSummary")))
    missing = not_included_text(doc.get("notIncluded"), limit=NOT_INCLUDED_LIMIT + 1)
    if missing:
        blocks.append(missing + "\n")
    if note:
        blocks.append(note + "\n")
    return "\n".join(blocks)


def _ordered_nonzero(counts: Mapping[str, Any]) -> List[Tuple[str, int]]:
    rank = {status: i for i, status in enumerate(_STATUS_ORDER)}
    items = [(str(s), n) for s, n in counts.items() if isinstance(n, int) and not isinstance(n, bool) and n]
    return sorted(items, key=lambda item: (rank.get(item[0], len(rank)), item[0]))


def _status_word(status: Any) -> str:
    return str(status or "unknown").lower().replace("_", " ")


# --- shared ----------------------------------------------------------------------------------------


def _key(value: Any) -> str:
    """A count table key: the value as text (short), ``none`` when there is none."""
    if value is None or value == "":
        return NONE_KEY
    return cut_text(str(value), _KEY_LIMIT, "...")


def _top(counter: Counter) -> Dict[str, int]:
    """The ``COUNT_LIMIT`` largest counts (most first, then by key); the rest added up as ``other``."""
    if len(counter) <= COUNT_LIMIT:
        return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
    top = heapq.nsmallest(COUNT_LIMIT - 1, counter.items(), key=lambda kv: (-kv[1], kv[0]))
    out = dict(top)
    out[OTHER_KEY] = out.get(OTHER_KEY, 0) + sum(counter.values()) - sum(n for _, n in top)
    return out


def _counts_text(counts: Mapping[str, Any]) -> str:
    width = max(len(str(k)) for k in counts)
    return "".join(f"  {str(k):<{width}}  {n:>7}\n" for k, n in counts.items())


def _bounded_list(items: List[str], limit: int) -> List[str]:
    if len(items) <= limit:
        return items
    return items[:limit] + [f"and {len(items) - limit} more"]


def _clip(text: Any, limit: int) -> Any:
    """A progress message cut to ``limit`` characters (``...`` at the end when cut)."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def _utc(epoch: Any) -> Optional[datetime]:
    try:
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _iso(when: Optional[datetime]) -> Optional[str]:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def _window_text(start: Optional[datetime], end: Optional[datetime]) -> str:
    if start is None or end is None:
        return "unknown"
    fmt = "%H:%M" if start.second == 0 and end.second == 0 else "%H:%M:%S"
    return f"{start.strftime(fmt)}-{end.strftime(fmt)} UTC"


def _json(doc: Mapping[str, Any]) -> str:
    return json_text(doc)
