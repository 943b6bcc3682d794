"""Key formats of the stored items (pure): digest windows, their index keys, job-level messages, claims.

History table items are keyed (``jobId``, ``sessionActionId``); a record in a digest window carries
``digestWindow`` = ``<jobId>#<windowStart>#<shard>`` (``byDigestWindow`` index). A window's records go
to ``DIGEST_SHARDS`` keys: one, so that its flush reads it with one Query. A partition key takes 1,000
writes a second ("Best practices for designing and using partition keys effectively", DynamoDB developer
guide); the event queue's ``maxConcurrency`` keeps one job's writes far below that. The window's ledger
item records the count it was opened with (``shards``); a window without it was opened when records were
spread over ``LEGACY_DIGEST_SHARDS`` keys, and its flush reads them all. Ledger items are keyed (``jobId``,
``digestKey``): ``window#<windowStart>`` for a digest window, ``jobrun#<status>#<fingerprint>`` for a
job-level message.
"""

from __future__ import annotations

import hashlib
import json
from typing import List, Mapping, NamedTuple, Optional

#: Digest windows opened now put their records under this many index keys.
DIGEST_SHARDS = 1
#: How many keys a window whose ledger item records no count used.
LEGACY_DIGEST_SHARDS = 8


class ClaimKey(NamedTuple):
    """What is published once: a session action's status."""

    job_id: str
    session_action_id: str
    status: str


def claim_key(record: Mapping[str, object]) -> ClaimKey:
    return ClaimKey(str(record["jobId"]), str(record["sessionActionId"]), str(record["status"]))


def window_start(now: float, window_seconds: int) -> int:
    """The start (epoch seconds) of the digest window ``now`` falls in."""
    return int(now // window_seconds) * window_seconds


def window_key(start: int) -> str:
    """The ledger's ``digestKey`` of a job's digest window."""
    return f"window#{start:010d}"


def job_run_key(status: str, counts: Mapping[str, int]) -> str:
    """The ledger's ``digestKey`` of a job-level message: one per job status and task counts."""
    text = json.dumps(dict(counts), sort_keys=True, separators=(",", ":"))
    return f"jobrun#{status}#{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def digest_window_keys(job_id: str, start: int, shards: int = DIGEST_SHARDS) -> List[str]:
    """Every ``byDigestWindow`` key of a job's window (one per shard)."""
    return [f"{job_id}#{start}#{shard}" for shard in range(shards)]


def digest_window_key(job_id: str, session_action_id: str, start: int, shards: int = DIGEST_SHARDS) -> str:
    """The ``byDigestWindow`` key of one record in a window (its shard comes from its id)."""
    shard = hashlib.sha256(session_action_id.encode("ascii", "replace")).digest()[0] % shards
    return digest_window_keys(job_id, start, shards)[shard]


def joined_window_start(digest_window: Optional[str]) -> Optional[int]:
    """The window start of a stored ``digestWindow`` key, or ``None``."""
    if not digest_window:
        return None
    parts = digest_window.split("#")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


# --- suspect workers and job-level bookkeeping --------------------------------------------------------
#: A worker's counters live in the ledger under the partition ``worker#<workerId>`` (the key attribute is
#: named ``jobId``; no job id starts with ``worker#``), one item ``suspect#<windowStart>`` per window.
WORKER_PARTITION_PREFIX = "worker#"
SUSPECT_KEY_PREFIX = "suspect#"
LIFECYCLE_KEY_PREFIX = "lifecycle#"


def worker_partition(worker_id: str) -> str:
    return WORKER_PARTITION_PREFIX + worker_id


def suspect_window_key(start: int) -> str:
    """The ledger's ``digestKey`` of a worker's counter (and suspect notification) for one window."""
    return f"{SUSPECT_KEY_PREFIX}{start:010d}"


def job_suspect_key(worker_id: str, start: int) -> str:
    """The ledger's ``digestKey`` that lists a suspect worker under a job it failed (partition: the job)."""
    return f"{SUSPECT_KEY_PREFIX}{worker_id}#{start:010d}"


def job_lifecycle_key(status: str) -> str:
    """The ledger's ``digestKey`` of a job's lifecycle failure message (CREATE_FAILED, UPLOAD_FAILED)."""
    return LIFECYCLE_KEY_PREFIX + status
