"""Lazily created boto3 clients with botocore's standard retry mode.

Nothing here runs at import. Endpoints and regions come from the standard SDK settings
(``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_DISABLE_HOST_PREFIX_INJECTION``, ``AWS_REGION``), never from code.
"""

from __future__ import annotations

import threading
from typing import Any, Dict

_lock = threading.Lock()
_clients: Dict[str, Any] = {}


def _config():
    from botocore.config import Config

    from ..fanout import WIDTH

    return Config(
        retries={"mode": "standard", "total_max_attempts": 5},  # the first try and 4 retries
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
        # one connection per call the fan-out sends at once (``fanout.py``); botocore's default is 10
        max_pool_connections=WIDTH,
    )


def client(service: str) -> Any:
    """The shared client for ``service`` in this execution environment (created on first use)."""
    existing = _clients.get(service)
    if existing is not None:
        return existing
    with _lock:
        if service not in _clients:
            import boto3

            _clients[service] = boto3.session.Session().client(service, config=_config())
        return _clients[service]


def reset() -> None:
    """Forget every client (tests change endpoints between cases)."""
    with _lock:
        _clients.clear()


class LazyClient:
    """Stands in for ``client(service)`` and creates it on first use: an adapter built at cold start for
    a path that most invocations never take (the digest queue) costs nothing until it is used."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service), name)


def lazy(service: str) -> LazyClient:
    return LazyClient(service)
