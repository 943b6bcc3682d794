"""An in-memory, thread-safe model of an AWS Deadline Cloud render farm.

The model holds farms, queues, fleets and workers, jobs with steps and tasks, sessions and their
session actions, and keeps the derived state Deadline Cloud keeps: a task's ``runStatus`` and
``latestSessionActionId``, each step's and job's ``taskRunStatus`` and ``taskRunStatusCounts``, and
the timestamps of each session action. Every task run status change appends the EventBridge events
Deadline Cloud would send (``Task Run Status Change``, then ``Step Run Status Change`` and
``Job Run Status Change`` when the roll-up changes) to an ordered outbox that callers drain with
:meth:`RenderFarm.drain_events`.

IDs have the real formats and come from a seeded generator, so the same calls with the same seed give
the same IDs (and the same event ids). Timestamps come from an injectable clock; pass a
:class:`ManualClock` for fully reproducible times.

Rules this model follows where Deadline Cloud does not document its behaviour (approximations):

* task IDs are ``task-<step hex>-<index>`` and session action IDs ``sessionaction-<session hex>-<index>``
  (indexes from 0), as in the samples under ``/work/shared/reference``;
* a session action's status moves its task (when it is the task's latest action) as in
  :data:`SESSION_ACTION_TO_TASK_RUN_STATUS`; ``NEVER_ATTEMPTED`` fails the task;
* a step's or job's ``taskRunStatus`` is the first status of :data:`ROLLUP_PRECEDENCE` with a
  non-zero count;
* no events are sent when a job is created; of the lifecycle events only a job that fails before it runs
  (``fail_job_lifecycle``: CREATE_FAILED or UPLOAD_FAILED) is modelled.

Objects returned by the farm (``Job``, ``Task``, ...) are its live records: read them, but change
state only through :class:`RenderFarm` methods (they take the lock, keep the roll-ups and emit
events). The ``describe_*`` methods return detached, boto3-shaped dicts.
"""

from __future__ import annotations

import copy
import random
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from lambda_src.session_watch import names  # the names the function, stack and local farm share

# --- Vocabulary --------------------------------------------------------------------------------

TASK_RUN_STATUSES = names.TASK_RUN_STATUSES
SESSION_ACTION_STATUSES = names.SESSION_ACTION_STATUSES
#: Session action statuses after which the action does not change any more.
TERMINAL_SESSION_ACTION_STATUSES = frozenset(names.TERMINAL_STATUSES)
#: Task run statuses that set a task's ``endedAt``.
TERMINAL_TASK_RUN_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "NOT_COMPATIBLE"})
#: The members of the ``SessionActionDefinition`` union the model knows.
DEFINITION_MEMBERS = names.ACTION_TYPES
#: The members of the ``TaskParameterValue`` union (every value is a string on the wire).
TASK_PARAMETER_TYPES = names.PARAMETER_TYPES

#: How a taskRun session action's status moves its task (when it is the task's latest action).
SESSION_ACTION_TO_TASK_RUN_STATUS = {
    "ASSIGNED": "ASSIGNED",
    "SCHEDULED": "SCHEDULED",
    "RUNNING": "RUNNING",
    "CANCELING": "INTERRUPTING",
    "RECLAIMING": "INTERRUPTING",
    "SUCCEEDED": "SUCCEEDED",
    "FAILED": "FAILED",
    "NEVER_ATTEMPTED": "FAILED",
    "CANCELED": "CANCELED",
    "INTERRUPTED": "READY",
    "RECLAIMED": "READY",
}

#: Roll-up of task statuses into a step's or job's ``taskRunStatus``: the first with a task wins.
ROLLUP_PRECEDENCE = (
    "RUNNING",
    "INTERRUPTING",
    "STARTING",
    "SCHEDULED",
    "ASSIGNED",
    "READY",
    "PENDING",
    "FAILED",
    "SUSPENDED",
    "CANCELED",
    "NOT_COMPATIBLE",
    "SUCCEEDED",
)

DEFAULT_ACCOUNT = "111122223333"
DEFAULT_REGION = "us-west-2"
DEFAULT_CREATED_BY = "arn:aws:sts::111122223333:assumed-role/Artist/artist"
EVENT_SOURCE = names.DEADLINE_SOURCE

TaskParameters = Dict[str, Dict[str, str]]
Definition = Dict[str, Any]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: Marks an optional argument the caller did not pass (``None`` means "clear the field").
UNSET: Any = _Unset()


# --- Errors ------------------------------------------------------------------------------------


class FarmError(Exception):
    """Base class of the errors the model raises."""


class ResourceNotFound(FarmError, KeyError):
    """A resource does not exist (or not under the given parent IDs)."""

    def __init__(self, resource_type: str, resource_id: str, context: Optional[Dict[str, str]] = None):
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.context = dict(context or {})
        super().__init__(f"{resource_type} {resource_id} not found")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class InvalidArgument(FarmError, ValueError):
    """An argument the model refuses (unknown status, malformed definition, ...)."""


# --- Clock and IDs -----------------------------------------------------------------------------


def utc_now() -> datetime:
    """The current time, timezone-aware UTC, truncated to milliseconds (the API's precision)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class ManualClock:
    """A clock for reproducible timestamps: returns ``now`` and then moves it on by ``tick``.

    ``ManualClock()`` starts at 2026-11-20T18:00:00Z and advances one second per reading.
    """

    def __init__(
        self,
        start: datetime = datetime(2026, 11, 20, 18, 0, 0, tzinfo=timezone.utc),
        tick: timedelta = timedelta(seconds=1),
    ) -> None:
        if start.tzinfo is None:
            raise InvalidArgument("ManualClock start must be timezone-aware")
        self._now = start
        self._tick = tick
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now = self._now
            self._now = now + self._tick
            return now

    def peek(self) -> datetime:
        """The time the next reading returns, without advancing."""
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move the clock on (``advance(5)``, ``advance(minutes=2)``); returns the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


class IdFactory:
    """Deterministic resource IDs (``<prefix>-<32 hex>``) from a seed."""

    def __init__(self, seed: Union[int, str] = 0) -> None:
        self._rng = random.Random(f"deadline-farm:{seed}:ids")
        self._lock = threading.Lock()

    def hex32(self) -> str:
        with self._lock:
            return f"{self._rng.getrandbits(128):032x}"

    def new(self, prefix: str) -> str:
        return f"{prefix}-{self.hex32()}"


def id_hex(resource_id: str) -> str:
    """The 32-hex part of an ID: ``step-<hex>`` -> ``<hex>``, ``task-<hex>-3`` -> ``<hex>``."""
    parts = resource_id.split("-")
    if len(parts) < 2 or len(parts[1]) != 32:
        raise InvalidArgument(f"not a Deadline Cloud id: {resource_id!r}")
    return parts[1]


# --- Session action definitions (wire form) ----------------------------------------------------


def task_parameters(values: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> TaskParameters:
    """Normalise task parameters to the wire form ``{name: {type: "str"}}``.

    Accepts the wire form itself, or plain Python values that are typed by their class:
    ``int`` -> ``int``, ``float`` -> ``float``, ``str`` -> ``string``. Use the wire form for ``path``
    and ``chunkInt``: ``{"Scene": {"path": "/mnt/scene.blend"}, "Frames": {"chunkInt": "1-10"}}``.
    """
    merged: Dict[str, Any] = dict(values or {})
    merged.update(kwargs)
    out: TaskParameters = {}
    for name, value in merged.items():
        if isinstance(value, Mapping):
            if len(value) != 1:
                raise InvalidArgument(f"parameter {name!r}: exactly one type key, got {sorted(value)}")
            ((kind, raw),) = value.items()
            if kind not in TASK_PARAMETER_TYPES:
                raise InvalidArgument(f"parameter {name!r}: type {kind!r} not in {TASK_PARAMETER_TYPES}")
            out[str(name)] = {kind: str(raw)}
        elif isinstance(value, bool):
            raise InvalidArgument(f"parameter {name!r}: booleans are not task parameter values")
        elif isinstance(value, int):
            out[str(name)] = {"int": str(value)}
        elif isinstance(value, float):
            out[str(name)] = {"float": repr(value)}
        elif isinstance(value, str):
            out[str(name)] = {"string": value}
        else:
            raise InvalidArgument(f"parameter {name!r}: unsupported value {value!r}")
    return out


def task_run_definition(
    step_id: str, parameters: Optional[Mapping[str, Any]] = None, task_id: Optional[str] = None
) -> Definition:
    """``{"taskRun": {stepId, parameters, taskId?}}``; leave ``task_id`` out for a chunked task run."""
    body: Dict[str, Any] = {"stepId": step_id, "parameters": task_parameters(parameters)}
    if task_id is not None:
        body["taskId"] = task_id
    return {"taskRun": body}


def env_enter_definition(environment_id: str) -> Definition:
    return {"envEnter": {"environmentId": environment_id}}


def env_exit_definition(environment_id: str) -> Definition:
    return {"envExit": {"environmentId": environment_id}}


def sync_input_job_attachments_definition(step_id: Optional[str] = None) -> Definition:
    """Without ``step_id`` this is the job-level sync."""
    return {"syncInputJobAttachments": {} if step_id is None else {"stepId": step_id}}


def unknown_definition(member: str, value: Optional[Mapping[str, Any]] = None) -> Definition:
    """A definition member the service might add later; boto3 parses it to
    ``{"SDK_UNKNOWN_MEMBER": {"name": member}}``."""
    if member in DEFINITION_MEMBERS:
        raise InvalidArgument(f"{member!r} is a known definition member")
    return {member: dict(value or {})}


def job_environment_id(job_id: str, name: str) -> str:
    """``JOB:job-<hex>:<name>``, the ID of a job-level environment."""
    return f"JOB:{job_id}:{name}"


def step_environment_id(step_id: str, name: str) -> str:
    """``STEP:step-<hex>:<name>``, the ID of a step-level environment."""
    return f"STEP:{step_id}:{name}"


def validate_definition(definition: Mapping[str, Any]) -> Definition:
    """Check a definition is a one-member union with the required members; returns a deep copy."""
    if not isinstance(definition, Mapping) or len(definition) != 1:
        raise InvalidArgument(f"a session action definition has exactly one member, got {definition!r}")
    ((member, body),) = definition.items()
    if not isinstance(body, Mapping):
        raise InvalidArgument(f"definition member {member!r} must be a mapping")
    if member == "taskRun":
        if "stepId" not in body or "parameters" not in body:
            raise InvalidArgument("taskRun needs stepId and parameters")
        body = dict(body, parameters=task_parameters(body["parameters"]))
    elif member in ("envEnter", "envExit"):
        env = body.get("environmentId")
        if not isinstance(env, str) or not (env.startswith("JOB:job-") or env.startswith("STEP:step-")):
            raise InvalidArgument(f"{member}.environmentId must look like JOB:job-<hex>:Name, got {env!r}")
    return {member: copy.deepcopy(dict(body))}


# --- Records -----------------------------------------------------------------------------------


def _zero_counts() -> Dict[str, int]:
    return {status: 0 for status in TASK_RUN_STATUSES}


def rollup_task_run_status(counts: Mapping[str, int]) -> str:
    """A step's or job's ``taskRunStatus`` from its ``taskRunStatusCounts``."""
    for status in ROLLUP_PRECEDENCE:
        if counts.get(status, 0) > 0:
            return status
    return "SUCCEEDED"


@dataclass
class Farm:
    farm_id: str
    display_name: str
    queue_ids: List[str] = field(default_factory=list)
    fleet_ids: List[str] = field(default_factory=list)


@dataclass
class Queue:
    queue_id: str
    farm_id: str
    display_name: str
    job_ids: List[str] = field(default_factory=list)


@dataclass
class Fleet:
    fleet_id: str
    farm_id: str
    display_name: str
    worker_ids: List[str] = field(default_factory=list)


@dataclass
class Task:
    task_id: str
    step_id: str
    job_id: str
    queue_id: str
    farm_id: str
    parameters: TaskParameters
    created_at: datetime
    created_by: str
    run_status: str = "READY"
    target_run_status: Optional[str] = None
    failure_retry_count: int = 0
    started_at: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    updated_by: Optional[str] = None
    latest_session_action_id: Optional[str] = None


@dataclass
class Step:
    step_id: str
    job_id: str
    queue_id: str
    farm_id: str
    name: str
    tasks: List[Task] = field(default_factory=list)
    task_run_status_counts: Dict[str, int] = field(default_factory=_zero_counts)
    task_run_status: str = "READY"

    @property
    def task_ids(self) -> List[str]:
        return [t.task_id for t in self.tasks]


@dataclass
class Job:
    job_id: str
    queue_id: str
    farm_id: str
    name: str
    priority: int
    created_at: datetime
    created_by: str
    lifecycle_status: str = "CREATE_COMPLETE"
    lifecycle_status_message: str = "Job creation completed successfully"
    steps: List[Step] = field(default_factory=list)
    task_run_status_counts: Dict[str, int] = field(default_factory=_zero_counts)
    task_run_status: str = "READY"
    target_task_run_status: Optional[str] = None
    task_failure_retry_count: int = 0
    max_failed_tasks_count: int = 20
    max_retries_per_task: int = 5
    description: Optional[str] = None
    started_at: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    updated_by: Optional[str] = None

    @property
    def tasks(self) -> List[Task]:
        """Every task of every step, in step order."""
        return [t for s in self.steps for t in s.tasks]

    @property
    def task_ids(self) -> List[str]:
        return [t.task_id for t in self.tasks]

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise ResourceNotFound("step", name, {"jobId": self.job_id})


@dataclass
class SessionAction:
    session_action_id: str
    session_id: str
    job_id: str
    queue_id: str
    farm_id: str
    definition: Definition
    status: str = "ASSIGNED"
    started_at: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    worker_updated_at: Optional[datetime] = None
    progress_percent: Optional[float] = None
    process_exit_code: Optional[int] = None
    progress_message: Optional[str] = None
    manifests: Optional[List[Dict[str, str]]] = None
    acquired_limits: Optional[List[Dict[str, Any]]] = None
    #: The status before the last change (the farm's log writer reads it).
    status_before_change: str = "ASSIGNED"

    @property
    def definition_type(self) -> str:
        return next(iter(self.definition))

    @property
    def task_id(self) -> Optional[str]:
        """The task of a taskRun action (``None`` for other actions and chunked task runs)."""
        return self.definition.get("taskRun", {}).get("taskId")


@dataclass
class Session:
    session_id: str
    job_id: str
    queue_id: str
    farm_id: str
    fleet_id: str
    worker_id: str
    started_at: datetime
    lifecycle_status: str = "STARTED"
    ended_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    updated_by: Optional[str] = None
    actions: List[SessionAction] = field(default_factory=list)

    @property
    def log_group_name(self) -> str:
        return f"/aws/deadline/{self.farm_id}/{self.queue_id}"

    @property
    def log_stream_name(self) -> str:
        return self.session_id

    @property
    def log(self) -> Dict[str, Any]:
        """The session's ``log`` configuration as GetSession returns it."""
        return {
            "logDriver": "awslogs",
            "options": {"logGroupName": self.log_group_name, "logStreamName": self.log_stream_name},
        }


# --- The farm ----------------------------------------------------------------------------------


FramesLike = Iterable[Union[int, Mapping[str, Any]]]
StepsLike = Union[Sequence[str], Mapping[str, Optional[FramesLike]], None]


class RenderFarm:
    """The whole in-memory Deadline Cloud: every farm, queue, job, session and the event outbox.

    ``RenderFarm(seed=7)`` gives the same IDs and event ids for the same sequence of calls. All
    methods are thread-safe (one re-entrant lock, :attr:`lock`, which callers may also hold to read
    several records consistently).
    """

    def __init__(
        self,
        seed: Union[int, str] = 0,
        *,
        clock: Optional[Callable[[], datetime]] = None,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        step_events: bool = True,
    ) -> None:
        self.seed = seed
        self.account = account
        self.region = region
        self.step_events = step_events
        self.clock: Callable[[], datetime] = clock or utc_now
        self.ids = IdFactory(seed)
        self._event_rng = random.Random(f"deadline-farm:{seed}:events")
        self.lock = threading.RLock()
        self._farms: "OrderedDict[str, Farm]" = OrderedDict()
        self._queues: Dict[str, Queue] = {}
        self._fleets: Dict[str, Fleet] = {}
        self._workers: Dict[str, str] = {}  # worker id -> fleet id
        self._jobs: Dict[str, Job] = {}
        self._steps: Dict[str, Step] = {}
        self._tasks: Dict[str, Task] = {}
        self._sessions: "OrderedDict[str, Session]" = OrderedDict()
        self._session_actions: Dict[str, SessionAction] = {}
        self._outbox: List[Dict[str, Any]] = []
        #: Where session logs go (``session_logs.CloudWatchLogsSink`` in the demo and the e2e tests): called with
        #: (log group, log stream, [(epoch ms, line), ...]) after every status change of an action. None: not written.
        self.session_log_sink: Optional[Callable[[str, str, List[Any]], None]] = None

    # -- farms, queues, fleets, workers --------------------------------------------------------

    def create_farm(self, display_name: str = "Farm") -> Farm:
        with self.lock:
            farm = Farm(self.ids.new("farm"), display_name)
            self._farms[farm.farm_id] = farm
            return farm

    def create_queue(self, farm_id: Optional[str] = None, display_name: str = "Queue") -> Queue:
        with self.lock:
            farm = self._farm(farm_id) if farm_id else self._default_farm()
            queue = Queue(self.ids.new("queue"), farm.farm_id, display_name)
            self._queues[queue.queue_id] = queue
            farm.queue_ids.append(queue.queue_id)
            return queue

    def create_fleet(self, farm_id: Optional[str] = None, display_name: str = "Fleet") -> Fleet:
        with self.lock:
            farm = self._farm(farm_id) if farm_id else self._default_farm()
            fleet = Fleet(self.ids.new("fleet"), farm.farm_id, display_name)
            self._fleets[fleet.fleet_id] = fleet
            farm.fleet_ids.append(fleet.fleet_id)
            return fleet

    def create_worker(self, fleet_id: str) -> str:
        with self.lock:
            fleet = self._fleet(fleet_id)
            worker_id = self.ids.new("worker")
            fleet.worker_ids.append(worker_id)
            self._workers[worker_id] = fleet_id
            return worker_id

    @property
    def farms(self) -> List[Farm]:
        with self.lock:
            return list(self._farms.values())

    # -- jobs -----------------------------------------------------------------------------------

    def create_job(
        self,
        name: str,
        *,
        steps: StepsLike = None,
        frames: Optional[FramesLike] = None,
        priority: int = 50,
        farm_id: Optional[str] = None,
        queue_id: Optional[str] = None,
        task_run_status: str = "READY",
        max_failed_tasks_count: int = 20,
        max_retries_per_task: int = 5,
        description: Optional[str] = None,
        created_by: str = DEFAULT_CREATED_BY,
    ) -> Job:
        """Create a job with its steps and tasks (no events are sent).

        ``steps``: a list of step names, each with one task per item of ``frames``; or a mapping
        ``{step name: frames}`` (``None`` for the shared ``frames``). An item of ``frames`` is an
        ``int`` (a task with parameter ``Frame: {"int": "<n>"}``) or a mapping of task parameters
        (wire form or plain values, see :func:`task_parameters`). Defaults: one step ``Render``,
        one frame ``1``. Without ``queue_id`` the job goes to the first queue of ``farm_id`` (or of
        the first farm), created when missing.
        """
        if task_run_status not in TASK_RUN_STATUSES:
            raise InvalidArgument(f"unknown task run status {task_run_status!r}")
        if not 0 <= priority <= 100:
            raise InvalidArgument("priority must be within 0..100")
        shared_frames = list(frames) if frames is not None else [1]
        if steps is None:
            step_specs: List[tuple] = [("Render", shared_frames)]
        elif isinstance(steps, Mapping):
            step_specs = [(n, list(f) if f is not None else shared_frames) for n, f in steps.items()]
        elif isinstance(steps, str):
            raise InvalidArgument("steps must be a list of names or a mapping, not a string")
        else:
            step_specs = [(n, shared_frames) for n in steps]
        if not step_specs:
            raise InvalidArgument("a job needs at least one step")
        with self.lock:
            queue = self._resolve_queue_for_new_job(farm_id, queue_id)
            now = self.clock()
            job = Job(
                job_id=self.ids.new("job"),
                queue_id=queue.queue_id,
                farm_id=queue.farm_id,
                name=name,
                priority=priority,
                created_at=now,
                created_by=created_by,
                max_failed_tasks_count=max_failed_tasks_count,
                max_retries_per_task=max_retries_per_task,
                description=description,
            )
            for step_name, step_frames in step_specs:
                step = Step(self.ids.new("step"), job.job_id, job.queue_id, job.farm_id, str(step_name))
                hex_ = id_hex(step.step_id)
                for index, item in enumerate(step_frames):
                    params = task_parameters({"Frame": item}) if isinstance(item, int) else task_parameters(item)
                    task = Task(
                        task_id=f"task-{hex_}-{index}",
                        step_id=step.step_id,
                        job_id=job.job_id,
                        queue_id=job.queue_id,
                        farm_id=job.farm_id,
                        parameters=params,
                        created_at=now,
                        created_by=created_by,
                        run_status=task_run_status,
                    )
                    step.tasks.append(task)
                    step.task_run_status_counts[task_run_status] += 1
                    job.task_run_status_counts[task_run_status] += 1
                    self._tasks[task.task_id] = task
                step.task_run_status = rollup_task_run_status(step.task_run_status_counts)
                job.steps.append(step)
                self._steps[step.step_id] = step
            job.task_run_status = rollup_task_run_status(job.task_run_status_counts)
            self._jobs[job.job_id] = job
            queue.job_ids.append(job.job_id)
            return job

    def job(self, job_id: str) -> Job:
        with self.lock:
            return self._get(self._jobs, "job", job_id)

    def step(self, step_id: str) -> Step:
        with self.lock:
            return self._get(self._steps, "step", step_id)

    def task(self, task_id: str) -> Task:
        with self.lock:
            return self._get(self._tasks, "task", task_id)

    def session(self, session_id: str) -> Session:
        with self.lock:
            return self._get(self._sessions, "session", session_id)

    def session_action(self, session_action_id: str) -> SessionAction:
        with self.lock:
            return self._get(self._session_actions, "sessionAction", session_action_id)

    def task_ref(self, task_id: str) -> Dict[str, str]:
        """The keyword arguments of ``GetTask`` for a task."""
        t = self.task(task_id)
        return {"farmId": t.farm_id, "queueId": t.queue_id, "jobId": t.job_id, "stepId": t.step_id, "taskId": t.task_id}

    def session_action_ref(self, session_action_id: str) -> Dict[str, str]:
        """The keyword arguments of ``GetSessionAction`` for a session action."""
        a = self.session_action(session_action_id)
        return {"farmId": a.farm_id, "queueId": a.queue_id, "jobId": a.job_id, "sessionActionId": a.session_action_id}

    def session_ref(self, session_id: str) -> Dict[str, str]:
        """The keyword arguments of ``GetSession`` for a session."""
        s = self.session(session_id)
        return {"farmId": s.farm_id, "queueId": s.queue_id, "jobId": s.job_id, "sessionId": s.session_id}

    def step_ref(self, step_id: str) -> Dict[str, str]:
        """The keyword arguments of ``GetStep`` for a step."""
        s = self.step(step_id)
        return {"farmId": s.farm_id, "queueId": s.queue_id, "jobId": s.job_id, "stepId": s.step_id}

    def job_ref(self, job_id: str) -> Dict[str, str]:
        """The keyword arguments of ``GetJob`` for a job."""
        j = self.job(job_id)
        return {"farmId": j.farm_id, "queueId": j.queue_id, "jobId": j.job_id}

    # -- task status -----------------------------------------------------------------------------

    #: Lifecycle statuses of a job that failed before it ran (botocore model: ``JobLifecycleStatus``).
    JOB_LIFECYCLE_FAILURES = ("CREATE_FAILED", "UPLOAD_FAILED")

    def fail_job_lifecycle(self, job_id: str, status: str, message: str, *,
                           at: Optional[datetime] = None) -> List[Dict[str, Any]]:
        """The job fails before it runs: its lifecycle goes to ``status`` (CREATE_FAILED, UPLOAD_FAILED)
        with ``message`` (what GetJob's ``lifecycleStatusMessage`` says) and a ``Job Lifecycle Status
        Change`` event is emitted. Its tasks never run. Returns the events appended."""
        if status not in self.JOB_LIFECYCLE_FAILURES:
            raise InvalidArgument(f"{status!r} is not a lifecycle status of a job that failed before it ran; "
                                  f"expected one of {', '.join(self.JOB_LIFECYCLE_FAILURES)}")
        with self.lock:
            job = self._get(self._jobs, "job", job_id)
            before = len(self._outbox)
            now = at or self.clock()
            previous = job.lifecycle_status
            job.lifecycle_status, job.lifecycle_status_message = status, message
            job.updated_at = now
            previous = "UPLOAD_IN_PROGRESS" if status == "UPLOAD_FAILED" else (
                "CREATE_IN_PROGRESS" if previous == "CREATE_COMPLETE" else previous)
            self._emit("Job Lifecycle Status Change",
                       {"farmId": job.farm_id, "queueId": job.queue_id, "jobId": job.job_id,
                        "previousLifecycleStatus": previous, "lifecycleStatus": status}, now)
            return list(self._outbox[before:])

    def set_task_run_status(self, task_id: str, status: str, *, at: Optional[datetime] = None) -> List[Dict[str, Any]]:
        """Move a task to ``status``; returns the events this appended to the outbox (maybe none)."""
        if status not in TASK_RUN_STATUSES:
            raise InvalidArgument(f"unknown task run status {status!r}")
        with self.lock:
            task = self._get(self._tasks, "task", task_id)
            before = len(self._outbox)
            self._move_task(task, status, at or self.clock())
            return list(self._outbox[before:])

    def _move_task(self, task: Task, status: str, now: datetime) -> None:
        previous = task.run_status
        if previous == status:
            return
        step = self._steps[task.step_id]
        job = self._jobs[task.job_id]
        task.run_status = status
        task.updated_at = now
        if status == "RUNNING" and task.started_at is None:
            task.started_at = now
        if status in TERMINAL_TASK_RUN_STATUSES:
            task.ended_at = now
        elif status in ("READY", "PENDING"):
            task.ended_at = None
        for holder in (step, job):
            holder.task_run_status_counts[previous] = holder.task_run_status_counts.get(previous, 0) - 1
            holder.task_run_status_counts[status] = holder.task_run_status_counts.get(status, 0) + 1
        ids = {"farmId": task.farm_id, "queueId": task.queue_id, "jobId": task.job_id}
        self._emit(
            names.TASK_RUN_STATUS_CHANGE,
            dict(ids, stepId=task.step_id, taskId=task.task_id, previousRunStatus=previous, runStatus=status),
            now,
        )
        step_previous = step.task_run_status
        step.task_run_status = rollup_task_run_status(step.task_run_status_counts)
        if self.step_events and step.task_run_status != step_previous:
            self._emit(
                "Step Run Status Change",
                dict(
                    ids,
                    stepId=step.step_id,
                    previousTaskRunStatus=step_previous,
                    taskRunStatus=step.task_run_status,
                    taskRunStatusCounts=dict(step.task_run_status_counts),
                ),
                now,
            )
        job_previous = job.task_run_status
        job.task_run_status = rollup_task_run_status(job.task_run_status_counts)
        if job.started_at is None and status in ("STARTING", "RUNNING"):
            job.started_at = now
        if job.task_run_status != job_previous:
            done = job.task_run_status in TERMINAL_TASK_RUN_STATUSES or job.task_run_status == "SUSPENDED"
            job.ended_at = now if done else None
            self._emit(
                names.JOB_RUN_STATUS_CHANGE,
                dict(
                    ids,
                    previousTaskRunStatus=job_previous,
                    taskRunStatus=job.task_run_status,
                    taskRunStatusCounts=dict(job.task_run_status_counts),
                ),
                now,
            )

    # -- sessions and session actions ----------------------------------------------------------

    def start_session(
        self,
        job_id: str,
        *,
        fleet_id: Optional[str] = None,
        worker_id: Optional[str] = None,
        at: Optional[datetime] = None,
    ) -> Session:
        """Start a session of ``job_id`` on a worker (by default a new worker of the farm's first
        fleet, both created when missing)."""
        with self.lock:
            job = self._get(self._jobs, "job", job_id)
            if worker_id is not None:
                if worker_id not in self._workers:
                    raise ResourceNotFound("worker", worker_id)
                fleet_id = self._workers[worker_id]
            else:
                if fleet_id is None:
                    farm = self._farms[job.farm_id]
                    fleet_id = farm.fleet_ids[0] if farm.fleet_ids else self.create_fleet(job.farm_id).fleet_id
                worker_id = self.create_worker(fleet_id)
            now = at or self.clock()
            session = Session(
                session_id=self.ids.new("session"),
                job_id=job.job_id,
                queue_id=job.queue_id,
                farm_id=job.farm_id,
                fleet_id=fleet_id,
                worker_id=worker_id,
                started_at=now,
                updated_at=now,
            )
            self._sessions[session.session_id] = session
            return session

    def end_session(self, session_id: str, *, at: Optional[datetime] = None) -> Session:
        """Mark a session ENDED (its actions are left as they are)."""
        with self.lock:
            session = self._get(self._sessions, "session", session_id)
            now = at or self.clock()
            session.lifecycle_status = "ENDED"
            session.ended_at = now
            session.updated_at = now
            return session

    def add_session_action(
        self,
        session_id: str,
        definition: Mapping[str, Any],
        *,
        status: str = "ASSIGNED",
        update_task: bool = True,
        manifests: Optional[Sequence[Mapping[str, str]]] = None,
        acquired_limits: Optional[Sequence[Mapping[str, Any]]] = None,
        allow_unknown_status: bool = False,
        at: Optional[datetime] = None,
    ) -> SessionAction:
        """Append an action to a session. ``definition`` is a one-member union in wire form (see
        the ``*_definition`` helpers; an unknown member is kept as is, for forward compatibility).

        A taskRun action of a task becomes the task's ``latestSessionActionId`` and (with
        ``update_task``) moves the task as in :data:`SESSION_ACTION_TO_TASK_RUN_STATUS`.
        """
        self._check_session_action_status(status, allow_unknown_status)
        definition = validate_definition(definition)
        with self.lock:
            session = self._get(self._sessions, "session", session_id)
            task = self._task_of_definition(session, definition)
            action = SessionAction(
                session_action_id=f"sessionaction-{id_hex(session.session_id)}-{len(session.actions)}",
                session_id=session.session_id,
                job_id=session.job_id,
                queue_id=session.queue_id,
                farm_id=session.farm_id,
                definition=definition,
                status="ASSIGNED",
                manifests=[dict(m) for m in manifests] if manifests is not None else None,
                acquired_limits=[dict(a) for a in acquired_limits] if acquired_limits is not None else None,
            )
            session.actions.append(action)
            self._session_actions[action.session_action_id] = action
            if task is not None:
                task.latest_session_action_id = action.session_action_id
            now = at or self.clock()
            self._apply_status(action, status, now, update_task=update_task, force=True)
            return action

    def add_task_run(self, session_id: str, task_id: str, *, status: str = "ASSIGNED", **kwargs: Any) -> SessionAction:
        """Add a taskRun action for ``task_id`` (its definition is built from the task)."""
        task = self.task(task_id)
        definition = task_run_definition(task.step_id, task.parameters, task_id=task.task_id)
        return self.add_session_action(session_id, definition, status=status, **kwargs)

    def add_env_enter(self, session_id: str, environment_id: str, *, status: str = "ASSIGNED", **kwargs: Any) -> SessionAction:
        return self.add_session_action(session_id, env_enter_definition(environment_id), status=status, **kwargs)

    def add_env_exit(self, session_id: str, environment_id: str, *, status: str = "ASSIGNED", **kwargs: Any) -> SessionAction:
        return self.add_session_action(session_id, env_exit_definition(environment_id), status=status, **kwargs)

    def add_sync_input_job_attachments(
        self, session_id: str, step_id: Optional[str] = None, *, status: str = "ASSIGNED", **kwargs: Any
    ) -> SessionAction:
        return self.add_session_action(
            session_id, sync_input_job_attachments_definition(step_id), status=status, **kwargs
        )

    def set_session_action_status(
        self,
        session_action_id: str,
        status: str,
        *,
        progress_percent: Any = UNSET,
        process_exit_code: Any = UNSET,
        progress_message: Any = UNSET,
        started_at: Any = UNSET,
        ended_at: Any = UNSET,
        worker_updated_at: Any = UNSET,
        manifests: Any = UNSET,
        acquired_limits: Any = UNSET,
        update_task: bool = True,
        task_run_status: Optional[str] = None,
        allow_unknown_status: bool = False,
        at: Optional[datetime] = None,
    ) -> List[Dict[str, Any]]:
        """Move a session action to ``status`` and return the events this appended.

        Timestamps follow the status (at ``at``, default the clock): RUNNING sets ``startedAt``;
        SUCCEEDED/FAILED/INTERRUPTED/CANCELED/RECLAIMED set ``endedAt`` (SUCCEEDED/FAILED also
        ``startedAt`` when it was never set); every status a worker reports (all but ASSIGNED,
        SCHEDULED, NEVER_ATTEMPTED) sets ``workerUpdatedAt``. SUCCEEDED sets ``progressPercent`` to 100
        unless given. Any field passed explicitly wins (``None`` clears it).

        When the action is its task's latest, the task moves as in
        :data:`SESSION_ACTION_TO_TASK_RUN_STATUS` (or to ``task_run_status`` when given), unless
        ``update_task`` is false.
        """
        self._check_session_action_status(status, allow_unknown_status)
        if task_run_status is not None and task_run_status not in TASK_RUN_STATUSES:
            raise InvalidArgument(f"unknown task run status {task_run_status!r}")
        with self.lock:
            action = self._get(self._session_actions, "sessionAction", session_action_id)
            before = len(self._outbox)
            now = at or self.clock()
            self._apply_status(action, status, now, update_task=update_task, task_run_status=task_run_status)
            explicit = {
                "progress_percent": progress_percent,
                "process_exit_code": process_exit_code,
                "progress_message": progress_message,
                "started_at": started_at,
                "ended_at": ended_at,
                "worker_updated_at": worker_updated_at,
                "manifests": manifests,
                "acquired_limits": acquired_limits,
            }
            previous = action.status_before_change
            for name, value in explicit.items():
                if value is not UNSET:
                    setattr(action, name, value)
            if previous != status:
                self._log_action(action, previous, status, now)
            return list(self._outbox[before:])

    def report_progress(
        self,
        session_action_id: str,
        percent: float,
        message: Any = UNSET,
        *,
        at: Optional[datetime] = None,
    ) -> SessionAction:
        """A worker progress update: sets ``progressPercent`` (and message) and ``workerUpdatedAt``."""
        if not 0 <= percent <= 100:
            raise InvalidArgument("progress percent must be within 0..100")
        with self.lock:
            action = self._get(self._session_actions, "sessionAction", session_action_id)
            action.progress_percent = float(percent)
            if message is not UNSET:
                action.progress_message = message
            action.worker_updated_at = at or self.clock()
            return action

    def fail_session_action(
        self,
        session_action_id: str,
        *,
        process_exit_code: Optional[int] = 1,
        progress_message: Optional[str] = None,
        never_attempt_rest: bool = True,
        at: Optional[datetime] = None,
    ) -> List[Dict[str, Any]]:
        """Fail an action; with ``never_attempt_rest`` the session's later, unfinished actions end
        NEVER_ATTEMPTED (their tasks FAIL), as after a failed environment enter. Returns the events."""
        with self.lock:
            action = self._get(self._session_actions, "sessionAction", session_action_id)
            before = len(self._outbox)
            now = at or self.clock()
            self.set_session_action_status(
                session_action_id,
                "FAILED",
                process_exit_code=process_exit_code,
                progress_message=progress_message,
                at=now,
            )
            if never_attempt_rest:
                session = self._sessions[action.session_id]
                index = session.actions.index(action)
                for later in session.actions[index + 1 :]:
                    if later.status not in TERMINAL_SESSION_ACTION_STATUSES:
                        self.set_session_action_status(later.session_action_id, "NEVER_ATTEMPTED", at=now)
            return list(self._outbox[before:])

    def run_task(
        self,
        task_id: str,
        outcome: str = "SUCCEEDED",
        *,
        session_id: Optional[str] = None,
        process_exit_code: Any = UNSET,
        progress_percent: Any = UNSET,
        progress_message: Any = UNSET,
    ) -> SessionAction:
        """Run a task start to end: a taskRun action (in ``session_id``, or a new session) goes
        ASSIGNED -> RUNNING -> ``outcome``. Exit code defaults to 0 on SUCCEEDED and 1 on FAILED."""
        if outcome not in TERMINAL_SESSION_ACTION_STATUSES:
            raise InvalidArgument(f"outcome must be a terminal session action status, got {outcome!r}")
        with self.lock:
            task = self._get(self._tasks, "task", task_id)
            if session_id is None:
                session_id = self.start_session(task.job_id).session_id
            action = self.add_task_run(session_id, task_id, status="ASSIGNED")
            self.set_session_action_status(action.session_action_id, "RUNNING", progress_percent=0.0)
            if process_exit_code is UNSET:
                process_exit_code = {"SUCCEEDED": 0, "FAILED": 1}.get(outcome)
            self.set_session_action_status(
                action.session_action_id,
                outcome,
                process_exit_code=process_exit_code,
                progress_percent=progress_percent,
                progress_message=progress_message,
            )
            return action

    def _apply_status(
        self,
        action: SessionAction,
        status: str,
        now: datetime,
        *,
        update_task: bool,
        task_run_status: Optional[str] = None,
        force: bool = False,
    ) -> None:
        if action.status == status and not force:
            action.status_before_change = status
            return
        action.status_before_change = action.status if not force else "ASSIGNED"
        action.status = status
        if status == "RUNNING" and action.started_at is None:
            action.started_at = now
        if status in ("SUCCEEDED", "FAILED") and action.started_at is None:
            action.started_at = now
        if status in TERMINAL_SESSION_ACTION_STATUSES and status != "NEVER_ATTEMPTED":
            action.ended_at = now
        if status not in ("ASSIGNED", "SCHEDULED", "NEVER_ATTEMPTED"):
            action.worker_updated_at = now
        if status == "SUCCEEDED":
            action.progress_percent = 100.0
        session = self._sessions[action.session_id]
        session.updated_at = now
        if not update_task:
            return
        task_id = action.task_id
        if task_id is None or task_id not in self._tasks:
            return
        task = self._tasks[task_id]
        if task.latest_session_action_id != action.session_action_id:
            return
        target = task_run_status or SESSION_ACTION_TO_TASK_RUN_STATUS.get(status)
        if target is not None:
            self._move_task(task, target, now)

    def _log_action(self, action: SessionAction, previous: str, status: str, now: datetime) -> None:
        """Write what the worker agent logs for this status change to the session's log (when a sink is set)."""
        if self.session_log_sink is None:
            return
        from .session_logs import action_lines

        task = self._tasks.get(action.task_id) if action.task_id else None
        step = self._steps.get(task.step_id) if task is not None else None
        parameters = {k: next(iter(v.values())) if isinstance(v, dict) and v else v
                      for k, v in (task.parameters if task is not None else {}).items()}
        events = action_lines(action, previous, status, now, step_name=step.name if step else None,
                              parameters=parameters or None)
        if events:
            session = self._sessions[action.session_id]
            self.session_log_sink(session.log_group_name, session.log_stream_name, events)

    # -- boto3-shaped views --------------------------------------------------------------------

    def describe_session_action(self, farm_id: str, queue_id: str, job_id: str, session_action_id: str) -> Dict[str, Any]:
        """What ``GetSessionAction`` returns (datetimes, floats, ints; no ResponseMetadata)."""
        with self.lock:
            job = self._job_at(farm_id, queue_id, job_id)
            action = self._session_actions.get(session_action_id)
            if action is None or action.job_id != job.job_id:
                raise ResourceNotFound("sessionAction", session_action_id, {"jobId": job_id})
            out = self._session_action_common(action)
            out["sessionId"] = action.session_id
            for key, attr in (("processExitCode", "process_exit_code"), ("progressMessage", "progress_message")):
                value = getattr(action, attr)
                if value is not None:
                    out[key] = value
            if action.acquired_limits is not None:
                out["acquiredLimits"] = copy.deepcopy(action.acquired_limits)
            return out

    def list_session_actions(
        self,
        farm_id: str,
        queue_id: str,
        job_id: str,
        *,
        task_id: Optional[str] = None,
        session_id: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """Every ``SessionActionSummary`` of a job (filters combine), in creation order."""
        with self.lock:
            job = self._job_at(farm_id, queue_id, job_id)
            out = []
            for session in self._sessions.values():
                if session.job_id != job.job_id or (session_id is not None and session.session_id != session_id):
                    continue
                for action in session.actions:
                    if task_id is not None and action.task_id != task_id:
                        continue
                    out.append(self._session_action_common(action))
            return out

    def describe_task(self, farm_id: str, queue_id: str, job_id: str, step_id: str, task_id: str) -> Dict[str, Any]:
        """What ``GetTask`` returns."""
        with self.lock:
            job = self._job_at(farm_id, queue_id, job_id)
            step = self._steps.get(step_id)
            if step is None or step.job_id != job.job_id:
                raise ResourceNotFound("step", step_id, {"jobId": job_id})
            task = self._tasks.get(task_id)
            if task is None or task.step_id != step.step_id:
                raise ResourceNotFound("task", task_id, {"stepId": step_id})
            out: Dict[str, Any] = {
                "taskId": task.task_id,
                "createdAt": task.created_at,
                "createdBy": task.created_by,
                "runStatus": task.run_status,
                "failureRetryCount": task.failure_retry_count,
                "parameters": copy.deepcopy(task.parameters),
            }
            self._put_optional(
                out,
                task,
                targetRunStatus="target_run_status",
                startedAt="started_at",
                endedAt="ended_at",
                updatedAt="updated_at",
                updatedBy="updated_by",
                latestSessionActionId="latest_session_action_id",
            )
            return out

    def describe_job(self, farm_id: str, queue_id: str, job_id: str) -> Dict[str, Any]:
        """What ``GetJob`` returns."""
        with self.lock:
            job = self._job_at(farm_id, queue_id, job_id)
            out: Dict[str, Any] = {
                "jobId": job.job_id,
                "name": job.name,
                "lifecycleStatus": job.lifecycle_status,
                "lifecycleStatusMessage": job.lifecycle_status_message,
                "priority": job.priority,
                "createdAt": job.created_at,
                "createdBy": job.created_by,
                "taskRunStatus": job.task_run_status,
                "taskRunStatusCounts": dict(job.task_run_status_counts),
                "taskFailureRetryCount": job.task_failure_retry_count,
                "maxFailedTasksCount": job.max_failed_tasks_count,
                "maxRetriesPerTask": job.max_retries_per_task,
            }
            self._put_optional(
                out,
                job,
                updatedAt="updated_at",
                updatedBy="updated_by",
                startedAt="started_at",
                endedAt="ended_at",
                targetTaskRunStatus="target_task_run_status",
                description="description",
            )
            return out

    def describe_step(self, farm_id: str, queue_id: str, job_id: str, step_id: str) -> Dict[str, Any]:
        """What ``GetStep`` returns (the members the botocore model requires, and the retry count)."""
        with self.lock:
            job = self._job_at(farm_id, queue_id, job_id)
            step = self._steps.get(step_id)
            if step is None or step.job_id != job.job_id:
                raise ResourceNotFound("step", step_id, {"jobId": job_id})
            return {
                "stepId": step.step_id,
                "name": step.name,
                "lifecycleStatus": "CREATE_COMPLETE",
                "taskRunStatus": step.task_run_status,
                "taskRunStatusCounts": dict(step.task_run_status_counts),
                "taskFailureRetryCount": sum(t.failure_retry_count for t in step.tasks),
                "createdAt": job.created_at,
                "createdBy": job.created_by,
            }

    def describe_session(self, farm_id: str, queue_id: str, job_id: str, session_id: str) -> Dict[str, Any]:
        """What ``GetSession`` returns (``log`` is awslogs, group ``/aws/deadline/<farm>/<queue>``,
        stream ``<sessionId>``)."""
        with self.lock:
            job = self._job_at(farm_id, queue_id, job_id)
            session = self._sessions.get(session_id)
            if session is None or session.job_id != job.job_id:
                raise ResourceNotFound("session", session_id, {"jobId": job_id})
            out: Dict[str, Any] = {
                "sessionId": session.session_id,
                "fleetId": session.fleet_id,
                "workerId": session.worker_id,
                "startedAt": session.started_at,
                "lifecycleStatus": session.lifecycle_status,
                "log": session.log,
                "workerLog": {
                    "logDriver": "awslogs",
                    "options": {
                        "logGroupName": f"/aws/deadline/{session.farm_id}/{session.fleet_id}",
                        "logStreamName": session.worker_id,
                    },
                },
            }
            self._put_optional(out, session, endedAt="ended_at", updatedAt="updated_at", updatedBy="updated_by")
            return out

    # -- events --------------------------------------------------------------------------------

    def drain_events(self) -> List[Dict[str, Any]]:
        """Remove and return every event in the outbox, oldest first."""
        with self.lock:
            events, self._outbox = self._outbox, []
            return events

    def peek_events(self) -> List[Dict[str, Any]]:
        """A copy of the outbox, oldest first, leaving it as it is."""
        with self.lock:
            return copy.deepcopy(self._outbox)

    @property
    def pending_event_count(self) -> int:
        with self.lock:
            return len(self._outbox)

    def _emit(self, detail_type: str, detail: Dict[str, Any], when: datetime) -> None:
        event_id = str(uuid.UUID(int=self._event_rng.getrandbits(128), version=4))
        self._outbox.append(
            {
                "version": "0",
                "id": event_id,
                "detail-type": detail_type,
                "source": EVENT_SOURCE,
                "account": self.account,
                "time": when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": [],
                "detail": detail,
            }
        )

    # -- internals -----------------------------------------------------------------------------

    @staticmethod
    def _check_session_action_status(status: str, allow_unknown: bool) -> None:
        if status not in SESSION_ACTION_STATUSES and not allow_unknown:
            raise InvalidArgument(
                f"unknown session action status {status!r} (pass allow_unknown_status=True to model "
                "a status the service added later)"
            )

    @staticmethod
    def _get(table: Mapping[str, Any], resource_type: str, resource_id: str) -> Any:
        try:
            return table[resource_id]
        except KeyError:
            raise ResourceNotFound(resource_type, resource_id) from None

    def _farm(self, farm_id: str) -> Farm:
        return self._get(self._farms, "farm", farm_id)

    def _fleet(self, fleet_id: str) -> Fleet:
        return self._get(self._fleets, "fleet", fleet_id)

    def _default_farm(self) -> Farm:
        if not self._farms:
            return self.create_farm()
        return next(iter(self._farms.values()))

    def _resolve_queue_for_new_job(self, farm_id: Optional[str], queue_id: Optional[str]) -> Queue:
        if queue_id is not None:
            queue = self._get(self._queues, "queue", queue_id)
            if farm_id is not None and queue.farm_id != farm_id:
                raise ResourceNotFound("queue", queue_id, {"farmId": farm_id})
            return queue
        farm = self._farm(farm_id) if farm_id else self._default_farm()
        if farm.queue_ids:
            return self._queues[farm.queue_ids[0]]
        return self.create_queue(farm.farm_id)

    def _job_at(self, farm_id: str, queue_id: str, job_id: str) -> Job:
        """The job at a full path, raising ResourceNotFound for the first ID that does not resolve."""
        if farm_id not in self._farms:
            raise ResourceNotFound("farm", farm_id)
        queue = self._queues.get(queue_id)
        if queue is None or queue.farm_id != farm_id:
            raise ResourceNotFound("queue", queue_id, {"farmId": farm_id})
        job = self._jobs.get(job_id)
        if job is None or job.queue_id != queue_id:
            raise ResourceNotFound("job", job_id, {"queueId": queue_id})
        return job

    def _task_of_definition(self, session: Session, definition: Definition) -> Optional[Task]:
        body = definition.get("taskRun")
        if not body:
            return None
        step = self._steps.get(body["stepId"])
        if step is None or step.job_id != session.job_id:
            raise InvalidArgument(f"taskRun.stepId {body['stepId']!r} is not a step of job {session.job_id}")
        task_id = body.get("taskId")
        if task_id is None:
            return None
        task = self._tasks.get(task_id)
        if task is None or task.step_id != step.step_id:
            raise InvalidArgument(f"taskRun.taskId {task_id!r} is not a task of step {step.step_id}")
        return task

    @staticmethod
    def _put_optional(out: Dict[str, Any], record: Any, **members: str) -> None:
        for key, attr in members.items():
            value = getattr(record, attr)
            if value is not None:
                out[key] = value

    @staticmethod
    def _session_action_common(action: SessionAction) -> Dict[str, Any]:
        """Members GetSessionAction and SessionActionSummary share (summaries stop here)."""
        out: Dict[str, Any] = {
            "sessionActionId": action.session_action_id,
            "status": action.status,
            "definition": copy.deepcopy(action.definition),
        }
        RenderFarm._put_optional(
            out,
            action,
            startedAt="started_at",
            endedAt="ended_at",
            workerUpdatedAt="worker_updated_at",
            progressPercent="progress_percent",
        )
        if action.manifests is not None:
            out["manifests"] = copy.deepcopy(action.manifests)
        return out
