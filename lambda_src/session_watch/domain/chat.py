"""Notifications as Amazon Q Developer in chat applications (formerly AWS Chatbot) custom notifications.

The only format the chat channel shows for an SNS message in Slack and Microsoft Teams. Pure: no AWS, no
I/O, no logging (the messages hold progress messages and task parameters), stdlib only.

Format: https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
("Custom notifications using Amazon Q Developer in chat applications", sections "Event schema" and
"Parameter details")::

    {"version": "1.0", "source": "custom", "id": ...,
     "content": {"textType": "client-markdown", "title": ..., "description": ...,
                 "nextSteps": [...], "keywords": [...]},
     "metadata": {"threadId": ..., "summary": ..., "eventType": ...,
                  "relatedResources": [...], "additionalContext": {...}}}

What that page says and this module follows: ``version`` is required and must be ``"1.0"``; ``source`` is
required and must be ``"custom"``; ``id`` is optional, a unique event identifier; ``textType`` is optional
and only ``client-markdown`` is supported (rendered in the chat platform's own markdown); ``title``
supports markdown and emojis; ``threadId`` groups notifications in one thread (when the channel's
preferences allow threads). Every value of the schema is a string, a list of strings or (for
``additionalContext``) a map of strings to strings.

Length limits. The page read for this module gave the schema and the rules above, not a length table
that could be quoted; the limits below are therefore kept deliberately low:

* ``title`` 250 and ``description`` 8000 characters are the limits other code cites from that page
  (not re-read here). ``title`` is kept to 250; ``description`` to 3000, well under 8000 and equal to
  Slack's limit on the text of one message section, so that nothing is cut by the chat platform.
* Not documented on what could be read, conservative choices of ours: ``id`` 128, ``nextSteps`` 3
  items of 200, ``keywords`` 5 items of 50, ``threadId`` 128, ``summary`` 200, ``eventType`` 64,
  ``relatedResources`` 5 items of 256, ``additionalContext`` 10 entries, keys 64, values 256.

Every text is cut to its limit with ``…`` at the end. One thread per job (``thread_id``): a session
action's message, the job's failure digests and its job-level message share it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .. import names
from .notification import cut_text, duration_text, job_text, parameters_text, session_log_location

#: The documentation page of the format.
DOC_URL = "https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html"

#: Fixed values (documented: the only ones allowed).
VERSION = "1.0"
SOURCE = "custom"
TEXT_TYPE = "client-markdown"

#: ``metadata.threadId`` of every message of a job: this prefix and the job id.
CHAT_THREAD_PREFIX = "deadline-job-"

#: Length limits applied (characters; see the module docstring for which are documented).
ID_LIMIT = 128
TITLE_LIMIT = 250
DESCRIPTION_LIMIT = 3000
NEXT_STEPS_MAX = 3
NEXT_STEP_LIMIT = 200
KEYWORDS_MAX = 5
KEYWORD_LIMIT = 50
THREAD_ID_LIMIT = 128
SUMMARY_LIMIT = 200
EVENT_TYPE_LIMIT = 64
RELATED_RESOURCES_MAX = 5
RELATED_RESOURCE_LIMIT = 256
CONTEXT_MAX = 10
CONTEXT_KEY_LIMIT = 64
CONTEXT_VALUE_LIMIT = 256

#: Put where a text was cut.
MARKER = "\u2026"
#: Characters of a progress message in a session action's message, and in each digest entry.
MESSAGE_LIMIT = 300
DIGEST_MESSAGE_LIMIT = 120
#: The end of the session's log in a session action's message: its last lines, each and all cut to these.
LOG_LINES_SHOWN = 5
LOG_LINE_LIMIT = 160
LOG_BLOCK_LIMIT = 700
#: Characters of a job name inside a title or a description line (the rest of the line stays whole).
NAME_LIMIT = 100
#: Characters of an id or other short value in a description line.
VALUE_LIMIT = 128
#: A link longer than this is left out rather than cut (a cut link leads nowhere).
URL_LIMIT = 1500
#: Entries of the digest's lists shown in the description (the email and the JSON have them all).
SAMPLE_SHOWN = 5
ROOT_CAUSES_SHOWN = 3
COUNTS_SHOWN = 5

_ACTION_WORDS = {
    "taskRun": "Task run",
    "envEnter": "Environment enter",
    "envExit": "Environment exit",
    "syncInputJobAttachments": "Job attachments sync",
}
_STATUS_WORDS = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELED": "canceled",
    "INTERRUPTED": "interrupted",
    "NEVER_ATTEMPTED": "never attempted",
    "RECLAIMED": "reclaimed",
}
_FAILURES = frozenset(names.FAILURE_STATUSES)
_COMPLETIONS = frozenset(names.COMPLETION_STATUSES)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_NOT_ID = re.compile(r"[^A-Za-z0-9._:\-]")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")

_FAILED_MARK = "\u274c"  # red cross
_DONE_MARK = "\u2705"  # green check
_INFO_MARK = "\u2139\ufe0f"  # information


# --- the three messages ----------------------------------------------------------------------------


def thread_id(job_id: str) -> str:
    """``deadline-job-<jobId>``: the one thread of a job's messages. A job id that is not a plain id
    (empty, too long, odd characters) is replaced by a digest of it, so that the result stays a short id."""
    text = "" if job_id is None else str(job_id)
    if not text:
        text = "unknown"
    if _NOT_ID.search(text) or len(CHAT_THREAD_PREFIX) + len(text) > THREAD_ID_LIMIT:
        text = "h" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:40]
    return CHAT_THREAD_PREFIX + text


def chat_for_record(record: Mapping[str, Any]) -> Dict[str, Any]:
    """One session action (a record, ``domain/record.py``) as a custom notification. Never raises."""
    source = record if isinstance(record, Mapping) else {}
    try:
        return _finish(_record_message(source))
    except Exception:  # noqa: BLE001 - a chat message must never stop the other channels
        return _fallback(names.KIND_SESSION_ACTION, source.get("jobId"), source.get("status"))


def chat_for_digest(doc: Mapping[str, Any]) -> Dict[str, Any]:
    """A digest document (``render_digest``'s JSON) as a custom notification. Never raises."""
    source = doc if isinstance(doc, Mapping) else {}
    try:
        return _finish(_digest_message(source))
    except Exception:  # noqa: BLE001
        return _fallback(names.KIND_DIGEST, source.get("jobId"), "FAILED")


def chat_for_job_run(doc: Mapping[str, Any]) -> Dict[str, Any]:
    """A job-level document (``render_job_run``'s JSON) as a custom notification. Never raises."""
    source = doc if isinstance(doc, Mapping) else {}
    try:
        return _finish(_job_run_message(source))
    except Exception:  # noqa: BLE001
        return _fallback(names.KIND_JOB_RUN, source.get("jobId"), source.get("taskRunStatus"))


def custom_notification(*, kind: str, message_id: str, thread: str, title: str, description: str,
                        next_steps: Sequence[str], keywords: Sequence[str], event_type: str,
                        related: Sequence[Any], context: Sequence[Tuple[str, Any]]) -> Dict[str, Any]:
    """A custom notification of another kind (a suspect worker, a job that failed before it ran), built
    by its own module, held to the same limits. ``thread`` is the id of its thread (``thread_id`` of a
    job id for a job's messages). Never raises."""
    try:
        message = _message(message_id=_stable_id(kind, message_id), job_id=None, title=title,
                           description=description, next_steps=next_steps,
                           keywords=keywords, summary=title, event_type=event_type, related=related,
                           context=context)
        lines = _Lines(DESCRIPTION_LIMIT)
        for line in description.split("\n"):
            lines.add(line)
        message["content"]["description"] = lines.text()
        message["metadata"]["threadId"] = thread if not _NOT_ID.search(thread) else thread_id(thread)
        return _finish(message)
    except Exception:  # noqa: BLE001 - a chat message must never stop the other channels
        return _fallback(kind, None, "FAILED")


# --- a session action ------------------------------------------------------------------------------


def _record_message(r: Mapping[str, Any]) -> Dict[str, Any]:
    job_id = r.get("jobId")
    status = _word(r.get("status")) or "UNKNOWN"
    failed = status in _FAILURES
    action = _ACTION_WORDS.get(str(r.get("actionType") or ""), f"Action {_inline(r.get('actionType'), 40)}")
    verb = _STATUS_WORDS.get(status, status.lower().replace("_", " "))
    exit_code = r.get("processExitCode")
    exit_text = f" (exit {_inline(exit_code, 20)})" if exit_code not in (None, 0, "") else ""
    target = _target(r)
    worker = _inline(r.get("workerId"), VALUE_LIMIT)
    job = _inline(r.get("jobName") or job_id or "unknown job", NAME_LIMIT)

    mark = _FAILED_MARK if failed else _DONE_MARK if status in _COMPLETIONS else _INFO_MARK
    tail = f": {action} {verb}{exit_text}: {target}" + (f" on {worker}" if worker else "")
    title = _fit(f"{mark} ", job, tail, TITLE_LIMIT)
    summary = _fit("", job, f": {action} {verb}{exit_text}: {target}", SUMMARY_LIMIT)

    lines = _Lines(DESCRIPTION_LIMIT)
    status_line = f"*Status:* {status}{exit_text}"
    duration = duration_text(r.get("durationSeconds")) if _is_number(r.get("durationSeconds")) else None
    if duration:
        status_line += f" after {duration}"
    lines.add(status_line + f" \u00b7 {action}")
    name = r.get("jobName")
    lines.add(f"*Job:* {_inline(job_text(name, r.get('jobPriority')) if name else job_id, NAME_LIMIT)}"
              + (f" (`{_inline(job_id, VALUE_LIMIT)}`)" if name and job_id else ""))
    step = r.get("stepName") or r.get("stepId")
    place = [f"step *{_inline(r.get('stepName'), VALUE_LIMIT)}*" if r.get("stepName")
             else f"step `{_inline(step, VALUE_LIMIT)}`" if step else None,
             f"task `{_inline(r.get('taskId'), VALUE_LIMIT)}`" if r.get("taskId") else None,
             f"environment `{_inline(r.get('environmentId'), VALUE_LIMIT)}`" if r.get("environmentId") else None]
    if any(place):
        lines.add("*Where:* " + ", ".join(p for p in place if p))
    parameters = parameters_text(r.get("parameters"))  # as much as the email shows (200 characters)
    if parameters:
        lines.add(f"*Parameters:* {_code(parameters, 220)}")
    if worker:
        fleet = _inline(r.get("fleetId"), VALUE_LIMIT)
        lines.add(f"*Worker:* `{worker}`" + (f" (fleet `{fleet}`)" if fleet else ""))
    links = [_link("CloudWatch Logs", r.get("logsUrl")), _link("Deadline Cloud monitor", r.get("monitorUrl"))]
    if any(links):
        lines.add("*Logs:* " + " \u00b7 ".join(link for link in links if link))
    else:
        logs = session_log_location(r)  # type: ignore[arg-type]
        if r.get("farmId") and logs.get("logStream"):
            lines.add(f"*Log:* group `{_inline(logs['logGroup'], 200)}`, stream `{_inline(logs['logStream'], 200)}`")
    message = r.get("progressMessage")
    if message not in (None, ""):
        lines.add("*Message:*\n" + _block(message, MESSAGE_LIMIT))
    excerpt = r.get("logExcerpt")
    if isinstance(excerpt, (list, tuple)) and excerpt:
        log_tail = [_inline(line, LOG_LINE_LIMIT) for line in list(excerpt)[-LOG_LINES_SHOWN:]]
        lines.add(f"*Log* (last {len(log_tail)} lines up to the action's end):\n"
                  + _block("\n".join(log_tail), LOG_BLOCK_LIMIT))
    cause = r.get("rootCause")
    cause_text = _cause_text(cause) if isinstance(cause, Mapping) else None
    if cause_text:
        lines.add(f"*Root cause* (first failed action of the session): {cause_text}")
    missing = _list_text(r.get("enrichmentMissing"), 300)
    if missing:
        lines.add(f"_Not included: {missing}_")

    steps: List[str] = []
    if failed and isinstance(cause, Mapping) and cause_text:
        steps.append(f"Fix the root cause first: {_cause_words(cause)}; this action {verb} because of it.")
    if failed and r.get("logsUrl"):
        steps.append("Open the CloudWatch Logs link above and read the end of the session log.")
    elif failed:
        logs = session_log_location(r)  # type: ignore[arg-type]
        steps.append(f"Read the session log in CloudWatch Logs: group {_inline(logs['logGroup'], 90)}, "
                     f"stream {_inline(logs['logStream'], 60)}.")
    if status in ("INTERRUPTED", "RECLAIMED"):
        steps.append("Check the worker and its fleet (capacity, spot interruptions); the task can be requeued.")
    elif failed:
        steps.append("Requeue the task once fixed (Deadline Cloud monitor, or `deadline` CLI).")
    if not steps:
        steps.append("Nothing to do; the session log stays in CloudWatch Logs.")

    keywords = [status, str(r.get("actionType") or ""), str(r.get("jobName") or job_id or ""),
                str(r.get("stepName") or r.get("stepId") or "")]
    return _message(
        message_id=_stable_id("sa", job_id, r.get("sessionActionId"), status),
        job_id=job_id,
        title=title,
        description=lines.text(),
        next_steps=steps,
        keywords=keywords,
        summary=summary,
        event_type="SessionAction" + _camel(status),
        related=[job_id, r.get("sessionId"), r.get("sessionActionId")],
        context=[("kind", names.KIND_SESSION_ACTION), ("farmId", r.get("farmId")), ("queueId", r.get("queueId")),
                 ("jobId", job_id), ("sessionId", r.get("sessionId")),
                 ("sessionActionId", r.get("sessionActionId")), ("status", status),
                 ("actionType", r.get("actionType")), ("stepId", r.get("stepId")), ("taskId", r.get("taskId"))],
    )


def _target(r: Mapping[str, Any]) -> str:
    if r.get("taskId"):
        frame = parameters_text(r.get("parameters"), limit=40)
        step = f"{_inline(r.get('stepName'), VALUE_LIMIT)} " if r.get("stepName") else ""
        return step + (f"[{_inline(frame, 60)}] " if frame else "") + _inline(r.get("taskId"), VALUE_LIMIT)
    if r.get("environmentId"):
        return _inline(r.get("environmentId"), VALUE_LIMIT)
    if r.get("stepId"):
        return f"step {_inline(r.get('stepId'), VALUE_LIMIT)}"
    return f"job {_inline(r.get('jobId'), VALUE_LIMIT)}"


def _cause_words(cause: Mapping[str, Any]) -> str:
    """``Environment enter JOB:…:Setup FAILED (exit 2)``."""
    action = _ACTION_WORDS.get(str(cause.get("actionType") or ""), _inline(cause.get("actionType"), 40))
    where = cause.get("environmentId") or cause.get("taskId") or cause.get("stepId")
    exit_code = cause.get("processExitCode")
    parts = [action, _inline(where, VALUE_LIMIT) if where else "", _inline(cause.get("status"), 40),
             f"(exit {_inline(exit_code, 20)})" if exit_code not in (None, "") else ""]
    return " ".join(p for p in parts if p) or "unknown action"


def _cause_text(cause: Mapping[str, Any]) -> Optional[str]:
    if not any(v not in (None, "") for v in cause.values()):
        return None
    text = _cause_words(cause)
    message = cause.get("progressMessage")
    if message not in (None, ""):
        text += f": {_code(message, 200)}"
    return text


# --- a digest ---------------------------------------------------------------------------------------


def _digest_message(d: Mapping[str, Any]) -> Dict[str, Any]:
    job_id = d.get("jobId")
    job = _inline(d.get("jobName") or job_id or "unknown job", NAME_LIMIT)
    failures = _count(d.get("failures"))
    noun = "failure" if failures == 1 else "failures"
    by_status = _counts(d.get("byStatus"))
    seconds = _window_seconds(d.get("windowStart"), d.get("windowEnd"))
    window = f" in {seconds} s" if seconds is not None else ""
    statuses = _counts_text(by_status, 3)
    tail = f": {failures} {noun}{window}" + (f" ({statuses})" if statuses else "")
    title = _fit(f"{_FAILED_MARK} ", job, tail, TITLE_LIMIT)
    summary = _fit("", job, tail, SUMMARY_LIMIT)

    lines = _Lines(DESCRIPTION_LIMIT)
    name = d.get("jobName")
    lines.add(f"*Job:* {_inline(job_text(name, d.get('jobPriority')) if name else job_id, NAME_LIMIT)}"
              + (f" (`{_inline(job_id, VALUE_LIMIT)}`)" if name and job_id else ""))
    if d.get("windowStart") or d.get("windowEnd"):
        lines.add(f"*Window:* {_inline(d.get('windowStart'), 40)} to {_inline(d.get('windowEnd'), 40)}")
    lines.add(f"*Failures:* {failures}" + (f" ({_counts_text(by_status, COUNTS_SHOWN)})" if by_status else ""))
    step_names: Mapping[str, Any] = d.get("stepNames") or {} if isinstance(d.get("stepNames"), Mapping) else {}
    for label, key in (("By step", "byStep"), ("By exit code", "byExitCode")):
        table = _counts(d.get(key))
        if key == "byStep":  # step names, not ids
            table = {_inline(step_names.get(k) or k, 40): n for k, n in table.items()}
        counts = _counts_text(table, COUNTS_SHOWN)
        if counts:
            lines.add(f"*{label}:* {counts}")
    monitor = _link("Deadline Cloud monitor", d.get("monitorUrl"))
    if monitor:
        lines.add(f"*Job page:* {monitor}")

    causes = [c for c in _list(d.get("rootCauses")) if isinstance(c, Mapping)]
    if causes:
        distinct = _count(d.get("distinctRootCauses")) or len(causes)
        lines.add(f"*Root causes* ({distinct}; each the first failed action of its session):")
        for cause in causes[:ROOT_CAUSES_SHOWN]:
            explains = _count(cause.get("explains"))
            entry = f"\u2022 {_cause_words(cause)}, explains {explains} action{'' if explains == 1 else 's'}"
            message = cause.get("progressMessage")
            if message not in (None, ""):
                entry += f": {_code(message, DIGEST_MESSAGE_LIMIT)}"
            link = _link("CloudWatch Logs", cause.get("logsUrl"))
            lines.add(entry + (f" \u2014 {link}" if link else ""))
        if len(causes) > ROOT_CAUSES_SHOWN or distinct > ROOT_CAUSES_SHOWN:
            lines.add(f"\u2022 and {max(distinct, len(causes)) - ROOT_CAUSES_SHOWN} more (see the email)")

    sample = [s for s in _list(d.get("sample")) if isinstance(s, Mapping)]
    if sample:
        lines.add(f"*First {min(len(sample), SAMPLE_SHOWN)} of {failures} failed actions:*")
        shown = 0
        for item in sample[:SAMPLE_SHOWN]:
            if lines.add(_sample_line(item)):
                shown += 1
        if failures > shown:
            lines.add(f"\u2022 and {failures - shown} more (counts above; the email lists {len(sample)})")
    missing = _list_text(d.get("notIncluded"), 300)
    if missing:
        lines.add(f"_Not included: {missing}_")

    steps: List[str] = []
    if causes:
        steps.append(f"Fix the root cause first: {_cause_words(causes[0])} (its log is linked above).")
    if any(item.get("logsUrl") for item in sample):
        steps.append("Open the CloudWatch Logs links of the first failed actions above.")
    steps.append("Requeue the failed tasks once fixed (Deadline Cloud monitor, or `deadline` CLI).")

    return _message(
        message_id=_stable_id("digest", job_id, d.get("windowStart")),
        job_id=job_id,
        title=title,
        description=lines.text(),
        next_steps=steps,
        keywords=["FAILED", "digest", str(d.get("jobName") or job_id or "")] + list(by_status)[:2],
        summary=summary,
        event_type="JobFailuresDigest",
        related=[job_id] + [item.get("sessionActionId") for item in sample[:RELATED_RESOURCES_MAX - 1]],
        context=[("kind", names.KIND_DIGEST), ("farmId", d.get("farmId")), ("queueId", d.get("queueId")),
                 ("jobId", job_id), ("windowStart", d.get("windowStart")), ("windowEnd", d.get("windowEnd")),
                 ("failures", failures), ("status", "FAILED")],
    )


def _sample_line(item: Mapping[str, Any]) -> str:
    what = item.get("taskId") or item.get("environmentId") or item.get("sessionActionId") or "action"
    line = f"\u2022 `{_inline(what, VALUE_LIMIT)}`"
    frames = parameters_text(item.get("parameters"), limit=60)
    if frames:
        line += f" {_code(frames, 80)}"
    line += f" {_inline(item.get('status'), 40) or 'UNKNOWN'}"
    exit_code = item.get("processExitCode")
    if exit_code not in (None, ""):
        line += f", exit {_inline(exit_code, 20)}"
    if item.get("stepName"):
        line += f" in *{_inline(item.get('stepName'), 40)}*"
    if item.get("workerId"):
        line += f" on `{_inline(item.get('workerId'), VALUE_LIMIT)}`"
    message = item.get("progressMessage")
    if message not in (None, ""):
        line += f": {_code(message, DIGEST_MESSAGE_LIMIT)}"
    excerpt = item.get("logExcerpt")
    if isinstance(excerpt, (list, tuple)) and excerpt:
        last = next((str(x) for x in reversed(excerpt) if str(x).strip() and "exited with code" not in str(x)
                     and not str(x).startswith("openjd: ")), str(excerpt[-1]))
        line += f" \u2014 log: {_code(last, DIGEST_MESSAGE_LIMIT)}"
    link = _link("CloudWatch Logs", item.get("logsUrl"))
    return line + (f" \u2014 {link}" if link else "")


# --- a job-level message ----------------------------------------------------------------------------


def _job_run_message(d: Mapping[str, Any]) -> Dict[str, Any]:
    job_id = d.get("jobId")
    job = _inline(d.get("jobName") or job_id or "unknown job", NAME_LIMIT)
    status = _word(d.get("taskRunStatus")) or "UNKNOWN"
    verb = _STATUS_WORDS.get(status, status.lower().replace("_", " "))
    counts = _counts(d.get("taskRunStatusCounts"))
    nonzero = {k: v for k, v in counts.items() if v}
    total = sum(counts.values())
    told = _counts_text(_ordered(nonzero), 3)
    tail = f": job {verb} ({told + ' of ' if told else ''}{total} task{'' if total == 1 else 's'})"
    failed = status in ("FAILED", "CANCELED", "NOT_COMPATIBLE", "SUSPENDED")
    mark = _FAILED_MARK if failed else _DONE_MARK if status == "SUCCEEDED" else _INFO_MARK
    title = _fit(f"{mark} ", job, tail, TITLE_LIMIT)
    summary = _fit("", job, tail, SUMMARY_LIMIT)

    lines = _Lines(DESCRIPTION_LIMIT)
    previous = _word(d.get("previousTaskRunStatus"))
    lines.add(f"*Status:* {status}" + (f" (was {previous})" if previous else ""))
    name = d.get("jobName")
    lines.add(f"*Job:* {_inline(job_text(name, d.get('jobPriority')) if name else job_id, NAME_LIMIT)}"
              + (f" (`{_inline(job_id, VALUE_LIMIT)}`)" if name and job_id else ""))
    lines.add(f"*Tasks:* {total}" + (f" ({_counts_text(_ordered(nonzero), 12)})" if nonzero else ""))
    found = d.get("failureSummary")
    story: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if story.get("story") and story.get("failedActions"):
        lines.add(f"*Failures:* {_inline(story.get('story'), 400)}")
        workers = _counts(story.get("byWorker"))
        if workers:
            lines.add(f"*By worker:* {_counts_text(workers, 5)}")
    for suspect in _list(story.get("suspectWorkers"))[:3]:
        if isinstance(suspect, Mapping):
            lines.add(f"*Suspect worker:* `{_inline(suspect.get('workerId'), VALUE_LIMIT)}`: "
                      f"{_count(suspect.get('failures'))} of {_count(suspect.get('taskRuns'))} task runs failed")
    monitor = _link("Deadline Cloud monitor", d.get("monitorUrl"))
    if monitor:
        lines.add(f"*Job page:* {monitor}")
    missing = _list_text(d.get("notIncluded"), 300)
    if missing:
        lines.add(f"_Not included: {missing}_")

    steps: List[str] = []
    if status == "SUCCEEDED":
        steps.append("Check the job's output.")
    elif status == "CANCELED":
        steps.append("Check who canceled the job and why (Deadline Cloud monitor).")
    else:
        steps.append("Read the failure digests in this thread: they link the failed actions' logs.")
        steps.append("Requeue the failed tasks once fixed (Deadline Cloud monitor, or `deadline` CLI).")

    return _message(
        message_id=_stable_id("job", job_id, status, _digest_of(counts)),
        job_id=job_id,
        title=title,
        description=lines.text(),
        next_steps=steps,
        keywords=[status, "job", str(d.get("jobName") or job_id or "")],
        summary=summary,
        event_type="Job" + _camel(status),
        related=[job_id],
        context=[("kind", names.KIND_JOB_RUN), ("farmId", d.get("farmId")), ("queueId", d.get("queueId")),
                 ("jobId", job_id), ("status", status), ("previousStatus", previous), ("tasks", total)],
    )


_RUN_ORDER = ("FAILED", "CANCELED", "NOT_COMPATIBLE", "SUSPENDED", "INTERRUPTING", "SUCCEEDED", "RUNNING",
              "STARTING", "ASSIGNED", "SCHEDULED", "READY", "PENDING")


def _ordered(counts: Mapping[str, int]) -> Dict[str, int]:
    rank = {s: i for i, s in enumerate(_RUN_ORDER)}
    return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


# --- the message and its limits -------------------------------------------------------------------


def _message(*, message_id: str, job_id: Any, title: str, description: str, next_steps: Sequence[str],
             keywords: Sequence[str], summary: str, event_type: str, related: Sequence[Any],
             context: Sequence[Tuple[str, Any]]) -> Dict[str, Any]:
    return {
        "version": VERSION,
        "source": SOURCE,
        "id": message_id,
        "content": {
            "textType": TEXT_TYPE,
            "title": title,
            "description": description,
            "nextSteps": list(next_steps),
            "keywords": list(keywords),
        },
        "metadata": {
            "threadId": thread_id(job_id),
            "summary": summary,
            "eventType": event_type,
            "relatedResources": [v for v in related if v not in (None, "")],
            "additionalContext": {k: v for k, v in context if v not in (None, "")},
        },
    }


def _finish(message: Dict[str, Any]) -> Dict[str, Any]:
    """Every field a string (list, map) within its limit, whatever the builders made of the input."""
    content, metadata = message["content"], message["metadata"]
    content["title"] = _inline(content.get("title"), TITLE_LIMIT) or "Deadline Cloud notification"
    content["description"] = _cut(str(content.get("description") or ""), DESCRIPTION_LIMIT) or content["title"]
    content["nextSteps"] = _strings(content.get("nextSteps"), NEXT_STEPS_MAX, NEXT_STEP_LIMIT)
    content["keywords"] = _strings(content.get("keywords"), KEYWORDS_MAX, KEYWORD_LIMIT)
    message["id"] = _cut(str(message.get("id") or ""), ID_LIMIT)
    metadata["threadId"] = _cut(str(metadata.get("threadId") or ""), THREAD_ID_LIMIT)
    metadata["summary"] = _inline(metadata.get("summary"), SUMMARY_LIMIT) or content["title"][:SUMMARY_LIMIT]
    metadata["eventType"] = _NOT_WORD.sub("", str(metadata.get("eventType") or ""))[:EVENT_TYPE_LIMIT] or "Unknown"
    metadata["relatedResources"] = _strings(metadata.get("relatedResources"), RELATED_RESOURCES_MAX,
                                            RELATED_RESOURCE_LIMIT)
    context = metadata.get("additionalContext") or {}
    metadata["additionalContext"] = {
        _inline(k, CONTEXT_KEY_LIMIT): _inline(v, CONTEXT_VALUE_LIMIT)
        for k, v in list(context.items())[:CONTEXT_MAX]
        if _inline(k, CONTEXT_KEY_LIMIT) and _inline(v, CONTEXT_VALUE_LIMIT)
    }
    return message


def _fallback(kind: str, job_id: Any, status: Any) -> Dict[str, Any]:
    """A short message when rendering failed on an input nobody expected (nothing of it is shown)."""
    job = _inline(job_id, VALUE_LIMIT) or "unknown job"
    state = _word(status) or "UNKNOWN"
    text = f"Deadline Cloud {kind} notification for job {job} ({state}); see the email or the JSON message."
    return _finish(_message(
        message_id=_stable_id(kind, job_id, state, "fallback"), job_id=job_id, title=text[:TITLE_LIMIT],
        description=text, next_steps=["Read the email notification of this event for the details."],
        keywords=[state, kind], summary=text, event_type=kind[:1].upper() + kind[1:] + _camel(state),
        related=[job_id], context=[("kind", kind), ("jobId", job_id), ("status", state)],
    ))


class _Lines:
    """Markdown lines added in order while the whole stays within ``limit`` characters. A line that
    does not fit is cut when at least a few dozen characters remain, else left out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: List[str] = []
        self.size = 0

    def add(self, line: str) -> bool:
        room = self.limit - self.size - (1 if self.lines else 0)
        if len(line) > room:
            if room < 48 or "](" in line:  # a link cut in half leads nowhere: leave the line out
                return False
            line = _cut(line, room)
        self.size += len(line) + (1 if self.lines else 0)
        self.lines.append(line)
        return True

    def text(self) -> str:
        return "\n".join(self.lines)


# --- text ---------------------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, ``…`` at the end when cut."""
    return text if len(text) <= limit else cut_text(text, max(limit - len(MARKER), 0), MARKER)


def _inline(value: Any, limit: int) -> str:
    """``value`` as one line of text (control characters and line breaks become spaces), cut to ``limit``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if len(text) > 4 * limit + 64:  # do not scan 100 KB to show 300 characters
        text = text[: 4 * limit + 64]
    return _cut(_CONTROL.sub(" ", text).strip(), limit)


def _code(value: Any, limit: int) -> str:
    """Inline code: one line, no backticks inside."""
    return "`" + _inline(value, limit).replace("`", "'") + "`"


def _block(value: Any, limit: int) -> str:
    """A code block of a (multi-line) progress message, cut to ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    text = text[: 2 * limit + 64]
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text).replace("```", "'''").strip("\n")
    return "```\n" + _cut(text, limit) + "\n```"


def _link(label: str, url: Any) -> Optional[str]:
    """``[label](url)`` for an http(s) URL without spaces; ``None`` for anything else or too long."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > URL_LIMIT:
        return None
    if _CONTROL.search(url) or " " in url:
        return None
    return f"[{label}]({url.replace('(', '%28').replace(')', '%29')})"


def _fit(head: str, name: str, tail: str, limit: int) -> str:
    """``head + name + tail`` within ``limit``: the name (a job name) is shortened first."""
    room = limit - len(head) - len(tail)
    if len(name) > room:
        name = _cut(name, max(room, 8))
    return _inline(head + name + tail, limit)


def _word(value: Any) -> str:
    """A status as an upper-case word (``NEVER_ATTEMPTED``), or ``""``."""
    return re.sub(r"[^A-Z0-9_]", "", _inline(value, 40).upper())


def _camel(status: str) -> str:
    """``NEVER_ATTEMPTED`` -> ``NeverAttempted``."""
    return "".join(part.capitalize() for part in status.split("_") if part) or "Unknown"


def _stable_id(kind: str, *parts: Any) -> str:
    """The same id for the same notification (a retry): readable when short, else a digest."""
    text = ":".join([kind] + ["" if p is None else str(p) for p in parts])
    if len(text) <= ID_LIMIT and not _NOT_ID.search(text):
        return text
    return f"{kind[:16]}:{hashlib.sha256(text.encode('utf-8', 'replace')).hexdigest()}"


def _digest_of(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:12]


def _strings(values: Any, max_items: int, limit: int) -> List[str]:
    """Distinct non-empty one-line strings, at most ``max_items`` of ``limit`` characters."""
    out: List[str] = []
    for value in _list(values):
        text = _inline(value, limit)
        if text and text not in out:
            out.append(text)
        if len(out) >= max_items:
            break
    return out


def _list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _list_text(values: Any, limit: int) -> str:
    return _inline("; ".join(_inline(v, 200) for v in _list(values)[:10] if v not in (None, "")), limit)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _counts(value: Any) -> Dict[str, int]:
    """A count table (``{"FAILED": 5}``) with only its integer counts."""
    if not isinstance(value, Mapping):
        return {}
    return {_inline(k, 40): _count(v) for k, v in list(value.items())[:100] if _count(v) or v == 0}


def _counts_text(counts: Mapping[str, int], shown: int) -> str:
    """``FAILED 5, NEVER_ATTEMPTED 2, +1 more``."""
    items = [(k, v) for k, v in counts.items() if v]
    text = ", ".join(f"{k} {v}" for k, v in items[:shown])
    return text + (f", +{len(items) - shown} more" if len(items) > shown else "")


def _window_seconds(start: Any, end: Any) -> Optional[int]:
    try:
        begin = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        finish = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
        seconds = int((finish - begin).total_seconds())
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if seconds > 0 else None
