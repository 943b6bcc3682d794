"""What must be true at the end of a scenario: the scenario's own expectations plus invariants that hold
for every scenario, in the notification mode the deployed function runs (``NOTIFY_MODE``: ``each`` or
``digest``). Each check is a line of the report; the verdict is PASS when all of them pass.

The ``expect`` block of a scenario::

    "rows": {"frame-7": {"status": "FAILED", "outcome": "failure", "processExitCode": 139}, ...}
        exactly these rows in the history table (labels as in local/demo/scenario.py), with these fields
    "rowGroups": {"frame-*": {"count": 1000, "fields": {"status": "FAILED", "processExitCode": 1}}}
        rows by label pattern (for big jobs): that many rows match, each with these fields; "rows" and
        "rowGroups" together name every row the table may hold
    "notRecorded": {"frame-9": "why", "enter@*": "why"}
        labels (shell-style patterns) that must have no row; the reason is printed
    "rootCause": {"frame-1?": {"actionType": "envEnter", "status": "FAILED", "processExitCode": 1}}
        the ``rootCause`` of the rows matching each pattern has these fields
    "jobRun": {"status": "FAILED", "counts": {"SUCCEEDED": 7, "FAILED": 4}}
        the one job-level message (Job Run Status Change) in both modes: its status and non-zero counts
    "deliveries": {"matched": 14}     events the deployed rules matched (duplicates included)
    "deadLetters": 0                  messages in the dead-letter queues at the end (all of them)
    "functionErrors": 0               times the function failed an event: invocations that raised (direct
                                      delivery; Lambda retries them) and queue messages left for redelivery
                                      (batch items failed, or every message of a batch that raised)
    "throttled": {"min": 5}           ThrottlingExceptions the Deadline Cloud stand-in injected
    "stateMachine": per run, in the scenario's "stateMachine" list: {"status", "error", "outcome"}
    each mode only:
    "notifications": ["frame-1", ...]
        exactly one per-action message for each, with the row's status, and no other per-action message
        (default: every expected row whose status the function notifies, NOTIFY_STATUSES)
    "emails": {"frame-7": ["exit 139", "Segmentation fault"]}
        text the e-mail of that action's message must contain
    digest mode only:
    "digest": {"messages": 1, "failures": 1000, "rootCauses": 1, "emails": ["1000 failures", "bad scene"]}
        digest messages in all, failed actions they count, distinct root causes they name, e-mail text

A number can be exact (``3``) or a range (``{"min": 1, "max": 4}``).

Invariants checked in every run: each channel received every notification once, in its format: the email
topic the text (same subject and attributes as the machines message), the chat topic an Amazon Q Developer
custom notification, and the events queue (through the deployed rule) an event of source ``session-watch``
with the detail-type of its kind and the machines message's JSON as ``detail``; the deployed code is lambda_src/; every matched event was processed; rows
are terminal; every NEVER_ATTEMPTED row has a root cause (the session's first FAILED action); one job-level
message per terminal Job Run Status Change, with its counts; the dead-letter queues are empty. In ``each``
mode: one per-action message per (action, status), matching its row. In ``digest`` mode: no per-action
message; at most one digest per job and window; the digests of a job count exactly its failures in the
table; every failure row carries its ``digestWindow`` and a digest of that window exists; every digest
window in the ledger ended ``published``.
"""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

import fnmatch
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .run import DemoResult

TERMINAL = {"SUCCEEDED", "FAILED", "INTERRUPTED", "CANCELED", "NEVER_ATTEMPTED", "RECLAIMED"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def plural(count: int, singular: str, plural_form: Optional[str] = None) -> str:
    """``1 digest``, ``2 digests``; ``plural(2, "batch", "batches")``."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def _count_ok(value: int, expected: Any) -> bool:
    if expected is None:
        return True
    if isinstance(expected, dict):
        return expected.get("min", value) <= value <= expected.get("max", value)
    return value == expected


def _show(expected: Any) -> str:
    if isinstance(expected, dict):
        lo, hi = expected.get("min"), expected.get("max")
        if lo is not None and hi is not None:
            return f"{lo}..{hi}"
        return f">= {lo}" if lo is not None else f"<= {hi}"
    return str(expected)


def _matches(label: Optional[str], pattern: str) -> bool:
    return label is not None and fnmatch.fnmatchcase(label, pattern)


def _window_iso(window_start: int) -> str:
    return datetime.fromtimestamp(int(window_start), tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _same_instant(a: Any, b: Any) -> bool:
    """Two window starts (ISO strings or epoch seconds) name the same second."""
    def seconds(value: Any) -> Optional[float]:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            if value.isdigit():
                return float(value)
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
        return None

    x, y = seconds(a), seconds(b)
    return x is not None and x == y


def evaluate(result: "DemoResult") -> List[Check]:
    expect = result.scenario.expect
    checks: List[Check] = []
    add = checks.append
    mode = result.mode
    notify_statuses = set(result.notify_statuses or TERMINAL)

    # The deployed function runs the code under test.
    code = result.code_check
    add(Check("deployed function code is the synthesised asset and the asset is lambda_src/",
              code["ok"], code["detail"]))

    # Deliveries.
    deliveries = [d for d, _ in result.play.deliveries]
    matched = [d for d in deliveries if d.matched]
    want_matched = expect.get("deliveries", {}).get("matched")
    add(Check(
        "events matched by the deployed rules",
        _count_ok(len(matched), want_matched),
        f"{len(matched)} of {len(deliveries)} events matched"
        + (f" (expected {_show(want_matched)})" if want_matched is not None else ""),
    ))
    unprocessed = [d for d in matched if not d.processed]
    add(Check(
        "every matched event was processed (after Lambda's retries or the queue's redeliveries)",
        not unprocessed,
        "all processed" if not unprocessed else
        "; ".join(f"{d.label or d.event['detail-type']}: {d.outcome}"
                  + (f" ({d.attempts[-1].summary()})" if d.attempts else "") for d in unprocessed[:10]),
    ))
    raised = [i for d in matched for i in d.invocations if not i.ok]
    batch_errors = [b for b in result.batches if b.invocation is not None and not b.invocation.ok]
    items_failed = sum(len(b.failed) for b in result.batches)
    failures = len(raised) + items_failed
    if "functionErrors" in expect or failures:
        detail = f"{plural(len(raised), 'direct invocation')} raised" if raised or not result.batches else ""
        if result.batches:
            detail += (", " if detail else "") + (f"{plural(items_failed, 'queue message')} left for redelivery "
                                                  f"({plural(len(batch_errors), 'batch', 'batches')} raised)")
        types = sorted(Counter(i.error_type for i in raised) | Counter(b.invocation.error_type for b in batch_errors))
        add(Check(
            "function failures (each retried by Lambda or redelivered by the queue)",
            _count_ok(failures, expect.get("functionErrors", 0)),
            detail + (": " + ", ".join(types) if types else "")
            + f" (expected {_show(expect.get('functionErrors', 0))})",
        ))
    if "throttled" in expect:
        add(Check(
            "throttling injected by the Deadline Cloud stand-in",
            _count_ok(result.throttled, expect["throttled"]),
            f"{plural(result.throttled, 'ThrottlingException')} answered (expected {_show(expect['throttled'])})",
        ))
    if result.batches:
        stats = result.event_sources or {}
        over = [f"{q}: {s['peakConcurrency']} > {s['maximumConcurrency']}" for q, s in stats.items()
                if s.get("maximumConcurrency") and s["peakConcurrency"] > s["maximumConcurrency"]]
        add(Check("SQS event sources: batches within BatchSize and MaximumConcurrency", not over,
                  "; ".join(f"{q}: {plural(s['batches'], 'batch', 'batches')}, {plural(s['records'], 'record')}, largest {s['largestBatch']}, "
                            f"peak concurrency {s['peakConcurrency']}" for q, s in stats.items() if s["batches"])
                  + ("; OVER: " + ", ".join(over) if over else "")))

    # The history table.
    rows = {r["label"]: r for r in result.rows if r.get("label")}
    unlabelled = [r for r in result.rows if not r.get("label")]
    expected_rows: Dict[str, Dict[str, Any]] = expect.get("rows", {})
    groups: Dict[str, Dict[str, Any]] = expect.get("rowGroups", {})
    grouped = {label for label in rows if label not in expected_rows and any(_matches(label, g) for g in groups)}
    missing = sorted(set(expected_rows) - set(rows))
    extra = sorted(set(rows) - set(expected_rows) - grouped) + [r["sessionActionId"] for r in unlabelled]
    group_counts = {g: sum(1 for label in grouped if _matches(label, g)) for g in groups}
    short = [f"{g}: {n} rows, expected {_show(groups[g].get('count'))}" for g, n in group_counts.items()
             if not _count_ok(n, groups[g].get("count"))]
    add(Check(
        "history table holds exactly the expected rows",
        not missing and not extra and not short,
        f"{plural(len(result.rows), 'row')} (expected {len(expected_rows) + sum(group_counts.values())})"
        + _listed("missing", missing) + _listed("unexpected", extra[:20]) + _listed("groups", short),
    ))
    wrong = []
    for label, fields in list(expected_rows.items()) + [
            (label, next(spec.get("fields", {}) for g, spec in groups.items() if _matches(label, g)))
            for label in sorted(grouped)]:
        row = rows.get(label)
        if row is None:
            continue
        for key, value in fields.items():
            if row.get(key) != value:
                wrong.append(f"{label}.{key} = {row.get(key)!r}, expected {value!r}")
        if row.get("status") in TERMINAL and row.get("terminal") is not True:
            wrong.append(f"{label}.terminal is {row.get('terminal')!r}")
    add(Check("every row has the expected status, outcome and fields", not wrong,
              "; ".join(wrong[:20]) + (f" (+{len(wrong) - 20} more)" if len(wrong) > 20 else "")
              or "all as expected"))
    absent = expect.get("notRecorded", {})
    present = sorted(label for label in rows for pattern in absent if fnmatch.fnmatchcase(label, pattern))
    add(Check(
        "actions that must not be recorded are not",
        not present,
        "none recorded" if not present else f"recorded: {', '.join(present)}",
    ))
    in_progress = [label for label, row in rows.items() if row.get("status") not in TERMINAL
                   and expected_rows.get(label, {}).get("status") != row.get("status")]
    if in_progress:
        add(Check("no row left in an in-progress status", False, ", ".join(in_progress)))

    # Root causes (enrichment, both modes).
    never = [r for r in result.rows if r.get("status") == "NEVER_ATTEMPTED"]
    if never:
        lacking = [r.get("label") or r["sessionActionId"] for r in never
                   if not isinstance(r.get("rootCause"), dict) or r["rootCause"].get("status") != "FAILED"
                   or r["rootCause"].get("sessionId") != r.get("sessionId")]
        add(Check("every NEVER_ATTEMPTED row names its root cause (the session's first FAILED action)", not lacking,
                  f"{len(never) - len(lacking)} of {len(never)} rows" + _listed("without", lacking[:20])))
    cause_problems = []
    for pattern, fields in expect.get("rootCause", {}).items():
        hits = [r for label, r in rows.items() if _matches(label, pattern)]
        if not hits:
            cause_problems.append(f"{pattern}: no row")
        for row in hits:
            cause = row.get("rootCause") or {}
            for key, value in fields.items():
                if cause.get(key) != value:
                    cause_problems.append(f"{row['label']}.rootCause.{key} = {cause.get(key)!r}, expected {value!r}")
    if expect.get("rootCause"):
        add(Check("root causes as expected", not cause_problems,
                  "; ".join(cause_problems[:10]) or f"{plural(len(expect['rootCause']), 'pattern')} as expected"))

    _failure_detail_checks(result, add)

    notifications = result.notifications
    per_action = [n for n in notifications if result.kind_of(n) == "sessionAction"]
    digests = [n for n in notifications if result.kind_of(n) == "digest"]
    job_runs = [n for n in notifications if result.kind_of(n) == "jobRun"]

    if mode == "digest":
        _digest_checks(result, add, rows, per_action, digests, expect)
    else:
        _each_checks(result, add, rows, expected_rows, groups, grouped, per_action, notify_statuses, expect)

    # Job-level messages (both modes).
    terminal_job_events = {}
    for delivery, emitted in result.play.deliveries:
        detail = emitted.event["detail"]
        if emitted.detail_type == "Job Run Status Change" and delivery.matched:
            key = (detail["jobId"], detail["taskRunStatus"])
            terminal_job_events[key] = detail.get("taskRunStatusCounts") or {}
    seen = Counter((n.record.get("jobId"), n.record.get("taskRunStatus")) for n in job_runs)
    job_problems = [f"{status} of {job}: {seen.get((job, status), 0)} messages"
                    for (job, status) in terminal_job_events if seen.get((job, status), 0) != 1]
    job_problems += [f"unexpected {status} of {job}" for (job, status) in seen if (job, status) not in terminal_job_events]
    for n in job_runs:
        counts = terminal_job_events.get((n.record.get("jobId"), n.record.get("taskRunStatus")))
        if counts is not None and {k: v for k, v in (n.record.get("taskRunStatusCounts") or {}).items() if v} != {
                k: v for k, v in counts.items() if v}:
            job_problems.append(f"counts {n.record.get('taskRunStatusCounts')} differ from the event's {counts}")
        if n.attributes.get("status") != n.record.get("taskRunStatus"):
            job_problems.append(f"attributes {n.attributes}")
    want_job = expect.get("jobRun")
    if want_job:
        mine = [n for n in job_runs if n.record.get("taskRunStatus") == want_job.get("status")]
        if len(mine) != 1:
            job_problems.append(f"{len(mine)} {want_job.get('status')} job-level messages, expected 1")
        else:
            counts = {k: v for k, v in (mine[0].record.get("taskRunStatusCounts") or {}).items() if v}
            if "counts" in want_job and counts != want_job["counts"]:
                job_problems.append(f"counts {counts}, expected {want_job['counts']}")
    if terminal_job_events or job_runs or want_job:
        add(Check("one job-level message per terminal Job Run Status Change, with its task run counts",
                  not job_problems,
                  "; ".join(job_problems) or ", ".join(
                      f"{n.record.get('taskRunStatus')} ({_task_total(n.record)} tasks)" for n in job_runs)))

    _story_checks(result, add, rows, digests, job_runs, mode)
    _suspect_checks(result, add, notifications, expect)

    # Delivery anomalies the scenario staged.
    for delivery, emitted in result.play.duplicates:
        label = emitted.label
        count = sum(1 for n in per_action if result.label_of(n.record.get("sessionActionId")) == label)
        ok = delivery.processed and count <= 1
        add(Check(f"duplicate delivery ({emitted.describe()}) published nothing more", ok,
                  f"processed again ({delivery.outcome}); {plural(count, 'per-action message')} for {label}"))
    delivered_order = [e for _, e in result.play.deliveries]
    for delivery, emitted in result.play.late:
        label = emitted.label
        row = rows.get(label or "")
        position = next(i for i, e in enumerate(delivered_order) if e is emitted)
        task_id = emitted.event["detail"].get("taskId")
        newer = [e for e in result.play.emitted[result.play.emitted.index(emitted) + 1:]
                 if e.event["detail"].get("taskId") == task_id and e.detail_type == "Task Run Status Change"]
        overtaken = [e.describe() for e in newer if e in delivered_order[:position]]
        if label is None or any(fnmatch.fnmatchcase(label, p) for p in absent):
            recorded_right = row is None
        else:
            recorded_right = row is not None and row.get("status") == expected_rows.get(label, {}).get("status")
        ok = (delivery.processed or not delivery.matched) and recorded_right
        ok = ok and bool(overtaken)
        add(Check(f"late delivery ({emitted.describe()}) recorded the action it is about, nothing regressed", ok,
                  f"delivered after {', '.join(overtaken) or 'nothing newer (not out of order)'}; {delivery.outcome}; "
                  f"row {label}: {row.get('status') if row else 'none'}"))

    # State machine runs.
    for run, spec in zip(result.state_machine_runs, result.scenario.state_machine):
        want = spec.get("expect", {})
        problems = []
        if run.problem:
            problems.append(run.problem)
        if "status" in want and run.status != want["status"]:
            problems.append(f"status {run.status}, expected {want['status']}")
        if "error" in want and run.error != want["error"]:
            problems.append(f"error {run.error}, expected {want['error']}")
        if "outcome" in want and (run.output or {}).get("outcome") != want["outcome"]:
            problems.append(f"output outcome {(run.output or {}).get('outcome')}, expected {want['outcome']}")
        detail = f"{run.status}" + (f" {run.error}" if run.error else "")
        detail += f"; {'; '.join(problems)}" if problems else ""
        add(Check(f"WaitForSessionAction on {run.label}", not problems, detail))

    # Pipelines: SubmitAndWait -> WaitForJob (startExecution.sync:2), resumed by an event, the sweep, at once.
    for run in result.pipelines:
        child = run.wait_for_job or {}
        detail = (f"pipeline {run.status}" + (f" {run.error}" if run.error else "")
                  + f"; WaitForJob {child.get('status')}" + (f" {child.get('error')}" if child.get("error") else "")
                  + f"; resumed by {run.resumed_by}" + (f"; {run.problem}" if run.problem else ""))
        add(Check(f"pipeline '{run.label}' ({run.story}) ended {run.expected_status}"
                  + (f" caught as {run.expected_error}" if run.expected_error else ""), run.ok, detail))

    _channel_checks(result, add)

    # Dead letters.
    dlq = len(result.dead_letters)
    queues = result.dead_letter_queues or {}
    add(Check("dead-letter queues", _count_ok(dlq, expect.get("deadLetters", 0)),
              f"{plural(dlq, 'message')} (expected {_show(expect.get('deadLetters', 0))})"
              + (" in " + ", ".join(f"{name} {len(m)}" for name, m in queues.items()) if queues else "")))
    return checks


def _failure_detail_checks(result, add) -> None:
    """What every failure carries (issue 14): its worker and fleet, its step's name, the end of its session's
    log; a detail that could not be read is named in plain words in ``enrichmentMissing``; the messages show
    them (the e-mail the step's name and the log lines, chat a log tail)."""
    failures = [r for r in result.rows if r.get("outcome") == "failure" and r.get("sessionId")]
    if not failures:
        return
    lacking = []
    for row in failures:
        label = row.get("label") or row["sessionActionId"]
        missing = " ".join(row.get("enrichmentMissing") or [])
        for key, wanted in (("workerId", True), ("fleetId", True), ("stepName", bool(row.get("stepId"))),
                            ("logExcerpt", True)):
            explained = {"fleetId": "workerId"}.get(key, key) + ":" in missing
            if wanted and not row.get(key) and not explained:
                lacking.append(f"{label}: no {key}")
        if "call limit" in missing or "limit (" in missing:
            lacking.append(f"{label}: enrichmentMissing says {missing[:80]!r}")
    whole = sum(1 for r in failures if r.get("workerId") and r.get("logExcerpt")
                and (r.get("stepName") or not r.get("stepId")))
    add(Check("every failure carries its worker, step name and the end of its session's log (or says why not)",
              not lacking, f"{whole} of {plural(len(failures), 'failure row')} carry all three"
              + _listed("lacking", lacking[:10])))

    texts = []
    for n in result.notifications:
        if result.kind_of(n) in ("sessionAction", "digest") and n.email:
            texts.append((n, n.email))
    problems = []
    for n, email in texts:
        rows = [n.record] if result.kind_of(n) == "sessionAction" else list(n.record.get("sample") or [])
        for row in rows:
            if row.get("outcome", "failure") != "failure" or not row.get("sessionId"):
                continue
            label = result.label_of(row.get("sessionActionId")) or row.get("sessionActionId")
            if row.get("stepName") and str(row["stepName"]) not in email:
                problems.append(f"{label}: step name not in the e-mail")
            if row.get("logExcerpt") and str(row["logExcerpt"][-1]) not in email:
                problems.append(f"{label}: log excerpt not in the e-mail")
    chats = [c for c in (result.channels or {}).get("chat", []) if c.attributes.get("kind") == "sessionAction"
             and c.attributes.get("outcome") == "failure"]
    with_lines = {r["sessionActionId"] for r in failures if r.get("logExcerpt")}
    no_tail = [c.subject for c in chats
               if ((c.body.get("metadata") or {}).get("additionalContext") or {}).get("sessionActionId") in with_lines
               and "*Log* (last" not in str((c.body.get("content") or {}).get("description"))]
    if texts or chats:
        add(Check("failure messages show the step name and the log lines (e-mail), a log tail (chat)",
                  not problems and not no_tail,
                  f"{plural(len(texts), 'e-mail')}, {plural(len(chats), 'chat message')} of failures"
                  + _listed("", problems[:6]) + (f"; {len(no_tail)} chat message(s) without a log tail" if no_tail else "")))


def _channel_checks(result, add) -> None:
    """Every notification reached every channel, each in its own format."""
    machines = result.notifications
    kinds = Counter(result.kind_of(n) for n in machines)
    channels = result.channels or {}
    emails = channels.get("email")
    if emails is not None:
        unpaired = [n.subject for n in machines if n.email is None]
        add(Check("email topic: one text message per notification, same subject and attributes",
                  len(emails) == len(machines) and not unpaired,
                  f"{plural(len(emails), 'message')} for {plural(len(machines), 'notification')}"
                  + (f"; no e-mail for {_listed('', unpaired)}" if unpaired else "")))
    chats = channels.get("chat")
    if chats is not None:
        bad = [c for c in chats if not (isinstance(c.body, dict) and c.body.get("version") == "1.0"
                                        and c.body.get("source") == "custom" and (c.body.get("content") or {}).get("title"))]
        chat_kinds = Counter(c.attributes.get("kind") for c in chats)
        add(Check("chat topic: one Amazon Q Developer custom notification per notification",
                  not bad and chat_kinds == kinds,
                  f"{plural(len(chats), 'message')} (" + ", ".join(f"{v} {k}" for k, v in sorted(chat_kinds.items()))
                  + ")" + (f"; {len(bad)} not a custom notification (version 1.0, source custom, a title)" if bad else "")))
    if result.events_rule is None:
        add(Check("events: notifications routed by a rule to an SQS queue", True,
                  "not deployed (the stack was synthesised without sessionWatch:eventQueueArns)"))
        return
    events = channels.get("events", [])
    wrong = []
    details = Counter()
    for message in events:
        event = message.body
        kind = next((k for k, v in names.DETAIL_TYPES.items() if v == event.get("detail-type")), None)
        if event.get("source") != names.EVENT_SOURCE or kind is None:
            wrong.append(f"{event.get('source')}/{event.get('detail-type')}")
        details[json.dumps(event.get("detail"), sort_keys=True)] += 1
    records = Counter(json.dumps(n.record, sort_keys=True) for n in machines)
    add(Check(f"events: each notification once through the deployed rule {result.events_rule} into the SQS queue, "
              "source session-watch, detail = the machines message",
              not wrong and details == records,
              f"{plural(len(events), 'event')} for {plural(len(machines), 'notification')}"
              + (f"; wrong source/detail-type: {', '.join(wrong[:3])}" if wrong else "")
              + ("" if details == records else "; the details differ from the machines messages")))


def _story_checks(result: "DemoResult", add, rows, digests, job_runs, mode: str) -> None:
    """One story per job: the job-level message's failure summary adds up (its failed actions are the job's
    failure rows, and its tasks that did not succeed plus its other failed actions), in digest mode with
    the job's digests too, and no digest of the job was published after it."""
    for n in job_runs:
        summary = n.record.get("failureSummary")
        job_id = n.record.get("jobId")
        if not isinstance(summary, dict):
            add(Check("the job-level message carries the job's failure summary", False, f"none in {job_id}"))
            continue
        failed = summary.get("failedActions")
        parts = summary.get("tasksNotSucceeded", 0) + sum((summary.get("otherFailedActions") or {}).values())
        table = sum(1 for r in result.rows if r.get("jobId") == job_id and r.get("outcome") == "failure")
        problems = []
        if failed != parts:
            problems.append(f"{failed} failed actions but {parts} tasks and other actions")
        if failed != table:
            problems.append(f"{failed} failed actions but {table} failure rows")
        mine = [d for d in digests if d.record.get("jobId") == job_id]
        if mode == "digest":
            digested = sum(int(d.record.get("failures") or 0) for d in mine)
            if digested != failed:
                problems.append(f"the digests count {digested} failures, the job-level message {failed}")
            stamp = n.raw.get("Timestamp") or ""
            late = [d for d in mine if (d.raw.get("Timestamp") or "") > stamp]
            if late:
                problems.append(f"{plural(len(late), 'digest')} published after the job-level message")
        add(Check("the job-level message's numbers add up with the digests and the table", not problems,
                  "; ".join(problems) or f"{summary.get('story')}"
                  + (f" ({plural(len(mine), 'digest')} before it)" if mode == "digest" else "")))


def _suspect_checks(result: "DemoResult", add, notifications, expect: Dict[str, Any]) -> None:
    """Suspect workers: each worker of the named sessions reported, once per window (worker, windowStart),
    and no other worker."""
    suspects = [n for n in notifications if result.kind_of(n) == names.KIND_SUSPECT_WORKER]
    want = expect.get("suspectWorkers")
    if not want and not suspects:
        return
    want = want or {"sessions": [], "messages": 0}
    workers = {result.workers.get(name) for name in want.get("sessions") or []}
    per_window = Counter((n.record.get("workerId"), n.record.get("windowStart")) for n in suspects)
    seen = {worker for worker, _ in per_window}
    problems = [f"{w}: not reported" for w in workers if w not in seen]
    problems += [f"unexpected suspect {w}" for w in seen if w not in workers]
    problems += [f"{w} in the window from {start}: {n} messages" for (w, start), n in per_window.items() if n != 1]
    if "messages" in want and not _count_ok(len(suspects), want["messages"]):
        problems.append(f"{plural(len(suspects), 'suspect-worker message')}, expected {want['messages']}")
    for n in suspects:
        record = n.record
        if "failures" in want and not _count_ok(record.get("failures"), want["failures"]):
            problems.append(f"{record.get('workerId')}: {record.get('failures')} failures, expected {want['failures']}")
        if not record.get("fleetId") or not record.get("whatToDo") or not record.get("latestFailure"):
            problems.append(f"{record.get('workerId')}: no fleet, latest failure or what to do")
    names_of = {v: k for k, v in result.workers.items()}
    shown = [f"{names_of.get(n.record.get('workerId'), n.record.get('workerId'))}: {n.record.get('failures')} of "
             f"{n.record.get('taskRuns')} task runs failed" for n in suspects]
    add(Check("suspect workers reported once per worker and window, with fleet, failures and what to do",
              not problems, "; ".join(problems[:10]) or (", ".join(shown[:5]) + (
                  f" and {len(shown) - 5} more" if len(shown) > 5 else "")) or "none"))


def _task_total(record: Dict[str, Any]) -> int:
    counts = record.get("taskRunStatusCounts") or {}
    return sum(v for v in counts.values() if isinstance(v, int))


def _each_checks(result, add, rows, expected_rows, groups, grouped, per_action, notify_statuses, expect) -> None:
    """``each`` mode: one per-action message per (action, status), for exactly the expected actions."""
    repeated = Counter((n.record.get("sessionActionId"), n.record.get("status")) for n in per_action)
    twice = [f"{result.label_of(sa) or sa} {status} x{count}" for (sa, status), count in repeated.items() if count > 1]
    add(Check(
        "one message per (session action, status), duplicates and retries included",
        not twice,
        plural(len(per_action), "per-action message") + (f"; repeated: {', '.join(twice[:10])}" if twice else ", none repeated"),
    ))
    wanted = expect.get("notifications")
    if wanted is None:
        wanted = [label for label, fields in expected_rows.items()
                  if fields.get("status") in TERMINAL and fields.get("status") in notify_statuses]
        for label in grouped:
            spec = next(spec for g, spec in groups.items() if _matches(label, g))
            status = spec.get("fields", {}).get("status") or rows[label].get("status")
            if status in TERMINAL and status in notify_statuses:
                wanted.append(label)
    got = Counter(result.label_of(n.record.get("sessionActionId")) or "?" for n in per_action)
    missing_n = sorted(set(wanted) - set(got))
    extra_n = sorted(set(got) - set(wanted))
    add(Check(
        "a message for exactly the expected actions",
        not missing_n and not extra_n,
        f"{plural(len(got), 'action')} notified (expected {len(wanted)})" + _listed("missing", missing_n[:20])
        + _listed("unexpected", extra_n[:20]),
    ))
    mismatched = []
    for n in per_action:
        label = result.label_of(n.record.get("sessionActionId"))
        row = rows.get(label or "")
        if row is None:
            continue
        if n.record.get("status") != row.get("status"):
            mismatched.append(f"{label}: message {n.record.get('status')}, row {row.get('status')}")
        if row.get("notifiedStatus") != row.get("status"):
            mismatched.append(f"{label}: row notifiedStatus {row.get('notifiedStatus')!r}")
        if n.attributes.get("outcome") != row.get("outcome") or n.attributes.get("status") != row.get("status"):
            mismatched.append(f"{label}: message attributes {n.attributes}")
        if not n.subject:
            mismatched.append(f"{label}: no subject")
        if row.get("outcome") == "failure" and not n.email:
            mismatched.append(f"{label}: no e-mail text for a failure")
    add(Check("each message matches its row (status, attributes, subject, e-mail for failures)", not mismatched,
              "; ".join(mismatched[:10]) or "all match"))
    email_problems = []
    for label, needles in expect.get("emails", {}).items():
        texts = [n.email or "" for n in per_action if result.label_of(n.record.get("sessionActionId")) == label]
        if not texts:
            email_problems.append(f"{label}: no message")
            continue
        for needle in needles:
            if needle not in texts[0]:
                email_problems.append(f"{label}: e-mail lacks {needle!r}")
    if expect.get("emails"):
        add(Check("e-mail text of the failures", not email_problems, "; ".join(email_problems) or
                  f"{plural(len(expect['emails']), 'e-mail')} as expected"))


def _digest_checks(result, add, rows, per_action, digests, expect) -> None:
    """``digest`` mode: failures grouped per job and window, nothing announced action by action."""
    add(Check("no per-action message (digest mode groups failures; completions are not announced one by one)",
              not per_action, f"{plural(len(per_action), 'per-action message')}"))
    per_window = Counter((n.record.get("jobId"), str(n.record.get("windowStart"))) for n in digests)
    twice = [f"{job} window {start} x{count}" for (job, start), count in per_window.items() if count > 1]
    add(Check("at most one digest per job and window", not twice,
              f"{plural(len(digests), 'digest')} in {plural(len(per_window), 'window')}" + _listed("repeated", twice)))
    failed_rows = [r for r in result.rows if r.get("outcome") == "failure"]
    by_job = Counter(r.get("jobId") for r in failed_rows)
    counted = Counter()
    for n in digests:
        counted[n.record.get("jobId")] += int(n.record.get("failures") or 0)
    differ = [f"{job}: digests count {counted.get(job, 0)}, table has {by_job.get(job, 0)}"
              for job in set(by_job) | set(counted) if counted.get(job, 0) != by_job.get(job, 0)]
    add(Check("the digests of each job count exactly its failures in the history table", not differ,
              "; ".join(differ) or f"{plural(sum(counted.values()), 'failure')} in digests = {plural(len(failed_rows), 'failure row')}"))
    window_problems = []
    for row in failed_rows:
        key = row.get("digestWindow")
        parts = key.split("#") if isinstance(key, str) else []
        if len(parts) != 3 or parts[0] != row.get("jobId") or not parts[1].isdigit() or not parts[2].isdigit() \
                or not 0 <= int(parts[2]) <= 7:
            window_problems.append(f"{row.get('label')}: digestWindow {key!r}")
            continue
        if not any(n.record.get("jobId") == parts[0] and _same_instant(n.record.get("windowStart"), int(parts[1]))
                   for n in digests):
            window_problems.append(f"{row.get('label')}: no digest for window {_window_iso(int(parts[1]))}")
    add(Check("every failure row carries its digestWindow (<jobId>#<windowStart>#<shard>) and that window's digest "
              "went out", not window_problems,
              "; ".join(window_problems[:10]) + (f" (+{len(window_problems) - 10} more)" if len(window_problems) > 10
                                                 else "") or plural(len(failed_rows), "failure row")))
    windows = [i for i in result.digest_ledger if str(i.get("digestKey", "")).startswith("window#")]
    unpublished = [f"{i.get('jobId')} {i.get('digestKey')}: {i.get('state')}" for i in windows
                   if i.get("state") != "published"]
    if windows or digests:
        add(Check("every digest window in the ledger ended published", not unpublished and bool(windows) == bool(digests),
                  "; ".join(unpublished) or f"{plural(len(windows), 'window')} published"))
    want = expect.get("digest", {})
    if "messages" in want:
        add(Check("digest messages", _count_ok(len(digests), want["messages"]),
                  f"{len(digests)} (expected {_show(want['messages'])})"))
    if "failures" in want:
        total = sum(int(n.record.get("failures") or 0) for n in digests)
        add(Check("failures counted by the digests", _count_ok(total, want["failures"]),
                  f"{total} (expected {_show(want['failures'])})"))
    if "rootCauses" in want:
        causes = max((int(n.record.get("distinctRootCauses") or 0) for n in digests), default=0)
        add(Check("distinct root causes a digest names", _count_ok(causes, want["rootCauses"]),
                  f"{causes} (expected {_show(want['rootCauses'])})"))
    if want.get("emails"):
        texts = "\n".join(n.email or "" for n in digests)
        lacking = [needle for needle in want["emails"] if needle not in texts]
        add(Check("e-mail text of the digests", not lacking and bool(digests),
                  ("lacks " + ", ".join(repr(x) for x in lacking)) if lacking else
                  f"{plural(len(want['emails']), 'phrase')} found"))


def _listed(what: str, items: List[str]) -> str:
    return f"; {what} {', '.join(items)}" if items else ""


def failed(checks: List[Check]) -> List[Check]:
    return [c for c in checks if not c.ok]

