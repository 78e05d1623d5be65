"""What a verifier should observe for a generated dataset: the manifest as ObservedInstances."""

from __future__ import annotations

from dicomfab.output.manifest import Manifest
from dicomfab.targets.observations import ObservedInstance


def expected_observations(manifest: Manifest, *, names: bool = True) -> dict[str, ObservedInstance]:
    """Every instance of ``manifest`` as a verifier should see it (``names``: with PatientName,
    for verifiers that return it)."""
    return {
        inst.sop_instance_uid: ObservedInstance(
            sop_instance_uid=inst.sop_instance_uid,
            study_instance_uid=study.study_instance_uid,
            series_instance_uid=series.series_instance_uid,
            patient_id=patient.patient_id,
            patient_name=patient.name if names else None,
            accession_number=study.accession_number,
            modality=series.modality,
            sop_class_uid=inst.sop_class_uid,
            instance_number=str(inst.attributes["InstanceNumber"]),
        )
        for patient in manifest.patients
        for study in patient.studies
        for series in study.series
        for inst in series.instances
    }
