"""The Security section of docs/web.md, as one ASGI middleware in front of everything:

1. ``Host`` must be one of the allowed hosts, else 403 (DNS rebinding), static files included;
2. the token, as Jupyter does it: a page URL carrying a valid ``?token=`` (the one printed by
   ``dicomfab ui``) sets an HttpOnly cookie and is redirected (303) to the same URL without the
   token, so the token is not left in history, bookmarks or ``Referer``. Under ``/api`` the
   cookie (or the ``X-Dicomfab-Token`` header, for scripts) is required, else 401; a ``?token=``
   is refused there (401), it would end up in logs and links;
3. POST, PUT, PATCH and DELETE are refused (403) when ``Origin`` or ``Referer`` names another
   origin than the one the request was sent to; authorised by the cookie alone, they must name
   this origin (a browser always sends ``Origin`` with them);
4. a request body over :data:`MAX_BODY` bytes is refused (413) before anything reads it:
   ``Content-Length`` first, then the bytes as they arrive;
5. every answer gets the security headers (:func:`security_headers`), API answers
   ``Cache-Control: no-store``;
6. an exception nobody handled becomes a 500 JSON answer naming only its type (the traceback
   goes to the server's log, never to the client, and the input is not echoed).

The built front end (everything outside ``/api``) needs no credential: it holds no data.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dicomfab.web.errors import error_response

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Dicomfab-Token"
TOKEN_QUERY = "token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY = 16 * 1024 * 1024  # bytes: a spec or an imported file is a few KB; 16 MiB is plenty

#: the front end: scripts, styles and images from this server only; no inline script or style
#: (the built index.html links its CSS; React sets styles through the DOM, which CSP allows)
APP_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
#: a run's HTML report (run/html.py): its one inline <style> and its data: thumbnails, nothing
#: else; sandboxed, so even an injected script or form could neither run nor submit
REPORT_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_matches(given: str | None, token: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def cookie_name(port: int) -> str:
    """Cookies ignore ports: two servers on 127.0.0.1 each need their own cookie name."""
    return f"dicomfab-token-{port}"


def token_cookie(name: str, token: str) -> str:
    """The ``Set-Cookie`` value. HttpOnly: page scripts cannot read it; SameSite=Strict: other
    sites' pages cannot send it; Path=/: the API and the pages. No ``Secure`` flag: the server
    speaks plain http on 127.0.0.1 only (the traffic never leaves the machine), and a Secure
    cookie would never be sent back over http."""
    return f"{name}={token}; HttpOnly; SameSite=Strict; Path=/"


def same_origin(value: str, host: str) -> bool:
    """``value`` (an Origin or a Referer) names ``http://<host>``."""
    if value == "null":  # sandboxed frames, file:// pages: never the server
        return False
    parts = urlsplit(value)
    return parts.scheme == "http" and parts.netloc.lower() == host


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries (a route may set its own policy: the HTML report)."""
    headers = [
        (b"content-security-policy", APP_POLICY.encode()),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if is_api(path):
        headers.append((b"cache-control", b"no-store"))
    return headers


class BodyTooLarge(Exception):
    """Raised inside the middleware when the streamed body passes :data:`MAX_BODY`."""


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        allowed_hosts: frozenset[str],
        cookie: str = cookie_name(0),
        max_body: int = MAX_BODY,
    ) -> None:
        self.app = app
        self.token = token
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.cookie = cookie
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _merge(message.get("headers", []), security_headers(path))
            await send(message)

        try:
            refusal = self.check(scope)
            if refusal is not None:
                status, message = refusal
                await error_response(status, message)(scope, receive, send_with_headers)
                return
            landing = self.landing(scope)
            if landing is not None:
                await send_with_headers(landing)
                await send_with_headers({"type": "http.response.body", "body": b""})
                return
            receive = await self.limited_body(scope, receive)
            await self.app(scope, receive, send_with_headers)
        except BodyTooLarge:
            if started:
                raise
            limit = f"{self.max_body // (1024 * 1024)} MiB"
            response = error_response(413, f"the request body is larger than {limit}")
            await response(scope, receive, send_with_headers)
        except Exception as exc:  # MemoryError and RecursionError included
            if started:
                raise
            log.exception("%s %s failed", scope["method"], path)
            message = f"internal error ({type(exc).__name__}); the server's log has the details"
            await error_response(500, message)(scope, receive, send_with_headers)

    def check(self, scope: Scope) -> tuple[int, str] | None:
        """``None`` when the request may go on, else the status and the reason."""
        headers = _headers(scope)
        host = headers.get("host", "").lower()
        if host not in self.allowed_hosts:
            return 403, f"host {host!r} is not this server"
        method: str = scope["method"]
        by_cookie = False
        if is_api(scope["path"]):
            if TOKEN_QUERY in dict(_query(scope)):
                return 401, (
                    "the token is not accepted in a URL: open the link printed by dicomfab ui "
                    f"(it sets a cookie), or send the {TOKEN_HEADER} header"
                )
            if not token_matches(headers.get(TOKEN_HEADER.lower()), self.token):
                if not token_matches(self._cookie(headers), self.token):
                    return 401, (
                        "missing or wrong token: open the link printed by dicomfab ui, or send "
                        f"the {TOKEN_HEADER} header"
                    )
                by_cookie = True
        if method in UNSAFE_METHODS:
            named = False
            for name in ("origin", "referer"):
                value = headers.get(name)
                if value is None:
                    continue
                if not same_origin(value, host):
                    return 403, f"cross-origin request refused ({name}: {value})"
                named = True
            if by_cookie and not named:
                return 403, "a request authorised by the cookie must carry its Origin"
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            limit = f"{self.max_body // (1024 * 1024)} MiB"
            return 413, f"the request body is larger than {limit}"
        return None

    def landing(self, scope: Scope) -> Message | None:
        """A page request carrying ``?token=``: the 303 to the same URL without it, with the
        cookie when the token is right (a wrong one just leaves: the page then asks for the
        link)."""
        if is_api(scope["path"]) or scope["method"] not in ("GET", "HEAD"):
            return None
        query = _query(scope)
        given = [v for k, v in query if k == TOKEN_QUERY]
        if not given:
            return None
        rest = urlencode([(k, v) for k, v in query if k != TOKEN_QUERY])
        # one leading slash: "//evil.example" would be another host (an open redirect)
        location = "/" + quote(scope["path"], safe="/:@!$&'()*+,;=-._~").lstrip("/")
        if rest:
            location += "?" + rest
        headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
        if token_matches(given[0], self.token):
            headers.append((b"set-cookie", token_cookie(self.cookie, self.token).encode()))
        return {"type": "http.response.start", "status": 303, "headers": headers}

    async def limited_body(self, scope: Scope, receive: Receive) -> Receive:
        """``receive`` counting the body's bytes: past :attr:`max_body`, :class:`BodyTooLarge`.
        The body is read here, before the app parses anything, then handed over as one piece."""
        headers = _headers(scope)
        if "content-length" not in headers and "transfer-encoding" not in headers:
            return receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return _replay([body], receive)

    def _cookie(self, headers: dict[str, str]) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header: no credential
            return None
        morsel = jar.get(self.cookie)
        return morsel.value if morsel is not None else None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _query(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def _merge(
    headers: Iterable[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``headers`` plus ``extra``; a route's own CSP wins, our Cache-Control wins on the API."""
    out = list(headers)
    present = {k.lower() for k, _ in out}
    for name, value in extra:
        if name == b"cache-control":
            out = [(k, v) for k, v in out if k.lower() != name]
        elif name in present:
            continue
        out.append((name, value))
    return out


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` giving ``messages`` first, then whatever ``receive`` gives (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
