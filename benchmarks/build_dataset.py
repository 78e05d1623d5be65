"""CPU seconds of ``build_dataset`` (the pydicom header, no pixels) across the scenario library.

Run: ``.venv/bin/python benchmarks/build_dataset.py [--image-size small] [--profile FILE]``

Generates every scenario in this one process (``workers=1``) into a temporary folder, timing
each ``build_dataset`` call with ``time.process_time`` (CPU, not wall: the machine is shared);
prints their total and the whole generation's CPU. ``--profile FILE`` also writes a cProfile
of the ``build_dataset`` calls only (read it with ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import cProfile
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import dicomfab.output.generate as generate_module
from dicomfab.scenarios import generate_scenarios, scenarios
from dicomfab.scenarios.selection import scenario_requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", choices=["full", "reduced", "small"], default="small")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile output file")
    args = parser.parse_args()
    real = generate_module.build_dataset
    profile = cProfile.Profile() if args.profile else None
    spent, calls = 0.0, 0

    def timed(inst: Any, image: Any) -> Any:
        nonlocal spent, calls
        start = time.process_time()
        if profile is not None:
            profile.enable()
        try:
            return real(inst, image)
        finally:
            if profile is not None:
                profile.disable()
            spent += time.process_time() - start
            calls += 1

    generate_module.build_dataset = timed  # type: ignore[assignment]
    root = Path(tempfile.mkdtemp(prefix="dicomfab-build-"))
    try:
        start = time.process_time()
        requests = scenario_requests(list(scenarios()), {"image_size": args.image_size})
        generate_scenarios(requests, root / "library", workers=1)
        total = time.process_time() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if profile is not None:
        profile.dump_stats(args.profile)
    print(f"build_dataset: {spent:.2f} CPU s over {calls} calls; generate: {total:.2f} CPU s")


if __name__ == "__main__":
    main()
