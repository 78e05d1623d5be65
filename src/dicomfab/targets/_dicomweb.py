"""What STOW-RS and QIDO-RS share: a DICOMweb root with optional credentials, an httpx client,
and errors in one line with the password masked.

A ``user:password@`` in the URL is moved into Basic auth (the explicit ``username`` /
``password`` win) and shown as ``user:***@``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from pydantic import Field

from dicomfab.errors import (
    TargetAuthError,
    TargetConnectError,
    TargetError,
    TargetRefusedError,
    TargetTimeoutError,
)
from dicomfab.targets.registry import AdapterConfig
from dicomfab.targets.secrets import MASK, mask_url, scrub

DICOM_JSON = "application/dicom+json"


def split_credentials(
    url: str, username: str | None, password: str | None
) -> tuple[str, str | None, str | None]:
    """``url`` without any ``user:password@`` and without a trailing slash, and the credentials
    to use: the arguments when given, else those found in the URL (percent-decoded)."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        url_user, sep, url_password = userinfo.partition(":")
        if username is None:
            username = unquote(url_user) or None
            if password is None and sep:
                password = unquote(url_password)
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean.rstrip("/"), username, password


def safe_url(url: str, username: str | None, password: str | None) -> str:
    """``url`` (already without credentials) as shown in messages: ``user:***@`` when there is
    a password, ``user@`` when there is only a user name."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = f"{username}:{MASK}" if password else username
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", *parts[2:]))


def transport_reason(exc: httpx.TransportError, timeout: float, connect_timeout: float) -> str:
    """What went wrong on the wire, in words (no URL, no traceback)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot connect (no answer within {connect_timeout:g} s)"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    cause: BaseException | None = exc
    detail = ""
    while cause is not None:  # the OSError underneath has the plain words
        if isinstance(cause, OSError) and cause.strerror:
            detail = cause.strerror
            break
        cause = cause.__cause__ or cause.__context__
    if not detail:
        text = str(exc).strip().splitlines()
        detail = re.sub(r"^\[Errno -?\d+\]\s*", "", text[0]) if text else type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({detail})"
    return f"connection lost ({type(exc).__name__}: {detail})"


def transport_error(exc: httpx.TransportError) -> type[TargetError]:
    """Which TargetError a failure on the wire is (see :func:`transport_reason`)."""
    if isinstance(exc, httpx.TimeoutException):
        return TargetTimeoutError
    if isinstance(exc, httpx.ConnectError):
        return TargetConnectError
    return TargetError  # the connection was lost


def http_error(status: int) -> type[TargetError]:
    """Which TargetError an HTTP error status is: 401/403 authentication, another 4xx a
    refusal, anything else (5xx) a failure of the server."""
    if status in (401, 403):
        return TargetAuthError
    return TargetRefusedError if 400 <= status < 500 else TargetError


def http_reason(response: httpx.Response) -> str:
    """``HTTP 409 Conflict: <first line of the body, at most 200 characters>``."""
    try:
        phrase = response.reason_phrase
    except Exception:
        phrase = ""
    text = f"HTTP {response.status_code} {phrase}".rstrip()
    try:
        body = response.content.decode("utf-8", errors="replace")
    except Exception:
        body = ""
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    try:  # a JSON error body (Orthanc's: {"HttpError": …, "Message": …, "Details": …}) on one line
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        first = data["Message"]
        if isinstance(data.get("Details"), str):
            first = f"{first} ({data['Details']})"
    elif data is not None:
        first = json.dumps(data, separators=(",", ":"))
    first = " ".join(first.split())
    return f"{text}: {first[:200]}" if first else text


class DicomWebConfig(AdapterConfig):
    """The keys of a table that names a DICOMweb root (``url``, ``username``, ``password``)."""

    url: str = Field(description="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    username: str | None = None
    password: str | None = None


def describer(service: str) -> Callable[[DicomWebConfig], str]:
    """How an adapter of ``service`` shows its table: the service and the root, its password
    masked."""
    return lambda config: f"{service} {mask_url(config.url)}"


class DicomWebEndpoint:
    """A DICOMweb root to talk to; ``service`` names it in messages (``STOW-RS``, ``QIDO-RS``)."""

    service = "DICOMweb"

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url, self.username, self._password = split_credentials(url, username, password)
        self.timeout = timeout
        self.connect_timeout = connect_timeout

    @classmethod
    def configured(cls, config: DicomWebConfig, **options: Any) -> Self:
        """The endpoint a targets-file table names, with ``options`` of this kind."""
        return cls(config.url, username=config.username, password=config.password, **options)

    @property
    def safe_url(self) -> str:
        """The URL with the password masked, fit for messages and logs."""
        return safe_url(self.url, self.username, self._password)

    def _fail(self, what: str, kind: type[TargetError] = TargetError) -> TargetError:
        return kind(scrub(f"{self.service} to {self.safe_url} failed: {what}", self._password))

    def _client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        auth = None
        if self.username is not None:
            auth = httpx.BasicAuth(self.username, self._password or "")
        return httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
            headers=headers,
            follow_redirects=False,
        )
