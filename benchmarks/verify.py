"""Verification at scale: 10^4 instances in Orthanc + PostgreSQL, verified by SQL, C-FIND and
QIDO-RS.

Run: ``.venv/bin/python benchmarks/verify.py [--studies 2500] [--repeat 3] [--parallel 4]
[--batch N] [--out DIR]``

Starts the integration stack of ``tests/integration/stack.py`` (a private PostgreSQL 15 cluster
and Orthanc 1.10.1 with the PostgreSQL index and DICOMweb plugins, on loopback), generates
``--studies`` screening-shaped studies (one patient each, one current 4-view MG study of 64 × 64
images: 10^4 instances by default) and pushes them into Orthanc with ``CStoreIngestor`` over
several associations (set-up, not timed). Then times verification of every SOP Instance UID:

- SQL (``orthanc_postgres_verifier``): ms in total and per 1000 instances, connecting in each
  ``observe()`` (as a run does) and inside ``with verifier:`` (one connection); statements run;
  the speed-up over the profile's query before issue 15 (an expanding ``IN`` list of 1000 UIDs a
  statement), timed in the same run; the ``EXPLAIN (ANALYZE, BUFFERS)`` plan of one batch
  statement and of the study statement, with the indexes they use. The target, 10^4 instances
  in ≤ 2 s, is printed as PASS / BELOW (printed, never asserted);
- C-FIND (``CFindVerifier``): 1 association against ``--parallel`` associations, the speed-up;
- QIDO-RS (``QidoVerifier``): 1 connection against ``--parallel`` connections, the speed-up;
  both over the instances of the first ``--network-studies`` studies (default 250: 1000
  instances; a sequential C-FIND pass over all 10^4 took 6 minutes on the loaded 2-core test
  machine), ``--network-repeat`` passes each.

An instance a verifier did not observe is printed (MISSED), as is any difference between what the
parallel and the sequential verifier observed. SQL times are the median of ``--repeat`` passes
after one warm-up pass.
Everything (stack, files) is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from stack import Orthanc, Postgres, build_bind_shim, missing_requirements  # noqa: E402

from dicomfab.output.generate import generate  # noqa: E402
from dicomfab.studyspec.models import Spec  # noqa: E402
from dicomfab.targets.cstore import CStoreIngestor  # noqa: E402
from dicomfab.targets.observations import Observations  # noqa: E402
from dicomfab.targets.profiles import orthanc_postgres_verifier  # noqa: E402
from dicomfab.targets.verify_cfind import CFindVerifier  # noqa: E402
from dicomfab.targets.verify_qido import QidoVerifier  # noqa: E402
from dicomfab.targets.verify_sql import SQLVerifier  # noqa: E402

DATABASE, USER, PASSWORD = "orthanc", "orthanc", "orthanc-bench-secret"
VIEWS = ["RCC", "LCC", "RMLO", "LMLO"]
TARGET_SECONDS = 2.0  # for 10^4 instances by SQL

# the baseline: the orthanc-postgres profile before issue 15 (an expanding IN list, batch 1000)
BASELINE_QUERY = """\
SELECT sop.value      AS sop_instance_uid,
       st_uid.value   AS study_instance_uid,
       se_uid.value   AS series_instance_uid,
       pat_id.value   AS patient_id,
       pat_name.value AS patient_name,
       acc.value      AS accession_number,
       modality.value AS modality,
       sop_class.value AS sop_class_uid,
       inum.value     AS instance_number
FROM dicomidentifiers sop
JOIN resources inst    ON inst.internalid = sop.id AND inst.resourcetype = 3
JOIN resources series  ON series.internalid = inst.parentid AND series.resourcetype = 2
JOIN resources study   ON study.internalid = series.parentid AND study.resourcetype = 1
JOIN resources patient ON patient.internalid = study.parentid AND patient.resourcetype = 0
LEFT JOIN dicomidentifiers se_uid
       ON se_uid.id = series.internalid AND se_uid.taggroup = 32 AND se_uid.tagelement = 14
LEFT JOIN dicomidentifiers st_uid
       ON st_uid.id = study.internalid AND st_uid.taggroup = 32 AND st_uid.tagelement = 13
LEFT JOIN dicomidentifiers acc
       ON acc.id = study.internalid AND acc.taggroup = 8 AND acc.tagelement = 80
LEFT JOIN dicomidentifiers pat_id
       ON pat_id.id = patient.internalid AND pat_id.taggroup = 16 AND pat_id.tagelement = 32
LEFT JOIN dicomidentifiers pat_name
       ON pat_name.id = patient.internalid AND pat_name.taggroup = 16 AND pat_name.tagelement = 16
LEFT JOIN maindicomtags modality
       ON modality.id = series.internalid AND modality.taggroup = 8 AND modality.tagelement = 96
LEFT JOIN metadata sop_class
       ON sop_class.id = inst.internalid AND sop_class.type = 10
LEFT JOIN maindicomtags inum
       ON inum.id = inst.internalid AND inum.taggroup = 32 AND inum.tagelement = 19
WHERE sop.taggroup = 8 AND sop.tagelement = 24 AND sop.value IN :uids
"""
BASELINE_STUDY_QUERY = """\
SELECT st_uid.value   AS study_instance_uid,
       patient.publicid AS patient_entity,
       pat_id.value   AS patient_id,
       issuer.value   AS issuer_of_patient_id,
       pat_name.value AS patient_name,
       birth.value    AS patient_birth_date,
       sex.value      AS patient_sex
FROM dicomidentifiers st_uid
JOIN resources study   ON study.internalid = st_uid.id AND study.resourcetype = 1
JOIN resources patient ON patient.internalid = study.parentid AND patient.resourcetype = 0
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
WHERE st_uid.taggroup = 32 AND st_uid.tagelement = 13 AND st_uid.value IN :uids
ORDER BY study.internalid
"""


def spec(studies: int) -> Spec:
    return Spec.model_validate(
        {
            "name": "bench_verify",
            "seed": 2041,
            "defaults": {"iod": "mg", "pixels": {"rows": 64, "columns": 64}},
            "patients": [
                {"studies": [{"role": "current", "series": [{"views": VIEWS}]}]}
                for _ in range(studies)
            ],
        }
    )


def instance_count(orthanc: Orthanc) -> int:
    with urllib.request.urlopen(f"{orthanc.url}/statistics", timeout=120) as response:
        return int(json.load(response)["CountInstances"])


class Stack:
    """PostgreSQL + Orthanc holding the generated instances."""

    def __init__(self, work: Path, studies: int) -> None:
        self.work = work
        self.pg: Postgres | None = None
        self.orthanc: Orthanc | None = None
        start = time.perf_counter()
        gen = generate(spec(studies), work / "data")
        self.files = sorted(gen.path.glob("dicoms/*/*.dcm"))
        pairs = [
            (i.sop_instance_uid, st.study_instance_uid)
            for p in gen.manifest.patients
            for st in p.studies
            for se in st.series
            for i in se.instances
        ]
        self.uids = [uid for uid, _ in pairs]
        self.study_of = [study for _, study in pairs]
        self.studies = [s.study_instance_uid for p in gen.manifest.patients for s in p.studies]
        print(
            f"generated {len(self.files)} MG files (64 x 64) in {len(self.studies)} studies in "
            f"{time.perf_counter() - start:.1f} s"
        )

    def start(self) -> None:
        start = time.perf_counter()
        self.pg = Postgres.start()
        self.pg.create_database(DATABASE, USER, PASSWORD)
        shim = build_bind_shim(self.work)
        creds = {"host": self.pg.host, "port": self.pg.port, "database": DATABASE,
                 "user": USER, "password": PASSWORD}  # fmt: skip
        (self.work / "orthanc").mkdir()
        self.orthanc = Orthanc.start(self.work / "orthanc", shim, creds)
        print(f"stack up in {time.perf_counter() - start:.1f} s (Orthanc {self.orthanc.url})")

    def load(self) -> None:
        assert self.orthanc is not None
        start = time.perf_counter()
        orthanc = self.orthanc
        ingestor = CStoreIngestor(
            orthanc.host, orthanc.dicom_port, orthanc.ae_title, associations=4
        )
        receipt = ingestor.ingest(self.files)
        if receipt.counts["success"] != len(self.files):
            raise RuntimeError(f"ingest: {receipt.counts}")
        stored = instance_count(orthanc)
        if stored != len(self.files):
            raise RuntimeError(f"Orthanc holds {stored} of {len(self.files)} instances")
        seconds = time.perf_counter() - start
        print(
            f"pushed {len(self.files)} instances in {seconds:.1f} s "
            f"({len(self.files) / seconds:.0f} inst/s, 4 associations; set-up, not timed)"
        )

    def stop(self) -> None:
        if self.orthanc is not None:
            self.orthanc.stop()
        if self.pg is not None:
            self.pg.stop()

    # --- verifiers ----------------------------------------------------------------------------

    def sql(self, batch: int | None = None) -> SQLVerifier:
        assert self.pg is not None
        options = {} if batch is None else {"batch": batch}
        return orthanc_postgres_verifier(
            self.pg.host, self.pg.port, DATABASE, USER, PASSWORD, **options
        )

    def cfind(self, parallel: int, studies: list[str]) -> CFindVerifier:
        assert self.orthanc is not None
        o = self.orthanc
        return CFindVerifier(
            o.host, o.dicom_port, o.ae_title, study_uids=studies, parallel=parallel
        )

    def qido(self, parallel: int, studies: list[str]) -> QidoVerifier:
        assert self.orthanc is not None
        url = f"{self.orthanc.url}/dicom-web"
        return QidoVerifier(url, study_uids=studies, parallel=parallel)


def timed(
    name: str, observe: Callable[[], Observations], want: int, repeat: int, warm_up: bool = True
) -> tuple[float, Observations]:
    """The median seconds of ``repeat`` passes (after a warm-up) and the last observations."""
    seen = observe() if warm_up else Observations()  # imports, connections, caches
    times = []
    missed: list[int] = []
    for _ in range(repeat):
        start = time.perf_counter()
        seen = observe()
        times.append(time.perf_counter() - start)
        missed.append(want - len(seen.instances))
    median = statistics.median(times)
    lost = f"; MISSED {', '.join(map(str, missed))} of {want}" if any(missed) else ""
    print(
        f"  {name:22}: {median * 1000:8.1f} ms for {want} ({median / want * 1e6:6.1f} ms per "
        f"1000; best {min(times) * 1000:.1f} ms){lost}"
    )
    return median, seen


def compare(a: Observations, b: Observations) -> str:
    """How the parallel verifier's observations differ from the sequential one's."""
    if a.instances == b.instances and a.studies == b.studies:
        return "same observations"
    only_a = a.instances.keys() - b.instances.keys()
    only_b = b.instances.keys() - a.instances.keys()
    both = a.instances.keys() & b.instances.keys()
    other = sum(1 for uid in both if a.instances[uid] != b.instances[uid])
    studies = a.studies.keys() ^ b.studies.keys()
    moved = [u for u in a.studies.keys() & b.studies.keys() if a.studies[u] != b.studies[u]]
    example = f" (e.g. {a.studies[moved[0]]} vs {b.studies[moved[0]]})" if moved else ""
    return (
        f"DIFFERENT observations: instances {len(only_a)} only sequential, {len(only_b)} only "
        f"parallel, {other} with other attributes; studies {len(studies)} in one only, "
        f"{len(moved)} filed elsewhere{example}"
    )


def bench_sql(stack: Stack, args: argparse.Namespace) -> None:
    verifier = stack.sql(args.batch)
    print(f"sql: {len(stack.uids)} instances, batch {verifier.batch}")
    median, _ = timed("orthanc-postgres", lambda: verifier.observe(stack.uids), len(stack.uids),
                      args.repeat)  # fmt: skip
    with verifier:  # one connection for every observe()
        timed("  same, kept connection", lambda: verifier.observe(stack.uids), len(stack.uids),
              args.repeat)  # fmt: skip
    print(f"  statements per observe(): {verifier.statements}")
    assert stack.pg is not None
    baseline = SQLVerifier(
        verifier.url, BASELINE_QUERY, study_query=BASELINE_STUDY_QUERY, batch=1000
    )
    before, _ = timed("baseline (IN, batch 1000)", lambda: baseline.observe(stack.uids),
                      len(stack.uids), args.repeat)  # fmt: skip
    print(
        f"  statements per observe(): {baseline.statements}; speed-up over the baseline: "
        f"{before / median:.2f}"
    )
    per_10k = median * 10_000 / len(stack.uids)
    scaled = "" if len(stack.uids) == 10_000 else f" (scaled from {len(stack.uids)})"
    print(
        f"  target: 10^4 instances in <= {TARGET_SECONDS:g} s -> {per_10k:.2f} s per 10^4"
        f"{scaled}: {'PASS' if per_10k <= TARGET_SECONDS else 'BELOW'}"
    )
    uids = stack.uids[: verifier.batch]
    show_plan(
        "one batch statement", f"{len(uids)} instances", explain(verifier, verifier.query, uids)
    )
    studies = stack.studies[: verifier.batch]
    if verifier.study_query is not None:
        plan = explain(verifier, verifier.study_query, studies)
        show_plan("the study statement", f"{len(studies)} studies", plan)


def show_plan(what: str, size: str, plan: list[str]) -> None:
    print(f"  EXPLAIN (ANALYZE, BUFFERS) of {what} ({size}):")
    for line in plan:
        print(f"    {line}")
    indexes = sorted(
        set(re.findall(r"Index (?:Only )?Scan (?:Backward )?using (\w+)", "\n".join(plan)))
    )
    bitmap = sorted(set(re.findall(r"Bitmap Index Scan on (\w+)", "\n".join(plan))))
    seq = sorted(set(re.findall(r"Seq Scan on (\w+)", "\n".join(plan))))
    print(f"  indexes used: {', '.join(sorted({*indexes, *bitmap})) or 'none'}; "
          f"sequential scans: {', '.join(seq) or 'none'}")  # fmt: skip


def explain(verifier: SQLVerifier, query: str, uids: list[str]) -> list[str]:
    """PostgreSQL's plan of ``query`` for ``uids``, run as the verifier runs it."""
    statement = verifier.statement(f"EXPLAIN (ANALYZE, BUFFERS) {query}", "uids")
    with verifier.connection() as conn:
        return [str(row[0]) for row in conn.execute(statement, {"uids": uids})]


def bench_parallel(
    name: str, make: Callable[[int, list[str]], Any], stack: Stack, args: argparse.Namespace
) -> None:
    studies = stack.studies[: args.network_studies]
    wanted = set(studies)
    uids = [u for u, s in zip(stack.uids, stack.study_of, strict=True) if s in wanted]
    print(f"{name}: {len(uids)} instances in {len(studies)} studies")
    repeat, k = args.network_repeat, args.parallel
    one, seen_one = timed(f"{name} x1", lambda: make(1, studies).observe(uids), len(uids), repeat,
                          warm_up=False)  # fmt: skip
    many, seen_many = timed(f"{name} x{k}", lambda: make(k, studies).observe(uids), len(uids),
                            repeat, warm_up=False)  # fmt: skip
    print(f"  speed-up x{k} over x1: {one / many:.2f} ({compare(seen_one, seen_many)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=2500, help="x 4 MG instances")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes of each verifier")
    parser.add_argument("--parallel", type=int, default=4, help="C-FIND / QIDO-RS workers")
    parser.add_argument("--batch", type=int, default=None, help="SQL UIDs per statement")
    parser.add_argument(
        "--network-studies", type=int, default=250,
        help="studies C-FIND and QIDO-RS verify (a sequential pass over 10^4 takes minutes)",
    )  # fmt: skip
    parser.add_argument("--network-repeat", type=int, default=1, help="C-FIND/QIDO-RS passes")
    parser.add_argument("--out", type=Path, default=None, help="parent folder for the files")
    parser.add_argument("--only", choices=["sql", "cfind", "qido"], action="append")
    args = parser.parse_args(argv)
    # stop cleanly (stack down, files gone) on SIGTERM, and on SIGINT when started in the
    # background (a shell without job control starts it with SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    missing = missing_requirements()
    if missing:
        print(f"missing: {', '.join(missing)} (run `make deps`)")
        return 2
    parent = args.out or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dicomfab-bench-verify-", dir=parent))
    only = set(args.only or ["sql", "cfind", "qido"])
    stack = Stack(work, args.studies)
    try:
        stack.start()
        stack.load()
        if "sql" in only:
            bench_sql(stack, args)
        if "cfind" in only:
            bench_parallel("c-find", stack.cfind, stack, args)
        if "qido" in only:
            bench_parallel("qido-rs", stack.qido, stack, args)
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
