"""The normaliser: every union member, status and parameter type, the unknown ones, and bad shapes."""

import copy
import gzip
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import botocore
import pytest
from hypothesis import given, settings, strategies as st

from session_watch.domain.normalise import normalise_session_action
from session_watch.domain.record import (
    COMPLETION_STATUSES,
    FAILURE_STATUSES,
    IN_PROGRESS_STATUSES,
    KNOWN_ACTION_TYPES,
    KNOWN_PARAMETER_TYPES,
    KNOWN_STATUSES,
    RECORD_FIELDS,
)
from session_watch.errors import MalformedSessionActionError
from tests.hypothesis_profiles import examples

EVENTS = Path(__file__).parent.parent / "events"
IDS = dict(
    farm_id="farm-" + "a" * 32,
    queue_id="queue-" + "b" * 32,
    job_id="job-" + "c" * 32,
)


def sample():
    return json.loads((EVENTS / "get-session-action-failed.json").read_text())


def base(definition, status="SUCCEEDED", **extra):
    response = {
        "sessionActionId": "sessionaction-" + "d" * 32 + "-0",
        "sessionId": "session-" + "d" * 32,
        "status": status,
        "definition": definition,
    }
    response.update(extra)
    return response


def test_reference_sample_gives_the_documented_record():
    record = normalise_session_action(sample(), **IDS)
    assert list(record) == list(RECORD_FIELDS)
    assert record["status"] == "FAILED" and record["outcome"] == "failure" and record["terminal"] is True
    assert record["actionType"] == "taskRun"
    assert record["taskId"] == "task-0123456789abcdef0123456789abcdef-12"
    assert record["stepId"] == "step-0123456789abcdef0123456789abcdef"
    assert record["environmentId"] is None
    assert record["parameters"] == {"Frame": 12, "Scene": "/mnt/projects/shot42/scene.blend"}
    assert record["parameterTypes"] == {"Frame": "int", "Scene": "path"}
    assert record["startedAt"] == "2026-11-20T18:41:02.118Z"
    assert record["endedAt"] == "2026-11-20T18:43:47.902Z"
    assert record["durationSeconds"] == pytest.approx(165.784)
    assert record["processExitCode"] == 139
    assert record["progressPercent"] == 61.5
    assert record["farmId"] == IDS["farm_id"] and record["jobId"] == IDS["job_id"]
    json.dumps(record)  # JSON-safe


@pytest.mark.parametrize(
    "definition, expected",
    [
        ({"envEnter": {"environmentId": "JOB:job-" + "c" * 32 + ":Setup"}},
         {"actionType": "envEnter", "environmentId": "JOB:job-" + "c" * 32 + ":Setup", "stepId": None}),
        ({"envExit": {"environmentId": "STEP:step-" + "e" * 32 + ":Render"}},
         {"actionType": "envExit", "environmentId": "STEP:step-" + "e" * 32 + ":Render", "taskId": None}),
        ({"taskRun": {"stepId": "step-" + "e" * 32, "taskId": "task-" + "e" * 32 + "-3", "parameters": {}}},
         {"actionType": "taskRun", "stepId": "step-" + "e" * 32, "taskId": "task-" + "e" * 32 + "-3",
          "parameters": {}, "parameterTypes": {}}),
        ({"taskRun": {"stepId": "step-" + "e" * 32, "parameters": {"Frames": {"chunkInt": "1-10"}}}},
         {"actionType": "taskRun", "taskId": None, "parameters": {"Frames": "1-10"},
          "parameterTypes": {"Frames": "chunkInt"}}),
        ({"syncInputJobAttachments": {"stepId": "step-" + "e" * 32}},
         {"actionType": "syncInputJobAttachments", "stepId": "step-" + "e" * 32}),
        ({"syncInputJobAttachments": {}},
         {"actionType": "syncInputJobAttachments", "stepId": None, "environmentId": None}),
        ({"SDK_UNKNOWN_MEMBER": {"name": "gpuWarmup"}},
         {"actionType": "gpuWarmup", "stepId": None, "taskId": None, "environmentId": None,
          "parameters": None}),
    ],
    ids=["envEnter", "envExit", "taskRun", "taskRun-chunked", "sync-step", "sync-job", "unknown-member"],
)
def test_every_union_member(definition, expected):
    record = normalise_session_action(base(definition), **IDS)
    for key, value in expected.items():
        assert record[key] == value, key


@pytest.mark.parametrize("status", sorted(KNOWN_STATUSES))
def test_every_known_status_is_classified(status):
    record = normalise_session_action(base({"envEnter": {"environmentId": "JOB:x:y"}}, status=status), **IDS)
    if status in COMPLETION_STATUSES:
        assert (record["outcome"], record["terminal"]) == ("completion", True)
    elif status in FAILURE_STATUSES:
        assert (record["outcome"], record["terminal"]) == ("failure", True)
    else:
        assert status in IN_PROGRESS_STATUSES
        assert (record["outcome"], record["terminal"]) == ("in_progress", False)


def test_status_sets_match_the_issue():
    assert FAILURE_STATUSES == {"FAILED", "INTERRUPTED", "CANCELED", "NEVER_ATTEMPTED", "RECLAIMED"}
    assert IN_PROGRESS_STATUSES == {"ASSIGNED", "RUNNING", "CANCELING", "SCHEDULED", "RECLAIMING"}
    assert COMPLETION_STATUSES == {"SUCCEEDED"}


def test_unknown_status_is_recorded_as_unknown_not_terminal():
    record = normalise_session_action(base({"envExit": {"environmentId": "JOB:x:y"}}, status="PAUSED"), **IDS)
    assert record["status"] == "PAUSED"
    assert record["outcome"] == "unknown" and record["terminal"] is False


def test_only_required_fields_gives_every_key_with_nulls():
    record = normalise_session_action(
        {"sessionActionId": "sessionaction-" + "1" * 32 + "-1", "status": "SCHEDULED",
         "sessionId": "session-" + "1" * 32, "definition": {"envEnter": {"environmentId": "JOB:a:b"}}},
        **IDS,
    )
    assert set(record) == set(RECORD_FIELDS)
    for key in ("startedAt", "endedAt", "workerUpdatedAt", "durationSeconds", "processExitCode",
                "progressPercent", "progressMessage", "manifests", "acquiredLimits", "parameters",
                "parameterTypes", "taskId", "stepId"):
        assert record[key] is None, key


def test_duration_needs_both_ends():
    started = datetime(2026, 1, 1, 10, 0, 0, tzinfo=timezone.utc)
    only_start = normalise_session_action(base({"envEnter": {"environmentId": "J:a:b"}}, startedAt=started), **IDS)
    assert only_start["durationSeconds"] is None and only_start["startedAt"] == "2026-01-01T10:00:00.000Z"
    both = normalise_session_action(
        base({"envEnter": {"environmentId": "J:a:b"}}, startedAt=started,
             endedAt=datetime(2026, 1, 1, 10, 1, 30, 500000, tzinfo=timezone.utc)), **IDS)
    assert both["durationSeconds"] == 90.5


def test_timestamps_are_converted_to_utc():
    from datetime import timedelta

    paris = timezone(timedelta(hours=1))
    record = normalise_session_action(
        base({"envEnter": {"environmentId": "J:a:b"}}, workerUpdatedAt=datetime(2026, 1, 1, 11, 0, tzinfo=paris)),
        **IDS)
    assert record["workerUpdatedAt"] == "2026-01-01T10:00:00.000Z"


@pytest.mark.parametrize(
    "member, wire, native",
    [("int", "42", 42), ("int", "-7", -7), ("float", "0.5", 0.5), ("float", "1e3", 1000.0),
     ("string", "hello", "hello"), ("path", "/mnt/a b/c.exr", "/mnt/a b/c.exr"),
     ("chunkInt", "1,3,7", "1,3,7"), ("chunkInt", "1-10", "1-10")],
)
def test_every_parameter_type(member, wire, native):
    record = normalise_session_action(
        base({"taskRun": {"stepId": "step-" + "e" * 32, "taskId": "task-" + "e" * 32 + "-1",
                          "parameters": {"P": {member: wire}}}}), **IDS)
    assert record["parameters"] == {"P": native}
    assert type(record["parameters"]["P"]) is type(native)
    assert record["parameterTypes"] == {"P": member}


def test_unknown_parameter_member_is_kept_by_name_with_no_value():
    record = normalise_session_action(
        base({"taskRun": {"stepId": "step-" + "e" * 32, "parameters": {"P": {"SDK_UNKNOWN_MEMBER": {"name": "bool"}}}}}),
        **IDS)
    assert record["parameterTypes"] == {"P": "bool"} and record["parameters"] == {"P": None}


def test_non_finite_float_parameter_keeps_its_wire_text():
    record = normalise_session_action(
        base({"taskRun": {"stepId": "step-" + "e" * 32, "parameters": {"P": {"float": "NaN"}}}}), **IDS)
    assert record["parameters"] == {"P": "NaN"}
    json.dumps(record, allow_nan=False)


def test_newer_fields_manifests_and_limits():
    record = normalise_session_action(
        base({"taskRun": {"stepId": "step-" + "e" * 32, "parameters": {}}},
             manifests=[{"outputManifestPath": "out/m.json", "outputManifestHash": "abc"}, {}],
             acquiredLimits=[{"limitId": "limit-1", "count": 2}]), **IDS)
    assert record["manifests"] == [{"outputManifestPath": "out/m.json", "outputManifestHash": "abc"},
                                   {"outputManifestPath": None, "outputManifestHash": None}]
    assert record["acquiredLimits"] == [{"limitId": "limit-1", "count": 2}]


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: r.pop("status"), "status"),
        (lambda r: r.update(status=5), "status"),
        (lambda r: r.pop("sessionActionId"), "sessionActionId"),
        (lambda r: r.pop("definition"), "definition"),
        (lambda r: r.update(definition={}), "definition"),
        (lambda r: r.update(definition={"envEnter": {"environmentId": "x"}, "envExit": {"environmentId": "y"}}),
         "definition"),
        (lambda r: r.update(definition={"taskRun": "oops"}), "definition.taskRun"),
        (lambda r: r.update(definition={"SDK_UNKNOWN_MEMBER": {}}), "definition.SDK_UNKNOWN_MEMBER.name"),
        (lambda r: r["definition"]["taskRun"]["parameters"].update(Frame={"int": "twelve"}),
         "definition.taskRun.parameters.Frame.int"),
        (lambda r: r["definition"]["taskRun"]["parameters"].update(Frame={"int": "1", "float": "2"}),
         "definition.taskRun.parameters.Frame"),
        (lambda r: r["definition"]["taskRun"]["parameters"].update(Frame="12"),
         "definition.taskRun.parameters.Frame"),
        (lambda r: r["definition"]["taskRun"].update(stepId=7), "definition.taskRun.stepId"),
        (lambda r: r.update(processExitCode="139"), "processExitCode"),
        (lambda r: r.update(processExitCode=True), "processExitCode"),
        (lambda r: r.update(progressPercent=float("inf")), "progressPercent"),
        (lambda r: r.update(startedAt="yesterday"), "startedAt"),
        (lambda r: r.update(endedAt=12), "endedAt"),
        (lambda r: r.update(manifests={}), "manifests"),
        (lambda r: r.update(acquiredLimits=[{"limitId": "l", "count": "2"}]), "acquiredLimits[0].count"),
    ],
)
def test_malformed_response_names_the_field(mutate, field):
    response = sample()
    mutate(response)
    with pytest.raises(MalformedSessionActionError) as raised:
        normalise_session_action(response, **IDS)
    assert raised.value.field == field
    assert str(raised.value).startswith(field + ":")


def test_normaliser_does_not_modify_its_input():
    response = sample()
    before = copy.deepcopy(response)
    normalise_session_action(response, **IDS)
    assert response == before


# --- the SDK model: an upgrade that adds a member, a parameter type or a status is noticed ----------


def _deadline_model():
    path = Path(botocore.__file__).parent / "data" / "deadline" / "2023-10-12" / "service-2.json.gz"
    return json.loads(gzip.decompress(path.read_bytes()))


def test_installed_botocore_model_holds_nothing_the_normaliser_does_not_handle():
    shapes = _deadline_model()["shapes"]
    assert set(shapes["SessionActionDefinition"]["members"]) == KNOWN_ACTION_TYPES
    assert set(shapes["TaskParameterValue"]["members"]) == KNOWN_PARAMETER_TYPES
    assert set(shapes["SessionActionStatus"]["enum"]) == KNOWN_STATUSES
    # Every output member of GetSessionAction reaches the record (or is the definition itself).
    output = shapes["GetSessionActionResponse"]["members"]
    handled = set(RECORD_FIELDS) | {"definition"}
    assert set(output) <= handled, set(output) - handled
    for member, target in (("envEnter", {"environmentId"}), ("envExit", {"environmentId"}),
                           ("taskRun", {"stepId", "taskId", "parameters"}),
                           ("syncInputJobAttachments", {"stepId"})):
        shape = shapes[shapes["SessionActionDefinition"]["members"][member]["shape"]]
        assert set(shape["members"]) <= target, (member, set(shape["members"]) - target)


# --- property-based: any response that fits the model normalises; the record is always complete ------

_hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
_text = st.text(max_size=60)
_param_value = st.one_of(
    st.integers(-(2**31), 2**31).map(lambda i: {"int": str(i)}),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: {"float": repr(f)}),
    _text.map(lambda s: {"string": s}),
    _text.map(lambda s: {"path": s}),
    st.sampled_from(["1-10", "1,3,7", "5"]).map(lambda s: {"chunkInt": s}),
    st.sampled_from(["bool", "range"]).map(lambda n: {"SDK_UNKNOWN_MEMBER": {"name": n}}),
)
_definition = st.one_of(
    st.builds(lambda e: {"envEnter": {"environmentId": e}}, _text),
    st.builds(lambda e: {"envExit": {"environmentId": e}}, _text),
    st.builds(
        lambda s, t, p: {"taskRun": {"stepId": "step-" + s, **({"taskId": t} if t else {}), "parameters": p}},
        _hex32, st.one_of(st.none(), _hex32.map(lambda h: f"task-{h}-1")),
        st.dictionaries(st.text(min_size=1, max_size=20), _param_value, max_size=5),
    ),
    st.builds(lambda s: {"syncInputJobAttachments": ({"stepId": s} if s else {})}, st.one_of(st.none(), _text)),
    st.builds(lambda n: {"SDK_UNKNOWN_MEMBER": {"name": n}}, st.text(min_size=1, max_size=30)),
)
_when = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)
_optional = {
    "startedAt": _when,
    "endedAt": _when,
    "workerUpdatedAt": _when,
    "progressPercent": st.floats(0, 100),
    "processExitCode": st.integers(-(2**31), 2**31 - 1),
    "progressMessage": st.text(max_size=200),
    "manifests": st.lists(st.fixed_dictionaries({}, optional={"outputManifestPath": _text, "outputManifestHash": _text}), max_size=3),
    "acquiredLimits": st.lists(st.fixed_dictionaries({"limitId": _text, "count": st.integers(0, 100)}), max_size=3),
}
_response = st.fixed_dictionaries(
    {
        "sessionActionId": _hex32.map(lambda h: f"sessionaction-{h}-0"),
        "sessionId": _hex32.map(lambda h: f"session-{h}"),
        "status": st.one_of(st.sampled_from(sorted(KNOWN_STATUSES)), st.text(min_size=1, max_size=20)),
        "definition": _definition,
    },
    optional=_optional,
)


@settings(max_examples=examples(300), deadline=None)
@given(_response)
def test_any_model_shaped_response_normalises_to_a_complete_json_safe_record(response):
    record = normalise_session_action(response, **IDS)
    assert list(record) == list(RECORD_FIELDS)
    assert record["sessionActionId"] == response["sessionActionId"]
    assert record["terminal"] == (record["outcome"] in ("completion", "failure"))
    assert (record["outcome"] == "unknown") == (response["status"] not in KNOWN_STATUSES)
    member = next(iter(response["definition"]))
    expected_type = response["definition"][member]["name"] if member == "SDK_UNKNOWN_MEMBER" else member
    assert record["actionType"] == expected_type
    if "startedAt" in response and "endedAt" in response:
        assert math.isclose(record["durationSeconds"],
                            (response["endedAt"] - response["startedAt"]).total_seconds(), abs_tol=0.001)
    else:
        assert record["durationSeconds"] is None
    json.loads(json.dumps(record, allow_nan=False))


def test_progress_message_beyond_the_model_limit_is_cut_with_a_mark():
    record = normalise_session_action(base({"envEnter": {"environmentId": "J:a:b"}}, progressMessage="x" * 150_000), **IDS)
    assert len(record["progressMessage"]) == 4096 and record["progressMessage"].endswith("\u2026")


@pytest.mark.parametrize("extra, field", [({"processExitCode": 2**31}, "processExitCode"),
                                          ({"progressPercent": 100.5}, "progressPercent")])
def test_numbers_outside_the_model_are_rejected(extra, field):
    with pytest.raises(MalformedSessionActionError) as raised:
        normalise_session_action(base({"envEnter": {"environmentId": "J:a:b"}}, **extra), **IDS)
    assert raised.value.field == field


@pytest.mark.parametrize("member, wire", [("float", "1e200"), ("float", "1e-200"), ("int", "1" * 40)])
def test_parameter_numbers_dynamodb_cannot_hold_keep_their_text(member, wire):
    record = normalise_session_action(
        base({"taskRun": {"stepId": "step-" + "e" * 32, "parameters": {"P": {member: wire}}}}), **IDS)
    assert record["parameters"] == {"P": wire} and record["parameterTypes"] == {"P": member}


# --- answers' timestamps without dateutil (adapters/clients.py uses parse_timestamp) -------------------


@pytest.mark.parametrize("text", ["2026-11-29T09:46:00Z", "2026-11-29T09:46:00.123Z", "2026-11-29T09:46:00.123456Z",
                                  "2026-11-29T09:46:00.5+02:00", "2026-11-29T09:46:00", 1796419131, 1796419131.25])
def test_parse_timestamp_reads_what_botocore_reads_the_same_way(text):
    from botocore.utils import parse_timestamp as botocore_parse

    from session_watch.domain.normalise import parse_timestamp

    ours, theirs = parse_timestamp(text), botocore_parse(text)
    assert ours == theirs and (ours.tzinfo is None) == (theirs.tzinfo is None)
    assert ours.utcoffset() == theirs.utcoffset()


def test_a_timestamp_parse_timestamp_cannot_read_goes_to_botocores_parser():
    from session_watch.adapters import clients

    with pytest.raises(ValueError):
        from session_watch.domain.normalise import parse_timestamp

        parse_timestamp("Sun, 29 Nov 2026 09:46:00 GMT")
    assert clients._timestamp("Sun, 29 Nov 2026 09:46:00 GMT").isoformat() == "2026-11-29T09:46:00+00:00"
