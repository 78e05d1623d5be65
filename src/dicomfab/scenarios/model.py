"""What a scenario is: a named, documented spec with its declared defects and expected outcome.

Scenarios are data (one YAML file each under ``scenarios/library/``); this module is their schema.

    Scenario ─ name, title, category, tags, description, why, sources, aliases
             ├ parameters  (name → default; overridable by --set / --params / site profiles)
             ├ base + spec (a base spec from library/_bases, deep-merged with the scenario's own)
             ├ defects[]   (what is broken, where: spec changes and/or a file mutation)
             ├ datasets / media (how the output is laid out: sub-datasets, a CD/USB medium)
             └ expect      (what a correct ingestion does, per study, per instance and per group
                            of copies sharing a SOP Instance UID; ``when`` cases for parameter
                            values)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dicomfab.output.manifest import NotObservable
from dicomfab.studyspec.models import Content, PixelOptions, Reference

Outcome = Literal[
    "accept", "normalise", "warn", "exclude", "quarantine", "reject", "link", "no-link"
]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
INSTANCE_OUTCOMES = ("accept", "normalise", "warn", "exclude", "quarantine", "reject")
STUDY_OUTCOMES = (*INSTANCE_OUTCOMES, "link", "no-link")

CopyRule = Literal["one", "first", "second"]
"""Of copies sharing one SOP Instance UID, which the system keeps: exactly ``one`` of them (any),
the ``first`` or the ``second`` sent (the order of the manifest, which is the order of ingest)."""
COPY_RULES: tuple[str, ...] = CopyRule.__args__  # type: ignore[attr-defined]
COPY_JOIN = "+"  # joins the selectors of one group of copies: current.first+current.last

Category = Literal[
    "clean",
    "pixel-encoding",
    "identifiers",
    "demographics",
    "study-structure",
    "private-tags",
    "transfer-syntax",
    "file-format",
    "dates-times",
    "multi-frame",
    "sr-cad-presentation",
    "network",
]


#: the record fields a defect can keep at their planned value (``Defect.record_keeps``)
KeptField = Literal[
    "first_name",
    "last_name",
    "date_of_birth",
    "patient_id",
    "study_date",
    "accession_number",
    "study_description",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parameter(_Model):
    default: Any = None
    description: str = ""


class Mutation(_Model):
    """A file-level change made after the file is written (see ``scenarios.mutations``)."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Defect(_Model):
    """One deliberate fault. ``at`` selects where (see ``scenarios.selectors``); the spec fields
    are applied there (permissive unless ``permissive: false``); ``mutation`` changes the written
    file. ``changes`` lists the attributes that differ from the clean twin (default: the keys of
    ``tags`` and ``remove_tags``); ``dciodvfy`` the error texts the defect explains."""

    at: str
    what: str
    tags: dict[str, Any] = Field(default_factory=dict)
    remove_tags: list[str] = Field(default_factory=list)
    iod: str | None = None
    transfer_syntax: str | None = None
    pixels: PixelOptions | None = None
    references: list[Reference] | None = Field(
        None, description="what a derived object refers to instead (see the spec's references)"
    )
    content: Content | None = Field(
        None, description="content fields of a derived object to change"
    )
    skip_writing: bool | None = None
    file_name: str | None = None
    sop_instance_uid: str | None = None
    study_uid: str | None = Field(
        None,
        description="the StudyInstanceUID of the study ``at`` selects (a study selector), e.g. "
        "${uid:NAME} shared with another patient's study",
    )
    permissive: bool = True
    mutation: Mutation | None = None
    changes: list[str] | None = Field(
        None, description="attributes that differ from the clean twin; ['*'] = the whole file"
    )
    record: dict[str, Any] = Field(
        default_factory=dict, description="fields of the companion record to change"
    )
    record_keeps: list[KeptField] = Field(
        default_factory=list,
        description="fields of the companion record that keep the planned value (what the order "
        "side knows) though the files say otherwise, e.g. [patient_id] for an empty PatientID",
    )
    dciodvfy: list[str] = Field(default_factory=list)
    readable: bool = Field(True, description="pydicom can still read the file")


class ExpectCase(_Model):
    """Outcomes that hold when the scenario's parameters have the given values, e.g. a link that
    depends on what the site declares: ``{parameters: {single_id_domain: false}, studies:
    {prior: no-link}, note: ...}``. Its mappings are laid over the expectation's (key by key),
    its defaults and note replace them."""

    parameters: dict[str, Any] = Field(
        min_length=1, description="parameter → value; all must match"
    )
    default: Outcome | None = None
    study_default: Outcome | None = None
    studies: dict[str, Outcome] = Field(default_factory=dict)
    instances: dict[str, Outcome] = Field(default_factory=dict)
    note: str = ""

    def matches(self, values: Mapping[str, Any]) -> bool:
        return all(
            name in values and values[name] == want for name, want in self.parameters.items()
        )


class Expectation(_Model):
    """What a correct ingestion does. ``studies`` and ``instances`` map selectors to outcomes;
    whatever they do not name gets ``default`` (instances) or ``study_default`` (studies).
    ``copies`` maps a group of instances that share one SOP Instance UID (their selectors joined
    by ``+``) to which of them the system keeps: a system holds one record per UID, so their
    presence is decided as a group, by the attribute that tells them apart (InstanceNumber).

    ``not_observable`` maps selectors (a study selector marks the study's own verdict, an
    instance selector its instances) to why no index can show that outcome: a reason, or
    ``{reason, ingest: [kinds]}`` when it holds only for those ingest kinds."""

    default: Outcome = "accept"
    study_default: Outcome = "accept"
    studies: dict[str, Outcome] = Field(default_factory=dict)
    instances: dict[str, Outcome] = Field(default_factory=dict)
    copies: dict[str, CopyRule] = Field(
        default_factory=dict,
        description="copies of one SOP Instance UID (selectors joined by +, e.g. "
        "current.first+current.last) → which one is stored: one, first or second (as sent)",
    )
    not_observable: dict[str, str | NotObservable] = Field(default_factory=dict)
    note: str = ""
    when: list[ExpectCase] = Field(
        default_factory=list,
        description="outcomes for given parameter values, laid over these in order (the last "
        "matching case wins a key)",
    )

    def for_values(self, values: Mapping[str, Any]) -> Expectation:
        """The expectation for these parameter values: every matching ``when`` case laid over
        it, in order; without ``when`` cases in the result (they are decided)."""
        out = self.model_copy(update={"when": []})
        for case in self.when:
            if case.matches(values):
                out = out.model_copy(
                    update={
                        "default": case.default or out.default,
                        "study_default": case.study_default or out.study_default,
                        "studies": {**out.studies, **case.studies},
                        "instances": {**out.instances, **case.instances},
                        "note": case.note or out.note,
                    }
                )
        return out

    def unobservable(self) -> dict[str, NotObservable]:
        """``not_observable`` with every plain reason as a :class:`NotObservable`."""
        return {
            key: NotObservable(reason=value) if isinstance(value, str) else value
            for key, value in self.not_observable.items()
        }


class Media(_Model):
    """Studies written as a CD or USB stick holds them (IHE PDI; a PS3.10 File-set): in the
    folder ``media/`` of the dataset, a ``DICOMDIR`` and a ``DICOM/PT…/ST…/SE…/IM…`` tree;
    the other studies stay in ``dicoms/``. File mutations then apply to the files on the
    medium: a ``skip_file`` there leaves the DICOMDIR naming a file that is not on it."""

    studies: list[str] | None = Field(
        None, description="study selectors of the studies on the medium (default: every study)"
    )
    junk: bool = Field(
        False, description="add the non-DICOM files media carries (.DS_Store, AUTORUN.INF, …)"
    )


class Scenario(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    title: str
    category: Category
    tags: list[str] = Field(default_factory=list)
    description: str
    why: str = ""
    sources: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list, description="older names users still type")
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    base: str | None = "screening"
    spec: dict[str, Any] = Field(default_factory=dict)
    defects: list[Defect] = Field(default_factory=list)
    expect: Expectation = Field(default_factory=Expectation)
    network: str | None = Field(
        None, description="for network-level faults no file can carry: what the runner does"
    )
    datasets: dict[str, list[str]] = Field(
        default_factory=dict,
        description="split the output into sub-datasets: folder name → study selectors "
        "(e.g. external_priors_only: [external_prior]); each gets dicoms/, jsons/, manifest.json",
    )
    media: Media | None = Field(
        None, description="studies written as a CD/USB medium with a DICOMDIR, in media/"
    )

    @model_validator(mode="after")
    def _one_layout(self) -> Scenario:
        if self.media is not None and self.datasets:
            raise ValueError("media and datasets do not combine: choose one way to split")
        return self

    @property
    def clean(self) -> bool:
        return not self.defects
