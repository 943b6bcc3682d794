"""Record -> notification (subject, email text, JSON message, filterable attributes). Pure.

Also the helpers every message of this function shares (``digest.py`` uses them): subject sanitising,
parameter and duration text, the aligned ``Label: value`` rows, the "Not included" line and the SNS size
cap (``fit_message``). Progress messages and parameters are sensitive: they go into the message (that is
its point) and nowhere else; nothing here logs.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .. import names
from .record import Record

SUBJECT_LIMIT = 99  # SNS: under 100 characters
_NOT_SUBJECT_SAFE = re.compile(r"[^\x20-\x7e]")

#: SNS: a published message (body and attributes together) is at most 256 KiB.
SNS_MESSAGE_LIMIT = 256 * 1024
#: The most a rendered ``message`` may take (UTF-8 bytes): the limit less room for the subject (< 100
#: characters) and the attributes (at most 7, values cut to ``ATTRIBUTE_VALUE_LIMIT``).
MESSAGE_BYTE_BUDGET = SNS_MESSAGE_LIMIT - 4 * 1024
#: Put where a text or a list was cut to fit the budget.
CUT_MARKER = "\u2026[cut: SNS size limit]"
TRIMMED_NOTE = "Some long fields were cut to fit the SNS message size limit (marked \u2026[cut])."
#: SNS message attribute values: ids and statuses; anything longer is not one.
ATTRIBUTE_VALUE_LIMIT = 256

#: ``kind`` message attribute (and ``kind`` key of the digest and job-run JSON).
KIND_SESSION_ACTION = names.KIND_SESSION_ACTION
KIND_DIGEST = names.KIND_DIGEST
KIND_JOB_RUN = names.KIND_JOB_RUN
KIND_SUSPECT_WORKER = names.KIND_SUSPECT_WORKER
KIND_JOB_LIFECYCLE = names.KIND_JOB_LIFECYCLE

_ACTION_WORDS = {
    "taskRun": "Task run",
    "envEnter": "Environment enter",
    "envExit": "Environment exit",
    "syncInputJobAttachments": "Job attachments sync",
}

#: Message attributes subscribers can filter on (SNS filter policies), besides ``kind``.
ATTRIBUTE_KEYS = names.RECORD_ATTRIBUTE_KEYS


@dataclass(frozen=True)
class Notification:
    """One notification, rendered for every channel (``names.CHANNELS``)."""

    subject: str  # the email subject (SNS: under 100 printable ASCII characters)
    email: str  # the readable text: the email channel's message
    message: str  # default and email as one JSON text: what the size budget is measured on
    attributes: Dict[str, str]  # filterable message attributes (``kind`` among them)
    body: str = ""  # the JSON object (record, digest, job-level): the machines' message, the event's detail
    chat: Optional[Dict[str, Any]] = None  # Amazon Q Developer custom notification (None: not rendered)

    @property
    def kind(self) -> Optional[str]:
        """``sessionAction``, ``digest`` or ``jobRun`` (also the ``kind`` message attribute)."""
        return self.attributes.get("kind")

    @property
    def job_id(self) -> Optional[str]:
        return self.attributes.get("jobId")


def session_log_location(record: Record) -> Dict[str, Optional[str]]:
    """Where Deadline Cloud writes the session's log (CloudWatch Logs): the enriched location when the
    record has one, else the default ``/aws/deadline/<farmId>/<queueId>``, stream ``<sessionId>``."""
    return {
        "logGroup": record.get("logGroup") or f"/aws/deadline/{record.get('farmId')}/{record.get('queueId')}",
        "logStream": record.get("logStream") or record.get("sessionId"),
    }


# --- per session action --------------------------------------------------------------------------


def render_notification(record: Record) -> Notification:
    """One message for one session action. ``default`` is the record as JSON; ``email`` the text.

    The message always fits SNS: when it would not, the log excerpt shrinks first (to its last 5 lines, then
    none), then the email's biggest text fields (progressMessage, parameters, rootCause.progressMessage) are
    cut with a marker, then all of its fields; when the record alone is too big, the record's too, then only
    ids remain. Never raises on a record of any size.
    """
    big, everything = _trim_big_fields(1024, 50), _trim_everything(64, 8)
    default, email, message = fit_message(
        lambda pair, note: (_record_json(pair[0]), _render_email(pair[1], note)),
        (record, record),  # (what the JSON default shows, what the email shows)
        reductions=[
            # The log excerpt shrinks first (the log link stays), then the other big fields.
            lambda pair: (excerpt_tail(pair[0], 5), excerpt_tail(pair[1], 5)),
            lambda pair: (excerpt_tail(pair[0], 0), excerpt_tail(pair[1], 0)),
            lambda pair: (excerpt_tail(pair[0], 0), big(excerpt_tail(pair[1], 0))),
            lambda pair: (excerpt_tail(pair[0], 0), everything(pair[1])),
            lambda pair: (big(excerpt_tail(pair[0], 0)), everything(pair[1])),
            lambda pair: (_trim_big_fields(200, 10)(pair[0]), everything(pair[1])),
            lambda pair: (_trim_everything(256, 20)(pair[0]), everything(pair[1])),
            lambda pair: (everything(pair[0]), everything(pair[1])),
        ],
        minimal=lambda pair: (_minimal_record(pair[0]),) * 2,
    )
    attributes = attribute_values({k: record.get(k) for k in ATTRIBUTE_KEYS})
    attributes["kind"] = KIND_SESSION_ACTION
    return Notification(subject=render_subject(record), email=email, message=message, attributes=attributes,
                        body=default, chat=_chat_for_record(record))


def _chat_for_record(record: Record) -> Dict[str, Any]:
    from .chat import chat_for_record  # chat.py uses this module's text helpers: imported at call time

    return chat_for_record(record)



def render_subject(record: Record) -> str:
    """``Deadline: <job name>: <step> <frame/parameters> <failed|completed...> (exit N) on <worker>``, under 100
    printable ASCII characters: the job's name, what happened and the exit code always; then the first
    parameter (the frame), the worker and the other parameters as room allows, each whole (cut at word
    boundaries, never mid-path)."""
    verb = {"completion": "completed", "failure": _failure_word(record)}.get(
        record.get("outcome") or "", str(record.get("status") or "").lower()
    )
    exit_code = record.get("processExitCode")
    exit_text = f" (exit {exit_code})" if exit_code not in (None, 0) else ""
    action = record.get("actionType") or ""
    optional: List[str] = []
    if action == "taskRun" or record.get("taskId"):
        what = str(record.get("stepName") or "Task")
        optional = _parameter_words(record.get("parameters"))
        if not optional and record.get("taskId"):
            optional = [f"task {_task_number(record.get('taskId'))}"]
        core = f"{verb}{exit_text}"
    else:
        what = _ACTION_WORDS.get(action, f"Action {action}")
        environment = record.get("environmentId")
        if environment:
            what += " " + str(environment).rsplit(":", 1)[-1]
        elif record.get("stepName") or record.get("stepId"):
            what += f" of {record.get('stepName') or record.get('stepId')}"
        core = f"{verb}{exit_text}"
    worker = record.get("workerId")
    return job_subject(record.get("jobName") or record.get("jobId") or "unknown job",
                       what, core, optional, on=str(worker) if worker else None)


def job_subject(job: Any, what: str, core: str, optional: Sequence[str] = (), *, on: Optional[str] = None) -> str:
    """``Deadline: <job>: <what> <first optional> <core> on <on> <more optional>`` within ``SUBJECT_LIMIT``.

    ``job``, ``what`` and ``core`` stay (the job name shortened at a word boundary when it leaves too little
    room); the ``optional`` words (parameters) and the worker ``on`` go in whole as room allows: the first
    optional word, then the worker (its id shortened to its first characters when whole it does not fit),
    then the other optional words. Printable ASCII only."""
    clean = [_NOT_SUBJECT_SAFE.sub("?", str(x)) for x in (job, what, core)]
    job_text_, what, core = clean
    extras = [_NOT_SUBJECT_SAFE.sub("?", str(x)) for x in optional if x not in (None, "")]
    worker = _NOT_SUBJECT_SAFE.sub("?", on) if on else None
    base = len("Deadline: ") + len(": ") + len(what) + 1 + len(core)
    job_room = max(SUBJECT_LIMIT - base, 16)
    job_text_ = cut_words(job_text_, min(job_room, 40)) if len(job_text_) > job_room else job_text_

    def text(first: List[str], worker_text: Optional[str], rest: List[str]) -> str:
        middle = " ".join([what] + first + [core])
        tail = (f" on {worker_text}" if worker_text else "") + "".join(f", {w}" for w in rest)
        return f"Deadline: {job_text_}: {middle}{tail}"

    chosen = text([], None, [])
    first = extras[:1]
    if first and len(text(first, None, [])) <= SUBJECT_LIMIT:
        chosen = text(first, None, [])
    else:
        first = []
    shown_worker = None
    if worker:
        for candidate in (worker, _short_id(worker)):
            if len(text(first, candidate, [])) <= SUBJECT_LIMIT:
                shown_worker = candidate
                chosen = text(first, candidate, [])
                break
    rest: List[str] = []
    for word in extras[1:] if first else []:
        if len(text(first, shown_worker, rest + [word])) > SUBJECT_LIMIT:
            break
        rest.append(word)
        chosen = text(first, shown_worker, rest)
    return subject_text(chosen) if len(chosen) > SUBJECT_LIMIT else chosen


def cut_words(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at the last space (or ``_``/``-``) before it with ``...``;
    a text without such a boundary is cut where it must be."""
    if len(text) <= limit:
        return text
    room = max(limit - 3, 1)
    head = text[:room]
    for separator in (" ", "_", "-"):
        at = head.rfind(separator)
        if at >= room // 2:
            return head[:at].rstrip(" ,;:([") + "..."
    return head + "..."


def _parameter_words(parameters: Any) -> List[str]:
    """``Name=value`` of each parameter for a subject: the frame first, paths last (the first to be left out),
    else by name; each value cut to 60 characters."""
    if not isinstance(parameters, Mapping):
        return []

    def rank(item: Tuple[Any, Any]) -> Tuple[int, str]:
        name, value = str(item[0]), str(item[1])
        if name.lower() in ("frame", "frames", "f"):
            return (0, name)
        return (2 if ("/" in value or "\\" in value) else 1, name)

    return [f"{name}={cut_text(str(value), 60, '...')}" for name, value in sorted(parameters.items(), key=rank)]


def _short_id(resource_id: str) -> str:
    """``worker-0123456789abcdef...`` -> ``worker-01234567...`` (enough to tell workers apart)."""
    prefix, _, rest = resource_id.partition("-")
    return f"{prefix}-{rest[:8]}..." if rest and len(rest) > 8 else resource_id


def _task_number(task_id: Any) -> str:
    text = str(task_id or "")
    return text.rsplit("-", 1)[-1] if "-" in text else text


def render_email(record: Record) -> str:
    """Short human-readable text: job, step, task, status, exit code, duration, message, where the logs
    are (with a console link), the monitor link, the root cause and what could not be found out."""
    return _render_email(record, None)


def _render_email(record: Record, note: Optional[str]) -> str:
    logs = session_log_location(record)
    job_name = record.get("jobName")
    rows = [
        ("Status", f"{record.get('status')} ({record.get('outcome')})"),
        ("Action", record.get("actionType")),
        ("Job", job_text(job_name, record.get("jobPriority")) if job_name else record.get("jobId")),
        ("Job id", record.get("jobId") if job_name else None),
        ("Step", step_text(record.get("stepName"), record.get("stepId"))),
        ("Task", record.get("taskId")),
        ("Environment", record.get("environmentId")),
        ("Parameters", parameters_text(record.get("parameters"))),
        ("Exit code", record.get("processExitCode")),
        ("Duration", duration_text(record.get("durationSeconds"))),
        ("Progress", _percent_text(record.get("progressPercent"))),
        ("Message", record.get("progressMessage")),
        ("Started", record.get("startedAt")),
        ("Ended", record.get("endedAt")),
        ("Session", record.get("sessionId")),
        ("Session action", record.get("sessionActionId")),
        ("Worker", record.get("workerId")),
        ("Fleet", record.get("fleetId")),
        ("Farm / queue", f"{record.get('farmId')} / {record.get('queueId')}"),
        ("Log group", logs["logGroup"]),
        ("Log stream", logs["logStream"]),
        ("Logs", record.get("logsUrl")),
        ("Monitor", record.get("monitorUrl")),
    ]
    blocks = [render_subject(record) + "\n\n" + rows_text(rows)]
    excerpt = log_excerpt_text(record.get("logExcerpt"))
    if excerpt:
        blocks.append(excerpt)
    cause = record.get("rootCause")
    if isinstance(cause, Mapping) and any(v is not None for v in cause.values()):
        blocks.append("Root cause (the first failed action of this session):\n"
                      + rows_text(root_cause_rows(cause), indent="  "))
    missing = not_included_text(record.get("enrichmentMissing"))
    if missing:
        blocks.append(missing + "\n")
    if note:
        blocks.append(note + "\n")
    return "\n".join(blocks)


def step_text(name: Any, step_id: Any) -> Optional[str]:
    """``Render (step-0123...)``: the step's name with its id; the id alone without a name."""
    if name and step_id:
        return f"{name} ({step_id})"
    return str(name or step_id) if (name or step_id) else None


def log_excerpt_text(lines: Any, indent: str = "  ", heading: str = "The end of the session's log, up to the "
                     "action's end") -> Optional[str]:
    """The excerpt as an indented block under a heading that says how many lines it is; ``None`` without."""
    if not isinstance(lines, (list, tuple)):
        return None
    if not lines:
        return f"{heading}: nothing was logged.\n"
    body = "".join(f"{indent}{line}\n" for line in lines)
    return f"{heading} (last {len(lines)} line{'' if len(lines) == 1 else 's'}):\n{body}"


def excerpt_tail(record: Mapping[str, Any], lines: int) -> Dict[str, Any]:
    """``record`` with only the last ``lines`` of its ``logExcerpt`` (none when 0): a size reduction."""
    out = dict(record)
    excerpt = out.get("logExcerpt")
    if isinstance(excerpt, (list, tuple)) and len(excerpt) > lines:
        out["logExcerpt"] = list(excerpt[len(excerpt) - lines:]) if lines else None
    return out


def root_cause_rows(cause: Mapping[str, Any], message_limit: Optional[int] = None) -> List[Tuple[str, Any]]:
    """``Label: value`` rows of a ``rootCause`` dict (``ROOT_CAUSE_FIELDS``)."""
    action = cause.get("actionType")
    what = _ACTION_WORDS.get(action or "", action)
    target = cause.get("environmentId") or cause.get("taskId") or cause.get("stepId")
    message = cause.get("progressMessage")
    if message_limit is not None and isinstance(message, str):
        message = cut_text(message, message_limit, "...")
    return [
        ("Action", " ".join(str(p) for p in (what, target) if p) or None),
        ("Status", cause.get("status")),
        ("Exit code", cause.get("processExitCode")),
        ("Message", message),
        ("Ended", cause.get("endedAt")),
        ("Step", cause.get("stepId") if cause.get("taskId") else None),
        ("Session action", cause.get("sessionActionId")),
    ]


def _record_json(record: Mapping[str, Any]) -> str:
    return json_text(record, sort_keys=True)


def json_text(document: Mapping[str, Any], sort_keys: bool = False) -> str:
    """Compact JSON of a message document; never raises (an odd value is written as its text)."""
    try:
        return json.dumps(document, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted; a cycle cannot be written
        return json.dumps({str(k): _plain(v) for k, v in document.items()}, separators=(",", ":"),
                          ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    try:
        json.dumps(value, default=str)
        return value
    except (TypeError, ValueError):
        return repr(value)


_BIG_FIELDS = ("progressMessage", "parameters", "parameterTypes", "logExcerpt")


def _trim_big_fields(text_limit: int, max_items: int) -> Callable[[Mapping[str, Any]], Dict[str, Any]]:
    def trim(record: Mapping[str, Any]) -> Dict[str, Any]:
        out = dict(record)
        for key in _BIG_FIELDS:
            if key in out:
                out[key] = shrink(out[key], text_limit, max_items)
        cause = out.get("rootCause")
        if isinstance(cause, Mapping):
            out["rootCause"] = dict(cause, progressMessage=shrink(cause.get("progressMessage"), text_limit, max_items))
        return out
    return trim


def _trim_everything(text_limit: int, max_items: int) -> Callable[[Mapping[str, Any]], Dict[str, Any]]:
    def trim(record: Mapping[str, Any]) -> Dict[str, Any]:
        out = _trim_big_fields(min(text_limit, 32), min(max_items, 5))(record)
        return {k: shrink(v, text_limit, max_items) for k, v in itertools.islice(out.items(), 64)}
    return trim


_ID_KEYS = ("farmId", "queueId", "jobId", "sessionId", "sessionActionId", "status", "outcome", "terminal",
            "actionType", "stepId", "taskId", "environmentId", "processExitCode", "endedAt")


def _minimal_record(record: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: shrink(record.get(k), 128, 1) for k in _ID_KEYS}


# --- shared by every kind of message --------------------------------------------------------------


def subject_text(text: str) -> str:
    """``text`` as an SNS subject: printable ASCII only (others become '?'), under 100 characters."""
    subject = _NOT_SUBJECT_SAFE.sub("?", text)
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 3] + "..."
    return subject


def fit_subject(head: str, name: str, tail: str) -> str:
    """``head + name + tail`` as a subject, shortening ``name`` (a job name, say) first, at a word boundary,
    so that the head and the tail stay whole."""
    head, name, tail = (_NOT_SUBJECT_SAFE.sub("?", part) for part in (head, name, tail))
    room = SUBJECT_LIMIT - len(head) - len(tail)
    if len(name) > room and room >= 8:
        name = cut_words(name, room)
    return subject_text(head + name + tail)


def job_text(name: Any, priority: Any) -> Optional[str]:
    """``shot-042 (priority 50)``; ``None`` without a name."""
    if not name:
        return None
    return f"{name} (priority {priority})" if priority is not None else str(name)


def parameters_text(parameters: Any, limit: int = 200) -> Optional[str]:
    """``Frame=12, Scene=/mnt/a.blend`` (sorted by name), at most ``limit`` characters."""
    if not parameters or not isinstance(parameters, Mapping):
        return None
    parts: List[str] = []
    size = 0
    for key in sorted(parameters, key=str):
        value = parameters[key]
        if isinstance(value, str) and len(value) > limit:
            value = value[: limit + 1]
        part = f"{key}={value}"
        parts.append(part)
        size += len(part) + 2
        if size > limit:
            break
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def duration_text(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{seconds:.1f}s"


def rows_text(rows: Iterable[Tuple[str, Any]], indent: str = "") -> str:
    """Aligned ``Label: value`` lines for a plain-text mail client; rows without a value are left out;
    a value over several lines is indented under the first."""
    rows = [(label, value) for label, value in rows if value not in (None, "")]
    if not rows:
        return ""
    width = max(len(label) for label, _ in rows) + 1
    pad = "\n" + indent + " " * (width + 1)
    return "".join(f"{indent}{label + ':':<{width}} {str(value).replace(chr(10), pad)}\n" for label, value in rows)


def not_included_text(missing: Optional[Iterable[Any]], limit: int = 20) -> Optional[str]:
    """``Not included: jobName: GetJob ThrottlingException; ...`` (deduplicated) or ``None``."""
    items = dedupe(missing or ())
    if not items:
        return None
    shown = [cut_text(str(m), 200, "...") for m in items[:limit]]
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "Not included: " + "; ".join(shown) + more


def dedupe(values: Iterable[Any]) -> List[Any]:
    """Distinct values, first seen first (hashable values; others by their text)."""
    seen: Dict[Any, None] = {}
    for value in values:
        if value is None or value == "":
            continue
        try:
            seen.setdefault(value, None)
        except TypeError:
            seen.setdefault(str(value), None)
    return list(seen)


def attribute_values(values: Mapping[str, Any]) -> Dict[str, str]:
    """SNS message attributes: strings, never empty, short, valid UTF-8."""
    out = {}
    for key, value in values.items():
        if value in (None, ""):
            continue
        out[key] = _utf8_clean(cut_text(str(value), ATTRIBUTE_VALUE_LIMIT, "..."))
    return out


def cut_text(text: str, limit: int, marker: str = CUT_MARKER) -> str:
    """``text`` whole when it has at most ``limit`` characters, else its first ``limit`` and ``marker``."""
    return text if len(text) <= limit else text[: max(limit, 0)] + marker


def shrink(value: Any, text_limit: int, max_items: int, depth: int = 0) -> Any:
    """``value`` with every string cut to ``text_limit`` characters and every list or map to
    ``max_items`` entries (an extra entry says how many were left out), each with ``CUT_MARKER``."""
    if isinstance(value, str):
        return cut_text(value, text_limit)
    if depth >= 6 and isinstance(value, (Mapping, list, tuple)):
        return CUT_MARKER
    if isinstance(value, Mapping):
        out = {}
        for key, item in itertools.islice(value.items(), max_items):
            if isinstance(key, str):
                key = cut_text(key, text_limit)
            out[key] = shrink(item, text_limit, max_items, depth + 1)
        if len(value) > max_items:
            out[CUT_MARKER] = f"{len(value) - max_items} more"
        return out
    if isinstance(value, (list, tuple)):
        items = [shrink(item, text_limit, max_items, depth + 1) for item in value[:max_items]]
        if len(value) > max_items:
            items.append(f"{len(value) - max_items} more {CUT_MARKER}")
        return items
    return value


def encode_message(default: str, email: str) -> Tuple[str, int]:
    """The SNS ``Message`` for ``MessageStructure="json"`` and its size in UTF-8 bytes."""
    message = _utf8_clean(json.dumps({"default": default, "email": email}, ensure_ascii=False))
    return message, len(message.encode("utf-8"))


def fit_message(
    render: Callable[[Any, Optional[str]], Tuple[str, str]],
    content: Any,
    *,
    reductions: Sequence[Callable[[Any], Any]],
    minimal: Callable[[Any], Any],
) -> Tuple[str, str, str]:
    """``(default, email, message)`` of ``content``, or of the first of its ``reductions`` whose message
    fits ``MESSAGE_BYTE_BUDGET``, or of ``minimal(content)``. ``render(content, note)`` gives
    ``(default JSON, email text)``; ``note`` (``TRIMMED_NOTE``) is set when something was cut.
    Always returns a message within the budget."""
    default, email = render(content, None)
    message, size = encode_message(default, email)
    if size <= MESSAGE_BYTE_BUDGET:
        return default, email, message
    for reduce in list(reductions) + [minimal]:
        default, email = render(reduce(content), TRIMMED_NOTE)
        message, size = encode_message(default, email)
        if size <= MESSAGE_BYTE_BUDGET:
            return default, email, message
    # Not reached for any content the reductions know; kept so that the budget holds whatever happens.
    # A character takes at most 12 bytes here (6 for a JSON escape, twice escaped), so this fits.
    email = cut_text(email, MESSAGE_BYTE_BUDGET // 16)
    default = json.dumps({"truncated": True, "note": TRIMMED_NOTE}, ensure_ascii=False)
    message, _ = encode_message(default, email)
    return default, email, message


def _utf8_clean(text: str) -> str:
    """``text`` as valid UTF-8 (a lone surrogate becomes '?'): SNS rejects anything else."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


# --- wording -------------------------------------------------------------------------------------


def _failure_word(record: Record) -> str:
    return {
        "FAILED": "failed",
        "CANCELED": "canceled",
        "INTERRUPTED": "interrupted",
        "NEVER_ATTEMPTED": "never attempted",
        "RECLAIMED": "reclaimed",
    }.get(record.get("status") or "", "failed")


def _target(record: Record) -> str:
    if record.get("taskId"):
        frame = parameters_text(record.get("parameters"), limit=40)
        return (f"[{frame}] " if frame else "") + str(record["taskId"])
    if record.get("environmentId"):
        return str(record["environmentId"])
    if record.get("stepId"):
        return f"step {record['stepId']}"
    return f"job {record.get('jobId')}"


def _parameters_text(record: Record, limit: int = 200) -> Optional[str]:
    """Kept for callers of the earlier name: ``parameters_text`` of the record's parameters."""
    return parameters_text(record.get("parameters"), limit)


_duration_text = duration_text


def _percent_text(value: Optional[float]) -> Optional[str]:
    return None if value is None else f"{value:.1f}%"
