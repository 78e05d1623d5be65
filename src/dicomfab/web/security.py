"""The Security section of docs/web.md, as one ASGI middleware in front of everything:

1. ``Host`` must be one of the allowed hosts, else 403 (DNS rebinding), static files included;
2. under ``/api``, the token must come in ``X-Dicomfab-Token``, else 401; only a GET of the
   event stream, a thumbnail or an HTML report may carry it as ``?token=`` instead (an
   ``EventSource`` or ``<img>`` cannot set headers);
3. POST, PUT, PATCH and DELETE are refused (403) when ``Origin`` or ``Referer`` names another
   origin than the one the request was sent to.

The built front end (everything outside ``/api``) needs no token: the page reads it from its URL.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from dicomfab.web.errors import error_response

TOKEN_HEADER = "X-Dicomfab-Token"
TOKEN_QUERY = "token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: GET endpoints that may carry the token as ``?token=``
QUERY_TOKEN_PATHS = (
    re.compile(r"^/api/jobs/[^/]+/events$"),
    re.compile(r"^/api/preview/thumbnail$"),
    re.compile(r"^/api/runs/[^/]+/report\.html$"),
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_matches(given: str | None, token: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def same_origin(value: str, host: str) -> bool:
    """``value`` (an Origin or a Referer) names ``http://<host>``."""
    if value == "null":  # sandboxed frames, file:// pages: never the server
        return False
    parts = urlsplit(value)
    return parts.scheme == "http" and parts.netloc.lower() == host


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, *, token: str, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.token = token
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.check(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        await error_response(status, message)(scope, receive, send)

    def check(self, scope: Scope) -> tuple[int, str] | None:
        """``None`` when the request may go on, else the status and the reason."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").lower()
        if host not in self.allowed_hosts:
            return 403, f"host {host!r} is not this server"
        method: str = scope["method"]
        path: str = scope["path"]
        if path == "/api" or path.startswith("/api/"):
            given = headers.get(TOKEN_HEADER.lower())
            if given is None and method == "GET" and self._query_allowed(path):
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                given = (query.get(TOKEN_QUERY) or [None])[0]
            if not token_matches(given, self.token):
                return 401, f"missing or wrong token (send it in the {TOKEN_HEADER} header)"
        if method in UNSAFE_METHODS:
            for name in ("origin", "referer"):
                value = headers.get(name)
                if value is not None and not same_origin(value, host):
                    return 403, f"cross-origin request refused ({name}: {value})"
        return None

    @staticmethod
    def _query_allowed(path: str) -> bool:
        return any(p.match(path) for p in QUERY_TOKEN_PATHS)
