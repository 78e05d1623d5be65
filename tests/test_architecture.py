"""Import contracts between dicomfab's packages, read from the source (an AST walk, imports
inside functions included): the arrows DESIGN.md draws, kept by a test rather than by habit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dicomfab"
UPPER_FLOORS = ("builder", "output", "scenarios", "targets", "run", "web", "cli")


def imports_of(package: str) -> dict[str, set[str]]:
    """Each module of ``dicomfab.<package>`` → the dicomfab modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / package).rglob("*.py")):
        module = ".".join(("dicomfab", *path.relative_to(SRC).with_suffix("").parts))
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[module] = {n for n in names if n.startswith("dicomfab.")}
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # the web UI is a face over the library, like the CLI: it never borrows from the CLI
        ("web", "dicomfab.cli"),
        # the spec is the ground floor: it knows models, names and values, nothing that builds,
        # writes, sends or shows them
        *(("studyspec", f"dicomfab.{upper}") for upper in UPPER_FLOORS),
    ],
)
def test_package_does_not_import(package: str, forbidden: str) -> None:
    wrong = {
        module: sorted(n for n in names if n == forbidden or n.startswith(f"{forbidden}."))
        for module, names in imports_of(package).items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}


def test_the_walk_sees_imports() -> None:
    """The walk finds what it must (else the contracts above would pass on nothing)."""
    cli = imports_of("cli")
    assert "dicomfab.web.server" in cli["dicomfab.cli.ui"]  # an import inside a function
    assert "dicomfab.scenarios.selection" in cli["dicomfab.cli.run"]


def test_target_kinds_are_reached_only_through_the_registry() -> None:
    """Adding a kind touches its own module (and an entry point), never the config, the
    connection or the probe: they dispatch through dicomfab.targets.registry."""
    from dicomfab.targets.registry import BUILTINS

    adapters = {reference.partition(":")[0] for reference in BUILTINS}
    found = {**imports_of("targets"), **imports_of("run")}
    for module in ("dicomfab.targets.config", "dicomfab.targets.registry", "dicomfab.run.probe"):
        assert not found[module] & adapters, module
    # connect.py names adapters only to start the embedded default (not a kind)
    assert found["dicomfab.run.connect"] & adapters <= {
        "dicomfab.targets.cstore",
        "dicomfab.targets.verify_cfind",
        "dicomfab.targets.verify_sql",
    }
