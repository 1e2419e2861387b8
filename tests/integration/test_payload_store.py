"""The payload store contract, run against the real Postgres store and the in-memory fake (so
the fake the unit tests use is proven to behave like the real thing), plus what only Postgres
has: the table created idempotently in its own schema, by concurrent first users, outside the
read model; an unreachable server is a transient error; the codec round trip through it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from orchestrator.codec import CodecError, get_codec
from orchestrator.codec.wire import Wire
from orchestrator.domain.commands import ReportTaskResult
from orchestrator.domain.statuses import TaskStatus
from orchestrator.payloads.externalizer import Payloads
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.payloads.postgres import PostgresPayloadStore
from orchestrator.payloads.store import (
    MemoryPayloadStore,
    PayloadNotFound,
    PayloadStore,
    PayloadUnavailable,
    content_ref,
)
from tests.readmodel_support import database_url


def _schema() -> str:
    return f"test_payloads_{uuid.uuid4().hex[:10]}"


def _drop(schema: str) -> None:
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg() -> Iterator[PostgresPayloadStore]:
    schema = _schema()
    store = PostgresPayloadStore(database_url(), schema)
    yield store
    store.close()
    _drop(schema)


@pytest.fixture(params=["postgres", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[PayloadStore]:
    if request.param == "memory":
        yield MemoryPayloadStore()
    else:
        yield request.getfixturevalue("pg")


# -- the contract, for every store ----------------------------------------------------------


def test_put_returns_the_content_reference_and_get_the_bytes(store: PayloadStore):
    data = '{"big":"é"}'.encode()
    ref = store.put(data)
    assert ref == content_ref(data) and ref.startswith("sha256:") and len(ref) == 71
    assert store.get(ref) == data


def test_put_is_idempotent(store: PayloadStore):
    data = b'{"n":1}'
    assert store.put(data) == store.put(data)
    assert store.get(content_ref(data)) == data


def test_get_of_an_unknown_reference_is_not_found(store: PayloadStore):
    with pytest.raises(PayloadNotFound):
        store.get(content_ref(b"never stored"))


def test_a_large_payload_round_trips(store: PayloadStore):
    data = b'{"v":"' + uuid.uuid4().hex.encode() * 100_000 + b'"}'  # 3.2 MB, incompressible-ish
    assert store.get(store.put(data)) == data


# -- Postgres only ---------------------------------------------------------------------------


def test_the_table_lives_in_its_own_schema_created_on_first_use(pg: PostgresPayloadStore):
    pg.put(b"{}")
    with psycopg.connect(database_url()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = 'payloads'",
            (pg.schema,),
        ).fetchone()
    assert row == (1,)


def test_concurrent_first_users_create_the_table_once_without_errors():
    schema = _schema()
    stores = [PostgresPayloadStore(database_url(), schema) for _ in range(6)]
    errors: list[BaseException] = []

    def first_put(i: int) -> None:
        try:
            stores[i].put(f'{{"i":{i}}}'.encode())
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=first_put, args=(i,)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert stores[0].get(content_ref(b'{"i":5}')) == b'{"i":5}'
    finally:
        for s in stores:
            s.close()
        _drop(schema)


def test_ensure_is_idempotent(pg: PostgresPayloadStore):
    pg.ensure()
    pg.ensure()
    assert pg.get(pg.put(b"[]")) == b"[]"


def test_bytes_that_do_not_match_their_reference_are_refused(pg: PostgresPayloadStore):
    ref = pg.put(b'{"a":1}')
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute(f'UPDATE "{pg.schema}".payloads SET data = %s WHERE ref = %s', (b"{}", ref))
    with pytest.raises(PayloadNotFound, match="do not match"):
        pg.get(ref)


def test_an_unreachable_server_is_transient():
    store = PostgresPayloadStore(
        "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", _schema(), timeout_s=1.0
    )
    try:
        with pytest.raises(PayloadUnavailable):
            store.put(b"{}")
        with pytest.raises(PayloadUnavailable):
            store.get(content_ref(b"{}"))
    finally:
        store.close()


def test_a_schema_name_that_is_not_an_identifier_is_refused():
    with pytest.raises(ValueError, match="identifier"):
        PostgresPayloadStore(database_url(), 'x"; DROP TABLE workflows; --')


def test_the_codec_stores_and_reads_large_payloads_through_postgres(pg: PostgresPayloadStore):
    wire = Wire(get_codec(), Payloads(pg, PayloadPolicy.defaults()))
    output = {"blob": uuid.uuid4().hex * 40_000}  # 1.28 MB
    command = ReportTaskResult(
        workflow_id="wf-1", at=1, actor="worker:w", task_id="t-1",
        status=TaskStatus.COMPLETED, output=output,
    )  # fmt: skip
    data = wire.encode_command(command)
    assert len(data) < 1024
    fresh = Wire(get_codec(), Payloads(PostgresPayloadStore(database_url(), pg.schema),
                                       PayloadPolicy.defaults()))  # fmt: skip
    assert fresh.decode_command(data) == command
    _drop(pg.schema)
    with pytest.raises(CodecError, match="no payload"):
        Wire(get_codec(), Payloads(PostgresPayloadStore(database_url(), pg.schema),
                                   PayloadPolicy.defaults())).decode_command(data)  # fmt: skip
