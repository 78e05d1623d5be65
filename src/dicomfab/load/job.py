"""One ``dicomfab load``: open the target, make the template, check that the target does not
hold this load's UIDs already, run the schedule, write ``load.json`` and ``load.html``."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicomfab.errors import DicomfabError, Issue, SpecError, TargetError
from dicomfab.load.records import StudyRecord
from dicomfab.load.runner import LoadResult, LoadSettings, LoadState, run_load
from dicomfab.load.schedule import Schedule
from dicomfab.run.pipeline import new_run_dir

EXIT_DONE, EXIT_NOT_VISIBLE, EXIT_TARGET = 0, 1, 3


@dataclass(frozen=True)
class LoadRequest:
    studies: int
    per_minute: float
    seed: int
    target: str | None = None
    targets: Any = None  # dicomfab.targets.config.Targets
    associations: int | None = None  # None: the target's cstore ``associations``
    image_size: str = "reduced"
    poll: float = 0.5
    timeout: float = 60.0
    out: Path | None = None
    runs_dir: Path = Path("runs")
    dask: str | None = None  # a Dask scheduler's address: the cluster's workers send


@dataclass
class LoadOutcome:
    out: Path
    data: dict[str, Any] = field(default_factory=dict)
    exit_code: int = EXIT_DONE

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.data.get("summary", {}))


def run(request: LoadRequest, on_tick: Callable[[LoadState], None] | None = None) -> LoadOutcome:
    """Run ``request``; the outcome says where the files went and the exit code. Interrupted,
    the files are written (marked interrupted) and the KeyboardInterrupt goes on, carrying the
    outcome as ``load_outcome``. With ``dask``, the cluster is connected to and checked
    before anything is made (:class:`~dicomfab.errors.ClusterError`)."""
    from dicomfab.run.connect import configured_target

    target = configured_target(request.target, request.targets)  # unknown: bad input, first
    if not request.dask:
        return _run(request, on_tick)
    from dicomfab.load.cluster import check_target
    from dicomfab.output.distributed import dask_client

    check_target(target, request.target)
    with dask_client(request.dask) as (client, _):
        return _run(request, on_tick, client)


def _run(
    request: LoadRequest, on_tick: Callable[[LoadState], None] | None, client: Any = None
) -> LoadOutcome:
    from dicomfab.load.template import StudyMaker, read_instance, template_files
    from dicomfab.run.connect import open_target

    if request.out is not None:
        request.out.mkdir(parents=True, exist_ok=True)
        out = request.out
    else:
        out = new_run_dir(request.runs_dir, "load")
    files = template_files(request.image_size, out)
    maker = StudyMaker([read_instance(data) for data in files], request.seed)
    study_uids = [maker.identity(i)[2][_study_uid(maker)] for i in range(request.studies)]
    outcome = LoadOutcome(out)
    config: dict[str, Any] = {
        "target": request.target or "embedded",
        "studies": request.studies,
        "rate_per_min": request.per_minute,
        "seed": request.seed,
        "image_size": request.image_size,
        "poll": request.poll,
        "timeout": request.timeout,
        "instances_per_study": len(maker.template),
        "study_bytes": sum(len(t.tail) for t in maker.template),
    }
    if client is not None:
        from dicomfab.load.cluster import run_on_cluster

        return run_on_cluster(client, request, files, maker, config, outcome)
    records: list[StudyRecord] = []
    started = time.monotonic()
    try:
        with open_target(
            request.target, request.targets, out, folder=out, study_uids=study_uids
        ) as session:
            ingestor, verifier = sending_parts(session)
            config |= {
                "target_description": session.description,
                "associations": request.associations or ingestor.associations,
            }
            check_fresh(verifier, maker, range(request.studies))
            settings = LoadSettings(
                Schedule(request.studies, request.per_minute),
                associations=config["associations"],
                poll=request.poll,
                timeout=request.timeout,
                dimse_timeout=ingestor.timeout,
            )
            try:
                result = run_load(ingestor.node, verifier, maker, settings, on_tick)
            except KeyboardInterrupt as exc:
                stopped: LoadResult = exc.load_result  # type: ignore[attr-defined]
                signum = getattr(exc, "signum", signal.SIGINT)
                stopped.interrupted = signal.Signals(signum).name
                finish(outcome, config, stopped)
                exc.load_outcome = outcome  # type: ignore[attr-defined]
                raise
    except TargetError as exc:
        result = LoadResult(records, time.monotonic() - started, fault=str(exc))
    finish(outcome, config, result)
    return outcome


def _study_uid(maker: Any) -> str:
    return str(maker.template[0].header.StudyInstanceUID)


def sending_parts(session: Any) -> tuple[Any, Any]:
    """The session's C-STORE ingestor and first verifier (a load needs both)."""
    from dicomfab.targets.cstore import CStoreIngestor

    ingestor = session.ingestor
    if not isinstance(ingestor, CStoreIngestor):
        raise SpecError(
            [
                Issue(
                    "--target",
                    f"{session.name!r} does not ingest with C-STORE: "
                    "dicomfab load sends with C-STORE only",
                )
            ]
        )
    if not session.verifiers:
        raise SpecError([Issue("--target", f"{session.name!r} has no verifier")])
    return ingestor, session.verifiers[0]


def check_fresh(verifier: Any, maker: Any, indices: Iterable[int]) -> None:
    """A study the target holds already would be credited at once: refuse (another seed)."""
    uids = [
        maker.identity(i)[2][str(t.header.SOPInstanceUID)] for i in indices for t in maker.template
    ]
    seen = verifier.observe(uids)
    held = [uid for uid in uids if uid in seen]
    if held:
        raise DicomfabError(
            f"the target holds {len(held)} of this load's {len(uids)} instances already (seed "
            f"{maker.seed} was used before): run again with another --seed"
        )


def finish(
    outcome: LoadOutcome,
    config: dict[str, Any],
    result: LoadResult,
    histogram: Any = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``load.json`` and ``load.html``; set the outcome's data and exit code.
    ``histogram`` and ``extra`` (e.g. ``workers``): from a ``--dask`` load."""
    from dicomfab.load.html import write_html
    from dicomfab.load.report import document, write_json

    if result.fault is not None:
        code = EXIT_TARGET
        lost = any(not w.get("reported", True) for w in (extra or {}).get("workers", []))
        text = "worker lost" if lost else "target failed"
    elif result.interrupted is not None:
        code = 128 + signal.Signals[result.interrupted].value
        text = "interrupted"
    elif result.records and result.all_visible:
        code, text = EXIT_DONE, "all visible"
    else:
        code, text = EXIT_NOT_VISIBLE, "not all visible"
    data = document(
        config,
        result.records,
        result.elapsed,
        {
            "outcome": text,
            "exit_code": code,
            "fault": result.fault,
            "interrupted": result.interrupted,
            "polls": result.polls,
            "poll_seconds": round(result.poll_seconds, 3),
            **(extra or {}),
        },
        histogram,
    )
    write_json(outcome.out / "load.json", data)
    write_html(outcome.out / "load.html", data)
    outcome.data = data
    outcome.exit_code = code
