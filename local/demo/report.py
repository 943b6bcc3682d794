"""Printing a demo run: progress while it runs, then notifications, history, state machine results, checks
and the one-line verdict; or the whole result as JSON.

By default names are short: a deployed resource by its construct's name (``EventsQueue``, not
``DeadlineSessionWatch-EventsQueue7396B467-7CQHMUJF9TSY``), a Deadline Cloud id by its first characters
(``job-6747…``), a console link by its host and last part; details a render wrangler does not need (the
function's whole environment, moto's speed-ups, logical ids) are left out. ``--verbose`` prints everything
in full. JSON is always in full."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Dict, List, Optional, TextIO

from .checks import plural
from .run import DemoResult, Progress

INDENT = "      "
#: Above this many lines of one kind (deliveries, messages, rows, e-mails) the report summarises the rest.
LIST_LIMIT = 30


#: A physical name CloudFormation made for a resource: ``<stack>-<logical id><8 hex>-<suffix>``.
_PHYSICAL = re.compile(r"\b[A-Za-z][A-Za-z0-9]*-([A-Za-z][A-Za-z0-9]*?)[0-9A-F]{8}-[A-Z0-9]{8,13}\b")
#: A Deadline Cloud id: ``job-<32 hex>`` (sessions, session actions and tasks may have a ``-<n>`` suffix).
_DEADLINE_ID = re.compile(r"\b(farm|queue|fleet|worker|job|step|task|session|sessionaction)-([0-9a-f]{4})[0-9a-f]{28}\b")
#: A CDK logical id: the construct path's name and an 8-character hash (``SessionWatchFunction9A7B5F28``).
_LOGICAL_ID = re.compile(r"\b([A-Z][A-Za-z0-9]*[a-z])[0-9A-F]{8}\b")
#: An asset hash (64 hex characters).
_ASSET_HASH = re.compile(r"\b([0-9a-f]{8})[0-9a-f]{56}\b")
_CONSOLE_URL = re.compile(r"https://([A-Za-z0-9.-]+\.console\.aws\.amazon\.com)/\S*/([^/\s]+)")


def shorten_links(text: str) -> str:
    """A console link -> its host and last part (what tells one link from another)."""
    return _CONSOLE_URL.sub(lambda m: f"https://{m.group(1)}/…/{m.group(2)}", text)


def shorten(text: str) -> str:
    """Short names for the default output (see the module's docstring)."""
    text = _PHYSICAL.sub(lambda m: m.group(1), shorten_links(text))
    text = _LOGICAL_ID.sub(lambda m: m.group(1), text)
    text = _ASSET_HASH.sub(lambda m: f"{m.group(1)}…", text)
    return _DEADLINE_ID.sub(lambda m: f"{m.group(1)}-{m.group(2)}…", text)


def _short(text: Optional[str], width: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def _function_said(invocation: Any) -> str:
    """The last message the function logged for an invocation (its own words for what it did)."""
    for line in reversed(invocation.log_lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("message"), str):
            continue
        if entry.get("level") in ("INFO", "WARNING", "ERROR"):
            return entry["message"]
    return ""


def _rule_text(pattern: Any) -> str:
    """An EventBridge pattern in words: ``Task Run Status Change with runStatus SUCCEEDED, FAILED``."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError:
            return pattern
    if not isinstance(pattern, dict):
        return str(pattern)
    what = ", ".join(pattern.get("detail-type") or ["any event"])
    detail = pattern.get("detail") or {}
    conditions = [f"{key} " + ", ".join(str(v) for v in values) if isinstance(values, list) else f"{key} {values}"
                  for key, values in detail.items()]
    return what + (" with " + "; ".join(conditions) if conditions else "")


def _result_text(result: Any) -> str:
    """What a direct invocation answered, in a few words (a record, a job-level message, a skip)."""
    if not isinstance(result, dict):
        return str(result)
    if isinstance(result.get("jobRun"), dict):
        job = result["jobRun"]
        return f"{job.get('taskRunStatus')} ({job.get('status')})"
    if result.get("skipped"):
        return f"skipped: {result['skipped']}"
    if result.get("status") is not None:
        return f"{result.get('status')}/{result.get('outcome')}"
    return ", ".join(sorted(result)) or "{}"


class TextProgress(Progress):
    def __init__(self, out: TextIO, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose

    def _p(self, text: str = "") -> None:
        print(text if self.verbose else shorten(text), file=self.out, flush=True)

    def detail(self, text: str) -> None:
        """A line only ``--verbose`` prints."""
        if self.verbose:
            self.info(text)

    def header(self, scenario_name: str, path: str) -> None:
        self._p(f"Deadline Session Watch demo: {scenario_name}")
        self._p(f"  scenario {path}")

    def phase(self, number: int, total: int, title: str, detail: str = "") -> None:
        self._p()
        self._p(f"[{number}/{total}] {title}" + (f"  {detail}" if detail else ""))

    def info(self, text: str) -> None:
        self._p(INDENT + text)

    def say(self, text: str) -> None:
        self._p(INDENT + "* " + text)

    def deployed(self, deployed, code_check, async_config) -> None:
        if self.verbose:
            for asset in deployed.assets:
                self.info(f"published {asset.display_name}: {asset.size / 1e6:.1f} MB -> {asset.url}")
        else:
            self.info("published " + ", ".join(f"{a.display_name} ({a.size / 1e6:.1f} MB)" for a in deployed.assets)
                      + " to the bootstrap bucket")
        if deployed.bootstrap:
            self.detail(f"bootstrap: bucket created, SSM parameter {deployed.bootstrap}")
        self.info(f"CloudFormation {deployed.status} in {deployed.seconds.get('create_stack', 0):.1f} s: "
                  f"{plural(len(deployed.resources), 'resource')} from the synthesised template")
        if deployed.adaptations:
            self.info("what differs from the synthesised template, and why (moto's CloudFormation):")
            groups: Dict[tuple, List[str]] = {}
            reasons: Dict[tuple, str] = {}
            for a in deployed.adaptations:  # one line per kind and type unless --verbose (then per reason)
                key = (a.kind, a.resource_type, a.reason if self.verbose else "")
                groups.setdefault(key, []).append(a.logical_id)
                reasons.setdefault(key, a.reason)
            for (kind, rtype, _), ids in groups.items():
                reason = reasons[(kind, rtype, _)]
                sign = {"converted": "~", "dropped": "-", "registered": "+", "output-dropped": "-",
                        "not-applied": "!", "emulated": "~"}.get(kind, "*")
                verb = {"converted": "deployed as", "dropped": "not deployed", "registered": "registered",
                        "output-dropped": "output not deployed", "not-applied": "not applied by moto",
                        "emulated": "emulated"}.get(kind, kind)
                if self.verbose:
                    who = ids[0] if len(ids) == 1 else f"{len(ids)} x ({', '.join(ids)})"
                    self.info(f"  {sign} {who} [{rtype}] {verb}: {reason}")
                else:
                    self.info(f"  {sign} {len(ids)} x {rtype} {verb}: {_short(reason, 110)}")
        if code_check["ok"] and not self.verbose:
            self.info("function code: the deployed zip is the synthesised asset, and its package is lambda_src/'s")
        else:
            self.info(("function code: " if code_check["ok"] else "function code PROBLEM: ") + code_check["detail"])
        retries = async_config.maximum_retry_attempts
        dest = async_config.on_failure_arn.split(":")[-1] if async_config.on_failure_arn else "nowhere"
        self.info(f"Lambda asynchronous invocation: {retries} retries, then -> {dest} ({async_config.source})")

    def runtime(self, runtime, bus, observer) -> None:
        cfg = runtime.config
        self.info(f"function {runtime.function_name} ({runtime.handler_name}, {cfg.get('Timeout')} s, "
                  f"{cfg.get('MemorySize')} MB) is called in this process with its deployed environment"
                  + (":" if self.verbose else " (--verbose shows it)"))
        env = runtime.function_environment
        self.detail("  " + ", ".join(f"{k}={_short(v, 60)}" for k, v in env.items()))
        self.detail("  and, locally: AWS_ENDPOINT_URL=moto, AWS_ENDPOINT_URL_DEADLINE=stand-in, "
                    "AWS_DISABLE_HOST_PREFIX_INJECTION=true, fake credentials; its logs -> " + str(runtime.log_path))
        for rule in bus.function_rules():
            targets = ", ".join(t["Arn"].rsplit(":", 1)[-1] for t in rule.targets)
            if self.verbose:
                self.info(f"rule {rule.name} (read back from moto's EventBridge, {rule.state}) -> {targets}: "
                          f"{rule.pattern}")
            else:
                self.info(f"rule {rule.name} -> {targets}: {_rule_text(rule.pattern)}")
        self.info(f"subscriber: SQS queue {observer.queue_url.rsplit('/', 1)[-1]} subscribed to the topic")

    def job(self, player) -> None:
        job = player.job
        self.info(f"job {job.name} ({job.job_id}), {len(player.task_of_frame)} frames, step {player.step.name}, "
                  f"queue {job.queue_id}")

    def delivered(self, delivery, emitted) -> None:
        """Printed per round, in ``delivered_batch`` (a round may hold thousands of events)."""

    def _delivery_line(self, delivery, emitted) -> str:
        tag = f" [{delivery.note}]" if delivery.note else ""
        if delivery.queued:
            queue = delivery.queued[0].queue_name
            batches = ", ".join(f"batch {b.number}" + ("" if ok else " (failed)")
                                for m in delivery.queued for b, ok in m.attempts)
            return (f"  EventBridge -> {queue}: {emitted.describe()}{tag}: {delivery.outcome}"
                    + (f" ({batches})" if batches else ""))
        parts = []
        for inv in delivery.invocations:
            if inv.ok:
                result = inv.result or {}
                said = _function_said(inv)
                parts.append(_result_text(result) + (f" \"{said}\"" if said else ""))
            else:
                parts.append(f"raised {inv.error_type}")
        return (f"  EventBridge -> function: {emitted.describe()}{tag}: " + "; retried: ".join(parts)
                + (" -> dead-letter queue" if delivery.dead_lettered else ""))

    def delivered_batch(self, deliveries) -> None:
        matched = [(d, e) for d, e in deliveries if d.matched]
        if len(matched) <= LIST_LIMIT:
            for delivery, emitted in matched:
                self.info(self._delivery_line(delivery, emitted))
        else:
            outcomes = Counter(d.outcome for d, _ in matched)
            kinds = Counter(f"{e.detail_type} -> {e.run_status or e.event['detail'].get('taskRunStatus')}"
                            for _, e in matched)
            self.info(f"  EventBridge delivered {len(matched)} matching events ("
                      + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + "): "
                      + ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())))
        filtered = [e for d, e in deliveries if not d.matched]
        if not filtered:
            return
        kinds = Counter(
            f"task runs -> {e.run_status}" if e.detail_type == "Task Run Status Change" else e.detail_type
            for e in filtered
        )
        self.info(f"  filtered by the rules: {plural(len(filtered), 'event')} ("
                  + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")")

    def batch(self, batch) -> None:
        inv = batch.invocation
        said = _function_said(inv) if inv is not None else ""
        error = "" if inv is None or inv.ok else f"; raised {inv.error_type}: {_short(inv.error_message, 100)}"
        self.info(f"  SQS {batch.queue} -> function: {batch.summary()}"
                  + (f", {inv.seconds:.2f} s" if inv is not None else "") + error
                  + (f" \"{_short(said, 100)}\"" if said else ""))

    def mail(self, notifications, labels) -> None:
        shown = notifications if len(notifications) <= LIST_LIMIT else notifications[:10]
        for n in shown:
            self.info(f"  [mail] {_message_label(n, labels)}: {n.subject}")
        if len(shown) < len(notifications):
            kinds = Counter(_kind(n) for n in notifications[len(shown):])
            self.info(f"  [mail] ... and {len(notifications) - len(shown)} more ("
                      + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) + ")")

    def played(self, play, standin) -> None:
        matched = [d for d, _ in play.deliveries if d.matched]
        queued = [d for d in matched if d.queued]
        direct = [d for d in matched if not d.queued]
        invocations = sum(len(d.invocations) for d in direct)
        errors = sum(1 for d in direct for i in d.invocations if not i.ok)
        text = (f"{len(play.emitted)} events from the farm, {len(play.deliveries)} deliveries "
                f"({len(play.duplicates)} duplicate, {len(play.late)} late): {len(matched)} matched the rules")
        if queued:
            text += f" -> {len(queued)} sent to the event queue"
        if direct:
            text += f" -> {invocations} direct invocations ({errors} raised and were retried)"
        self.info(text + f"; {len(play.deliveries) - len(matched)} filtered")
        calls = {k: v for k, v in standin.calls.items() if v}
        injected = sum(standin.faults.injected.values())
        self.info("Deadline Cloud stand-in calls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
                  + (f"; {injected} answered with an injected error" if injected else ""))

    def state_machine_run(self, run) -> None:
        if run.execution_arn is None:
            self.info(f"{run.label}: not run: {run.problem}")
            return
        name = run.execution_arn.rsplit(":", 1)[-1]
        path = " > ".join(run.states)
        if run.status == "SUCCEEDED":
            out = run.output or {}
            self.info(f"{run.label}: execution {name} SUCCEEDED; output: the record, status {out.get('status')}, "
                      f"outcome {out.get('outcome')}")
        else:
            self.info(f"{run.label}: execution {name} {run.status}; error {run.error}")
            self.info(f"  cause: {run.cause}")
        self.info(f"  states: {path}; Lambda payload {json.dumps(run.payload, sort_keys=True)}"
                  + (f"; PROBLEM: {run.problem}" if run.problem else ""))


def _kind(n) -> str:
    return n.attributes.get("kind") or n.record.get("kind") or "sessionAction"


def _message_label(n, labels) -> str:
    kind = _kind(n)
    if kind == "digest":
        return "digest"
    if kind == "jobRun":
        return "job"
    if kind == "suspectWorker":
        return "suspect"
    if kind == "jobLifecycle":
        return "job"
    return labels.get(n.record.get("sessionActionId"), "?")


def _message_status(n) -> str:
    kind = _kind(n)
    if kind == "digest":
        failures = n.record.get("failures")
        return plural(failures, "failure") if isinstance(failures, int) else f"{failures} failures"
    if kind == "jobRun":
        return str(n.record.get("taskRunStatus", ""))
    return str(n.record.get("status", ""))


def print_summary(result: DemoResult, out: TextIO, verbose: bool = False) -> None:
    """Phases 6 and 7, the checks and the verdict; names short unless ``verbose``."""
    p = lambda text="": print(text if verbose else shorten(text), file=out, flush=True)  # noqa: E731
    labels = result.labels
    order = {label: i for i, label in enumerate(result.labels.values())}

    p()
    kinds = Counter(_kind(n) for n in result.notifications)
    p(f"[6/7] Notifications  {plural(len(result.notifications), 'message')} on the SQS queue subscribed to the machines topic ("
      + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) + f"; NOTIFY_MODE={result.mode})")
    p(f"{INDENT}{'message':<11} {'status':<16} subject")
    rank = {"jobRun": 2, "digest": 1}
    notes = sorted(result.notifications, key=lambda n: (rank.get(_kind(n), 0), order.get(
        labels.get(n.record.get("sessionActionId"), ""), 1e9)))
    shown = notes if len(notes) <= LIST_LIMIT else [n for n in notes if _kind(n) != "sessionAction"] + [
        n for n in notes if _kind(n) == "sessionAction"][:20]
    for n in sorted(shown, key=notes.index):
        p(f"{INDENT}{_message_label(n, labels):<11} {_message_status(n):<16} {n.subject}")
    if len(shown) < len(notes):
        p(f"{INDENT}... and {len(notes) - len(shown)} more per-action messages")
    _print_channels(result, p, verbose)
    failures = [n for n in notes if n.attributes.get("outcome") == "failure" or n.record.get("outcome") == "failure"]
    if failures:
        p()
        p(f"{INDENT}E-mail text of the failures (the email topic's message, as an e-mail subscriber gets it"
          + ("" if verbose else "; links shortened here, --verbose prints them in full") + "):")
        listed = [n for n in failures if _kind(n) != "sessionAction"] + [
            n for n in failures if _kind(n) == "sessionAction"][:10]
        for n in sorted(listed, key=notes.index):
            p(f"{INDENT}--- {_message_label(n, labels)} ---")
            for line in (n.email or "(no e-mail text)").rstrip("\n").splitlines():  # as sent: ids in full
                print(f"{INDENT}  {line if verbose else shorten_links(line)}", file=out, flush=True)
        if len(listed) < len(failures):
            p(f"{INDENT}... and {len(failures) - len(listed)} more failure e-mails")

    p()
    table = result.deployed.outputs.get("TableName", "?")
    p(f"[7/7] History table  {table}: {plural(len(result.rows), 'row')}")
    head = (f"{'action':<11} {'type':<8} {'frame':>5} {'status':<16} {'outcome':<11} {'exit':>4} {'duration':>9}  "
            f"{'ended (farm time)':<24} notified")
    p(INDENT + head)
    rows = sorted(result.rows, key=lambda r: order.get(r.get("label") or "", 1e9))
    if len(rows) > LIST_LIMIT:
        statuses = Counter(r.get("status") for r in rows)
        p(f"{INDENT}({len(rows)} rows: " + ", ".join(f"{n} {k}" for k, n in sorted(statuses.items()))
          + "; the first 20 and the last 5)")
        rows = rows[:20] + rows[-5:]
    for r in rows:
        frame = (r.get("parameters") or {}).get("Frame", "")
        duration = r.get("durationSeconds")
        exit_code = "" if r.get("processExitCode") is None else str(r["processExitCode"])
        p(INDENT + f"{r.get('label') or '?':<11} {r.get('actionType', ''):<8} {frame!s:>5} {r.get('status', ''):<16} "
                   f"{r.get('outcome', ''):<11} {exit_code:>4} "
                   f"{'' if duration is None else f'{duration:.0f} s':>9}  {r.get('endedAt') or '':<24} "
                   f"{r.get('notifiedStatus') or '-'}")
    not_recorded = result.scenario.expect.get("notRecorded", {})
    if not_recorded:
        p(f"{INDENT}not in the table, by design:")
        for pattern, why in not_recorded.items():
            p(f"{INDENT}  {pattern}: {why}")

    p()
    p("Checks")
    for check in result.checks:
        p(f"  {'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    p()
    kept = "" if result.options.workdir else " (deleted when the demo exits; --workdir DIR keeps them)"
    p(f"Logs{kept}: function {result.function['log']}; moto server {result.moto['log']}")
    p(verdict_line(result))


def chat_as_text(message: Dict[str, Any]) -> List[str]:
    """An Amazon Q Developer custom notification as it reads in Slack: the title, the description as plain
    text (client-markdown: *bold*, _italic_, `code`, <url|text> and [text](url) links), the next steps."""
    content = message.get("content") or {}

    def plain(text: str) -> str:
        text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", text)           # <url|text> -> text
        text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1", text)        # [text](url) -> text
        return re.sub(r"(?<![\w*_`])[*_`]+|[*_`]+(?![\w*_`])", "", text)

    lines = [plain(str(content.get("title", "")))]
    lines += [plain(line) for line in str(content.get("description", "")).splitlines()]
    steps = content.get("nextSteps") or []
    if steps:
        lines.append("Next steps:")
        lines += [f"  - {plain(str(step))}" for step in steps]
    return lines


def _print_channels(result: DemoResult, p, verbose: bool) -> None:
    """One message of each channel (the first failure digest or failure, else the first message)."""
    channels = result.channels or {}
    if not channels or not result.notifications:
        return
    pick = next((n for n in result.notifications if _kind(n) == "digest"),
                next((n for n in result.notifications if n.attributes.get("outcome") == "failure"),
                     result.notifications[0]))
    p()
    p(f"{INDENT}Channels: every notification goes to each, in its own format (one of each shown: "
      f"{_message_label(pick, result.labels)})")
    body = json.dumps(pick.record, separators=(",", ":"))
    p(f"{INDENT}  machines  {plural(len(result.notifications), 'message')} (machines topic -> SQS): JSON, "
      f"{len(body)} bytes: {body if verbose else _short(body, 90)}")
    emails = channels.get("email", [])
    if emails:
        p(f"{INDENT}  email     {plural(len(emails), 'message')} (email topic -> SQS): subject \"{pick.subject}\", "
          "text below")
    chats = channels.get("chat", [])
    if chats:
        chat = next((c for c in chats if c.attributes == pick.attributes), chats[0])
        p(f"{INDENT}  chat      {plural(len(chats), 'message')} (chat topic -> SQS; Amazon Q Developer custom "
          "notification); in Slack it reads:")
        lines = chat_as_text(chat.body)
        if not verbose:  # title, the first description lines, the next steps
            steps = lines.index("Next steps:") if "Next steps:" in lines else len(lines)
            head, rest = lines[:6], lines[6:steps]
            lines = head + ([f"(... {plural(len(rest), 'more line')}; --verbose prints them)"] if rest else []) \
                + lines[steps:]
        for line in lines:
            p(f"{INDENT}              {line}" if verbose else f"{INDENT}              {shorten_links(line)}")
    if result.events_rule:
        events = channels.get("events", [])
        event = next((m.body for m in events if m.body.get("detail") == pick.record), events[0].body if events else {})
        p(f"{INDENT}  events    {plural(len(events), 'event')} (default bus -> rule {result.events_rule} -> SQS "
          f"session-watch-demo-events): source {event.get('source')}, detail-type \"{event.get('detail-type')}\", "
          "detail = the machines JSON")


def verdict_line(result: DemoResult) -> str:
    seconds = result.timings.get("total", 0.0)
    if result.passed:
        runs = result.state_machine_runs
        matched = sum(1 for d, _ in result.play.deliveries if d.matched)
        kinds = Counter(_kind(n) for n in result.notifications)
        if result.mode == "digest":
            told = (f"{plural(kinds.get('digest', 0), 'digest')} for "
                    f"{plural(sum(1 for r in result.rows if r.get('outcome') == 'failure'), 'failure')}")
        else:
            told = (f"{plural(kinds.get('sessionAction', 0), 'notification')} for "
                    f"{plural(kinds.get('sessionAction', 0), 'ended action')}")
        told += f" and {plural(kinds.get('jobRun', 0), 'job-level message')}"
        via = "the event queue" if result.delivery == "queue" else "direct invocation"
        return (f"VERDICT: PASS - {result.mode} mode: {told} from {plural(matched, 'delivery', 'deliveries')} via "
                f"{via} ({len(result.play.duplicates)} duplicate, {len(result.play.late)} late), "
                f"{plural(len(result.rows), 'history row')}, WaitForSessionAction {len(runs)}/{len(runs)} as expected, dead-letter queues empty; "
                f"{len(result.checks)} checks in {seconds:.1f} s")
    bad = [c.name for c in result.checks if not c.ok]
    return f"VERDICT: FAIL - {len(bad)} of {len(result.checks)} checks failed: {'; '.join(bad)}"


def as_json(result: DemoResult) -> Dict[str, Any]:
    labels = result.labels
    return {
        "verdict": "PASS" if result.passed else "FAIL",
        "scenario": {"name": result.scenario.name, "path": str(result.scenario.path)},
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "local": {"moto": result.moto, "deadlineStandIn": result.standin_endpoint, "workdir": str(result.workdir)},
        "deploy": {
            "stack": result.deployed.stack_name,
            "status": result.deployed.status,
            "outputs": result.deployed.outputs,
            "adaptations": [a.__dict__ for a in result.deployed.adaptations],
            "assets": [a.__dict__ for a in result.deployed.assets],
            "code": result.code_check,
        },
        "function": result.function,
        "mode": result.mode,
        "delivery": result.delivery,
        "digestWindowSeconds": result.digest_window,
        "rules": result.rules,
        "eventSources": result.event_sources,
        "deviations": result.deviations,
        "batches": [
            {"number": b.number, "queue": b.queue, "size": b.size, "outcome": b.outcome, "failed": len(b.failed),
             "reason": b.reason, "ok": b.invocation.ok if b.invocation else None,
             "errorType": b.invocation.error_type if b.invocation else None,
             "seconds": round(b.invocation.seconds, 3) if b.invocation else None}
            for b in result.batches
        ],
        "ids": result.ids,
        "deliveries": [
            {
                "eventId": d.event["id"], "detailType": d.event["detail-type"], "label": e.label,
                "describe": e.describe(), "note": d.note, "matched": d.matched, "outcome": d.outcome,
                "invocations": [{"ok": i.ok, "errorType": i.error_type, "result": i.result} for i in d.invocations],
                "queued": [{"queue": m.queue_name, "messageId": m.message_id, "state": m.state,
                            "batches": [b.number for b, _ in m.attempts]} for m in d.queued],
            }
            for d, e in result.play.deliveries
        ],
        "notifications": [
            {"label": _message_label(n, labels) if _kind(n) != "sessionAction" else labels.get(
                n.record.get("sessionActionId")), "kind": _kind(n), "messageId": n.message_id, "subject": n.subject,
             "attributes": n.attributes, "record": n.record, "email": n.email}
            for n in result.notifications
        ],
        "rows": result.rows,
        "stateMachine": [
            {"label": r.label, "input": r.input, "payload": r.payload, "status": r.status, "output": r.output,
             "error": r.error, "cause": r.cause, "problem": r.problem, "states": r.states}
            for r in result.state_machine_runs
        ],
        "pipelines": [r.as_dict() for r in result.pipelines],
        "deadLetters": result.dead_letters,
        "deadLetterQueues": {name: len(messages) for name, messages in result.dead_letter_queues.items()},
        "digestLedger": result.digest_ledger,
        "deadlineStandIn": {"calls": result.standin_calls, "throttled": result.throttled},
        "checks": [c.as_dict() for c in result.checks],
        "verdictLine": verdict_line(result),
    }
