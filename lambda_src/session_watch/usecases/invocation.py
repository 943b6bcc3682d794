"""What one invocation carries through the use cases: its time, its lease, how it reads, its outbox, and
the claims it already holds (so that one batch never waits on its own lease)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Set, Tuple

from ..domain.keys import ClaimKey
from ..domain.record import Record
from .leases import Outbox
from .reads import SingleReads


@dataclass
class Invocation:
    now: float
    #: How long a claim this invocation takes stays its own (its remaining time, plus a margin).
    lease_seconds: float
    reads: SingleReads
    outbox: Outbox
    #: (jobId, sessionActionId, status) this invocation has claimed or joined to a digest, records and
    #: root causes alike: a second message about the same status in the same batch is a duplicate, not
    #: "another invocation is publishing it".
    claims: Dict[ClaimKey, Record] = field(default_factory=dict)
    #: Terminal task runs saved by this invocation, for the suspect-worker counters: (record, counted):
    #: counted when its save was new (a redelivery is only re-checked, never counted again).
    worker_runs: List[Tuple[Record, bool]] = field(default_factory=list)
    #: Ledger items (jobId, digestKey) whose publishing lease this invocation took for a batch of flushes.
    leases: Set[Tuple[str, str]] = field(default_factory=set)

    @property
    def lease_until(self) -> float:
        return self.now + self.lease_seconds
