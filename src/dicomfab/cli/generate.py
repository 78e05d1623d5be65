"""``dicomfab generate``: build a dataset from a spec (or the predecessor's config)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dicomfab.cli import listing
from dicomfab.cli.common import (
    DASK_OPTION,
    cluster,
    collect_from_here,
    complete_scenarios,
    console,
    console_err,
    human_bytes,
    instances_from,
    no_workers_with_dask,
    note,
    plan_from,
)
from dicomfab.cli.scenario_run import ScenarioRun, scenario_parameter_options
from dicomfab.output.layouts import LAYOUTS, Layout

if TYPE_CHECKING:  # the builder (pydicom, numpy, pydantic) loads when the command runs
    from concurrent.futures import Executor

    from dicomfab.builder.plan_model import Plan
    from dicomfab.output.generate import GenerateResult
    from dicomfab.studyspec.models import Spec


@click.command("generate", context_settings={"allow_extra_args": True})
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default="out",
    show_default=True,
    help="Folder to write datasets into (one sub-folder each).",
)
@click.option(
    "-c",
    "--config",
    "config",
    type=click.Path(path_type=Path),  # load_spec explains a missing file or a folder
    help="Spec file (YAML or JSON); the old power-customize format is accepted too.",
)
@click.option(
    "--power-customize",
    "power_customize",
    type=click.Path(path_type=Path),
    help="Alias of --config, for the predecessor's command lines.",
)
@click.option(
    "-s",
    "--scenario",
    "scenario_names",
    multiple=True,
    shell_complete=complete_scenarios,
    help="Scenario(s) from the library instead of a spec; `all` for every one (see `list`).",
)
@scenario_parameter_options
@click.option("--seed", type=click.IntRange(min=0), help="Override the spec's seed.")
@click.option("--name", help="Override the dataset (folder) name.")
@click.option(
    "-p", "--preview", is_flag=True, help="Validate and show what would be written; write nothing."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing dataset folder.")
@click.option(
    "--resume",
    is_flag=True,
    help="Finish a generate that was interrupted (Ctrl-C, SIGTERM): same spec and seed; the "
    "patients already written are kept.",
)
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    default="folders",
    show_default=True,
    help="folders: dicoms/<study>/<file>; media: a CD/USB File-set with a DICOMDIR at the root "
    "(DICOM/PT000000/ST000000/SE000000/IM000000).",
)
@click.option(
    "--junk",
    is_flag=True,
    help="With --layout media: add the non-DICOM files real media carries (.DS_Store, a zero-byte "
    "file, AUTORUN.INF, VIEWER.EXE), listed as manifest extras.",
)
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    help="Processes to build with (default: up to 2, one per core; a small job is built in "
    "this one).",
)
@DASK_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (for scripts).")
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar, no summary (errors still show)."
)
@click.option("--list-scenarios", is_flag=True, help="Alias of `dicomfab list`.")
def command(
    output: Path,
    config: Path | None,
    power_customize: Path | None,
    scenario_names: tuple[str, ...],
    assignments: tuple[str, ...],
    params_file: Path | None,
    sites: Path | None,
    seed: int | None,
    name: str | None,
    preview: bool,
    overwrite: bool,
    resume: bool,
    layout: Layout,
    junk: bool,
    workers: int | None,
    dask: str | None,
    as_json: bool,
    quiet: bool,
    list_scenarios: bool,
) -> None:
    """Generate DICOM files, companion records and a manifest from a spec or from scenarios.

    \b
    Writes <output>/<name>/dicoms/<StudyInstanceUID>/<SOPInstanceUID>.dcm,
           <output>/<name>/jsons/<current StudyInstanceUID>.json (no current study: named
           after the newest study) and <output>/<name>/manifest.json.
    The folder appears complete or not at all. Same spec and seed give byte-identical files.
    --layout media writes the instances as removable media does instead: a DICOMDIR at
    <output>/<name>/ and the files under DICOM/PT000000/ST000000/SE000000/IM000000 (a spec only).

    Scenarios go to <output>/<scenario name>/ each; --set and --params change their parameters.

    \b
    Examples:
      dicomfab generate -o out -c examples/specs/mg-screening.yaml
      dicomfab generate -o out --power-customize old_config.json --preview
      dicomfab generate -o out -c examples/specs/mg-screening.yaml --layout media --junk
      dicomfab generate -o out --scenario pr_bits_mismatch cu_private_tag --seed 7
      dicomfab generate -o out --scenario all --set image_size=small
      dicomfab generate -o out --scenario masc_ext_prior --set patient.name=Doe^Jane
      dicomfab generate -o /shared/out -c big.yaml --dask tcp://scheduler:8786
    """
    if list_scenarios:
        click.get_current_context().invoke(listing.command)
        return
    if junk and layout != "media":
        raise click.UsageError("--junk goes with --layout media")
    if resume and (overwrite or preview or scenario_names):
        raise click.UsageError("--resume goes with a spec (--config), without --overwrite")
    no_workers_with_dask(workers, dask)
    if layout != "folders" and (scenario_names or preview):
        raise click.UsageError("--layout media goes with a spec (--config), without --preview")
    if scenario_names:
        if config or power_customize:
            raise click.UsageError("give --scenario or a spec (--config), not both")
        from dicomfab.scenarios.selection import expand_names, read_overrides

        collect_from_here()  # the whole stack is imported now
        run = ScenarioRun(output, overwrite, workers, seed, sites, quiet or as_json, dask)
        run.generate(
            expand_names(scenario_names, click.get_current_context().args),
            read_overrides(params_file, assignments),
            preview=preview,
            as_json=as_json,
        )
        return
    if assignments or params_file or sites:
        raise click.UsageError("--set, --params and --sites go with --scenario")
    if click.get_current_context().args:
        extra = " ".join(click.get_current_context().args)
        raise click.UsageError(f"unexpected argument(s): {extra}")
    if config and power_customize:
        raise click.UsageError("give --config or --power-customize, not both")
    source = config or power_customize
    if source is None:
        raise click.UsageError("name a spec with --config FILE (see `dicomfab generate --help`)")
    from dicomfab.studyspec.loading import load_spec, parse_spec

    spec = load_spec(source, warn=note)
    updates: dict[str, object] = {}
    if seed is not None:
        updates["seed"] = seed
    if name is not None:
        updates["name"] = name
    if updates:
        spec = parse_spec({**spec.model_dump(exclude_unset=True), **updates}, source="command line")
    if preview:
        collect_from_here()
        _preview(plan_from(spec, source), output, as_json)
        return
    total = instances_from(spec, source)  # the spec is checked before anything is written
    try:
        with cluster(dask, output) as executor:
            result = _generate(
                spec,
                total,
                output,
                overwrite,
                workers,
                quiet or as_json,
                layout,
                junk,
                resume,
                executor=executor,
            )
    except KeyboardInterrupt as exc:  # the workers are stopped
        partial = getattr(exc, "partial", None)
        if partial is not None:
            text = (
                f"the finished patients are kept in {partial}: run the same command with "
                "--resume to finish it (or --overwrite to start again)"
            )
        else:
            text = f"nothing written to {output / spec.name}: the half-built dataset was removed"
        console_err.print(text, markup=False, soft_wrap=True)
        raise
    if as_json:
        click.echo(json.dumps(_summary(result), indent=2))
    elif not quiet:
        _print_summary(result)


def _generate(
    spec: Spec,
    total: int,
    output: Path,
    overwrite: bool,
    workers: int | None,
    quiet: bool,
    layout: Layout,
    junk: bool,
    resume: bool,
    *,
    executor: Executor | None = None,
) -> GenerateResult:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from dicomfab.output.generate import generate

    collect_from_here()  # the whole stack is imported now
    run = functools.partial(
        generate,
        spec,
        output,
        overwrite=overwrite,
        workers=workers,
        layout=layout,
        junk=junk,
        resumable=True,
        resume=resume,
        executor=executor,
    )
    if quiet:
        return run()
    columns = (
        TextColumn("[bold]generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("instances"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console_err.rich, transient=True) as bar:
        task = bar.add_task("generate", total=total)
        return run(progress=lambda n: bar.advance(task, n))


def _summary(result: GenerateResult) -> dict[str, object]:
    return {
        "path": str(result.path),
        "patients": result.patients,
        "studies": result.studies,
        "instances": result.instances,
        "files": result.files_written,
        "bytes": result.bytes_written,
    }


#: a dataset with more studies than this gets a one-line summary (no table to read a manifest for)
TABLE_STUDIES = 200


def _print_summary(result: GenerateResult) -> None:
    from rich.table import Table

    if result.studies > TABLE_STUDIES:
        console.print(
            f"wrote {result.files_written} files ({human_bytes(result.bytes_written)}) of "
            f"{result.patients} patients, {result.studies} studies to {result.path}"
        )
        return
    table = Table(title=f"{result.manifest.dataset}", title_justify="left")
    for column in ("patient", "study", "role", "date", "series", "instances", "files"):
        table.add_column(column)
    for p in result.manifest.patients:
        for s in p.studies:
            inst = [i for se in s.series for i in se.instances]
            table.add_row(
                p.patient_id,
                s.study_instance_uid[-18:],
                s.role,
                s.date,
                str(len(s.series)),
                str(len(inst)),
                str(sum(i.written for i in inst)),
            )
    console.print(table)
    console.print(
        f"wrote {result.files_written} files ({human_bytes(result.bytes_written)}) to {result.path}"
    )


def _preview(plan: Plan, output: Path, as_json: bool) -> None:
    from dicomfab.output.generate import instance_relpath

    rows = [
        {
            "file": f"{output / plan.spec.name / instance_relpath(i)}",
            "written": not i.skip_writing,
            "iod": i.iod.name,
            "view": i.view.name if i.view else None,
            "role": i.study.role,
            "study_date": i.study.date.isoformat(),
            "transfer_syntax": i.transfer_syntax.name,
            "rows": i.pixels.rows,
            "columns": i.pixels.columns,
        }
        for i in plan.instances
    ]
    if as_json:
        click.echo(json.dumps({"dataset": plan.spec.name, "instances": rows}, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"preview of {plan.spec.name} (nothing written)", title_justify="left")
    for column in ("role", "date", "iod", "view", "transfer syntax", "size", "file"):
        table.add_column(column)
    for r in rows:
        size = f"{r['rows']}×{r['columns']}" if r["rows"] else "-"
        file = str(r["file"]) + ("" if r["written"] else "  (listed, not written)")
        table.add_row(
            str(r["role"]),
            str(r["study_date"]),
            str(r["iod"]),
            str(r["view"] or "-"),
            str(r["transfer_syntax"]),
            size,
            file,
        )
    console.print(table)
    console_err.print(f"{len(rows)} instances; nothing written")
