"""A NUL character (U+0000) in an event must not stop the projector: Postgres text and jsonb
cannot hold it, so it is stored as U+FFFD (the log keeps the original)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import orjson
import psycopg
import pytest

from projections.apply import Batch, LoggedEvent, apply_batch, dumps
from projections.migrate import migrate
from tests import readmodel_support as support
from tests.readmodel_fixtures import happy_history

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    yield url
    support.drop_schema(base, schema)


def test_nul_characters_are_stored_as_replacement_characters(pg_url: str) -> None:
    history = happy_history("wf-nul")
    history[0] = dataclasses.replace(
        history[0], input={"k\x00": ["a\x00b"]}, correlation_id="corr\x00"
    )
    history[5] = dataclasses.replace(history[5], reason="card\x00declined")  # TaskFailed
    batch = Batch(events=[LoggedEvent(e, "t", 0, i) for i, e in enumerate(history)])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        result = apply_batch(conn, batch, "c")
        row = conn.execute(
            "SELECT input, correlation_id, status FROM workflows WHERE workflow_id = 'wf-nul'"
        ).fetchone()
        reasons = conn.execute("SELECT reason FROM tasks WHERE reason IS NOT NULL").fetchall()
    assert result.applied == len(history)
    assert row == ({"k\ufffd": ["a\ufffdb"]}, "corr\ufffd", "COMPLETED")
    assert reasons == [("card\ufffddeclined",)]


def test_a_literal_backslash_u0000_text_is_kept_as_it_is() -> None:
    value = {"text": "\\u0000 is how JSON writes NUL"}
    assert orjson.loads(dumps(value)) == value
