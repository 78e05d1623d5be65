"""``dicomfab list``: the scenario library (default), or the IODs, transfer syntaxes, vendor
personas and site profiles dicomfab knows."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("list")
@click.argument(
    "what",
    type=click.Choice(["scenarios", "iods", "transfer-syntaxes", "vendors", "sites"]),
    default="scenarios",
)
@click.option("--tag", "tags", multiple=True, help="Only scenarios with this tag (repeatable).")
@click.option("--category", help="Only scenarios of this category.")
@click.option("--search", help="Only scenarios whose name or text contains every word.")
@click.option(
    "--sites",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Your site-profile file (with `list sites`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (for scripts).")
def command(
    what: str,
    tags: tuple[str, ...],
    category: str | None,
    search: str | None,
    sites: Path | None,
    as_json: bool,
) -> None:
    """List the scenario library (default), or IODs, transfer syntaxes, vendors or sites.

    Vendors are the vendor personas a spec's `vendor` names; sites the site profiles.

    \b
    Examples:
      dicomfab list --tag prior --search bits
      dicomfab list --category file-format --json
      dicomfab list transfer-syntaxes
      dicomfab list vendors --json
    """
    rows: list[dict[str, object]]
    columns: tuple[str, ...]
    if what == "scenarios":  # from the precomputed index: no YAML, no pydantic
        from dicomfab import scenario_index

        scenario_index.check_filters(tags, category)
        cards = scenario_index.cards()
        rows = [
            scenario_index.row(c)
            for c in cards
            if scenario_index.matches(c, tags, category, search)
        ]
        columns = ("name", "category", "title", "expected")
    elif what == "iods":
        from dicomfab.builder.iods import registry

        rows = [
            {
                "name": t.name,
                "title": t.title,
                "sop_class_uid": t.sop_class_uid,
                "modality": t.modality,
                "aliases": list(t.aliases),
            }
            for t in registry.templates()
        ]
        columns = ("name", "title", "sop_class_uid", "modality", "aliases")
    elif what == "transfer-syntaxes":
        from dicomfab.builder import transfer

        rows = [
            {
                "name": ts.name,
                "title": ts.title,
                "uid": ts.uid,
                "lossy": ts.lossy,
                "available": ts.is_available(),
            }
            for ts in transfer.REGISTRY
        ]
        columns = ("name", "title", "uid", "lossy", "available")
    elif what == "vendors":
        from dicomfab.builder import vendors

        rows = [
            {
                "name": name,
                "title": persona.title,
                "manufacturer": persona.manufacturer,
                "model": persona.model,
                "iods": list(persona.iods),
                "private_creators": [f"{g:04X} {c}" for g, c in persona.creators],
            }
            for name, persona in vendors.personas().items()
        ]
        columns = ("name", "manufacturer", "model", "iods", "private_creators")
    else:
        from dicomfab.scenarios.profiles import load_profiles

        rows = [
            {"name": name, **profile.model_dump()} for name, profile in load_profiles(sites).items()
        ]
        columns = ("name", "description")
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from dicomfab.cli import plain_table

    cells = [[_cell(row[c]) for c in columns] for row in rows]
    click.echo(plain_table.render(f"{len(rows)} {what}", columns, cells, plain_table.width()))


def _cell(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
