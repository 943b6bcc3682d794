"""Deploy a synthesised CDK stack into moto the way ``cdk deploy`` would.

1. Read the cloud assembly (``manifest.json``): the stack's template and its asset manifest.
2. Bootstrap: create the asset bucket(s) the manifest names and the bootstrap version parameter the
   template checks (``/cdk-bootstrap/hnb659fds/version``, set to the version the manifest requires).
3. Publish every file asset as the CLI does: a directory is zipped, a file is uploaded as is, to the
   destination bucket and key of the manifest (``${AWS::AccountId}``/``${AWS::Region}``/
   ``${AWS::Partition}`` placeholders resolved). moto accepts the fake credentials; the CLI would assume
   the manifest's ``assumeRoleArn`` first.
4. ``CreateStack`` with the template, adapted where moto's CloudFormation cannot create a resource type
   (:func:`adapt_template`; every change is returned as an :class:`Adaptation` and printed by the demo).
5. Make the stack's state machines executable: moto's CloudFormation registers them with its plain Step
   Functions backend, while executions run in its interpreter backend (``execute_state_machine``); each
   one is read back with ``DescribeStateMachine`` and registered, unchanged, with the interpreter (same
   name, so the same ARN). Also an :class:`Adaptation`.

Nothing the stack defines is created by hand: tables, topics, queues, rules, functions and state machines
all come out of moto's CloudFormation from the synthesised template.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import io
import json
import os
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from .server import MotoServer

#: Unsupported resource types the demo may leave out, and why that is acceptable locally.
_POLICY = "a resource policy; moto's CloudFormation cannot create it (moto enforces no resource policies anyway)"
DROPPABLE = {
    "AWS::CDK::Metadata": "the CDK CLI's version-reporting metadata (no AWS resource); moto has no such type",
    "AWS::CloudWatch::Alarm": "monitoring; moto's CloudFormation cannot create alarms",
    "AWS::CloudWatch::CompositeAlarm": "monitoring; moto's CloudFormation cannot create alarms",
    "AWS::SNS::TopicPolicy": _POLICY,
    "AWS::SQS::QueuePolicy": _POLICY,
    "AWS::Lambda::EventInvokeConfig": (
        "moto's CloudFormation cannot create it; the demo's EventBridge delivery applies its retry count and "
        "on-failure destination, read from the template"
    ),
}
#: Supported types that may be left out when they refer to a dropped resource.
DROPPABLE_DEPENDANTS = {"AWS::CloudWatch::Dashboard": "monitoring"}

PLACEHOLDERS = ("${AWS::AccountId}", "${AWS::Region}", "${AWS::Partition}")


class DeployError(RuntimeError):
    """The stack could not be deployed into moto (the message says what and why)."""


@dataclass(frozen=True)
class Adaptation:
    """One change between the synthesised template and what was deployed into moto."""

    kind: str  # "converted", "dropped", "registered", "output-dropped", "not-applied", "emulated"
    logical_id: str
    resource_type: str
    reason: str

    def describe(self) -> str:
        verb = {
            "converted": "deployed as",
            "dropped": "not deployed",
            "registered": "registered",
            "output-dropped": "output not deployed",
            "not-applied": "not applied by moto",
            "emulated": "emulated",
        }.get(self.kind, self.kind)
        return f"{self.logical_id} ({self.resource_type}): {verb}: {self.reason}"


@dataclass
class CloudAssembly:
    outdir: Path
    stack_name: str
    template_path: Path
    template: Dict[str, Any]
    assets_path: Optional[Path]
    assets: Dict[str, Any]
    bootstrap_version: Optional[int]
    bootstrap_parameter: Optional[str]

    @classmethod
    def load(cls, outdir: Path, stack_name: str) -> "CloudAssembly":
        outdir = Path(outdir)
        manifest_path = outdir / "manifest.json"
        if not manifest_path.is_file():
            raise DeployError(f"{manifest_path} not found: synthesise first (make synth, or python app.py)")
        manifest = json.loads(manifest_path.read_text())
        artifacts = manifest.get("artifacts", {})
        stack = artifacts.get(stack_name)
        if not stack or stack.get("type") != "aws:cloudformation:stack":
            stacks = [k for k, v in artifacts.items() if v.get("type") == "aws:cloudformation:stack"]
            raise DeployError(f"no stack {stack_name!r} in {manifest_path} (stacks: {', '.join(stacks) or 'none'})")
        props = stack.get("properties", {})
        template_path = outdir / props["templateFile"]
        assets_path: Optional[Path] = None
        assets: Dict[str, Any] = {"files": {}, "dockerImages": {}}
        for dep in list(stack.get("dependencies", [])) + list(props.get("additionalDependencies", [])):
            artifact = artifacts.get(dep, {})
            if artifact.get("type") == "cdk:asset-manifest":
                assets_path = outdir / artifact["properties"]["file"]
                assets = json.loads(assets_path.read_text())
                break
        version = props.get("requiresBootstrapStackVersion")
        return cls(
            outdir=outdir,
            stack_name=stack_name,
            template_path=template_path,
            template=json.loads(template_path.read_text()),
            assets_path=assets_path,
            assets=assets,
            bootstrap_version=int(version) if version is not None else None,
            bootstrap_parameter=props.get("bootstrapStackVersionSsmParameter"),
        )

    def environment(self) -> Tuple[Optional[str], Optional[str]]:
        """The account and region the assembly is bound to (``None`` when environment-agnostic)."""
        for asset in self.assets.get("files", {}).values():
            for dest in asset.get("destinations", {}).values():
                bucket = dest.get("bucketName", "")
                region = dest.get("region")
                parts = bucket.split("-")
                account = next((p for p in parts if p.isdigit() and len(p) == 12), None)
                if region and "${" in region:
                    region = None
                return account, region
        return None, None

    def function_assets(self) -> Dict[str, Path]:
        """Object key -> asset directory, for every zipped directory asset."""
        out = {}
        for asset in self.assets.get("files", {}).values():
            if asset["source"].get("packaging") == "zip":
                for dest in asset["destinations"].values():
                    out[dest["objectKey"]] = self.outdir / asset["source"]["path"]
        return out


@dataclass
class PublishedAsset:
    asset_id: str
    display_name: str
    url: str
    size: int
    sha256_b64: str


@dataclass
class DeployedStack:
    stack_name: str
    stack_id: str
    status: str
    outputs: Dict[str, str]
    resources: Dict[str, Dict[str, str]]  # logical id -> {"type", "physical"}
    template: Dict[str, Any]  # as synthesised
    deployed_template: Dict[str, Any]  # as deployed into moto
    adaptations: List[Adaptation]
    assets: List[PublishedAsset]
    assembly: CloudAssembly
    seconds: Dict[str, float] = field(default_factory=dict)
    bootstrap: Optional[str] = None  # the bootstrap version parameter written, "name=value"

    def logical_ids(self, resource_type: str) -> List[str]:
        return [k for k, v in self.template["Resources"].items() if v["Type"] == resource_type]

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id]["physical"]
        except KeyError:
            raise DeployError(f"{logical_id} was not deployed") from None


# --- template adaptation ------------------------------------------------------------------------


#: Where :func:`moto_cloudformation_types` keeps its answer between processes (gitignored).
TYPES_CACHE_DIR = Path(__file__).resolve().parents[2] / ".build" / "moto-cloudformation-types"


def _moto_types_key() -> str:
    """The installed moto (version, location and its CloudFormation registry's source): the cache key."""
    import importlib.util
    from importlib.metadata import version

    spec = importlib.util.find_spec("moto")
    origin = Path(spec.origin).parent if spec and spec.origin else Path("?")
    digest = hashlib.sha256(f"{version('moto')}\0{origin}".encode())
    for name in ("cloudformation/parsing.py", "backend_index.py"):
        source = origin / name
        digest.update(source.read_bytes() if source.is_file() else b"-")
    return digest.hexdigest()[:24]


def moto_cloudformation_types_uncached() -> frozenset:
    """The resource types moto's CloudFormation can create, read from its own registry (this imports every
    moto model: ~1.7 s of CPU)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    return frozenset(get_model_map()) | frozenset(NULL_MODELS)


@functools.lru_cache(maxsize=1)
def moto_cloudformation_types() -> frozenset:
    """The resource types moto's CloudFormation can create (its own registry), kept under ``.build/`` keyed by
    the installed moto, so that each demo process need not import every moto model to learn them."""
    cache = TYPES_CACHE_DIR / f"{_moto_types_key()}.json"
    try:
        return frozenset(json.loads(cache.read_text()))
    except (OSError, ValueError):
        pass
    types = moto_cloudformation_types_uncached()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(sorted(types)))
        os.replace(partial, cache)  # whole or absent, for a reader in another process
    except OSError:
        pass
    return types


def references(node: Any) -> Set[Tuple[str, Optional[str]]]:
    """Every (logical id, attribute) a template fragment refers to with Ref, Fn::GetAtt or Fn::Sub."""
    found: Set[Tuple[str, Optional[str]]] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add((value, None))
            elif key == "Fn::GetAtt":
                if isinstance(value, list) and value:
                    found.add((value[0], value[1] if len(value) > 1 else None))
                elif isinstance(value, str):
                    name, _, attr = value.partition(".")
                    found.add((name, attr or None))
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                for ref in re.findall(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?\}", text):
                    found.add((ref[0], ref[1] or None))
                if not isinstance(value, str):
                    found |= references(value[1])
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def _depends_on(resource: Dict[str, Any]) -> Set[str]:
    deps = resource.get("DependsOn", [])
    return {deps} if isinstance(deps, str) else set(deps)


def _global_table_as_table(logical_id: str, props: Dict[str, Any], region: str) -> Tuple[Dict[str, Any], str]:
    """A single-replica AWS::DynamoDB::GlobalTable in ``region`` as the equivalent AWS::DynamoDB::Table."""
    replicas = props.get("Replicas") or []
    if len(replicas) != 1 or replicas[0].get("Region") not in (region, {"Ref": "AWS::Region"}):
        raise DeployError(
            f"{logical_id}: AWS::DynamoDB::GlobalTable with replicas {[r.get('Region') for r in replicas]}: moto's "
            f"CloudFormation has no global tables and only a single replica in {region} has a faithful local equivalent"
        )
    if props.get("BillingMode", "PROVISIONED") != "PAY_PER_REQUEST":
        raise DeployError(f"{logical_id}: only PAY_PER_REQUEST global tables are converted for moto")
    replica = replicas[0]
    table: Dict[str, Any] = {}
    for key in ("AttributeDefinitions", "BillingMode", "KeySchema", "LocalSecondaryIndexes", "StreamSpecification",
                "TableName", "TimeToLiveSpecification"):
        if key in props:
            table[key] = copy.deepcopy(props[key])
    if "GlobalSecondaryIndexes" in props:
        table["GlobalSecondaryIndexes"] = [
            {k: copy.deepcopy(v) for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    if "SSESpecification" in props:
        sse = {k: v for k, v in props["SSESpecification"].items() if k in ("SSEEnabled", "SSEType")}
        kms = (replica.get("SSESpecification") or {}).get("KMSMasterKeyId")
        if kms is not None:
            sse["KMSMasterKeyId"] = kms
        table["SSESpecification"] = sse
    for key in ("DeletionProtectionEnabled", "PointInTimeRecoverySpecification", "TableClass", "Tags",
                "ContributorInsightsSpecification", "KinesisStreamSpecification"):
        if key in replica:
            table[key] = copy.deepcopy(replica[key])
    handled = {"AttributeDefinitions", "BillingMode", "KeySchema", "LocalSecondaryIndexes", "StreamSpecification",
               "TableName", "TimeToLiveSpecification", "GlobalSecondaryIndexes", "SSESpecification", "Replicas"}
    ignored = sorted(set(props) - handled)
    indexes = ", ".join(g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])) or "none"
    reason = (
        f"AWS::DynamoDB::Table with the same keys, indexes ({indexes}), billing, TTL, encryption and the "
        "replica's settings: moto's CloudFormation has no AWS::DynamoDB::GlobalTable, and a global table with "
        f"its only replica in {region} is one table"
    )
    if ignored:
        reason += f" (left out: {', '.join(ignored)})"
    return table, reason


def _disable_sqs_mapping(logical_id: str, resource: Dict[str, Any], resources: Dict[str, Any],
                         adaptations: List[Adaptation]) -> None:
    props = resource.setdefault("Properties", {})
    source = [r for r, _ in references(props.get("EventSourceArn"))]
    arn = props.get("EventSourceArn")
    is_sqs = (any(resources.get(r, {}).get("Type") == "AWS::SQS::Queue" for r in source)
              or (isinstance(arn, str) and arn.split(":")[2:3] == ["sqs"]))
    if not is_sqs:
        raise DeployError(f"{logical_id}: only event source mappings on SQS queues are simulated locally")
    enabled = props.get("Enabled", True)
    props["Enabled"] = False
    adaptations.append(Adaptation(
        "emulated", logical_id, "AWS::Lambda::EventSourceMapping",
        "created disabled (template: Enabled "
        f"{str(enabled).lower()}): moto would poll the queue itself inside SendMessage, through a Lambda that runs "
        "no code without Docker, and delete the messages; the demo's SQS event source (local/moto_stack/"
        "sqs_source.py) polls it instead, with the deployed mapping's settings",
    ))


def adapt_template(
    template: Dict[str, Any], region: str, supported: Optional[Iterable[str]] = None
) -> Tuple[Dict[str, Any], List[Adaptation]]:
    """The template moto can deploy, and every change made to get it.

    * a single-replica ``AWS::DynamoDB::GlobalTable`` becomes the equivalent ``AWS::DynamoDB::Table``;
    * an unsupported type listed in :data:`DROPPABLE` is left out (with the reason); so is a supported
      resource of :data:`DROPPABLE_DEPENDANTS` (a dashboard) that refers to one, and any output that does;
    * an ``AWS::Lambda::EventSourceMapping`` on an SQS queue is created disabled: moto would run it itself
      inside SendMessage (its Lambda runs no code without Docker, and the messages would be deleted);
      :class:`~local.moto_stack.sqs_source.SqsEventSources` does Lambda's polling with the deployed settings
      and the template's ``Enabled``;
    * anything else moto cannot create, or a core resource referring to a dropped one, is a
      :class:`DeployError`: the demo never deploys a stack with a hole it did not explain.
    """
    supported_types = frozenset(supported) if supported is not None else moto_cloudformation_types()
    out = copy.deepcopy(template)
    resources: Dict[str, Any] = out.get("Resources", {})
    adaptations: List[Adaptation] = []
    dropped: Dict[str, str] = {}

    for logical_id, resource in list(resources.items()):
        rtype = resource["Type"]
        if rtype == "AWS::Lambda::EventSourceMapping" and rtype in supported_types:
            _disable_sqs_mapping(logical_id, resource, resources, adaptations)
            continue
        if rtype in supported_types:
            continue
        if rtype == "AWS::DynamoDB::GlobalTable" and "AWS::DynamoDB::Table" in supported_types:
            props, reason = _global_table_as_table(logical_id, resource.get("Properties", {}), region)
            for other_id, other in resources.items():
                for ref, attr in references(other):
                    if ref == logical_id and attr not in (None, "Arn", "StreamArn"):
                        raise DeployError(f"{other_id} reads {logical_id}.{attr}, which a table does not have")
            resource["Type"] = "AWS::DynamoDB::Table"
            resource["Properties"] = props
            adaptations.append(Adaptation("converted", logical_id, rtype, reason))
        elif rtype in DROPPABLE:
            dropped[logical_id] = rtype
            adaptations.append(Adaptation("dropped", logical_id, rtype, DROPPABLE[rtype]))
        else:
            raise DeployError(
                f"{logical_id}: moto's CloudFormation cannot create {rtype}, and the demo has no faithful "
                "local substitute for it"
            )

    changed = True
    while changed:  # resources that refer to dropped ones
        changed = False
        for logical_id, resource in resources.items():
            if logical_id in dropped:
                continue
            refs = {r for r, _ in references(resource)} | _depends_on(resource)
            hit = sorted(refs & set(dropped))
            if not hit:
                continue
            rtype = resource["Type"]
            if rtype in DROPPABLE_DEPENDANTS:
                dropped[logical_id] = rtype
                adaptations.append(Adaptation(
                    "dropped", logical_id, rtype,
                    f"{DROPPABLE_DEPENDANTS[rtype]}; it refers to {', '.join(hit)}, which moto cannot create",
                ))
                changed = True
            else:
                raise DeployError(f"{logical_id} ({rtype}) refers to {', '.join(hit)}, which moto cannot create")
    for logical_id in dropped:
        resources.pop(logical_id, None)
    for name, output in list(out.get("Outputs", {}).items()):
        hit = sorted({r for r, _ in references(output)} & set(dropped))
        if hit:
            del out["Outputs"][name]
            adaptations.append(Adaptation("output-dropped", name, "Output", f"refers to {', '.join(hit)}"))
    return out, adaptations


# --- publishing and deploying ------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _zip_directory(path: str, mtime_key: float) -> bytes:
    """A directory as a zip (sorted entries, fixed timestamps, so the same tree gives the same bytes)."""
    del mtime_key  # only part of the cache key
    buffer = io.BytesIO()
    root = Path(path)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath) / name
                info = zipfile.ZipInfo(full.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (full.stat().st_mode & 0o777 | 0o100000) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, full.read_bytes())
    return buffer.getvalue()


def asset_bytes(outdir: Path, asset: Dict[str, Any]) -> bytes:
    source = Path(outdir) / asset["source"]["path"]
    if asset["source"].get("packaging") == "zip":
        if not source.is_dir():
            raise DeployError(f"asset directory {source} not found")
        return _zip_directory(str(source), source.stat().st_mtime)
    return source.read_bytes()


def _substitute(text: str, account: str, region: str) -> str:
    return (text.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            .replace("${AWS::Partition}", "aws"))


def _ensure_bucket(s3: Any, bucket: str, region: str, created: Set[str]) -> None:
    if bucket in created:
        return
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:
        kwargs: Dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
    created.add(bucket)


def publish_assets(moto: MotoServer, assembly: CloudAssembly) -> List[PublishedAsset]:
    """Bootstrap bucket(s) plus every file asset, as ``cdk deploy`` publishes them."""
    if assembly.assets.get("dockerImages"):
        raise DeployError("the stack has container image assets; the local demo cannot publish those")
    s3 = moto.client("s3")
    created: Set[str] = set()
    published = []
    for asset_id, asset in assembly.assets.get("files", {}).items():
        body = asset_bytes(assembly.outdir, asset)
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        for dest in asset["destinations"].values():
            bucket = _substitute(dest["bucketName"], moto.account_id, moto.region)
            key = _substitute(dest["objectKey"], moto.account_id, moto.region)
            _ensure_bucket(s3, bucket, moto.region, created)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            published.append(PublishedAsset(asset_id, asset.get("displayName", asset_id), f"s3://{bucket}/{key}",
                                            len(body), digest))
    return published


def _bootstrap_parameter(moto: MotoServer, assembly: CloudAssembly) -> Optional[str]:
    """The bootstrap version parameter the template reads (set to the version the assembly requires)."""
    wanted = {p.get("Default") for p in assembly.template.get("Parameters", {}).values()
              if str(p.get("Type", "")).startswith("AWS::SSM::Parameter::Value")}
    name = assembly.bootstrap_parameter
    if not name or name not in wanted:
        return None
    version = str(assembly.bootstrap_version or 6)
    moto.client("ssm").put_parameter(Name=name, Value=version, Type="String", Overwrite=True)
    return f"{name}={version}"


def _register_state_machines(moto: MotoServer, resources: Dict[str, Dict[str, str]]) -> List[Adaptation]:
    """Read the state machines moto's CloudFormation created and register them, unchanged, with moto's
    Step Functions interpreter (which keeps its own registry)."""
    sfn = moto.client("stepfunctions")
    machines = {lid: r for lid, r in resources.items() if r["type"] == "AWS::StepFunctions::StateMachine"}
    described = {lid: sfn.describe_state_machine(stateMachineArn=r["physical"]) for lid, r in machines.items()}
    moto.configure({"stepfunctions": {"execute_state_machine": True}})
    out = []
    for lid, machine in described.items():
        created = sfn.create_state_machine(
            name=machine["name"], definition=machine["definition"], roleArn=machine["roleArn"],
            type=machine.get("type", "STANDARD"),
        )
        if created["stateMachineArn"] != machine["stateMachineArn"]:
            raise DeployError(
                f"{lid}: registered as {created['stateMachineArn']}, deployed as {machine['stateMachineArn']}"
            )
        out.append(Adaptation(
            "registered", lid, "AWS::StepFunctions::StateMachine",
            "moto's CloudFormation puts state machines in its plain Step Functions backend; read back with "
            "DescribeStateMachine and registered unchanged (definition, role, same ARN) with moto's "
            "interpreter so executions run",
        ))
    return out


def _check_applied(moto: MotoServer, deployed_template: Dict[str, Any],
                   resources: Dict[str, Dict[str, str]]) -> List[Adaptation]:
    """Properties moto's CloudFormation accepted but did not apply (reported, not worked around)."""
    notes = []
    ddb = moto.client("dynamodb")
    for lid, resource in deployed_template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table" or lid not in resources:
            continue
        ttl = resource.get("Properties", {}).get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            status = ddb.describe_time_to_live(TableName=resources[lid]["physical"])["TimeToLiveDescription"]
            if status.get("TimeToLiveStatus") != "ENABLED":
                notes.append(Adaptation(
                    "not-applied", lid, "AWS::DynamoDB::Table",
                    f"TimeToLiveSpecification ({ttl.get('AttributeName')}): moto's CloudFormation ignores it; items "
                    "still carry the attribute, and moto expires nothing anyway",
                ))
    return notes


def deploy_stack(moto: MotoServer, outdir: Path, stack_name: str) -> DeployedStack:
    """Publish, adapt, create the stack in moto and read back what was created."""
    timings: Dict[str, float] = {}
    started = time.monotonic()
    assembly = CloudAssembly.load(outdir, stack_name)
    # Lambda without Docker (moto's "lambda-simple" backend) must be chosen before the function exists.
    moto.configure({"lambda": {"use_docker": False}})
    assets = publish_assets(moto, assembly)
    bootstrap = _bootstrap_parameter(moto, assembly)
    timings["publish"] = time.monotonic() - started

    deployed_template, adaptations = adapt_template(assembly.template, moto.region)
    cfn = moto.client("cloudformation")
    t0 = time.monotonic()
    try:
        stack_id = cfn.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(deployed_template),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )["StackId"]
    except Exception as err:
        raise DeployError(f"CreateStack {stack_name} failed: {err}") from None
    status, reason = "", None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status, reason = stack["StackStatus"], stack.get("StackStatusReason")
        if not status.endswith("_IN_PROGRESS"):
            break
        time.sleep(0.1)
    if status != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                  if e["ResourceStatus"].endswith("FAILED")]
        raise DeployError(f"stack {stack_name} ended {status} ({reason}); {'; '.join(failed) or 'no failed resource'}")
    timings["create_stack"] = time.monotonic() - t0

    resources = {
        r["LogicalResourceId"]: {"type": r["ResourceType"], "physical": r.get("PhysicalResourceId", "")}
        for r in cfn.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    }
    missing = sorted(set(deployed_template["Resources"]) - set(resources))
    if missing:
        raise DeployError(f"moto's CloudFormation reported CREATE_COMPLETE without creating {', '.join(missing)}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    adaptations += _register_state_machines(moto, resources)
    adaptations += _check_applied(moto, deployed_template, resources)
    timings["total"] = time.monotonic() - started
    deployed = DeployedStack(
        stack_name=stack_name,
        stack_id=stack_id,
        status=status,
        outputs=outputs,
        resources=resources,
        template=assembly.template,
        deployed_template=deployed_template,
        adaptations=adaptations,
        assets=assets,
        assembly=assembly,
        seconds=timings,
        bootstrap=bootstrap,
    )
    return deployed


def resolve(stack: DeployedStack, moto: MotoServer, value: Any) -> Any:
    """A template value of a deployed resource, resolved the way CloudFormation would (the subset the demo
    reads: literals, ``Ref`` and ``Fn::GetAtt ... Arn`` of queues, topics and functions)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(fn, arg)] = value.items()
        if fn == "Ref":
            return stack.physical_id(arg)
        if fn == "Fn::GetAtt" and arg[1] == "Arn":
            rtype = stack.resources[arg[0]]["type"]
            physical = stack.physical_id(arg[0])
            if rtype == "AWS::SQS::Queue":
                attrs = moto.client("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
                return attrs["Attributes"]["QueueArn"]
            if rtype == "AWS::Lambda::Function":
                return moto.client("lambda").get_function_configuration(FunctionName=physical)["FunctionArn"]
            if rtype == "AWS::SNS::Topic":
                return physical
    raise DeployError(f"cannot resolve {json.dumps(value)} locally")
