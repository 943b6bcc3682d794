"""Grouped messages (pure): the digest of a job's failures in a window, and the job-level run message."""

import json
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from session_watch.domain.digest import render_digest, render_job_run
from session_watch.domain.enrichment import ROOT_CAUSE_FIELDS, JobInfo, logs_console_url
from session_watch.domain.notification import CUT_MARKER, MESSAGE_BYTE_BUDGET, SNS_MESSAGE_LIMIT, TRIMMED_NOTE
from session_watch.domain.record import RECORD_FIELDS
from session_watch.domain.requests import JobRunChange, parse_invocation
from tests.hypothesis_profiles import examples

FARM = "farm-" + "0" * 32
QUEUE = "queue-" + "1" * 32
JOB = "job-" + "2" * 32
STEP_A = "step-" + "a" * 32
STEP_B = "step-" + "b" * 32
WINDOW = 1795683660  # 2026-11-26T09:01:00Z
SHOT = JobInfo(JOB, "shot-042_lighting", 50)
MONITOR = "https://monitor.example"
DIGEST_KEYS = {"kind", "farmId", "queueId", "jobId", "jobName", "jobPriority", "windowStart", "windowEnd",
               "failures", "byStatus", "byStep", "stepNames", "byExitCode", "sample", "rootCauses", "monitorUrl",
               "notIncluded", "distinctRootCauses", "suspectWorkers"}


def action_id(n, session=3):
    return f"sessionaction-{session:032x}-{n}"


def failed(n, *, session=3, status="FAILED", step=STEP_A, code=139, ended=None, message="Segmentation fault",
           cause=None, missing=None, **extra):
    r = dict.fromkeys(RECORD_FIELDS)
    session_id = f"session-{session:032x}"
    r.update(farmId=FARM, queueId=QUEUE, jobId=JOB, sessionId=session_id, sessionActionId=action_id(n, session),
             status=status, outcome="failure", terminal=True, actionType="taskRun", stepId=step,
             taskId=f"task-{'5' * 32}-{n}", parameters={"Frame": n}, parameterTypes={"Frame": "int"},
             processExitCode=code, progressMessage=message,
             endedAt=ended if ended is not None else f"2026-11-26T09:01:{n % 60:02d}.000Z",
             workerId="worker-" + "b" * 32, logGroup=f"/aws/deadline/{FARM}/{QUEUE}", logStream=session_id,
             logsUrl=logs_console_url("us-west-2", f"/aws/deadline/{FARM}/{QUEUE}", session_id),
             rootCause=cause, enrichmentMissing=missing)
    r.update(extra)
    return r


def env_cause(session, exit_code=2, message="conda: command not found"):
    cause = dict.fromkeys(ROOT_CAUSE_FIELDS)
    cause.update(sessionActionId=action_id(0, session), sessionId=f"session-{session:032x}", actionType="envEnter",
                 status="FAILED", environmentId=f"JOB:{JOB}:Setup", processExitCode=exit_code,
                 progressMessage=message, endedAt="2026-11-26T09:00:59.000Z")
    return cause


def digest(records, **kwargs):
    args = dict(window_start=WINDOW, window_seconds=60, sample_size=10, job=SHOT, monitor_url=MONITOR)
    args.update(kwargs)
    notification = render_digest(records, **args)
    body = json.loads(notification.message)
    return notification, json.loads(body["default"]), body["email"]


# --- the digest ------------------------------------------------------------------------------------


def test_subject_attributes_and_json_of_a_digest():
    records = [failed(n) for n in range(1, 1001)]
    notification, default, email = digest(records)
    assert notification.subject == "Deadline: shot-042_lighting: 1000 failures in window 09:01-09:02 UTC"
    assert notification.attributes == {"kind": "digest", "outcome": "failure", "farmId": FARM, "queueId": QUEUE,
                                       "jobId": JOB}
    assert notification.kind == "digest"
    assert set(default) == DIGEST_KEYS
    assert default["kind"] == "digest" and default["failures"] == 1000
    assert (default["farmId"], default["queueId"], default["jobId"]) == (FARM, QUEUE, JOB)
    assert (default["jobName"], default["jobPriority"]) == ("shot-042_lighting", 50)
    assert (default["windowStart"], default["windowEnd"]) == ("2026-11-26T09:01:00Z", "2026-11-26T09:02:00Z")
    assert default["monitorUrl"] == f"{MONITOR}/farms/{FARM}/queues/{QUEUE}/jobs/{JOB}"
    assert default["notIncluded"] == [] and default["rootCauses"] == [] and default["distinctRootCauses"] == 0
    assert email.startswith(notification.subject + "\n\n")


def test_one_failure_and_odd_windows_in_the_subject():
    notification, _, _ = digest([failed(1)], window_seconds=90, job=None)
    assert notification.subject == f"Deadline: {JOB}: 1 failure in window 09:01:00-09:02:30 UTC"


def test_a_long_job_name_is_shortened_and_the_window_kept():
    notification, default, _ = digest([failed(1)], job=JobInfo(JOB, "\u00e9" * 300, 1))
    assert len(notification.subject) < 100 and notification.subject.isascii()
    assert notification.subject.endswith("...: 1 failure in window 09:01-09:02 UTC")
    assert default["jobName"] == "\u00e9" * 300


def test_counts_by_status_step_and_exit_code():
    records = ([failed(n, code=139) for n in range(6)] + [failed(n, step=STEP_B, code=1) for n in range(6, 9)]
               + [failed(n, status="NEVER_ATTEMPTED", code=None) for n in range(9, 11)])
    _, default, email = digest(records)
    assert default["byStatus"] == {"FAILED": 9, "NEVER_ATTEMPTED": 2}
    assert default["byStep"] == {STEP_A: 8, STEP_B: 3}
    assert default["byExitCode"] == {"139": 6, "1": 3, "none": 2}
    section = email.split("By exit code:\n", 1)[1].split("\n\n")[0].splitlines()
    assert [line.split() for line in section] == [["139", "6"], ["1", "3"], ["none", "2"]]
    assert "By status:\n" in email and "By step:\n" in email


def test_count_tables_are_bounded_and_the_rest_is_added_up():
    records = [failed(n, code=n, step=f"step-{n:032x}") for n in range(500)]
    _, default, _ = digest(records)
    for table in ("byExitCode", "byStep"):
        assert len(default[table]) == 20 and sum(default[table].values()) == 500
        assert default[table]["other"] == 500 - 19


def test_sample_is_the_first_n_by_end_time_then_the_id_number():
    records = [failed(n, ended=f"2026-11-26T09:01:{30 - n:02d}.000Z") for n in range(1, 21)]
    records += [failed(n, ended="2026-11-26T09:01:00.500Z") for n in (110, 19_000, 12)]  # ties: 12 < 110 < 19000
    records += [failed(99, ended="", startedAt="2026-11-26T09:00:01.000Z")]  # never ended: by its start
    random.Random(7).shuffle(records)
    _, default, email = digest(records, sample_size=6)
    assert [s["sessionActionId"] for s in default["sample"]] == [
        action_id(99), action_id(12), action_id(110), action_id(19_000), action_id(20), action_id(19)]
    assert "First 6 of 24 failed actions:" in email


def test_actions_without_any_time_come_last_in_the_sample():
    records = [failed(1, ended="", startedAt=None), failed(2)]
    _, default, _ = digest(records, sample_size=2)
    assert [s["sessionActionId"] for s in default["sample"]] == [action_id(2), action_id(1)]


def test_each_sample_line_tells_task_frames_status_exit_code_message_worker_and_logs():
    record = failed(12, message="x" * 150 + "y" * 150, parameters={"Frame": 12, "Layer": "beauty"})
    _, default, email = digest([record], sample_size=1)
    sample = default["sample"][0]
    assert sample["taskId"] == f"task-{'5' * 32}-12" and sample["parameters"] == {"Frame": 12, "Layer": "beauty"}
    assert sample["status"] == "FAILED" and sample["processExitCode"] == 139
    assert sample["progressMessage"] == "x" * 150 + "y" * 47 + "..." and len(sample["progressMessage"]) == 200
    assert sample["workerId"] == "worker-" + "b" * 32 and sample["logsUrl"] == record["logsUrl"]

    block = email.split("The failed action:\n", 1)[1]
    lines = block.splitlines()
    assert lines[0] == f"  1. task-{'5' * 32}-12  [Frame=12, Layer=beauty]"
    assert "Status:  FAILED, exit 139" in block
    assert "Worker:  worker-" + "b" * 32 in block
    assert "Message: " + "x" * 150 + "y" * 47 + "...\n" in block
    assert "Logs:    " + record["logsUrl"] in block


def test_root_causes_are_distinct_with_the_number_of_actions_each_explains():
    records = [failed(n, session=1, status="NEVER_ATTEMPTED", code=None, cause=env_cause(1)) for n in range(1, 8)]
    records += [failed(n, session=2, status="NEVER_ATTEMPTED", code=None, cause=env_cause(2, 1, "disk full"))
                for n in range(1, 4)]
    records += [failed(n, session=4) for n in range(1, 5)]  # failed themselves: not a root cause
    _, default, email = digest(records)
    causes = default["rootCauses"]
    assert [(c["sessionActionId"], c["explains"]) for c in causes] == [(action_id(0, 1), 7), (action_id(0, 2), 3)]
    assert default["distinctRootCauses"] == 2
    assert causes[0]["actionType"] == "envEnter" and causes[0]["processExitCode"] == 2
    assert causes[0]["progressMessage"] == "conda: command not found"
    assert causes[0]["logsUrl"] == records[0]["logsUrl"]
    assert set(ROOT_CAUSE_FIELDS) < set(causes[0])

    block = email.split("Root causes (2; each the first failed action of its session):\n", 1)[1]
    assert block.index("1. explains 7 actions") < block.index("conda: command not found") \
        < block.index("2. explains 3 actions") < block.index("disk full")
    assert f"Environment enter JOB:{JOB}:Setup" in block
    sample_roots = {s["sessionActionId"]: s["rootCauseId"] for s in default["sample"]}
    assert sample_roots[action_id(1, 1)] == action_id(0, 1) and sample_roots[action_id(1, 4)] is None


def test_many_root_causes_are_bounded_to_those_explaining_most():
    records = [failed(n, session=s, status="NEVER_ATTEMPTED", cause=env_cause(s))
               for s in range(1, 41) for n in range(1, (3 if s == 40 else 2))]
    _, default, email = digest(records)
    assert len(default["rootCauses"]) == 10 and default["distinctRootCauses"] == 40
    assert default["rootCauses"][0]["sessionActionId"] == action_id(0, 40)
    assert default["rootCauses"][0]["explains"] == 2
    assert "Root causes (the 10 explaining most actions of 40;" in email


def test_not_included_is_deduplicated_from_the_argument_and_the_records():
    records = [failed(1, missing=["workerId: GetSession ThrottlingException"]),
               failed(2, missing=["workerId: GetSession ThrottlingException", "rootCause: ListSessionActions 500"]),
               failed(3)]
    _, default, email = digest(records, missing=["jobName: GetJob AccessDeniedException",
                                                 "workerId: GetSession ThrottlingException"])
    assert default["notIncluded"] == ["jobName: GetJob AccessDeniedException",
                                      "workerId: GetSession ThrottlingException",
                                      "rootCause: ListSessionActions 500"]
    assert email.rstrip().splitlines()[-1] == ("Not included: jobName: GetJob AccessDeniedException; "
                                               "workerId: GetSession ThrottlingException; "
                                               "rootCause: ListSessionActions 500")


def test_without_job_info_the_records_own_name_is_used():
    records = [failed(1), failed(2, jobName="from-record", jobPriority=9)]
    notification, default, email = digest(records, job=None, monitor_url=None)
    assert (default["jobName"], default["jobPriority"]) == ("from-record", 9)
    assert "Deadline: from-record: " in notification.subject
    assert default["monitorUrl"] is None and "Monitor:" not in email


def test_the_email_reads_well_in_a_plain_mail_client():
    records = [failed(n, session=1, status="NEVER_ATTEMPTED", code=None, cause=env_cause(1)) for n in range(1, 4)]
    records += [failed(n, missing=["workerId: x"]) for n in range(1, 30)]
    _, _, email = digest(records, sample_size=3)
    assert email.isascii() and all(line == line.rstrip() for line in email.splitlines())
    assert max(len(line) for line in email.splitlines() if "https://" not in line) < 120
    headings = [line for line in email.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert headings == ["By status:", "By step:", "By exit code:",
                        "Root causes (1; each the first failed action of its session):",
                        "First 3 of 32 failed actions:"]
    top = dict(line.split(":", 1) for line in email.split("\n\n")[1].splitlines())
    assert top["Job"].strip() == "shot-042_lighting (priority 50)" and top["Failures"].strip() == "32"
    assert top["Window"].strip() == "2026-11-26T09:01:00Z to 2026-11-26T09:02:00Z"


def test_an_empty_window_still_renders():
    notification, default, _ = digest([], job=None)
    assert default["failures"] == 0 and default["sample"] == []
    assert notification.subject.startswith("Deadline: unknown job: 0 failures")


def test_records_can_be_a_generator():
    notification, default, _ = digest(failed(n) for n in range(50))
    assert default["failures"] == 50 and len(default["sample"]) == 10


# --- size: the message always fits SNS -----------------------------------------------------------------


def message_bytes(notification):
    return len(notification.message.encode("utf-8"))


def test_100k_failures_with_4kb_messages_fit_in_one_message_quickly():
    filler = "\x01\"\\\u00e9" * 1024  # 4 KB of characters that JSON escapes or UTF-8 widens

    def records():
        for n in range(100_000):
            yield failed(n, session=n % 997, status="NEVER_ATTEMPTED" if n % 2 else "FAILED", code=n % 300,
                         step=f"step-{n % 50:032x}", message=f"{n} " + filler,
                         parameters={"Frame": n, "Scene": filler},
                         cause=env_cause(n % 997, message=filler) if n % 2 else None,
                         missing=[f"workerId: GetSession session-{n % 1000} ThrottlingException"])

    started = time.process_time()  # CPU time: what rendering costs, not how busy the shared machine is
    notification = render_digest(records(), window_start=WINDOW, window_seconds=60, sample_size=50, job=SHOT,
                                 monitor_url=MONITOR)
    elapsed = time.process_time() - started
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET < SNS_MESSAGE_LIMIT
    assert elapsed < 10, elapsed  # about 2 s on a laptop, generating the records included
    default = json.loads(json.loads(notification.message)["default"])
    assert default["failures"] == 100_000
    assert sum(default["byStatus"].values()) == sum(default["byStep"].values()) == 100_000
    assert sum(default["byExitCode"].values()) == 100_000
    assert default["distinctRootCauses"] == 997 and len(default["rootCauses"]) == 10
    assert len(default["sample"]) == 50 and len(default["notIncluded"]) == 21  # 20 and "and 980 more"


def test_a_digest_of_huge_junk_fields_is_cut_to_fit():
    junk = "\x07" * 200_000
    records = [failed(n, taskId=junk, environmentId=junk, workerId=junk, logsUrl=junk, parameters={junk: junk},
                      cause=env_cause(n, message=junk) | {"environmentId": junk}, missing=[junk])
               for n in range(60)]
    notification, default, email = digest(records, sample_size=50, job=JobInfo(JOB, junk, 1))
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET
    assert default["failures"] == 60 and default["jobId"] == JOB
    assert TRIMMED_NOTE in email and CUT_MARKER in notification.message
    assert len(notification.subject) < 100


JUNK_TEXT = st.one_of(st.none(), st.text(max_size=20),
                      st.builds(lambda c, n: c * n, st.characters(), st.integers(1, 60_000)))


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.fixed_dictionaries({
    "status": JUNK_TEXT, "stepId": JUNK_TEXT, "processExitCode": st.one_of(st.none(), st.integers()),
    "progressMessage": JUNK_TEXT, "taskId": JUNK_TEXT, "endedAt": JUNK_TEXT, "logsUrl": JUNK_TEXT,
    "parameters": st.one_of(st.none(), st.dictionaries(st.text(max_size=5), JUNK_TEXT, max_size=3)),
    "rootCause": st.one_of(st.none(), st.fixed_dictionaries({"sessionActionId": JUNK_TEXT,
                                                             "progressMessage": JUNK_TEXT})),
    "enrichmentMissing": st.one_of(st.none(), st.lists(JUNK_TEXT, max_size=3)),
}), max_size=30), st.integers(1, 50), JUNK_TEXT)
def test_any_records_give_a_digest_within_the_sns_limit(changes, sample_size, name):
    records = [dict(failed(n), **change) for n, change in enumerate(changes)]
    notification = render_digest(records, window_start=WINDOW, window_seconds=60, sample_size=sample_size,
                                 job=JobInfo(JOB, name, None), monitor_url=MONITOR)
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET
    assert 0 < len(notification.subject) < 100 and all(32 <= ord(c) < 127 for c in notification.subject)
    default = json.loads(json.loads(notification.message)["default"])
    assert default["kind"] == "digest" and default["failures"] == len(records)


# --- job run -------------------------------------------------------------------------------------------


def job_change(status="FAILED", previous="RUNNING", **counts):
    all_counts = dict.fromkeys(["PENDING", "READY", "ASSIGNED", "STARTING", "SCHEDULED", "INTERRUPTING", "RUNNING",
                                "SUSPENDED", "CANCELED", "FAILED", "SUCCEEDED", "NOT_COMPATIBLE"], 0)
    all_counts.update(counts)
    return JobRunChange(FARM, QUEUE, JOB, status, previous, all_counts, "e-1")


def test_job_run_message_of_the_reference_event():
    event = json.loads(open("tests/events/job-run-failed.json").read())
    change = parse_invocation(event)
    notification = render_job_run(change, job=JobInfo(change.job_id, "shot-042", 50), monitor_url=MONITOR)
    assert notification.subject == "Deadline: shot-042: job failed (3 failed, 97 succeeded of 100 tasks)"
    assert notification.attributes == {"kind": "jobRun", "outcome": "failure", "status": "FAILED",
                                       "farmId": change.farm_id, "queueId": change.queue_id, "jobId": change.job_id}
    body = json.loads(notification.message)
    default = json.loads(body["default"])
    assert default == {
        "kind": "jobRun", "farmId": change.farm_id, "queueId": change.queue_id, "jobId": change.job_id,
        "jobName": "shot-042", "jobPriority": 50, "taskRunStatus": "FAILED", "previousTaskRunStatus": "RUNNING",
        "taskRunStatusCounts": change.task_run_status_counts,
        "monitorUrl": f"{MONITOR}/farms/{change.farm_id}/queues/{change.queue_id}/jobs/{change.job_id}",
        "notIncluded": [],
    }
    email = body["email"]
    counts_block = email.split("Tasks by run status:\n", 1)[1].split("\n\n")[0]
    assert [line.split() for line in counts_block.splitlines()] == [["FAILED", "3"], ["SUCCEEDED", "97"]]
    assert "Status:       FAILED (was RUNNING)" in email and "Tasks:        100" in email
    assert "PENDING" not in email and "NOT_COMPATIBLE" not in email


@pytest.mark.parametrize("status, counts, outcome, subject", [
    ("SUCCEEDED", {"SUCCEEDED": 100}, "completion", "Deadline: shot-042: job succeeded (100 succeeded of 100 tasks)"),
    ("CANCELED", {"CANCELED": 4, "SUCCEEDED": 6}, "failure",
     "Deadline: shot-042: job canceled (4 canceled, 6 succeeded of 10 tasks)"),
    ("FAILED", {"FAILED": 1, "CANCELED": 2, "NOT_COMPATIBLE": 3, "SUCCEEDED": 4}, "failure",
     "Deadline: shot-042: job failed (1 failed, 2 canceled, 3 not compatible, +1 more of 10 tasks)"),
])
def test_job_run_wording(status, counts, outcome, subject):
    notification = render_job_run(job_change(status, **counts), job=JobInfo(JOB, "shot-042", 1), monitor_url=None)
    assert notification.subject == subject
    assert notification.attributes["outcome"] == outcome and notification.attributes["status"] == status


def test_job_run_without_job_info_says_what_is_missing():
    notification = render_job_run(job_change(SUCCEEDED=3, previous=None), job=None, monitor_url=None,
                                  missing=["jobName: GetJob ThrottlingException"] * 2)
    assert notification.subject == f"Deadline: {JOB}: job failed (3 succeeded of 3 tasks)"
    body = json.loads(notification.message)
    default = json.loads(body["default"])
    assert default["jobName"] is None and default["monitorUrl"] is None and default["previousTaskRunStatus"] is None
    assert default["notIncluded"] == ["jobName: GetJob ThrottlingException"]
    assert body["email"].rstrip().endswith("Not included: jobName: GetJob ThrottlingException")
    assert "(was" not in body["email"] and "Monitor:" not in body["email"]


def test_job_run_with_a_huge_name_fits():
    notification = render_job_run(job_change(FAILED=1), job=JobInfo(JOB, "\"" * 400_000, 1), monitor_url=None)
    assert message_bytes(notification) <= MESSAGE_BYTE_BUDGET and len(notification.subject) < 100
    assert json.loads(json.loads(notification.message)["default"])["jobId"] == JOB


@pytest.mark.parametrize("failures, sample_size, heading", [
    (1, 10, "The failed action:"), (3, 10, "The 3 failed actions:"), (30, 10, "First 10 of 30 failed actions:"),
])
def test_the_sample_heading_reads_right_for_one_some_and_many(failures, sample_size, heading):
    records = [failed(n) for n in range(failures)]
    notification = render_digest(records, window_start=WINDOW, window_seconds=60, sample_size=sample_size,
                                 job=None, monitor_url=None, missing=[])
    assert heading in notification.email


def test_a_one_task_job_is_one_task_not_one_tasks():
    change = JobRunChange("farm-" + "0" * 32, "queue-" + "1" * 32, JOB, "FAILED", "RUNNING", {"FAILED": 1})
    notification = render_job_run(change, job=None, monitor_url=None, missing=[])
    assert "(1 failed of 1 task)" in notification.subject
