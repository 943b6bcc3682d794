"""Lazily created boto3 clients with botocore's standard retry mode.

Nothing here runs at import. Endpoints and regions come from the standard SDK settings
(``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_DISABLE_HOST_PREFIX_INJECTION``, ``AWS_REGION``), never from code.
"""

from __future__ import annotations

import threading
from typing import Any, Dict

_lock = threading.Lock()
_clients: Dict[str, Any] = {}
_boto3_session: Any = None

#: botocore validates every request against the API model before sending it. The function's requests are
#: its own, built by the adapters and checked against the botocore model in the tests
#: (``tests/integration/test_request_shapes.py``), so validating them again on every call is work without
#: a purpose (measured in ``benchmarks/warm_cost.py``). A variant of the benchmark turns it back on.
VALIDATE_PARAMETERS = False
#: Timestamps of answers parsed with ``domain.normalise.parse_timestamp`` rather than dateutil.
FAST_TIMESTAMPS = True


def _config():
    from botocore.config import Config

    from ..fanout import WIDTH

    return Config(
        retries={"mode": "standard", "total_max_attempts": 5},  # the first try and 4 retries
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
        parameter_validation=VALIDATE_PARAMETERS,
        # one connection per call the fan-out sends at once (``fanout.py``); botocore's default is 10
        max_pool_connections=WIDTH,
    )


def _timestamp(value: Any) -> Any:
    """botocore's timestamp parser for answers: ``parse_timestamp`` (no dateutil); botocore's own for
    whatever that does not read (the same result, only slower)."""
    from ..domain.normalise import parse_timestamp

    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError, OSError):
        from botocore.utils import parse_timestamp as botocore_parse

        return botocore_parse(value)


def client(service: str) -> Any:
    """The shared client for ``service`` in this execution environment (created on first use)."""
    existing = _clients.get(service)
    if existing is not None:
        return existing
    with _lock:
        if service not in _clients:
            _clients[service] = _session().client(service, config=_config())
        return _clients[service]


def _session() -> Any:
    """The one boto3 session of the execution environment (call with ``_lock`` held: a session is not
    thread-safe while it makes clients; the clients are). One session for every client: each botocore
    session loads its own endpoints, partitions and defaults, about 8 MB a client (measured in
    ``benchmarks/batch_cost.py``, peak memory)."""
    global _boto3_session
    if _boto3_session is None:
        import boto3
        import botocore.session

        core = botocore.session.get_session()
        if FAST_TIMESTAMPS:
            core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_timestamp)
        _boto3_session = boto3.session.Session(botocore_session=core)
    return _boto3_session


def reset() -> None:
    """Forget every client (tests change endpoints between cases)."""
    global _boto3_session
    with _lock:
        _clients.clear()
        _boto3_session = None


class LazyClient:
    """Stands in for ``client(service)`` and creates it on first use: an adapter built at cold start for
    a path that most invocations never take (the digest queue) costs nothing until it is used."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service), name)


def lazy(service: str) -> LazyClient:
    return LazyClient(service)
