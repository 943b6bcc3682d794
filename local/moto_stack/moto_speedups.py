"""Speed-ups for moto's server, applied inside its process (``moto_main.py``): the same answers in less time.

A 1,000-task burst against moto spends minutes in three places, each of them moto's bookkeeping rather than
anything the API answers depend on:

* SQS: every received or sent message recomputes the queue's attributes (the approximate message counts,
  each a pass over every message with a datetime-based clock per message): O(messages) per message.
  -> the clock the SQS models read is ``time.time()`` (the same epoch seconds, without datetime objects), and
  the retention check reads the queue's retention period instead of computing every attribute.
* SQS SendMessage reads the queue's ``ContentBasedDeduplication`` through ``Queue.attributes``, which works out
  every attribute, the three approximate message counts included (a pass over every message each): O(messages)
  per message. -> while a message is being sent, ``Queue.attributes`` answers that key from the queue itself and
  works out the others only if something asks for them (queues with an enabled Lambda event source mapping
  keep moto's way).
* DynamoDB UpdateItem: two validators re-run their whole-expression check at every nested node of the
  parsed expression (quadratic in the number of actions; an update of 40 attributes costs ~70 ms).
  -> the same checks run once, at the outermost UpdateExpression node, whose clauses include every nested one.
* DynamoDB UpdateItem parses the same update expression text again for every item (the function writes
  every record with the same expression). -> parsed once per distinct text (the tree is only read; moto
  validates and executes a deep copy of it).
* DynamoDB expressions: every AST processor rebuilds the tuple of node types it handles at every node.
  -> built once per processor.
* DynamoDB TransactWriteItems: before each of its (up to 100) operations moto deep-copies the whole table, to
  roll back if the transaction is cancelled (seconds per call once a table holds a few hundred items).
  -> the items the transaction names are copied once, and restored on cancellation; every other item is
  untouched by a transaction anyway. Tables with a stream keep moto's own way (stream records would differ).

* DynamoDB UpdateItem: each validation deep-copies the parsed expression (twice for a new item) through
  ``copy.deepcopy``'s generic reduce-and-reconstruct path. -> AST nodes copy themselves: a new node of the
  same class whose attributes are deep-copied with the same memo (what the generic path does, less work).
* EventBridge: every event sent to a target builds a new JSONPath parser (a PLY parser: tables and all) and
  parses the same input paths again. -> ``jsonpath_ng.ext.parse`` is memoised per path text (a parsed path is
  only read: ``find`` does not change it).

Each patch checks that moto still has the code it replaces and is skipped otherwise (``check`` lists
which apply); ``apply`` is called only in moto's server process.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Tuple

#: name -> what it changes (for people)
SPEEDUPS = {
    "sqs-clock": "SQS: the message clock is time.time() (same epoch time, no datetime objects per message)",
    "sqs-retention": "SQS: the retention check reads the queue's retention period, not every queue attribute",
    "sqs-send-attributes": "SQS SendMessage: the queue's ContentBasedDeduplication is read from the queue, without "
                           "working out every attribute (three counts over every message) for each message sent",
    "dynamodb-update-validators": "DynamoDB UpdateItem: whole-expression checks run once at the outermost node, "
                                  "not again at every nested node",
    "dynamodb-transactions": "DynamoDB TransactWriteItems: only the items the transaction names are copied for "
                             "its rollback, not the whole table before each operation",
    "dynamodb-traversal-cache": "DynamoDB expressions: each AST processor works out the node types it handles "
                                "once, not again at every node",
    "dynamodb-parse-cache": "DynamoDB UpdateItem: an update expression already parsed is not parsed again (the "
                            "parse tree is read-only; moto validates and executes a copy of it)",
    "dynamodb-ast-copy": "DynamoDB UpdateItem: the parsed expression's nodes copy themselves for each validation "
                         "(same copy, without copy.deepcopy's generic reduce-and-reconstruct path)",
    "events-jsonpath-cache": "EventBridge: a target's input path is parsed once per distinct path, not with a new "
                             "JSONPath parser for every event",
}


def check() -> Dict[str, str]:
    """name -> "" when the patch applies to this moto, else why it does not."""
    out = {}
    for name, (guard, _) in _PATCHES.items():
        try:
            problem = guard()
        except Exception as err:  # moto moved something: skip that patch
            problem = f"{type(err).__name__}: {err}"
        out[name] = problem or ""
    return out


def apply() -> List[str]:
    """Apply every patch whose guard passes; returns the names applied."""
    applied = []
    for name, problem in check().items():
        if not problem:
            _PATCHES[name][1]()
            applied.append(name)
    return applied


# --- SQS -------------------------------------------------------------------------------------------


def _sqs_clock_guard() -> str:
    from moto.sqs import models

    for name in ("unix_time", "unix_time_millis"):
        if not callable(getattr(models, name, None)):
            return f"moto.sqs.models.{name} is gone"
    return ""


def _sqs_clock() -> None:
    from moto.sqs import models

    slow_time, slow_millis = models.unix_time, models.unix_time_millis

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else slow_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else slow_millis(dt)

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis


def _sqs_retention_guard() -> str:
    from moto.sqs.models import SQSBackend

    if not hasattr(SQSBackend, "is_message_valid_based_on_retention_period"):
        return "SQSBackend.is_message_valid_based_on_retention_period is gone"
    return ""


def _sqs_retention() -> None:
    from moto.sqs import models

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
        return retain_until > models.unix_time()

    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


_sending = threading.local()
_CBD = "ContentBasedDeduplication"


def _sqs_send_guard() -> str:
    import inspect

    from moto.sqs.models import Queue, SQSBackend

    if not isinstance(Queue.__dict__.get("attributes"), property):
        return "Queue.attributes is no longer a property"
    if _CBD not in Queue.FIFO_ATTRIBUTES or _CBD in Queue.BASE_ATTRIBUTES or _CBD in Queue.KMS_ATTRIBUTES:
        return f"{_CBD} is no longer one of the FIFO attributes only"
    if f'queue.attributes.get("{_CBD}")' not in inspect.getsource(SQSBackend.send_message):
        return f"SQSBackend.send_message no longer reads {_CBD} from queue.attributes"
    return ""


class _SendPathAttributes(Mapping):  # type: ignore[type-arg]
    """``Queue.attributes`` while a message is sent: ContentBasedDeduplication as moto's property gives it, any
    other key from moto's property itself (worked out once, on first use)."""

    def __init__(self, queue: Any, full: Callable[[Any], Dict[str, Any]]) -> None:
        self._queue = queue
        self._full = full
        self._all: Any = None

    def _everything(self) -> Dict[str, Any]:
        if self._all is None:
            self._all = self._full(self._queue)
        return self._all

    def get(self, key: str, default: Any = None) -> Any:
        if key != _CBD:
            return self._everything().get(key, default)
        if not self._queue.fifo_queue:  # moto's property has the FIFO attributes for FIFO queues only
            return default
        from moto.core.utils import camelcase_to_underscores

        value = getattr(self._queue, camelcase_to_underscores(_CBD))
        return str(value).lower() if isinstance(value, bool) else value

    def __getitem__(self, key: str) -> Any:
        return self._everything()[key]

    def __iter__(self) -> Any:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())


def _sqs_send() -> None:
    from moto.sqs.models import Queue, SQSBackend

    full = Queue.__dict__["attributes"].fget
    send = SQSBackend.send_message

    def attributes(self: Any) -> Any:
        if getattr(_sending, "depth", 0) and not any(m.enabled for m in self.lambda_event_source_mappings.values()):
            return _SendPathAttributes(self, full)
        return full(self)

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(_sending, "depth", 0)
        _sending.depth = depth + 1
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.depth = depth

    Queue.attributes = property(attributes)
    SQSBackend.send_message = send_message


# --- DynamoDB UpdateItem -------------------------------------------------------------------------------


def _validators_guard() -> str:
    from moto.dynamodb.parsing import validators

    for name in ("ActionCountValidator", "OverlappingPathsValidator"):
        cls = getattr(validators, name, None)
        if cls is None or not hasattr(cls, "traverse") or not hasattr(cls, "process"):
            return f"moto.dynamodb.parsing.validators.{name} changed"
    return ""


def _validators() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node

    def outermost_only(self: Any, node: Any) -> Any:
        """Process the outermost matching nodes only (their checks cover every nested one)."""
        wanted = self.nodes_to_be_processed()
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, wanted):
                self.process(current)  # these validators raise or return the node unchanged
                continue
            stack.extend(child for child in (getattr(current, "children", None) or []) if isinstance(child, Node))
        return node

    validators.ActionCountValidator.traverse = outermost_only
    validators.OverlappingPathsValidator.traverse = outermost_only


def _traversal_guard() -> str:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    if not callable(getattr(DepthFirstTraverser, "nodes_to_be_processed", None)):
        return "DepthFirstTraverser.nodes_to_be_processed is gone"
    return ""


def _traversal_cache() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    computed = DepthFirstTraverser.nodes_to_be_processed

    def nodes_to_be_processed(self: Any) -> Any:
        cached = self.__dict__.get("_speedup_node_types")
        if cached is None:  # the processing map's keys are fixed per processor class
            cached = self.__dict__["_speedup_node_types"] = computed(self)
        return cached

    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed


def _parse_cache_guard() -> str:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    if not hasattr(UpdateExpressionParser.make, "__func__"):
        return "UpdateExpressionParser.make is no longer a classmethod"
    return ""


def _parse_cache() -> None:
    import functools

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    parse = UpdateExpressionParser.make.__func__
    UpdateExpressionParser.make = classmethod(functools.lru_cache(maxsize=512)(parse))


def _ast_copy_guard() -> str:
    from moto.dynamodb.parsing import ast_nodes, validators

    if getattr(validators, "deepcopy", None) is not copy.deepcopy:
        return "moto.dynamodb.parsing.validators no longer copies with copy.deepcopy"
    for name, cls in vars(ast_nodes).items():  # the generic path is what a class with none of these gets
        if isinstance(cls, type) and issubclass(cls, ast_nodes.Node):
            for special in ("__slots__", "__deepcopy__", "__reduce__", "__reduce_ex__", "__getstate__",
                            "__setstate__", "__copy__"):
                if special in vars(cls):
                    return f"moto.dynamodb.parsing.ast_nodes.{name} defines {special}"
    return ""


_ATOMIC = (type(None), bool, int, float, str, bytes)


def _ast_copy() -> None:
    from moto.dynamodb.parsing.ast_nodes import Node

    def __deepcopy__(self: Any, memo: Dict[int, Any]) -> Any:
        """What ``copy.deepcopy`` does for a plain object (a new instance of the class, its ``__dict__``
        deep-copied with the same memo, so parent links point into the copy), without its generic path."""
        cls = self.__class__
        new = cls.__new__(cls)
        memo[id(self)] = new
        state = new.__dict__
        for key, value in self.__dict__.items():
            state[key] = value if type(value) in _ATOMIC else copy.deepcopy(value, memo)
        return new

    Node.__deepcopy__ = __deepcopy__


# --- EventBridge -----------------------------------------------------------------------------------------


def _jsonpath_guard() -> str:
    import inspect

    from jsonpath_ng import ext
    from moto.events.utils import EventTemplateParser

    if not callable(getattr(ext, "parse", None)):
        return "jsonpath_ng.ext.parse is gone"
    if "from jsonpath_ng.ext import parse" not in inspect.getsource(EventTemplateParser.parse):
        return "EventTemplateParser.parse no longer uses jsonpath_ng.ext.parse"
    return ""


def _jsonpath_cache() -> None:
    import functools

    from jsonpath_ng import ext

    ext.parse = functools.lru_cache(maxsize=256)(ext.parse)


# --- DynamoDB TransactWriteItems ------------------------------------------------------------------------

_in_transaction = threading.local()


def _transactions_guard() -> str:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    if not hasattr(models.DynamoDBBackend, "transact_write_items"):
        return "DynamoDBBackend.transact_write_items is gone"
    if getattr(models, "copy", None) is not copy:
        return "moto.dynamodb.models no longer uses the copy module"
    for name in ("items", "hash_key_attr", "range_key_attr", "stream_shard"):
        if name not in Table.__init__.__code__.co_names:
            return f"Table.{name} is gone"
    return ""


class _CopyModule:
    """``copy`` as moto.dynamodb.models sees it: inside a transaction a Table is not deep-copied."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, *args: Any, **kwargs: Any) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_in_transaction, "active", False) and isinstance(value, Table):
            return value  # the rollback is done by the wrapper, from the touched items' own copies
        return copy.deepcopy(value, *args, **kwargs)


def _transactions() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.exceptions import (
        MockValidationException,
        MultipleTransactionsException,
        TransactionCanceledException,
    )
    from moto.dynamodb.models.dynamo_type import DynamoType

    original: Callable[..., Any] = models.DynamoDBBackend.transact_write_items
    models.copy = _CopyModule()

    def snapshot(self: Any, transact_items: List[Dict[str, Any]]) -> Any:
        touched: List[Tuple[Any, Any, Any, Any]] = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None or table.stream_shard is not None:
                return None
            key = op["Item"] if op_type == "Put" else op["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            touched.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        return touched

    def restore(touched: List[Tuple[Any, Any, Any, Any]]) -> None:
        for table, hash_value, range_value, item in reversed(touched):  # the first copy of a key wins
            if table.range_key_attr:
                if item is None:
                    if hash_value in table.items:
                        table.items[hash_value].pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = item
            elif item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item

    def transact_write_items(self: Any, transact_items: List[Dict[str, Any]]) -> None:
        try:
            touched = snapshot(self, transact_items) if len(transact_items) <= 100 else None
        except Exception:  # a malformed request: moto's own code answers it
            touched = None
        if touched is None:
            return original(self, transact_items)
        _in_transaction.active = True
        try:
            return original(self, transact_items)
        except (TransactionCanceledException, MultipleTransactionsException, MockValidationException):
            restore(touched)
            raise
        finally:
            _in_transaction.active = False

    models.DynamoDBBackend.transact_write_items = transact_write_items


_PATCHES: Dict[str, Tuple[Callable[[], str], Callable[[], None]]] = {
    "sqs-clock": (_sqs_clock_guard, _sqs_clock),
    "sqs-retention": (_sqs_retention_guard, _sqs_retention),
    "sqs-send-attributes": (_sqs_send_guard, _sqs_send),
    "dynamodb-update-validators": (_validators_guard, _validators),
    "dynamodb-transactions": (_transactions_guard, _transactions),
    "dynamodb-traversal-cache": (_traversal_guard, _traversal_cache),
    "dynamodb-parse-cache": (_parse_cache_guard, _parse_cache),
    "dynamodb-ast-copy": (_ast_copy_guard, _ast_copy),
    "events-jsonpath-cache": (_jsonpath_guard, _jsonpath_cache),
}
