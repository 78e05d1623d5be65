"""``dicomfab ui``: the web UI on 127.0.0.1, reached through a URL carrying a token.

The command (its options and help) imports only click, so ``dicomfab --help`` and
``dicomfab ui --help`` work without the ``[ui]`` extra; FastAPI and uvicorn load when it runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from dicomfab.extras import require

#: what the server needs beyond the core install: pyproject's ``[ui]`` extra
UI_MODULES = ("fastapi", "uvicorn")


@click.command("ui")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port to listen on (default: a free one).",
)
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@click.option(
    "--root",
    "roots",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A folder the UI may read and write in (repeatable; default: the current folder). "
    "The first one holds the default output folder (out/) and the run folders (runs/).",
)
@click.option(
    "-c",
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Targets file (default: ./dicomfab.toml, then ~/.config/dicomfab/dicomfab.toml).",
)
def command(port: int, no_browser: bool, roots: tuple[Path, ...], config: Path | None) -> None:
    """Serve the web UI: browse scenarios, build specs in the wizard, generate, preview, run.

    \b
    Listens on 127.0.0.1 only and prints a URL with a random token (open that one: it
    leaves the address bar for an HttpOnly cookie); every API call needs it.
    Paths the UI sends must lie inside a --root.
    Generation and runs are queued and run one at a time.

    \b
    Examples:
      dicomfab ui                                   current folder, a free port, opens a browser
      dicomfab ui --port 8765 --no-browser --root ~/dicom-out --root /data/test-sets
    """
    require("ui", "dicomfab ui", *UI_MODULES)
    from dicomfab.web.server import serve

    serve(list(roots) or [Path.cwd()], port, config, open_browser=not no_browser)
