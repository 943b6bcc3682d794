"""A local stand-in for the AWS Deadline Cloud API (moto has none).

Two pieces:

* :class:`RenderFarm` (``farm.py``): an in-memory, thread-safe render farm (farms, queues, jobs,
  steps, tasks, sessions, session actions) with the derived state Deadline Cloud keeps and an outbox
  of the EventBridge events it would send (``Task Run Status Change``, ``Step Run Status Change``,
  ``Job Run Status Change``). IDs are seeded, so runs are reproducible.
* :class:`DeadlineStandIn` (``server.py``): a stdlib HTTP server speaking the real REST-JSON routes of
  GetSessionAction, ListSessionActions, GetTask, GetJob, GetSession, GetStep and their Batch* forms
  over a farm, with fault injection (:class:`Faults`) and per-operation call counts.
* ``session_logs.py``: what each session action logs and a sink that writes it to CloudWatch Logs
  (``RenderFarm.session_log_sink``; moto's in the demo), group ``/aws/deadline/<farmId>/<queueId>``, stream
  ``<sessionId>``.

Reaching it from boto3
----------------------
Nothing here may reach AWS. Point an unmodified ``boto3.client("deadline")`` at the stand-in with the
standard SDK settings (``DeadlineStandIn.client_env()`` returns exactly these)::

    AWS_ENDPOINT_URL_DEADLINE=<standin.endpoint_url>   # e.g. http://127.0.0.1:40123
    AWS_DISABLE_HOST_PREFIX_INJECTION=true             # the operations have host prefix "management."
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
    AWS_DEFAULT_REGION=us-west-2 AWS_REGION=us-west-2
    AWS_EC2_METADATA_DISABLED=true

or use ``standin.client()`` for a client bound to it explicitly. Example::

    from local.deadline_farm import DeadlineStandIn, RenderFarm

    farm = RenderFarm(seed=1)
    job = farm.create_job("shot42", frames=range(1, 11))
    action = farm.run_task(job.task_ids[0], "FAILED", process_exit_code=139)
    events = farm.drain_events()          # Task/Step/Job Run Status Change envelopes
    with DeadlineStandIn(farm) as standin:
        deadline = standin.client()
        task = deadline.get_task(**farm.task_ref(job.task_ids[0]))
        deadline.get_session_action(**farm.session_action_ref(task["latestSessionActionId"]))
        standin.faults.fail_next("GetTask", 2, "ThrottlingException")
        assert standin.calls["GetTask"] == 1

Manual exploration: ``python -m local.deadline_farm --port 0 --seed 0`` serves a sample farm
(:func:`build_sample_farm`) and prints the endpoint, the environment and example IDs.
"""

from .farm import (
    DEFINITION_MEMBERS,
    ROLLUP_PRECEDENCE,
    SESSION_ACTION_STATUSES,
    SESSION_ACTION_TO_TASK_RUN_STATUS,
    TASK_PARAMETER_TYPES,
    TASK_RUN_STATUSES,
    TERMINAL_SESSION_ACTION_STATUSES,
    UNSET,
    FarmError,
    InvalidArgument,
    Job,
    ManualClock,
    RenderFarm,
    ResourceNotFound,
    Session,
    SessionAction,
    Step,
    Task,
    env_enter_definition,
    env_exit_definition,
    job_environment_id,
    rollup_task_run_status,
    step_environment_id,
    sync_input_job_attachments_definition,
    task_parameters,
    task_run_definition,
    unknown_definition,
)
from .sample import SampleFarm, build_sample_farm
from .server import (
    ROUTES,
    ApiError,
    CallRecord,
    DeadlineStandIn,
    Faults,
    access_denied,
    internal_error,
    make_error,
    not_found,
    throttling,
    validation_error,
)

__all__ = [
    "DEFINITION_MEMBERS",
    "ROLLUP_PRECEDENCE",
    "ROUTES",
    "SESSION_ACTION_STATUSES",
    "SESSION_ACTION_TO_TASK_RUN_STATUS",
    "TASK_PARAMETER_TYPES",
    "TASK_RUN_STATUSES",
    "TERMINAL_SESSION_ACTION_STATUSES",
    "UNSET",
    "ApiError",
    "CallRecord",
    "DeadlineStandIn",
    "FarmError",
    "Faults",
    "InvalidArgument",
    "Job",
    "ManualClock",
    "RenderFarm",
    "ResourceNotFound",
    "SampleFarm",
    "Session",
    "SessionAction",
    "Step",
    "Task",
    "access_denied",
    "build_sample_farm",
    "env_enter_definition",
    "env_exit_definition",
    "internal_error",
    "job_environment_id",
    "make_error",
    "not_found",
    "rollup_task_run_status",
    "step_environment_id",
    "sync_input_job_attachments_definition",
    "task_parameters",
    "task_run_definition",
    "throttling",
    "unknown_definition",
    "validation_error",
]
