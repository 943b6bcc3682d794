"""The simulated farm's session logs (local/deadline_farm/session_logs.py): what each action logs and when."""

from __future__ import annotations

from datetime import timezone

from local.deadline_farm import ManualClock, RenderFarm, job_environment_id
from local.deadline_farm.session_logs import CloudWatchLogsSink, MemorySink, epoch_ms


def farm_with_sink():
    farm = RenderFarm(3, clock=ManualClock())
    sink = MemorySink()
    farm.session_log_sink = sink
    return farm, sink


def test_a_failing_task_logs_its_start_render_lines_error_and_exit_code_by_its_end():
    farm, sink = farm_with_sink()
    job = farm.create_job("shot", steps={"Render": [{"Frame": 7}]})
    action = farm.run_task(job.task_ids[0], "FAILED", process_exit_code=139, progress_message="Segmentation fault")
    session = farm.session(action.session_id)
    [(key, events)] = sink.streams.items()
    assert key == (f"/aws/deadline/{job.farm_id}/{job.queue_id}", session.session_id)
    lines = [m for _, m in events]
    assert lines[0] == f"openjd: Running task {job.task_ids[0]} of step Render"
    assert "Fra:7 Mem:2210.80M | Rendering 4/13 tiles" in lines
    assert lines[-3:] == ["Error: Segmentation fault", "openjd: Process exited with code 139", "openjd: Task run FAILED"]
    times = [t for t, _ in events]
    assert times == sorted(times) and times[-1] == epoch_ms(action.ended_at.astimezone(timezone.utc))


def test_a_failed_environment_enter_logs_the_conda_error_and_its_never_attempted_tasks_log_nothing():
    farm, sink = farm_with_sink()
    job = farm.create_job("shot", frames=[1, 2])
    session = farm.start_session(job.job_id)
    enter = farm.add_env_enter(session.session_id, job_environment_id(job.job_id, "Blender"))
    for task_id in job.task_ids:
        farm.add_task_run(session.session_id, task_id)
    farm.set_session_action_status(enter.session_action_id, "RUNNING")
    farm.fail_session_action(enter.session_action_id, process_exit_code=1, progress_message="conda: no blender")
    lines = [m for _, m in sink.streams[(session.log_group_name, session.session_id)]]
    assert lines[0] == "openjd: Entering environment Blender"
    assert lines[-3:] == ["conda: no blender", "openjd: Process exited with code 1", "openjd: Environment enter FAILED"]


def test_without_a_sink_nothing_is_written_and_a_buffered_sink_writes_on_flush():
    farm = RenderFarm(4, clock=ManualClock())
    job = farm.create_job("shot", frames=[1])
    farm.run_task(job.task_ids[0], "SUCCEEDED")  # no sink: nothing to do, nothing fails

    class Client:
        class exceptions:
            ResourceAlreadyExistsException = KeyError

        def __init__(self):
            self.calls = []

        def create_log_group(self, **kw):
            self.calls.append(("group", kw))

        def create_log_stream(self, **kw):
            self.calls.append(("stream", kw))

        def put_log_events(self, **kw):
            self.calls.append(("put", kw))

    client = Client()
    sink = CloudWatchLogsSink(client, buffered=True)
    sink("/g", "s", [(2, "b"), (1, "a")])
    sink("/g", "s", [(3, "c")])
    assert client.calls == []
    sink.flush()
    assert [c[0] for c in client.calls] == ["group", "stream", "put"]
    assert [e["message"] for e in client.calls[-1][1]["logEvents"]] == ["a", "b", "c"]  # in time order
