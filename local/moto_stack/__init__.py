"""Local AWS for the demo and the end-to-end tests: moto's server, the synthesised stack deployed into it,
and the pieces of the AWS runtime moto does not run itself.

Nothing here may reach AWS: every client this package makes has fake credentials and an explicit
``http://127.0.0.1:<port>`` endpoint, and the function runs with ``AWS_ENDPOINT_URL`` pointing at moto
(``AWS_ENDPOINT_URL_DEADLINE`` at the Deadline Cloud stand-in).

* :class:`MotoServer` (``server.py``): moto's server on 127.0.0.1 and a free port, as a child process that is
  stopped on exit, on Ctrl-C, on SIGTERM, on error, and (Linux) when this process dies; by default with the
  speed-ups of ``moto_speedups.py`` applied in its process (same answers, less time: a 1,000-task burst
  takes a minute instead of ten).
* :func:`deploy_stack` (``deploy.py``): what ``cdk deploy`` does, against moto: publishes the file assets of
  the ``*.assets.json`` manifest (zips directories), creates the bootstrap bucket and the bootstrap version
  parameter, and creates the CloudFormation stack from the synthesised template. Where moto's
  CloudFormation cannot create a resource type, :func:`adapt_template` changes the template, and says so
  (:class:`Adaptation`); nothing the stack defines is created by hand.
* :class:`EventBus` (``eventbridge.py``): EventBridge's part: evaluates each event against the *deployed*
  rules (read back from moto's EventBridge, matched with moto's own event-pattern matcher, since moto's
  ``TestEventPattern`` answers nothing); invokes each rule target that is the deployed function, with
  Lambda's asynchronous retry count and on-failure destination, and sends the event to each target that is
  an SQS queue.
* :class:`SqsEventSources` (``sqs_source.py``): Lambda's SQS event source mappings, read back from moto:
  polls the queues, invokes the handler with batches in the real SQS event shape, deletes what
  ``batchItemFailures`` does not list, leaves the rest for redelivery (redrive policy -> DLQ), honours
  BatchSize, MaximumConcurrency and DelaySeconds.
* :class:`FunctionRuntime` (``runtime.py``): Lambda's part: calls the real handler in this process,
  ``lambda_handler(event, context)``, with the deployed function's environment (read with
  ``GetFunctionConfiguration``), its timeout and memory, and its logs captured to a file.
* :class:`StateMachineRunner` (``stepfunctions.py``): runs the deployed ``WaitForSessionAction`` through
  moto's Step Functions interpreter. moto cannot run Lambda code without Docker, so the real handler's
  answer to the exact payload the state machine sends is queued as moto's "lambda-simple" response.
* ``observe.py``: what a user looks at: an SQS queue subscribed to the topic, the published e-mail text,
  the history table, the dead-letter queue.
"""

from .deploy import Adaptation, DeployedStack, adapt_template, deploy_stack
from .eventbridge import Delivery, EventBus
from .observe import Observer
from .runtime import FunctionRuntime, Invocation
from .server import MotoServer, MotoServerError
from .sqs_source import Batch, SqsEventSources, SqsMapping, TrackedMessage
from .stepfunctions import StateMachineRun, StateMachineRunner

__all__ = [
    "Adaptation",
    "Batch",
    "DeployedStack",
    "Delivery",
    "EventBus",
    "FunctionRuntime",
    "Invocation",
    "MotoServer",
    "MotoServerError",
    "Observer",
    "SqsEventSources",
    "SqsMapping",
    "StateMachineRun",
    "StateMachineRunner",
    "TrackedMessage",
    "adapt_template",
    "deploy_stack",
]
