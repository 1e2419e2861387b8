"""The ``sort`` parameter: ``field[:ASC|DESC]`` items separated by ',' or '|'.

Conductor splits its sort string on '|' and Spring joins repeated ``sort`` parameters with ',',
so both separators are accepted; the direction defaults to ASC, as Conductor's docs say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.api.search.errors import QueryError
from orchestrator.api.search.fields import Field

_ITEM = re.compile(r"[^,|]+")


@dataclass(frozen=True, slots=True)
class SortKey:
    field: Field
    descending: bool


def parse_sort(text: str | None, fields: dict[str, Field]) -> tuple[SortKey, ...]:
    if text is None or not text.strip():
        return ()
    keys = []
    for match in _ITEM.finditer(text):
        item = match.group()
        if not item.strip():
            continue
        name, _, direction = item.partition(":")
        name_pos = match.start() + len(item) - len(item.lstrip())
        field = fields.get(name.strip())
        if field is None:
            expected = f"a sort field ({', '.join(fields)})"
            raise QueryError(name_pos, expected, repr(name.strip()), what="sort")
        order = direction.strip().upper() or "ASC"
        if order not in ("ASC", "DESC"):
            pos = match.start() + len(name) + 1
            raise QueryError(pos, "ASC or DESC after ':'", repr(direction.strip()), what="sort")
        keys.append(SortKey(field, order == "DESC"))
    return tuple(keys)
