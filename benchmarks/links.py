"""Link verification for 10,000 studies: one batched study query per verifier.

Run: ``.venv/bin/python benchmarks/links.py [--studies 10000] [--batch 1000] [--repeat 3]
[--no-postgres]`` (``--studies 200`` is the smoke mode ``tests/test_bench_links.py`` runs).

The studies are written straight into the systems' indexes, no DICOM files: ``--studies`` / 2
patients, each with a current and a prior study of 1-4 instances (drawn from ``--seed``: 2.5 a
study on average, 25,000 instances for 10,000 studies). Every tenth patient's prior was filed
under another PatientID and is expected ``no-link``; every other prior is expected ``link``.

1. **embedded**: the embedded PACS's SQLite index, created by pynetdicom's qrscp ``db.create``
   (the tables qrscp makes; rows inserted into its one ``instance`` table with the columns qrscp's
   ``add_instance`` fills, no ``filename``: there is no file). Verifier: ``for_embedded``'s
   queries (``EMBEDDED_QUERY`` + ``EMBEDDED_STUDY_QUERY``), judged same-patient.
2. **postgres same-patient** and 3. **postgres relation**: a private PostgreSQL cluster (the one
   ``tests/integration/stack.py`` starts, fsync off) holding a product-style index: ``study``
   (UID, PatientID, name), ``instance`` (UID, study, series, class, modality) and a
   ``prior_link`` table (one ``(prior, current)`` row per linked patient). Verifier 2 reads the
   instances and, with its study query, the patient each study was filed under; 3 reads the
   instances without a study query and asks the product's relation (``SQLLinks`` with
   ``:study_uids`` bound) for every study. Orthanc's own index is not filled here (storing
   25,000 instances through Orthanc takes minutes; ``benchmarks/ingest.py`` times the
   Orthanc-PostgreSQL profile on instances Orthanc really stored).

For each verifier, per pass (median of ``--repeat`` passes after a warm-up):

- **baseline**: the same verifier's instance lookup alone (no study query), ``observe(all SOP
  UIDs)``;
- **observe**: ``observe(all SOP UIDs)`` with the study query (3: the instance lookup plus
  ``SQLLinks.pairs(all study UIDs)``). Every SQL statement sent is counted (an SQLAlchemy
  ``before_cursor_execute`` listener), and the script fails unless the instance lookup took
  ceil(instances / batch) statements and the study lookup ceil(studies / batch): batched;
- **decide**: ``run.links.link_anchors`` over the manifests (built directly as
  ``Manifest`` objects: patients and studies, no series or instances, which neither function
  reads) and ``run.links.decide`` for every prior (``link`` / ``no-link``), judged by
  ``SamePatient.of(observations)`` or ``Relation(pairs)``. The script fails unless every
  verdict passes.

It prints ``link verification: N studies, X ms per 1,000 studies`` per verifier (X = observe +
decide) and the ratio X ÷ baseline: what knowing where each study landed costs on top of finding
the instances. Nothing is asserted about time.

Measured 2026-12-04 on this shared 2-core VM (``PYTHONPATH=src .venv/bin/python
benchmarks/links.py``: 10,000 studies, 24,921 instances, 5,000 verdicts, batch 1000), ms per
1,000 studies, X (observe + decide) / baseline = ratio; three runs, the load average of the
machine (other jobs) rising from 3.7 to 9.8 during them, so the absolute numbers vary 2-4x from
run to run and only the ratios within a run mean much:

====================== ================== ================== ==================
verifier               run 1 (median 3)   run 2 (median 3)   run 3 (median 5)
====================== ================== ================== ==================
embedded, same-patient 497 / 445 = 1.12   535 / 307 = 1.74   285 / 178 = 1.61
postgres, same-patient 115 / 107 = 1.07   803 / 715 = 1.12   518 / 274 = 1.89
postgres, relation     429 / 116 = 3.69 * 282 / 183 = 1.54   420 / 314 = 1.34
====================== ================== ================== ==================

Each verifier sent 25 instance statements and 10 study (or relation) statements: one per
1,000 UIDs. Deciding the 5,000 verdicts same-patient costs 7-43 ms per 1,000 studies. (*) Run 1
was before ``LinkPairs.linked`` kept an index: it scanned every pair for every study asked, so
the relation's 5,000 verdicts took 292 ms per 1,000 studies (2.9 s), quadratic in the studies;
with the index 26-70 ms. The embedded study query scans the whole ``instance`` table once per
batch (qrscp indexes no ``study_instance_uid``): at 25,000 rows it adds 12-34 ms per 1,000
studies to the instance lookup's 55-64 (the two timed alone, 3 passes, same data), and it grows
with the size of the index.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pynetdicom.apps.qrscp import db as qrscp_db
from sqlalchemy import Engine, event, insert
from sqlalchemy.engine import URL

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from dicomfab.output.manifest import Manifest, PatientEntry, StudyEntry  # noqa: E402
from dicomfab.run.links import (  # noqa: E402
    Anchor,
    LinkJudge,
    Relation,
    SamePatient,
    decide,
    link_anchors,
)
from dicomfab.targets.links import LinkPairs  # noqa: E402
from dicomfab.targets.links_sql import SQLLinks  # noqa: E402
from dicomfab.targets.observations import Observations  # noqa: E402
from dicomfab.targets.verify_sql import (  # noqa: E402
    EMBEDDED_QUERY,
    EMBEDDED_STUDY_QUERY,
    SQLVerifier,
)

MG = "1.2.840.10008.5.1.4.1.1.1.2"  # Digital Mammography X-Ray Image Storage - For Presentation
EXPLICIT_LE = "1.2.840.10008.1.2.1"
UNLINKED_EVERY = 10  # every tenth patient's prior was filed under another PatientID
DATABASE, USER, PASSWORD = "product", "product", "product-bench-secret"

PG_QUERY = """\
SELECT i.sop_uid AS sop_instance_uid, i.study_uid AS study_instance_uid,
       i.series_uid AS series_instance_uid, s.patient_id, s.patient_name, i.modality,
       i.sop_class_uid
FROM instance i JOIN study s ON s.study_uid = i.study_uid
WHERE i.sop_uid IN :uids
"""
PG_STUDY_QUERY = """\
SELECT study_uid AS study_instance_uid, patient_id, patient_name
FROM study
WHERE study_uid IN :uids
"""
PG_LINKS_QUERY = """\
SELECT study_uid, linked_study_uid FROM prior_link WHERE study_uid IN :study_uids
"""
PG_SCHEMA = (
    "CREATE TABLE study (study_uid text PRIMARY KEY, patient_id text NOT NULL, patient_name text)",
    "CREATE TABLE instance (sop_uid text PRIMARY KEY, "
    "study_uid text NOT NULL REFERENCES study, series_uid text NOT NULL, "
    "sop_class_uid text NOT NULL, modality text NOT NULL)",
    "CREATE TABLE prior_link (study_uid text NOT NULL REFERENCES study, "
    "linked_study_uid text NOT NULL REFERENCES study)",
    "CREATE INDEX prior_link_study ON prior_link (study_uid)",
)


# ── the population ───────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Study:
    uid: str
    role: str  # current / prior
    patient_id: str  # the manifest's
    filed_under: str  # the PatientID the system filed it under
    series_uid: str
    instances: tuple[str, ...]


@dataclass
class Population:
    """The studies of ``patients`` patients (current + prior each) and the manifests for them."""

    studies: list[Study] = field(default_factory=list)
    manifests: list[Manifest] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)  # prior study UID -> link / no-link

    @property
    def sop_uids(self) -> list[str]:
        return [uid for s in self.studies for uid in s.instances]

    @property
    def study_uids(self) -> list[str]:
        return [s.uid for s in self.studies]


def population(studies: int, seed: int, per_manifest: int = 50) -> Population:
    """``studies`` // 2 patients, each a current and a prior of 1-4 instances; manifests of
    ``per_manifest`` patients (a scenario's worth), one scenario each."""
    rng = random.Random(seed)

    def uid() -> str:
        return f"2.25.{rng.getrandbits(120)}"

    pop = Population()
    patients: list[PatientEntry] = []
    for p in range(studies // 2):
        patient_id = f"BENCH{p:06d}"
        entries = []
        for role in ("current", "prior"):
            unlinked = role == "prior" and p % UNLINKED_EVERY == 0
            study = Study(
                uid(),
                role,
                patient_id,
                f"{patient_id}-OTHER" if unlinked else patient_id,
                uid(),
                tuple(uid() for _ in range(rng.randint(1, 4))),
            )
            pop.studies.append(study)
            if role == "prior":
                pop.expected[study.uid] = "no-link" if unlinked else "link"
            entries.append(
                StudyEntry(
                    study_instance_uid=study.uid,
                    role=role,
                    date="20260101" if role == "current" else "20250101",
                    accession_number=f"A{p:06d}{role[0].upper()}",
                    description=f"bench {role}",
                    expectation=None if role == "current" else pop.expected[study.uid],
                )
            )
        patients.append(
            PatientEntry(
                patient_id=patient_id,
                name=f"BENCH^{p}",
                birth_date=None,
                sex="F",
                studies=entries,
            )
        )
    for i in range(0, len(patients), per_manifest):
        pop.manifests.append(
            Manifest(
                generator="benchmarks/links.py",
                dataset=f"bench_links_{i // per_manifest}",
                seed=seed,
                scenario=f"bench_links_{i // per_manifest}",
                patients=patients[i : i + per_manifest],
            )
        )
    return pop


# ── filling the indexes ──────────────────────────────────────────────────────────────────────


def fill_embedded(path: Path, pop: Population) -> URL:
    """qrscp's SQLite index (its own ``db.create``), the rows qrscp's ``add_instance`` writes."""
    url = URL.create("sqlite", database=str(path))
    engine = qrscp_db.create(url.render_as_string())
    rows = [
        {
            "sop_instance_uid": sop,
            "study_instance_uid": s.uid,
            "series_instance_uid": s.series_uid,
            "patient_id": s.filed_under,
            "patient_name": f"BENCH^{s.filed_under}",
            "study_date": "20260101",
            "study_time": "120000",
            "accession_number": None,
            "study_id": "1",
            "modality": "MG",
            "series_number": "1",
            "instance_number": str(n + 1),
            "sop_class_uid": MG,
            "transfer_syntax_uid": EXPLICIT_LE,
            "filename": None,
        }
        for s in pop.studies
        for n, sop in enumerate(s.instances)
    ]
    with engine.begin() as conn:
        conn.execute(insert(qrscp_db.Instance.__table__), rows)
    engine.dispose()
    return url


def fill_postgres(pg: Any, pop: Population) -> URL:
    """The product-style index and its prior-link table in a fresh database on ``pg``."""
    import psycopg

    pg.create_database(DATABASE, USER, PASSWORD)
    with psycopg.connect(
        host=pg.host, port=pg.port, user=USER, password=PASSWORD, dbname=DATABASE
    ) as conn:
        for statement in PG_SCHEMA:
            conn.execute(statement.encode())
        with conn.cursor() as cur:
            with cur.copy("COPY study (study_uid, patient_id, patient_name) FROM STDIN") as copy:
                for s in pop.studies:
                    copy.write_row((s.uid, s.filed_under, f"BENCH^{s.filed_under}"))
            with cur.copy(
                "COPY instance (sop_uid, study_uid, series_uid, sop_class_uid, modality) FROM STDIN"
            ) as copy:
                for s in pop.studies:
                    for sop in s.instances:
                        copy.write_row((sop, s.uid, s.series_uid, MG, "MG"))
            current = {s.patient_id: s.uid for s in pop.studies if s.role == "current"}
            with cur.copy("COPY prior_link (study_uid, linked_study_uid) FROM STDIN") as copy:
                for s in pop.studies:
                    if s.role == "prior" and s.filed_under == s.patient_id:
                        copy.write_row((s.uid, current[s.patient_id]))
        conn.execute(b"ANALYZE")
    return URL.create(
        "postgresql+psycopg",
        username=USER,
        password=PASSWORD,
        host=pg.host,
        port=pg.port,
        database=DATABASE,
    )


# ── counting statements ──────────────────────────────────────────────────────────────────────


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends inside the block, as text."""
    sent: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", listen)


def count(sent: list[str], query: str) -> int:
    """How many of ``sent`` are ``query`` (its text up to the expanded IN list)."""
    head = query.split(":")[0].strip()
    return sum(1 for s in sent if s.strip().startswith(head))


# ── one verifier ─────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Case:
    """A verifier, its instance lookup alone (the baseline), and how its verdicts are judged."""

    name: str
    baseline: SQLVerifier
    verifier: SQLVerifier
    study_query: str  # the statement that tells where the studies landed
    study_lookup: str = "study"  # what that statement is, for the output
    relation: SQLLinks | None = None  # judged by the product's relation, else same-patient


@dataclass
class Timing:
    baseline: list[float] = field(default_factory=list)
    observe: list[float] = field(default_factory=list)
    decide: list[float] = field(default_factory=list)


def observe(case: Case, pop: Population) -> tuple[Observations, LinkJudge]:
    """One pass of what a run does for this verifier: find the instances and the studies."""
    seen = case.verifier.observe(pop.sop_uids)
    if len(seen.instances) != len(pop.sop_uids):
        raise RuntimeError(f"{case.name}: found {len(seen.instances)} of {len(pop.sop_uids)}")
    if case.relation is None:
        return seen, SamePatient.of(seen)
    pairs: LinkPairs = case.relation.pairs(pop.study_uids)
    return seen, Relation(pairs)


def verdicts(pop: Population, judge: LinkJudge) -> int:
    """Every prior's link verdict; fails unless each passes. Returns how many were decided."""
    anchors: dict[str, tuple[Anchor, ...]] = link_anchors(pop.manifests)
    failed = []
    for uid, outcome in pop.expected.items():
        status, reason = decide(outcome, "prior", uid, anchors[uid], judge)
        if status != "pass":
            failed.append(f"{uid}: {status}: {reason}")
    if failed:
        raise RuntimeError(f"{len(failed)} link verdicts did not pass, e.g. {failed[0]}")
    return len(pop.expected)


def check_batched(case: Case, pop: Population, batch: int) -> str:
    """One observed pass with every statement counted; fails unless both lookups were batched."""
    with statements() as sent:
        observe(case, pop)
    instances = count(sent, case.verifier.query)
    studies = count(sent, case.study_query)
    want_i, want_s = math.ceil(len(pop.sop_uids) / batch), math.ceil(len(pop.study_uids) / batch)
    if instances > want_i or studies > want_s or studies == 0:
        raise RuntimeError(
            f"{case.name}: {instances} instance statements (at most {want_i}), {studies} study "
            f"statements (at most {want_s}, at least 1): not batched"
        )
    return (
        f"{len(sent)} statements: {instances} instance + {studies} {case.study_lookup} lookups "
        f"(batch {batch})"
    )


def measure(case: Case, pop: Population, repeat: int, batch: int) -> Timing:
    observe(case, pop)  # warm-up: imports, the database's caches
    case.baseline.observe(pop.sop_uids)
    timing = Timing()
    for _ in range(repeat):
        start = time.perf_counter()
        found = case.baseline.observe(pop.sop_uids)
        timing.baseline.append(time.perf_counter() - start)
        if len(found.instances) != len(pop.sop_uids):
            raise RuntimeError(f"{case.name} baseline: found {len(found.instances)}")
        start = time.perf_counter()
        _, judge = observe(case, pop)
        timing.observe.append(time.perf_counter() - start)
        start = time.perf_counter()
        verdicts(pop, judge)
        timing.decide.append(time.perf_counter() - start)
    return timing


def report(case: Case, pop: Population, timing: Timing, batched: str) -> None:
    per = 1000 / len(pop.study_uids) * 1000  # seconds for all -> ms per 1,000 studies
    base = statistics.median(timing.baseline)
    seen = statistics.median(timing.observe)
    decided = statistics.median(timing.decide)
    total = statistics.median(o + d for o, d in zip(timing.observe, timing.decide, strict=True))
    print(
        f"  {case.name}: link verification: {len(pop.study_uids)} studies, "
        f"{total * per:.1f} ms per 1,000 studies (observe {seen * per:.1f} + decide "
        f"{decided * per:.1f}; {len(pop.expected)} verdicts); baseline instance lookup alone "
        f"{base * per:.1f} ms per 1,000 studies; ratio {total / base:.2f}\n"
        f"    {batched}"
    )


def cases(embedded: URL, postgres: URL | None, batch: int) -> list[Case]:
    out = [
        Case(
            "embedded (SQLite, same-patient)",
            SQLVerifier(embedded, EMBEDDED_QUERY, batch=batch),
            SQLVerifier(embedded, EMBEDDED_QUERY, study_query=EMBEDDED_STUDY_QUERY, batch=batch),
            EMBEDDED_STUDY_QUERY,
        )
    ]
    if postgres is not None:
        url = postgres.render_as_string(hide_password=False)
        instances_only = SQLVerifier(postgres, PG_QUERY, batch=batch)
        out += [
            Case(
                "postgres (same-patient)",
                instances_only,
                SQLVerifier(postgres, PG_QUERY, study_query=PG_STUDY_QUERY, batch=batch),
                PG_STUDY_QUERY,
            ),
            Case(
                "postgres (relation: sql links)",
                instances_only,
                instances_only,
                PG_LINKS_QUERY,
                "relation",
                SQLLinks(url, PG_LINKS_QUERY, batch=batch),
            ),
        ]
    return out


def run(args: argparse.Namespace, work: Path, pg: Any | None) -> None:
    start = time.perf_counter()
    pop = population(args.studies, args.seed)
    embedded = fill_embedded(work / "instances.sqlite", pop)
    postgres = fill_postgres(pg, pop) if pg is not None else None
    print(
        f"{len(pop.study_uids)} studies ({len(pop.study_uids) // 2} patients × current + prior), "
        f"{len(pop.sop_uids)} instances, {len(pop.expected)} link verdicts "
        f"({sum(o == 'no-link' for o in pop.expected.values())} no-link), "
        f"{len(pop.manifests)} manifests; indexes filled in {time.perf_counter() - start:.1f} s; "
        f"batch {args.batch}, median of {args.repeat}"
    )
    for case in cases(embedded, postgres, args.batch):
        batched = check_batched(case, pop, args.batch)
        report(case, pop, measure(case, pop, args.repeat, args.batch), batched)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=10_000, help="current + prior per patient")
    parser.add_argument("--batch", type=int, default=1000, help="UIDs per statement")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per verifier")
    parser.add_argument("--seed", type=int, default=2031)
    parser.add_argument("--no-postgres", action="store_true", help="only the embedded SQLite index")
    args = parser.parse_args(argv)
    if args.studies < 2 or args.repeat < 1 or args.batch < 1:
        parser.error("--studies must be at least 2, --repeat and --batch at least 1")
    pg: Any | None = None
    if not args.no_postgres:
        from stack import Postgres, missing_requirements

        missing = missing_requirements()
        if missing:
            print(f"missing: {', '.join(missing)} (run `make deps`, or give --no-postgres)")
            return 2
        pg = Postgres.start()
    work = Path(tempfile.mkdtemp(prefix="dicomfab-bench-links-"))
    try:
        run(args, work, pg)
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
