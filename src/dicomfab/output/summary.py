"""A dataset in a line: its patients, studies, files, IODs and transfer syntaxes, read from its
manifest (``dicomfab summary`` and the UI's dataset list)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dicomfab.builder import transfer
from dicomfab.errors import DicomfabError
from dicomfab.output.manifest import Manifest


def load_manifest(path: Path) -> Manifest:
    """A dataset's manifest.json, or a DicomfabError naming the file."""
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DicomfabError(f"{path}: not a dicomfab manifest ({exc})") from None


@dataclass(frozen=True)
class DatasetSummary:
    dataset: str
    patients: int
    studies: int
    instances: int
    files: int
    bytes: int
    iods: dict[str, int]
    transfer_syntaxes: dict[str, int]


def summarise(manifest: Manifest) -> DatasetSummary:
    """What ``dicomfab summary`` and the UI's dataset list show of one dataset."""
    instances = manifest.instances()
    ts_names = {ts.uid: ts.name for ts in transfer.REGISTRY}
    return DatasetSummary(
        dataset=manifest.dataset,
        patients=len(manifest.patients),
        studies=sum(len(p.studies) for p in manifest.patients),
        instances=len(instances),
        files=sum(i.written for i in instances),
        bytes=sum(i.size or 0 for i in instances),
        iods=dict(Counter(i.iod for i in instances)),
        transfer_syntaxes=dict(
            Counter(ts_names.get(i.transfer_syntax, i.transfer_syntax) for i in instances)
        ),
    )
