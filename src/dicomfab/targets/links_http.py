"""The ``http`` links kind: the product's relation from a REST endpoint (GET, JSON answers).

    [targets.NAME.links]
    kind = "http"
    url = "https://product.example/api/studies/{study_uid}/priors"  # one request per study
    pointer = "/priors"                                              # → ["1.2.3", "1.2.4"]
    token = "${PRODUCT_TOKEN}"                                 # Bearer (or username/password)

Two forms, told apart by the placeholder in ``url``:

- ``{study_uid}``: one request **per study** (the product offers nothing else); ``pointer``
  (RFC 6901) selects the list of linked Study Instance UIDs in each answer.
- ``{study_uids}``: one request per ``batch`` studies, their UIDs comma-separated;
  ``pointer`` selects an object mapping each study UID to its list of linked UIDs.

Basic auth comes from ``username`` / ``password`` (or the URL's ``user:password@``), Bearer
auth from ``token``; put secrets in ``${…}`` (they are masked in every message). Errors are those
of the DICOMweb kinds: one line, with the kind of failure (auth, refused, timeout, connect).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, model_validator

from dicomfab.errors import TargetError
from dicomfab.targets._dicomweb import (
    DicomWebConfig,
    DicomWebEndpoint,
    http_error,
    http_reason,
    transport_error,
    transport_reason,
)
from dicomfab.targets.links import LinkPairs, batches, probe, resolve_pointer, timed, unique
from dicomfab.targets.registry import Adapter, Context
from dicomfab.targets.secrets import mask_url, scrub

ONE = "{study_uid}"
MANY = "{study_uids}"


class HTTPLinks(DicomWebEndpoint):
    """GET ``url`` (a template with ``{study_uid}`` or ``{study_uids}``) and read the linked
    UIDs at ``pointer``; see the module docstring."""

    service = "HTTP links"

    def __init__(
        self,
        url: str,
        pointer: str,
        *,
        token: str | None = None,
        batch: int = 100,
        **endpoint: Any,
    ) -> None:
        super().__init__(url, **endpoint)  # username, password, timeout, connect_timeout
        if (ONE in self.url) == (MANY in self.url):
            raise ValueError(f"the links URL needs exactly one of {ONE} or {MANY}")
        self.pointer = pointer
        self._token = token
        self.batch = batch

    @property
    def per_study(self) -> bool:
        """True when the product is asked once per study (the URL has ``{study_uid}``)."""
        return ONE in self.url

    def _fail(self, what: str, kind: type[TargetError] = TargetError) -> TargetError:
        return kind(scrub(str(super()._fail(what, kind)), self._token))

    def pairs(self, study_uids: Iterable[str]) -> LinkPairs:
        start = time.perf_counter()
        uids = unique(study_uids)
        each = "per study" if self.per_study else f"{self.batch} studies per request"
        source = f"http links {self.safe_url} ({each})"
        if not uids:
            return LinkPairs(frozenset(), source)
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        found: list[tuple[str, str]] = []
        with self._client(headers) as client:
            for chunk in [[u] for u in uids] if self.per_study else batches(uids, self.batch):
                found += self._ask(client, chunk)
        return timed(source, start, found, uids)

    def _ask(self, client: httpx.Client, chunk: list[str]) -> Iterator[tuple[str, str]]:
        placeholder, value = (ONE, chunk[0]) if self.per_study else (MANY, ",".join(chunk))
        url = self.url.replace(placeholder, quote(value, safe=","))
        try:
            response = client.get(url)
        except httpx.TransportError as exc:
            reason = transport_reason(exc, self.timeout, self.connect_timeout)
            raise self._fail(reason, transport_error(exc)) from None
        if response.status_code == 404 and self.per_study:
            return  # the product does not know this study: it links it to nothing
        if response.status_code >= 400:
            raise self._fail(http_reason(response), http_error(response.status_code))
        try:
            document = response.json()
        except ValueError:
            raise self._fail("the answer is not JSON") from None
        try:
            value_at = resolve_pointer(document, self.pointer)
        except KeyError as exc:
            raise self._fail(f"JSON pointer: {exc.args[0]}") from None
        by_study = {chunk[0]: value_at} if self.per_study else value_at
        if not isinstance(by_study, dict):
            raise self._fail(f"{self.pointer or '/'} is not an object of study UID → list")
        for study, linked in by_study.items():
            yield from ((str(study), uid) for uid in self._uid_list(linked))

    def _uid_list(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(f"{self.pointer or '/'} is not a list of UIDs: {str(value)[:120]}")
        return list(value)


class HTTPLinksConfig(DicomWebConfig):
    kind: Literal["http"]
    url: str = Field(
        description="URL template with {study_uid} (one request per study) or {study_uids} "
        "(comma-separated, one request per batch)"
    )
    pointer: str = Field(
        "",
        description="RFC 6901 JSON pointer: to the list of linked UIDs ({study_uid}) or to an "
        "object study UID → list ({study_uids}); empty: the whole answer",
    )
    token: str | None = Field(None, description="Bearer token; put it in ${…}")
    batch: int = Field(100, ge=1, description="study UIDs per request ({study_uids} form)")
    timeout: float = Field(30, gt=0, description="seconds per request")

    @model_validator(mode="after")
    def _one_placeholder(self) -> HTTPLinksConfig:
        if (ONE in self.url) == (MANY in self.url):
            raise ValueError(f"url needs exactly one of {ONE} or {MANY}")
        if self.token is not None and (self.username or self.password):
            raise ValueError("give token (Bearer) or username/password (Basic), not both")
        return self


def _describe(config: HTTPLinksConfig) -> str:
    each = "per study" if ONE in config.url else f"{config.batch} studies per request"
    return f"HTTP links {mask_url(config.url)} ({each})"


def _build(config: HTTPLinksConfig, context: Context) -> HTTPLinks:
    return HTTPLinks(
        config.url,
        config.pointer,
        username=config.username,
        password=config.password,
        token=config.token,
        batch=config.batch,
        timeout=config.timeout,
    )


ADAPTER = Adapter("http", "links", HTTPLinksConfig, _describe, _build, probe(_build))
