"""The session action record: the project's public contract (README, "The record").

``Record`` is a ``TypedDict``: at run time a plain dict (it costs nothing), to a type checker a fixed set
of keys, so a misspelt key is an error rather than a silent ``None``. ``RECORD_FIELDS`` is derived from it.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, TypedDict

from .. import names


class RootCause(TypedDict):
    """The first failed action of a session: what left this action NEVER_ATTEMPTED (or failed the task)."""

    sessionActionId: Optional[str]
    sessionId: Optional[str]
    actionType: Optional[str]
    status: Optional[str]
    environmentId: Optional[str]
    stepId: Optional[str]
    taskId: Optional[str]
    processExitCode: Optional[int]
    progressMessage: Optional[str]
    endedAt: Optional[str]


class Record(TypedDict):
    """One session action, flat. Every key is always present (``None`` when the API gave nothing)."""

    farmId: str
    queueId: str
    jobId: str
    sessionId: Optional[str]
    sessionActionId: str
    status: str
    outcome: str
    terminal: bool
    actionType: Optional[str]
    stepId: Optional[str]
    taskId: Optional[str]
    environmentId: Optional[str]
    parameters: Optional[Dict[str, Any]]
    parameterTypes: Optional[Dict[str, str]]
    startedAt: Optional[str]
    endedAt: Optional[str]
    workerUpdatedAt: Optional[str]
    durationSeconds: Optional[float]
    processExitCode: Optional[int]
    progressPercent: Optional[float]
    progressMessage: Optional[str]
    manifests: Optional[List[Dict[str, Any]]]
    acquiredLimits: Optional[List[Dict[str, Any]]]
    # Enrichment (domain/enrichment.py): job name and priority (GetJob), the step's name (GetStep), where
    # the session runs and logs (GetSession), the last lines it logged up to the action's end (CloudWatch
    # Logs GetLogEvents), links, the root cause of a NEVER_ATTEMPTED action, and what could not be found.
    jobName: Optional[str]
    jobPriority: Optional[int]
    stepName: Optional[str]
    workerId: Optional[str]
    fleetId: Optional[str]
    logGroup: Optional[str]
    logStream: Optional[str]
    logsUrl: Optional[str]
    logExcerpt: Optional[List[str]]
    monitorUrl: Optional[str]
    rootCause: Optional[RootCause]
    enrichmentMissing: Optional[List[str]]


#: Every key of a record, in contract order.
RECORD_FIELDS: Tuple[str, ...] = tuple(Record.__annotations__)
#: The keys enrichment adds, last in the record.
ENRICHMENT_FIELDS: Tuple[str, ...] = RECORD_FIELDS[RECORD_FIELDS.index("jobName"):]
#: Every key of a root cause, in contract order.
ROOT_CAUSE_FIELDS: Tuple[str, ...] = tuple(RootCause.__annotations__)


def empty_record() -> Record:
    """A record with every key ``None`` (callers fill in what they know)."""
    return dict.fromkeys(RECORD_FIELDS)  # type: ignore[return-value]


class Outcome(str, Enum):
    COMPLETION = "completion"
    FAILURE = "failure"
    IN_PROGRESS = "in_progress"
    UNKNOWN = "unknown"


#: Session action statuses by outcome. A status the service adds later is ``Outcome.UNKNOWN``.
COMPLETION_STATUSES: FrozenSet[str] = frozenset(names.COMPLETION_STATUSES)
FAILURE_STATUSES: FrozenSet[str] = frozenset(names.FAILURE_STATUSES)
IN_PROGRESS_STATUSES: FrozenSet[str] = frozenset(names.IN_PROGRESS_STATUSES)
TERMINAL_STATUSES: FrozenSet[str] = COMPLETION_STATUSES | FAILURE_STATUSES
KNOWN_STATUSES: FrozenSet[str] = TERMINAL_STATUSES | IN_PROGRESS_STATUSES

#: Union members of ``SessionActionDefinition`` and ``TaskParameterValue`` handled explicitly.
KNOWN_ACTION_TYPES: FrozenSet[str] = frozenset(names.ACTION_TYPES)
KNOWN_PARAMETER_TYPES: FrozenSet[str] = frozenset(names.PARAMETER_TYPES)


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
