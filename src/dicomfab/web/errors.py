"""Error answers in the contract's one shape: ``{"detail": {"message", "issues": [...]}}``.

Library errors map to statuses by kind (:func:`status_of`); texts are cut at
:data:`MAX_TEXT` characters, so a huge value quoted by a message is never echoed whole.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dicomfab.errors import DicomfabError, Issue, LimitError, OutputError, SpecError

MAX_TEXT = 2000  # characters of one message, path or suggestion in an answer
MAX_ISSUES = 100


def clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT:
        return text
    return f"{text[: MAX_TEXT - 40]}… ({len(text) - MAX_TEXT + 40} more characters)"


def detail(message: str, issues: list[Issue] | None = None) -> dict[str, Any]:
    return {
        "message": clip(message),
        "issues": [
            {"path": clip(i.path), "message": clip(i.message), "suggestion": clip(i.suggestion)}
            for i in (issues or [])[:MAX_ISSUES]
        ],
    }


def status_of(exc: DicomfabError) -> int:
    """413 for a document over the loader's bounds (size, nesting, aliases), 422 for a spec (or
    config) at fault, 409 when the output already exists, else 400."""
    if isinstance(exc, LimitError):
        return 413
    if isinstance(exc, SpecError):
        return 422
    if isinstance(exc, OutputError) and "exists" in str(exc):
        return 409
    return 400


def error_response(status: int, message: str, issues: list[Issue] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail(message, issues)}, status_code=status)


def bad_request(field: str, message: str, suggestion: str | None = None) -> HTTPException:
    """A 400 naming the request field at fault (``output``, ``path``, …)."""
    return HTTPException(400, detail(f"{field}: {message}", [Issue(field, message, suggestion)]))


def conflict(field: str, message: str) -> HTTPException:
    """A 409: what the request would write is already there (and overwrite was not asked)."""
    return HTTPException(409, detail(f"{field}: {message}", [Issue(field, message)]))


def not_found(message: str, issues: list[Issue] | None = None) -> HTTPException:
    return HTTPException(404, detail(message, issues))


def from_dicomfab(exc: DicomfabError) -> dict[str, Any]:
    """The CLI's message, and for a SpecError every issue with its path and suggestion."""
    issues = exc.issues if isinstance(exc, SpecError) else [Issue("", str(exc))]
    return detail(str(exc), issues)


def install(app: FastAPI) -> None:
    """Map library errors (:func:`status_of`), FastAPI's own errors (request validation, plain
    text 404…) to the shape. Anything else is answered by the security middleware (500 JSON)."""

    async def on_dicomfab(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DicomfabError)
        return JSONResponse({"detail": from_dicomfab(exc)}, status_code=status_of(exc))

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
