"""What a load measured about each study. Times are seconds since the load started."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["waiting", "sending", "acknowledged", "visible", "failed"]


@dataclass
class StudyRecord:
    """One study of a load: when it was due, when its first byte went out, when the target
    acknowledged its last instance and when the verifier saw every instance of it."""

    index: int
    study_instance_uid: str
    patient_id: str
    accession_number: str
    sop_instance_uids: list[str]
    due: float
    sent_at: float | None = None
    acked_at: float | None = None
    visible_at: float | None = None
    statuses: list[int | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed_at: float | None = None
    worker: str | None = None  # the ``--dask`` worker that sent it (None: a local load)
    measured: bool = True  # False: its worker died before reporting it (never credited)

    @property
    def state(self) -> State:
        if self.errors:
            return "failed"
        if self.visible_at is not None:
            return "visible"
        if self.acked_at is not None:
            return "acknowledged"
        return "sending" if self.sent_at is not None else "waiting"

    @property
    def latency(self) -> float | None:
        """First byte sent → every instance visible (None until then, or when it failed)."""
        if self.visible_at is None or self.sent_at is None or self.errors:
            return None
        return self.visible_at - self.sent_at

    @property
    def lateness(self) -> float | None:
        """How long after its due time the first byte went out."""
        return None if self.sent_at is None else max(0.0, self.sent_at - self.due)

    def fail(self, at: float, reason: str) -> None:
        self.errors.append(reason)
        if self.failed_at is None:
            self.failed_at = at

    def not_measured(self, reason: str) -> None:
        """Nothing is known of this study (its worker died): failed, never credited."""
        self.measured = False
        self.sent_at = self.acked_at = self.visible_at = None
        self.statuses = []
        self.errors = [f"not measured: {reason}"]

    def fields(self) -> dict[str, Any]:
        """Every field, unrounded (how a worker hands its records to the client)."""
        return dict(vars(self))

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        where = {} if self.worker is None else {"worker": self.worker, "measured": self.measured}
        return {
            "index": self.index,
            **where,
            "state": self.state,
            "study_instance_uid": self.study_instance_uid,
            "patient_id": self.patient_id,
            "accession_number": self.accession_number,
            "sop_instance_uids": self.sop_instance_uids,
            "due": r(self.due),
            "sent_at": r(self.sent_at),
            "acked_at": r(self.acked_at),
            "visible_at": r(self.visible_at),
            "latency": r(self.latency),
            "lateness": r(self.lateness),
            "statuses": self.statuses,
            "errors": self.errors,
        }
