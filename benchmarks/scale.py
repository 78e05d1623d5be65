"""Many instances on one machine: memory, time to the first file, and files/s at two sizes.

Run: ``.venv/bin/python benchmarks/scale.py [--sizes 10000 100000] [--workers 2] [--out DIR]``

Each size is one ``dicomfab generate`` of a spec written here: ``count`` patients with a current
study and a prior, 4 views each (8 instances a patient), 64 x 64 pixels, so that the work is the
per-instance cost (planning, headers, digests, manifest), not pixels. The command runs as a
child process; this script polls ``/proc`` every 50 ms for the resident memory of the whole
process tree (the CLI and its workers, summed) and for the first ``.dcm`` file in the dataset's
temporary folder. It prints per size: peak RSS of the tree, the time from start to the first file,
the wall time and files/s; then the ratio of the files/s of the largest size to the smallest
(cost linear in the count: ratio within 10 %), the smallest size being run again after the
others and its files/s the mean of its two runs, so that the machine's speed drifting over the
long run weighs on both sides. Each target line says PASS or BELOW.

Each timing ends with ``os.sync()``: the files are small, so they go through the page cache,
and a run of seconds would otherwise leave its writeback out of its time while a run of minutes
pays it as it goes. Each size's output stays until the end (then all is removed), so that no
size creates its files among the inodes the previous one just freed. On a shared VM a ratio
far from 1 either way can still be the machine's speed changing: rerun before reading it as a
cost that grows with the count.

Targets (issue 15): peak RSS < 512 MiB whatever the count; first file within 2 s; files/s of the
sizes within 10 % of each other. ``--sizes 1000000`` is a long run: at the rate the smaller sizes
print, 10^6 instances take 10^6 / (files/s) seconds (on this shared 2-core VM, hours).

All output lives in a fresh folder (under ``--out``, default a temporary folder under /tmp) that
is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RSS_LIMIT = 512 * 1024 * 1024
FIRST_FILE_LIMIT = 2.0
LINEAR_TOLERANCE = 0.10
PER_PATIENT = 8  # 2 studies x 4 views


@dataclass(frozen=True)
class Measure:
    instances: int
    peak_rss: int
    first_file: float
    seconds: float

    @property
    def rate(self) -> float:
        return self.instances / self.seconds


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def _first_file(folder: Path) -> bool:
    dicoms = folder / "dicoms"
    try:
        return any(any(study.iterdir()) for study in dicoms.iterdir())
    except OSError:
        return False


def measure(instances: int, workers: int, root: Path) -> Measure:
    spec = {
        "name": f"scale{instances}",
        "seed": 1,
        "defaults": {"pixels": {"rows": 64, "columns": 64}},
        "patients": [
            {"count": instances // PER_PATIENT, "studies": [{"role": "current"}, {"role": "prior"}]}
        ],
    }
    spec_path = root / f"scale{instances}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    # a fresh folder per run, kept until the end, so that the next size does not create its
    # files among inodes just freed (ext4 without a journal, as on the benchmarks' VM, skips
    # each inode freed recently, looking it up, when it creates a file: see docs/scale.md)
    out = Path(tempfile.mkdtemp(prefix="out-", dir=root))
    command = [sys.executable, "-m", "dicomfab", "generate", "-q", "-c", str(spec_path)]
    command += ["-o", str(out), "-j", str(workers)]
    partial = out / f".scale{instances}.partial"
    start = time.perf_counter()
    process = subprocess.Popen(command)
    peak, first = 0, float("nan")
    while process.poll() is None:
        peak = max(peak, _rss(_tree(process.pid)))
        if first != first and _first_file(partial):
            first = time.perf_counter() - start
        time.sleep(0.05)
    if process.returncode != 0:
        raise SystemExit(f"dicomfab generate failed ({process.returncode})")
    os.sync()  # the files on disk: else a short run leaves its writeback out of its time
    seconds = time.perf_counter() - start
    return Measure(instances, peak, first, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dicomfab-scale-", dir=args.out))
    try:
        results = []
        # the smallest size again at the end: its mean brackets the larger ones in time
        order = args.sizes + args.sizes[:1] if len(args.sizes) > 1 else args.sizes
        for size in order:
            m = measure(size, args.workers, root)
            results.append(m)
            print(
                f"{m.instances:>9} instances: peak RSS {m.peak_rss / 2**20:7.1f} MiB, first file "
                f"after {m.first_file:5.2f} s, {m.seconds:8.1f} s, {m.rate:7.1f} files/s",
                flush=True,
            )
        load = os.getloadavg()[0]
        peak = max(m.peak_rss for m in results)
        first = max(m.first_file for m in results)
        small = [m.rate for m in results if m.instances == args.sizes[0]]
        largest = next(m for m in results if m.instances == args.sizes[-1])
        ratio = largest.rate / (sum(small) / len(small))
        print(f"load average {load:.1f} (2-core VM, shared: files/s vary with it)")
        verdict = {True: "PASS", False: "BELOW"}
        print(f"peak RSS {peak / 2**20:.0f} MiB < 512 MiB: {verdict[peak < RSS_LIMIT]}")
        print(f"first file {first:.2f} s <= 2 s: {verdict[first <= FIRST_FILE_LIMIT]}")
        linear = abs(ratio - 1) <= LINEAR_TOLERANCE
        print(
            f"files/s at {largest.instances} / at {args.sizes[0]} (mean of its {len(small)} "
            f"runs): {ratio:.2f} "
            f"(within 10 %): {verdict[linear]}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
