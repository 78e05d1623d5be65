"""``/api/info``: the server's version and folders."""

from __future__ import annotations

from fastapi import APIRouter

from dicomfab._version import __version__
from dicomfab.web.routes.common import Answer, Context


class Info(Answer):
    version: str
    roots: list[str]
    output: str  # the default output folder, inside roots[0]
    runs_dir: str
    config: str | None


def make_router(ctx: Context) -> APIRouter:
    router = APIRouter()

    @router.get("/info", response_model=Info)
    def info() -> Info:
        config, settings = ctx.config_file(), ctx.settings
        return Info(
            version=__version__,
            roots=[str(r) for r in settings.roots],
            output=str(settings.output_dir),
            runs_dir=str(settings.runs_dir),
            config=str(config) if config else None,
        )

    return router
