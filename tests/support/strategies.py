"""Hypothesis strategies shared by the fuzz tests (``tests/unit/test_fuzz_normalise.py``, the pure path, and
``tests/integration/test_fuzz_handler.py``, through the real handler against moto and the Deadline stand-in):
invocation inputs and GetSessionAction answers of every shape, as boto3 returns them and as they come on the wire."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
import math
from typing import Any, Dict

from hypothesis import strategies as st

from session_watch.domain.record import KNOWN_STATUSES
from session_watch.domain.requests import SessionActionRef

# --- building blocks --------------------------------------------------------------------------------

HEX32 = st.text("0123456789abcdef", min_size=32, max_size=32)
NUMBER = st.integers(0, 9_999_999_999)


def an_id(prefix: str):
    return st.builds(lambda h: f"{prefix}-{h}", HEX32)


def a_numbered_id(prefix: str):
    return st.builds(lambda h, n: f"{prefix}-{h}-{n}", HEX32, NUMBER)


TRICKY = st.sampled_from(["", " ", "null", "None", "\x00", "\u202e\u0644\u0627", "💥🎬", "e\u0301", "${jndi:x}",
                          "'; DROP TABLE history; --", "<script>", "\r\n", "farm-", "FAILED", "1e999", "NaN"])
SHORT_TEXT = st.one_of(st.text(max_size=24), TRICKY)
HUGE_TEXT = st.builds(lambda c, n: c * n, st.characters(exclude_categories=("Cs",)), st.integers(5_000, 100_000))
TEXT = st.one_of(SHORT_TEXT, SHORT_TEXT, SHORT_TEXT, HUGE_TEXT)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**80, 2**80),
                    st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                    st.dictionaries(SHORT_TEXT, inner, max_size=3)), max_leaves=8)
#: A value of the wrong type, cheaper to draw than any JSON.
WRONG = st.one_of(SCALARS, st.builds(list), st.builds(dict), st.builds(lambda: [1, "a"]),
                  st.builds(lambda: {"S": "x"}))


def sometimes_wrong(good, wrong=WRONG):
    """Mostly ``good``; sometimes missing (None) or anything at all."""
    return st.one_of(good, good, good, st.none(), wrong)


@st.composite
def mutated(draw, base):
    """``base`` with up to three random edits: a key dropped, a value replaced by any JSON, a key added."""
    obj = copy.deepcopy(draw(base))  # edits must not reach objects hypothesis keeps
    for _ in range(draw(st.integers(0, 3))):
        containers = [obj]
        for value in list(obj.values()) if isinstance(obj, dict) else []:
            if isinstance(value, dict):
                containers.append(value)
        target = draw(st.sampled_from(containers))
        edit = draw(st.sampled_from(["drop", "replace", "add"]))
        if edit == "add" or not target:
            target[draw(SHORT_TEXT)] = draw(JSON)
        else:
            key = draw(st.sampled_from(sorted(target, key=str)))
            if edit == "drop":
                del target[key]
            else:
                target[key] = draw(JSON)
    return obj


# --- invocation inputs --------------------------------------------------------------------------------

RUN_STATUSES = st.one_of(st.sampled_from(["SUCCEEDED", "FAILED", "CANCELED", "RUNNING", "READY", "NOT_COMPATIBLE"]),
                         st.from_regex(r"[A-Z_]{1,64}", fullmatch=True), SHORT_TEXT)

TASK_EVENT = st.fixed_dictionaries({
    "version": st.just("0"), "id": sometimes_wrong(st.uuids().map(str)),
    "detail-type": st.one_of(st.just("Task Run Status Change"), st.just("Task Run Status Change"),
                             st.sampled_from(["Job Run Status Change", "Step Run Status Change"]), SHORT_TEXT),
    "source": st.one_of(st.just("aws.deadline"), st.just("aws.deadline"), SHORT_TEXT),
    "account": st.just("111122223333"), "time": st.just("2026-11-20T18:43:48Z"), "region": st.just("us-west-2"),
    "resources": st.just([]),
    "detail": st.fixed_dictionaries({
        "farmId": sometimes_wrong(an_id("farm")), "queueId": sometimes_wrong(an_id("queue")),
        "jobId": sometimes_wrong(an_id("job")), "stepId": sometimes_wrong(an_id("step")),
        "taskId": sometimes_wrong(a_numbered_id("task")),
        "runStatus": sometimes_wrong(RUN_STATUSES), "previousRunStatus": sometimes_wrong(RUN_STATUSES),
    }),
})
REF = st.fixed_dictionaries({
    "farmId": sometimes_wrong(an_id("farm")), "queueId": sometimes_wrong(an_id("queue")),
    "jobId": sometimes_wrong(an_id("job")), "sessionActionId": sometimes_wrong(a_numbered_id("sessionaction")),
})
EVENT_WITH_REF = st.builds(lambda ref, kind, source: {"version": "0", "id": "e-1", "detail-type": kind,
                                                     "source": source, "detail": ref},
                           REF, SHORT_TEXT, SHORT_TEXT)
INVOCATIONS = st.one_of(mutated(TASK_EVENT), mutated(REF), mutated(EVENT_WITH_REF), JSON)


# --- GetSessionAction answers, as boto3 returns them --------------------------------------------------

#: Float parameter values DynamoDB can store (see the gap tests below for the others).
STORABLE_FLOAT = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or 1e-100 <= abs(x) <= 1e100)
PARAMETER_VALUE = st.one_of(
    st.builds(lambda v: {"int": v}, st.one_of(st.from_regex(r"-?(0|[1-9][0-9]{0,18})", fullmatch=True), SHORT_TEXT)),
    st.builds(lambda v: {"float": v}, st.one_of(STORABLE_FLOAT.map(repr), st.sampled_from(["1e999", "-1e999", "nan"]),
                                                SHORT_TEXT)),
    st.builds(lambda v: {"string": v}, TEXT),
    st.builds(lambda v: {"path": v}, TEXT),
    st.builds(lambda v: {"chunkInt": v}, st.one_of(st.from_regex(r"[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4})*",
                                                                fullmatch=True), SHORT_TEXT)),
    st.builds(lambda v: {"SDK_UNKNOWN_MEMBER": {"name": v}}, sometimes_wrong(SHORT_TEXT)),
    st.builds(lambda a, b: {"int": a, "string": b}, SHORT_TEXT, SHORT_TEXT),  # two members
    st.dictionaries(SHORT_TEXT, st.one_of(SHORT_TEXT, st.none()), max_size=2),  # unknown / empty members
    JSON,
)
PARAMETERS = sometimes_wrong(st.dictionaries(st.one_of(SHORT_TEXT, st.just("Frame")), PARAMETER_VALUE, max_size=4))
MEMBER_BODY = {
    "taskRun": st.fixed_dictionaries({}, optional={"stepId": sometimes_wrong(an_id("step")),
                                                   "taskId": sometimes_wrong(a_numbered_id("task")),
                                                   "parameters": PARAMETERS}),
    "envEnter": st.fixed_dictionaries({}, optional={"environmentId": sometimes_wrong(TEXT)}),
    "envExit": st.fixed_dictionaries({}, optional={"environmentId": sometimes_wrong(TEXT)}),
    "syncInputJobAttachments": st.fixed_dictionaries({}, optional={"stepId": sometimes_wrong(an_id("step"))}),
    "SDK_UNKNOWN_MEMBER": st.fixed_dictionaries({}, optional={"name": sometimes_wrong(SHORT_TEXT)}),
}
DEFINITION = st.one_of(
    *[st.builds(lambda body, m=member: {m: body}, strategy) for member, strategy in MEMBER_BODY.items()],
    st.builds(lambda name, body: {name: body}, SHORT_TEXT, JSON),  # a member a newer SDK knows
    st.builds(lambda a, b: {"taskRun": a, "envEnter": b}, MEMBER_BODY["taskRun"], MEMBER_BODY["envEnter"]),
    st.builds(lambda body: {"taskRun": body, "envExit": None}, MEMBER_BODY["taskRun"]),  # None members are unset
    st.just({}),
    JSON,
)
AWARE = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1),
                     timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7)), timezone(timedelta(hours=13))]))
TIMESTAMP = st.one_of(AWARE, st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
                      AWARE.map(lambda d: d.isoformat()), AWARE.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
                      st.none(), SCALARS)
STATUS = st.one_of(st.sampled_from(sorted(KNOWN_STATUSES)), st.sampled_from(sorted(KNOWN_STATUSES)),
                   st.from_regex(r"[A-Z_]{1,30}", fullmatch=True), SHORT_TEXT, st.none(), st.integers())
LIST_OF = lambda item: sometimes_wrong(st.lists(st.one_of(item, item, JSON), max_size=3))  # noqa: E731
MANIFEST = st.fixed_dictionaries({}, optional={"outputManifestPath": sometimes_wrong(TEXT),
                                               "outputManifestHash": sometimes_wrong(SHORT_TEXT)})
LIMIT = st.fixed_dictionaries({}, optional={"limitId": sometimes_wrong(SHORT_TEXT),
                                            "count": sometimes_wrong(st.integers(-2**31, 2**31 - 1))})

RESPONSE = st.fixed_dictionaries(
    {"sessionActionId": sometimes_wrong(a_numbered_id("sessionaction")), "status": STATUS, "definition": DEFINITION},
    optional={
        "sessionId": sometimes_wrong(an_id("session")),
        "startedAt": TIMESTAMP, "endedAt": TIMESTAMP, "workerUpdatedAt": TIMESTAMP,
        "processExitCode": st.one_of(st.integers(-2**31, 2**31 - 1), st.booleans(), st.floats(), SHORT_TEXT, st.none()),
        "progressPercent": st.one_of(STORABLE_FLOAT, st.floats(0, 100).filter(lambda x: x == 0 or x >= 1e-100),
                                     st.booleans(), SHORT_TEXT, st.none(),
                                     st.sampled_from([math.nan, math.inf, -math.inf])),
        "progressMessage": sometimes_wrong(TEXT),
        "manifests": LIST_OF(MANIFEST), "acquiredLimits": LIST_OF(LIMIT),
        "ResponseMetadata": st.just({"HTTPStatusCode": 200}),
    },
)

IDS = dict(farm_id="farm-" + "a" * 32, queue_id="queue-" + "b" * 32, job_id="job-" + "c" * 32)
REF_OBJ = SessionActionRef(IDS["farm_id"], IDS["queue_id"], IDS["job_id"], "sessionaction-" + "d" * 32 + "-1")
#: On the wire a timestamp is ISO 8601 text or epoch seconds (botocore parses both).
WIRE_TIMESTAMP = st.one_of(AWARE.map(lambda d: d.isoformat()), st.floats(86400, 7e9).map(round), st.none())
WIRE_RESPONSE = st.fixed_dictionaries(
    {"sessionActionId": sometimes_wrong(a_numbered_id("sessionaction"), SCALARS), "status": STATUS,
     "definition": st.one_of(*[st.builds(lambda body, m=member: {m: body}, strategy)
                               for member, strategy in MEMBER_BODY.items() if member != "SDK_UNKNOWN_MEMBER"],
                             st.builds(lambda name, body: {name: body}, st.from_regex(r"[a-z][A-Za-z]{2,20}", fullmatch=True),
                                       st.dictionaries(SHORT_TEXT, SCALARS, max_size=2)))},
    optional={"sessionId": sometimes_wrong(an_id("session"), SCALARS), "startedAt": WIRE_TIMESTAMP,
              "endedAt": WIRE_TIMESTAMP, "workerUpdatedAt": WIRE_TIMESTAMP,
              "processExitCode": st.integers(-2**31, 2**31 - 1),
              "progressPercent": st.floats(0, 100).filter(lambda x: x == 0 or x >= 1e-100),
              "progressMessage": sometimes_wrong(TEXT, SCALARS),
              "manifests": st.lists(MANIFEST, max_size=2),
              "acquiredLimits": st.lists(st.fixed_dictionaries({}, optional={
                  "limitId": sometimes_wrong(SHORT_TEXT, SCALARS), "count": st.integers(-2**31, 2**31 - 1)}),
                  max_size=2)},
)


def _wire_safe(response: Dict[str, Any]) -> bool:
    """The wire answers botocore parses without crashing (see the gap tests below): containers of the right
    container type all the way down (numbers and timestamps are drawn well-formed above)."""
    def one_member(union: Any) -> bool:  # botocore refuses a union with no member or several
        return isinstance(union, dict) and sum(v is not None for v in union.values()) == 1

    if not one_member(response["definition"]):
        return False
    task_run = response["definition"].get("taskRun")
    if isinstance(task_run, dict):
        params = task_run.get("parameters")
        if params is not None and (not isinstance(params, dict) or not all(map(one_member, params.values()))):
            return False
    for body in response["definition"].values():
        if body is not None and not isinstance(body, dict):
            return False
    for member in ("manifests", "acquiredLimits"):
        if not all(isinstance(item, dict) for item in response.get(member) or []):
            return False
    return True
