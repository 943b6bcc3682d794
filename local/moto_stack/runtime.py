"""Lambda's part, in this process: call the deployed function's handler as the Lambda runtime would.

:class:`FunctionRuntime` reads the deployed function with ``GetFunctionConfiguration`` (handler, timeout,
memory, ARN, environment) and, while active (``with runtime:``), sets that environment plus what the
Lambda service would provide (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``, ...) and the local routing
(fake credentials, ``AWS_ENDPOINT_URL`` = moto, ``AWS_ENDPOINT_URL_DEADLINE`` = the Deadline Cloud stand-in,
``AWS_DISABLE_HOST_PREFIX_INJECTION=true``). The previous environment is restored afterwards.

:meth:`FunctionRuntime.invoke` calls ``<module>.<function>(event, context)`` with a JSON round trip of
the event and the result (as Lambda serialises both) and a context offering ``aws_request_id``,
``function_name``, ``memory_limit_in_mb``, ``invoked_function_arn``, ``get_remaining_time_in_millis()``.
What the function writes (its logger, the metrics it prints, warnings, the traceback of an error) goes to
the log file, framed by ``START``/``END``/``REPORT`` lines as in CloudWatch Logs.

Invocations may come from several threads at once (the SQS event source runs up to its
``MaximumConcurrency`` batches in parallel when asked to): while the runtime is active, ``sys.stdout``,
``sys.stderr`` and the logging handlers writing to them go through a router that sends each thread's output
to the log of the invocation that thread is running. They still share one Python process, so one set of
module-level caches, where Lambda would give each concurrent invocation its own execution environment.

Not simulated: the runtime's Python version and architecture (the function runs on this interpreter, from
``lambda_src/``; the demo checks that the deployed asset holds the same sources), the timeout (reported,
not enforced), X-Ray (Powertools turns tracing off outside Lambda).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from .server import FAKE_CREDENTIALS, MotoServer


@dataclass
class Invocation:
    request_id: str
    source: str
    event: Any
    attempt: int
    ok: bool
    result: Any = None
    error_type: Optional[str] = None
    error_message: Optional[str] = None
    seconds: float = 0.0
    log_lines: List[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return "ok"
        return f"{self.error_type}: {self.error_message}"


class _Context:
    """The ``context`` object of the Lambda Python runtime (the members handlers and Powertools read)."""

    def __init__(self, config: Dict[str, Any], request_id: str, log_group: str) -> None:
        self.aws_request_id = request_id
        self.function_name = config["FunctionName"]
        self.function_version = config.get("Version", "$LATEST")
        self.invoked_function_arn = config["FunctionArn"]
        self.memory_limit_in_mb = int(config.get("MemorySize", 128))
        self.log_group_name = log_group
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + int(config.get("Timeout", 3))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionRuntime:
    def __init__(
        self,
        moto: MotoServer,
        function_name: str,
        *,
        deadline_endpoint: str,
        log_path: Path,
        extra_sys_path: Optional[List[str]] = None,
    ) -> None:
        self.moto = moto
        self.config = moto.client("lambda").get_function_configuration(FunctionName=function_name)
        self.function_arn: str = self.config["FunctionArn"]
        self.function_name: str = self.config["FunctionName"]
        self.handler_name: str = self.config["Handler"]
        self.function_environment: Dict[str, str] = dict(self.config.get("Environment", {}).get("Variables", {}))
        logging_config = self.config.get("LoggingConfig") or {}
        self.log_group = logging_config.get("LogGroup") or f"/aws/lambda/{self.function_name}"
        self.service_environment = {
            "AWS_REGION": moto.region,
            "AWS_DEFAULT_REGION": moto.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.config.get("MemorySize", 128)),
            "AWS_LAMBDA_FUNCTION_VERSION": self.config.get("Version", "$LATEST"),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group,
        }
        self.local_environment = dict(FAKE_CREDENTIALS)
        self.local_environment.update(
            AWS_ENDPOINT_URL=moto.endpoint,
            AWS_ENDPOINT_URL_DEADLINE=deadline_endpoint,
            AWS_DISABLE_HOST_PREFIX_INJECTION="true",
            AWS_EC2_METADATA_DISABLED="true",
        )
        self.log_path = Path(log_path)
        self.extra_sys_path = list(extra_sys_path or [])
        self.invocations: List[Invocation] = []
        self._invocations_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._router: Optional[_OutputRouter] = None
        self._saved_env: Optional[Dict[str, Optional[str]]] = None
        self._handler: Optional[Callable[..., Any]] = None
        self._module: Any = None
        self._log: Any = None

    # -- activation ------------------------------------------------------------------------------

    @property
    def environment(self) -> Dict[str, str]:
        """Everything the function sees, in the order it is applied (later wins)."""
        env = dict(self.service_environment)
        env.update(self.function_environment)
        env.update(self.local_environment)
        return env

    def __enter__(self) -> "FunctionRuntime":
        env = self.environment
        self._saved_env = {k: os.environ.get(k) for k in list(env) + ["AWS_PROFILE", "AWS_CONFIG_FILE",
                                                                        "AWS_SHARED_CREDENTIALS_FILE"]}
        for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            os.environ.pop(key, None)
        os.environ.update(env)
        for entry in reversed(self.extra_sys_path):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        module_name, _, function = self.handler_name.rpartition(".")
        self._module = importlib.import_module(module_name)
        self._handler = getattr(self._module, function)
        self._reset()  # settings and clients cached by an earlier environment must go
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "a", encoding="utf-8")
        self._router = _OutputRouter().install()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._router is not None:
            self._router.uninstall()
            self._router = None
        self._reset()
        if self._saved_env is not None:
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _reset(self) -> None:
        reset = getattr(self._module, "reset_for_tests", None)
        if callable(reset):
            reset()

    # -- invoking --------------------------------------------------------------------------------

    def invoke(self, event: Any, *, source: str, attempt: int = 1) -> Invocation:
        """Call the handler once, as Lambda would; safe to call from several threads at once."""
        if self._handler is None or self._router is None:
            raise RuntimeError("FunctionRuntime.invoke outside 'with runtime:'")
        request_id = str(uuid.uuid4())
        context = _Context(self.config, request_id, self.log_group)
        payload = json.loads(json.dumps(event))
        buffer = io.StringIO()
        started = time.monotonic()
        invocation = Invocation(request_id=request_id, source=source, event=payload, attempt=attempt, ok=False)
        with self._router.capture(buffer):
            try:
                result = self._handler(payload, context)
                invocation.result = json.loads(json.dumps(result))
                invocation.ok = True
            except Exception as err:  # what Lambda reports as errorType / errorMessage
                invocation.error_type = type(err).__name__
                invocation.error_message = str(err)
                buffer.write(json.dumps({
                    "errorType": invocation.error_type,
                    "errorMessage": invocation.error_message,
                    "requestId": request_id,
                    "stackTrace": traceback.format_tb(err.__traceback__),
                }) + "\n")
        invocation.seconds = time.monotonic() - started
        invocation.log_lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
        self._write_log(invocation, context)
        with self._invocations_lock:
            self.invocations.append(invocation)
        return invocation

    def _write_log(self, invocation: Invocation, context: _Context) -> None:
        with self._log_lock:
            if self._log is not None:
                self._write_log_locked(invocation, context)

    def _write_log_locked(self, invocation: Invocation, context: _Context) -> None:
        self._log.write(f"START RequestId: {invocation.request_id} Version: {context.function_version} "
                        f"Source: {invocation.source} Attempt: {invocation.attempt}\n")
        for line in invocation.log_lines:
            self._log.write(line + "\n")
        self._log.write(f"END RequestId: {invocation.request_id}\n")
        self._log.write(f"REPORT RequestId: {invocation.request_id} Duration: {invocation.seconds * 1000:.2f} ms "
                        f"Memory Size: {context.memory_limit_in_mb} MB"
                        + ("" if invocation.ok else f" Error: {invocation.error_type}") + "\n")
        self._log.flush()


class _RoutedStream(io.TextIOBase):
    """Writes into the buffer of the invocation the writing thread runs, else into ``fallback``."""

    def __init__(self, local: threading.local, fallback: Any) -> None:
        super().__init__()
        self._local = local
        self.fallback = fallback

    def _target(self) -> Any:
        buffer = getattr(self._local, "buffer", None)
        return buffer if buffer is not None else (self.fallback or sys.__stdout__)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        target = self._target()
        if hasattr(target, "flush"):
            target.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return (self.fallback or sys.__stdout__).fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.fallback, "encoding", None) or "utf-8"


class _OutputRouter:
    """While installed, ``sys.stdout``/``sys.stderr`` and every plain logging ``StreamHandler`` that wrote
    to them write through :class:`_RoutedStream`: a thread inside :meth:`capture` writes into its
    invocation's buffer (Lambda sends both streams to CloudWatch Logs), any other thread to the stream that
    was there before. Warnings raised inside an invocation go to its buffer as ``Category: message``."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._saved: Any = None
        self._swapped: List[Any] = []
        self._warnings: Any = None

    def install(self) -> "_OutputRouter":
        self._saved = (sys.stdout, sys.stderr)
        out = _RoutedStream(self._local, sys.stdout)
        err = _RoutedStream(self._local, sys.stderr)
        by_stream = {id(sys.stdout): out, id(sys.__stdout__): out, id(sys.stderr): err, id(sys.__stderr__): err}
        loggers = [logging.getLogger()] + [
            logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                if type(handler) is not logging.StreamHandler:  # not files, not pytest's capture handlers
                    continue
                stream = handler.stream
                routed = by_stream.get(id(stream)) or {"<stdout>": out, "<stderr>": err}.get(
                    getattr(stream, "name", None))
                if routed is not None:
                    self._swapped.append((handler, handler.setStream(routed)))
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        local, previous = self._local, warnings.showwarning

        def showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
            buffer = getattr(local, "buffer", None)
            if buffer is not None:
                buffer.write(f"{category.__name__}: {message}\n")
            else:
                previous(message, category, filename, lineno, file, line)

        warnings.showwarning = showwarning
        warnings.simplefilter("always")
        sys.stdout, sys.stderr = out, err
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
            self._saved = None
        for handler, previous in self._swapped:
            handler.setStream(previous)
        self._swapped = []
        if self._warnings is not None:
            self._warnings.__exit__(None, None, None)
            self._warnings = None

    @contextlib.contextmanager
    def capture(self, buffer: io.StringIO):
        previous = getattr(self._local, "buffer", None)
        self._local.buffer = buffer
        try:
            yield
        finally:
            self._local.buffer = previous
