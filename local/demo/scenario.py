"""Scenario files (``local/scenarios/*.json``) and the player that acts them out on the simulated farm.

A scenario is data: a job, a timeline of what happens on the farm and when EventBridge delivers the
events, the state machine runs to make, and what must be true at the end. Format::

    {
      "name": "...", "description": "...", "seed": 42,
      "job": {"name": "shot-042", "step": "Render", "frames": "1-12", "priority": 70,
              "parameters": {"Scene": {"path": "/mnt/.../scene.blend"}},   # added to every task
              "environment": "Blender-4.2",                                 # the job environment's name
              "queue": "Lighting"},
      "timeline": [ {"op": ..., ..., "say": "optional progress line"}, ... ],
      "stateMachine": [ {"action": "frame-1", "expect": {"status": "SUCCEEDED"}}, ... ],
      "expect": { ... see local/demo/checks.py ... }
    }

Session actions get labels the expectations refer to: ``frame-7`` (first run of frame 7), ``frame-7#2``
(its second run), ``enter@A`` / ``exit@A`` (session A's environment enter / exit).

Timeline operations (``minutes`` is farm time; the farm's clock only moves when told):

``session``  ``name``: a session on a new worker.
``enter``    ``session``, ``status`` (SUCCEEDED), ``minutes`` (1), ``queue`` (frames assigned behind the
             enter), ``exitCode``, ``message``: enter the job environment. FAILED ends every later action
             of the session NEVER_ATTEMPTED (their tasks FAIL), as Deadline Cloud does.
``render``   ``session``, ``frames``, ``status`` (SUCCEEDED), ``minutes`` (per frame), ``exitCode``,
             ``progress``, ``message``: run each frame start to end. ``sessions`` instead of ``session``
             (a list of names, or a shell-style pattern such as ``"W*"``): the frames are dealt round-robin
             to those sessions (each frame queued, ASSIGNED, behind its session's earlier ones), then the
             workers run them side by side, one frame of each in turn (as a farm of that many workers would).
``workers``  ``count``, ``prefix`` ("W"), ``status`` (SUCCEEDED), ``minutes`` (1): ``count`` sessions named
             ``<prefix>01``.. on new workers, each entering the job environment.
``start``    ``session``, ``frame``, ``minutes`` (0): the frame starts (RUNNING) and is left running.
``finish``   ``frame``, ``status``, ``minutes``, ``exitCode``, ``progress``, ``message``: end its running action.
``cancel``   ``frame``: someone cancels the running frame (CANCELING, then CANCELED).
``reclaim``  ``session``: the worker is reclaimed: running actions RECLAIMING, then RECLAIMED; session ends.
``exit``     ``session``: exit the job environment (SUCCEEDED).
``end``      ``session``: the session ends.
``deliver``  EventBridge delivers every event emitted so far, in order (except held ones), and the
             scenario waits until the function has processed them (with queue delivery: until Lambda's SQS
             event source has emptied the event queue; delayed digest flushes are waited for at the end).
``hold``     ``action``, ``runStatus``: keep that task event back (EventBridge is late with it).
``release``  deliver the held events now, late (after everything delivered since).
``redeliver`` ``action``, ``runStatus``: deliver an already delivered event again (same id: a duplicate).
``throttle`` ``rate`` (0..1) [``operation`` ("*")]: the Deadline Cloud stand-in throttles that share of
             calls; or ``burst``: {``operation``, ``count``}: the next ``count`` calls are throttled.
Events still pending or held when the timeline ends are delivered then.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from local.deadline_farm import (
    DeadlineStandIn,
    ManualClock,
    RenderFarm,
    job_environment_id,
)
from local.moto_stack.eventbridge import Delivery, EventBus

OPS = {
    "session": {"name"},
    "workers": {"count"},
    "enter": {"session"},
    "render": {"frames"},
    "start": {"session", "frame"},
    "finish": {"frame", "status"},
    "cancel": {"frame"},
    "reclaim": {"session"},
    "exit": {"session"},
    "end": {"session"},
    "deliver": set(),
    "hold": {"action", "runStatus"},
    "release": set(),
    "redeliver": {"action", "runStatus"},
    "throttle": set(),
}
#: Every key each operation reads (besides "op" and "say"), required or optional.
OP_KEYS = {
    "session": {"name"},
    "workers": {"count", "prefix", "status", "minutes"},
    "enter": {"session", "status", "minutes", "queue", "exitCode", "message"},
    "render": {"session", "sessions", "frames", "status", "minutes", "exitCode", "progress", "message"},
    "start": {"session", "frame", "minutes"},
    "finish": {"frame", "status", "minutes", "exitCode", "progress", "message"},
    "cancel": {"frame", "minutes"},
    "reclaim": {"session", "minutes"},
    "exit": {"session", "status", "minutes"},
    "end": {"session"},
    "deliver": {"note"},
    "hold": {"action", "runStatus"},
    "release": set(),
    "redeliver": {"action", "runStatus"},
    "throttle": {"rate", "operation", "burst"},
}
SCENARIO_KEYS = {"name", "description", "seed", "job", "timeline", "stateMachine", "expect", "pipelines"}
JOB_KEYS = {"name", "step", "frames", "priority", "parameters", "environment", "queue", "farm", "fleet",
            "maxRetriesPerTask"}
#: The ``expect`` block (local/demo/checks.py reads it), with the keys of its nested objects.
EXPECT_KEYS = {"rows", "rowGroups", "notRecorded", "rootCause", "jobRun", "deliveries", "deadLetters",
               "functionErrors", "throttled", "notifications", "emails", "digest", "suspectWorkers"}
EXPECT_NESTED = {
    "deliveries": {"matched"},
    "jobRun": {"status", "counts"},
    "digest": {"messages", "failures", "rootCauses", "emails"},
    "suspectWorkers": {"sessions", "messages", "failures"},
}
TERMINAL = {"SUCCEEDED", "FAILED", "INTERRUPTED", "CANCELED", "NEVER_ATTEMPTED", "RECLAIMED"}
SCENARIOS_DIR = Path(__file__).resolve().parents[1] / "scenarios"


class ScenarioError(ValueError):
    """The scenario file is malformed (the message names the file and the step)."""


def parse_frames(spec: Any) -> List[int]:
    """``"1-12"``, ``"1-4,7"``, ``[5, 6]`` or ``7`` -> a list of frame numbers."""
    if isinstance(spec, int):
        return [spec]
    if isinstance(spec, list) and all(isinstance(x, int) for x in spec):
        return list(spec)
    if isinstance(spec, str):
        frames: List[int] = []
        for part in spec.split(","):
            part = part.strip()
            if "-" in part:
                first, last = (int(x) for x in part.split("-", 1))
                frames.extend(range(first, last + 1))
            elif part:
                frames.append(int(part))
        return frames
    raise ScenarioError(f"frames must be like '1-12', '1-4,7' or a list of numbers, not {spec!r}")


def _session_names(spec: Any, known) -> List[str]:
    """A list of session names, or a shell-style pattern over the known ones (in start order)."""
    if isinstance(spec, list):
        return [name for name in spec if name in known]
    if isinstance(spec, str):
        return [name for name in known if fnmatch.fnmatchcase(name, spec)]
    raise ScenarioError(f"sessions must be a list of names or a pattern, not {spec!r}")


@dataclass
class Scenario:
    path: Path
    name: str
    description: str
    seed: Any
    job: Dict[str, Any]
    timeline: List[Dict[str, Any]]
    state_machine: List[Dict[str, Any]]
    expect: Dict[str, Any]
    #: run the SubmitAndWait/WaitForJob pipelines after the scenario (local/demo/pipelines.py)
    pipelines: bool = False

    @property
    def frames(self) -> List[int]:
        return parse_frames(self.job.get("frames", "1"))


def available_scenarios(directory: Path = SCENARIOS_DIR) -> List[str]:
    """The scenarios shipped in ``local/scenarios/`` (names without ``.json``)."""
    return sorted(p.stem for p in directory.glob("*.json"))


def _available_text() -> str:
    names = available_scenarios()
    where = "local/scenarios/"
    return f"available in {where}: {', '.join(names)}" if names else f"no scenario in {where}"


def resolve_scenario(spec: Any) -> Path:
    """``--scenario``: a scenario file, or the name of one in ``local/scenarios/`` (``render-12-frames``)."""
    path = Path(spec)
    if path.is_dir():
        raise ScenarioError(f"{path}: is a directory, not a scenario file; {_available_text()}")
    if path.is_file():
        return path
    named = SCENARIOS_DIR / (path.name if path.suffix == ".json" else f"{path.name}.json")
    if path.name == str(spec) and named.is_file():  # a bare name: one of local/scenarios/
        return named
    raise ScenarioError(f"{path}: no such scenario file; {_available_text()}")


def _only(where: str, mapping: Dict[str, Any], allowed: Any) -> None:
    """A scenario names only keys the player or the checks read: anything else is a typo, not ignored."""
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise ScenarioError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(repr(k) for k in unknown)} (allowed: {', '.join(sorted(allowed))})")


def _object(where: str, value: Any, what: str = "an object") -> Any:
    kind = dict if what == "an object" else list
    if not isinstance(value, kind):
        raise ScenarioError(f"{where}: must be {what}, not {type(value).__name__}")
    return value


def load_scenario(path: Any) -> Scenario:
    """Read and check a scenario; every problem is a :class:`ScenarioError` naming the file and the place."""
    path = resolve_scenario(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file; {_available_text()}") from None
    except OSError as err:
        raise ScenarioError(f"{path}: cannot be read: {err.strerror or err}") from None
    except ValueError as err:
        raise ScenarioError(f"{path}: not valid JSON: {err}") from None
    _object(str(path), data)
    _only(str(path), data, SCENARIO_KEYS)
    for key in ("name", "job", "timeline", "expect"):
        if key not in data:
            raise ScenarioError(f"{path}: missing {key!r}")
    if not isinstance(data["name"], str) or not data["name"].strip():
        raise ScenarioError(f"{path}: name: must be a non-empty string")
    _only(f"{path}: job", _object(f"{path}: job", data["job"]), JOB_KEYS)
    _object(f"{path}: timeline", data["timeline"], "a list")
    _check_expect(path, _object(f"{path}: expect", data["expect"]))
    for i, run in enumerate(_object(f"{path}: stateMachine", data.get("stateMachine", []), "a list")):
        where = f"{path}: stateMachine[{i}]"
        _only(where, _object(where, run), {"action", "expect"})
        if "action" not in run:
            raise ScenarioError(f"{where}: needs action")
        _only(f"{where}.expect", _object(f"{where}.expect", run.get("expect", {})), {"status", "error", "outcome"})
    try:
        frames = parse_frames(data["job"].get("frames", "1"))
    except ValueError as err:
        raise ScenarioError(f"{path}: job.frames: {err}") from None
    sessions = _OrderedNames()
    for i, step in enumerate(data["timeline"]):
        where = f"{path}: timeline[{i}]"
        if not isinstance(step, dict):
            raise ScenarioError(f"{where}: a step is an object")
        op = step.get("op")
        if op is None:
            if set(step) - {"say"}:
                raise ScenarioError(f"{where}: a step without 'op' may only 'say' something")
            continue
        if op not in OPS:
            raise ScenarioError(f"{where}: unknown op {op!r} (known: {', '.join(sorted(OPS))})")
        missing = sorted(OPS[op] - set(step))
        if missing:
            raise ScenarioError(f"{where}: {op} needs {', '.join(missing)}")
        _only(f"{where} ({op})", step, OP_KEYS[op] | {"op", "say"})
        for key in ("frames", "frame", "queue"):
            if key not in step:
                continue
            try:
                named = set(parse_frames(step[key]))
            except ValueError as err:
                raise ScenarioError(f"{where}: {key}: {err}") from None
            if not named <= set(frames):
                raise ScenarioError(f"{where}: {key} {step[key]} names frames the job does not have")
        status = step.get("status")
        if status is not None and status not in TERMINAL:
            raise ScenarioError(f"{where}: status {status!r} is not a terminal session action status")
        if op == "session":
            sessions.add(step["name"])
        elif op == "workers":
            count = step["count"]
            if not isinstance(count, int) or not 1 <= count <= 99:
                raise ScenarioError(f"{where}: workers count must be a number 1..99")
            sessions.update(f"{step.get('prefix', 'W')}{n:02d}" for n in range(1, count + 1))
        elif "session" in step and step["session"] not in sessions:
            raise ScenarioError(f"{where}: session {step['session']!r} is not started by an earlier 'session' step")
        if op == "render":
            if ("session" in step) == ("sessions" in step):
                raise ScenarioError(f"{where}: render needs either 'session' or 'sessions'")
            if "sessions" in step and not _session_names(step["sessions"], sessions):
                raise ScenarioError(f"{where}: no session matches {step['sessions']!r}")
    return Scenario(
        path=path,
        name=data["name"],
        description=data.get("description", ""),
        seed=data.get("seed", 0),
        job=data["job"],
        timeline=data["timeline"],
        state_machine=data.get("stateMachine", []),
        expect=data["expect"],
        pipelines=_pipelines(path, data.get("pipelines", False)),
    )


def _pipelines(path: Path, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(f"{path}: pipelines: must be true or false")
    return value


def _check_expect(path: Path, expect: Dict[str, Any]) -> None:
    _only(f"{path}: expect", expect, EXPECT_KEYS)
    for key, allowed in EXPECT_NESTED.items():
        if key in expect:
            _only(f"{path}: expect.{key}", _object(f"{path}: expect.{key}", expect[key]), allowed)
    for label, spec in _object(f"{path}: expect.rowGroups", expect.get("rowGroups", {})).items():
        _only(f"{path}: expect.rowGroups[{label!r}]", _object(f"{path}: expect.rowGroups[{label!r}]", spec),
              {"count", "fields"})


class _OrderedNames(dict):
    """Session names in start order (a dict used as an ordered set)."""

    def add(self, name: str) -> None:
        self[name] = None

    def update(self, names) -> None:  # type: ignore[override]
        for name in names:
            self[name] = None


# --- the player ---------------------------------------------------------------------------------


@dataclass
class EmittedEvent:
    event: Dict[str, Any]
    label: Optional[str]  # the session action the event is about (task events), else None

    @property
    def detail_type(self) -> str:
        return self.event["detail-type"]

    @property
    def run_status(self) -> Optional[str]:
        return self.event["detail"].get("runStatus")

    def describe(self) -> str:
        detail = self.event["detail"]
        if self.detail_type == "Task Run Status Change":
            return f"{self.label or detail['taskId']}: {detail['previousRunStatus']} -> {detail['runStatus']}"
        previous, now = detail.get("previousTaskRunStatus"), detail.get("taskRunStatus")
        return f"{self.detail_type.split(' Run')[0].lower()}: {previous} -> {now}"


class Listener:
    """What the player reports while it plays (the demo prints it; tests may ignore it)."""

    def say(self, text: str) -> None: ...
    def delivered(self, delivery: Delivery, emitted: EmittedEvent) -> None: ...
    def delivered_batch(self, deliveries: List[Tuple[Delivery, EmittedEvent]]) -> None: ...


@dataclass
class PlayLog:
    emitted: List[EmittedEvent] = field(default_factory=list)
    deliveries: List[Tuple[Delivery, EmittedEvent]] = field(default_factory=list)
    late: List[Tuple[Delivery, EmittedEvent]] = field(default_factory=list)
    duplicates: List[Tuple[Delivery, EmittedEvent]] = field(default_factory=list)


class Player:
    def __init__(self, scenario: Scenario, bus: EventBus, standin: DeadlineStandIn, farm: RenderFarm,
                 clock: ManualClock, listener: Optional[Listener] = None) -> None:
        self.scenario = scenario
        self.bus = bus
        self.standin = standin
        self.farm = farm
        self.clock = clock
        self.listener = listener or Listener()
        self.log = PlayLog()
        self.labels: Dict[str, str] = {}  # session action id -> label
        self.actions: Dict[str, str] = {}  # label -> session action id
        self.sessions: Dict[str, str] = {}  # name -> session id
        self._attempts: Dict[int, int] = {}
        self._pending: List[EmittedEvent] = []
        self._held: List[EmittedEvent] = []
        self._delivered: List[EmittedEvent] = []
        self._build_job()

    # -- setup ---------------------------------------------------------------------------------

    def _build_job(self) -> None:
        job = self.scenario.job
        farm = self.farm.create_farm(job.get("farm", "Demo farm"))
        queue = self.farm.create_queue(farm.farm_id, job.get("queue", "Renders"))
        self.fleet = self.farm.create_fleet(farm.farm_id, job.get("fleet", "Render fleet"))
        extra = job.get("parameters", {})
        frames = self.scenario.frames
        self.job = self.farm.create_job(
            job.get("name", "render"),
            steps={job.get("step", "Render"): [dict({"Frame": n}, **extra) for n in frames]},
            priority=int(job.get("priority", 50)),
            queue_id=queue.queue_id,
            max_retries_per_task=int(job.get("maxRetriesPerTask", 5)),
        )
        self.step = self.job.steps[0]
        self.task_of_frame = {n: task.task_id for n, task in zip(frames, self.step.tasks)}
        self.frame_of_task = {v: k for k, v in self.task_of_frame.items()}
        self.environment_id = job_environment_id(self.job.job_id, job.get("environment", "Render"))

    # -- playing -------------------------------------------------------------------------------

    def play(self) -> PlayLog:
        for index, step in enumerate(self.scenario.timeline):
            if step.get("say"):
                self.listener.say(step["say"])
            op = step.get("op")
            if op is None:
                continue
            try:
                getattr(self, f"_op_{op}")(step)
            except (KeyError, ValueError) as err:
                raise ScenarioError(f"{self.scenario.path}: timeline[{index}] ({op}): {err}") from None
            self._collect()
        if self._pending or self._held:
            self.listener.say("End of the timeline: EventBridge delivers what it still holds")
            self._deliver(self._pending + self._held, note="")
            self._pending, self._held = [], []
        return self.log

    def label(self, session_action_id: str) -> Optional[str]:
        return self.labels.get(session_action_id)

    def _name(self, session_action_id: str, label: str) -> None:
        self.labels[session_action_id] = label
        self.actions[label] = session_action_id

    def _collect(self) -> None:
        for event in self.farm.drain_events():
            label = None
            if event["detail-type"] == "Task Run Status Change":
                latest = self.farm.task(event["detail"]["taskId"]).latest_session_action_id
                label = self.labels.get(latest) if latest else None
            emitted = EmittedEvent(event, label)
            self.log.emitted.append(emitted)
            self._pending.append(emitted)

    # farm operations

    def _session_id(self, name: str) -> str:
        if name not in self.sessions:
            raise KeyError(f"no session {name!r} (start it with a 'session' step)")
        return self.sessions[name]

    def _advance(self, minutes: Any) -> None:
        if minutes:
            self.clock.advance(float(minutes) * 60)

    def _add_run(self, session: str, frame: int):
        task_id = self.task_of_frame[frame]
        action = self.farm.add_task_run(self._session_id(session), task_id)
        attempt = self._attempts.get(frame, 0) + 1
        self._attempts[frame] = attempt
        self._name(action.session_action_id, f"frame-{frame}" if attempt == 1 else f"frame-{frame}#{attempt}")
        return action

    def _queued_or_new(self, session: str, frame: int):
        session_id = self._session_id(session)
        for action in self.farm.session(session_id).actions:
            if action.task_id == self.task_of_frame[frame] and action.status == "ASSIGNED":
                return action
        return self._add_run(session, frame)

    def _running(self, frame: int):
        task = self.farm.task(self.task_of_frame[frame])
        action = self.farm.session_action(task.latest_session_action_id) if task.latest_session_action_id else None
        if action is None or action.status not in ("RUNNING", "ASSIGNED", "SCHEDULED"):
            raise ValueError(f"frame {frame} has no running action")
        return action

    def _end(self, action_id: str, status: str, step: Dict[str, Any], default_exit: Optional[int]) -> None:
        fields: Dict[str, Any] = {}
        exit_code = step.get("exitCode", default_exit)
        if exit_code is not None:
            fields["process_exit_code"] = int(exit_code)
        if "progress" in step:
            fields["progress_percent"] = float(step["progress"])
        if "message" in step:
            fields["progress_message"] = step["message"]
        self.farm.set_session_action_status(action_id, status, **fields)

    def _op_session(self, step: Dict[str, Any]) -> None:
        session = self.farm.start_session(self.job.job_id, fleet_id=self.fleet.fleet_id)
        self.sessions[step["name"]] = session.session_id

    def _op_enter(self, step: Dict[str, Any]) -> None:
        name = step["session"]
        action = self.farm.add_env_enter(self._session_id(name), self.environment_id)
        self._name(action.session_action_id, f"enter@{name}")
        for frame in parse_frames(step.get("queue", [])):
            self._add_run(name, frame)
        self.farm.set_session_action_status(action.session_action_id, "RUNNING", progress_percent=0.0)
        self._advance(step.get("minutes", 1))
        status = step.get("status", "SUCCEEDED")
        if status == "FAILED":
            self.farm.fail_session_action(
                action.session_action_id,
                process_exit_code=int(step.get("exitCode", 1)),
                progress_message=step.get("message"),
                never_attempt_rest=True,
            )
        else:
            self._end(action.session_action_id, status, step, 0 if status == "SUCCEEDED" else None)

    def _op_render(self, step: Dict[str, Any]) -> None:
        status = step.get("status", "SUCCEEDED")
        default_exit = {"SUCCEEDED": 0, "FAILED": 1}.get(status)
        if "sessions" in step:
            self._render_side_by_side(step, status, default_exit)
            return
        for frame in parse_frames(step["frames"]):
            action = self._queued_or_new(step["session"], frame)
            self.farm.set_session_action_status(action.session_action_id, "RUNNING", progress_percent=0.0)
            self._advance(step.get("minutes", 5))
            self._end(action.session_action_id, status, step, default_exit)

    def _render_side_by_side(self, step: Dict[str, Any], status: str, default_exit: Optional[int]) -> None:
        names = _session_names(step["sessions"], self.sessions)
        if not names:
            raise KeyError(f"no session matches {step['sessions']!r}")
        queues: Dict[str, List[Any]] = {name: [] for name in names}
        for index, frame in enumerate(parse_frames(step["frames"])):
            name = names[index % len(names)]
            queues[name].append(self._queued_or_new(name, frame))
        minutes = float(step.get("minutes", 5)) / len(names)  # the workers run side by side
        while any(queues.values()):
            for name in names:
                if not queues[name]:
                    continue
                action = queues[name].pop(0)
                self.farm.set_session_action_status(action.session_action_id, "RUNNING", progress_percent=0.0)
                self._advance(minutes)
                self._end(action.session_action_id, status, step, default_exit)

    def _op_workers(self, step: Dict[str, Any]) -> None:
        prefix = step.get("prefix", "W")
        for n in range(1, int(step["count"]) + 1):
            name = f"{prefix}{n:02d}"
            self._op_session({"name": name})
            self._op_enter({"session": name, "status": step.get("status", "SUCCEEDED"),
                            "minutes": step.get("minutes", 1)})

    def _op_start(self, step: Dict[str, Any]) -> None:
        action = self._queued_or_new(step["session"], int(step["frame"]))
        self.farm.set_session_action_status(action.session_action_id, "RUNNING", progress_percent=0.0)
        self._advance(step.get("minutes", 0))

    def _op_finish(self, step: Dict[str, Any]) -> None:
        action = self._running(int(step["frame"]))
        self._advance(step.get("minutes", 5))
        status = step["status"]
        self._end(action.session_action_id, status, step, {"SUCCEEDED": 0, "FAILED": 1}.get(status))

    def _op_cancel(self, step: Dict[str, Any]) -> None:
        action = self._running(int(step["frame"]))
        self.farm.set_session_action_status(action.session_action_id, "CANCELING")
        self._advance(step.get("minutes", 0.5))
        self.farm.set_session_action_status(action.session_action_id, "CANCELED")

    def _op_reclaim(self, step: Dict[str, Any]) -> None:
        session_id = self._session_id(step["session"])
        running = [a for a in self.farm.session(session_id).actions if a.status == "RUNNING"]
        for action in running:
            self.farm.set_session_action_status(action.session_action_id, "RECLAIMING")
        self._advance(step.get("minutes", 2))
        for action in running:
            self.farm.set_session_action_status(action.session_action_id, "RECLAIMED")
        self.farm.end_session(session_id)

    def _op_exit(self, step: Dict[str, Any]) -> None:
        name = step["session"]
        action = self.farm.add_env_exit(self._session_id(name), self.environment_id)
        self._name(action.session_action_id, f"exit@{name}")
        self.farm.set_session_action_status(action.session_action_id, "RUNNING")
        self._advance(step.get("minutes", 0.2))
        self.farm.set_session_action_status(action.session_action_id, step.get("status", "SUCCEEDED"),
                                            process_exit_code=0)

    def _op_end(self, step: Dict[str, Any]) -> None:
        self.farm.end_session(self._session_id(step["session"]))

    # delivery operations

    def _select(self, events: List[EmittedEvent], step: Dict[str, Any]) -> List[EmittedEvent]:
        return [e for e in events
                if e.detail_type == "Task Run Status Change" and e.label == step["action"]
                and e.run_status == step["runStatus"]]

    def _op_deliver(self, step: Dict[str, Any]) -> None:
        self._collect()
        self._deliver(self._pending, note=step.get("note", ""))
        self._pending = []

    def _op_hold(self, step: Dict[str, Any]) -> None:
        self._collect()
        chosen = self._select(self._pending, step)
        if not chosen:
            raise ValueError(f"no pending {step['runStatus']} event of {step['action']} to hold")
        self._held += chosen
        self._pending = [e for e in self._pending if e not in chosen]

    def _op_release(self, step: Dict[str, Any]) -> None:
        if not self._held:
            raise ValueError("nothing is held")
        self._deliver(self._held, note="late")
        self._held = []

    def _op_redeliver(self, step: Dict[str, Any]) -> None:
        chosen = self._select(self._delivered, step)
        if not chosen:
            raise ValueError(f"no delivered {step['runStatus']} event of {step['action']} to deliver again")
        self._deliver(chosen[-1:], note="duplicate")

    def _op_throttle(self, step: Dict[str, Any]) -> None:
        faults = self.standin.faults
        if "burst" in step:
            burst = step["burst"]
            faults.fail_next(burst.get("operation", "GetTask"), int(burst.get("count", 1)), "ThrottlingException")
        if "rate" in step:
            faults.error_rate(step.get("operation", "*"), throttling=float(step["rate"]))

    def _deliver(self, events: List[EmittedEvent], note: str) -> None:
        """EventBridge delivers ``events`` in order; then the function processes them (direct targets were
        invoked during the delivery; queue targets are read by Lambda's SQS event source, which the player
        waits for)."""
        if not events:
            return
        flush = getattr(self.farm.session_log_sink, "flush", None)
        if flush is not None:  # the session logs the farm wrote so far reach CloudWatch Logs first
            flush()
        deliveries = self.bus.put_many([(e.event, e.label) for e in events], note=note)
        self.bus.settle()
        batch = []
        for delivery, emitted in zip(deliveries, events):
            self._delivered.append(emitted)
            pair = (delivery, emitted)
            self.log.deliveries.append(pair)
            if note == "late":
                self.log.late.append(pair)
            if note == "duplicate":
                self.log.duplicates.append(pair)
            batch.append(pair)
            self.listener.delivered(delivery, emitted)
        self.listener.delivered_batch(batch)


def demo_clock(now: Optional[datetime] = None) -> ManualClock:
    """The farm's clock: starts three hours ago, on a quarter hour (the default suspect-worker window: the
    windows a scenario's actions end in are the same every run), one second per reading."""
    now = now or datetime.now(timezone.utc)
    start = now.replace(second=0, microsecond=0) - timedelta(hours=3)
    start -= timedelta(minutes=start.minute % 15)
    return ManualClock(start=start)

