"""The session action record: the project's public contract (README, "The record")."""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, FrozenSet

#: Keys added by enrichment (issue 6), last in the record: job name and priority (GetJob), where the
#: session runs and logs (GetSession), links, the root cause of a NEVER_ATTEMPTED action and what could
#: not be found out (``enrichmentMissing``). ``None`` when unknown. See ``domain/enrichment.py``.
ENRICHMENT_FIELDS = (
    "jobName",
    "jobPriority",
    "workerId",
    "fleetId",
    "logGroup",
    "logStream",
    "logsUrl",
    "monitorUrl",
    "rootCause",
    "enrichmentMissing",
)

#: Every key of a record, always present (``None`` when the API gave nothing), in contract order.
RECORD_FIELDS = (
    "farmId",
    "queueId",
    "jobId",
    "sessionId",
    "sessionActionId",
    "status",
    "outcome",
    "terminal",
    "actionType",
    "stepId",
    "taskId",
    "environmentId",
    "parameters",
    "parameterTypes",
    "startedAt",
    "endedAt",
    "workerUpdatedAt",
    "durationSeconds",
    "processExitCode",
    "progressPercent",
    "progressMessage",
    "manifests",
    "acquiredLimits",
) + ENRICHMENT_FIELDS

Record = Dict[str, Any]


class Outcome(str, Enum):
    COMPLETION = "completion"
    FAILURE = "failure"
    IN_PROGRESS = "in_progress"
    UNKNOWN = "unknown"


#: Session action statuses by outcome. A status the service adds later is ``Outcome.UNKNOWN``.
COMPLETION_STATUSES: FrozenSet[str] = frozenset({"SUCCEEDED"})
FAILURE_STATUSES: FrozenSet[str] = frozenset(
    {"FAILED", "INTERRUPTED", "CANCELED", "NEVER_ATTEMPTED", "RECLAIMED"}
)
IN_PROGRESS_STATUSES: FrozenSet[str] = frozenset(
    {"ASSIGNED", "RUNNING", "CANCELING", "SCHEDULED", "RECLAIMING"}
)
TERMINAL_STATUSES: FrozenSet[str] = COMPLETION_STATUSES | FAILURE_STATUSES
KNOWN_STATUSES: FrozenSet[str] = TERMINAL_STATUSES | IN_PROGRESS_STATUSES

#: Union members of ``SessionActionDefinition`` and ``TaskParameterValue`` handled explicitly.
KNOWN_ACTION_TYPES: FrozenSet[str] = frozenset(
    {"taskRun", "envEnter", "envExit", "syncInputJobAttachments"}
)
KNOWN_PARAMETER_TYPES: FrozenSet[str] = frozenset({"int", "float", "string", "path", "chunkInt"})


def classify_status(status: str) -> Outcome:
    """The outcome of a session action status; ``UNKNOWN`` for a status this code does not know."""
    if status in COMPLETION_STATUSES:
        return Outcome.COMPLETION
    if status in FAILURE_STATUSES:
        return Outcome.FAILURE
    if status in IN_PROGRESS_STATUSES:
        return Outcome.IN_PROGRESS
    return Outcome.UNKNOWN


def is_terminal(outcome: Outcome) -> bool:
    return outcome in (Outcome.COMPLETION, Outcome.FAILURE)
