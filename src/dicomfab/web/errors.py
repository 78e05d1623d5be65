"""Error answers in the contract's one shape: ``{"detail": {"message", "issues": [...]}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dicomfab.errors import DicomfabError, Issue, SpecError


def detail(message: str, issues: list[Issue] | None = None) -> dict[str, Any]:
    return {
        "message": message,
        "issues": [
            {"path": i.path, "message": i.message, "suggestion": i.suggestion} for i in issues or []
        ],
    }


def error_response(status: int, message: str, issues: list[Issue] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail(message, issues)}, status_code=status)


def bad_request(field: str, message: str, suggestion: str | None = None) -> HTTPException:
    """A 400 naming the request field at fault (``output``, ``path``, …)."""
    return HTTPException(400, detail(f"{field}: {message}", [Issue(field, message, suggestion)]))


def not_found(message: str, issues: list[Issue] | None = None) -> HTTPException:
    return HTTPException(404, detail(message, issues))


def from_dicomfab(exc: DicomfabError) -> dict[str, Any]:
    """The CLI's message, and for a SpecError every issue with its path and suggestion."""
    issues = exc.issues if isinstance(exc, SpecError) else [Issue("", str(exc))]
    return detail(str(exc), issues)


def install(app: FastAPI) -> None:
    """Map library errors to 400, FastAPI's own errors (422, plain-text 404…) to the shape."""

    async def on_dicomfab(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DicomfabError)
        return JSONResponse({"detail": from_dicomfab(exc)}, status_code=400)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        body = exc.detail if isinstance(exc.detail, dict) else detail(str(exc.detail))
        return JSONResponse({"detail": body}, status_code=exc.status_code, headers=exc.headers)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        issues = [
            Issue(
                ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path")),
                str(err["msg"]),
            )
            for err in exc.errors()
        ]
        return error_response(400, "; ".join(str(i) for i in issues) or "bad request", issues)

    app.add_exception_handler(DicomfabError, on_dicomfab)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
