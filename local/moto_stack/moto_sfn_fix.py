"""A fix for a moto bug WaitForJob meets, applied in moto's server process (``moto_main.py``) and in the
tests' in-process mock (tests/infra/test_wait_for_job.py).

* ``sfn-task-failure-cause`` (moto 5.2.5): ``SendTaskFailure`` drops its ``cause``: moto's response handler
  reads only ``taskToken`` and ``error``, so a failed ``.waitForTaskToken`` task (and its execution) has no
  cause. What Step Functions does: the API reference's SendTaskFailure takes ``cause`` ("A more detailed
  explanation of the cause of the failure", up to 32768 characters) and the TaskFailed event and the execution
  carry it. -> the handler passes ``cause`` on when the backend (the interpreter's) accepts it.
"""

from __future__ import annotations

import inspect
from typing import List


def apply() -> List[str]:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse.send_task_failure, "_cause_fix", False):
        return ["sfn-task-failure-cause"]

    def send_task_failure(self):  # type: ignore[no-untyped-def]
        backend = self.stepfunction_backend
        kwargs = {"error": self._get_param("error")}
        if "cause" in inspect.signature(backend.send_task_failure).parameters:
            kwargs["cause"] = self._get_param("cause")
        backend.send_task_failure(self._get_param("taskToken"), **kwargs)
        return EmptyResult()

    send_task_failure._cause_fix = True  # type: ignore[attr-defined]
    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]
    return ["sfn-task-failure-cause"]
