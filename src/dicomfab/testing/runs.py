"""End-to-end runs from a test: :func:`run` is ``dicomfab run`` as a function, and its outcome
(:class:`DicomfabOutcome`, a :class:`~dicomfab.run.pipeline.RunOutcome`) knows how to fail a
test with the record-level diff of the reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dicomfab.run.checks import ScenarioResult
from dicomfab.run.connect import EMBEDDED, EMBEDDED_WAIT, embedded_policy, load_targets
from dicomfab.run.pipeline import RunOutcome, RunRequest, execute
from dicomfab.run.report import failure_message
from dicomfab.scenarios.selection import expand_names, scenario_requests, with_image_size
from dicomfab.targets.config import Target, Targets, find_config
from dicomfab.targets.embedded import EmbeddedPACS


@dataclass(frozen=True)
class RunTarget:
    """A target a run can use: ``name`` among ``targets`` (None: the embedded default, which
    the run starts and stops itself)."""

    name: str | None
    targets: Targets

    @classmethod
    def of(cls, target: RunTarget | Target | Mapping[str, Any] | str | None) -> RunTarget:
        """From a name in ``dicomfab.toml`` (found as the CLI finds it), None or ``"embedded"``
        (the embedded default), a :class:`Target`, or a ``[targets.NAME]`` table as data."""
        if isinstance(target, RunTarget):
            return target
        if target is None or target == EMBEDDED:
            return cls(None, Targets({}, set(), None))
        if isinstance(target, str):
            return cls(target, load_targets(find_config()))
        if not isinstance(target, Target):
            target = Target.model_validate(dict(target))
        return cls("test-target", Targets({"test-target": target}, set(), None))


def embedded_target(pacs: EmbeddedPACS) -> RunTarget:
    """A running :class:`EmbeddedPACS` as a target: C-STORE in, SQL on its SQLite index out
    (exact: the C-FIND verifier ``dicomfab run`` adds is left out), with the embedded policy."""
    rules = embedded_policy()
    target = Target(
        description=f"embedded qrscp {pacs.ae_title}@{pacs.host}:{pacs.port}",
        ingest={"kind": "cstore", "host": pacs.host, "port": pacs.port, "called_ae": pacs.ae_title},
        verify={"kind": "sql", "profile": "embedded", "url": f"sqlite:///{pacs.database_path}"},
        wait=EMBEDDED_WAIT,
        policy=dict(rules.policy),
        expect={k: dict(v) for k, v in rules.expect.items()},
    )
    return RunTarget("embedded-pacs", Targets({"embedded-pacs": target}, set(), None))


@dataclass
class DicomfabOutcome(RunOutcome):
    """A :class:`RunOutcome` with each scenario's result by name and :meth:`assert_passed`."""

    @classmethod
    def of(cls, outcome: RunOutcome) -> DicomfabOutcome:
        return cls(**{f.name: getattr(outcome, f.name) for f in fields(RunOutcome)})

    @property
    def scenarios(self) -> dict[str, ScenarioResult]:
        """Each scenario's result (verdict, counts, checks) by scenario name."""
        return {r.name: r for r in self.results}

    def explain(self) -> str:
        """What went wrong, as the reports say it: why the run stopped, then each scenario not
        passed with its record-level diff lines; empty when the run passed."""
        if self.passed:
            return ""
        lines = [f"dicomfab run against {self.target} did not pass (run folder {self.run_dir})"]
        if self.stop is not None:
            lines.append(self.stop.headline)
        elif self.error:
            lines.append(self.error)
        if self.report_error:
            lines.append(self.report_error)
        for r in self.results:
            if r.passed:
                continue
            if r.not_run is not None:
                lines.append(f"scenario {r.name}: {r.not_run}")
                continue
            lines.append(f"scenario {r.name}: {failure_message(r)}")
            lines += [f"  {line}" for line in r.failures()]
        if not self.results:
            lines.append("no scenario was checked")
        return "\n".join(lines)

    def assert_passed(self) -> None:
        """Fail (AssertionError) with :meth:`explain` unless every scenario passed."""
        __tracebackhide__ = True
        if not self.passed:
            raise AssertionError(self.explain())


def run(
    target: RunTarget | Target | Mapping[str, Any] | str | None,
    scenarios: str | Sequence[str],
    *,
    run_dir: Path,
    seed: int | None = None,
    image_size: str | None = None,
    set: Mapping[str, Any] | None = None,  # the parameters, as --set gives them
    sites: Path | None = None,
    workers: int | None = None,
) -> DicomfabOutcome:
    """Run ``scenarios`` (names, comma lists or ``all``) end to end against ``target`` (see
    :meth:`RunTarget.of`) in ``run_dir`` (it must not exist yet), as ``dicomfab run`` does with
    the same options; without ``seed`` each run has a fresh one (new UIDs). A target failure
    is in the outcome (``error``), bad input raises."""
    chosen = RunTarget.of(target)
    names = expand_names([scenarios] if isinstance(scenarios, str) else list(scenarios), ())
    overrides = dict(set or {})
    if image_size is not None and "image_size" not in overrides:
        overrides = with_image_size(names, overrides, image_size)
    request = RunRequest(
        scenario_requests(names, overrides, None, sites),
        chosen.name,
        chosen.targets,
        run_dir=run_dir,
        workers=workers,
        seed=seed,
    )
    return DicomfabOutcome.of(execute(request))


@dataclass(frozen=True)
class EmbeddedTarget:
    """A running embedded PACS and the target that feeds it (the ``dicomfab_embedded_pacs``
    fixture)."""

    pacs: EmbeddedPACS

    @property
    def host(self) -> str:
        return self.pacs.host

    @property
    def port(self) -> int:
        return self.pacs.port

    @property
    def ae_title(self) -> str:
        return self.pacs.ae_title

    @property
    def database_path(self) -> Path:
        """Its SQLite index (table ``instance``)."""
        return self.pacs.database_path

    @property
    def target(self) -> RunTarget:
        """What :func:`run` takes: C-STORE to it, SQL on its index, the embedded policy."""
        return embedded_target(self.pacs)
