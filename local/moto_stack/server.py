"""moto's server as a child process on 127.0.0.1 and a free port, always stopped.

``with MotoServer(account_id=..., region=...) as moto:`` starts ``python -m moto.server -H 127.0.0.1 -p
<port>`` and waits until it answers; leaving the block (normally, by an exception or by Ctrl-C) stops it
(SIGTERM, then SIGKILL after a grace period). An ``atexit`` hook stops it when the interpreter exits without
leaving the block, and on Linux the child also gets SIGTERM from the kernel if this process dies
(``PR_SET_PDEATHSIG``), so not even ``kill -9`` of the demo leaves a server behind.

The child runs in its own session (Ctrl-C in the terminal reaches only the demo, which then stops the
server in order) with fake credentials, ``MOTO_ACCOUNT_ID`` (every request lands in that account) and
``MOTO_PORT`` (moto's Step Functions interpreter calls back into its own server on that port).

By default the child is ``moto_main.py``: moto's server with the speed-ups of ``moto_speedups.py`` (same
answers, less time: SQS's per-message clock, DynamoDB's update-expression checks and transaction rollback
copies); ``speedups=False`` runs plain ``python -m moto.server``. ``speedups`` lists what applies.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..offline_aws import FAKE_CREDENTIALS  # noqa: F401  (re-exported for moto_stack.runtime)


_SESSION_LOCK = threading.Lock()


class MotoServerError(RuntimeError):
    """moto's server did not start or did not answer as expected."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: ask the kernel to send SIGTERM to this child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except Exception:
        pass


class MotoServer:
    """A ``moto_server`` child process. ``endpoint`` is ``http://127.0.0.1:<port>`` once started."""

    def __init__(
        self,
        *,
        account_id: str = "123456789012",
        region: str = "us-west-2",
        host: str = "127.0.0.1",
        log_path: Optional[Path] = None,
        startup_timeout: float = 60.0,
        speedups: bool = True,
    ) -> None:
        self.use_speedups = speedups
        self.account_id = account_id
        self.region = region
        self.host = host
        self.log_path = Path(log_path) if log_path else None
        self.startup_timeout = startup_timeout
        self.port: Optional[int] = None
        self.process: Optional[subprocess.Popen] = None
        self.startup_seconds: Optional[float] = None
        self._log_file: Any = None
        self._atexit_registered = False
        self._session: Any = None  # boto3 session shared by this server's clients (created on first use)

    @property
    def speedups(self) -> Dict[str, str]:
        """Speed-up name -> what it changes, for those that apply to this moto (none when turned off)."""
        if not self.use_speedups:
            return {}
        from . import moto_speedups

        return {name: moto_speedups.SPEEDUPS[name] for name, problem in moto_speedups.check().items() if not problem}

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise MotoServerError("moto's server is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "MotoServer":
        if self.running:
            return self
        started = time.monotonic()
        errors: List[str] = []
        for _attempt in range(3):  # another process may take the free port between probe and bind
            port = free_port(self.host)
            self._spawn(port)
            try:
                self._wait_until_ready(started)
            except MotoServerError as err:
                errors.append(str(err))
                self.stop()
                continue
            self.startup_seconds = time.monotonic() - started
            return self
        raise MotoServerError("moto's server did not start: " + "; ".join(errors) + self._log_tail())

    def _spawn(self, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        env.update(FAKE_CREDENTIALS)
        env.update(
            AWS_DEFAULT_REGION=self.region,
            AWS_REGION=self.region,
            AWS_ENDPOINT_URL=f"http://{self.host}:{port}",  # anything moto itself calls stays local
            AWS_EC2_METADATA_DISABLED="true",
            MOTO_ACCOUNT_ID=self.account_id,
            MOTO_PORT=str(port),
            PYTHONUNBUFFERED="1",
        )
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "ab")
            out: Any = self._log_file
        else:
            out = subprocess.DEVNULL
        self.port = port
        self.process = subprocess.Popen(
            ([sys.executable, str(Path(__file__).with_name("moto_main.py"))] if self.use_speedups
             else [sys.executable, "-m", "moto.server"]) + ["-H", self.host, "-p", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True

    def _wait_until_ready(self, started: float) -> None:
        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise MotoServerError(f"moto's server exited with code {self.process.returncode} on port {self.port}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/config", timeout=1) as _:
                    return
            except urllib.error.HTTPError:
                return  # it answered (an HTTP error status is still an answer)
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - started > self.startup_timeout:
                raise MotoServerError(f"moto's server did not answer within {self.startup_timeout:.0f}s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s). Safe to call more than once."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                process.terminate()
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n--- moto server log (tail) ---\n" + "\n".join(tail)

    # -- talking to it --------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A new boto3 client for ``service`` bound to this server (explicit endpoint, fake credentials).

        The clients share one botocore session, so the endpoint rules and service models are read from disk
        once per server rather than once per client (a new session reads them again: ~0.1 s a client)."""
        import boto3
        from botocore.config import Config

        with _SESSION_LOCK:  # a botocore session is not safe to create clients from in several threads at once
            if self._session is None:
                self._session = boto3.session.Session(
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                    region_name=self.region,
                )
            return self._session.client(service, endpoint_url=self.endpoint,
                                        config=Config(retries={"mode": "standard"}))

    def api(self, path: str, payload: Optional[Dict[str, Any]] = None) -> Any:
        """Call moto's own API (``/moto-api/...``): POST ``payload`` as JSON, or GET when it is None."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/{path.lstrip('/')}",
            data=data,
            method="GET" if payload is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            raise MotoServerError(f"moto-api {path}: HTTP {err.code}: {err.read()[:500]!r}") from None
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return body.decode(errors="replace")

    def configure(self, config: Dict[str, Any]) -> None:
        """moto's run-time configuration (``POST /moto-api/config``), e.g.
        ``{"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}``."""
        self.api("config", config)

    def queue_lambda_result(self, result: str) -> None:
        """The next Lambda invocation in this account and region answers ``result`` (moto's
        "lambda-simple" backend, used when Lambda is configured without Docker)."""
        self.api(
            "static/lambda-simple/response",
            {"account_id": self.account_id, "region": self.region, "results": [result]},
        )
