"""The ``sql`` links kind: the product's relation read from its database.

    [targets.NAME.links]
    kind = "sql"
    url = "postgresql+psycopg://reader:${DB_PW}@db.example:5432/product"
    query = "SELECT study_uid, linked_study_uid FROM prior_link WHERE study_uid IN :study_uids"

``query`` binds ``:study_uids`` as an expanding list (``batch`` UIDs per statement, all on one
connection) and returns rows of ``(study_uid, linked_study_uid)`` (by those column names, else
the first two columns). The connection, its errors and the optional ``ssh`` tunnel are those of
the ``sql`` verifier (:mod:`dicomfab.targets.verify_sql`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field
from sqlalchemy.engine import Row

from dicomfab.targets.links import LinkPairs, batches, probe, timed, unique
from dicomfab.targets.registry import Adapter, AdapterConfig, Context
from dicomfab.targets.secrets import mask_url
from dicomfab.targets.verify_sql import SQLVerifier, SSHTunnelConfig, tunnelled, via_ssh

PARAMETER = "study_uids"


class SQLLinks:
    """The pairs ``query`` returns for the asked studies, ``batch`` UIDs per statement."""

    def __init__(
        self,
        url: str,
        query: str,
        *,
        params: dict[str, Any] | None = None,
        batch: int = 1000,
    ) -> None:
        self.query = query
        self.database = SQLVerifier(url, query, params=params, batch=batch, what="SQL links")

    def __repr__(self) -> str:
        return f"SQLLinks({self.database.safe_url!r}, batch={self.database.batch})"

    def pairs(self, study_uids: Iterable[str]) -> LinkPairs:
        start = time.perf_counter()
        uids = unique(study_uids)
        db = self.database
        source = f"sql links {db.safe_url}"
        if not uids:
            return LinkPairs(frozenset(), source)
        if PARAMETER in db.params:
            raise db._fail(f"params must not contain {PARAMETER!r} (the UID list is bound there)")
        statement = db.statement(self.query, PARAMETER)
        found: list[tuple[str, str]] = []
        with db.connection() as conn:
            for chunk in batches(uids, db.batch):
                result = conn.execute(statement, {**db.params, PARAMETER: chunk})
                found += (self._pair(row) for row in result)
        return timed(source, start, (p for p in found if None not in p), uids)

    def _pair(self, row: Row[Any]) -> tuple[str, str]:
        mapping = {str(k).lower(): v for k, v in row._mapping.items()}
        if "study_uid" in mapping and "linked_study_uid" in mapping:
            a, b = mapping["study_uid"], mapping["linked_study_uid"]
        elif len(values := tuple(row)) >= 2:
            a, b = values[0], values[1]
        else:
            raise self.database._fail("the query returns fewer than two columns")
        return (None if a is None else str(a), None if b is None else str(b))  # type: ignore[return-value]


class SQLLinksConfig(AdapterConfig):
    kind: Literal["sql"]
    url: str = Field(description="SQLAlchemy URL; put the password in ${…}")
    query: str = Field(
        description="SQL with an expanding :study_uids parameter, returning "
        "(study_uid, linked_study_uid) rows"
    )
    params: dict[str, str | int | float] = Field(
        default_factory=dict, description="values for the query's other :name parameters"
    )
    batch: int = Field(1000, ge=1, description="study UIDs per statement")
    ssh: SSHTunnelConfig | None = Field(
        None, description="reach the database through SSH (the URL's host is as the target sees it)"
    )


def _describe(config: SQLLinksConfig) -> str:
    return f"SQL links query {mask_url(config.url)}{via_ssh(config.ssh)}"


def _build(config: SQLLinksConfig, context: Context) -> SQLLinks:
    url = config.url if config.ssh is None else tunnelled(config.url, config.ssh, context)
    return SQLLinks(url, config.query, params=dict(config.params), batch=config.batch)


ADAPTER = Adapter("sql", "links", SQLLinksConfig, _describe, _build, probe(_build))
