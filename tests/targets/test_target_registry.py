"""Target kinds come from one registry, fed by the ``dicomfab.targets`` entry points: a
third-party package that declares one gets a new kind in config checking, ``dicomfab targets``,
``dicomfab check`` and runs, without a line of dicomfab changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from dicomfab.targets.registry import GROUP, adapters, builtins

REPO = Path(__file__).resolve().parents[2]

PLUGIN = """
from typing import Literal

from dicomfab.errors import TargetError
from dicomfab.targets.observations import Observations, ObservedInstance
from dicomfab.targets.receipt import Receipt
from dicomfab.targets.registry import Adapter, AdapterConfig, Context


class DropIngest(AdapterConfig):
    kind: Literal["drop"]
    bucket: str


class Drop:
    def ingest(self, files, progress=None):
        return Receipt([], 0.0)


def _probe(config, context):
    if config.bucket == "missing":
        raise TargetError("no bucket missing")
    return f"bucket {config.bucket} is there"


class EchoVerify(AdapterConfig):
    kind: Literal["echo"]
    prefix: str = "1.2"


class Echo:
    def __init__(self, prefix, studies):
        self.prefix, self.studies = prefix, studies

    def observe(self, uids):
        found = {u: ObservedInstance(u) for u in uids if u.startswith(self.prefix)}
        return Observations(found, f"echo {self.prefix} ({len(self.studies)} studies)")


ADAPTERS = (
    Adapter("drop", "ingest", DropIngest, lambda c: f"DROP {c.bucket}",
            lambda c, ctx: Drop(), _probe),
    Adapter("echo", "verify", EchoVerify, lambda c: f"ECHO {c.prefix}",
            lambda c, ctx: Echo(c.prefix, ctx.study_uids)),
)
"""

CONFIG = """
[targets.plug]
ingest = { kind = "drop", bucket = "b1" }
verify = { kind = "echo", prefix = "2.25" }

[targets.down]
ingest = { kind = "drop", bucket = "missing" }
verify = { kind = "echo" }

[targets.typo]
ingest = { kind = "drop", buckt = "b1" }
verify = { kind = "ecko" }
"""

SCRIPT = """
import json, sys
from pathlib import Path
from dicomfab.run.connect import open_target, target_rows
from dicomfab.run.probe import probe
from dicomfab.targets.config import load_targets

work = Path(sys.argv[1])
targets = load_targets(work / "dicomfab.toml", {})
rows = {r["name"]: r for r in target_rows(targets)}
probes = {n: [[p.part, p.what, p.ok, p.detail] for p in probe(n, targets, work)]
          for n in ("plug", "down")}
with open_target("plug", targets, work / "run", folder=work, study_uids=["2.25.9"]) as s:
    seen = sorted(s.verifiers[0].observe(["2.25.1", "1.2.3"]).instances)
    receipt = str(s.ingestor.ingest([]))
broken = [str(i) for i in targets.broken["typo"]]
print(json.dumps({"rows": rows, "probes": probes, "seen": seen, "receipt": receipt,
                  "broken": broken}))
"""


def _install_plugin(site: Path) -> None:
    """A package and its dist-info, as pip would leave them in site-packages."""
    (site / "fab_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "fab_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fab-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nfab = fab_plugin:ADAPTERS\n")


def test_a_plugin_package_adds_kinds_everywhere(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    (tmp_path / "dicomfab.toml").write_text(CONFIG)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO / "src")])}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    rows = out["rows"]
    assert rows["plug"]["ingest"] == "DROP b1" and rows["plug"]["verify"] == ["ECHO 2.25"]
    assert rows["typo"]["problem"].endswith("(and 2 more)")
    assert sorted(out["broken"]) == [
        "targets.typo.ingest.bucket: Field required",
        "targets.typo.ingest.buckt: unknown key (did you mean bucket?)",
        "targets.typo.verify: unknown kind 'ecko' (known: cfind, echo, memory, qido, sql)"
        " (did you mean echo?)",
    ]
    assert out["probes"]["plug"] == [
        ["ingest", "DROP b1", True, "bucket b1 is there"],
        ["verify", "ECHO 2.25", True, out["probes"]["plug"][1][3]],
    ]
    assert out["probes"]["plug"][1][3].startswith("echo 2.25 (1 studies) answers")
    assert out["probes"]["down"][0] == ["ingest", "DROP missing", False, "no bucket missing"]
    assert out["seen"] == ["2.25.1"] and out["receipt"].startswith("0 files")


def test_an_unknown_kind_names_the_nearest(tmp_path: Path) -> None:
    from dicomfab.targets.config import load_targets

    config = tmp_path / "dicomfab.toml"
    config.write_text(
        '[targets.a]\ningest = { kind = "cstor", port = 1, called_ae = "X" }\n'
        'verify = [{ kind = "cfind", port = 2, called_ae = "Y" }, { kind = "qid", url = "u" }]\n'
    )
    issues = [str(i) for i in load_targets(config, {}).broken["a"]]
    assert issues == [
        "targets.a.ingest: unknown kind 'cstor' (known: command, cstore, memory, stow)"
        " (did you mean cstore?)",
        "targets.a.verify[1]: unknown kind 'qid' (known: cfind, memory, qido, sql)"
        " (did you mean qido?)",
    ]


def test_the_builtins_are_declared_as_entry_points() -> None:
    """dicomfab's own kinds take the plugin path too: pyproject.toml declares each built-in
    (the loader also finds them by reading this package, for a stale or absent install)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    declared = project["project"]["entry-points"][GROUP]
    assert sorted(declared.values()) == sorted(builtins())
    kinds = {(a.role, a.kind) for a in adapters()}
    # a links kind may share its name with an ingest or verify kind: its entry point is KIND-links
    named = {f"{kind}-links" if role == "links" else kind for role, kind in kinds}
    assert named == set(declared)
    assert ("ingest", "memory") in kinds and ("verify", "memory") in kinds


def test_a_broken_plugin_is_named_and_stops_nothing_else(tmp_path: Path) -> None:
    """A third-party plugin that raises on import is left out: every command still works,
    `dicomfab targets` warns, and a target using its kind says why."""
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    (site / "broken_plugin.py").write_text('raise RuntimeError("boom at import")\n')
    info = site / "broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nbad = broken_plugin:ADAPTER\n")
    (tmp_path / "dicomfab.toml").write_text(
        '[targets.a]\ningest = { kind = "bad" }\nverify = { kind = "echo" }\n'
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO / "src")])}

    def dicomfab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dicomfab", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    version = dicomfab("--version")
    assert version.returncode == 0 and "version" in version.stdout, version.stderr
    listed = dicomfab("targets", "--json")
    assert listed.returncode == 2, listed.stderr
    assert "Traceback" not in listed.stderr
    problem = "target plugin bad = broken_plugin:ADAPTER failed to load: RuntimeError: boom"
    assert f"warning: {problem} at import" in listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["targets"]}
    assert rows["a"]["problem"] == (
        "targets.a.ingest: unknown kind 'bad' (known: command, cstore, drop, memory, stow); "
        f"{problem} at import"
    )
