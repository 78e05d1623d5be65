"""Mammography views (PS3.16 CID 4014, SNOMED CT codes) and how each one is oriented.

PatientOrientation follows the IHE Mammography profile: left-breast images have the chest wall on
the left of the image (rows run anterior, ``A``), right-breast images mirror that (``P``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    name: str  # e.g. "RMLO"
    laterality: str  # "R" | "L"
    position: str  # ACR MQCM ViewPosition: CC, MLO, ML, …
    code: str  # SNOMED CT code value
    meaning: str
    oblique: bool  # the pectoral muscle shows in the upper corner

    @property
    def patient_orientation(self) -> list[str]:
        row = "A" if self.laterality == "L" else "P"
        if self.position in ("CC", "XCCL", "XCCM"):
            return [row, "R" if self.laterality == "L" else "L"]
        if self.oblique:
            return [row, "FR" if self.laterality == "L" else "FL"]
        return [row, "F"]


_BASE = {
    "CC": ("399162004", "cranio-caudal", False),
    "MLO": ("399368009", "medio-lateral oblique", True),
    "ML": ("399260004", "medio-lateral", False),
    "LM": ("399352003", "latero-medial", False),
    "LMO": ("399099002", "latero-medial oblique", True),
    "XCCL": ("399192008", "cranio-caudal exaggerated laterally", False),
    "XCCM": ("399101009", "cranio-caudal exaggerated medially", False),
}

VIEWS: dict[str, View] = {
    f"{side}{pos}": View(f"{side}{pos}", side, pos, code, meaning, oblique)
    for pos, (code, meaning, oblique) in _BASE.items()
    for side in ("R", "L")
}

SCREENING_VIEWS = ("RCC", "LCC", "RMLO", "LMLO")
