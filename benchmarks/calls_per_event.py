"""Calls per event: the AWS requests one event costs the function (every HTTP request botocore sends,
retries included, counted by a ``before-send`` hook on each client; Deadline calls cross-checked
against the stand-in's own request counter).

Every AWS call is counted and reported, whatever its service and operation (not a chosen subset): a
call the limits do not name counts against them. Limits: a ``Task Run Status Change`` for a terminal
action costs at most 1 GetTask, 1 GetSessionAction, the enrichment reads (1 GetJob per job and 1 GetSession
per session, cached for the execution environment, so the worst event of a job pays both), 2 DynamoDB
requests and 1 SNS publish; a duplicate delivery costs no SNS publish. The same limits are asserted in
``tests/integration/test_calls_per_event.py``.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List

from . import common

_READS = {"deadline.GetTask": 1, "deadline.GetSessionAction": 1, "deadline.GetJob": 1, "deadline.GetSession": 1,
          "deadline.GetStep": 1}  # the step's name (cached per job and step, as the job and the session are)
LIMITS = {
    # a failed action also reads the end of its session's log (logExcerpt): one GetLogEvents
    "terminal task event": {**_READS, "cloudwatch-logs.GetLogEvents": 1, "dynamodb": 2, "sns.Publish": 1},
    "duplicate task event": {**_READS, "dynamodb": 2, "sns.Publish": 0},
}


def within(worst: Dict[str, int], limit: Dict[str, int]) -> bool:
    """Every counted call is named by the limit and within it (DynamoDB counted as one service)."""
    for key, n in worst.items():
        if key in ("total",) or (key.startswith("dynamodb.") and "dynamodb" in limit):
            continue
        if n > limit.get(key, 0):
            return False
    return True


def _by_service(calls: Dict[str, int]) -> Dict[str, int]:
    out = dict(calls)
    out["dynamodb"] = sum(n for k, n in calls.items() if k.startswith("dynamodb."))
    return out


def _worst(answers: List[Dict[str, Any]]) -> Dict[str, int]:
    """Per operation (and ``total``: every AWS call of the event), the most any one event made."""
    worst: Counter = Counter()
    for answer in answers:
        for key, n in _by_service(answer["calls"]).items():
            worst[key] = max(worst[key], n)
        worst["total"] = max(worst["total"], sum(answer["calls"].values()))
    return dict(worst)


def run(events: int = 20) -> Dict[str, Any]:
    from local.deadline_farm import RenderFarm

    farm = RenderFarm(seed=5)
    job = common.render(farm, events, name="calls", failed_every=4)
    running = farm.create_job("calls-running", frames=range(1, events + 1))
    session = farm.start_session(running.job_id)
    for task_id in running.task_ids:
        action = farm.add_task_run(session.session_id, task_id, status="ASSIGNED")
        farm.set_session_action_status(action.session_action_id, "RUNNING")
    running_events = [e for e in farm.drain_events()
                      if e["detail-type"] == "Task Run Status Change" and e["detail"]["runStatus"] == "RUNNING"]
    tree = common.function_tree(bytecode=True)
    scenarios: Dict[str, List[Dict[str, Any]]] = {}
    with common.stage(farm) as st, tempfile.TemporaryDirectory() as tmp:
        env = common.lambda_environment(tree.code, extra=st.function_env())
        with common.FunctionProcess("handler", tree, env, Path(tmp) / "handler.log") as fn:
            st.standin.reset_calls()
            scenarios["terminal task event"] = fn.invoke_many(job.events)
            standin_terminal = dict(st.standin.calls)
            st.standin.reset_calls()
            scenarios["duplicate task event"] = fn.invoke_many(job.events)
            standin_duplicate = dict(st.standin.calls)
            scenarios["in-progress task event"] = fn.invoke_many(running_events)
            scenarios["direct invocation, terminal action"] = fn.invoke_many(
                [farm.session_action_ref(a.session_action_id) for a in _fresh_actions(farm, events)])
        with common.FunctionProcess("baseline", tree, env) as base:
            scenarios["baseline (direct invocation)"] = base.invoke_many(
                [farm.session_action_ref(a.session_action_id) for a in _fresh_actions(farm, events)])
        notifications = len(st.aws.notifications())

    result: Dict[str, Any] = {"events_per_scenario": events, "scenarios": {}, "limits": LIMITS, "ok": True}
    for name, answers in scenarios.items():
        failed = [a for a in answers if not a["ok"]]
        worst = _worst(answers)
        entry = {"worst": worst, "failed": len(failed)}
        limit = LIMITS.get(name)
        if limit:
            entry["within_limits"] = within(worst, limit) and not failed
            result["ok"] = result["ok"] and entry["within_limits"]
        result["scenarios"][name] = entry
    result["standin_calls"] = {"terminal task event": standin_terminal, "duplicate task event": standin_duplicate}
    # one notification per terminal action: the terminal task events, the direct invocations and the baseline's
    result["notifications"] = notifications
    result["expected_notifications"] = 3 * events
    result["ok"] = result["ok"] and notifications == 3 * events
    return result


def _fresh_actions(farm: Any, n: int) -> List[Any]:
    job = farm.create_job("calls-direct", frames=range(1, n + 1))
    session = farm.start_session(job.job_id)
    actions = [farm.run_task(t, "FAILED", session_id=session.session_id, process_exit_code=2) for t in job.task_ids]
    farm.drain_events()
    return actions


if __name__ == "__main__":
    common.dump(run())
