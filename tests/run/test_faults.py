"""A target that dies mid-ingest: what was sent and acknowledged before the fault is in every
report, per scenario; the C-STORE timeout is set per target."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from pathlib import Path

from dicomfab.errors import TargetError
from dicomfab.run.pipeline import EXIT_TARGET, QuietProgress, RunRequest, execute
from dicomfab.scenarios import ScenarioRequest
from dicomfab.targets.config import Target, Targets
from dicomfab.targets.cstore import ADAPTER, CStoreIngest, CStoreIngestor
from dicomfab.targets.embedded import EmbeddedPACS
from dicomfab.targets.registry import Context

SCENARIOS = ["bits_consistent", "pr_bits_mismatch"]
SMALL = {"image_size": "small"}


class KillAfter(QuietProgress):
    """Stops the target (a real qrscp) once ``n`` files have been ingested."""

    def __init__(self, pacs: EmbeddedPACS, n: int) -> None:
        self.pacs, self.n, self.done, self.stage = pacs, n, 0, ""
        self.lock = threading.Lock()

    def begin(self, stage: str, total: int | None = None) -> None:
        self.stage = stage

    def advance(self, n: int = 1) -> None:
        with self.lock:
            self.done += n if self.stage == "ingest" else 0
            if self.stage == "ingest" and self.done >= self.n and self.pacs.running:
                self.pacs.stop()


def test_a_target_dying_mid_ingest_is_reported_with_what_it_acknowledged(
    tmp_path: Path,
) -> None:
    with EmbeddedPACS(tmp_path / "pacs") as pacs:
        target = Target.model_validate(
            {
                "ingest": {
                    "kind": "cstore",
                    "port": pacs.port,
                    "called_ae": pacs.ae_title,
                    "associations": 1,
                },
                "verify": {"kind": "cfind", "port": pacs.port, "called_ae": pacs.ae_title},
            }
        )
        request = RunRequest(
            [ScenarioRequest(n, SMALL) for n in SCENARIOS],
            "pacs",
            Targets({"pacs": target}, set(), None),
            runs_dir=tmp_path / "runs",
        )
        outcome = execute(request, KillAfter(pacs, 3))
    assert outcome.exit_code == EXIT_TARGET
    assert outcome.error is not None and outcome.error.startswith("ingest: ")
    data = json.loads((outcome.run_dir / "reports/report.json").read_text())
    summary = data["summary"]
    assert summary["passed"] is False and summary["stopped"] is True
    assert summary["interrupted"] is False
    assert summary["stage"] == "ingest" and summary["signal"] is None
    assert summary["error"] == outcome.error
    assert [s["name"] for s in data["scenarios"]] == SCENARIOS
    assert {s["status"] for s in data["scenarios"]} == {"not run"}
    acknowledged = [d for s in data["scenarios"] for d in s["delivered"] if d["acknowledged"]]
    assert len(acknowledged) >= 3
    assert all(d["ingest"]["status"] == "0x0000" for d in acknowledged)
    assert sum(s["delivery"]["acknowledged"] for s in data["scenarios"]) == len(acknowledged)
    suite = ET.parse(outcome.run_dir / "reports/junit.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("errors") == "2"
    outs = [c.findtext("system-out") or "" for c in suite.findall("testcase")]
    assert any("acknowledged by the system" in text and "0x0000" in text for text in outs)
    page = (outcome.run_dir / "reports/report.html").read_text()
    assert "STOPPED during ingest by an error" in page and str(outcome.run_dir) in page


def test_cstore_fault_carries_the_partial_receipt(tmp_path: Path) -> None:
    from dicomfab import generate, parse_spec

    spec = {"defaults": {"pixels": {"rows": 64, "columns": 48}}, "patients": [{}, {}]}
    result = generate(parse_spec(spec), tmp_path / "gen", workers=1)
    files = sorted(result.path.glob("dicoms/*/*.dcm"))
    with EmbeddedPACS(tmp_path / "pacs") as pacs:
        ingestor = CStoreIngestor(pacs.host, pacs.port, pacs.ae_title, associations=1)
        sent: list[int] = []

        def progress(n: int) -> None:
            sent.append(n)
            if len(sent) == 2:
                pacs.stop()

        try:
            ingestor.ingest(files, progress)
        except TargetError as exc:
            partial = exc.partial
        else:
            raise AssertionError("no TargetError")
    assert partial is not None
    assert [r.outcome for r in partial.results][:2] == ["success", "success"]  # type: ignore[attr-defined]


def test_cstore_timeout_is_set_per_target(tmp_path: Path) -> None:
    config = CStoreIngest.model_validate(
        {"kind": "cstore", "port": 104, "called_ae": "PACS", "timeout": 7.5}
    )
    ingestor = ADAPTER.build(config, Context(tmp_path, tmp_path, ExitStack()))
    assert isinstance(ingestor, CStoreIngestor) and ingestor.timeout == 7.5
    assert ingestor._ae().dimse_timeout == 7.5 and ingestor._ae().acse_timeout == 7.5
    default = CStoreIngest.model_validate({"kind": "cstore", "port": 104, "called_ae": "PACS"})
    assert default.timeout == 30
    assert "30" in (CStoreIngest.model_fields["timeout"].description or "")
