"""Systems under test: how data goes in (ingestors) and the embedded default target."""

from __future__ import annotations

from dicomfab.targets.cstore import CStoreIngestor
from dicomfab.targets.embedded import EmbeddedPACS
from dicomfab.targets.receipt import Ingestor, InstanceResult, Outcome, Receipt

__all__ = ["CStoreIngestor", "EmbeddedPACS", "Ingestor", "InstanceResult", "Outcome", "Receipt"]
