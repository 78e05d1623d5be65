"""The ``dicomfab`` command line. Each subcommand lives in its own module and calls the public
library API; this module only wires them together and turns errors into exit codes:

    0  success          1  the job ran but found problems (e.g. validation failed)
    2  bad input (spec, options, files): one clear message, nothing written
    3  the target failed (``run``, ``check``): the reason is in the console and the reports
"""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from dicomfab import __version__
from dicomfab.cli import (
    describe,
    generate,
    inspect,
    listing,
    run,
    schema,
    summary,
    targets,
    ui,
    validate,
)
from dicomfab.cli.common import console_err
from dicomfab.errors import DicomfabError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dicomfab")
def cli() -> None:
    """Generate synthetic DICOM studies (clean or deliberately broken) and test ingestion.

    \b
    Start here:
      dicomfab generate --output out --config study.yaml   build a study from a spec
      dicomfab schema                                      the spec's JSON Schema
      dicomfab inspect out/<name>/dicoms/<uid>/<uid>.dcm   read a file back
      dicomfab run --image-size small                      every scenario, end to end
    """


cli.add_command(generate.command)
cli.add_command(listing.command)
cli.add_command(describe.command)
cli.add_command(schema.command)
cli.add_command(validate.command)
cli.add_command(inspect.command)
cli.add_command(summary.command)
cli.add_command(run.command)
cli.add_command(targets.targets_command)
cli.add_command(targets.check_command)
cli.add_command(ui.command)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="dicomfab", standalone_mode=False)
    except click.exceptions.Abort:
        console_err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except DicomfabError as exc:
        # escape: a message quotes user values ("[red]" is not markup); soft_wrap: one line each
        console_err.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except KeyboardInterrupt:
        console_err.print("interrupted")
        sys.exit(130)
    sys.exit(0)
