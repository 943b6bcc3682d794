"""A job that failed before it ran (``Job Lifecycle Status Change`` to CREATE_FAILED or UPLOAD_FAILED) ->
one job-level failure message. Pure: no AWS, no I/O, no logging.

Such a job never reaches a run status, so no ``Job Run Status Change`` and no task event ever tells of it:
this message is all the wrangler gets. ``GetJob`` gives ``lifecycleStatusMessage`` (why it failed).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Sequence

from .. import names
from .enrichment import monitor_job_url
from .notification import (
    Notification,
    attribute_values,
    cut_text,
    dedupe,
    fit_message,
    fit_subject,
    job_text,
    json_text,
    not_included_text,
    rows_text,
    shrink,
)
from .requests import JobLifecycleChange

#: Characters of the lifecycle status message kept (GetJob's ``lifecycleStatusMessage``).
MESSAGE_LIMIT = 4096

_WHAT_TO_DO = {
    "CREATE_FAILED": ("Read the reason above: usually the job template or its parameters are invalid, or the "
                      "queue lacks a permission or a budget.",
                      "Fix the template or parameters and submit the job again (it never ran: nothing to requeue)."),
    "UPLOAD_FAILED": ("Read the reason above: the job attachments did not reach the queue's S3 bucket "
                      "(permissions, the bucket, the network of the submitting machine).",
                      "Submit the job again once the upload works (it never ran: nothing to requeue)."),
}


def render_job_lifecycle(change: JobLifecycleChange, *, job: Optional[Mapping[str, Any]], monitor_url: Optional[str],
                         missing: Sequence[str] = ()) -> Notification:
    """The job-level failure message of a job that failed before it ran. ``job`` is GetJob's answer
    (``name``, ``priority``, ``lifecycleStatus``, ``lifecycleStatusMessage``), or None when it could not
    be read (``missing`` says why)."""
    job = job or {}
    name = job.get("name") if isinstance(job.get("name"), str) else None
    message = job.get("lifecycleStatusMessage")
    doc: Dict[str, Any] = {
        "kind": names.KIND_JOB_LIFECYCLE,
        "farmId": change.farm_id,
        "queueId": change.queue_id,
        "jobId": change.job_id,
        "jobName": shrink(name, 256, 1),
        "jobPriority": job.get("priority"),
        "lifecycleStatus": change.lifecycle_status,
        "previousLifecycleStatus": change.previous_lifecycle_status,
        "lifecycleStatusMessage": cut_text(message, MESSAGE_LIMIT) if isinstance(message, str) else None,
        "monitorUrl": monitor_job_url(monitor_url, change.farm_id, change.queue_id, change.job_id),
        "whatToDo": list(_WHAT_TO_DO.get(change.lifecycle_status, ())),
        "notIncluded": [cut_text(str(m), 512) for m in dedupe(missing or ())][:10],
    }
    verb = {"CREATE_FAILED": "could not be created", "UPLOAD_FAILED": "could not upload its attachments"}.get(
        change.lifecycle_status, change.lifecycle_status.lower().replace("_", " "))
    subject = fit_subject("Deadline: ", str(name or change.job_id), f": job {verb} ({change.lifecycle_status})")
    default, email, body = fit_message(
        lambda d, note: (json_text(d), _email(d, subject, note)),
        doc,
        reductions=[lambda d: {k: shrink(v, 512, 10) for k, v in d.items()}],
        minimal=lambda d: {k: shrink(d.get(k), 128, 1) for k in ("kind", "farmId", "queueId", "jobId",
                                                                 "lifecycleStatus")},
    )
    attributes = attribute_values({"kind": names.KIND_JOB_LIFECYCLE, "outcome": "failure",
                                   "status": change.lifecycle_status, "farmId": change.farm_id,
                                   "queueId": change.queue_id, "jobId": change.job_id})
    return Notification(subject=subject, email=email, message=body, attributes=attributes, body=default,
                        chat=_chat(json.loads(default), verb))


def _email(doc: Mapping[str, Any], subject: str, note: Optional[str]) -> str:
    previous = doc.get("previousLifecycleStatus")
    blocks = [subject + "\n\n" + rows_text([
        ("Job", job_text(doc.get("jobName"), doc.get("jobPriority")) or doc.get("jobId")),
        ("Job id", doc.get("jobId") if doc.get("jobName") else None),
        ("Farm / queue", f"{doc.get('farmId')} / {doc.get('queueId')}"),
        ("Status", f"{doc.get('lifecycleStatus')}" + (f" (was {previous})" if previous else "")),
        ("Reason", doc.get("lifecycleStatusMessage")),
        ("Monitor", doc.get("monitorUrl")),
    ])]
    todo = doc.get("whatToDo") or []
    if todo:
        blocks.append("What to do:\n" + "".join(f"  - {t}\n" for t in todo))
    missing = not_included_text(doc.get("notIncluded"))
    if missing:
        blocks.append(missing + "\n")
    if note:
        blocks.append(note + "\n")
    return "\n".join(blocks)


def _chat(doc: Mapping[str, Any], verb: str) -> Dict[str, Any]:
    from .chat import custom_notification, thread_id

    job_id = str(doc.get("jobId"))
    name = doc.get("jobName") or job_id
    lines = [f"*Status:* {doc.get('lifecycleStatus')}", f"*Job:* {name}" + (f" (`{job_id}`)" if doc.get("jobName") else "")]
    if doc.get("lifecycleStatusMessage"):
        lines.append("*Reason:*\n```\n" + str(doc["lifecycleStatusMessage"])[:600].replace("```", "'''") + "\n```")
    if isinstance(doc.get("monitorUrl"), str) and doc["monitorUrl"].startswith("https://"):
        lines.append(f"*Job page:* [Deadline Cloud monitor]({doc['monitorUrl']})")
    return custom_notification(
        kind=names.KIND_JOB_LIFECYCLE, message_id=f"{job_id}:{doc.get('lifecycleStatus')}",
        thread=thread_id(job_id), title=f"\u274c {name}: job {verb}", description="\n".join(lines),
        next_steps=list(doc.get("whatToDo") or []), keywords=[str(doc.get("lifecycleStatus")), "job"],
        event_type="Job" + "".join(p.capitalize() for p in str(doc.get("lifecycleStatus")).split("_")),
        related=[job_id],
        context=[("kind", names.KIND_JOB_LIFECYCLE), ("farmId", doc.get("farmId")), ("queueId", doc.get("queueId")),
                 ("jobId", job_id), ("status", doc.get("lifecycleStatus"))],
    )
