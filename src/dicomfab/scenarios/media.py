"""A scenario's studies on a CD or USB stick: ``media/`` beside ``dicoms/`` (``Scenario.media``).

The chosen studies' files move from ``dicoms/`` into ``media/`` and become a File-set there
(:func:`dicomfab.output.media.write_media`: ``DICOMDIR`` and ``DICOM/PT…/ST…/SE…/IM…``, with the
junk real media carries if asked). The medium holds nothing else — no records, no manifest: the
dataset's top-level manifest lists its files as ``media/DICOM/…`` and its junk as ``extras``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from dicomfab.builder.plan_model import Plan
from dicomfab.errors import Issue, SpecError, shorten_text
from dicomfab.output.manifest import Manifest
from dicomfab.output.media import write_media
from dicomfab.output.paths import confined
from dicomfab.scenarios import selectors
from dicomfab.scenarios.model import Media

MEDIA_PART = "media"  # the medium's folder inside the dataset


def media_study_uids(media: Media, plan: Plan, source: str = "") -> set[str]:
    """The StudyInstanceUIDs of the studies on the medium; a :class:`SpecError` naming
    ``media.studies[i]`` for a selector that selects nothing or is not a study's."""
    if media.studies is None:
        return {s.uid for p in plan.patients for s in p.studies}
    out: set[str] = set()
    for i, text in enumerate(media.studies):
        path = f"media.studies[{i}]"
        try:
            selector = selectors.parse(text)
            if not selector.is_study:
                raise selectors.SelectorError(
                    f"{shorten_text(text)} selects instances: a medium holds whole studies "
                    "(write the study, e.g. external_prior)"
                )
            out.update(s.uid for s in selectors.studies(selector, plan))
        except selectors.SelectorError as exc:
            raise SpecError(Issue(path, str(exc)), source=source) from None
    return out


def write_media_part(
    root: Path, plan: Plan, manifest: Manifest, study_uids: set[str], *, junk: bool
) -> None:
    """Move the studies ``study_uids`` from ``root/dicoms`` onto a medium in ``root/media``;
    their manifest entries' ``file`` paths (and the junk, as ``extras``) follow."""
    part = confined(root, MEDIA_PART)
    part_manifest = manifest.model_copy(update={"patients": []})
    for patient in manifest.patients:
        chosen = [s for s in patient.studies if s.study_instance_uid in study_uids]
        if chosen:  # the same study entries: write_media rewrites their files' paths in place
            part_manifest.patients.append(patient.model_copy(update={"studies": chosen}))
    folders = {
        PurePosixPath(inst.file).parts[1]
        for inst in part_manifest.instances()
        if inst.written and PurePosixPath(inst.file).parts[0] == "dicoms"
    }
    confined(part, "dicoms").mkdir(parents=True)
    for folder in sorted(folders):
        confined(root, "dicoms", folder).rename(confined(part, "dicoms", folder))
    on_medium = [i for i in part_manifest.instances() if i.written]
    write_media(part, plan, part_manifest, junk=junk)
    for inst in on_medium:  # an instance never written keeps its planned dicoms/ path
        inst.file = f"{MEDIA_PART}/{inst.file}"
    manifest.extras = sorted(
        [*manifest.extras, *(f"{MEDIA_PART}/{n}" for n in part_manifest.extras)]
    )
    dicoms = root / "dicoms"
    if dicoms.exists() and not any(dicoms.iterdir()):
        dicoms.rmdir()
