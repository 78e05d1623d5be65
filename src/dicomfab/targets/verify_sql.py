"""SQL verification: look the instances up in a system's own index database.

    SQLVerifier(url, query).observe(sop_instance_uids) -> Observations

``query`` is SQL text with a bound parameter ``:uids`` for the UID list: an expanding one
(``... WHERE sop_instance_uid IN :uids``: one bound value per UID, any database), or, written
``= ANY(:uids)``, one array parameter (PostgreSQL: one value however many UIDs, so a batch of
thousands is one short statement whose plan does not depend on the batch size). It returns
columns named like the fields of :class:`~dicomfab.targets.observations.ObservedInstance`
(``sop_instance_uid`` is required, the others are optional; other columns are ignored).
``study_query`` (optional) is the same for the studies of the instances found: ``:uids`` are
Study Instance UIDs, the columns are named like the fields of
:class:`~dicomfab.targets.observations.ObservedStudy` (``study_instance_uid`` required); without
it, each study is filed under the patient of its first instance row. The UIDs go in batches of
``batch`` (default :data:`DEFAULT_BATCH`, :data:`ARRAY_BATCH` for ``= ANY(:uids)``), one
statement (one round trip) per batch, all on one connection; ``statements`` counts those the
last ``observe()`` ran. Rows are read as tuples, by column position. Each ``observe()``
connects and disconnects, unless inside ``with verifier:`` (one connection for all of them).
A UID without a row is data (absent from the Observations); only "cannot connect / bad SQL /
missing parameter" raises :class:`~dicomfab.errors.TargetError`, in one line, with the URL's
password masked. A ``postgresql+psycopg://`` URL without psycopg installed raises
:class:`~dicomfab.errors.MissingExtra` (``dicomfab[postgres]``) when the verifier is made.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

from pydantic import Field, model_validator
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, Result, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql.elements import TextClause

from dicomfab.errors import (
    TargetAuthError,
    TargetConnectError,
    TargetError,
    TargetTimeoutError,
)
from dicomfab.extras import require
from dicomfab.targets.observations import (
    Observations,
    ObservedInstance,
    ObservedStudy,
    studies_from_instances,
    study_uids,
)
from dicomfab.targets.registry import Adapter, AdapterConfig, ConfigModel, Context
from dicomfab.targets.secrets import mask_url, scrub

if TYPE_CHECKING:
    from dicomfab.targets.embedded import EmbeddedPACS

_Observed = TypeVar("_Observed", ObservedInstance, ObservedStudy)

DEFAULT_BATCH = 1000
"""UIDs per statement unless told: an expanding ``IN :uids`` list binds one value per UID, and
some databases cap those (SQL Server at 2,100). An array-bound query (``= ANY(:uids)``) takes
:data:`ARRAY_BATCH`."""
ARRAY_BATCH = 5000
"""UIDs per statement for ``= ANY(:uids)`` (one parameter): 10^4 UIDs in two round trips."""

EMBEDDED_QUERY = """\
SELECT sop_instance_uid, study_instance_uid, series_instance_uid, patient_id, patient_name,
       accession_number, modality, sop_class_uid, instance_number
FROM instance
WHERE sop_instance_uid IN :uids
"""
"""The profile for the embedded PACS (pynetdicom's qrscp, ``instances.sqlite``).

qrscp's schema has ``patient``, ``study``, ``series``, ``image`` and ``instance`` tables, but it
writes every indexed attribute into ``instance`` (its other columns point at the other tables
through foreign keys that it never fills: those tables stay empty), so joining them would lose
every row. The one table is the whole index."""

EMBEDDED_STUDY_QUERY = """\
SELECT study_instance_uid, patient_id, patient_name
FROM instance
WHERE study_instance_uid IN :uids
ORDER BY rowid
"""
"""Where each study landed in the embedded PACS: qrscp keeps no patient record (its ``patient``
table stays empty; ``patient_entity`` is None) and indexes only PatientID and PatientName, per
instance (not IssuerOfPatientID, PatientBirthDate or PatientSex). A study is filed under the
patient of its first instance row (``rowid``: the order qrscp added them)."""


def _reason(exc: BaseException) -> str:
    """The first line of what went wrong: the driver's own message when there is one (without
    SQLAlchemy's "[SQL: …]" and "Background on this error" lines)."""
    inner: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        inner = exc.orig
    lines = [line.strip() for line in str(inner).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(inner).__name__
    if first.startswith("(") and ") " in first:  # "(sqlite3.OperationalError) no such table"
        first = first.split(") ", 1)[1]
    return first


def _require_driver(url: str) -> None:
    """psycopg (SQLAlchemy imports it only when an engine is made) is the ``[postgres]`` extra:
    its absence is said before anything is sent, not as a driver error at the first query."""
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        return  # a bad URL is reported by observe(), as before
    if parsed.get_driver_name() == "psycopg":
        require("postgres", f"SQL verification through {parsed.drivername}", "psycopg")


_KINDS: tuple[tuple[tuple[str, ...], type[TargetError]], ...] = (
    (("password authentication failed", "access denied for user", "login failed"),
     TargetAuthError),
    (("timeout expired", "timed out"), TargetTimeoutError),
    (
        ("connection refused", "could not translate host name", "name or service not known",
         "no route to host", "network is unreachable", "unknown mysql server host"),
        TargetConnectError,
    ),
)  # fmt: skip


def _kind(exc: BaseException) -> type[TargetError]:
    """Which TargetError a database error is: SQLSTATE class 28 (invalid authorization) or the
    driver's words for a failed login, a timeout, a host it cannot reach; else a plain one."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if str(getattr(inner, "sqlstate", "") or "").startswith("28"):
        return TargetAuthError
    text = str(inner).lower()
    for needles, kind in _KINDS:
        if any(n in text for n in needles):
            return kind
    return TargetError


def array_literal(values: Iterable[str]) -> str:
    """``values`` as one PostgreSQL array literal (``{"a","b"}``), each element quoted. Sent as
    one text parameter it is what ``= ANY(:uids)`` or ``CAST(:uids AS text[])`` reads, and
    costs the driver one string instead of adapting thousands of list items one by one."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def _array_bound(query: str, name: str) -> bool:
    """Whether ``query`` takes ``:name`` as one array parameter: everywhere but ``IN :name``
    (an expanding list), e.g. ``= ANY(:name)`` or ``unnest(CAST(:name AS text[]))``."""
    return re.search(rf"\bIN\s*:{name}\b", query, re.IGNORECASE) is None


class SQLVerifier:
    """Observe instances with one SQL statement per ``batch`` UIDs.

    ``url``: a SQLAlchemy URL (``sqlite:///…``, ``postgresql+psycopg://user:pw@host/db``, …).
    ``params``: values for any other bound parameters the query uses. A SQLite URL must name an
    existing file (SQLite would otherwise create an empty database and find nothing)."""

    def __init__(
        self,
        url: str | URL,
        query: str,
        *,
        study_query: str | None = None,
        params: dict[str, Any] | None = None,
        batch: int | None = None,
        connect_timeout: float = 10.0,
        what: str = "SQL verification",
    ) -> None:
        if batch is None:
            batch = ARRAY_BATCH if _array_bound(query, "uids") else DEFAULT_BATCH
        if batch < 1:
            raise ValueError("batch must be at least 1")
        if isinstance(url, URL):
            url = url.render_as_string(hide_password=False)
        _require_driver(url)
        self.url = url
        self.query = query
        self.study_query = study_query
        self.params = dict(params or {})
        self.batch = batch
        self.connect_timeout = connect_timeout
        self.what = what  # names the lookup in messages
        self.statements = 0  # statements the last observe() ran
        self._keep = False  # inside ``with verifier:``: the engine (and its connection) stays
        self._engine: Engine | None = None

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, fit for messages and logs."""
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"SQLVerifier({self.safe_url!r}, batch={self.batch})"

    def _fail(self, what: str, kind: type[TargetError] = TargetError) -> TargetError:
        message = f"{self.what} against {self.safe_url} failed: {what}"
        try:
            password = make_url(self.url).password
        except Exception:
            password = None
        return kind(scrub(message, password))  # a driver may echo the password

    def observe(self, sop_instance_uids: Iterable[str]) -> Observations:
        start = time.perf_counter()
        uids = list(dict.fromkeys(str(uid) for uid in sop_instance_uids))
        source = f"sql {self.safe_url}"
        if not uids:
            return Observations({}, source, time.perf_counter() - start)
        if "uids" in self.params:
            raise self._fail("params must not contain 'uids' (the UID list is bound there)")
        statement = self.statement(self.query, "uids")
        by_study = None if self.study_query is None else self.statement(self.study_query, "uids")
        arrays = (
            _array_bound(self.query, "uids"),
            self.study_query is not None and _array_bound(self.study_query, "uids"),
        )
        instances: dict[str, ObservedInstance] = {}
        studies: dict[str, ObservedStudy] = {}
        self.statements = 0
        with self.connection() as conn:
            self._run(conn, statement, arrays[0], uids, ObservedInstance, instances)
            if by_study is not None:
                found = study_uids(instances.values())
                self._run(conn, by_study, arrays[1], found, ObservedStudy, studies)
        if by_study is None:
            studies = studies_from_instances(instances.values())
        return Observations(instances, source, time.perf_counter() - start, studies)

    def statement(self, query: str, name: str) -> TextClause:
        """``query`` with ``:name`` bound to a list of values: one array parameter when the
        query says ``= ANY(:name)``, else an expanding parameter (one bound value each)."""
        try:
            return text(query).bindparams(bindparam(name, expanding=not _array_bound(query, name)))
        except SQLAlchemyError as exc:
            raise self._fail(_reason(exc), _kind(exc)) from None

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """One connection to the database, closed after; every database error inside (cannot
        connect, bad SQL, a missing parameter) raised as a one-line TargetError, masked."""
        try:
            url = make_url(self.url)
        except SQLAlchemyError as exc:
            raise self._fail(_reason(exc), _kind(exc)) from None
        self._check_sqlite_file(url)
        engine = self._engine
        if engine is None:
            try:
                engine = create_engine(url, connect_args=self._connect_args(url))
            except ImportError as exc:
                raise self._fail(f"database driver not installed ({exc.name or exc})") from None
            except SQLAlchemyError as exc:
                raise self._fail(_reason(exc), _kind(exc)) from None
            if self._keep:
                self._engine = engine
        try:
            with engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._fail(_reason(exc), _kind(exc)) from None
        finally:
            if not self._keep:
                engine.dispose()

    def __enter__(self) -> Self:
        """Inside ``with verifier:``, one database connection serves every ``observe()`` (no
        connect and login each time); it is closed at the end of the block."""
        self._keep = True
        return self

    def __exit__(self, *exc: object) -> None:
        engine, self._engine, self._keep = self._engine, None, False
        if engine is not None:
            engine.dispose()

    def _run(
        self,
        conn: Connection,
        statement: TextClause,
        array: bool,
        uids: list[str],
        kind: type[_Observed],
        into: dict[str, _Observed],
    ) -> None:
        """``statement`` for ``uids``, ``batch`` at a time; each row as a ``kind`` into ``into``.
        An array-bound ``:uids`` goes as one array literal (PostgreSQL)."""
        for i in range(0, len(uids), self.batch):
            chunk = uids[i : i + self.batch]
            value: str | list[str] = array_literal(chunk) if array else chunk
            result = conn.execute(statement, {**self.params, "uids": value})
            self.statements += 1
            self._collect(result, set(chunk), kind, into)

    def _collect(
        self,
        result: Result[Any],
        wanted: set[str],
        kind: type[_Observed],
        into: dict[str, _Observed],
    ) -> None:
        """Each row as a ``kind``, its fields read by column position (no mapping per row)."""
        names = [f.name for f in fields(kind)]  # sop_instance_uid / study_instance_uid first
        columns = list(map(str, result.keys()))
        by_lower: dict[str, int] = {}
        for index, column in enumerate(columns):
            by_lower[column.lower()] = index  # a repeated name: the last one, as before
        rows = result.fetchall()
        if not rows:
            return
        if names[0] not in by_lower:
            raise self._fail(f"the query returns no {names[0]} column ({', '.join(columns)})")
        at = [by_lower.get(name) for name in names]
        pick: Callable[[Any], Sequence[Any]]
        if None in at:  # a column the query does not return: None
            pick = lambda row: [None if i is None else row[i] for i in at]  # noqa: E731
        else:  # the usual case: every column, fetched in C
            pick = itemgetter(*at) if len(at) > 1 else (lambda row: (row[at[0]],))
        for row in rows:
            values = [v if v is None or type(v) is str else str(v) for v in pick(row)]
            uid = values[0]
            if uid is None or uid not in wanted or uid in into:
                continue  # a row we did not ask for, or a second row (a join): first one wins
            into[uid] = kind(*values)  # type: ignore[arg-type]

    def _connect_args(self, url: URL) -> dict[str, Any]:
        backend = url.get_backend_name()
        if backend == "sqlite":
            return {"timeout": self.connect_timeout}
        if backend == "postgresql":
            return {"connect_timeout": max(1, round(self.connect_timeout))}
        return {}

    def _check_sqlite_file(self, url: URL) -> None:
        if url.get_backend_name() != "sqlite":
            return
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return
        if not Path(database).is_file():
            raise self._fail(f"no database file at {database}")


def for_embedded(pacs: EmbeddedPACS, *, batch: int | None = None) -> SQLVerifier:
    """A verifier reading the embedded PACS's SQLite index with :data:`EMBEDDED_QUERY` and
    :data:`EMBEDDED_STUDY_QUERY`."""
    url = URL.create("sqlite", database=str(pacs.database_path))
    return SQLVerifier(url, EMBEDDED_QUERY, study_query=EMBEDDED_STUDY_QUERY, batch=batch)


# ── the ``sql`` verify kind ──────────────────────────────────────────────────────────────────


class SSHTunnelConfig(ConfigModel):
    target: str = Field(description="user@host[:port] that can reach the database (SSH_TARGET)")
    bastion: str | None = Field(None, description="user@host[:port] to jump through (SSH_BASTION)")
    key: str | None = Field(None, description="private key file (SSH_KEY)")
    known_hosts: str | None = Field(
        None, description="known_hosts file; unknown host keys are refused"
    )


class SQLVerify(AdapterConfig):
    kind: Literal["sql"]
    url: str = Field(description="SQLAlchemy URL; put the password in ${…}")
    profile: Literal["orthanc-postgres", "embedded"] | None = None
    query: str | None = Field(
        None, description="SQL taking the UIDs in :uids (IN :uids, or = ANY(:uids) on PostgreSQL)"
    )
    study_query: str | None = Field(
        None,
        description="with query: SQL for the studies found (:uids are Study Instance UIDs; "
        "columns named like ObservedStudy's fields)",
    )
    params: dict[str, str | int | float] = Field(
        default_factory=dict, description="values for the query's other :name parameters"
    )
    batch: int | None = Field(
        None,
        ge=1,
        description=f"UIDs per statement (default {DEFAULT_BATCH}; {ARRAY_BATCH} for an "
        "= ANY(:uids) query, as the orthanc-postgres profile is)",
    )
    ssh: SSHTunnelConfig | None = Field(
        None, description="reach the database through SSH (the URL's host is as the target sees it)"
    )

    @model_validator(mode="after")
    def _query_or_profile(self) -> SQLVerify:
        if (self.profile is None) == (self.query is None):
            raise ValueError("give exactly one of profile or query")
        if self.study_query is not None and self.query is None:
            raise ValueError("study_query goes with query (a profile has its own)")
        return self


def via_ssh(ssh: SSHTunnelConfig | None) -> str:
    """How a database is reached, for a description: `` via ssh T (jump B)`` or nothing."""
    via = f" via ssh {ssh.target}" if ssh else ""
    return via + (f" (jump {ssh.bastion})" if ssh and ssh.bastion else "")


def _describe(config: SQLVerify) -> str:
    return f"SQL {config.profile or 'query'} {mask_url(config.url)}{via_ssh(config.ssh)}"


DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521}


def tunnelled(url: str, ssh: SSHTunnelConfig, context: Context) -> str:
    """``url`` as seen through an SSH tunnel opened now (closed with ``context.stack``)."""
    from dicomfab.targets.ssh import SSHTunnel, tunnel_url

    parsed = make_url(url)
    if not parsed.host:
        raise TargetError("an SSH tunnel needs a database URL with a host and port")
    port = parsed.port or DEFAULT_PORTS.get(parsed.get_backend_name())
    if port is None:
        raise TargetError(f"give the database port in the URL ({parsed.get_backend_name()})")
    tunnel = context.stack.enter_context(
        SSHTunnel(
            ssh.target,
            parsed.host,
            port,
            bastion=ssh.bastion,
            key=Path(ssh.key).expanduser() if ssh.key else None,
            known_hosts=Path(ssh.known_hosts).expanduser() if ssh.known_hosts else None,
        )
    )
    return tunnel_url(url, tunnel)


def _build(config: SQLVerify, context: Context) -> SQLVerifier:
    from dicomfab.targets.profiles import ORTHANC_POSTGRES_QUERY, ORTHANC_POSTGRES_STUDY_QUERY

    profiles = {
        "orthanc-postgres": (ORTHANC_POSTGRES_QUERY, ORTHANC_POSTGRES_STUDY_QUERY),
        "embedded": (EMBEDDED_QUERY, EMBEDDED_STUDY_QUERY),
    }
    query, study_query = (
        (config.query, config.study_query)
        if config.query is not None
        else profiles[config.profile or ""]
    )
    url = config.url if config.ssh is None else tunnelled(config.url, config.ssh, context)
    return SQLVerifier(
        url, query, study_query=study_query, params=dict(config.params), batch=config.batch
    )


ADAPTER = Adapter("sql", "verify", SQLVerify, _describe, _build)
