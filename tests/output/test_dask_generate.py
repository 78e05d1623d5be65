"""``--dask``: generating on a real Dask cluster (a ``dask scheduler`` and two ``dask worker``
processes on loopback) gives the same bytes as a local run; a cluster that cannot be used is one
error line; an interrupted ``generate --dask`` stops cleanly and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import yaml

from dicomfab import generate, parse_spec
from dicomfab.errors import ClusterError, MissingExtra
from dicomfab.output import distributed
from dicomfab.output.distributed import dask_executor
from dicomfab.testing.dask_cluster import local_dask_cluster
from trees import file_hashes

SRC = Path(__file__).resolve().parents[2] / "src"

SPEC = """
name: several
seed: 11
defaults:
  pixels: {rows: 96, columns: 80}
patients:
  - studies: [{role: current}, {role: prior}]
  - studies: [{role: current}, {role: prior}]
  - studies: [{role: current}, {role: prior, transfer_syntax: jpeg2000-lossless}]
  - studies: [{role: current, date: "2024-11-02"}, {role: external_prior, date: -18m}]
  - studies: [{role: current}, {role: prior}]
"""


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    with local_dask_cluster(workers=2, pythonpath=SRC) as address:
        yield address


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("DICOMFAB_DASK", None)
    return subprocess.run(
        [sys.executable, "-m", "dicomfab", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


def _spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "several.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_a_spec_on_the_cluster_is_byte_identical_to_a_local_run(
    dask_address: str, tmp_path: Path
) -> None:
    spec = _spec_file(tmp_path)
    local = _cli("generate", "-o", "local", "-c", str(spec), "-j", "1", "-q", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    on_dask = _cli(
        "generate", "-o", "dask", "-c", str(spec), "--dask", dask_address, "-q", cwd=tmp_path
    )
    assert on_dask.returncode == 0, on_dask.stderr
    expected, got = file_hashes(tmp_path / "local"), file_hashes(tmp_path / "dask")
    assert len([f for f in expected if f.endswith(".dcm")]) == 40
    assert "several/manifest.json" in expected and any(
        f.startswith("several/jsons/") for f in expected
    )
    assert got == expected
    # nothing else in the shared folder: no marker, no temporary folder left
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == ["several"]


def test_both_workers_build_and_the_api_takes_the_executor(
    dask_address: str, tmp_path: Path
) -> None:
    spec = parse_spec(yaml.safe_load(SPEC))
    local = generate(spec, tmp_path / "local", workers=1)
    with dask_executor(dask_address, shared=tmp_path / "dask") as executor:
        assert executor.workers == 2
        result = generate(spec, tmp_path / "dask", executor=executor)
        token = executor._token  # a worker that ran one of this executor's units knows it
        ran = executor._client.run(lambda: token in distributed._running)
    assert list(ran.values()) == [True, True]
    assert result.manifest.to_json() == local.manifest.to_json()
    assert file_hashes(result.path) == file_hashes(local.path)


def test_scenarios_on_the_cluster_are_byte_identical(dask_address: str, tmp_path: Path) -> None:
    args = ("-s", "pr_bits_mismatch", "cu_private_tag", "masc_ext_prior", "--seed", "7")
    args += ("--set", "image_size=small", "-q")
    local = _cli("generate", "-o", "local", *args, "-j", "1", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    on_dask = _cli("generate", "-o", "dask", *args, "--dask", dask_address, cwd=tmp_path)
    assert on_dask.returncode == 0, on_dask.stderr
    expected = file_hashes(tmp_path / "local")
    assert len({f.split("/")[0] for f in expected}) == 3
    assert file_hashes(tmp_path / "dask") == expected


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_one_error_line(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    done = _cli(
        "generate", "-o", "out", "-c", str(_spec_file(tmp_path)), "--dask", address, cwd=tmp_path
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: cannot connect to the Dask scheduler at {address}")
    assert not (tmp_path / "out" / "several").exists()


def test_dask_goes_without_workers(tmp_path: Path) -> None:
    done = _cli(
        "generate", "-c", str(_spec_file(tmp_path)), "--dask", "tcp://x:1", "-j", "2", cwd=tmp_path
    )
    assert done.returncode == 2
    assert "give --workers or --dask, not both" in done.stderr


def test_without_the_extra_dask_is_a_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    with (
        pytest.raises(MissingExtra, match=r"pip install 'dicomfab\[dask\]'"),
        dask_executor("tcp://127.0.0.1:1"),
    ):
        pass


def test_help_does_not_import_dask(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom dicomfab import console\n"
        "for args in (['--help'], ['generate', '--help'], ['run', '--help']):\n"
        "    try:\n        console.main(args)\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=120,
        check=True,
    )
    assert "--dask ADDRESS" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_worker_with_another_dicomfab_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake" / "dicomfab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("", encoding="utf-8")
    (fake / "_version.py").write_text('__version__ = "0.0.1"\n', encoding="utf-8")
    with (
        local_dask_cluster(workers=1, pythonpath=fake.parent) as address,
        pytest.raises(ClusterError, match=r"runs dicomfab 0\.0\.1, this is") as info,
        dask_executor(address, shared=tmp_path / "out"),
    ):
        pass
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_a_folder_the_workers_do_not_see_is_refused(dask_address: str, tmp_path: Path) -> None:
    """Simulated: the marker check runs on the workers, so a folder they cannot see fails it."""
    seen = distributed._sees
    try:
        distributed._sees = lambda folder, name: False  # type: ignore[assignment]
        with (
            pytest.raises(ClusterError, match="does not see"),
            dask_executor(dask_address, shared=tmp_path / "out"),
        ):
            pass
    finally:
        distributed._sees = seen


BIG = """
name: big
seed: 3
defaults:
  pixels: {rows: 1600, columns: 1280}
  transfer_syntax: jpeg2000-lossless
patients:
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_dask_generate_stops_cleanly(
    dask_address: str, tmp_path: Path, sig: signal.Signals
) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_text(BIG + "  - studies: [{role: current}, {role: prior}]\n" * 12, encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    argv = [sys.executable, "-m", "dicomfab", "generate", "-o", str(out), "-c", str(spec), "-q"]
    process = subprocess.Popen(
        [*argv, "--dask", dask_address], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not list(out.glob(".big*/dicoms/*/*.dcm")):  # the workers have started writing
        assert process.poll() is None and time.monotonic() < deadline, "nothing was written"
        time.sleep(0.05)
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr
    assert f"interrupted ({sig.name})" in stderr
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    # the finished patients are kept for --resume, and nothing changes after the exit (the
    # running units were drained before it)
    assert [p.name for p in out.iterdir()] == [".big.partial"], stderr
    assert "--resume" in stderr
    kept = _sizes(out)
    time.sleep(1)
    assert _sizes(out) == kept
    if sig is signal.SIGINT:  # the cluster finishes it, byte-identical to a local run
        resumed = _cli(
            "generate",
            "-o",
            str(out),
            "-c",
            str(spec),
            "-q",
            "--resume",
            "--dask",
            dask_address,
            cwd=tmp_path,
        )
        assert resumed.returncode == 0, resumed.stderr
        local = _cli("generate", "-o", "local", "-c", str(spec), "-q", cwd=tmp_path)
        assert local.returncode == 0, local.stderr
        assert file_hashes(out / "big") == file_hashes(tmp_path / "local" / "big")


def _sizes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_run_generates_on_the_cluster(dask_address: str, tmp_path: Path) -> None:
    """``dicomfab run --dask``: the scenarios are generated by the workers (into the shared runs
    folder), then merged, ingested into the embedded PACS and checked as usual; with the same run
    seed the generated scenarios are the bytes of a local run."""
    args = ("run", "-s", "pr_bits_mismatch,cu_private_tag", "--image-size", "small", "--seed", "5")
    trees = []
    for runs, more in (("dask", ("--dask", dask_address)), ("local", ("-j", "1"))):
        done = _cli(*args, "--runs-dir", runs, "-q", *more, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        (run_dir,) = (tmp_path / runs).iterdir()
        trees.append(file_hashes(run_dir / "generated"))
    assert {f.split("/")[0] for f in trees[0]} == {"cu_private_tag", "pr_bits_mismatch"}
    assert trees[0] == trees[1]
