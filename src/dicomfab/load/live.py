"""The live table of a load (rich ``Live`` on stderr), refreshed from the dispatching thread."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from dicomfab.load.report import latency_stats
from dicomfab.load.runner import LoadState


class LiveTable:
    def __init__(self, console: Console, studies: int) -> None:
        self.console = console
        self.studies = studies
        self.live = Live(self._table(None), console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveTable:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)
        if not self.console.is_terminal:
            self.console.line()  # what follows starts on its own line

    def update(self, state: LoadState) -> None:
        self.live.update(self._table(state))

    def _table(self, state: LoadState | None) -> Table:
        table = Table(title="dicomfab load", title_justify="left")
        columns = ("elapsed", "due", "sent", "acked", "visible", "failed", "p50", "p90", "p99",
                   "max", "late max", "inst/s")  # fmt: skip
        for column in columns:
            table.add_column(column, justify="right")
        if state is None:
            return table
        records = state.snapshot()
        now = state.now()
        due = sum(1 for r in records if r.due <= now)
        sent = [r for r in records if r.sent_at is not None]
        acked = [r for r in records if r.acked_at is not None]
        counts = {s: 0 for s in ("visible", "failed")}
        for r in records:
            if r.state in counts:
                counts[r.state] += 1
        stats = latency_stats([r.latency for r in records if r.latency is not None])
        lateness = max((r.lateness or 0.0 for r in sent), default=0.0)
        instances = sum(len(r.sop_instance_uids) for r in acked)
        first = min((r.sent_at or 0.0 for r in sent), default=0.0)
        rate = instances / (now - first) if acked and now > first else 0.0

        def sec(v: Any) -> str:
            return "–" if v is None else f"{v:.2f}s"

        table.add_row(
            f"{now:.1f}s", f"{due}/{self.studies}", str(len(sent)), str(len(acked)),
            str(counts["visible"]), str(counts["failed"]), sec(stats.get("p50")),
            sec(stats.get("p90")), sec(stats.get("p99")), sec(stats.get("max")), sec(lateness),
            f"{rate:.1f}",
        )  # fmt: skip
        return table
