"""SQL profiles for real systems: the query that reads a system's own index, and a helper that
builds the :class:`~dicomfab.targets.verify_sql.SQLVerifier` for it.

    orthanc_postgres_verifier(host, port, database, user, password).observe(uids)
"""

from __future__ import annotations

from sqlalchemy.engine import URL

from dicomfab.targets.verify_sql import SQLVerifier

ORTHANC_POSTGRES_QUERY = """\
SELECT sop.value      AS sop_instance_uid,
       st_uid.value   AS study_instance_uid,
       se_uid.value   AS series_instance_uid,
       pat_id.value   AS patient_id,
       pat_name.value AS patient_name,
       acc.value      AS accession_number,
       modality.value AS modality,
       sop_class.value AS sop_class_uid,
       inum.value     AS instance_number
FROM unnest(CAST(:uids AS text[])) AS asked(uid)
JOIN dicomidentifiers sop
       ON sop.value = asked.uid AND sop.taggroup = 8 AND sop.tagelement = 24
JOIN resources inst    ON inst.internalid = sop.id
JOIN resources series  ON series.internalid = inst.parentid
JOIN resources study   ON study.internalid = series.parentid
LEFT JOIN dicomidentifiers se_uid
       ON se_uid.id = series.internalid AND se_uid.taggroup = 32 AND se_uid.tagelement = 14
LEFT JOIN dicomidentifiers st_uid
       ON st_uid.id = study.internalid AND st_uid.taggroup = 32 AND st_uid.tagelement = 13
LEFT JOIN dicomidentifiers acc
       ON acc.id = study.internalid AND acc.taggroup = 8 AND acc.tagelement = 80
LEFT JOIN dicomidentifiers pat_id
       ON pat_id.id = study.parentid AND pat_id.taggroup = 16 AND pat_id.tagelement = 32
LEFT JOIN dicomidentifiers pat_name
       ON pat_name.id = study.parentid AND pat_name.taggroup = 16 AND pat_name.tagelement = 16
LEFT JOIN maindicomtags modality
       ON modality.id = series.internalid AND modality.taggroup = 8 AND modality.tagelement = 96
LEFT JOIN metadata sop_class
       ON sop_class.id = inst.internalid AND sop_class.type = 10
LEFT JOIN maindicomtags inum
       ON inum.id = inst.internalid AND inum.taggroup = 32 AND inum.tagelement = 19
ORDER BY inst.internalid
"""
"""The profile for Orthanc 1.10 with the PostgreSQL index plugin 4.0 (database schema v6).

Orthanc keeps the hierarchy in ``resources`` (``resourcetype`` 0 patient, 1 study, 2 series,
3 instance; ``parentid`` points at the parent's ``internalid``) and the identifier tags in
``dicomidentifiers`` (decimal ``taggroup``/``tagelement``): SOPInstanceUID (8,24),
SeriesInstanceUID (32,14), StudyInstanceUID (32,13), AccessionNumber (8,80), PatientID (16,32),
PatientName (16,16). Modality (8,96) is a main tag of the series (``maindicomtags``),
InstanceNumber (32,19) one of the instance, and the SOP Class UID is instance metadata type 10.
The UIDs come as one array parameter (``unnest(CAST(:uids AS text[]))``, a batch of 5,000 per
statement), joined to ``dicomidentifiers`` on ``value``: PostgreSQL plans it in milliseconds
(``= ANY`` over a 5,000-element array took ~0.6 s to plan: a selectivity estimate per element,
and the trigram GIN index on ``value`` weighed for each) and picks the btree on ``value`` or on
``(taggroup, tagelement)`` by size; every other join is on a primary key or ``id`` index
(``benchmarks/verify.py`` prints the plan). There is no ``resourcetype`` filter: SOPInstanceUID
is an identifier of instance resources only, a resource's parent is of the level above, and the
redundant filters made the planner misjudge the row counts a hundredfold. A SOP Instance UID
that arrived under two PatientIDs is two instance resources: the rows come in the order Orthanc
stored them (``internalid``), so the one reported is the first copy stored, on every run.

The schema is private to Orthanc: later Orthanc and plugin versions changed it, so this query
is for the Debian 12 packages (Orthanc 1.10.1, orthanc-postgresql 4.0)."""


ORTHANC_POSTGRES_STUDY_QUERY = """\
SELECT st_uid.value   AS study_instance_uid,
       patient.publicid AS patient_entity,
       pat_id.value   AS patient_id,
       issuer.value   AS issuer_of_patient_id,
       pat_name.value AS patient_name,
       birth.value    AS patient_birth_date,
       sex.value      AS patient_sex
FROM unnest(CAST(:uids AS text[])) AS asked(uid)
JOIN dicomidentifiers st_uid
       ON st_uid.value = asked.uid AND st_uid.taggroup = 32 AND st_uid.tagelement = 13
JOIN resources study   ON study.internalid = st_uid.id
JOIN resources patient ON patient.internalid = study.parentid
LEFT JOIN maindicomtags pat_id
       ON pat_id.id = patient.internalid AND pat_id.taggroup = 16 AND pat_id.tagelement = 32
LEFT JOIN maindicomtags issuer
       ON issuer.id = patient.internalid AND issuer.taggroup = 16 AND issuer.tagelement = 33
LEFT JOIN maindicomtags pat_name
       ON pat_name.id = patient.internalid AND pat_name.taggroup = 16 AND pat_name.tagelement = 16
LEFT JOIN maindicomtags birth
       ON birth.id = patient.internalid AND birth.taggroup = 16 AND birth.tagelement = 48
LEFT JOIN maindicomtags sex
       ON sex.id = patient.internalid AND sex.taggroup = 16 AND sex.tagelement = 64
ORDER BY study.internalid
"""
"""Where each study landed in Orthanc (same versions as :data:`ORTHANC_POSTGRES_QUERY`): the
study's parent in ``resources`` is Orthanc's patient record; its ``publicid`` (the id of
``/patients/{id}`` in Orthanc's REST API) is the patient entity, and the patient's main DICOM
tags (``maindicomtags``, the values as received) give PatientID (16,32), PatientName (16,16),
PatientBirthDate (16,48) and PatientSex (16,64). Orthanc 1.10 does not index IssuerOfPatientID
(16,33), so ``issuer_of_patient_id`` is None here (the join is kept for later versions):
its patient is keyed on PatientID alone. A Study Instance UID that arrives under a second
PatientID becomes a second study resource under a second patient (a study's Orthanc id derives
from PatientID and the UID); the study is reported under the first one Orthanc made (lowest
``internalid``), each instance under the patient of its own study resource."""


def orthanc_postgres_verifier(
    host: str,
    port: int,
    database: str,
    user: str,
    password: str,
    *,
    batch: int | None = None,
    connect_timeout: float = 10.0,
) -> SQLVerifier:
    """A verifier reading Orthanc's PostgreSQL index with :data:`ORTHANC_POSTGRES_QUERY` and
    :data:`ORTHANC_POSTGRES_STUDY_QUERY` (driver: psycopg 3, ``postgresql+psycopg://``)."""
    url = URL.create(
        "postgresql+psycopg",
        username=user,
        password=password,
        host=host,
        port=port,
        database=database,
    )
    return SQLVerifier(
        url,
        ORTHANC_POSTGRES_QUERY,
        study_query=ORTHANC_POSTGRES_STUDY_QUERY,
        batch=batch,
        connect_timeout=connect_timeout,
    )
