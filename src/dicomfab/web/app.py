"""The ASGI app: the security middleware (token cookie, headers, body limit, errors as JSON),
``/api`` (with its OpenAPI document at :data:`OPENAPI_URL`), and the built front end.

The front end (web/, built by ``make web`` into ``static/``) is looked up on every request, so a
build made while the server runs is picked up; without one, ``/`` says how to build it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from dicomfab._version import __version__
from dicomfab.web import errors
from dicomfab.web.jobs import JobRunner
from dicomfab.web.routes import make_router
from dicomfab.web.security import SecurityMiddleware, cookie_name
from dicomfab.web.settings import UISettings

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dicomfab</title></head>
<body>
<h1>dicomfab</h1>
<p>The front end is not built: run <code>make web</code>, then reload this page.</p>
<p>The API is up: see <code>docs/web.md</code>.</p>
</body></html>
"""

_NO_CACHE = {"Cache-Control": "no-cache"}

#: the API's OpenAPI document: under /api, so it needs the token like every API route
OPENAPI_URL = "/api/openapi.json"


def create_app(settings: UISettings) -> FastAPI:
    app = FastAPI(
        title="dicomfab",
        version=__version__,
        docs_url=None,  # no unauthenticated pages besides the front end
        redoc_url=None,
        openapi_url=OPENAPI_URL,
    )
    app.add_middleware(
        SecurityMiddleware,
        token=settings.token,
        allowed_hosts=settings.allowed_hosts,
        cookie=cookie_name(settings.port),
    )
    app.state.settings = settings
    app.state.jobs = JobRunner()
    errors.install(app)
    app.include_router(make_router(settings, app.state.jobs))
    static = settings.static_dir.resolve()

    @app.get("/{path:path}", include_in_schema=False, response_model=None)
    def front_end(path: str) -> Response:
        if path == "api" or path.startswith("api/"):
            raise errors.not_found(f"no API route /{path}")
        index = static / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, headers=_NO_CACHE)
        file = _static_file(static, path)
        if file is not None:
            # Vite names assets by content hash: they never change
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else None
            return FileResponse(file, headers={"Cache-Control": cache} if cache else _NO_CACHE)
        return FileResponse(index, headers=_NO_CACHE)  # client-side routes

    return app


def _static_file(static: Path, path: str) -> Path | None:
    """``static/<path>`` when it is a file inside ``static`` (no ``..`` or symlink escapes)."""
    if not path:
        return None
    candidate = (static / path).resolve()
    if candidate.is_relative_to(static) and candidate.is_file():
        return candidate
    return None
