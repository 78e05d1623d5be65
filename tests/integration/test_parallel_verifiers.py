"""C-FIND and QIDO-RS verification over several associations / connections at once, against the
real Orthanc: the same Observations as one at a time, and an interrupted parallel C-FIND leaves
no thread behind."""

from __future__ import annotations

import _thread
import gc
import threading
import time
import warnings
from pathlib import Path

import pytest
from pynetdicom.association import Association
from pynetdicom.dul import DULServiceProvider
from stack import OrthancStack

from dicomfab import Manifest, generate, parse_spec
from dicomfab.targets.cstore import CStoreIngestor
from dicomfab.targets.observations import Observations, ObservedInstance
from dicomfab.targets.profiles import orthanc_postgres_verifier
from dicomfab.targets.verify_cfind import CFindVerifier, _Associations
from dicomfab.targets.verify_qido import QidoVerifier
from expected import expected_observations

SPEC = {
    "seed": 31415,  # not another module's: every dataset lives in the same Orthanc
    "defaults": {"pixels": {"rows": 16, "columns": 16}},
    "patients": [{"studies": [{"series": [{}, {}]}, {"role": "prior"}]} for _ in range(6)],
}
NEVER_SENT = "1.2.826.0.1.3680043.8.498.271828182845904523"
UNKNOWN_STUDY = "1.2.826.0.1.3680043.8.498.161803398874989484"

Dataset = tuple[Manifest, list[Path]]


@pytest.fixture(scope="module")
def stored(orthanc_stack: OrthancStack, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    result = generate(parse_spec(SPEC), tmp_path_factory.mktemp("gen-parallel"), workers=1)
    files = sorted(result.path.glob("dicoms/*/*.dcm"))
    receipt = CStoreIngestor(
        orthanc_stack.host, orthanc_stack.dicom_port, orthanc_stack.ae_title, associations=2
    ).ingest(files)
    assert receipt.counts["success"] == len(files), receipt
    return result.manifest, files


def _studies(manifest: Manifest) -> list[str]:
    return [s.study_instance_uid for p in manifest.patients for s in p.studies]


def _cfind(stack: OrthancStack, studies: list[str] | None, parallel: int) -> CFindVerifier:
    return CFindVerifier(
        stack.host, stack.dicom_port, stack.ae_title, study_uids=studies, parallel=parallel
    )


def _qido(stack: OrthancStack, studies: list[str] | None, parallel: int) -> QidoVerifier:
    return QidoVerifier(f"{stack.orthanc.url}/dicom-web", study_uids=studies, parallel=parallel)


def _expected(manifest: Manifest) -> dict[str, ObservedInstance]:
    return expected_observations(manifest, names=False)


def _same(a: Observations, b: Observations) -> None:
    assert a.instances == b.instances
    assert list(a.instances) == list(b.instances)  # the same order too
    assert a.studies == b.studies
    assert list(a.studies) == list(b.studies)


@pytest.mark.parametrize("kind", ["cfind", "qido"])
@pytest.mark.parametrize("listed", [False, True], ids=["studies-given", "studies-listed"])
def test_parallel_verifier_observes_exactly_what_one_at_a_time_does(
    orthanc_stack: OrthancStack, stored: Dataset, kind: str, listed: bool
) -> None:
    manifest, files = stored
    expected = _expected(manifest)
    assert len(expected) == len(files)
    assert len(_studies(manifest)) == 12
    studies = None if listed else [*_studies(manifest), UNKNOWN_STUDY]
    make = _cfind if kind == "cfind" else _qido
    asked = [*expected, NEVER_SENT]

    one = make(orthanc_stack, studies, 1).observe(asked)
    many = make(orthanc_stack, studies, 4).observe(asked)

    _same(one, many)
    assert set(many.instances) == set(expected)
    for uid, want in expected.items():
        got = many.instances[uid]
        assert (got.study_instance_uid, got.series_instance_uid, got.patient_id) == (
            want.study_instance_uid,
            want.series_instance_uid,
            want.patient_id,
        ), uid
    assert set(many.studies) == set(_studies(manifest))
    sql = orthanc_postgres_verifier(
        orthanc_stack.pg_host,
        orthanc_stack.pg_port,
        orthanc_stack.database,
        orthanc_stack.user,
        orthanc_stack.password,
    ).observe(asked)
    assert {s.study_instance_uid: s.patient_id for s in sql.studies.values()} == {
        s.study_instance_uid: s.patient_id for s in many.studies.values()
    }


def _ours(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since ``before`` that are still alive: workers and associations."""
    return [
        t
        for t in threading.enumerate()
        if t not in before
        and (t.name.startswith("dicomfab-cfind") or isinstance(t, Association | DULServiceProvider))
    ]


class _InterruptedCFind(CFindVerifier):
    """Ctrl-C arrives while the workers are mid-query (the main thread gets KeyboardInterrupt
    as it would from SIGINT)."""

    started = 0

    def _study(self, pool: _Associations, slot: int, study: str) -> dict[str, ObservedInstance]:
        type(self).started += 1
        if type(self).started == 3:
            _thread.interrupt_main()
        return super()._study(pool, slot, study)


def test_an_interrupted_parallel_cfind_leaves_no_thread_running(
    orthanc_stack: OrthancStack, stored: Dataset
) -> None:
    manifest, _files = stored
    studies = _studies(manifest) * 20  # enough queries to be mid-way when interrupted
    before = set(threading.enumerate())
    verifier = _InterruptedCFind(
        orthanc_stack.host,
        orthanc_stack.dicom_port,
        orthanc_stack.ae_title,
        study_uids=studies,
        parallel=4,
    )
    verifier.study_uids = studies  # repeated on purpose (the constructor drops repeats)

    with pytest.raises(KeyboardInterrupt):
        verifier.observe(_expected(manifest))

    assert _InterruptedCFind.started < len(studies)  # it stopped before the end
    assert not [t for t in _ours(before) if t.name.startswith("dicomfab-cfind")]
    deadline = time.monotonic() + 10  # pynetdicom's own threads end once the abort is through
    while _ours(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ours(before) == []
    with warnings.catch_warnings(record=True) as caught:  # every aborted socket was closed
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    assert [str(w.message) for w in caught if "socket" in str(w.message)] == []
