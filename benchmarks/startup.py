"""Start-up cost of the ``dicomfab`` command line, whole process, against baselines measured in
the same run.

Run: ``.venv/bin/python benchmarks/startup.py [--repeat 7] [--scenario pr_bits_mismatch]``
(from a checkout: ``PYTHONPATH=src``; every command runs as ``python -m dicomfab``, with the
interpreter running this script).

1. A small preset, whole process: ``dicomfab generate -q --scenario pr_bits_mismatch`` (8 MG
   files of about 17 MB) against a plain pydicom script doing what the predecessor did: start
   Python, import pydicom and numpy, and for each of the same 8 instances build a simple
   ``Dataset`` with the main header attributes (patient, study, series, SOP, image pixel module)
   and a numpy pixel array of the same size, then ``save_as``. Its files have exactly the sizes
   dicomfab's have (a private OB element pads each header), laid out the same way (one folder per
   study), so both write the same bytes to the same number of files. The ratio is dicomfab ÷
   baseline on the median wall time (target ≤ 1.0); the CPU ratio (user + system, this process's
   children) is printed too, as it is steadier on a loaded machine.
2. Commands that must feel instant (target < 0.15 s whole process): ``dicomfab --help``,
   ``dicomfab list``, ``dicomfab generate --help``, next to ``python -c pass`` (the floor).

One warm-up pass of everything is discarded (it fills the page cache with the interpreter and
the packages, and compiles the bytecode: the children run with ``PYTHONPYCACHEPREFIX`` in the
work folder and without ``PYTHONDONTWRITEBYTECODE``, as an installed package has its ``.pyc``
files; a checkout run with that variable set recompiles every dicomfab module each time); then
the kinds alternate, ``--repeat`` passes each, the generate pair in the opposite order every
other pass. Each generate pass writes into a fresh folder under ``--out``
(default: a temporary folder), deleted after the pass, outside the timing. Targets are printed
as PASS or BELOW, never asserted: this is a shared 2-core VM and the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAST = 0.15  # seconds, whole process: the target for --help and list
INSTANT = {
    "python -c pass": ["-c", "pass"],
    "dicomfab --help": ["-m", "dicomfab", "--help"],
    "dicomfab list": ["-m", "dicomfab", "list"],
    "dicomfab generate --help": ["-m", "dicomfab", "generate", "--help"],
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: the children's environment: bytecode is cached (in the work folder), as an installed package
#: has it, even where the caller's environment says PYTHONDONTWRITEBYTECODE
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``python ARGS`` (it must succeed)."""
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, check=False, env=ENV)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"python {' '.join(args)} failed:\n{done.stderr.decode()}")
    return wall, cpu


def dicomfab_generate(scenario: str, out: Path) -> list[str]:
    return ["-m", "dicomfab", "generate", "-q", "--scenario", scenario, "-o", str(out)]


def baseline_plan(dataset: Path) -> list[str]:
    """What the baseline writes, from a dataset dicomfab wrote: ``STUDY/FILE:SIZE:ROWSxCOLUMNS``
    per file (read without the pixels, outside any timing)."""
    import pydicom

    plan = []
    for path in sorted((dataset / "dicoms").glob("*/*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        where = f"{path.parent.name}/{path.name}"
        plan.append(f"{where}:{path.stat().st_size}:{ds.Rows}x{ds.Columns}")
    return plan


def baseline(out: Path, plan: list[str]) -> None:
    """The predecessor's way (run in its own process by ``--baseline``): simple datasets, numpy
    pixels, ``save_as``; each file padded to the size dicomfab wrote."""
    import io

    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(0)
    for number, item in enumerate(plan, 1):
        where, size, shape = item.split(":")
        rows, columns = (int(n) for n in shape.split("x"))
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Doe^Jane", "P1", "", "F"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20240102", "101500", "A1", "1"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MG", 1, number
        ds.ViewPosition, ds.ImageLaterality = "CC", "R"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = rows, columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        head = io.BytesIO()
        ds.save_as(head, enforce_file_format=True)
        pixels = rng.integers(0, 4096, (rows, columns), dtype=np.uint16)
        pad = int(size) - head.tell() - 12 - pixels.nbytes - 12  # two explicit-VR OB/OW heads
        ds.add_new(0x00090010, "LO", "BENCH")  # a private block holding the padding
        ds.add_new(0x00091000, "OB", bytes(max(pad - 14, 0)))  # 14: the creator element
        ds.PixelData = pixels.tobytes()
        path = out / where
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "BELOW"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed passes of each kind")
    parser.add_argument("--scenario", default="pr_bits_mismatch", help="the small preset")
    parser.add_argument("--out", type=Path, default=None, help="parent folder for the output")
    parser.add_argument("--baseline", nargs="+", metavar="OUT PLAN", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline:  # the baseline's own process
        baseline(Path(args.baseline[0]), args.baseline[1:])
        return 0

    work = Path(tempfile.mkdtemp(prefix="dicomfab-bench-startup-", dir=args.out))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    probe = work / "probe"
    timed(dicomfab_generate(args.scenario, probe))  # warm-up: discarded
    plan = baseline_plan(probe / args.scenario)
    total = sum(int(item.split(":")[1]) for item in plan)
    shutil.rmtree(probe)
    print(
        f"small preset: {args.scenario}, {len(plan)} files, {total / 1e6:.0f} MB; "
        f"{args.repeat} passes of each kind; {os.cpu_count()} cores"
    )
    script = [str(Path(__file__).resolve()), "--baseline"]
    kinds: dict[str, tuple[list[float], list[float]]] = {
        k: ([], []) for k in ("dicomfab generate", "baseline (pydicom script)", *INSTANT)
    }
    for command in INSTANT.values():  # warm-up: discarded
        timed(command)
    for rep in range(args.repeat):
        out = work / f"pass{rep}"
        pair = [
            ("dicomfab generate", dicomfab_generate(args.scenario, out / "dicomfab")),
            ("baseline (pydicom script)", [*script, str(out / "baseline"), *plan]),
        ]
        for name, command in pair if rep % 2 == 0 else pair[::-1]:
            wall, cpu = timed(command)
            kinds[name][0].append(wall)
            kinds[name][1].append(cpu)
        shutil.rmtree(out)
        for name, command in INSTANT.items():
            wall, cpu = timed(command)
            kinds[name][0].append(wall)
            kinds[name][1].append(cpu)
        print(f"  pass {rep + 1} done, load {os.getloadavg()[0]:.1f}")

    print(f"{'command':<28} {'wall (median)':>14} {'cpu (median)':>13}")
    for name, (walls, cpus) in kinds.items():
        print(f"{name:<28} {median(walls):12.3f} s {median(cpus):11.3f} s")
    ours, base = kinds["dicomfab generate"], kinds["baseline (pydicom script)"]
    ratio, cpu_ratio = median(ours[0]) / median(base[0]), median(ours[1]) / median(base[1])
    print(
        f"generate ÷ baseline: wall {ratio:.2f}, cpu {cpu_ratio:.2f} (target ≤ 1.0): "
        f"{verdict(ratio <= 1.0)}"
    )
    floor = median(kinds["python -c pass"][0])
    for name in list(INSTANT)[1:]:
        wall = median(kinds[name][0])
        print(
            f"{name}: {wall:.3f} s ({wall / floor:.1f}× python -c pass; target < {FAST} s): "
            f"{verdict(wall < FAST)}"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
