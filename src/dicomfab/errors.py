"""One exception tree for the whole package.

    DicomfabError                  base: everything dicomfab raises on purpose
    ├── SpecError                  a spec (or old config) is wrong; carries each issue and its path
    │   └── LimitError             a document is over a bound (size, nesting, alias expansion)
    ├── TransferSyntaxError        unknown transfer syntax, or its codec is not installed
    │   └── CodecMissingError      a codec library does not import: names the pip package
    ├── BuildError                 a valid spec could not be turned into DICOM (a bug or a limit)
    ├── OutputError                the output folder cannot be written (exists, not writable, …)
    ├── MissingExtra               an optional dependency (a pyproject extra) is not installed
    ├── ClusterError               the Dask cluster asked for (--dask) cannot be used: unreachable,
    │                              no worker, another dicomfab version, output folder not shared
    └── TargetError                a system under test cannot be reached or fails at the
        │                          infrastructure level (not started, refused, connection lost)
        ├── TargetConnectError     cannot reach it: connection refused, DNS, unreachable
        ├── TargetRefusedError     it said no: association rejected, HTTP 4xx (not auth)
        ├── TargetTimeoutError     it did not answer in time
        └── TargetAuthError        it refused the credentials: HTTP 401/403, SQL or SSH login
    Interrupted (KeyboardInterrupt) SIGINT or SIGTERM stopped the work: exit 128 + signal

The CLI turns any DicomfabError into one clear message and exit code 2; anything else is a bug.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

#: the longest piece of user input an error message quotes
SHORT = 80

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = SHORT
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8
_REPR.maxlevel = 3


def shorten(value: object, limit: int = SHORT) -> str:
    """``repr(value)``, cut to about ``limit`` characters: error messages quote user input, and
    a 50 MB value must not be echoed whole."""
    if isinstance(value, str | bytes) and len(value) > limit:
        value = value[:limit]
        return repr(value)[: limit - 3] + "..."
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shorten_text(text: str, limit: int = SHORT) -> str:
    """``text`` itself (no quotes), cut to about ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_location(loc: tuple[int | str, ...]) -> str:
    """('patients', 0, 'studies', 1, 'date') → 'patients[0].studies[1].date'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = shorten_text(str(part))
            out += f".{name}" if out else name
    return out


class DicomfabError(Exception):
    """Base class of every error dicomfab raises on purpose."""


@dataclass(frozen=True)
class Issue:
    """One problem in a spec: where (a dotted path such as ``patients[0].tags.PatientNmae``),
    what is wrong, and, when we can guess it, the fix."""

    path: str
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.suggestion:
            text += f" (did you mean {self.suggestion}?)"
        return text


class SpecError(DicomfabError):
    """A spec, old-format config or tag value is invalid. ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue] | Issue, source: str | None = None) -> None:
        self.issues = [issues] if isinstance(issues, Issue) else list(issues)
        self.source = source
        super().__init__(self._text())

    def __reduce__(self) -> tuple[type[SpecError], tuple[list[Issue], str | None]]:
        return type(self), (self.issues, self.source)  # raised in a worker process, told here

    def _text(self) -> str:
        where = f"{self.source}: " if self.source else ""
        if len(self.issues) == 1:
            return f"{where}{self.issues[0]}"
        lines = [f"{where}{len(self.issues)} problems:"] + [f"  - {i}" for i in self.issues]
        return "\n".join(lines)


class LimitError(SpecError):
    """A document is larger, deeper or expands further than dicomfab reads (see
    :mod:`dicomfab.studyspec.documents`); the UI answers it with 413."""


class TransferSyntaxError(DicomfabError):
    """Unknown transfer syntax name, or the codec it needs is not installed."""


class CodecMissingError(TransferSyntaxError):
    """The library a transfer syntax's encoder needs does not import; the message names the pip
    package that installs it."""


class BuildError(DicomfabError):
    """A spec that validated could not be built (for example pixel options the IOD cannot hold)."""


class OutputError(DicomfabError):
    """The output location cannot be written."""


class MissingExtra(DicomfabError):
    """``needed_by`` needs the optional dependencies of ``dicomfab[extra]``, which are not
    installed (see :func:`dicomfab.extras.require`)."""

    def __init__(self, extra: str, needed_by: str) -> None:
        self.extra = extra
        self.needed_by = needed_by
        super().__init__(f"{needed_by} needs the [{extra}] extra: pip install 'dicomfab[{extra}]'")


class ClusterError(DicomfabError):
    """The Dask cluster ``--dask`` names cannot be used (see :mod:`dicomfab.output.distributed`):
    the scheduler does not answer, no worker joined, a worker runs another dicomfab version or
    does not see the output folder, or the cluster went away during the work."""


class TargetError(DicomfabError):
    """A system under test cannot be reached or fails at the infrastructure level (it did not
    start, refused the connection or association, or the connection broke). What the system
    answers about the data itself (a C-STORE failure status, a missing row) is not an error:
    it is returned as data.

    ``partial`` is what an ingestor had sent and the system had acknowledged before the fault
    (a :class:`~dicomfab.targets.receipt.Receipt`), so that the reports can show it."""

    def __init__(self, message: str, *, partial: object | None = None) -> None:
        super().__init__(message)
        self.partial = partial


class TargetConnectError(TargetError):
    """The system cannot be reached: connection refused, unknown host name, no route."""


class TargetRefusedError(TargetError):
    """The system answered and said no: association rejected (wrong AE title), an HTTP 4xx
    other than an authentication failure."""


class TargetTimeoutError(TargetError):
    """The system did not answer in time (connecting, or waiting for an answer)."""


class TargetAuthError(TargetError):
    """The system refused the credentials: HTTP 401/403, a database or SSH login."""


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM (a CI cancel) stopped the work. A KeyboardInterrupt, so code
    that cleans up on Ctrl-C cleans up on SIGTERM too; the exit code is 128 + ``signum``."""

    def __init__(self, signum: int = 2) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
