"""The one place secrets are masked: which values of a target are secret, and how text is
cleaned of them before anyone can see it (console, logs, reports, errors).

    masker = Masker({"s3cret"})          # values to hide, raw and in their URL-encoded forms
    masker("login s3cret at http://u:pw@h/x")  # -> "login *** at http://u:***@h/x"
    scrub("failed:\n pw s3cret", "s3cret")  # -> "failed: pw ***" (an error message, one line)
    mask_url("postgresql://u:pw@db/x")   # -> "postgresql://u:***@db/x"

Masking is by value, not by position: a secret is replaced wherever it appears, as it is and
in every form a URL gives it (``quote``/``quote_plus``, SQLAlchemy's rendering). On top of the
known values, the password of any ``scheme://user:password@host`` in the text is replaced, so a
URL written with a literal password is never shown either.

Which values are secret (:func:`secret_values`, from one target's table as written and the
environment it is expanded with):

- a ``${VAR}`` whose name says so (:func:`is_secret`) or that fills a ``password`` or
  ``token`` field;
- a ``${VAR}`` in the password part of a URL's userinfo (``scheme://user:${PW}@host``);
- a literal ``password`` or ``token`` field, and a literal password in a URL's userinfo;
- the command ingestor's ``passthrough`` variables and every ``${VAR}`` in its ``env``, unless
  the ingest table names the variable in ``public``.

A ``${VAR}`` expanded inside a URL's userinfo is percent-encoded (:func:`expanded`), so that a
password with ``@``, ``/``, ``:`` or ``%`` stays a password and never becomes a host or a path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
SECRET_FIELDS = ("password", "token")  # keys whose value is a secret, whatever fills them
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_NAME = re.compile(r"PW|PASS|SECRET|TOKEN|CREDENTIAL|APIKEY|API_KEY", re.IGNORECASE)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# scheme://user:PASSWORD@ in free text; the password stops where a URL's authority would
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*:)([^\s/?#@]*)@")


def is_secret(variable: str, path: str) -> bool:
    """A ``${VARIABLE}`` is a secret when its name says so (``DB_PW``, ``BOLUS2_PASSWORD``,
    ``*_TOKEN``, …) or when it fills a password (or token) field. Hosts, ports, AE titles and user
    names stay visible: an error must say where it could not connect."""
    return bool(_SECRET_NAME.search(variable)) or path.rsplit(".", 1)[-1] in SECRET_FIELDS


def encoded_forms(value: str) -> set[str]:
    """``value`` and the forms a URL gives it (empty for an empty value)."""
    if not value:
        return set()
    return {
        value,
        quote(value, safe=""),
        quote(value, safe=" +"),  # SQLAlchemy's render_as_string
        quote(value),
        quote_plus(value, safe=""),
    }


def mask_url(url: str) -> str:
    """``url`` with the password of its userinfo (``user:password@``) replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m[1]}{MASK}@", url)


class Masker:
    """Replaces every known secret value (raw and URL-encoded) and every URL password in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {form for secret in secrets if secret for form in encoded_forms(str(secret))}
        # longest first, so a secret that contains another is masked whole
        self.forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self.forms:
            text = text.replace(form, MASK)
        return mask_url(text)

    def one_line(self, text: str) -> str:
        """``text`` masked and on one line, as an error message shows it."""
        return " ".join(self(text).split())


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with ``secrets`` and URL passwords masked (see :class:`Masker`)."""
    return Masker(secrets)(text)


def scrub(message: str, *secrets: str | None) -> str:
    """``message`` on one line, with ``secrets`` (if any slipped in, raw or URL-encoded; None is
    ignored) and every URL's password replaced by ``***``."""
    return Masker(s for s in secrets if s).one_line(message)


# ── URLs in a config value, before expansion ─────────────────────────────────────────────────


def _userinfo(text: str, position: int) -> tuple[int, int] | None:
    """The span of the userinfo (``user:password``) that ``position`` lies in, if any: after
    ``scheme://`` and before the last ``@`` of the authority (which ends at ``/``, ``?``, ``#``
    or a space)."""
    for m in _SCHEME.finditer(text):
        start = m.end()
        if start > position:
            break
        end = start
        while end < len(text) and text[end] not in "/?# \t":
            end += 1
        at = text.rfind("@", start, end)
        if start <= position < at:
            return start, at
    return None


def in_userinfo(text: str, position: int) -> bool:
    """Is ``position`` of ``text`` inside the ``user:password`` of a URL?"""
    return _userinfo(text, position) is not None


def in_password(text: str, position: int) -> bool:
    """Is ``position`` of ``text`` inside the password of a URL's ``user:password``?"""
    span = _userinfo(text, position)
    if span is None:
        return False
    colon = text.find(":", span[0], span[1])
    return colon != -1 and position > colon


def expanded(value: str, text: str, position: int) -> str:
    """What a ``${VAR}`` at ``position`` of ``text`` becomes: ``value`` percent-encoded inside a
    URL's userinfo (so ``@``, ``/``, ``:`` and ``%`` stay part of the password), else as is."""
    return quote(value, safe="") if in_userinfo(text, position) else value


# ── which values of a target are secret ──────────────────────────────────────────────────────


def _strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, f"{path}[{i}]")
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def secret_values(target: Mapping[str, Any], env: Mapping[str, str]) -> set[str]:
    """The values to mask for one ``[targets.NAME]`` table as written (before ``${…}`` are
    expanded) and the variables it is expanded with (see the module docstring for the rules)."""
    found: set[str] = set()
    ingest = target.get("ingest")
    command = isinstance(ingest, dict) and ingest.get("kind") == "command"
    public = set(_names(ingest.get("public"))) if command and isinstance(ingest, dict) else set()
    for path, text in _strings(dict(target), ""):
        field = path.rsplit(".", 1)[-1]
        if field in SECRET_FIELDS and not VARIABLE.search(text):
            found.add(text)  # a literal password or token
        for url in _URL_PASSWORD.finditer(text):
            if not VARIABLE.search(url[2]):
                found.add(unquote(url[2]))  # a literal password in a URL
        env_entry = command and path.startswith("ingest.env.")
        for m in VARIABLE.finditer(text):
            name = m[1]
            if name not in env:
                continue
            if (
                is_secret(name, path)
                or in_password(text, m.start())
                or (env_entry and name not in public and field not in public)
            ):
                found.add(env[name])
    if command and isinstance(ingest, dict):
        for name in _names(ingest.get("passthrough")):
            if (name not in public or is_secret(name, "")) and env.get(name):
                found.add(env[name])
    return {v for v in found if v}
