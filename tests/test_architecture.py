"""Import contracts between dicomfab's packages, read from the source (an AST walk, imports
inside functions included): the arrows DESIGN.md draws, kept by a test rather than by habit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dicomfab"
UPPER_FLOORS = ("builder", "output", "scenarios", "targets", "run", "testing", "web", "cli")


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
        # the web UI and the CLI are two faces over the library: neither borrows from the other
        # (dicomfab.console, the console script, is where the two meet)
        ("web", "dicomfab.cli"),
        ("cli", "dicomfab.web"),
        # the pytest fixtures sit on the library, beside the CLI and the UI, not on them
        ("testing", "dicomfab.cli"),
        ("testing", "dicomfab.web"),
        # a target knows files, UIDs and errors, not how data is built, chosen or judged
        # (the run adds its policy and expectation checks when it loads a targets file)
        *(("targets", f"dicomfab.{upper}") for upper in ("builder", "scenarios", "run")),
        *(("targets", f"dicomfab.{face}") for face in ("testing", "web", "cli")),
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


def test_nothing_imports_the_composition_root() -> None:
    """``dicomfab.console`` joins the faces; no package leans on it."""
    packages = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file())
    assert {"cli", "web", "run"} <= set(packages)
    wrong = {
        module: names
        for package in packages
        for module, names in imports_of(package).items()
        if "dicomfab.console" in names
    }
    assert wrong == {}


def test_the_walk_sees_imports() -> None:
    """The walk finds what it must (else the contracts above would pass on nothing)."""
    cli = imports_of("cli")
    assert "dicomfab.builder.plan" in cli["dicomfab.cli.common"]  # an import inside a function
    assert "dicomfab.scenarios.selection" in cli["dicomfab.cli.run"]
    assert "dicomfab.web.server" in imports_of("web")["dicomfab.web.command"]  # in a function


def test_iods_read_the_plan_model_not_the_planner() -> None:
    """An IOD builds from the plan (``builder.plan_model``); the planner (``builder.plan``) picks
    IODs from the registry, so an IOD importing it would close a circle."""
    iods = imports_of("builder/iods")
    assert "dicomfab.builder.plan_model.InstancePlan" in iods["dicomfab.builder.iods.base"]
    wrong = {
        module: sorted(
            n
            for n in names
            if n == "dicomfab.builder.plan" or n.startswith("dicomfab.builder.plan.")
        )
        for module, names in iods.items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}


#: what the transfer-syntax package may build on: it knows frames and bits, not specs or plans
TRANSFER_NEEDS = ("dicomfab.errors", "dicomfab.builder.pixels.image", "dicomfab.builder.transfer")


def test_transfer_syntaxes_stand_apart_from_the_planner() -> None:
    """A transfer syntax is added inside dicomfab.builder.transfer, whatever plans or writes."""
    wrong = {
        module: sorted(n for n in names if not n.startswith(TRANSFER_NEEDS))
        for module, names in imports_of("builder/transfer").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}
    assert (
        "dicomfab.builder.transfer.encoders"
        in imports_of("builder/transfer")["dicomfab.builder.transfer.registry"]
    )


def test_codec_libraries_are_imported_only_to_encode() -> None:
    """No module of dicomfab.builder.transfer imports a codec library when it is imported
    (only inside the encoder that uses it), so a missing codec is named by its pip package when
    a file needs it, and every other command still works."""
    from dicomfab.builder.transfer.registry import REGISTRY

    codecs = {library.module for ts in REGISTRY for library in ts.requires}
    assert codecs >= {"gdcm", "openjpeg", "jpeg_ls"}
    at_import: dict[str, set[str]] = {}
    for path in sorted((SRC / "builder" / "transfer").glob("*.py")):
        names: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
        at_import[path.name] = names & codecs
    assert {name: found for name, found in at_import.items() if found} == {}


def test_the_api_areas_stand_alone() -> None:
    """Each area of the API (web/routes/<area>.py) shares only ``routes.common`` with the
    others; below the routes, the web helpers (jobs, files, paths, …) never reach up into them.
    Only the app (and the routes package itself) assembles the areas."""
    web = imports_of("web")
    routes = "dicomfab.web.routes"
    assembling = {f"{routes}.__init__", "dicomfab.web.app"}
    assert f"{routes}.common" in web[f"{routes}.runs"]  # the walk sees the areas
    wrong: dict[str, list[str]] = {}
    for module, names in web.items():
        inside = sorted(n for n in names if n == routes or n.startswith(f"{routes}."))
        if module in assembling:
            continue
        if module.startswith(f"{routes}."):
            inside = [n for n in inside if not n.startswith(f"{routes}.common")]
        if inside:
            wrong[module] = inside
    assert wrong == {}


def test_target_kinds_are_reached_only_through_the_registry() -> None:
    """Adding a kind touches its own module (and an entry point), never the config, the
    connection or the probe: they dispatch through dicomfab.targets.registry."""
    from dicomfab.targets.registry import builtins

    adapters = {reference.partition(":")[0] for reference in builtins()}
    found = {**imports_of("targets"), **imports_of("run")}
    for module in ("dicomfab.targets.config", "dicomfab.targets.registry", "dicomfab.run.probe"):
        assert not found[module] & adapters, module
    # connect.py names adapters only to start the embedded default (not a kind)
    assert found["dicomfab.run.connect"] & adapters <= {
        "dicomfab.targets.cstore",
        "dicomfab.targets.verify_cfind",
        "dicomfab.targets.verify_sql",
    }


def package_graph() -> dict[str, set[str]]:
    """Each package of dicomfab → the other packages its modules import."""
    packages = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file())
    graph: dict[str, set[str]] = {}
    for package in packages:
        used = {n.split(".")[1] for names in imports_of(package).values() for n in names}
        graph[package] = (used & set(packages)) - {package}
    return graph


def test_the_packages_form_no_circle() -> None:
    """Dependencies point one way (DESIGN.md): studyspec → builder → output → scenarios → run,
    targets beside them, the faces on top. A circle between packages fails here, naming it."""
    graph = package_graph()
    assert graph["run"] >= {"targets", "scenarios"}  # the walk sees the floors

    def circle_from(start: str) -> list[str] | None:
        path: list[str] = []

        def visit(node: str) -> list[str] | None:
            if node in path:
                return [*path[path.index(node) :], node]
            path.append(node)
            for nxt in sorted(graph[node]):
                found = visit(nxt)
                if found:
                    return found
            path.pop()
            return None

        return visit(start)

    circles = {start: circle for start in graph if (circle := circle_from(start))}
    assert circles == {}
