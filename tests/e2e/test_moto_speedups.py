"""The moto speed-ups (local/moto_stack/moto_speedups.py) change how long moto takes, not what it answers:
the same requests against moto's server with and without them give the same results, errors included."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, List

import pytest
from botocore.exceptions import ClientError

from local.moto_stack import MotoServer
from local.moto_stack import moto_speedups

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def servers():
    with MotoServer(log_path=None, speedups=True) as fast, MotoServer(log_path=None, speedups=False) as plain:
        yield fast, plain


def test_every_speedup_applies_to_this_moto():
    assert moto_speedups.check() == {name: "" for name in moto_speedups.SPEEDUPS}


def _both(servers, scenario: Callable[[MotoServer], Any]) -> Any:
    fast, plain = servers
    expected = scenario(plain)
    assert scenario(fast) == expected
    return expected


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        result = call()
    except ClientError as err:
        return ("error", err.response["Error"]["Code"], err.response["Error"].get("Message"),
                err.response.get("CancellationReasons"))
    result = dict(result)
    result.pop("ResponseMetadata", None)
    return ("ok", result)


def _table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
    )


def _items(ddb: Any, name: str) -> List[Dict[str, Any]]:
    return sorted(ddb.scan(TableName=name, ConsistentRead=True)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_update_expressions_are_validated_and_applied_alike(servers):
    def scenario(moto: MotoServer):
        ddb = moto.client("dynamodb")
        _table(ddb, "updates")
        key = {"pk": {"S": "job"}, "sk": {"S": "a"}}
        values = {f":v{i}": {"S": f"value {i}"} for i in range(40)}
        big = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(40))
        names = {f"#a{i}": f"attr{i}" for i in range(40)}
        out = [_outcome(lambda: ddb.update_item(TableName="updates", Key=key, UpdateExpression=big,
                                                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                                                ConditionExpression="attribute_not_exists(pk)", ReturnValues="ALL_NEW"))]
        out.append(_outcome(lambda: ddb.update_item(  # the same text again (parsed once with the speed-up)
            TableName="updates", Key=key, UpdateExpression=big, ExpressionAttributeNames=names,
            ExpressionAttributeValues=dict(values, **{":v3": {"S": "changed"}}), ReturnValues="UPDATED_NEW")))
        out.append(_outcome(lambda: ddb.update_item(  # the condition fails the second time
            TableName="updates", Key=key, UpdateExpression=big, ExpressionAttributeNames=names,
            ExpressionAttributeValues=values, ConditionExpression="attribute_not_exists(pk)")))
        for bad in ("SET a = :v1 SET b = :v2", "SET a = :v1, a = :v2", "SET a = :v1 REMOVE b REMOVE c",
                    "SET a.b = :v1, a = :v2", "SET pk = :v1", "SET a = :nope"):
            out.append(_outcome(lambda: ddb.update_item(TableName="updates", Key=key, UpdateExpression=bad,
                                                        ExpressionAttributeValues={":v1": {"S": "1"}, ":v2": {"S": "2"}})))
        out.append(_items(ddb, "updates"))
        return out

    results = _both(servers, scenario)
    assert results[0][0] == "ok" and results[2][1] == "ConditionalCheckFailedException"
    assert all(r[0] == "error" and r[1] == "ValidationException" for r in results[3:9]), results[3:9]


def test_a_cancelled_transaction_leaves_every_item_as_it_was(servers):
    def scenario(moto: MotoServer):
        ddb = moto.client("dynamodb")
        _table(ddb, "tx")
        for sk in ("keep", "update-me", "delete-me"):
            ddb.put_item(TableName="tx", Item={"pk": {"S": "job"}, "sk": {"S": sk}, "g": {"S": "x"}, "n": {"N": "1"}})
        before = _items(ddb, "tx")
        ops = [
            {"Put": {"TableName": "tx", "Item": {"pk": {"S": "job"}, "sk": {"S": "new"}, "g": {"S": "y"}}}},
            {"Update": {"TableName": "tx", "Key": {"pk": {"S": "job"}, "sk": {"S": "update-me"}},
                        "UpdateExpression": "SET n = :two, g = :z", "ExpressionAttributeValues": {":two": {"N": "2"},
                                                                                                 ":z": {"S": "z"}}}},
            {"Delete": {"TableName": "tx", "Key": {"pk": {"S": "job"}, "sk": {"S": "delete-me"}}}},
            {"ConditionCheck": {"TableName": "tx", "Key": {"pk": {"S": "job"}, "sk": {"S": "keep"}},
                                "ConditionExpression": "n = :nine", "ExpressionAttributeValues": {":nine": {"N": "9"}}}},
        ]
        cancelled = _outcome(lambda: ddb.transact_write_items(TransactItems=ops))
        after_cancel = _items(ddb, "tx")
        twice = _outcome(lambda: ddb.transact_write_items(TransactItems=ops[:2] + [ops[1]]))
        after_twice = _items(ddb, "tx")
        committed = _outcome(lambda: ddb.transact_write_items(TransactItems=ops[:3]))
        gsi = ddb.query(TableName="tx", IndexName="byG", KeyConditionExpression="g = :z",
                        ExpressionAttributeValues={":z": {"S": "z"}})["Items"]
        return [before == after_cancel, before == after_twice, cancelled, twice, committed, _items(ddb, "tx"), gsi]

    same_after_cancel, same_after_twice, cancelled, twice, committed, final, gsi = _both(servers, scenario)
    assert same_after_cancel and same_after_twice
    assert cancelled[1] == "TransactionCanceledException"
    assert twice[0] == "error" and committed[0] == "ok"
    assert [i["sk"]["S"] for i in final] == ["keep", "new", "update-me"] and len(gsi) == 1


def test_sqs_counts_delays_and_redrive_alike(servers):
    def scenario(moto: MotoServer):
        sqs = moto.client("sqs")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30", "RedrivePolicy": redrive})["QueueUrl"]
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(5)])
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)

        def counts(u: str) -> Dict[str, str]:
            attrs = sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"]
            return {k: v for k, v in attrs.items() if k.startswith("ApproximateNumber")}

        seen = [counts(url)]
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, AttributeNames=["All"])["Messages"]
        seen.append((len(got), sorted(m["Body"] for m in got), [m["Attributes"]["ApproximateReceiveCount"] for m in got]))
        seen.append(counts(url))
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
        time.sleep(1.1)
        rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        seen.append(sorted(m["Body"] for m in rest))
        seen.append(counts(url))
        seen.append(counts(dlq))
        return seen

    seen = _both(servers, scenario)
    assert seen[0] == {"ApproximateNumberOfMessages": "5", "ApproximateNumberOfMessagesDelayed": "1",
                       "ApproximateNumberOfMessagesNotVisible": "0"}
    assert seen[1][0] == 3
    assert "later" in seen[3] and seen[5]["ApproximateNumberOfMessages"] == "1", "received once, then redriven"


def test_events_reach_queue_targets_alike_with_and_without_an_input_transformer(servers):
    """The same events through rules with SQS targets (the default input, an InputPath and an InputTransformer,
    each path parsed once with the speed-up) give the same message bodies."""

    def scenario(moto: MotoServer):
        sqs, events = moto.client("sqs"), moto.client("events")
        out = []
        targets = [{}, {"InputPath": "$.detail"},
                   {"InputTransformer": {"InputPathsMap": {"status": "$.detail.status", "n": "$.detail.n"},
                                         "InputTemplate": '{"status": "<status>", "n": <n>}'}}]
        for i, extra in enumerate(targets):
            url = sqs.create_queue(QueueName=f"target-{i}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=f"rule-{i}", EventPattern=json.dumps({"source": ["test.speedups"]}))
            events.put_targets(Rule=f"rule-{i}", Targets=[dict({"Id": "q", "Arn": arn}, **extra)])
            out.append(url)
        for n in range(3):  # the same paths, three times
            events.put_events(Entries=[{"Source": "test.speedups", "DetailType": "Speed-up check",
                                        "Detail": json.dumps({"status": "FAILED", "n": n})}])
        bodies = []
        for url in out:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            bodies.append(sorted(_comparable(json.loads(m["Body"])) for m in messages))
        return bodies

    default, detail, transformed = _both(servers, scenario)
    assert len(default) == len(detail) == len(transformed) == 3
    assert [json.loads(b)["detail"] for b in default] == [{"status": "FAILED", "n": n} for n in range(3)]
    assert [json.loads(b) for b in transformed] == [{"status": "FAILED", "n": n} for n in range(3)]


def _comparable(body: Any) -> str:
    """A message body without what differs between any two servers (event ids, times, accounts)."""
    if isinstance(body, dict) and "detail" in body:
        body = {k: v for k, v in body.items() if k not in ("id", "time", "account", "ingestion-time")}
    return json.dumps(body, sort_keys=True)


def test_the_cloudformation_types_kept_under_build_are_motos_own(tmp_path, monkeypatch):
    """deploy.moto_cloudformation_types keeps moto's registry in a file keyed by the installed moto, so that a
    demo process need not import every moto model; what it reads back is what moto says, and a torn file is
    worked out again rather than served."""
    from local.moto_stack import deploy

    monkeypatch.setattr(deploy, "TYPES_CACHE_DIR", tmp_path)
    deploy.moto_cloudformation_types.cache_clear()
    try:
        first = deploy.moto_cloudformation_types()
        [kept] = tmp_path.glob("*.json")
        assert kept.stem == deploy._moto_types_key()
        deploy.moto_cloudformation_types.cache_clear()
        assert deploy.moto_cloudformation_types() == first == deploy.moto_cloudformation_types_uncached()
        assert "AWS::Lambda::Function" in first and "AWS::CloudWatch::Alarm" not in first
        kept.write_text('["AWS::Lambda::Func')
        deploy.moto_cloudformation_types.cache_clear()
        assert deploy.moto_cloudformation_types() == first
        assert json.loads(kept.read_text()) == sorted(first), "and written whole again"
    finally:
        deploy.moto_cloudformation_types.cache_clear()


def test_sqs_sends_to_fifo_and_standard_queues_alike(servers):
    """SendMessage reads ContentBasedDeduplication (the speed-up answers it without working out every
    attribute): deduplication by content, the errors of a FIFO queue without it, standard queues, batches."""

    def scenario(moto: MotoServer):
        sqs = moto.client("sqs")
        by_content = sqs.create_queue(QueueName="c.fifo", Attributes={"FifoQueue": "true",
                                                                      "ContentBasedDeduplication": "true"})["QueueUrl"]
        by_id = sqs.create_queue(QueueName="i.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        standard = sqs.create_queue(QueueName="s")["QueueUrl"]
        out = []
        for body in ("same", "same", "other"):
            out.append(_outcome(lambda: {"sent": bool(sqs.send_message(QueueUrl=by_content, MessageBody=body,
                                                                        MessageGroupId="g")["MessageId"])}))
        out.append(_outcome(lambda: sqs.send_message(QueueUrl=by_id, MessageBody="x")))
        out.append(_outcome(lambda: sqs.send_message(QueueUrl=by_id, MessageBody="x", MessageGroupId="g")))
        out.append(_outcome(lambda: {"sent": bool(sqs.send_message(
            QueueUrl=by_id, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")["MessageId"])}))
        batch = sqs.send_message_batch(QueueUrl=standard, Entries=[{"Id": str(i), "MessageBody": f"m{i}"}
                                                                   for i in range(3)])
        out.append(sorted(e["Id"] for e in batch["Successful"]))
        for url in (by_content, by_id, standard):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            out.append({k: v for k, v in attrs.items() if not k.endswith("Timestamp") and k != "QueueArn"})
            out.append(sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                              .get("Messages", [])))
        return out

    out = _both(servers, scenario)
    assert out[3][0] == "error" and out[4][0] == "error", "no group id; no deduplication id"
    assert out[8] == ["other", "same"], "the second 'same' was deduplicated by its content"
    assert out[10] == ["x"] and out[12] == ["m0", "m1", "m2"]
