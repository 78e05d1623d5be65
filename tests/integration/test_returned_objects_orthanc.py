"""The objects that come back into a breast-imaging study (issue 14: presentation states, key
objects and IOCM rejection notes, CAD/AI reports, segmentations, AI captures, projections,
concatenations, HTJ2K, media) and the study-level cases that came with them, end to end on the
session's real Orthanc 1.10 + PostgreSQL (C-STORE in, SQL out), with decided verdicts: every
scenario meets its expectations, or the target's declared deviations
(examples/targets/orthanc-postgres.toml), each with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_run_targets import ORTHANC_TOML, assert_passed, env, run  # noqa: F401 (fixture)

from dicomfab.scenarios import scenarios

RETURNED = (
    "gsps_with_images,gsps_references_missing_image,kos_key_images,kos_rejection_after_images,"
    "kos_rejection_before_images,kos_incorrect_worklist_entry,kos_retention_expired,"
    "corrected_resend_after_rejection"
)
REPORTS = (
    "cad_sr_with_evidence,cad_sr_without_evidence,sr_references_missing_instance,"
    "sr_references_other_study,ai_sr_not_tid1500,ai_tid1500_measurement_report,"
    "seg_binary_and_fractional,seg_referenced_instance_missing,seg_referenced_frame_missing,"
    "ai_sc_burned_in,"
    "ai_sc_without_burned_in_annotation"
)
STUDY_LEVEL = (
    "pdi_media_import,media_junk_files,media_dicomdir_missing_file,corrected_resend_same_uids,"
    "patient_merge_split,mixed_modality_accession,study_spanning_midnight"
)
IMAGES = "htj2k_lossless,htj2k_not_accepted,bpxr_with_dbt,bpxr_without_dbt,dbt_concatenation"
GROUPS = {
    "returned": (RETURNED, 7201),
    "study-level": (STUDY_LEVEL, 7202),
    "images": (IMAGES, 7203),
    "reports": (REPORTS, 7204),
}


def test_every_scenario_named_here_exists() -> None:
    known = scenarios()
    for names, _ in GROUPS.values():
        assert [n for n in names.split(",") if n not in known] == []


@pytest.mark.parametrize("group", list(GROUPS))
def test_returned_objects_on_orthanc(env: dict[str, str], tmp_path: Path, group: str) -> None:  # noqa: F811
    names, seed = GROUPS[group]
    result = run(ORTHANC_TOML, "orthanc", seed, env, tmp_path, names)
    assert_passed(result, names)
