"""moto bugs the tests work around (tests/support/moto_fixes.py), pinned: AWS's documentation is the contract.

Each ``test_moto_*`` runs *unpatched* moto (its own server process, as ``python -m moto.server`` starts it)
and asserts the wrong answer moto gives today: it fails as soon as moto answers as DynamoDB does, and then
the fix in tests/support/moto_fixes.py can go. The other tests check the fixed moto the suite runs against.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any, Dict

import boto3
import pytest
import requests

from local.moto_stack import MotoServer
from session_watch.adapters.record_store import RecordStore
from tests.support.aws import REGION

MOTO_VERSION = version("moto")
TABLE = "moto-bugs"
#: A map whose only key is the empty string, as TypeSerializer writes {"": 0}.
EMPTY_KEY_MAP = {"M": {"": {"N": "0"}}}


def _table(dynamodb: Any) -> None:
    dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])


def _raw_get_item(endpoint: str, key: str) -> Dict[str, Any]:
    """GetItem's JSON as moto sends it (botocore's parser cannot read the buggy answer)."""
    headers = {"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0",
               "Authorization": f"AWS4-HMAC-SHA256 Credential=x/20260101/{REGION}/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=x"}
    body = json.dumps({"TableName": TABLE, "Key": {"k": {"S": key}}})
    return requests.post(endpoint, data=body, headers=headers, timeout=10).json()


@pytest.mark.slow
def test_moto_answers_a_map_with_an_empty_key_as_a_broken_attribute_value():
    """moto 5.2.5: a stored ``{"M": {"": {"N": "0"}}}`` comes back as ``{"M": {"N": "0"}}`` (the entry's key
    dropped, its value's members written into the map), from PutItem and UpdateItem alike.

    DynamoDB: an AttributeValue has exactly one data-type member and ``M`` maps strings to AttributeValues
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html), so GetItem
    answers the map as written. This is what broke ``test_fuzz_deadline_answers_through_the_handler`` (issue
    12): a task parameter named "" stored as ``parameters: {"": 0}``, ``parameterTypes: {"": "int"}``."""
    with MotoServer(log_path=None, speedups=False) as moto:  # plain `python -m moto.server`: no fixes
        dynamodb = boto3.client("dynamodb", endpoint_url=moto.endpoint, region_name=REGION)
        _table(dynamodb)
        dynamodb.put_item(TableName=TABLE, Item={"k": {"S": "put"}, "a": EMPTY_KEY_MAP})
        dynamodb.update_item(TableName=TABLE, Key={"k": {"S": "update"}}, UpdateExpression="SET a = :v",
                             ExpressionAttributeValues={":v": EMPTY_KEY_MAP})
        answers = {key: _raw_get_item(moto.endpoint, key)["Item"]["a"] for key in ("put", "update")}
        with pytest.raises(AttributeError):  # what the fuzz test met: botocore cannot parse the answer
            dynamodb.get_item(TableName=TABLE, Key={"k": {"S": "put"}})
    broken = {"M": {"N": "0"}}
    assert answers == {"put": broken, "update": broken}, (
        f"moto {MOTO_VERSION} answers a map with an empty key as DynamoDB does now: {answers}. "
        "Remove 'json-map-empty-key' from tests/support/moto_fixes.py and this test.")


def test_fixed_moto_answers_a_map_with_an_empty_key_as_written(moto_endpoint):
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    _table(dynamodb)
    nested = {"M": {"": {"M": {"": {"S": "x"}, "N": {"N": "1"}}}, "Frame": {"N": "7"}}}
    dynamodb.put_item(TableName=TABLE, Item={"k": {"S": "put"}, "a": EMPTY_KEY_MAP, "b": nested})
    dynamodb.update_item(TableName=TABLE, Key={"k": {"S": "update"}}, UpdateExpression="SET a = :a, b = :b",
                         ExpressionAttributeValues={":a": EMPTY_KEY_MAP, ":b": nested}, ReturnValues="ALL_NEW")
    for key in ("put", "update"):
        item = dynamodb.get_item(TableName=TABLE, Key={"k": {"S": key}})["Item"]
        assert item["a"] == EMPTY_KEY_MAP and item["b"] == nested
    assert {i["k"]["S"]: i["a"] for i in dynamodb.scan(TableName=TABLE)["Items"]} == {"put": EMPTY_KEY_MAP,
                                                                                        "update": EMPTY_KEY_MAP}


def test_a_parameter_named_empty_is_stored_and_read_back(local_aws):
    """The record store round-trips the parameter the fuzzer found (through the fixed moto)."""
    store = RecordStore(local_aws.client("dynamodb"), local_aws.table_name)
    record = {"farmId": "farm-" + "a" * 32, "queueId": "queue-" + "b" * 32, "jobId": "job-" + "c" * 32,
              "sessionActionId": "sessionaction-" + "d" * 32 + "-0", "status": "RUNNING", "outcome": "in_progress",
              "terminal": False, "parameters": {"": 0, "Frame": 7}, "parameterTypes": {"": "int", "Frame": "int"}}
    store.save(record, claim_notification=False, now=0.0, lease_until=0.0, expires_at=1,
               recorded_at="2026-01-01T00:00:00Z")
    stored = store.get(record["jobId"], record["sessionActionId"])
    assert stored["parameters"] == {"": 0, "Frame": 7}
    assert stored["parameterTypes"] == {"": "int", "Frame": "int"}
    assert local_aws.item(record["jobId"], record["sessionActionId"])["parameters"] == {
        "M": {"": {"N": "0"}, "Frame": {"N": "7"}}}
