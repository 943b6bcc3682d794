"""``python -m benchmarks.moto_server HOST PORT``: moto's server, as ``python -m moto.server -H HOST -p PORT``,
with one guarantee of DynamoDB restored, three caches and two shortcuts that change no answer (used by the
benchmarks only; the tests run moto unmodified, and never write one item concurrently).

0. Atomic conditional writes. DynamoDB applies a conditional write to an item atomically: of two concurrent
   ``UpdateItem`` calls whose conditions exclude each other, one fails. moto's server handles requests in
   threads and evaluates the condition, then validates the update expression (milliseconds), then writes,
   with nothing held in between, so two concurrent writers can both pass the condition (measured: 7 of 30
   rounds of 6 concurrent claims of one item had two winners). The function's exactly-once publishing
   rests on that guarantee, and the burst benchmark runs several function processes at once, so DynamoDB's
   item writes are serialised here with one lock (moto is CPU-bound on one core anyway).

moto's server is CPU-bound, and the burst benchmarks send it tens of thousands of requests. Profiled on
the function's requests (``UpdateItem`` with a 30-clause update expression, ``Publish``), three pieces of
its work are the same for every request and are done once here (a fourth piece of work is avoided, below):

1. the dispatcher, for every request whose ``Host`` names no AWS service (all of them: clients reach
   ``127.0.0.1:<port>``), lists moto's package directory and ``stat``s its ~180 sub-packages
   (``moto.backends.list_of_moto_modules``), twice: ~3.5 ms of CPU a request. The listing is taken once.
2. ``UpdateExpressionParser.make(expression)`` parses the update expression twice a request. Its result
   depends only on the expression's text, and moto never changes the tree it returns (the validator
   deep-copies it before working on it; the request handler only reads it), so parses are cached by
   text (a failed parse raises every time, as before).
3. Two of the update expression validator's ten passes, ``ActionCountValidator`` (at most one SET, REMOVE,
   ADD clause) and ``OverlappingPathsValidator`` (no attribute updated twice), look only at the
   expression's structure and the attribute names, never at values or the stored item, and their cost
   grows with the square of the number of clauses (~15 ms for the function's first UpdateItem). They run
   as before the first time an expression (with its names) is seen; once it has passed them it is not
   checked by them again. The other eight passes run on every request.

4. ``TransactWriteItems`` (the batch path marks up to 100 published records in one) keeps a copy for its
   rollback: moto deep-copies the *whole table* once per action of the transaction (100 copies of a table of
   thousands of items for one request: ~10-20 s of CPU, measured on the batch burst). Here the items the
   actions name are copied instead, once, before moto's own code runs (with its table copy skipped), and
   put back if the transaction fails, as moto's rollback would; the answers are moto's.
5. ``Query`` starts from ``Table.all_items()``, which sorts the whole table by its keys on every call (with
   moto's slow key comparisons: ~70 ms of a ~90 ms GSI query on a table of 5,000 items; a digest flush makes 8
   such queries). ``query`` then sorts the items it keeps by the index's keys and the table's keys (a total
   order), so the order it started from cannot change its answer: inside ``query`` (only there: ``scan``
   pages in that order) the items are taken unsorted.

Everything else (routing, the service backends, condition evaluation, the item updates) is moto's own code.
"""

from __future__ import annotations

import copy
import functools
import sys
import threading

import moto.backends
import moto.dynamodb.models as _dynamodb_models
import moto.dynamodb.responses as _dynamodb_responses
from moto.dynamodb.parsing import validators as _validators
from moto.dynamodb.parsing.expressions import UpdateExpressionParser as _UpdateExpressionParser
from moto.server import main

# 4. TransactWriteItems: a rollback copy of the items it names, not of whole tables (patched before 0 wraps it).
_Table = _dynamodb_models.Table
_DynamoType = _dynamodb_models.DynamoType


class _NoTableCopy:
    """The ``copy`` module as ``moto.dynamodb.models`` sees it: deep copies of a whole table (made only by
    ``transact_write_items``, for its rollback) return the table itself; every other copy is made."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, _Table) else copy.deepcopy(value, memo)


_dynamodb_models.copy = _NoTableCopy()
_transact_write_items = _dynamodb_models.DynamoDBBackend.transact_write_items


def _item_key(table, op):
    key = op["Key"] if "Key" in op else {
        name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name}
    range_key = _DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return _DynamoType(key[table.hash_key_attr]), range_key


def _transact_with_item_rollback(self, transact_items, *args, **kwargs):
    backups = []
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            hash_key, range_key = _item_key(table, op)
            backups.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        except Exception:  # a malformed action: moto rejects it before writing it
            continue
    try:
        return _transact_write_items(self, transact_items, *args, **kwargs)
    except Exception:
        for table, hash_key, range_key, item in reversed(backups):  # the first copy of a key is put back last
            if item is None:
                table.delete_item(hash_key, range_key)
            elif range_key is not None:
                table.items[hash_key][range_key] = item
            else:
                table.items[hash_key] = item
        raise


_dynamodb_models.DynamoDBBackend.transact_write_items = _transact_with_item_rollback

# 5. Query: the table's items unsorted (query sorts what it keeps by a total order of its own).
_in_query = threading.local()
_all_items = _Table.all_items
_query = _Table.query


def _items(self):
    if not getattr(_in_query, "active", False):
        return _all_items(self)
    if self.range_key_attr:
        return [item for hash_set in self.items.values() for item in hash_set.values()]
    return list(self.items.values())


def _unsorted_query(self, *args, **kwargs):
    _in_query.active = True
    try:
        return _query(self, *args, **kwargs)
    finally:
        _in_query.active = False


_Table.all_items = _items
_Table.query = _unsorted_query

# 0. DynamoDB's item writes, one at a time (DynamoDB's per-item atomicity of conditional writes).
_write_lock = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with _write_lock:
            return method(self, *args, **kwargs)

    return locked


for _name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
    setattr(_dynamodb_models.DynamoDBBackend, _name, _serialised(getattr(_dynamodb_models.DynamoDBBackend, _name)))

# 1. moto's own sub-packages, listed once.
_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: iter(_MODULES)


# 2. update expressions parsed once per text.
class _CachedUpdateExpressionParser:
    make = staticmethod(functools.lru_cache(maxsize=1024)(_UpdateExpressionParser.make))


_dynamodb_models.UpdateExpressionParser = _CachedUpdateExpressionParser
_dynamodb_responses.UpdateExpressionParser = _CachedUpdateExpressionParser

# 3. the structural checks of an update expression made once per (expression, attribute names).
_STRUCTURAL = (_validators.ActionCountValidator, _validators.OverlappingPathsValidator)
_passed: set = set()
_validator_init = _validators.Validator.__init__


def _init(self, expression, expression_attribute_names, *args, **kwargs):
    _validator_init(self, expression, expression_attribute_names, *args, **kwargs)
    # ``expression`` is the cached parse (kept alive by the cache), so its id names the expression text.
    self._structure_key = (id(expression), tuple(sorted((expression_attribute_names or {}).items())))


def _validate(self):
    key = self._structure_key
    seen = key in _passed
    node = self.node_to_validate
    for processor in self.processors:
        if seen and isinstance(processor, _STRUCTURAL):
            continue
        node = processor.traverse(node)
    _passed.add(key)  # reached only when every pass accepted the expression
    return node


_validators.Validator.__init__ = _init
_validators.Validator.validate = _validate

if __name__ == "__main__":
    host, port = sys.argv[1], sys.argv[2]
    main(["-H", host, "-p", port])
