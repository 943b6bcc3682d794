"""An HTTP server that speaks the Deadline Cloud REST-JSON API over a :class:`RenderFarm`.

Routes, shapes and error encodings follow the botocore model
(``botocore/data/deadline/2023-10-12/service-2.json``) so that an unmodified boto3
``client("deadline")`` parses the answers exactly as it parses the real service's:

* ``GET`` GetSessionAction, ListSessionActions, GetTask, GetJob, GetSession (path and querystring
  parameters), ``POST`` BatchGetSessionAction, BatchGetTask, BatchGetJob, BatchGetSession, BatchGetStep (JSON
  body ``{"identifiers": [...]}``, 1..100 items, per-item ``errors[]`` with ``code``/``message``);
* timestamps as ISO 8601 strings with milliseconds (every timestamp shape of these operations has
  ``timestampFormat: iso8601``);
* errors as HTTP status + ``x-amzn-ErrorType`` + JSON body ``{"message", ...members}``; members
  bound to headers (``retryAfterSeconds``) go in ``Retry-After``;
* an unknown route answers 404 ``UnknownOperationException``.

Request validation is that of the model's constraints (ID patterns, matched whole; ``maxResults``
1..100; required members; 1..100 batch identifiers): a violation is a 400 ValidationException with
``reason`` FIELD_VALIDATION_FAILED (CANNOT_PARSE for a body that is not JSON) and a ``fieldList``
naming the member (``farmId``, ``maxResults``, ``identifiers[3].jobId``). Signatures are not checked.

Not modelled: the real service's ``resourceType`` strings and message wording (the stand-in uses
``farm``, ``queue``, ``job``, ``step``, ``task``, ``session``, ``sessionAction``), result ordering of
ListSessionActions (creation order here) and nextToken expiry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import socket
import threading
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qs, unquote, urlsplit

from ..offline_aws import FAKE_CREDENTIALS
from .farm import RenderFarm, ResourceNotFound

API_VERSION = "2023-10-12"
DEFAULT_QUOTA_CODE = "L-DEADLINE-READS"  # made up; the real quota codes are not published in the model
MAX_RESULTS_DEFAULT = 100

# --- Errors ------------------------------------------------------------------------------------

#: HTTP status of each modeled error.
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "InternalServerErrorException": 500,
    "ResourceNotFoundException": 404,
    "ThrottlingException": 429,
    "ValidationException": 400,
    "UnknownOperationException": 404,
}


class ApiError(Exception):
    """An error response: ``code`` (x-amzn-ErrorType), HTTP ``status``, ``message``, the shape's body
    ``members`` and ``retry_after`` (the Retry-After header, for Throttling/InternalServerError)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: Optional[int] = None,
        members: Optional[Mapping[str, Any]] = None,
        retry_after: Optional[int] = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else ERROR_STATUS.get(code, 400)
        self.members = {k: v for k, v in dict(members or {}).items() if v is not None}
        self.retry_after = retry_after

    def body(self) -> Dict[str, Any]:
        return dict({"message": self.message}, **self.members)

    def headers(self) -> Dict[str, str]:
        headers = {"x-amzn-ErrorType": self.code}
        if self.retry_after is not None:
            headers["Retry-After"] = str(int(self.retry_after))
        return headers


def throttling(
    message: str = "Rate exceeded",
    *,
    service_code: Optional[str] = "deadline",
    quota_code: Optional[str] = DEFAULT_QUOTA_CODE,
    retry_after: Optional[int] = 1,
    context: Optional[Mapping[str, str]] = None,
) -> ApiError:
    """ThrottlingException (429): ``serviceCode``, ``quotaCode``, ``context``; ``Retry-After`` header."""
    return ApiError(
        "ThrottlingException",
        message,
        members={"serviceCode": service_code, "quotaCode": quota_code, "context": context},
        retry_after=retry_after,
    )


def internal_error(message: str = "Internal server error", *, retry_after: Optional[int] = 1) -> ApiError:
    """InternalServerErrorException (500); ``Retry-After`` header."""
    return ApiError("InternalServerErrorException", message, retry_after=retry_after)


def access_denied(message: str = "Access denied", *, context: Optional[Mapping[str, str]] = None) -> ApiError:
    """AccessDeniedException (403) with optional ``context``."""
    return ApiError("AccessDeniedException", message, members={"context": context})


def not_found(
    resource_type: str,
    resource_id: str,
    message: Optional[str] = None,
    *,
    context: Optional[Mapping[str, str]] = None,
) -> ApiError:
    """ResourceNotFoundException (404): ``resourceId``, ``resourceType``, ``context``."""
    return ApiError(
        "ResourceNotFoundException",
        message or f"Resource {resource_id} of type {resource_type} not found",
        members={"resourceId": resource_id, "resourceType": resource_type, "context": context or None},
    )


def validation_error(
    message: str,
    *,
    reason: str = "FIELD_VALIDATION_FAILED",
    field_list: Optional[Iterable[Union[Tuple[str, str], Mapping[str, str]]]] = None,
    context: Optional[Mapping[str, str]] = None,
) -> ApiError:
    """ValidationException (400): ``reason`` (UNKNOWN_OPERATION, CANNOT_PARSE,
    FIELD_VALIDATION_FAILED, OTHER) and ``fieldList`` of ``{name, message}``."""
    fields = None
    if field_list is not None:
        fields = [dict(f) if isinstance(f, Mapping) else {"name": f[0], "message": f[1]} for f in field_list]
    return ApiError("ValidationException", message, members={"reason": reason, "fieldList": fields, "context": context})


_ERROR_FACTORIES: Dict[str, Callable[..., ApiError]] = {
    "ThrottlingException": throttling,
    "InternalServerErrorException": internal_error,
    "AccessDeniedException": access_denied,
    "ValidationException": lambda message="Injected validation failure", **kw: validation_error(message, **kw),
    "ResourceNotFoundException": lambda message=None, resource_type="unknown", resource_id="unknown", **kw: not_found(
        resource_type, resource_id, message, **kw
    ),
}

ErrorSpec = Union[str, ApiError, Callable[[], ApiError]]


def make_error(spec: ErrorSpec, **fields: Any) -> ApiError:
    """An :class:`ApiError` from a code (``"ThrottlingException"`` plus the factory's keyword
    arguments), an ApiError (copied) or a zero-argument factory."""
    if isinstance(spec, ApiError):
        return ApiError(spec.code, spec.message, status=spec.status, members=spec.members, retry_after=spec.retry_after)
    if callable(spec):
        return spec()
    factory = _ERROR_FACTORIES.get(spec)
    if factory is None:
        return ApiError(spec, fields.pop("message", f"Injected {spec}"), **fields)
    return factory(**fields)


# --- Fault injection ---------------------------------------------------------------------------


class Faults:
    """Deterministic, thread-safe fault injection for a :class:`DeadlineStandIn`.

    ``operation`` is an operation name (``"GetTask"``) or ``"*"`` for every operation. For each call
    the server applies, in order: a delay (:meth:`delay_next`, then :meth:`delay`), a queued failure
    (:meth:`fail_next`), a random failure (:meth:`error_rate`, drawn from a generator seeded by
    ``seed``: the same sequence of calls fails the same way), then per-resource faults while serving
    (:meth:`deny`, :meth:`fail_resource`; in a Batch* call these become per-item ``errors[]`` when the
    operation's error code enum allows the code, else the whole call fails).
    """

    def __init__(self, seed: Union[int, str] = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(f"deadline-standin:{seed}:faults")
        self._rates: Dict[str, Tuple[float, float]] = {}
        self._queued: Dict[str, Deque[Tuple[ErrorSpec, Dict[str, Any]]]] = {}
        self._delays: Dict[str, float] = {}
        self._queued_delays: Dict[str, Deque[float]] = {}
        self._denied: Dict[str, Optional[str]] = {}
        self._resource_errors: Dict[str, Tuple[ErrorSpec, Dict[str, Any]]] = {}
        #: (operation, error code) -> how many times a fault was injected.
        self.injected: Counter = Counter()

    # -- configuration ---------------------------------------------------------------------------

    def error_rate(self, operation: str = "*", *, throttling: float = 0.0, internal_error: float = 0.0) -> None:
        """Fail each call of ``operation`` with probability ``throttling`` (ThrottlingException) or
        ``internal_error`` (InternalServerErrorException). An operation's own rate replaces ``"*"``."""
        if throttling < 0 or internal_error < 0 or throttling + internal_error > 1:
            raise ValueError("probabilities must be >= 0 and sum to at most 1")
        with self._lock:
            if throttling == 0 and internal_error == 0:
                self._rates.pop(operation, None)
            else:
                self._rates[operation] = (throttling, internal_error)

    def fail_next(self, operation: str, count: int = 1, error: ErrorSpec = "ThrottlingException", **fields: Any) -> None:
        """The next ``count`` calls of ``operation`` fail with ``error`` (a code plus the fields of
        its factory, e.g. ``retry_after=3``, ``quota_code=...``; or an :class:`ApiError`)."""
        with self._lock:
            queue = self._queued.setdefault(operation, deque())
            for _ in range(count):
                queue.append((error, dict(fields)))

    def delay(self, operation: str = "*", seconds: float = 0.0) -> None:
        """Hold every response of ``operation`` for ``seconds`` (0 removes the delay)."""
        with self._lock:
            if seconds <= 0:
                self._delays.pop(operation, None)
            else:
                self._delays[operation] = float(seconds)

    def delay_next(self, operation: str, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` responses of ``operation`` for ``seconds`` (e.g. past a client's
        read timeout, to check that it retries)."""
        with self._lock:
            self._queued_delays.setdefault(operation, deque()).extend([float(seconds)] * count)

    def deny(self, *resource_ids: str, message: Optional[str] = None) -> None:
        """Any call naming one of ``resource_ids`` (path, query or batch item) gets AccessDeniedException."""
        with self._lock:
            for rid in resource_ids:
                self._denied[rid] = message

    def allow(self, *resource_ids: str) -> None:
        with self._lock:
            for rid in resource_ids:
                self._denied.pop(rid, None)

    def fail_resource(self, resource_id: str, error: ErrorSpec = "InternalServerErrorException", **fields: Any) -> None:
        """Any call naming ``resource_id`` fails with ``error`` (per item in Batch* calls)."""
        with self._lock:
            self._resource_errors[resource_id] = (error, dict(fields))

    def reseed(self, seed: Union[int, str]) -> None:
        with self._lock:
            self._seed = seed
            self._rng = random.Random(f"deadline-standin:{seed}:faults")

    def clear(self) -> None:
        """Remove every fault, reset the random generator to its seed and the ``injected`` counts."""
        with self._lock:
            self._rates.clear()
            self._queued.clear()
            self._delays.clear()
            self._queued_delays.clear()
            self._denied.clear()
            self._resource_errors.clear()
            self._rng = random.Random(f"deadline-standin:{self._seed}:faults")
            self.injected = Counter()

    # -- used by the server ----------------------------------------------------------------------

    def before_call(self, operation: str) -> Tuple[float, Optional[ApiError]]:
        """The delay to apply and the error (if any) to answer for one call of ``operation``."""
        with self._lock:
            delay = 0.0
            for key in (operation, "*"):
                queued = self._queued_delays.get(key)
                if queued:
                    delay = queued.popleft()
                    break
            else:
                delay = self._delays.get(operation, self._delays.get("*", 0.0))
            error: Optional[ApiError] = None
            for key in (operation, "*"):
                queued_errors = self._queued.get(key)
                if queued_errors:
                    spec, fields = queued_errors.popleft()
                    error = make_error(spec, **fields)
                    break
            if error is None:
                rates = self._rates.get(operation, self._rates.get("*"))
                if rates is not None:
                    draw = self._rng.random()
                    if draw < rates[0]:
                        error = throttling()
                    elif draw < rates[0] + rates[1]:
                        error = internal_error()
            if error is not None:
                self.injected[(operation, error.code)] += 1
            return delay, error

    def resource_fault(self, operation: str, resource_ids: Iterable[Optional[str]]) -> Optional[ApiError]:
        """The error a call naming ``resource_ids`` gets from :meth:`deny` / :meth:`fail_resource`."""
        with self._lock:
            for rid in resource_ids:
                if rid is None:
                    continue
                if rid in self._denied:
                    message = self._denied[rid] or (
                        f"User: arn:aws:sts::111122223333:assumed-role/SessionWatch/fn is not authorized "
                        f"to perform: deadline:{operation} on resource: {rid}"
                    )
                    self.injected[(operation, "AccessDeniedException")] += 1
                    return access_denied(message)
                if rid in self._resource_errors:
                    spec, fields = self._resource_errors[rid]
                    if spec == "ResourceNotFoundException":
                        fields = dict({"resource_id": rid, "resource_type": _resource_type(rid)}, **fields)
                    error = make_error(spec, **fields)
                    self.injected[(operation, error.code)] += 1
                    return error
            return None


def _resource_type(resource_id: str) -> str:
    prefix = resource_id.split("-", 1)[0]
    return {"sessionaction": "sessionAction"}.get(prefix, prefix)


# --- Routes and validation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    request_uri: str

    @property
    def regex(self) -> "re.Pattern[str]":
        parts = re.split(r"\{(\w+)\}", self.request_uri)  # literal, name, literal, name, ...
        pattern = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
        )
        return re.compile(f"^{pattern}$")


#: The operations served, with method and requestUri exactly as in the botocore model.
ROUTES: Tuple[Route, ...] = (
    Route("GetSessionAction", "GET", "/2023-10-12/farms/{farmId}/queues/{queueId}/jobs/{jobId}/session-actions/{sessionActionId}"),
    Route("ListSessionActions", "GET", "/2023-10-12/farms/{farmId}/queues/{queueId}/jobs/{jobId}/session-actions"),
    Route("GetTask", "GET", "/2023-10-12/farms/{farmId}/queues/{queueId}/jobs/{jobId}/steps/{stepId}/tasks/{taskId}"),
    Route("GetJob", "GET", "/2023-10-12/farms/{farmId}/queues/{queueId}/jobs/{jobId}"),
    Route("GetSession", "GET", "/2023-10-12/farms/{farmId}/queues/{queueId}/jobs/{jobId}/sessions/{sessionId}"),
    Route("GetStep", "GET", "/2023-10-12/farms/{farmId}/queues/{queueId}/jobs/{jobId}/steps/{stepId}"),
    Route("BatchGetSessionAction", "POST", "/2023-10-12/batch-get-session-action"),
    Route("BatchGetTask", "POST", "/2023-10-12/batch-get-task"),
    Route("BatchGetJob", "POST", "/2023-10-12/batch-get-job"),
    Route("BatchGetSession", "POST", "/2023-10-12/batch-get-session"),
    Route("BatchGetStep", "POST", "/2023-10-12/batch-get-step"),
)
_COMPILED = [(route, route.regex) for route in ROUTES]

#: ID patterns of the model (matched whole here).
ID_PATTERNS = {
    "farmId": re.compile(r"farm-[0-9a-f]{32}"),
    "queueId": re.compile(r"queue-[0-9a-f]{32}"),
    "jobId": re.compile(r"job-[0-9a-f]{32}"),
    "stepId": re.compile(r"step-[0-9a-f]{32}"),
    "taskId": re.compile(r"task-[0-9a-f]{32}-(0|([1-9][0-9]{0,9}))"),
    "sessionId": re.compile(r"session-[0-9a-f]{32}"),
    "sessionActionId": re.compile(r"sessionaction-[0-9a-f]{32}-(0|([1-9][0-9]{0,9}))"),
}

#: Identifier members of each Batch* operation, the response list key and the per-item error codes.
BATCH_OPERATIONS = {
    "BatchGetSessionAction": (
        ("farmId", "queueId", "jobId", "sessionActionId"),
        "sessionActions",
        frozenset({"InternalServerErrorException", "ResourceNotFoundException", "ValidationException"}),
    ),
    "BatchGetTask": (
        ("farmId", "queueId", "jobId", "stepId", "taskId"),
        "tasks",
        frozenset(
            {
                "InternalServerErrorException",
                "ResourceNotFoundException",
                "ValidationException",
                "AccessDeniedException",
                "ThrottlingException",
            }
        ),
    ),
    "BatchGetJob": (
        ("farmId", "queueId", "jobId"),
        "jobs",
        frozenset(
            {
                "InternalServerErrorException",
                "ResourceNotFoundException",
                "ValidationException",
                "AccessDeniedException",
                "ThrottlingException",
            }
        ),
    ),
    "BatchGetSession": (
        ("farmId", "queueId", "jobId", "sessionId"),
        "sessions",
        frozenset({"InternalServerErrorException", "ResourceNotFoundException", "ValidationException"}),
    ),
    # botocore model: BatchGetStepErrorCode.
    "BatchGetStep": (
        ("farmId", "queueId", "jobId", "stepId"),
        "steps",
        frozenset(
            {
                "InternalServerErrorException",
                "ResourceNotFoundException",
                "ValidationException",
                "AccessDeniedException",
                "ThrottlingException",
            }
        ),
    ),
}
BATCH_MAX_IDENTIFIERS = 100


def match_route(method: str, path: str) -> Tuple[Optional[Route], Dict[str, str]]:
    for route, regex in _COMPILED:
        if route.method != method:
            continue
        found = regex.match(path)
        if found:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None, {}


def _violation(value: Any, name: str, constraint: str) -> ApiError:
    message = (
        f"1 validation error detected: Value {json.dumps(value)} at '{name}' failed to satisfy constraint: "
        f"{constraint}"
    )
    return validation_error(message, field_list=[(name, constraint)])


def _check_id(value: Any, member: str, path: Optional[str] = None) -> str:
    name = path or member
    if value is None:
        raise _violation(None, name, "Member must not be null")
    if not isinstance(value, str):
        raise _violation(value, name, "Member must be a string")
    pattern = ID_PATTERNS[member]
    if not pattern.fullmatch(value):
        raise _violation(value, name, f"Member must satisfy regular expression pattern: {pattern.pattern}")
    return value


def _timestamp(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def encode_json(payload: Any) -> bytes:
    """The wire JSON of a response dict (datetimes as ISO 8601 with milliseconds)."""
    return json.dumps(payload, default=_json_default, separators=(",", ":")).encode("utf-8")


# --- Operations --------------------------------------------------------------------------------


class _Api:
    """The operation implementations: each takes the path params, querystring and body and returns
    the response dict or raises :class:`ApiError`."""

    def __init__(self, farm: RenderFarm, faults: Faults) -> None:
        self.farm = farm
        self.faults = faults

    def call(self, operation: str, params: Dict[str, str], query: Dict[str, str], body: Any) -> Dict[str, Any]:
        return getattr(self, operation)(params, query, body)

    def _path_ids(self, operation: str, params: Dict[str, str], members: Sequence[str]) -> List[str]:
        ids = [_check_id(params.get(m), m) for m in members]
        fault = self.faults.resource_fault(operation, ids)
        if fault is not None:
            raise fault
        return ids

    @staticmethod
    def _not_found(err: ResourceNotFound) -> ApiError:
        return not_found(err.resource_type, err.resource_id, context=err.context)

    def GetSessionAction(self, params, query, body):
        ids = self._path_ids("GetSessionAction", params, ("farmId", "queueId", "jobId", "sessionActionId"))
        try:
            return self.farm.describe_session_action(*ids)
        except ResourceNotFound as err:
            raise self._not_found(err) from None

    def ListSessionActions(self, params, query, body):
        farm_id, queue_id, job_id = self._path_ids("ListSessionActions", params, ("farmId", "queueId", "jobId"))
        task_id = query.get("taskId")
        session_id = query.get("sessionId")
        if task_id is not None:
            _check_id(task_id, "taskId")
        if session_id is not None:
            _check_id(session_id, "sessionId")
        fault = self.faults.resource_fault("ListSessionActions", (task_id, session_id))
        if fault is not None:
            raise fault
        max_results = MAX_RESULTS_DEFAULT
        if "maxResults" in query:
            raw = query["maxResults"]
            try:
                max_results = int(raw)
            except ValueError:
                raise _violation(raw, "maxResults", "Member must be an integer") from None
            if not 1 <= max_results <= 100:
                raise _violation(max_results, "maxResults", "Member must have value between 1 and 100")
        key = hashlib.sha256(f"{farm_id}|{queue_id}|{job_id}|{task_id}|{session_id}".encode()).hexdigest()[:16]
        offset = 0
        token = query.get("nextToken")
        if token is not None:
            offset = _decode_token(token, key)
        try:
            summaries = self.farm.list_session_actions(farm_id, queue_id, job_id, task_id=task_id, session_id=session_id)
        except ResourceNotFound as err:
            raise self._not_found(err) from None
        page = summaries[offset : offset + max_results]
        out: Dict[str, Any] = {"sessionActions": page}
        if offset + max_results < len(summaries):
            out["nextToken"] = _encode_token(offset + max_results, key)
        return out

    def GetTask(self, params, query, body):
        ids = self._path_ids("GetTask", params, ("farmId", "queueId", "jobId", "stepId", "taskId"))
        try:
            return self.farm.describe_task(*ids)
        except ResourceNotFound as err:
            raise self._not_found(err) from None

    def GetJob(self, params, query, body):
        ids = self._path_ids("GetJob", params, ("farmId", "queueId", "jobId"))
        try:
            return self.farm.describe_job(*ids)
        except ResourceNotFound as err:
            raise self._not_found(err) from None

    def GetSession(self, params, query, body):
        ids = self._path_ids("GetSession", params, ("farmId", "queueId", "jobId", "sessionId"))
        try:
            return self.farm.describe_session(*ids)
        except ResourceNotFound as err:
            raise self._not_found(err) from None

    def GetStep(self, params, query, body):
        ids = self._path_ids("GetStep", params, ("farmId", "queueId", "jobId", "stepId"))
        try:
            return self.farm.describe_step(*ids)
        except ResourceNotFound as err:
            raise self._not_found(err) from None

    # -- batch -----------------------------------------------------------------------------------

    def _batch(self, operation: str, body: Any, describe: Callable[..., Dict[str, Any]]) -> Dict[str, Any]:
        members, items_key, item_codes = BATCH_OPERATIONS[operation]
        if not isinstance(body, dict):
            raise validation_error("The request body must be a JSON object", reason="CANNOT_PARSE")
        identifiers = body.get("identifiers")
        if identifiers is None:
            raise _violation(None, "identifiers", "Member must not be null")
        if not isinstance(identifiers, list):
            raise _violation(identifiers, "identifiers", "Member must be a list")
        if not 1 <= len(identifiers) <= BATCH_MAX_IDENTIFIERS:
            raise _violation(
                f"<list of {len(identifiers)}>",
                "identifiers",
                f"Member must have length between 1 and {BATCH_MAX_IDENTIFIERS}",
            )
        parsed: List[List[str]] = []
        for index, item in enumerate(identifiers):
            if not isinstance(item, dict):
                raise _violation(item, f"identifiers[{index}]", "Member must be a structure")
            parsed.append([_check_id(item.get(m), m, f"identifiers[{index}].{m}") for m in members])
        found: List[Dict[str, Any]] = []
        errors: List[Dict[str, Any]] = []
        for ids in parsed:
            ident = dict(zip(members, ids))
            fault = self.faults.resource_fault(operation, ids)
            if fault is not None:
                if fault.code not in item_codes:
                    raise fault
                errors.append(dict(ident, code=fault.code, message=fault.message))
                continue
            try:
                item = describe(*ids)
            except ResourceNotFound as err:
                errors.append(dict(ident, code="ResourceNotFoundException", message=str(_not_found_message(err))))
                continue
            found.append(dict(ident, **item))
        return {items_key: found, "errors": errors}

    def BatchGetSessionAction(self, params, query, body):
        return self._batch("BatchGetSessionAction", body, self.farm.describe_session_action)

    def BatchGetTask(self, params, query, body):
        return self._batch("BatchGetTask", body, self.farm.describe_task)

    def BatchGetJob(self, params, query, body):
        return self._batch("BatchGetJob", body, self.farm.describe_job)

    def BatchGetSession(self, params, query, body):
        return self._batch("BatchGetSession", body, self.farm.describe_session)

    def BatchGetStep(self, params, query, body):
        return self._batch("BatchGetStep", body, self.farm.describe_step)


def _not_found_message(err: ResourceNotFound) -> str:
    return not_found(err.resource_type, err.resource_id).message


def _encode_token(offset: int, key: str) -> str:
    raw = json.dumps({"o": offset, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, key: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset = int(data["o"])
        if data["k"] != key or offset < 0:
            raise ValueError("token of another listing")
        return offset
    except (ValueError, KeyError, TypeError):
        raise validation_error(
            "Invalid pagination token",
            field_list=[("nextToken", "The token is invalid or belongs to another request")],
        ) from None


# --- HTTP plumbing -----------------------------------------------------------------------------


class CallRecord(NamedTuple):
    """One request the stand-in answered (``items``: the identifiers a Batch* request named, else None)."""

    operation: str
    status: int
    error_code: Optional[str]
    items: Optional[int] = None


def _identifier_count(raw_body: bytes) -> Optional[int]:
    """How many identifiers a Batch* request names (counted even when a fault answers it), else None."""
    try:
        body = json.loads(raw_body or b"{}")
    except ValueError:
        return None
    identifiers = body.get("identifiers") if isinstance(body, dict) else None
    return len(identifiers) if isinstance(identifiers, list) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: Tuple[str, int], standin: "DeadlineStandIn") -> None:
        self.standin = standin
        self.connections: set = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, OSError)):
            return  # the client went away (e.g. after its read timeout)
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.standin.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        route, params = match_route(method, split.path)
        standin = self.server.standin
        operation = route.operation if route else "UnknownOperation"
        standin._count(operation)
        items = _identifier_count(raw_body) if method == "POST" else None
        try:
            if route is None:
                raise ApiError("UnknownOperationException", f"No operation matches {method} {split.path}", status=404)
            delay, injected = standin.faults.before_call(operation)
            if delay > 0 and standin._stopping.wait(delay):
                self.close_connection = True
                return  # shutting down
            if injected is not None:
                raise injected
            query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            body: Any = None
            if method == "POST":
                try:
                    body = json.loads(raw_body or b"{}")
                except ValueError:
                    raise validation_error("The request body is not valid JSON", reason="CANNOT_PARSE") from None
            payload = standin._api.call(operation, params, query, body)
            status, data, headers, code = 200, encode_json(payload), {}, None
        except ApiError as err:
            status, data, headers, code = err.status, encode_json(err.body()), err.headers(), err.code
        except Exception as exc:  # a bug in the stand-in: answer as the service would, and say what broke
            err = internal_error(f"Stand-in failure: {type(exc).__name__}: {exc}", retry_after=None)
            status, data, headers, code = err.status, encode_json(err.body()), err.headers(), err.code
            if standin.verbose:
                import traceback

                traceback.print_exc()
        standin._record(CallRecord(operation, status, code, items))
        try:
            self._respond(status, data, headers)
        except OSError:  # the client went away (e.g. after its read timeout)
            self.close_connection = True

    def _respond(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class DeadlineStandIn:
    """A local Deadline Cloud endpoint over ``farm``, served from a daemon thread.

    ::

        with DeadlineStandIn(farm) as standin:
            os.environ.update(standin.client_env())
            boto3.client("deadline").get_task(**farm.task_ref(task_id))

    ``faults`` injects errors and delays (:class:`Faults`); ``calls`` counts requests by operation
    (``"UnknownOperation"`` for unmatched routes), including failed and retried ones.
    """

    def __init__(
        self,
        farm: Optional[RenderFarm] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: Union[int, str] = 0,
        verbose: bool = False,
    ) -> None:
        self.farm = farm if farm is not None else RenderFarm(seed)
        self.faults = Faults(seed)
        self.host = host
        self.port = port
        self.verbose = verbose
        self._api = _Api(self.farm, self.faults)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._calls_lock = threading.Lock()
        self._calls: Counter = Counter()
        self._log: List[CallRecord] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "DeadlineStandIn":
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"deadline-standin:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with server.connections_lock:
            connections = list(server.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "DeadlineStandIn":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running; call start() first")
        host = self.host if self.host not in ("0.0.0.0", "") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    # -- client helpers --------------------------------------------------------------------------

    def client_env(self, region: str = "us-west-2") -> Dict[str, str]:
        """Environment variables that point boto3's ``client("deadline")`` here with fake credentials."""
        return {
            "AWS_ENDPOINT_URL_DEADLINE": self.endpoint_url,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, *, region: str = "us-west-2", **config: Any) -> Any:
        """A boto3 Deadline client bound to this endpoint (explicit settings, no environment needed).
        ``config`` goes to ``botocore.config.Config`` (default: standard retry mode, 3 attempts in all;
        note that botocore's ``retries["max_attempts"]`` counts retries only, ``total_max_attempts``
        counts the first call too)."""
        import boto3
        from botocore.config import Config

        config.setdefault("retries", {"mode": "standard", "total_max_attempts": 3})
        config["inject_host_prefix"] = False
        return boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=region,
        ).client("deadline", endpoint_url=self.endpoint_url, config=Config(**config))

    # -- call accounting -------------------------------------------------------------------------

    @property
    def calls(self) -> Counter:
        """Requests received per operation name (a copy), counting injected failures and retries."""
        with self._calls_lock:
            return Counter(self._calls)

    @property
    def call_log(self) -> List[CallRecord]:
        """Every answered request in order: operation, HTTP status, error code."""
        with self._calls_lock:
            return list(self._log)

    def call_summary(self) -> Dict[str, Dict[str, Any]]:
        """Per operation: ``calls`` (requests answered), ``ok`` (HTTP 200), ``errors`` (error code -> count,
        injected ones included) and, for Batch* operations, ``items`` (identifiers requested). What the
        benchmarks report as Deadline Cloud calls."""
        out: Dict[str, Dict[str, Any]] = {}
        for record in self.call_log:
            entry = out.setdefault(record.operation, {"calls": 0, "ok": 0, "errors": {}})
            entry["calls"] += 1
            if record.status == 200:
                entry["ok"] += 1
            elif record.error_code:
                entry["errors"][record.error_code] = entry["errors"].get(record.error_code, 0) + 1
            if record.items is not None:
                entry["items"] = entry.get("items", 0) + record.items
        return out

    def reset_calls(self) -> None:
        with self._calls_lock:
            self._calls.clear()
            self._log.clear()

    def _count(self, operation: str) -> None:
        with self._calls_lock:
            self._calls[operation] += 1

    def _record(self, record: CallRecord) -> None:
        with self._calls_lock:
            self._log.append(record)
