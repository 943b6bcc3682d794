"""Printing a demo run: progress while it runs, then notifications, history, state machine results, checks
and the one-line verdict; or the whole result as JSON."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List, Optional, TextIO

from .run import DemoResult, Progress

INDENT = "      "


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


class TextProgress(Progress):
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def _p(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

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
        for asset in deployed.assets:
            self.info(f"published {asset.display_name}: {asset.size / 1e6:.1f} MB -> {asset.url}")
        if deployed.bootstrap:
            self.info(f"bootstrap: bucket created, SSM parameter {deployed.bootstrap}")
        self.info(f"CloudFormation {deployed.status} in {deployed.seconds.get('create_stack', 0):.1f} s: "
                  f"{len(deployed.resources)} resources from the synthesised template")
        if deployed.adaptations:
            self.info("what differs from the synthesised template, and why (moto's CloudFormation):")
            groups: Dict[tuple, List[str]] = {}
            for a in deployed.adaptations:
                groups.setdefault((a.kind, a.resource_type, a.reason), []).append(a.logical_id)
            for (kind, rtype, reason), ids in groups.items():
                sign = {"converted": "~", "dropped": "-", "registered": "+", "output-dropped": "-",
                        "not-applied": "!"}.get(kind, "*")
                verb = {"converted": "deployed as", "dropped": "not deployed", "registered": "registered",
                        "output-dropped": "output not deployed", "not-applied": "not applied by moto"}.get(kind, kind)
                who = ids[0] if len(ids) == 1 else f"{len(ids)} x ({', '.join(ids)})"
                self.info(f"  {sign} {who} [{rtype}] {verb}: {reason}")
        self.info(("function code: " if code_check["ok"] else "function code PROBLEM: ") + code_check["detail"])
        retries = async_config.maximum_retry_attempts
        dest = async_config.on_failure_arn.split(":")[-1] if async_config.on_failure_arn else "nowhere"
        self.info(f"Lambda asynchronous invocation: {retries} retries, then -> {dest} ({async_config.source})")

    def runtime(self, runtime, bus, observer) -> None:
        cfg = runtime.config
        self.info(f"function {runtime.function_name} ({runtime.handler_name}, {cfg.get('Timeout')} s, "
                  f"{cfg.get('MemorySize')} MB) is called in this process with its deployed environment:")
        env = runtime.function_environment
        self.info("  " + ", ".join(f"{k}={_short(v, 60)}" for k, v in env.items()))
        self.info("  and, locally: AWS_ENDPOINT_URL=moto, AWS_ENDPOINT_URL_DEADLINE=stand-in, "
                  "AWS_DISABLE_HOST_PREFIX_INJECTION=true, fake credentials; its logs -> " + str(runtime.log_path))
        for rule in bus.function_rules():
            self.info(f"rule {rule.name} (read back from moto's EventBridge, {rule.state}): {rule.pattern}")
        self.info(f"subscriber: SQS queue {observer.queue_url.rsplit('/', 1)[-1]} subscribed to the topic")

    def job(self, player) -> None:
        job = player.job
        self.info(f"job {job.name} ({job.job_id}), {len(player.task_of_frame)} frames, step {player.step.name}, "
                  f"queue {job.queue_id}")

    def delivered(self, delivery, emitted) -> None:
        if not delivery.matched:
            return
        tag = f" [{delivery.note}]" if delivery.note else ""
        parts = []
        for inv in delivery.invocations:
            if inv.ok:
                result = inv.result or {}
                said = _function_said(inv)
                parts.append(f"{result.get('status')}/{result.get('outcome')}" + (f" \"{said}\"" if said else ""))
            else:
                parts.append(f"raised {inv.error_type}")
        self.info(f"  EventBridge -> function: {emitted.describe()}{tag}: " + "; retried: ".join(parts)
                  + (" -> dead-letter queue" if delivery.dead_lettered else ""))

    def delivered_batch(self, deliveries) -> None:
        filtered = [e for d, e in deliveries if not d.matched]
        if not filtered:
            return
        kinds = Counter(
            f"task runs -> {e.run_status}" if e.detail_type == "Task Run Status Change" else e.detail_type
            for e in filtered
        )
        self.info(f"  filtered by the rule: {len(filtered)} event(s) ("
                  + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")")

    def mail(self, notifications, labels) -> None:
        for n in notifications:
            label = labels.get(n.record.get("sessionActionId"), "?")
            self.info(f"  [mail] {label}: {n.subject}")

    def played(self, play, standin) -> None:
        matched = [d for d, _ in play.deliveries if d.matched]
        invocations = sum(len(d.invocations) for d in matched)
        errors = sum(1 for d in matched for i in d.invocations if not i.ok)
        self.info(f"{len(play.emitted)} events from the farm, {len(play.deliveries)} deliveries "
                  f"({len(play.duplicates)} duplicate, {len(play.late)} late): {len(matched)} matched the rule -> "
                  f"{invocations} invocations ({errors} raised and were retried); "
                  f"{len(play.deliveries) - len(matched)} filtered")
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


def print_summary(result: DemoResult, out: TextIO) -> None:
    p = lambda text="": print(text, file=out, flush=True)  # noqa: E731
    labels = result.labels
    order = {label: i for i, label in enumerate(result.labels.values())}

    p()
    p(f"[6/7] Notifications  {len(result.notifications)} messages on the SQS queue subscribed to the topic")
    p(f"{INDENT}{'action':<11} {'status':<16} subject")
    notes = sorted(result.notifications, key=lambda n: order.get(labels.get(n.record.get("sessionActionId"), ""), 1e9))
    for n in notes:
        label = labels.get(n.record.get("sessionActionId"), "?")
        p(f"{INDENT}{label:<11} {n.record.get('status', ''):<16} {n.subject}")
    failures = [n for n in notes if n.record.get("outcome") == "failure"]
    if failures:
        p()
        p(f"{INDENT}E-mail text of the failures (the message's \"email\" member, as an e-mail subscriber gets it):")
        for n in failures:
            label = labels.get(n.record.get("sessionActionId"), "?")
            p(f"{INDENT}--- {label} ---")
            for line in (n.email or "(no e-mail text)").rstrip("\n").splitlines():
                p(f"{INDENT}  {line}")

    p()
    table = result.deployed.outputs.get("TableName", "?")
    p(f"[7/7] History table  {table}: {len(result.rows)} rows")
    head = (f"{'action':<11} {'type':<8} {'frame':>5} {'status':<16} {'outcome':<11} {'exit':>4} {'duration':>9}  "
            f"{'ended (farm time)':<24} notified")
    p(INDENT + head)
    rows = sorted(result.rows, key=lambda r: order.get(r.get("label") or "", 1e9))
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
    p(f"Logs: function {result.function['log']}; moto server {result.moto['log']}")
    p(verdict_line(result))


def verdict_line(result: DemoResult) -> str:
    seconds = result.timings.get("total", 0.0)
    if result.passed:
        runs = result.state_machine_runs
        matched = sum(1 for d, _ in result.play.deliveries if d.matched)
        return (f"VERDICT: PASS - {len(result.notifications)} notifications for {len(result.notifications)} ended "
                f"actions from {matched} deliveries ({len(result.play.duplicates)} duplicate, {len(result.play.late)} "
                f"late), {len(result.rows)} history rows, WaitForSessionAction {len(runs)}/{len(runs)} as expected, "
                f"dead-letter queue empty; {len(result.checks)} checks in {seconds:.1f} s")
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
        "rules": result.rules,
        "ids": result.ids,
        "deliveries": [
            {
                "eventId": d.event["id"], "detailType": d.event["detail-type"], "label": e.label,
                "describe": e.describe(), "note": d.note, "matched": d.matched, "outcome": d.outcome,
                "invocations": [{"ok": i.ok, "errorType": i.error_type, "result": i.result} for i in d.invocations],
            }
            for d, e in result.play.deliveries
        ],
        "notifications": [
            {"label": labels.get(n.record.get("sessionActionId")), "messageId": n.message_id, "subject": n.subject,
             "attributes": n.attributes, "record": n.record, "email": n.email}
            for n in result.notifications
        ],
        "rows": result.rows,
        "stateMachine": [
            {"label": r.label, "input": r.input, "payload": r.payload, "status": r.status, "output": r.output,
             "error": r.error, "cause": r.cause, "problem": r.problem, "states": r.states}
            for r in result.state_machine_runs
        ],
        "deadLetters": result.dead_letters,
        "deadlineStandIn": {"calls": result.standin_calls, "throttled": result.throttled},
        "checks": [c.as_dict() for c in result.checks],
        "verdictLine": verdict_line(result),
    }
