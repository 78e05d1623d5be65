"""What a run checks before it writes or sends anything: bad input is exit 2, nothing generated.

    check_run(request)      # SpecError / OutputError, or None when the run may start

- the target exists and is usable (every ``${…}`` set, every field valid: ``Targets.broken``);
- its ``policy`` and ``expect`` (for the embedded target: ``embedded-policy.yaml``) name known
  outcomes, existing scenarios and well-formed selectors, and each selector of a *selected*
  scenario finds its study and instances in that scenario's plan (composed with the run's
  parameters; nothing is written). An expectation for a scenario not selected is not checked
  against a plan, but must still name a real scenario;
- the runs folder (or the run folder's parent) and ``--report-dir`` can be created and written:
  each is created and a probe file is written and removed. Folders created only for the probe
  are removed again when a later check fails.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dicomfab.errors import Issue, OutputError, SpecError
from dicomfab.run.connect import EMBEDDED, configured_target, embedded_policy
from dicomfab.run.expect import plan_issues, policy_issues, rule_issues
from dicomfab.scenarios import compose, get, load_profiles

if TYPE_CHECKING:
    from dicomfab.run.pipeline import RunRequest
    from dicomfab.scenarios import ScenarioRequest, SiteProfile

EMBEDDED_POLICY = "embedded-policy.yaml"


def check_run(request: RunRequest) -> None:
    """Every check above, in that order; raises on the first kind of problem found."""
    check_expectations(request)
    created: list[Path] = []
    try:
        if request.run_dir is not None:
            if request.run_dir.exists():
                raise OutputError(f"run folder {request.run_dir}: exists already")
            created += writable_folder(request.run_dir.absolute().parent, "run folder")
        else:
            created += writable_folder(request.runs_dir, "--runs-dir")
        if request.report_dir is not None:
            created += writable_folder(request.report_dir, "--report-dir")
    except OutputError:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def check_expectations(request: RunRequest) -> None:
    """The selected target's policy and expectations, on their own and against the plans of
    the selected scenarios; an unknown or broken target raises too."""
    target = configured_target(request.target, request.targets)
    source: str | None
    if target is None:
        rules = embedded_policy()
        policy, expect = rules.policy, rules.expect
        where, source = "", EMBEDDED_POLICY
    else:
        policy, expect = target.policy, target.expect
        where = f"targets.{request.target or EMBEDDED}."
        source = str(request.targets.source) if request.targets.source else None
    issues = policy_issues(policy, f"{where}policy") + rule_issues(expect, f"{where}expect")
    if not issues:  # selectors are resolved only once they are well formed
        issues = _plan_issues(request.scenarios, expect, f"{where}expect")
    if issues:
        raise SpecError(issues, source)


def _plan_issues(
    requests: Sequence[ScenarioRequest], expect: Mapping[str, Mapping[str, str]], where: str
) -> list[Issue]:
    issues: list[Issue] = []
    profiles: dict[Path | None, Mapping[str, SiteProfile]] = {}
    seen: set[str] = set()
    for request in requests:
        scenario = get(request.name)
        rules = expect.get(scenario.name)
        if not rules or scenario.name in seen:
            continue
        seen.add(scenario.name)
        if request.sites not in profiles:
            profiles[request.sites] = load_profiles(request.sites)
        composed = compose(scenario, request.overrides, profiles[request.sites], seed=request.seed)
        issues += plan_issues(rules, composed.plan, f"{where}.{scenario.name}")
    return issues


def writable_folder(path: Path, option: str) -> list[Path]:
    """Create ``path`` (with its parents) and write and remove a probe file in it; an
    :class:`OutputError` naming ``option`` and ``path`` when that fails. Returns the folders
    created here, deepest last."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    missing.reverse()
    try:
        if path.exists() and not path.is_dir():
            raise OutputError(f"{option} {path}: not a folder")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".dicomfab-probe-"):
            pass
    except OSError as exc:
        for folder in reversed(missing):
            with contextlib.suppress(OSError):
                folder.rmdir()
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"{option} {path}: cannot write there ({reason})") from None
    return [p for p in missing if p.exists()]
