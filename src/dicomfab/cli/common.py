"""Console helpers shared by the subcommands."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from dicomfab.errors import SpecError

if TYPE_CHECKING:  # the planner (pydicom, pydantic) loads when a command plans, not for --help
    from rich.console import Console

    from dicomfab.builder.plan_model import Plan
    from dicomfab.studyspec.models import Spec

# a pipe or a CI log gets a wide console instead of rich's 80-column default
_WIDTH = None if sys.stdout.isatty() else 160


def collect_from_here() -> None:
    """Turn the garbage collector back on once a command has imported its stack.

    :func:`dicomfab.console.run` starts the process with it off: start-up creates some 10^5
    objects that live as long as the process (modules, classes, pydantic validators), and
    collecting on the way only scans them again and again (30 to 60 ms of a small ``generate``).
    They are frozen out of every later collection (and so out of the copy-on-write pages of
    forked workers). A no-op where the collector is on (the library, the tests)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


class LazyConsole:
    """A rich Console made when first printed to: rich costs about a third of ``dicomfab
    --help`` (which click prints), so the commands' modules do not load it at import."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def rich(self) -> Console:
        """The Console itself (for rich's own classes, e.g. ``Progress(console=...)``)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, width=_WIDTH)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.rich.print(*objects, **options)


console = LazyConsole()
console_err = LazyConsole(stderr=True)


def escape(text: str) -> str:
    """``rich.markup.escape``, loaded when first needed."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def plan_from(spec: Spec, source: Path) -> Plan:
    """Plan ``spec``; planning errors name the spec file, as loading errors do."""
    from dicomfab.builder.plan import make_plan

    try:
        return make_plan(spec)
    except SpecError as exc:
        raise SpecError(exc.issues, source=str(source)) from None


def instances_from(spec: Spec, source: Path) -> int:
    """Check ``spec`` as a streaming generate does (its entries' first patients planned, not
    all of them); the number of instances it describes. Errors name the spec file."""
    from dicomfab.builder.plan import check_spec

    try:
        sizes = check_spec(spec)
    except SpecError as exc:
        raise SpecError(exc.issues, source=str(source)) from None
    return sum(e.count * n for e, n in zip(spec.patients, sizes, strict=True))


def note(text: str) -> None:
    """Tell the user about a step that is not one to one (e.g. an old-format conversion)."""
    console_err.print(f"note: {text}", markup=False, soft_wrap=True)


TARGETS_CONFIG_OPTION = click.option(
    "-c",
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Targets file (default: ./dicomfab.toml, then ~/.config/dicomfab/dicomfab.toml).",
)


DASK_OPTION = click.option(
    "--dask",
    "dask",
    metavar="ADDRESS",
    envvar="DICOMFAB_DASK",
    help="Build on the Dask distributed cluster whose scheduler is at ADDRESS (tcp://host:8786; "
    "env DICOMFAB_DASK) instead of local processes. Every worker needs this dicomfab version "
    "(the [dask] extra) and the output folder at the same path (a shared file system). "
    "Not with --workers. See docs/scale.md.",
)


def no_workers_with_dask(workers: int | None, dask: str | None) -> None:
    if workers is not None and dask:
        raise click.UsageError(
            "give --workers or --dask, not both: with --dask the cluster's workers build"
        )


@contextmanager
def cluster(address: str | None, shared: Path) -> Iterator[Executor | None]:
    """The Dask cluster's executor for ``--dask ADDRESS`` (checked to see ``shared``), or None:
    build locally. ``distributed`` is imported only when an address is given."""
    if not address:
        yield None
        return
    from dicomfab.output.distributed import dask_executor

    with dask_executor(address, shared=shared) as executor:
        yield executor


def complete_scenarios(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of scenario names (``all`` too); in a comma list, of its last name."""
    from dicomfab.scenario_index import cards  # the index loads only when completing

    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    known = [str(c["name"]) for c in cards()]
    names = ["all", *known] if not head else known
    return [CompletionItem(prefix + n) for n in names if n.startswith(last)]


def complete_tags(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of the tags the scenario library uses."""
    from dicomfab.scenario_index import load

    tags: list[str] = load()["tags"]
    return [CompletionItem(t) for t in tags if t.startswith(incomplete)]
