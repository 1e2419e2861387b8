"""Read-model migrations: applied once, recorded, idempotent, safe to run concurrently."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from projections.migrate import MigrationError, available_migrations, migrate, migrate_url
from tests import readmodel_support as support

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def url() -> Iterator[str]:
    base = support.database_url()
    schema = support.create_schema(base)
    yield support.schema_url(base, schema)
    support.drop_schema(base, schema)


def tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchall()
    return {name for (name,) in rows}


def test_first_run_creates_the_read_model_and_records_each_file(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        applied = migrate(conn)
        recorded = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
        assert tables(conn) >= {
            "workflows",
            "tasks",
            "events",
            "definitions",
            "projector_offsets",
            "schema_migrations",
        }
    names = [f"{m.version:04d}_{m.name}" for m in available_migrations()]
    assert applied == names
    assert [(m.version, m.name) for m in available_migrations()] == sorted(recorded)


def test_applying_twice_is_a_no_op(url: str) -> None:
    assert migrate_url(url)
    with psycopg.connect(url, autocommit=True) as conn:
        before = conn.execute(
            "SELECT version, checksum, applied_at FROM schema_migrations"
        ).fetchall()
        assert migrate(conn) == []
        after = conn.execute(
            "SELECT version, checksum, applied_at FROM schema_migrations"
        ).fetchall()
    assert before == after


def test_concurrent_starters_apply_each_migration_exactly_once(url: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate_url(url))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(len(r) for r in results) == [0, 0, 0, len(available_migrations())]


def test_refuses_a_search_path_without_an_existing_schema() -> None:
    url = support.schema_url(support.database_url(), "no_such_schema_here")
    with pytest.raises(MigrationError, match="no schema"):
        migrate_url(url)


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))
