"""The enricher's caches and call budget, with an in-memory Deadline reader (the stand-in covers the wire)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict

import pytest

from session_watch.config import load_settings
from session_watch.domain.record import RECORD_FIELDS
from session_watch.domain.requests import SessionActionRef
from session_watch.enricher import Enricher
from session_watch.errors import DeadlineThrottled

BUSY = "Deadline Cloud was busy and refused the read, still after retries"
FARM, QUEUE, JOB = "farm-" + "0" * 32, "queue-" + "1" * 32, "job-" + "2" * 32
SETTINGS = load_settings({"TABLE_NAME": "history", "TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:t",
                          "NOTIFY_MODE": "each", "DIGEST_WINDOW_SECONDS": "60", "AWS_REGION": "us-west-2"})
T0 = 1_795_946_400.0
STEP = "step-" + "5" * 32


def session_id(n: int) -> str:
    return f"session-{n:032x}"


def record(session: int, n: int = 1, status: str = "FAILED") -> Dict[str, Any]:
    r = dict.fromkeys(RECORD_FIELDS)
    r.update(farmId=FARM, queueId=QUEUE, jobId=JOB, sessionId=session_id(session),
             sessionActionId=f"sessionaction-{session:032x}-{n}", status=status, outcome="failure", terminal=True,
             actionType="taskRun", taskId=f"task-{'5' * 32}-{n}", stepId=STEP,
             endedAt="2026-11-30T07:00:00.000Z" if status != "NEVER_ATTEMPTED" else None)
    return r


class Reads:
    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.fail: Dict[str, Exception] = {}

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if name in self.fail:
            raise self.fail[name]

    def get_job(self, farm_id, queue_id, job_id):
        self._call("GetJob")
        return {"jobId": job_id, "name": "shot-042", "priority": 70}

    def get_session(self, farm_id, queue_id, job_id, session):
        self._call("GetSession")
        return {"sessionId": session, "workerId": "worker-" + session[-8:], "fleetId": "fleet-" + "7" * 32,
                "log": {"logDriver": "awslogs", "options": {"logGroupName": "/aws/deadline/x", "logStreamName": session}}}

    def session_actions_of_session(self, farm_id, queue_id, job_id, session):
        self._call("ListSessionActions")
        return [{"sessionActionId": f"sessionaction-{session[8:]}-0", "status": "FAILED",
                 "definition": {"envEnter": {"environmentId": "JOB:x:Blender"}}},
                {"sessionActionId": f"sessionaction-{session[8:]}-1", "status": "NEVER_ATTEMPTED",
                 "definition": {"taskRun": {"stepId": "step-" + "5" * 32, "taskId": "task-" + "5" * 32 + "-1"}}}]

    def get_session_action(self, ref: SessionActionRef):
        self._call("GetSessionAction")
        return {"sessionActionId": ref.session_action_id, "status": "FAILED", "sessionId": "session-" + ref.session_action_id[14:46],
                "definition": {"envEnter": {"environmentId": "JOB:x:Blender"}}, "processExitCode": 1,
                "progressMessage": "conda: PackagesNotFoundError"}

    def batch_get_jobs(self, jobs):
        self._call("BatchGetJob")
        return {tuple(j): {"jobId": j[2], "name": "shot-042", "priority": 70} for j in jobs}, {}

    def batch_get_sessions(self, sessions):
        self._call("BatchGetSession")
        found = {tuple(s): self.get_session(*s) for s in list(sessions)[1:]}
        self.calls["GetSession"] -= len(found)
        first = tuple(list(sessions)[0])
        return found, {first: DeadlineThrottled("BatchGetSession", "ThrottlingException", "slow down")}

    def get_step(self, farm_id, queue_id, job_id, step_id):
        self._call("GetStep")
        return {"stepId": step_id, "name": "Render", "lifecycleStatus": "CREATE_COMPLETE"}

    def batch_get_steps(self, steps):
        self._call("BatchGetStep")
        found = {tuple(s): {"farmId": s[0], "queueId": s[1], "jobId": s[2], "stepId": s[3], "name": "Render"}
                 for s in steps}
        return found, {}

    def batch_get_session_actions(self, refs):
        self._call("BatchGetSessionAction")
        out = {(r.farm_id, r.queue_id, r.job_id, r.session_action_id): self.get_session_action(r) for r in refs}
        self.calls["GetSessionAction"] -= len(out)
        return out, {}


@pytest.fixture
def reads():
    return Reads()


def test_every_new_session_is_read_once_and_job_lookups_stay_one_per_job_per_window(reads):
    """The worker of every session (a second session of a job in the window too); a budget of calls for
    job and root-cause lookups, not of items."""
    enricher = Enricher(reads, SETTINGS)

    first = enricher.enrich(record(1), task_run_status="FAILED", now=T0)
    second = enricher.enrich(record(2), task_run_status="FAILED", now=T0 + 10)
    again = enricher.enrich(record(2, n=2), task_run_status="FAILED", now=T0 + 20)
    next_window = enricher.enrich(record(3), task_run_status="FAILED", now=T0 + 61)

    assert reads.calls == Counter({"GetJob": 1, "GetSession": 3, "GetStep": 1})  # job, step once; each session
    assert first["workerId"] and first["jobName"] == "shot-042" and first["enrichmentMissing"] is None
    assert second["workerId"] == "worker-" + session_id(2)[-8:] and second["enrichmentMissing"] is None
    assert again["workerId"] == second["workerId"]  # cached
    assert next_window["workerId"] is not None


def test_a_refused_session_lookup_is_named_and_not_retried_for_the_job_before_the_next_window(reads):
    reads.fail["GetSession"] = DeadlineThrottled("GetSession", "ThrottlingException", "slow down")
    enricher = Enricher(reads, SETTINGS)

    first = enricher.enrich(record(1), task_run_status="FAILED", now=T0)
    second = enricher.enrich(record(2), task_run_status="FAILED", now=T0 + 10)
    del reads.fail["GetSession"]
    later = enricher.enrich(record(2), task_run_status="FAILED", now=T0 + 61)

    assert reads.calls["GetSession"] == 2  # session 1, then session 2 in the next window; not in between
    assert first["workerId"] is None and first["enrichmentMissing"] == [f"workerId: {BUSY} (GetSession ThrottlingException)"]
    assert second["workerId"] is None and second["logStream"] == session_id(2)  # the documented log location
    assert second["logGroup"] == f"/aws/deadline/{FARM}/{QUEUE}"
    assert second["enrichmentMissing"] == [f"workerId: {BUSY} (GetSession ThrottlingException)"]
    assert later["workerId"] is not None and later["enrichmentMissing"] is None


def test_a_failed_call_is_named_and_not_retried_within_the_window(reads):
    reads.fail["GetJob"] = DeadlineThrottled("GetJob", "ThrottlingException", "slow down")
    enricher = Enricher(reads, SETTINGS)

    first = enricher.enrich(record(1), task_run_status="FAILED", now=T0)
    again = enricher.enrich(record(1, n=2), task_run_status="FAILED", now=T0 + 1)

    assert reads.calls["GetJob"] == 1
    assert first["enrichmentMissing"] == [f"jobName: {BUSY} (GetJob ThrottlingException)"]
    assert again["enrichmentMissing"] == [f"jobName: {BUSY} (GetJob ThrottlingException)"]  # the reason, not "limit"
    assert first["workerId"] is not None  # the other details still came


def test_root_cause_is_looked_up_once_per_session_and_remembered(reads):
    enricher = Enricher(reads, SETTINGS)

    a = enricher.enrich(record(1, n=1, status="NEVER_ATTEMPTED"), task_run_status="FAILED", now=T0)
    b = enricher.enrich(record(1, n=2, status="NEVER_ATTEMPTED"), task_run_status="FAILED", now=T0 + 200)
    own = enricher.enrich(record(1, n=3, status="FAILED"), task_run_status="FAILED", now=T0 + 300)

    assert reads.calls["ListSessionActions"] == 1 and reads.calls["GetSessionAction"] == 1
    assert a["rootCause"]["actionType"] == "envEnter" and a["rootCause"]["processExitCode"] == 1
    assert b["rootCause"] == a["rootCause"]
    assert own["rootCause"] is None  # an action that failed itself is its own cause
    assert enricher.root_cause_record(session_id(1))["status"] == "FAILED"


def test_prefetch_reads_a_batch_with_one_call_per_kind_and_keeps_per_item_errors(reads):
    enricher = Enricher(reads, SETTINGS)
    batch = [record(s, n=s, status="NEVER_ATTEMPTED") for s in (1, 2, 3)]

    enricher.prefetch(batch, ["FAILED"] * 3, T0)
    out = [enricher.enrich(r, task_run_status="FAILED", now=T0) for r in batch]

    assert reads.calls["BatchGetJob"] == 1 and reads.calls["BatchGetSession"] == 1
    assert reads.calls["GetJob"] == 0 and reads.calls["GetSession"] == 0
    assert all(r["jobName"] == "shot-042" for r in out)
    assert out[0]["workerId"] is None
    assert f"workerId: {BUSY} (BatchGetSession ThrottlingException)" in out[0]["enrichmentMissing"]
    assert out[1]["workerId"] and out[2]["workerId"]
    # Every session's root cause: one ListSessionActions per session, one BatchGetSessionAction in all.
    assert reads.calls["ListSessionActions"] == 3 and reads.calls["BatchGetSessionAction"] == 1
    assert all(r["rootCause"] is not None for r in out)
    assert out[1]["enrichmentMissing"] is None and out[2]["enrichmentMissing"] is None


# --- step names ------------------------------------------------------------------------------------


def test_every_record_names_its_step_read_once_per_job_and_step(reads):
    enricher = Enricher(reads, SETTINGS)

    out = [enricher.enrich(record(s, n=s), task_run_status="FAILED", now=T0 + s) for s in (1, 2, 3)]

    assert reads.calls["GetStep"] == 1
    assert [r["stepName"] for r in out] == ["Render"] * 3
    assert all(r["stepId"] == STEP for r in out)  # the id stays beside the name


def test_prefetch_reads_every_step_of_a_batch_with_one_batch_get_step(reads):
    enricher = Enricher(reads, SETTINGS)
    batch = [record(s, n=s) for s in (1, 2, 3)]

    enricher.prefetch(batch, ["FAILED"] * 3, T0)
    out = [enricher.enrich(r, task_run_status="FAILED", now=T0) for r in batch]

    assert reads.calls["BatchGetStep"] == 1 and reads.calls["GetStep"] == 0
    assert all(r["stepName"] == "Render" for r in out)


def test_a_refused_step_lookup_is_said_in_plain_words_and_not_retried_in_the_window(reads):
    reads.fail["GetStep"] = DeadlineThrottled("GetStep", "ThrottlingException", "slow down")
    enricher = Enricher(reads, SETTINGS)

    first = enricher.enrich(record(1), task_run_status="FAILED", now=T0)
    second = enricher.enrich(record(2), task_run_status="FAILED", now=T0 + 5)

    assert reads.calls["GetStep"] == 1
    assert first["stepName"] is None and second["stepName"] is None
    assert first["enrichmentMissing"] == [f"stepName: {BUSY} (GetStep ThrottlingException)"]
    assert "call limit" not in " ".join(second["enrichmentMissing"])


# --- log excerpts ------------------------------------------------------------------------------------


class Logs:
    """An in-memory SessionLogPort: the calls it got, and lines (or an error) to answer with."""

    def __init__(self, lines=None, error=None) -> None:
        self.calls = []
        self.lines = lines if lines is not None else [f"line {i}" for i in range(1, 41)]
        self.error = error

    def tail(self, log_group, log_stream, *, end_time_ms, lines):
        self.calls.append((log_group, log_stream, end_time_ms, lines))
        if self.error is not None:
            raise self.error
        return self.lines[-lines:]


def settings(**env):
    base = {"TABLE_NAME": "history", "TOPIC_ARN": "arn:aws:sns:us-west-2:111122223333:t", "NOTIFY_MODE": "each",
            "DIGEST_WINDOW_SECONDS": "60", "AWS_REGION": "us-west-2"}
    return load_settings({**base, **env})


def test_a_failed_action_carries_the_last_lines_its_session_logged_up_to_its_end(reads):
    logs = Logs()
    enricher = Enricher(reads, settings(), logs)

    out = enricher.enrich(record(1), task_run_status="FAILED", now=T0)

    # endedAt 2026-11-30T07:00:00Z in epoch ms, plus one: GetLogEvents' endTime leaves out that very time.
    assert logs.calls == [("/aws/deadline/x", session_id(1), 1_796_022_000_000 + 1, 30)]
    assert out["logExcerpt"] == [f"line {i}" for i in range(11, 41)]  # the last 30, oldest first
    assert out["enrichmentMissing"] is None


def test_zero_lines_disables_the_log_read(reads):
    logs = Logs()
    enricher = Enricher(reads, settings(LOG_EXCERPT_LINES="0"), logs)

    out = enricher.enrich(record(1), task_run_status="FAILED", now=T0)

    assert logs.calls == [] and out["logExcerpt"] is None and out["enrichmentMissing"] is None


def test_completions_are_not_read(reads):
    logs = Logs()
    done = record(1, status="SUCCEEDED")
    done.update(outcome="completion")

    out = Enricher(reads, settings(), logs).enrich(done, task_run_status="SUCCEEDED", now=T0)

    assert logs.calls == [] and out["logExcerpt"] is None


def test_a_never_attempted_action_reads_the_session_log_up_to_now_once_per_session(reads):
    logs = Logs()
    enricher = Enricher(reads, settings(), logs)

    a = enricher.enrich(record(1, n=1, status="NEVER_ATTEMPTED"), task_run_status="FAILED", now=T0)
    b = enricher.enrich(record(1, n=2, status="NEVER_ATTEMPTED"), task_run_status="FAILED", now=T0 + 1)

    assert [c[2] for c in logs.calls] == [None]  # no end time (it never ran); the second is cached
    assert a["logExcerpt"] == b["logExcerpt"] and len(a["logExcerpt"]) == 30


def test_an_unreadable_log_is_null_and_named_in_plain_words(reads):
    from session_watch.errors import SessionLogUnreadable

    denied = SessionLogUnreadable("this service may not read the session's log (access denied)",
                                  "AccessDeniedException")
    logs = Logs(error=denied)
    enricher = Enricher(reads, settings(), logs)

    first = enricher.enrich(record(1), task_run_status="FAILED", now=T0)
    second = enricher.enrich(record(2), task_run_status="FAILED", now=T0 + 1)

    assert first["logExcerpt"] is None and second["logExcerpt"] is None
    assert first["enrichmentMissing"] == ["logExcerpt: this service may not read the session's log (access denied)"]
    assert second["enrichmentMissing"] == first["enrichmentMissing"]
    assert len(logs.calls) == 1  # denied: not asked again for the job in this window
    assert first["workerId"] is not None  # everything else still came


def test_a_missing_stream_does_not_stop_reading_other_sessions(reads):
    from session_watch.errors import SessionLogUnreadable

    logs = Logs(error=SessionLogUnreadable("no such stream", "ResourceNotFoundException"))
    enricher = Enricher(reads, settings(), logs)

    first = enricher.enrich(record(1), task_run_status="FAILED", now=T0)
    again = enricher.enrich(record(1), task_run_status="FAILED", now=T0 + 1)  # a redelivery: not asked again
    logs.error = None
    out = enricher.enrich(record(2), task_run_status="FAILED", now=T0 + 2)
    later = enricher.enrich(record(1), task_run_status="FAILED", now=T0 + 61)  # the next window: asked again

    assert [c[1] for c in logs.calls] == [session_id(1), session_id(2), session_id(1)]
    assert first["enrichmentMissing"] == again["enrichmentMissing"] == ["logExcerpt: no such stream"]
    assert out["logExcerpt"] and later["logExcerpt"]


def test_log_reads_are_bounded_per_job_and_window(reads):
    from session_watch.enricher import LOG_READS_PER_JOB_WINDOW

    logs = Logs()
    enricher = Enricher(reads, settings(), logs)

    out = [enricher.enrich(record(s), task_run_status="FAILED", now=T0) for s in range(1, LOG_READS_PER_JOB_WINDOW + 3)]

    assert len(logs.calls) == LOG_READS_PER_JOB_WINDOW
    assert out[-1]["logExcerpt"] is None and "open the log link" in out[-1]["enrichmentMissing"][0]
    assert enricher.enrich(record(999), task_run_status="FAILED", now=T0 + 60)["logExcerpt"]  # next window
