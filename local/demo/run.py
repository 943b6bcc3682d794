"""One demo run, start to end: the orchestration shared by ``python -m local.demo`` and ``tests/e2e``.

:func:`run_demo` synthesises when asked (with the demo's context: a 10-second digest window, and the
notification mode and event delivery asked for), starts moto's server and the Deadline Cloud stand-in,
deploys the stack, plays the scenario (EventBridge -> the event queue -> Lambda's SQS event source -> the
function, or EventBridge -> the function with ``eventDelivery=direct``), waits for the digest flushes the
function scheduled, runs the state machine, reads what came out and checks it. Both servers are stopped, and
the temporary directory of the run's logs removed, when it returns or raises (including KeyboardInterrupt);
``on_ready`` is called while they still run (``--keep-running`` waits there).
"""

from __future__ import annotations

from lambda_src.session_watch import names  # the names the function, stack and local farm share

import contextlib
import filecmp
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from local.deadline_farm import DeadlineStandIn, RenderFarm
from local.deadline_farm.session_logs import CloudWatchLogsSink
from local.moto_stack import (
    Batch,
    DeployedStack,
    EventBus,
    FunctionRuntime,
    MotoServer,
    Observer,
    SqsEventSources,
    StateMachineRunner,
    deploy_stack,
)
from local.moto_stack.deploy import DeployError, resolve
from local.moto_stack.eventbridge import AsyncInvokeConfig
from local.moto_stack.observe import ChannelMessage, Notification
from local.moto_stack.stepfunctions import StateMachineRun

from .pipelines import PipelineRun, Pipelines

from .checks import Check, evaluate
from .scenario import Listener, Player, PlayLog, Scenario, demo_clock, load_scenario

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = REPO_ROOT / "lambda_src"
DEFAULT_SCENARIO = REPO_ROOT / "local" / "scenarios" / "render-12-frames.json"
DEFAULT_STACK = names.DEFAULT_STACK_NAME
DEFAULT_ACCOUNT = "111122223333"  # the simulated farm's account (events carry it)
DEFAULT_REGION = "us-west-2"
#: The digest window the demo synthesises with (the stack's default is 60 s; 10 s is its minimum), so
#: that a run waits at most about 25 s for a digest flush (window end + the function's 10 s grace).
DEMO_DIGEST_WINDOW_SECONDS = 10
NOTIFY_MODES = names.NOTIFY_MODES
EVENT_DELIVERIES = ("queue", "direct")
#: The run's logs go to a temporary directory of this prefix (unless ``workdir`` is given), removed at the end.
TEMP_PREFIX = "session-watch-demo-"
#: A failed SQS message comes back after this many seconds locally (the queue says minutes).
RETRY_VISIBILITY_SECONDS = 1
#: The queue the demo creates for the events channel; the stack is synthesised with its ARN as
#: ``sessionWatch:eventQueueArns``, so a deployed rule delivers the function's events to it.
EVENTS_QUEUE_NAME = "session-watch-demo-events"


def events_queue_arn(account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> str:
    return f"arn:aws:sqs:{region}:{account}:{EVENTS_QUEUE_NAME}"


def channel_context(account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> Dict[str, str]:
    """The ``-c`` context the demo needs beyond the stack's defaults: the events queue (the other channels
    need no key) and the SubmitAndWait pipeline its pipelines phase runs."""
    return {"sessionWatch:eventQueueArns": events_queue_arn(account, region), "sessionWatch:submitAndWait": "true"}


@dataclass
class DemoOptions:
    scenario: Path = DEFAULT_SCENARIO
    cdk_out: Path = REPO_ROOT / "cdk.out"
    stack_name: str = DEFAULT_STACK
    synth: bool = False
    workdir: Optional[Path] = None
    mode: Optional[str] = None  # sessionWatch:notifyMode to synthesise with (None: the stack's default)
    delivery: Optional[str] = None  # sessionWatch:eventDelivery to synthesise with (None: the stack's default)
    digest_window: int = DEMO_DIGEST_WINDOW_SECONDS  # sessionWatch:digestWindowSeconds when synthesising

    def synth_context(self) -> Dict[str, str]:
        """The ``-c`` context the demo synthesises with (strings, as the CDK CLI passes them)."""
        context = {"sessionWatch:digestWindowSeconds": str(self.digest_window), **channel_context()}
        if self.mode:
            context["sessionWatch:notifyMode"] = self.mode
        if self.delivery:
            context["sessionWatch:eventDelivery"] = self.delivery
        return context


@dataclass
class DemoResult:
    scenario: Scenario
    options: DemoOptions
    workdir: Path
    moto: Dict[str, Any]
    standin_endpoint: str
    deployed: DeployedStack
    code_check: Dict[str, Any]
    function: Dict[str, Any]
    async_config: AsyncInvokeConfig
    rules: List[Dict[str, Any]]
    ids: Dict[str, str]
    play: PlayLog
    labels: Dict[str, str]
    rows: List[Dict[str, Any]]
    notifications: List[Notification]
    state_machine_runs: List[StateMachineRun]
    dead_letters: List[Dict[str, Any]]
    throttled: int
    standin_calls: Dict[str, int]
    invocations: int
    mode: str = "digest"  # the deployed function's NOTIFY_MODE
    delivery: str = "queue"  # "queue" when the rules target the event queue, else "direct"
    digest_window: Optional[int] = None  # the deployed function's DIGEST_WINDOW_SECONDS
    notify_statuses: List[str] = field(default_factory=list)
    batches: List[Batch] = field(default_factory=list)
    event_sources: Dict[str, Any] = field(default_factory=dict)  # queue name -> stats of its mapping
    deviations: List[str] = field(default_factory=list)
    dead_letter_queues: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    digest_ledger: List[Dict[str, Any]] = field(default_factory=list)
    jobs: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # job id -> GetJob as the farm has it
    timings: Dict[str, float] = field(default_factory=dict)
    checks: List[Check] = field(default_factory=list)
    #: channel -> what its subscriber received: "email", "chat" (topic subscribers), "events" (the rule's queue)
    channels: Dict[str, List[ChannelMessage]] = field(default_factory=dict)
    #: the deployed rule that delivers session-watch events to the demo's events queue (None: not deployed)
    events_rule: Optional[str] = None
    #: the scenario's session names -> the worker each ran on (suspect workers are named by worker)
    workers: Dict[str, str] = field(default_factory=dict)
    #: SubmitAndWait pipelines waiting on jobs with WaitForJob (scenarios with "pipelines": true)
    pipelines: List[PipelineRun] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def label_of(self, session_action_id: Optional[str]) -> Optional[str]:
        return self.labels.get(session_action_id or "")

    def kind_of(self, notification: Notification) -> str:
        """``sessionAction``, ``digest`` or ``jobRun`` (the message's ``kind`` attribute)."""
        return notification.attributes.get("kind") or notification.record.get("kind") or "sessionAction"

    def messages(self, kind: str) -> List[Notification]:
        return [n for n in self.notifications if self.kind_of(n) == kind]

    def label_of_message(self, notification: Notification) -> str:
        kind = self.kind_of(notification)
        if kind == "digest":
            return "digest"
        if kind == "jobRun":
            return "job"
        if kind == "suspectWorker":
            worker = notification.record.get("workerId")
            return "suspect " + next((name for name, w in self.workers.items() if w == worker), "worker")
        if kind == "jobLifecycle":
            return "job (lifecycle)"
        return self.label_of(notification.record.get("sessionActionId")) or "?"


class Progress(Listener):
    """Receives progress from every phase (the CLI prints it)."""

    def header(self, scenario_name: str, path: str) -> None: ...
    def phase(self, number: int, total: int, title: str, detail: str = "") -> None: ...
    def info(self, text: str) -> None: ...
    def detail(self, text: str) -> None: ...  # a line only --verbose prints
    def mail(self, notifications: List[Notification], labels: Dict[str, str]) -> None: ...
    def deployed(self, deployed: DeployedStack, code_check: Dict[str, Any],
                 async_config: AsyncInvokeConfig) -> None: ...
    def runtime(self, runtime: FunctionRuntime, bus: EventBus, observer: Observer) -> None: ...
    def job(self, player: Player) -> None: ...
    def played(self, play: PlayLog, standin: DeadlineStandIn) -> None: ...
    def state_machine_run(self, run: StateMachineRun) -> None: ...
    def batch(self, batch: Batch) -> None: ...


def synthesise(cdk_out: Path, context: Optional[Dict[str, str]] = None) -> float:
    """``python app.py`` with ``CDK_OUTDIR=cdk_out`` (what ``cdk synth`` runs, without the CLI); ``context``
    goes in as ``CDK_CONTEXT_JSON``, the way the CLI passes ``-c key=value``."""
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_CONTEXT_JSON"))}
    env["CDK_OUTDIR"] = str(cdk_out)
    if context:
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(f"python app.py failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return time.monotonic() - started


def _tree_differences(left: Path, right: Path) -> List[str]:
    """Files that differ between two package trees (bytecode caches ignored)."""
    ignore = ["__pycache__", ".pytest_cache"]
    out: List[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        out.extend(f"{prefix}{n} (only in the asset)" for n in cmp.left_only if not n.endswith(".pyc"))
        out.extend(f"{prefix}{n} (only in lambda_src)" for n in cmp.right_only if not n.endswith(".pyc"))
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        out.extend(f"{prefix}{n} (differs)" for n in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(str(left), str(right), ignore=ignore), "")
    return out


def check_function_code(deployed: DeployedStack, moto: MotoServer, function_logical_id: str) -> Dict[str, Any]:
    """The deployed function holds the published zip of the synthesised asset, and that asset's package
    is today's ``lambda_src/`` (so the handler run in-process is the code that was deployed)."""
    props = deployed.template["Resources"][function_logical_id]["Properties"]
    key = props.get("Code", {}).get("S3Key")
    asset_dir = deployed.assembly.function_assets().get(key) if isinstance(key, str) else None
    config = moto.client("lambda").get_function_configuration(FunctionName=deployed.physical_id(function_logical_id))
    published = [a for a in deployed.assets if isinstance(key, str) and a.url.endswith("/" + key)]
    problems = []
    if asset_dir is None or not published:
        problems.append(f"the function's code {key!r} is not a published asset")
    elif config.get("CodeSha256") != published[0].sha256_b64:
        problems.append("CodeSha256 of the deployed function differs from the published zip")
    package = config["Handler"].split(".")[0]
    differences: List[str] = []
    if asset_dir is not None:
        if not (asset_dir / package).is_dir():
            problems.append(f"the asset has no {package}/ package")
        else:
            differences = _tree_differences(asset_dir / package, LAMBDA_SRC / package)
            if differences:
                problems.append(
                    f"cdk.out is stale: {package}/ in the asset differs from lambda_src/ "
                    f"({', '.join(differences[:5])}{' ...' if len(differences) > 5 else ''}); run make synth"
                )
    size = published[0].size if published else 0
    return {
        "ok": not problems,
        "detail": "; ".join(problems) if problems else (
            f"CodeSha256 {config.get('CodeSha256')} = published zip ({size / 1e6:.1f} MB, asset "
            f"{asset_dir.name if asset_dir else '?'}); {package}/ identical to lambda_src/{package}/"
        ),
        "asset": str(asset_dir) if asset_dir else None,
        "codeSha256": config.get("CodeSha256"),
        "differences": differences,
    }


def async_invoke_config(deployed: DeployedStack, moto: MotoServer, function_logical_id: str) -> AsyncInvokeConfig:
    """Lambda's asynchronous-invocation settings for the function, from the synthesised template."""
    for logical_id, resource in deployed.template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        props = resource.get("Properties", {})
        if props.get("FunctionName") not in ({"Ref": function_logical_id}, deployed.physical_id(function_logical_id)):
            continue
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return AsyncInvokeConfig(
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
            on_failure_arn=resolve(deployed, moto, destination) if destination else None,
            source=f"the template's {logical_id}",
        )
    return AsyncInvokeConfig()


def dead_letter_queues(deployed: DeployedStack, moto: MotoServer, async_config: AsyncInvokeConfig,
                       bus: EventBus) -> Dict[str, str]:
    """Queue name -> URL of every dead-letter queue of the stack: the redrive targets of its queues, the
    function's on-failure destination and the EventBridge targets' dead-letter queues."""
    sqs = moto.client("sqs")
    arns = set()
    for logical_id in deployed.logical_ids("AWS::SQS::Queue"):
        attrs = sqs.get_queue_attributes(QueueUrl=deployed.physical_id(logical_id),
                                         AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        if attrs.get("RedrivePolicy"):
            arns.add(json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"])
    if async_config.on_failure_arn:
        arns.add(async_config.on_failure_arn)
    for rule in bus.rules:
        for target in rule.targets:
            arn = (target.get("DeadLetterConfig") or {}).get("Arn")
            if arn:
                arns.add(arn)
    out = {}
    for arn in sorted(arns):
        parts = arn.split(":")
        if parts[2] == "sqs":
            out[parts[5]] = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
    return out


def _output(deployed: DeployedStack, name: str) -> str:
    try:
        return deployed.outputs[name]
    except KeyError:
        raise DeployError(f"the stack has no output {name!r} (outputs: {', '.join(deployed.outputs)})") from None


class PublishRecorder:
    """Records what the function publishes, from its own SNS client (botocore events; nothing changes in
    the call): MessageId -> the ``Message`` as sent (with ``MessageStructure=json``: default, email)."""

    def __init__(self) -> None:
        self.messages: Dict[str, str] = {}

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.sns.Publish", self._before)
        client.meta.events.register("after-call.sns.Publish", self._after)
        client.meta.events.register("provide-client-params.sns.PublishBatch", self._before_batch)
        client.meta.events.register("after-call.sns.PublishBatch", self._after_batch)

    def _before(self, params: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        context["demo-published-message"] = params.get("Message")

    def _after(self, parsed: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        if parsed.get("MessageId") and context.get("demo-published-message") is not None:
            self.messages[parsed["MessageId"]] = context["demo-published-message"]

    def _before_batch(self, params: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        context["demo-published-batch"] = {e.get("Id"): e.get("Message")
                                           for e in params.get("PublishBatchRequestEntries") or []}

    def _after_batch(self, parsed: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        sent = context.get("demo-published-batch") or {}
        for entry in parsed.get("Successful") or []:
            if entry.get("MessageId") and sent.get(entry.get("Id")) is not None:
                self.messages[entry["MessageId"]] = sent[entry["Id"]]

    def __call__(self) -> Dict[str, str]:
        return dict(self.messages)


def _record_function_publishes(recorder: PublishRecorder) -> None:
    """Create the function's shared SNS client now (as its first use would, under its environment) and
    listen to its Publish calls."""
    from session_watch.adapters import clients

    recorder.attach(clients.client("sns"))


class _Relay(Listener):
    """Passes the player's progress on and reads the subscriber queue after each batch of deliveries."""

    def __init__(self, progress: Progress, observer: Observer, labels: Dict[str, str]) -> None:
        self.progress = progress
        self.observer = observer
        self.labels = labels

    def say(self, text: str) -> None:
        self.progress.say(text)

    def delivered(self, delivery, emitted) -> None:
        self.progress.delivered(delivery, emitted)

    def delivered_batch(self, deliveries) -> None:
        self.progress.delivered_batch(deliveries)
        new = self.observer.drain()
        if new:
            self.progress.mail(new, self.labels)


def run_demo(
    options: DemoOptions,
    progress: Optional[Progress] = None,
    on_ready: Optional[Callable[[DemoResult], None]] = None,
) -> DemoResult:
    progress = progress or Progress()
    started = time.monotonic()
    timings: Dict[str, float] = {}
    scenario = load_scenario(options.scenario)
    if options.mode is not None and options.mode not in NOTIFY_MODES:
        raise DeployError(f"mode {options.mode!r} is not one of {', '.join(NOTIFY_MODES)}")
    if options.delivery is not None and options.delivery not in EVENT_DELIVERIES:
        raise DeployError(f"delivery {options.delivery!r} is not one of {', '.join(EVENT_DELIVERIES)}")
    with contextlib.ExitStack() as cleanup:
        if options.workdir:
            workdir = Path(options.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        else:  # removed on every way out: a result, an error, Ctrl-C (the servers stop first: ExitStack order)
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=TEMP_PREFIX,
                                                                             ignore_cleanup_errors=True)))
        return _run(options, progress, on_ready, scenario, workdir, timings, started)


def _run(options: DemoOptions, progress: Progress, on_ready: Optional[Callable[[DemoResult], None]],
         scenario: Scenario, workdir: Path, timings: Dict[str, float], started: float) -> DemoResult:
    total = 7

    progress.phase(1, total, "Template", str(options.cdk_out))
    if options.synth or options.mode or options.delivery or not (Path(options.cdk_out) / "manifest.json").is_file():
        context = options.synth_context()
        progress.info(f"synthesising: python app.py (CDK_OUTDIR={options.cdk_out}) with "
                      + " ".join(f"-c {k}={v}" for k, v in context.items()))
        if options.mode != "each":
            progress.info(f"the demo's digest window is {options.digest_window} s (the stack's default is 60 s), so "
                          f"a digest comes at most about {options.digest_window + 15} s after a failure")
        timings["synth"] = synthesise(Path(options.cdk_out), context)
        progress.info(f"synthesised in {timings['synth']:.1f} s")
    from local.moto_stack.deploy import CloudAssembly

    assembly = CloudAssembly.load(Path(options.cdk_out), options.stack_name)
    account, region = assembly.environment()
    account, region = account or DEFAULT_ACCOUNT, region or DEFAULT_REGION
    progress.info(f"{assembly.template_path.name}: {len(assembly.template.get('Resources', {}))} resources; "
                  f"assets: {assembly.assets_path.name if assembly.assets_path else 'none'}")

    with contextlib.ExitStack() as stack:
        progress.phase(2, total, "Local AWS", "moto's server and the Deadline Cloud stand-in on 127.0.0.1")
        moto = stack.enter_context(MotoServer(account_id=account, region=region, log_path=workdir / "moto-server.log"))
        timings["moto_start"] = moto.startup_seconds or 0.0
        progress.info(f"moto_server {_moto_version()} at {moto.endpoint} (pid {moto.pid}, account {account}, "
                      f"{region}), up in {timings['moto_start']:.1f} s")
        if moto.speedups:
            progress.info(f"moto speed-ups in its process: {len(moto.speedups)} (same answers, less time; "
                          "local/moto_stack/moto_speedups.py)")
            for text in moto.speedups.values():
                progress.detail(f"  + {text}")
        clock = demo_clock()
        farm = RenderFarm(scenario.seed, clock=clock, account=account, region=region)
        # Each session's log goes to moto's CloudWatch Logs, as a worker agent writes it (the function reads
        # the end of a failed action's lines from there: logExcerpt).
        farm.session_log_sink = CloudWatchLogsSink(moto.client("logs"), buffered=True)  # flushed before each delivery
        standin = stack.enter_context(DeadlineStandIn(farm, seed=scenario.seed))
        progress.info(f"Deadline Cloud stand-in at {standin.endpoint_url} (GetSessionAction, ListSessionActions, "
                      "GetTask, GetJob, GetSession, GetStep and their Batch* forms); session logs go to moto's "
                      "CloudWatch Logs")

        progress.phase(3, total, "Deploy", f"stack {options.stack_name} into moto's CloudFormation")
        # The events channel's queue: the synthesised rule names it (sessionWatch:eventQueueArns), as a user's would.
        events_queue_url = moto.client("sqs").create_queue(QueueName=EVENTS_QUEUE_NAME)["QueueUrl"]
        t0 = time.monotonic()
        deployed = deploy_stack(moto, Path(options.cdk_out), options.stack_name)
        timings["deploy"] = time.monotonic() - t0
        functions = deployed.logical_ids("AWS::Lambda::Function")
        if len(functions) != 1:
            raise DeployError(f"expected one Lambda function in the stack, found {functions}")
        function_id = functions[0]
        code_check = check_function_code(deployed, moto, function_id)
        async_config = async_invoke_config(deployed, moto, function_id)
        progress.deployed(deployed, code_check, async_config)

        runtime = stack.enter_context(FunctionRuntime(
            moto, deployed.physical_id(function_id), deadline_endpoint=standin.endpoint_url,
            log_path=workdir / "function.log", extra_sys_path=[str(LAMBDA_SRC)],
        ))
        sources = SqsEventSources.from_deployed(deployed, moto, runtime,
                                                retry_visibility_seconds=RETRY_VISIBILITY_SECONDS,
                                                on_batch=progress.batch)
        bus = EventBus(moto, runtime, async_config=async_config, event_sources=sources)
        if not bus.function_rules():
            raise DeployError("no deployed EventBridge rule reaches the function (directly or through a queue)")
        env = runtime.function_environment
        mode = (env.get("NOTIFY_MODE") or "digest").strip().lower()
        delivery = "queue" if any(sources.mapping_for_queue(t["Arn"]) for r in bus.rules for t in r.targets) \
            else "direct"
        window = int(env["DIGEST_WINDOW_SECONDS"]) if (env.get("DIGEST_WINDOW_SECONDS") or "").isdigit() else None
        recorder = PublishRecorder()
        _record_function_publishes(recorder)
        dlqs = dead_letter_queues(deployed, moto, async_config, bus)
        events_rule = next((r.name for r in bus.rules
                            if any(t["Arn"] == events_queue_arn(account, region) for t in r.targets)), None)
        observer = Observer(moto, topic_arn=_output(deployed, "TopicArn"), table_name=_output(deployed, "TableName"),
                            dead_letter_queue_url=deployed.outputs.get("DeadLetterQueueUrl"), published=recorder,
                            dead_letter_queues=dlqs, digest_table_name=env.get("DIGEST_TABLE_NAME") or None,
                            email_topic_arn=deployed.outputs.get("EmailTopicArn"),
                            chat_topic_arn=deployed.outputs.get("ChatTopicArn"),
                            events_queue_url=events_queue_url if events_rule else None)
        progress.runtime(runtime, bus, observer)
        progress.info(f"notifications: NOTIFY_MODE={mode}"
                      + (f", digest window {window} s" if mode == "digest" and window else "")
                      + f"; events reach the function {'through the event queue' if delivery == 'queue' else 'directly'}")
        for mapping in sources.mappings:
            progress.info(f"SQS event source: {mapping.describe()}")
            progress.detail(f"  (the template's {mapping.logical_id})")
        deviations = sources.deviations()
        if deviations:
            progress.info("what differs from Lambda's SQS event source, and why:")
            for text in deviations:
                progress.info(f"  ! {text}")

        progress.phase(4, total, "Play", scenario.name)
        t0 = time.monotonic()
        player = Player(scenario, bus, standin, farm, clock)
        relay = _Relay(progress, observer, player.labels)
        player.listener = relay
        progress.job(player)
        play = player.play()
        timings["play"] = time.monotonic() - t0
        progress.played(play, standin)

        progress.phase(5, total, "WaitForSessionAction",
                       "moto's Step Functions interpreter runs the deployed definition; its Lambda step gets the "
                       "real handler's answer, queued as moto's lambda-simple response (moto runs no Lambda code "
                       "without Docker)")
        t0 = time.monotonic()
        runs: List[StateMachineRun] = []
        if scenario.state_machine:
            runner = StateMachineRunner(moto, runtime, _output(deployed, "StateMachineArn"))
            for n, spec in enumerate(scenario.state_machine, 1):
                label = spec["action"]
                if label not in player.actions:
                    raise DeployError(f"stateMachine[{n - 1}]: no action {label!r} in the scenario")
                ref = farm.session_action_ref(player.actions[label])
                name = re.sub(r"[^A-Za-z0-9_-]", "-", f"demo-{n}-{label}")
                run = runner.run(ref, label=label, name=name)
                runs.append(run)
                progress.state_machine_run(run)
        timings["state_machine"] = time.monotonic() - t0
        if any(sources.pending(include_delayed=True).values()):
            limit = (window or 60) + 10 + 30
            progress.info(f"waiting for what the queues still hold: the digest flushes the function scheduled "
                          f"(DelaySeconds: window end + 10 s grace; at most {limit} s)")
            t0 = time.monotonic()
            bus.settle(include_delayed=True, timeout=limit)
            timings["flush_wait"] = time.monotonic() - t0
            progress.info(f"queues empty after {timings['flush_wait']:.1f} s"
                          if not sources.timed_out else
                          f"GAVE UP after {timings['flush_wait']:.1f} s: {sources.pending(include_delayed=True)}")
        late_mail = observer.drain()
        if late_mail:
            progress.mail(late_mail, player.labels)

        rows = observer.rows()
        for row in rows:
            row["label"] = player.labels.get(row.get("sessionActionId", ""))
        dead_letters = observer.dead_letters()
        by_queue = observer.dead_letters_by_queue()
        throttled = sum(n for (op, code), n in standin.faults.injected.items() if code == "ThrottlingException")
        # What the scenario did, read before the pipelines add their own jobs' records, messages and batches.
        digest_ledger = observer.digest_items()
        invocations = len(runtime.invocations)
        batches = list(sources.batches)
        event_source_stats = sources.stats()
        standin_calls = dict(standin.calls)
        pipelines = _run_pipelines(scenario, moto, runtime, farm, bus, deployed, progress, timings)
        job = player.job
        jobs = {job.job_id: farm.describe_job(job.farm_id, job.queue_id, job.job_id)}
        result = DemoResult(
            scenario=scenario,
            options=options,
            workdir=workdir,
            moto={"endpoint": moto.endpoint, "pid": moto.pid, "account": account, "region": region,
                  "log": str(workdir / "moto-server.log")},
            standin_endpoint=standin.endpoint_url,
            deployed=deployed,
            code_check=code_check,
            function={"name": runtime.function_name, "arn": runtime.function_arn, "log": str(runtime.log_path),
                      "environment": runtime.function_environment, "local": runtime.local_environment,
                      "service": runtime.service_environment},
            async_config=async_config,
            rules=[{"name": r.name, "pattern": r.pattern, "state": r.state,
                    "targets": [t["Arn"] for t in r.targets]} for r in bus.function_rules()],
            ids={"farmId": player.job.farm_id, "queueId": player.job.queue_id, "jobId": player.job.job_id,
                 "jobName": player.job.name},
            play=play,
            labels=dict(player.labels),
            rows=rows,
            notifications=list(observer.received),
            state_machine_runs=runs,
            dead_letters=dead_letters,
            throttled=throttled,
            standin_calls=standin_calls,
            invocations=invocations,
            mode=mode,
            delivery=delivery,
            digest_window=window,
            notify_statuses=[x.strip() for x in (env.get("NOTIFY_STATUSES") or "").split(",") if x.strip()],
            batches=batches,
            event_sources=event_source_stats,
            deviations=deviations,
            dead_letter_queues=by_queue,
            digest_ledger=digest_ledger,
            jobs=jobs,
            timings=timings,
            channels={k: list(v) for k, v in observer.channels.items()},
            events_rule=events_rule,
            workers={name: farm.session(session_id).worker_id for name, session_id in player.sessions.items()},
            pipelines=pipelines,
        )
        result.checks = evaluate(result)
        timings["total"] = time.monotonic() - started
        if on_ready is not None:
            on_ready(result)
    return result


def _run_pipelines(scenario: Scenario, moto: MotoServer, runtime: FunctionRuntime, farm: RenderFarm, bus: EventBus,
                   deployed: DeployedStack, progress: Progress, timings: Dict[str, float]) -> List[PipelineRun]:
    """SubmitAndWait pipelines on four more jobs of the farm, after the scenario's own results were read (so
    their records and messages are not counted with the scenario's). See ``local/demo/pipelines.py``."""
    if not scenario.pipelines:
        return []
    progress.info("pipelines: SubmitAndWait (its CreateJob step replaced: moto cannot call Deadline Cloud) runs "
                  "WaitForJob with startExecution.sync:2 in moto's interpreter, for four more jobs")
    t0 = time.monotonic()
    runs = Pipelines(moto=moto, runtime=runtime, farm=farm, bus=bus, outputs=deployed.outputs,
                     say=progress.info).run()
    timings["pipelines"] = time.monotonic() - t0
    return runs


def _moto_version() -> str:
    try:
        from importlib.metadata import version

        return version("moto")
    except Exception:
        return "?"
