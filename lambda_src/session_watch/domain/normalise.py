"""GetSessionAction response -> flat record.

Pure: no AWS, no I/O. Every response that fits the API model (including union members and statuses
this code does not know) gives a record; a response that breaks the model raises
``MalformedSessionActionError`` naming the field, never a bare KeyError/TypeError.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..errors import MalformedSessionActionError
from .record import Outcome, Record, classify_status, empty_record, is_terminal

UNKNOWN_MEMBER = "SDK_UNKNOWN_MEMBER"


def normalise_session_action(
    response: Mapping[str, Any], *, farm_id: str, queue_id: str, job_id: str
) -> Record:
    """Turn a GetSessionAction response (as boto3 returns it) into a record with every contract key."""
    if not isinstance(response, Mapping):
        raise MalformedSessionActionError("response", "is not an object")
    status = _required_str(response, "status")
    outcome = classify_status(status)

    action_type, definition = _definition_member(response.get("definition"))
    parameters, parameter_types = _parameters(definition.get("parameters"), action_type)

    started = _timestamp(response, "startedAt")
    ended = _timestamp(response, "endedAt")
    duration = None
    if started is not None and ended is not None:
        duration = round((ended - started).total_seconds(), 3)

    record: Record = empty_record()
    record.update({
        "farmId": farm_id,
        "queueId": queue_id,
        "jobId": job_id,
        "sessionId": _optional_str(response, "sessionId"),
        "sessionActionId": _required_str(response, "sessionActionId"),
        "status": status,
        "outcome": outcome.value,
        "terminal": is_terminal(outcome),
        "actionType": action_type,
        "stepId": _optional_str(definition, "stepId", where=f"definition.{action_type}"),
        "taskId": _optional_str(definition, "taskId", where=f"definition.{action_type}"),
        "environmentId": _optional_str(definition, "environmentId", where=f"definition.{action_type}"),
        "parameters": parameters,
        "parameterTypes": parameter_types,
        "startedAt": _iso(started),
        "endedAt": _iso(ended),
        "workerUpdatedAt": _iso(_timestamp(response, "workerUpdatedAt")),
        "durationSeconds": duration,
        "processExitCode": _exit_code(response),
        "progressPercent": _percent(response),
        "progressMessage": _message(response),
        "manifests": _manifests(response.get("manifests")),
        "acquiredLimits": _acquired_limits(response.get("acquiredLimits")),
    })
    return record


# --- the union ---------------------------------------------------------------------------------


def _definition_member(definition: Any) -> Tuple[str, Mapping[str, Any]]:
    """(member name, member body) of the ``SessionActionDefinition`` union.

    An unknown member (``SDK_UNKNOWN_MEMBER``) is reported by the name the SDK gives it, with an empty
    body: it is recorded, never a crash.
    """
    if not isinstance(definition, Mapping) or not definition:
        raise MalformedSessionActionError("definition", "is missing or empty; expected one union member")
    set_members = [k for k, v in definition.items() if v is not None]
    if len(set_members) != 1:
        raise MalformedSessionActionError(
            "definition", f"has {len(set_members)} members set; a tagged union has exactly one"
        )
    member = set_members[0]
    body = definition[member]
    if member == UNKNOWN_MEMBER:
        name = body.get("name") if isinstance(body, Mapping) else None
        if not isinstance(name, str) or not name:
            raise MalformedSessionActionError("definition.SDK_UNKNOWN_MEMBER.name", "is missing")
        return name, {}
    if not isinstance(body, Mapping):
        raise MalformedSessionActionError(f"definition.{member}", "is not an object")
    if member not in ("taskRun", "envEnter", "envExit", "syncInputJobAttachments"):
        # A member a newer SDK deserialised but this code does not know: keep its name only.
        return member, {}
    return member, body


def _parameters(
    raw: Any, action_type: str
) -> Tuple[Optional[Dict[str, Any]], Optional[Dict[str, str]]]:
    if raw is None:
        return None, None
    where = f"definition.{action_type}.parameters"
    if not isinstance(raw, Mapping):
        raise MalformedSessionActionError(where, "is not an object")
    values: Dict[str, Any] = {}
    types: Dict[str, str] = {}
    for name, union in raw.items():
        if not isinstance(name, str):
            raise MalformedSessionActionError(where, "has a parameter name that is not a string")
        member, value = _parameter_value(union, f"{where}.{name}")
        values[name] = value
        types[name] = member
    return values, types


def _parameter_value(union: Any, where: str) -> Tuple[str, Any]:
    """(member, native value) of a ``TaskParameterValue``: int->int, float->float, others->str."""
    if not isinstance(union, Mapping):
        raise MalformedSessionActionError(where, "is not a TaskParameterValue object")
    set_members = [k for k, v in union.items() if v is not None]
    if len(set_members) != 1:
        raise MalformedSessionActionError(where, f"has {len(set_members)} members set; expected one")
    member = set_members[0]
    raw = union[member]
    if member == UNKNOWN_MEMBER:
        name = raw.get("name") if isinstance(raw, Mapping) else None
        if not isinstance(name, str) or not name:
            raise MalformedSessionActionError(f"{where}.SDK_UNKNOWN_MEMBER.name", "is missing")
        return name, None
    if not isinstance(raw, str):
        raise MalformedSessionActionError(f"{where}.{member}", "is not a string")
    if member == "int":
        try:
            value = int(raw.strip())
        except ValueError:
            raise MalformedSessionActionError(f"{where}.int", "is not a whole number") from None
        # Beyond 38 digits DynamoDB has no number for it: keep the wire text.
        return member, value if abs(value) < 10**38 else raw.strip()
    if member == "float":
        try:
            number = float(raw.strip())
        except ValueError:
            raise MalformedSessionActionError(f"{where}.float", "is not a number") from None
        if not _storable_number(number):
            # JSON and DynamoDB have no NaN/Infinity, DynamoDB no number beyond 1e-130..1e126: keep the text.
            return member, raw.strip()
        return member, number
    # string, path, chunkInt ("1-10", "1,3,7") and any member a newer SDK knows: keep the text.
    return member, raw


# --- bounded fields (the API model's limits; DynamoDB and SNS need them held) ---------------------

INT32 = (-(2**31), 2**31 - 1)
MESSAGE_LIMIT = 4096  # progressMessage, characters


def _storable_number(value: float) -> bool:
    return math.isfinite(value) and (value == 0 or 1e-130 < abs(value) < 1e126)


def _exit_code(response: Mapping[str, Any]) -> Optional[int]:
    value = _optional_int(response, "processExitCode")
    if value is not None and not INT32[0] <= value <= INT32[1]:
        raise MalformedSessionActionError("processExitCode", "is outside the 32-bit range")
    return value


def _percent(response: Mapping[str, Any]) -> Optional[float]:
    value = _optional_float(response, "progressPercent")
    if value is not None and not 0.0 <= value <= 100.0:
        raise MalformedSessionActionError("progressPercent", "is outside 0..100")
    if value is not None and not _storable_number(value):
        value = 0.0  # a subnormal speck of progress: DynamoDB cannot hold it
    return value


def _message(response: Mapping[str, Any]) -> Optional[str]:
    """The model allows 4,096 characters; a longer one is cut (with a mark) so that the record and the
    notification stay within DynamoDB's and SNS's limits instead of failing on every retry."""
    value = _optional_str(response, "progressMessage")
    if value is not None and len(value) > MESSAGE_LIMIT:
        value = value[: MESSAGE_LIMIT - 1] + "\u2026"
    return value


# --- scalar fields -----------------------------------------------------------------------------


def _required_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedSessionActionError(key, "is missing or not a non-empty string")
    return value


def _optional_str(obj: Mapping[str, Any], key: str, where: str = "") -> Optional[str]:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedSessionActionError(f"{where}.{key}" if where else key, "is not a string")
    return value


def _optional_int(obj: Mapping[str, Any], key: str, where: str = "") -> Optional[int]:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedSessionActionError(f"{where}.{key}" if where else key, "is not an integer")
    return value


def _optional_float(obj: Mapping[str, Any], key: str) -> Optional[float]:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedSessionActionError(key, "is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise MalformedSessionActionError(key, "is not a finite number")
    return value


def _timestamp(obj: Mapping[str, Any], key: str) -> Optional[datetime]:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedSessionActionError(key, "is not an ISO 8601 timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise MalformedSessionActionError(key, "is not a timestamp")


def parse_timestamp(value: Any) -> datetime:
    """A timestamp of an AWS answer, the datetime botocore's response parser makes of it (equal to it,
    with its offset; naive when the text has none), without dateutil: ISO 8601 strings (what Deadline
    Cloud's REST-JSON answers carry) with ``datetime.fromisoformat``, epoch seconds from numbers (UTC).
    ``ValueError`` for anything else (the clients then use botocore's own parser: ``adapters/clients.py``)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    raise ValueError(f"not a timestamp: {type(value).__name__}")


def _iso(value: Optional[datetime]) -> Optional[str]:
    if value is None:
        return None
    utc = value.astimezone(timezone.utc)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _manifests(raw: Any) -> Optional[List[Dict[str, Any]]]:
    return _objects(raw, "manifests", lambda item, where: {
        "outputManifestPath": _optional_str(item, "outputManifestPath", where),
        "outputManifestHash": _optional_str(item, "outputManifestHash", where),
    })


def _acquired_limits(raw: Any) -> Optional[List[Dict[str, Any]]]:
    return _objects(raw, "acquiredLimits", lambda item, where: {
        "limitId": _optional_str(item, "limitId", where),
        "count": _optional_int(item, "count", where),
    })


def _objects(
    raw: Any, field: str, convert: Callable[[Mapping[str, Any], str], Dict[str, Any]]
) -> Optional[List[Dict[str, Any]]]:
    """A list of structures (``manifests``, ``acquiredLimits``), each converted by ``convert``."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise MalformedSessionActionError(field, "is not a list")
    out = []
    for i, item in enumerate(raw):
        where = f"{field}[{i}]"
        if not isinstance(item, Mapping):
            raise MalformedSessionActionError(where, "is not an object")
        out.append(convert(item, where))
    return out
