"""Streaming generate: ``count`` expansion, bounded work in flight, the streamed manifest, and
an interrupted generate finished with ``--resume`` (real SIGINT/SIGTERM on the CLI)."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from dicomfab import OutputError, SpecError, generate, parse_spec
from dicomfab.builder.plan import check_spec, iter_patient_plans, make_plan
from dicomfab.errors import Issue
from dicomfab.output import generate as generate_module
from dicomfab.output.manifest import Manifest
from dicomfab.studyspec.loading import load_spec
from trees import file_hashes

EXAMPLES = Path(__file__).parents[2] / "examples" / "specs"
SRC = Path(__file__).parents[2] / "src"
TINY = {"pixels": {"rows": 64, "columns": 64}}


def _spec(count: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "many",
        "seed": 3,
        "uid_namespace": "streaming-test",
        "defaults": TINY,
        "patients": [{"count": count, "studies": [{"role": "current"}, {"role": "prior"}]}],
        **extra,
    }


def test_count_expands_exactly_like_separate_entries(tmp_path: Path) -> None:
    counted = parse_spec(
        {**_spec(3), "patients": [{"sex": "M"}, *_spec(3)["patients"], {"id": "LAST"}]}
    )
    listed_entries = [{"sex": "M"}, *[_spec(1)["patients"][0]] * 3, {"id": "LAST"}]
    listed = parse_spec({**_spec(1), "patients": listed_entries})
    a, b = make_plan(counted), make_plan(listed)
    assert len(a.patients) == 5
    assert [(p.name, p.patient_id, p.birth_date) for p in a.patients] == [
        (p.name, p.patient_id, p.birth_date) for p in b.patients
    ]
    assert [i.sop_instance_uid for i in a.instances] == [i.sop_instance_uid for i in b.instances]
    assert len({p.patient_id for p in a.patients}) == 5
    # the streaming planner gives the same patients one at a time
    streamed = list(iter_patient_plans(counted))
    assert [p.patient_id for p in streamed] == [p.patient_id for p in a.patients]
    first = generate(counted, tmp_path / "counted", workers=2)
    second = generate(listed, tmp_path / "listed", workers=1)
    assert file_hashes(first.path) == file_hashes(second.path)
    assert (first.patients, first.studies, first.instances) == (5, 8, 32)


def test_one_explicit_id_for_many_patients_is_refused() -> None:
    spec = parse_spec({**_spec(4), "patients": [{"count": 4, "id": "SAME"}]})
    with pytest.raises(SpecError, match=r"patients\[0\]\.id: one PatientID for count 4"):
        check_spec(spec)
    shared = parse_spec({**_spec(4), "patients": [{"count": 4, "id": "SAME", "permissive": True}]})
    assert check_spec(shared) == [4]


def test_a_study_uid_repeated_by_count_is_refused_before_writing(tmp_path: Path) -> None:
    entry = {"count": 2, "studies": [{"uid": "1.2.3.4"}]}
    with pytest.raises(SpecError, match=r"patients\[1\]\.studies\[0\]\.uid"):
        generate(parse_spec({**_spec(2), "patients": [entry]}), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_spec_error_crosses_process_boundaries() -> None:
    error = SpecError([Issue("patients[3].id", "bad")], source="spec.yaml")
    again = pickle.loads(pickle.dumps(error))
    assert (again.issues, again.source, str(again)) == (error.issues, error.source, str(error))


def _small_examples() -> list[str]:
    """The example specs of at most 40 instances (the others take long to write)."""
    paths = sorted(EXAMPLES.glob("*.yaml"))
    return [p.name for p in paths if len(make_plan(load_spec(p)).instances) <= 40]


@pytest.mark.parametrize("name", _small_examples())
def test_streamed_manifest_is_what_the_model_writes(name: str, tmp_path: Path) -> None:
    spec = load_spec(EXAMPLES / name)
    result = generate(spec, tmp_path)
    text = (result.path / "manifest.json").read_text(encoding="utf-8")
    manifest = Manifest.model_validate_json(text)
    assert manifest.to_json() == text
    assert not (result.path / "journal.jsonl").exists()
    assert result.instances == len(manifest.instances())
    assert result.files_written == sum(i.written for i in manifest.instances())


@pytest.mark.parametrize("resumable", [False, True])
def test_the_journal_is_a_file_only_where_a_generate_can_be_resumed(
    resumable: bool, tmp_path: Path
) -> None:
    """A generate that reads its whole manifest back (here: one with a ``finish`` step) keeps
    its journal in memory, unless it can be resumed: then the journal is on disk, listing every
    patient, when ``finish`` runs."""
    seen: list[int | None] = []

    def finish(root: Path, manifest: Manifest) -> None:
        journal = root / "journal.jsonl"
        seen.append(journal.read_text().count("\n") if journal.exists() else None)
        assert len(manifest.patients) == 3

    result = generate(parse_spec(_spec(3)), tmp_path, finish=finish, resumable=resumable)
    assert seen == ([3] if resumable else [None])
    written = Manifest.model_validate_json((result.path / "manifest.json").read_text())
    assert [p.patient_id for p in written.patients] == [
        p.patient_id for p in make_plan(parse_spec(_spec(3))).patients
    ]


class _Counting(ProcessPoolExecutor):
    """A process pool that records how many of its tasks were ever pending at once."""

    def __init__(self) -> None:
        super().__init__(max_workers=2, initializer=generate_module.quiet_worker)
        self.pending = self.most = self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.pending += 1
        self.submitted += 1
        self.most = max(self.most, self.pending)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _f: self._done())
        return future

    def _done(self) -> None:
        self.pending -= 1


def test_work_in_flight_is_bounded_and_any_executor_gives_the_same_bytes(
    tmp_path: Path,
) -> None:
    spec = parse_spec(_spec(30))
    with _Counting() as pool:
        result = generate(spec, tmp_path / "pool", workers=2, executor=pool)
    assert pool.submitted > 3 * generate_module.IN_FLIGHT * 2
    assert pool.most <= generate_module.IN_FLIGHT * 2
    inline = generate(spec, tmp_path / "inline", workers=1)
    assert file_hashes(result.path) == file_hashes(inline.path)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "dicomfab", "generate", *args]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_generate_resumes_to_the_same_bytes(
    sig: signal.Signals, tmp_path: Path
) -> None:
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(_spec(80)), encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    args = _cli("-c", str(spec_path), "-o", str(out), "-q", "-j", "2")
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    journal = out / ".many.partial" / "journal.jsonl"
    workers: set[int] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        workers |= _children(process.pid)
        if journal.exists() and journal.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the generate finished before it could be interrupted"
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, err
    assert "--resume" in err and "Traceback" not in err
    assert workers and not [pid for pid in workers if _alive(pid)]
    partial = out / ".many.partial"
    assert not (out / "many").exists() and not (partial / "manifest.json").exists()
    kept = journal.read_text().count("\n")
    assert 1 <= kept < 80
    first_file = sorted((partial / "dicoms").rglob("*.dcm"))[0]
    # a plain generate does not touch the interrupted one, nor does another seed resume it
    again = subprocess.run(args, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr
    other = subprocess.run(
        [*args, "--resume", "--seed", "4"], env=env, capture_output=True, text=True
    )
    assert other.returncode == 2 and "another spec_sha256, seed" in other.stderr
    before = {p: p.stat().st_mtime_ns for p in (partial / "dicoms").rglob("*.dcm")}
    resumed = subprocess.run([*args, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert not partial.exists()
    # the journaled patients' files were not written again
    journaled = Manifest.model_validate_json((out / "many" / "manifest.json").read_text())
    kept_files = {
        i.file
        for p in journaled.patients[:kept]
        for s in p.studies
        for se in s.series
        for i in se.instances
    }
    for path, mtime in before.items():
        relative = str(path.relative_to(partial))
        if relative in kept_files:
            assert (out / "many" / relative).stat().st_mtime_ns == mtime
    assert str(first_file.relative_to(partial)) in {str(p.relative_to(partial)) for p in before}
    reference = generate(parse_spec(_spec(80)), tmp_path / "reference", workers=2)
    assert file_hashes(out / "many") == file_hashes(reference.path)


def test_overwrite_starts_an_interrupted_generate_again(tmp_path: Path) -> None:
    spec = parse_spec(_spec(2))
    partial = tmp_path / ".many.partial"
    partial.mkdir()
    (partial / "stray").write_text("not ours")
    with pytest.raises(OutputError, match="was not left by dicomfab generate"):
        generate(spec, tmp_path, resumable=True, overwrite=True)
    assert (partial / "stray").exists()  # never deleted: no state file says it is ours
    (partial / "stray").unlink()
    partial.rmdir()
    result = generate(spec, tmp_path, resumable=True)
    assert result.path.is_dir() and not partial.exists()
