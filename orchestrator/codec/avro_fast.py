"""Generated Avro binary encoders and decoders, specialised per schema (the codec's hot path).

fastavro interprets the schema for every record, which is most of the cost for our small
records. ``compile_encoder`` / ``compile_decoder`` turn one parsed, self-contained schema into
straight-line Python source, ``exec``'d once: standard Avro binary encoding (zigzag varints,
length-prefixed UTF-8, blocks ending with 0 for arrays and maps, a union's branch index).

The generated code is *conservative*: it accepts only the Python types it is sure fastavro
writes the same way (``str`` and subclasses, ``int`` but not ``bool``, ``dict`` records,
``list``/``tuple`` arrays...) and raises on anything else, including a missing field without a
default and a key the schema lacks (fastavro's ``strict_allow_default``); the caller then runs
fastavro, which writes the same bytes or raises its precise error. A decoder likewise raises on
anything unusual (truncated, bytes left over, a non-minimal union index). A schema using a type
not covered here (float, double, fixed, a logical type other than timestamp-millis, a recursive
type) compiles to ``None``. Decoded values are fastavro's: timestamp-millis as UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

Encoder = Callable[[dict[str, Any]], bytes]
Decoder = Callable[[bytes, int], dict[str, Any]]

_TIMESTAMP = "timestamp-millis"
_SMALL = 64  # |value| < 64 zigzags to one byte


class Unsupported(Exception):
    """The schema uses something the generator does not cover; use fastavro for it."""


def _varint_writer(groups: int) -> Callable[[int], bytes]:
    """Writer of a zigzagged value taking exactly ``groups`` bytes (no loop: this is hot)."""
    parts = [f"n >> {7 * i} & 127 | 128" for i in range(groups - 1)] + [f"n >> {7 * (groups - 1)}"]
    writer: Callable[[int], bytes] = eval(f"lambda n: bytes(({', '.join(parts)},))")  # ours
    return writer


_BY_GROUPS = [_varint_writer(max(g, 1)) for g in range(11)]


def write_long(v: int, bits: int = 64) -> bytes:
    if not -(1 << (bits - 1)) <= v < 1 << (bits - 1):
        raise ValueError(f"{v} out of the {bits}-bit range")
    n = (v << 1) ^ (v >> 63)
    return _BY_GROUPS[(n.bit_length() + 6) // 7](n)


def read_long(d: bytes, p: int) -> tuple[int, int]:
    """(value, next position) of the varint at ``p``; refuses what fastavro might read
    differently (more than 10 bytes, beyond 64 bits)."""
    b = d[p]
    n, shift, p = b & 0x7F, 7, p + 1
    while b > 0x7F:
        b = d[p]
        n |= (b & 0x7F) << shift
        shift, p = shift + 7, p + 1
    if shift > 70 or n >> 64:
        raise ValueError("varint longer than 10 bytes or beyond 64 bits")
    return (n >> 1) ^ -(n & 1), p


_ONE_BYTE = {v: write_long(v) for v in range(-_SMALL, _SMALL)}
_GLOBALS: dict[str, Any] = {
    "_wl": write_long,
    "_wi": lambda v: write_long(v, 32),
    "_rl": read_long,
    "_small": _ONE_BYTE,
    "_enc": str.encode,  # a TypeError for anything but a str (or a subclass, e.g. a StrEnum)
    "_E": ValueError,
    "_EPOCH": datetime(1970, 1, 1, tzinfo=UTC),
    "_TD": timedelta,
    "_MISSING": object(),
}


class _Source:
    """Lines of one generated function, its fresh variable names and its constants.
    Generating code emits lines; encoding appends to ``a``, decoding reads ``d`` at ``p``."""

    def __init__(self, named: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self.named = named
        self.active: set[str] = set()  # records being generated: a recursive type is refused
        self.count = 0

    def var(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, value: Any) -> str:
        name = f"_k{len(self.consts)}"
        self.consts[name] = value
        return name

    def emit(self, ind: int, *lines: str) -> None:
        self.lines.extend("    " * ind + line for line in lines)

    def enter(self, name: str) -> None:
        if name in self.active:
            raise Unsupported(f"recursive type {name}")
        self.active.add(name)

    def function(self, signature: str) -> Callable[..., Any]:
        namespace = dict(_GLOBALS, **self.consts)
        # constants bound as default arguments: a local is read faster than a global
        bound = ", ".join(f"{name}={name}" for name in namespace)
        source = f"def _generated({signature}, *, {bound}):\n" + "\n".join(self.lines)
        exec(compile(source, "<avro_fast>", "exec"), namespace)  # our own source
        return namespace["_generated"]  # type: ignore[no-any-return]


def _resolve(schema: Any, src: _Source) -> tuple[str, Any]:
    """(kind, schema dict or union list) with named references looked up."""
    if isinstance(schema, list):
        if len(schema) > _SMALL:  # so that a branch index is one byte
            raise Unsupported("a union of more than 64 branches")
        return "union", schema
    if isinstance(schema, str):
        return _resolve(src.named[schema], src) if schema in src.named else (schema, {})
    kind = schema["type"]
    if isinstance(kind, (dict, list)):
        return _resolve(kind, src)
    logical = schema.get("logicalType")
    if logical is not None and (logical, kind) != (_TIMESTAMP, "long"):
        raise Unsupported(f"logical type {logical} on {kind}")  # fastavro would convert it
    return kind, schema


def _e_bytes(src: _Source, ind: int, b: str) -> None:
    n = src.var("n")
    src.emit(ind, f"{n} = len({b})", f"a(_small[{n}] if {n} < {_SMALL} else _wl({n}))", f"a({b})")


def _e_record(src: _Source, ind: int, v: str, schema: dict[str, Any]) -> None:
    src.enter(schema["name"])
    missing = src.var("m")
    src.emit(ind, f"if type({v}) is not dict: raise _E", f"{missing} = 0")
    for field in schema["fields"]:
        f = src.var("f")
        if "default" in field:  # strict_allow_default: may be left out, then the default
            try:
                default = _encoder(field["type"], src.named)(field["default"])
                fill = f"a({src.const(default)})"
            except (ValueError, TypeError, KeyError):  # e.g. bytes given as text: fastavro's
                fill = "raise _E"
            src.emit(ind, f"{f} = {v}.get({field['name']!r}, _MISSING)", f"if {f} is _MISSING:")
            src.emit(ind + 1, fill, f"{missing} += 1")
            src.emit(ind, "else:")
            _encode(src, ind + 1, f, field["type"])
        else:
            src.emit(ind, f"{f} = {v}[{field['name']!r}]")
            _encode(src, ind, f, field["type"])
    # every field read or defaulted: one key more is a field the schema does not have
    src.emit(ind, f"if len({v}) + {missing} != {len(schema['fields'])}: raise _E")
    src.active.discard(schema["name"])


def _e_blocks(src: _Source, ind: int, v: str, check: str, item: Any, is_map: bool) -> None:
    x, k = src.var("x"), src.var("k")
    src.emit(ind, f"if {check}: raise _E", f"if {v}:")
    src.emit(ind + 1, f"a(_small[len({v})] if len({v}) < {_SMALL} else _wl(len({v})))")
    if is_map:
        src.emit(ind + 1, f"for {k}, {x} in {v}.items():", f"    {k} = _enc({k})")
        _e_bytes(src, ind + 2, k)
    else:
        src.emit(ind + 1, f"for {x} in {v}:")
    _encode(src, ind + 2, x, item)
    src.emit(ind, "a(b'\\x00')")


# The Python type test of each union branch kind. Two branches sharing a class are refused, so
# the one branch that accepts a value is the one fastavro picks (its first valid branch).
_UNION_TESTS = {
    "null": ("{v} is None", {"none"}),
    "boolean": ("{v} is True or {v} is False", {"bool"}),
    "int": ("type({v}) is int", {"int"}),
    "long": ("type({v}) is int", {"int"}),
    "string": ("isinstance({v}, str)", {"str"}),
    "enum": ("isinstance({v}, str)", {"str"}),
    "bytes": ("type({v}) is bytes", {"bytes"}),
    "record": ("type({v}) is dict", {"dict"}),
    "map": ("type({v}) is dict", {"dict"}),
    "array": ("type({v}) is list", {"list"}),  # a tuple is fastavro's (branch, value) notation
}


def _e_union(src: _Source, ind: int, v: str, branches: list[Any]) -> None:
    seen: set[str] = set()
    for i, branch in enumerate(branches):
        kind = _resolve(branch, src)[0]
        if kind not in _UNION_TESTS or seen & _UNION_TESTS[kind][1]:
            raise Unsupported(f"union {branches}")
        seen |= _UNION_TESTS[kind][1]
        test = _UNION_TESTS[kind][0].format(v=v)
        src.emit(ind, f"{'elif' if i else 'if'} {test}:", f"    a({_ONE_BYTE[i]!r})")
        if kind != "null":
            _encode(src, ind + 1, v, branch, checked=True)
    src.emit(ind, "else: raise _E")


def _encode(src: _Source, ind: int, v: str, schema: Any, checked: bool = False) -> None:
    kind, s = _resolve(schema, src)
    if not checked and kind in _PY_TYPE:
        src.emit(ind, f"if type({v}) is not {_PY_TYPE[kind]}: raise _E")
    if kind == "null":
        src.emit(ind, f"if {v} is not None: raise _E")
    elif kind == "boolean":
        src.emit(ind, f"if {v} is True: a(b'\\x01')", f"elif {v} is False: a(b'\\x00')")
        src.emit(ind, "else: raise _E")
    elif kind in ("long", "int"):
        write = {"long": "_wl", "int": "_wi"}[kind]
        src.emit(ind, f"a(_small[{v}] if -{_SMALL} <= {v} < {_SMALL} else {write}({v}))")
    elif kind in ("string", "bytes"):
        b = src.var("b")
        src.emit(ind, f"{b} = _enc({v})" if kind == "string" else f"{b} = {v}")
        _e_bytes(src, ind, b)
    elif kind == "enum":
        table = {sym: write_long(i) for i, sym in enumerate(s["symbols"])}
        src.emit(ind, f"a({src.const(table)}[{v}])")  # a KeyError: not a symbol
    elif kind in ("record", "error"):
        _e_record(src, ind, v, s)
    elif kind == "array":
        check = f"type({v}) is not list and type({v}) is not tuple"
        _e_blocks(src, ind, v, check, s["items"], is_map=False)
    elif kind == "map":
        _e_blocks(src, ind, v, f"type({v}) is not dict", s["values"], is_map=True)
    elif kind == "union":
        _e_union(src, ind, v, s)
    else:
        raise Unsupported(f"type {kind}")


_PY_TYPE = {"long": "int", "int": "int", "bytes": "bytes"}


def _encoder(schema: Any, named: dict[str, Any], prefix: bytes = b"") -> Callable[[Any], bytes]:
    src = _Source(named)
    src.emit(1, f"o = [{prefix!r}]; a = o.append")
    _encode(src, 1, "r", schema)
    src.emit(1, "return b''.join(o)")
    return src.function("r")


def compile_encoder(parsed: dict[str, Any], prefix: bytes = b"") -> Encoder | None:
    """``record -> prefix + Avro body`` for a parsed record schema, or None if not covered."""
    try:
        return _encoder(parsed, parsed.get("__named_schemas", {}), prefix)
    except Unsupported:
        return None


def _d_long(src: _Source, ind: int, x: str) -> None:
    src.emit(ind, "c = d[p]", f"if c < 128: {x} = (c >> 1) ^ -(c & 1); p += 1")
    src.emit(ind, f"else: {x}, p = _rl(d, p)")


def _d_bytes(src: _Source, ind: int, x: str, text: bool) -> None:
    src.emit(ind, "c = d[p]", "if c < 128 and not c & 1: ln = c >> 1; p += 1", "else:")
    src.emit(ind + 1, "ln, p = _rl(d, p)", "if ln < 0: raise _E")
    src.emit(ind, f"e = p + ln; {x} = d[p:e]{'.decode()' if text else ''}; p = e")


def _d_record(src: _Source, ind: int, x: str, schema: dict[str, Any]) -> None:
    src.enter(schema["name"])
    items = []
    for field in schema["fields"]:
        f = src.var("f")
        _decode(src, ind, f, field["type"])
        items.append(f"{field['name']!r}: {f}")
    src.emit(ind, f"{x} = {{{', '.join(items)}}}")
    src.active.discard(schema["name"])


def _d_blocks(src: _Source, ind: int, x: str, item: Any, is_map: bool) -> None:
    count, y, k = src.var("n"), src.var("y"), src.var("k")
    src.emit(ind, f"{x} = {{}}" if is_map else f"{x} = []", "while True:")
    _d_long(src, ind + 1, count)
    # a negative count is followed by the block's size in bytes
    src.emit(ind + 1, f"if not {count}: break", f"if {count} < 0:", f"    {count} = -{count}")
    _d_long(src, ind + 2, "_")
    src.emit(ind + 1, f"for _ in range({count}):")
    if is_map:
        _d_bytes(src, ind + 2, k, text=True)
    _decode(src, ind + 2, y, item)
    src.emit(ind + 2, f"{x}[{k}] = {y}" if is_map else f"{x}.append({y})")


def _decode(src: _Source, ind: int, x: str, schema: Any) -> None:
    kind, s = _resolve(schema, src)
    if kind == "null":
        src.emit(ind, f"{x} = None")
    elif kind == "boolean":
        src.emit(ind, f"c = d[p]; p += 1; {x} = c == 1", "if c > 1: raise _E")
    elif kind in ("long", "int"):
        _d_long(src, ind, x)
        if s.get("logicalType") == _TIMESTAMP:  # fastavro's exact integer arithmetic:
            src.emit(ind, f"{x} = _EPOCH + _TD(0, 0, 0, {x})")  # 4th: milliseconds
    elif kind in ("string", "bytes"):
        _d_bytes(src, ind, x, text=kind == "string")
    elif kind == "enum":
        src.emit(ind, "c = d[p]; p += 1", "if c & 129: raise _E")  # one-byte index only
        src.emit(ind, f"{x} = {src.const(tuple(s['symbols']))}[c >> 1]")
    elif kind in ("record", "error"):
        _d_record(src, ind, x, s)
    elif kind in ("array", "map"):
        _d_blocks(src, ind, x, s["items" if kind == "array" else "values"], kind == "map")
    elif kind == "union":
        src.emit(ind, "c = d[p]; p += 1")
        for i, branch in enumerate(s):  # only the one-byte index; anything else is fastavro's
            src.emit(ind, f"{'elif' if i else 'if'} c == {2 * i}:")
            _decode(src, ind + 1, x, branch)
        src.emit(ind, "else: raise _E")
    else:
        raise Unsupported(f"type {kind}")


def compile_decoder(parsed: dict[str, Any]) -> Decoder | None:
    """``(data, position of the body) -> record`` for a parsed record schema, or None if not
    covered. Raises (ValueError, IndexError, UnicodeDecodeError, ...) unless the body is exactly
    one well-formed record running to the end of ``data``."""
    try:
        src = _Source(parsed.get("__named_schemas", {}))
        _decode(src, 1, "r", parsed)
        src.emit(1, "if p != len(d): raise _E", "return r")
        return src.function("d, p")
    except Unsupported:
        return None
