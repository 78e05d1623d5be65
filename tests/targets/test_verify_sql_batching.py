"""SQLVerifier's batching: one statement per ``batch`` UIDs (counted as the database driver sees
them), the batch size it picks by itself, and the same Observations whatever the batch."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dicomfab.targets.verify_sql import (
    ARRAY_BATCH,
    DEFAULT_BATCH,
    EMBEDDED_QUERY,
    EMBEDDED_STUDY_QUERY,
    SQLVerifier,
    _array_bound,
    array_literal,
)

N = 2500  # instances, 4 to a study, as screening data is


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index shaped like the embedded PACS's one table."""
    path = tmp_path_factory.mktemp("sql") / "index.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE instance (sop_instance_uid TEXT PRIMARY KEY, study_instance_uid TEXT, "
            "series_instance_uid TEXT, patient_id TEXT, patient_name TEXT, accession_number TEXT,"
            " modality TEXT, sop_class_uid TEXT, instance_number TEXT)"
        )
        db.executemany(
            "INSERT INTO instance VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (f"2.25.{i}", f"2.25.9{i // 4}", f"2.25.8{i // 4}", f"P{i // 4}", "Doe^Jane",
                 f"A{i // 4}", "MG", "1.2.840.10008.5.1.4.1.1.1.2", str(i % 4 + 1))
                for i in range(N)
            ],
        )  # fmt: skip
    return path


@pytest.fixture
def executed() -> Iterator[list[str]]:
    """Every statement any engine sends to its driver while the test runs."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def _verifier(database: Path, batch: int | None) -> SQLVerifier:
    return SQLVerifier(
        f"sqlite:///{database}", EMBEDDED_QUERY, study_query=EMBEDDED_STUDY_QUERY, batch=batch
    )


@pytest.mark.parametrize(
    ("uids", "batch", "statements"),
    [
        (1, 3, 1 + 1),
        (7, 3, 3 + 1),  # 7 instances in 2 studies: ceil(7/3) + ceil(2/3)
        (12, 4, 3 + 1),
        (N, None, 3 + 1),  # the default batch (1000) for an expanding IN: 625 studies, 1
        (N, 500, 5 + 2),
        (N, N, 1 + 1),
    ],
)
def test_one_statement_per_batch(
    database: Path, executed: list[str], uids: int, batch: int | None, statements: int
) -> None:
    verifier = _verifier(database, batch)
    asked = [f"2.25.{i}" for i in range(uids)]

    seen = verifier.observe([*asked, *asked[:2]])  # a repeated UID is asked once

    assert len(seen.instances) == uids
    assert verifier.statements == statements
    assert len([s for s in executed if s.lstrip().upper().startswith("SELECT")]) == statements


def test_observations_do_not_depend_on_the_batch(database: Path) -> None:
    asked = [f"2.25.{i}" for i in range(0, N, 3)] + ["2.25.999999"]
    whole = _verifier(database, N).observe(asked)
    for batch in (1, 7, 1000):
        seen = _verifier(database, batch).observe(asked)
        assert seen.instances == whole.instances
        assert seen.studies == whole.studies
    assert len(whole.instances) == len(asked) - 1
    assert whole.instances["2.25.6"].instance_number == "3"
    assert whole.studies["2.25.91"].patient_id == "P1"


def test_the_batch_follows_how_the_query_binds_the_uids(database: Path) -> None:
    url = f"sqlite:///{database}"
    assert SQLVerifier(url, "SELECT 1 WHERE x IN :uids").batch == DEFAULT_BATCH
    assert SQLVerifier(url, "SELECT 1 WHERE x = ANY(:uids)").batch == ARRAY_BATCH
    assert SQLVerifier(url, "SELECT 1 WHERE x = any ( :uids )", batch=7).batch == 7
    assert _array_bound("WHERE v = ANY(:uids) AND t = 1", "uids")
    assert not _array_bound("WHERE v IN :uids", "uids")
    assert _array_bound("FROM unnest(CAST(:uids AS text[])) AS asked(uid)", "uids")
    assert not _array_bound("WHERE v in  :uids", "uids")
    assert array_literal(["1.2", 'a"b\\c']) == '{"1.2","a\\"b\\\\c"}'
    with pytest.raises(ValueError, match="batch"):
        SQLVerifier(url, EMBEDDED_QUERY, batch=0)


def test_inside_with_one_connection_serves_every_observe(database: Path) -> None:
    connects: list[object] = []

    def count(dbapi_connection: Any, record: Any) -> None:
        connects.append(dbapi_connection)

    event.listen(Engine, "connect", count)
    try:
        verifier = _verifier(database, None)
        asked = [f"2.25.{i}" for i in range(10)]
        first = [verifier.observe(asked) for _ in range(3)]
        assert len(connects) == 3  # one each, closed after
        with verifier as kept:
            again = [kept.observe(asked) for _ in range(3)]
        assert len(connects) == 4  # one for the three
        assert verifier._engine is None
        verifier.observe(asked)
        assert len(connects) == 5
    finally:
        event.remove(Engine, "connect", count)
    assert all(o.instances == first[0].instances for o in [*first, *again])
