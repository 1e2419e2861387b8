"""Load a folder of Avro schemas: current ones, and previous versions under ``history/``.

Files may reference named types defined in other files; the load order is found by retrying
the files whose references are not yet known until no file makes progress. Every named record
then gets a *self-contained* writer schema (each named type it uses inlined at its first use,
as the Parsing Canonical Form requires) and the CRC-64-AVRO fingerprint of that form, which is
what a reader in any language needs to decode a record with schemas/ alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro.schema import (
    SchemaParseException,
    UnknownType,
    fingerprint,
    parse_schema,
    to_parsing_canonical_form,
)

HISTORY_DIR = "history"
_HISTORY_FILE = re.compile(r"v(\d+)\.avsc")
_NAMED = ("record", "error", "enum", "fixed")


class CodecError(ValueError):
    """A schema folder cannot be loaded, or a record cannot be encoded or decoded."""


@dataclass(frozen=True, slots=True)
class LoadedSchema:
    full_name: str
    version: int | None  # None: the current schema; N: schemas/history/<Name>/vN.avsc
    source: Path
    schema: dict[str, Any]  # self-contained JSON schema
    parsed: dict[str, Any]  # the same, parsed once by fastavro
    canonical: str  # Parsing Canonical Form
    fingerprint: bytes  # CRC-64-AVRO of the canonical form, 8 bytes little-endian


@dataclass(frozen=True, slots=True)
class SchemaSet:
    current: dict[str, LoadedSchema]  # full name -> schema, every named record
    history: list[LoadedSchema]
    aliases: dict[str, str]  # old full name -> current full name (from "aliases")


def load_folder(root: Path) -> SchemaSet:
    root = Path(root)
    if not root.is_dir():
        raise CodecError(f"schema folder {root} does not exist")
    named = _resolve(
        [p for p in sorted(root.rglob("*.avsc")) if p.relative_to(root).parts[0] != HISTORY_DIR]
    )
    current = {
        name: _loaded(name, None, source.relative_to(root), named)
        for name, (schema, source) in named.items()
        if schema["type"] in ("record", "error")
    }
    aliases = _aliases(current)
    history = [_history_entry(path, root, named, current, aliases) for path in _history(root)]
    return SchemaSet(current, history, aliases)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CodecError(f"{path}: not a readable JSON schema: {exc}") from None


def _resolve(paths: list[Path]) -> dict[str, tuple[dict[str, Any], Path]]:
    """Parse files in dependency order; returns full name -> (parsed named type, file)."""
    named: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    pending = [(path, _read(path)) for path in paths]
    while pending:
        waiting: list[tuple[Path, Any, str]] = []
        for path, raw in pending:
            trial = dict(named)
            try:
                top = parse_schema(raw, trial, _write_hint=False)
            except UnknownType as exc:
                waiting.append((path, raw, exc.name))
                continue
            except (SchemaParseException, ValueError, TypeError, KeyError) as exc:
                raise CodecError(f"{path}: invalid Avro schema: {exc}") from None
            _check_top_level(path, top)
            for name, schema in trial.items():
                if name in named and named[name] is not schema:
                    raise CodecError(f"{path}: redefines {name}, already defined in {origin[name]}")
                if name not in named:
                    origin[name] = path
            named = trial
        if len(waiting) == len(pending):
            missing = "; ".join(f"{path}: unknown type {name}" for path, _, name in waiting)
            raise CodecError(f"unresolvable schema references: {missing}")
        pending = [(path, raw) for path, raw, _ in waiting]
    return {name: (schema, origin[name]) for name, schema in named.items()}


def _check_top_level(path: Path, top: Any) -> dict[str, Any]:
    if not isinstance(top, dict) or top.get("type") not in _NAMED:
        raise CodecError(f"{path}: the top level of a schema file must be a named type")
    return top


def _loaded(
    name: str,
    version: int | None,
    source: Path,
    named: dict[str, tuple[dict[str, Any], Path]],
) -> LoadedSchema:
    schema = _inline(named[name][0], {n: s for n, (s, _) in named.items()}, set())
    canonical = to_parsing_canonical_form(schema)
    return LoadedSchema(
        full_name=name,
        version=version,
        source=source,
        schema=schema,
        parsed=_check_top_level(source, parse_schema(schema, {})),
        canonical=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
    )


def _inline(schema: Any, named: dict[str, dict[str, Any]], seen: set[str]) -> Any:
    """``schema`` with each named type it references defined once, at its first use."""
    if isinstance(schema, str):
        if schema in named and schema not in seen:
            return _inline(named[schema], named, seen)
        return schema
    if isinstance(schema, list):
        return [_inline(branch, named, seen) for branch in schema]
    clean = {k: v for k, v in schema.items() if not k.startswith("__fastavro")}
    kind = clean["type"]
    if kind in _NAMED:
        seen.add(clean["name"])
    if kind in ("record", "error"):
        clean["fields"] = [{**f, "type": _inline(f["type"], named, seen)} for f in clean["fields"]]
    elif kind == "array":
        clean["items"] = _inline(clean["items"], named, seen)
    elif kind == "map":
        clean["values"] = _inline(clean["values"], named, seen)
    return clean


def _aliases(current: dict[str, LoadedSchema]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, loaded in current.items():
        namespace = name.rpartition(".")[0]
        for alias in loaded.schema.get("aliases", ()):
            full = alias if "." in alias or not namespace else f"{namespace}.{alias}"
            result[full] = name
    return result


def _history(root: Path) -> Iterator[Path]:
    folder = root / HISTORY_DIR
    if folder.is_dir():
        yield from sorted(folder.glob("*/*.avsc"))


def _history_entry(
    path: Path,
    root: Path,
    named: dict[str, tuple[dict[str, Any], Path]],
    current: dict[str, LoadedSchema],
    aliases: dict[str, str],
) -> LoadedSchema:
    match = _HISTORY_FILE.fullmatch(path.name)
    if match is None:
        raise CodecError(f"{path}: history files are named v<N>.avsc")
    # Resolve against the current types; the old file's own definitions replace them
    # (fastavro overwrites a name on redefinition), so an old nested type stays old.
    trial = {name: schema for name, (schema, _) in named.items()}
    try:
        top = parse_schema(_read(path), trial, _write_hint=False)
    except (UnknownType, SchemaParseException, ValueError, TypeError, KeyError) as exc:
        raise CodecError(f"{path}: invalid Avro schema: {exc}") from None
    full_name = _check_top_level(path, top)["name"]
    folder = path.parent.name
    if folder not in (full_name, full_name.rpartition(".")[2]):
        raise CodecError(f"{path}: defines {full_name}, but lives under history/{folder}/")
    if full_name not in current and full_name not in aliases:
        raise CodecError(f"{path}: {full_name} has no current schema to be read as")
    resolved = {name: (schema, path) for name, schema in trial.items()}
    return _loaded(full_name, int(match.group(1)), path.relative_to(root), resolved)
