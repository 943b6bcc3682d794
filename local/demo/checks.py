"""What must be true at the end of a scenario: the scenario's own expectations plus invariants that hold
for every scenario. Each check is a line of the report; the verdict is PASS when all of them pass.

The ``expect`` block of a scenario::

    "rows": {"frame-7": {"status": "FAILED", "outcome": "failure", "processExitCode": 139}, ...}
        exactly these rows in the history table (labels as in local/demo/scenario.py), with these fields
    "notRecorded": {"frame-9": "why", "enter@*": "why"}
        labels (shell-style patterns) that must have no row; the reason is printed
    "notifications": ["frame-1", ...]
        exactly one message for each, with the row's status, and no other message
        (default: every expected row with a terminal status)
    "emails": {"frame-7": ["exit 139", "Segmentation fault"]}
        text the e-mail of that action's message must contain
    "deliveries": {"matched": 14}     events the deployed rule matched (duplicates included)
    "deadLetters": 0                  messages in the dead-letter queue at the end
    "functionErrors": 0               invocations that raised (each retried one counts)
    "throttled": {"min": 5}           ThrottlingExceptions the Deadline Cloud stand-in injected
    "stateMachine": per run, in the scenario's "stateMachine" list: {"status", "error", "outcome"}

A number can be exact (``3``) or a range (``{"min": 1, "max": 4}``).
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List

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


def evaluate(result: "DemoResult") -> List[Check]:
    expect = result.scenario.expect
    checks: List[Check] = []
    add = checks.append

    # The deployed function runs the code under test.
    code = result.code_check
    add(Check("deployed function code is the synthesised asset and the asset is lambda_src/",
              code["ok"], code["detail"]))

    # Deliveries.
    deliveries = [d for d, _ in result.play.deliveries]
    matched = [d for d in deliveries if d.matched]
    errors = [i for d in matched for i in d.invocations if not i.ok]
    want_matched = expect.get("deliveries", {}).get("matched")
    add(Check(
        "events matched by the deployed rule",
        _count_ok(len(matched), want_matched),
        f"{len(matched)} of {len(deliveries)} events matched"
        + (f" (expected {_show(want_matched)})" if want_matched is not None else ""),
    ))
    unprocessed = [d for d in matched if not d.invocations or not d.invocations[-1].ok]
    add(Check(
        "every matched event was processed (after Lambda's retries)",
        not unprocessed,
        "all processed" if not unprocessed else
        "; ".join(f"{d.label}: {d.invocations[-1].summary() if d.invocations else d.outcome}" for d in unprocessed),
    ))
    if "functionErrors" in expect or errors:
        add(Check(
            "function errors (each is retried by Lambda)",
            _count_ok(len(errors), expect.get("functionErrors", 0)),
            f"{len(errors)} invocation(s) raised"
            + (": " + ", ".join(sorted(Counter(i.error_type for i in errors))) if errors else "")
            + f" (expected {_show(expect.get('functionErrors', 0))})",
        ))
    if "throttled" in expect:
        add(Check(
            "throttling injected by the Deadline Cloud stand-in",
            _count_ok(result.throttled, expect["throttled"]),
            f"{result.throttled} ThrottlingException(s) answered (expected {_show(expect['throttled'])})",
        ))

    # The history table.
    rows = {r["label"]: r for r in result.rows if r.get("label")}
    unlabelled = [r for r in result.rows if not r.get("label")]
    expected_rows: Dict[str, Dict[str, Any]] = expect.get("rows", {})
    missing = sorted(set(expected_rows) - set(rows))
    extra = sorted(set(rows) - set(expected_rows)) + [r["sessionActionId"] for r in unlabelled]
    add(Check(
        "history table holds exactly the expected rows",
        not missing and not extra,
        f"{len(result.rows)} rows (expected {len(expected_rows)})" + _listed("missing", missing)
        + _listed("unexpected", extra),
    ))
    wrong = []
    for label, fields in expected_rows.items():
        row = rows.get(label)
        if row is None:
            continue
        for key, value in fields.items():
            if row.get(key) != value:
                wrong.append(f"{label}.{key} = {row.get(key)!r}, expected {value!r}")
        if row.get("status") in TERMINAL and row.get("terminal") is not True:
            wrong.append(f"{label}.terminal is {row.get('terminal')!r}")
    add(Check("every row has the expected status, outcome and fields", not wrong,
              "; ".join(wrong) or "all as expected"))
    absent = expect.get("notRecorded", {})
    present = sorted(label for label in rows for pattern in absent if fnmatch.fnmatchcase(label, pattern))
    add(Check(
        "actions that must not be recorded are not",
        not present,
        "none recorded" if not present else f"recorded: {', '.join(present)}",
    ))

    # Notifications.
    notifications = result.notifications
    per_action = Counter((n.record.get("sessionActionId"), n.record.get("status")) for n in notifications)
    repeated = [f"{result.label_of(sa) or sa} {status} x{count}"
                for (sa, status), count in per_action.items() if count > 1]
    add(Check(
        "one message per (session action, status), duplicates and retries included",
        not repeated,
        f"{len(notifications)} messages" + (f"; repeated: {', '.join(repeated)}" if repeated else ", none repeated"),
    ))
    wanted = expect.get("notifications")
    if wanted is None:
        wanted = [label for label, fields in expected_rows.items() if fields.get("status") in TERMINAL]
    got = Counter(result.label_of(n.record.get("sessionActionId")) or "?" for n in notifications)
    missing_n = sorted(set(wanted) - set(got))
    extra_n = sorted(set(got) - set(wanted))
    add(Check(
        "a message for exactly the expected actions",
        not missing_n and not extra_n,
        f"{len(got)} actions notified (expected {len(wanted)})" + _listed("missing", missing_n)
        + _listed("unexpected", extra_n),
    ))
    mismatched = []
    for n in notifications:
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
              "; ".join(mismatched) or "all match"))
    email_problems = []
    for label, needles in expect.get("emails", {}).items():
        texts = [n.email or "" for n in notifications if result.label_of(n.record.get("sessionActionId")) == label]
        if not texts:
            email_problems.append(f"{label}: no message")
            continue
        for needle in needles:
            if needle not in texts[0]:
                email_problems.append(f"{label}: e-mail lacks {needle!r}")
    if expect.get("emails"):
        add(Check("e-mail text of the failures", not email_problems, "; ".join(email_problems) or
                  f"{len(expect['emails'])} e-mails say what was expected"))

    # Delivery anomalies the scenario staged.
    for delivery, emitted in result.play.duplicates:
        label = emitted.label
        count = sum(1 for n in notifications if result.label_of(n.record.get("sessionActionId")) == label)
        ok = all(i.ok for i in delivery.invocations) and count <= 1
        add(Check(f"duplicate delivery ({emitted.describe()}) published nothing more", ok,
                  f"invoked again ({delivery.outcome}); {count} message(s) for {label}"))
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
        ok = (delivery.outcome.startswith("ok") or not delivery.matched) and recorded_right
        ok = ok and bool(overtaken)
        add(Check(f"late delivery ({emitted.describe()}) recorded the action it is about, nothing regressed", ok,
                  f"delivered after {', '.join(overtaken) or 'nothing newer (not out of order)'}; {delivery.outcome}; "
                  f"row {label}: {row.get('status') if row else 'none'}"))
    in_progress = [label for label, row in rows.items() if row.get("status") not in TERMINAL
                   and expected_rows.get(label, {}).get("status") != row.get("status")]
    if in_progress:
        add(Check("no row left in an in-progress status", False, ", ".join(in_progress)))

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

    # Dead letters.
    dlq = len(result.dead_letters)
    add(Check("dead-letter queue", _count_ok(dlq, expect.get("deadLetters", 0)),
              f"{dlq} message(s) (expected {_show(expect.get('deadLetters', 0))})"))
    return checks


def _listed(what: str, items: List[str]) -> str:
    return f"; {what} {', '.join(items)}" if items else ""


def failed(checks: List[Check]) -> List[Check]:
    return [c for c in checks if not c.ok]

