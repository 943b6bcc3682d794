"""Fixes for moto bugs that the tests meet, applied to the moto server the tests run in their own process
(``moto_endpoint`` in tests/conftest.py). Each is pinned by a test that runs unpatched moto and fails when
moto fixes it (tests/integration/test_moto_bugs.py): then the fix here can go.

* ``json-map-empty-key`` (moto 5.2.5): moto's JSON response serializer drops a map entry whose key is the
  empty string when the entry's value is a structure, and writes that structure's members into the map
  itself. A stored DynamoDB map ``{"": {"N": "0"}}`` (``{"M": {"": {"N": "0"}}}``, e.g. a Deadline task
  parameter named "" with the value 0) is answered as ``{"M": {"N": "0"}}``, which is not an AttributeValue:
  botocore's parser fails on it (``AttributeError: 'str' object has no attribute 'get'``) in GetItem, Scan,
  Query and ReturnValues alike. Cause: ``ResponseSerializer._serialize_type_structure`` tells "the top level"
  from "a named member" by ``if key:``, and a map's "" key is falsy. What DynamoDB answers: the API
  reference's AttributeValue (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html)
  has exactly one data-type member, and ``M`` is "String to AttributeValue object map" (map keys: maximum
  length 65535, no minimum in the API model, botocore's ``AttributeName`` shape has none either), so the
  entry comes back under its own key, as written.
  -> the JSON map serializer serializes an ""-keyed structure value under a placeholder key and stores the
  result under "".
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

_PLACEHOLDER = "\x00moto-fixes-empty-key\x00"


def _json_map_empty_key_guard() -> str:
    from moto.core import serialize

    cls = getattr(serialize, "BaseJSONSerializer", None)
    if cls is None or "_serialize_type_map" not in vars(cls):
        return "moto.core.serialize.BaseJSONSerializer._serialize_type_map is gone"
    return ""


def _json_map_empty_key() -> None:
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_map
    if getattr(original, "_moto_fixes", False):
        return  # applied already

    def _serialize_type_map(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if "" not in value or shape.value.type_name != "structure":
            return original(self, serialized, value, shape, key)
        rest = {k: v for k, v in value.items() if k != ""}
        original(self, serialized, rest, shape, key)
        map_obj = serialized[self.get_serialized_name(shape, key)] if key else serialized
        holder = self.MAP_TYPE()
        self._serialize(holder, value[""], shape.value, _PLACEHOLDER)
        if _PLACEHOLDER in holder:
            map_obj[""] = holder[_PLACEHOLDER]

    _serialize_type_map._moto_fixes = True  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_map = _serialize_type_map


_FIXES: Dict[str, Tuple[Callable[[], str], Callable[[], None]]] = {
    "json-map-empty-key": (_json_map_empty_key_guard, _json_map_empty_key),
}


def apply() -> List[str]:
    """Apply every fix whose guard passes (in this process); returns the names applied."""
    applied = []
    for name, (guard, fix) in _FIXES.items():
        if not guard():
            fix()
            applied.append(name)
    return applied
