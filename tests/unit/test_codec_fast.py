"""The generated Avro fast path (orchestrator/codec/avro_fast.py) is fastavro, only faster.

Every current schema of schemas/ is walked: records drawn by hypothesis from the schema itself
(None and non-None union branches, empty and full arrays and maps, any unicode, longs up to the
64-bit limits, fields with a default left out) must encode to fastavro's exact bytes and decode
to fastavro's exact values (compared by repr: same types, e.g. datetimes for timestamp-millis).
Bad records and corrupt bodies must give the codec's very same outcome as with fastavro alone.
"""

from __future__ import annotations

import functools
import io
import re
from enum import StrEnum
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.codec import Codec, CodecError, avro_fast, get_codec
from orchestrator.codec import codec as codec_module
from orchestrator.codec.schemas import load_folder
from orchestrator.settings import PROJECT_SCHEMAS_DIR

FAST = get_codec()
SLOW = Codec(load_folder(PROJECT_SCHEMAS_DIR), fast=False)
NAMES = FAST.names()
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MS_MIN, MS_MAX = -62_135_596_800_000, 253_402_300_799_999  # years 1 to 9999, as datetimes


class Color(StrEnum):  # the domain passes statuses as StrEnum members
    RED = "red"
    BLUE = "blue"


def values(schema: Any, named: dict[str, Any], in_union: bool = False) -> st.SearchStrategy[Any]:
    """Any valid Python value of an Avro schema, as the domain would hand it to the codec (an
    array that is a union branch as a list: fastavro reads a tuple there as (branch, value),
    so the wire mapping turns the domain's tuples into lists for those fields)."""
    if isinstance(schema, list):
        return st.one_of([values(branch, named, in_union=True) for branch in schema])
    if isinstance(schema, str):
        schema = named.get(schema, {"type": schema})
    kind = schema["type"]
    if kind == "record":
        fields = {f["name"]: values(f["type"], named) for f in schema["fields"]}
        optional = {
            name for name, f in zip(fields, schema["fields"], strict=True) if "default" in f
        }
        return st.fixed_dictionaries(
            {n: s for n, s in fields.items() if n not in optional},
            optional={n: s for n, s in fields.items() if n in optional},
        )
    if kind == "array":
        items = st.lists(values(schema["items"], named), max_size=4)
        return items if in_union else items | items.map(tuple)
    if kind == "map":
        return st.dictionaries(st.text(), values(schema["values"], named), max_size=4)
    if schema.get("logicalType") == "timestamp-millis":
        return st.integers(MS_MIN, MS_MAX)
    return _PRIMITIVES[kind]


_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1) | st.integers(-200, 200),
    "string": st.text() | st.sampled_from(list(Color)),
    "bytes": st.binary(max_size=20),
    "enum": st.sampled_from(["RED", "GREEN"]),
}


@functools.cache
def compiled(name: str) -> tuple[dict[str, Any], Any, Any]:
    parsed = fastavro.parse_schema(FAST.schema(name))
    return parsed, avro_fast.compile_encoder(parsed), avro_fast.compile_decoder(parsed)


def fastavro_bytes(parsed: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, record, strict_allow_default=True)
    return out.getvalue()


def outcome(fn: Any, *args: Any) -> tuple[str, str]:
    try:
        return "ok", repr(fn(*args))
    except CodecError as exc:  # fastavro's messages may name a BytesIO by its address
        return "error", re.sub(r" at 0x[0-9a-f]+", "", str(exc))


def test_every_current_schema_has_a_fast_path() -> None:
    # a schema the generator does not cover silently costs twice the CPU: say so here
    assert [n for n in NAMES if None in compiled(n)[1:]] == []


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_generated_code_matches_fastavro_bytes_and_values(name: str, data: st.DataObject) -> None:
    parsed, encode, decode = compiled(name)
    record = data.draw(values(parsed, parsed["__named_schemas"]))
    expected = fastavro_bytes(parsed, record)
    assert encode(record) == expected  # the generated code itself, no fallback involved
    read = fastavro.schemaless_reader(io.BytesIO(expected), parsed, None)
    assert repr(decode(expected, 0)) == repr(read)
    framed = SLOW.encode(name, record)
    assert FAST.encode(name, record) == framed  # and through the codec
    assert repr(FAST.decode(framed)) == repr(SLOW.decode(framed))


_BAD_VALUES = st.sampled_from([None, True, 1.5, b"x", "text", 7, [], {}, object(), 2**64])


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_bad_records_get_fastavros_outcome(name: str, data: st.DataObject) -> None:
    parsed = compiled(name)[0]
    record = data.draw(values(parsed, parsed["__named_schemas"]))
    target = record["header"] if "header" in record and data.draw(st.booleans()) else record
    change = data.draw(st.sampled_from(["drop", "extra", "retype"]))
    key = data.draw(st.sampled_from(sorted(target)))
    if change == "drop":
        del target[key]
    elif change == "extra":
        target[key + "_typo"] = 1
    else:
        target[key] = data.draw(_BAD_VALUES)
    assert outcome(FAST.encode, name, record) == outcome(SLOW.encode, name, record)


@pytest.mark.parametrize("name", NAMES)
@EXAMPLES
@given(data=st.data())
def test_corrupt_bodies_get_fastavros_outcome(name: str, data: st.DataObject) -> None:
    parsed = compiled(name)[0]
    framed = bytearray(SLOW.encode(name, data.draw(values(parsed, parsed["__named_schemas"]))))
    at = data.draw(st.integers(codec_module.HEADER_LENGTH, len(framed) - 1))
    change = data.draw(st.sampled_from(["cut", "flip", "append"]))
    if change == "cut":
        del framed[at:]
    elif change == "flip":
        framed[at] = data.draw(st.integers(0, 255))
    else:
        framed += data.draw(st.binary(min_size=1, max_size=3))
    corrupt = bytes(framed)
    assert outcome(FAST.decode, corrupt) == outcome(SLOW.decode, corrupt)


def test_valid_records_skip_fastavro_and_bad_ones_reach_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def writer(*args: Any, **kwargs: Any) -> None:
        calls.append("write")
        raise ValueError("fastavro says no")

    def reader(*args: Any, **kwargs: Any) -> None:
        calls.append("read")
        raise ValueError("fastavro says no")

    monkeypatch.setattr(codec_module, "schemaless_writer", writer)
    monkeypatch.setattr(codec_module, "schemaless_reader", reader)
    codec = Codec(load_folder(PROJECT_SCHEMAS_DIR))
    record = {"header": HEADER, "task_id": "t-1", "worker_id": "w1"}
    data = codec.encode("TaskCompleted", record)
    assert codec.decode(data)[1]["logs"] == [] and calls == []
    with pytest.raises(CodecError, match="fastavro says no"):
        codec.encode("TaskCompleted", {**record, "task_id": 5})
    with pytest.raises(CodecError, match="fastavro says no"):
        codec.decode(data[:-1])
    assert calls == ["write", "read"]


HEADER = {
    "event_id": "w-1:1",
    "workflow_id": "w-1",
    "root_workflow_id": "w-1",
    "seq": 1,
    "occurred_at": 1_800_000_000_000,
    "actor": "engine",
    "schema_version": 3,
}


def test_history_records_still_resolve_through_fastavro() -> None:
    # an old writer schema is not the current one: the fast decoder must not read it
    old = [
        s for s in load_folder(PROJECT_SCHEMAS_DIR).history if s.full_name.endswith("TaskCompleted")
    ]
    assert old
    record = {"header": HEADER, "task_id": "t-1", "output": "{}"}
    for loaded in old:
        data = FAST.encode("TaskCompleted", record, version=loaded.version)
        assert FAST.decode(data) == SLOW.decode(data)
        assert FAST.decode(data)[1]["logs"] == []


# Types the project's schemas do not use today (enum, boolean, int, bytes, a map of records, a
# named type referenced again later), so a schema adding one keeps its fast path.
OTHER_TYPES = fastavro.parse_schema(
    {
        "type": "record",
        "name": "t.Other",
        "fields": [
            {
                "name": "color",
                "type": {"type": "enum", "name": "t.Color", "symbols": ["RED", "GREEN"]},
            },
            {"name": "again", "type": ["null", "t.Color"], "default": None},
            {"name": "flag", "type": "boolean", "default": True},
            {"name": "small", "type": ["null", "int"]},
            {"name": "blob", "type": "bytes"},
            {"name": "count", "type": "int"},
            {
                "name": "parts",
                "type": {
                    "type": "map",
                    "values": {
                        "type": "record",
                        "name": "t.Part",
                        "fields": [
                            {"name": "xs", "type": {"type": "array", "items": ["null", "long"]}}
                        ],
                    },
                },
            },
            {"name": "spare", "type": ["null", "t.Part"], "default": None},
        ],
    }
)


@EXAMPLES
@given(data=st.data())
def test_other_types_match_fastavro(data: st.DataObject) -> None:
    encode = avro_fast.compile_encoder(OTHER_TYPES, b"head")
    decode = avro_fast.compile_decoder(OTHER_TYPES)
    assert encode is not None and decode is not None
    record = data.draw(values(OTHER_TYPES, OTHER_TYPES["__named_schemas"]))
    expected = fastavro_bytes(OTHER_TYPES, record)
    assert encode(record) == b"head" + expected
    read = fastavro.schemaless_reader(io.BytesIO(expected), OTHER_TYPES, None)
    assert repr(decode(b"head" + expected, 4)) == repr(read)


def test_blocks_with_negative_counts_decode_as_fastavro_does() -> None:
    # Avro lets a writer give a block as -count then its size in bytes (fastavro never does)
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "t.Blocks",
            "fields": [
                {"name": "xs", "type": {"type": "array", "items": "string"}},
                {"name": "m", "type": {"type": "map", "values": "long"}},
            ],
        }
    )
    body = b"\x03\x04\x02a\x02b" + b"\x02\x02c\x00" + b"\x01\x06\x02k\x80\x01\x00"
    decode = avro_fast.compile_decoder(schema)
    assert decode is not None
    expected = fastavro.schemaless_reader(io.BytesIO(body), schema, None)
    assert decode(body, 0) == expected == {"xs": ["a", "b", "c"], "m": {"k": 64}}


@pytest.mark.parametrize(
    "field_type",
    [
        {"type": "string", "logicalType": "uuid"},  # fastavro would return a UUID
        "double",  # not used by our schemas: JSON numbers travel as text
        ["int", "long"],  # fastavro picks by order and range
        [
            "null",
            {"type": "array", "items": "long"},
            {"type": "map", "values": "long"},
            "string",
            "t.R",
        ],
        "t.R",  # recursive
    ],
)
def test_uncovered_schemas_have_no_fast_path(field_type: Any) -> None:
    schema = fastavro.parse_schema(
        {"type": "record", "name": "t.R", "fields": [{"name": "x", "type": ["null", field_type]}]}
        if field_type == "t.R"
        else {"type": "record", "name": "t.R", "fields": [{"name": "x", "type": field_type}]}
    )
    assert avro_fast.compile_encoder(schema) is None
    if not isinstance(field_type, list):  # an ambiguous union is only ambiguous to write
        assert avro_fast.compile_decoder(schema) is None
