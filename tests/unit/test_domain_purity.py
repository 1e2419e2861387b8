"""The pure core stays pure (design rule 1, ADR 0001).

Every module under orchestrator/domain/ is scanned (AST, not imported): no I/O library, no
clock, no randomness, no environment. uuid5 and hashlib are allowed (deterministic ids).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "orchestrator" / "domain"

FORBIDDEN_MODULES = {
    "confluent_kafka": "Kafka client",
    "faust": "stream runtime",
    "aiokafka": "Kafka client",
    "fastavro": "wire encoding (belongs in orchestrator/codec)",
    "psycopg": "database",
    "psycopg2": "database",
    "fastapi": "HTTP edge",
    "starlette": "HTTP edge",
    "quickjs": "script engine (reach it through a port)",
    "_quickjs": "script engine (reach it through a port)",
    "jq": "script engine (reach it through a port)",
    "httpx": "network I/O",
    "requests": "network I/O",
    "urllib.request": "network I/O",
    "socket": "network I/O",
    "time": "reads the clock (time arrives on the command)",
    "random": "randomness (derive from ids instead)",
    "secrets": "randomness",
    "threading": "concurrency belongs to the runtime",
    "asyncio": "concurrency belongs to the runtime",
    "orchestrator.codec": "wire encoding",
    "orchestrator.kafka": "Kafka adapter",
    "orchestrator.engine": "runtime shell",
    "orchestrator.api": "HTTP edge",
    "orchestrator.settings": "process configuration (reads the environment)",
}
# datetime/date methods that read the clock ("ctx.now" holding an input time is fine).
CLOCK_METHODS = {"now", "utcnow", "today"}
CLOCK_TYPES = {"datetime", "date"}
# Attribute or imported names that read randomness or the environment, whatever they hang off.
FORBIDDEN_NAMES = {
    "uuid1": "random/clock-based id (use uuid5)",
    "uuid4": "random id (use uuid5)",
    "environ": "reads the environment",
    "getenv": "reads the environment",
    "urandom": "randomness",
}


def violations(source: str, filename: str) -> list[str]:
    """``file:line: what`` for every impurity in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        for module in _imported_modules(node):
            reason = _forbidden_module(module)
            if reason:
                found.append(f"{filename}:{node.lineno}: imports {module} ({reason})")
        for name in _used_names(node):
            if name in FORBIDDEN_NAMES:
                found.append(f"{filename}:{node.lineno}: uses {name} ({FORBIDDEN_NAMES[name]})")
            elif "." in name:
                found.append(f"{filename}:{node.lineno}: uses {name} (reads the clock)")
    return found


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        # "from urllib import request" imports urllib.request.
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def _forbidden_module(module: str) -> str | None:
    for banned, reason in FORBIDDEN_MODULES.items():
        if module == banned or module.startswith(banned + "."):
            return reason
    return None


def _used_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Attribute):
        if node.attr in CLOCK_METHODS and _clock_type(node.value):
            return [f"{_clock_type(node.value)}.{node.attr}"]
        return [node.attr]
    if isinstance(node, ast.ImportFrom):
        return [alias.name for alias in node.names]
    return []


def _clock_type(value: ast.AST) -> str | None:
    """The clock type a method hangs off: ``datetime``, ``datetime.datetime``, ``dt.date``..."""
    name = value.id if isinstance(value, ast.Name) else getattr(value, "attr", None)
    return name if name in CLOCK_TYPES else None


def domain_modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_domain_folder_has_modules() -> None:
    assert any(p.name == "definitions.py" for p in domain_modules())


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_module_is_pure(path: Path) -> None:
    problems = violations(
        path.read_text(encoding="utf-8"), f"orchestrator/domain/{path.relative_to(DOMAIN)}"
    )
    assert not problems, "impure domain code:\n  " + "\n  ".join(problems)


# --- the scanner itself catches what it claims to ---------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import time", "imports time"),
        ("import confluent_kafka.admin", "imports confluent_kafka.admin"),
        ("from fastavro import schemaless_writer", "imports fastavro"),
        ("from urllib import request", "imports urllib.request"),
        ("import psycopg", "imports psycopg"),
        ("from orchestrator.kafka.topics import task_topic", "imports orchestrator.kafka.topics"),
        ("from datetime import datetime\nx = datetime.now()", "uses datetime.now"),
        ("import datetime\nx = datetime.datetime.utcnow()", "uses datetime.utcnow"),
        ("import datetime\nx = datetime.date.today()", "uses date.today"),
        ("import uuid\nx = uuid.uuid4()", "uses uuid4"),
        ("from uuid import uuid4", "uses uuid4"),
        ("import os\nx = os.environ['X']", "uses environ"),
        ("from os import getenv", "uses getenv"),
        ("import random\nrandom.random()", "imports random"),
    ],
)
def test_scanner_flags_impurity_with_file_and_line(source: str, expected: str) -> None:
    problems = violations(source, "m.py")
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("m.py:") for p in problems)


def test_scanner_allows_deterministic_tools() -> None:
    source = (
        "import hashlib\nimport uuid\nfrom datetime import datetime, timezone\n"
        "x = uuid.uuid5(uuid.NAMESPACE_URL, 'a')\n"
        "h = hashlib.sha256(b'a').hexdigest()\n"
        "d = datetime(2024, 1, 1, tzinfo=timezone.utc)\n"
        "t = ctx.now\n"
    )
    assert violations(source, "m.py") == []
