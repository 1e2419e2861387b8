"""Secrets for ``${workflow.secrets.NAME}``: looked up only when a task is handed to its worker.

Design rule 6: secrets never enter the log. The engine leaves the placeholders verbatim in
events and dispatches; the worker runtime resolves them right before calling the function
(:func:`resolve_task_secrets`) and redacts the values from whatever it reports back
(:func:`redact`).

Where a secret comes from, first match wins:

1. the environment variable ``ORCHESTRATOR_SECRET_<NAME>`` (exact name, then upper case with
   every character outside [A-Za-z0-9_] replaced by "_": ``db-password`` ->
   ``ORCHESTRATOR_SECRET_DB_PASSWORD``);
2. the file of the ``SECRETS_FILE`` setting: a JSON object ``{"NAME": "value", ...}`` (a file
   ending in .json or starting with "{"), or ``.env`` lines ``NAME=value`` (``export`` prefix,
   quotes and ``#`` comments allowed). The file is re-read when its modification time changes,
   so a rotated secret is picked up without a restart.

Secret values are text. A JSON value in the file that is not a string is kept as its JSON text,
so ``${workflow.secrets.db.host}`` can read a field of a JSON secret.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.domain.expressions import has_secrets, resolve_secrets

ENV_PREFIX = "ORCHESTRATOR_SECRET_"
REDACTED = "***"
# Shorter values are not redacted inside text: "1" or "on" would mangle every report.
_MIN_REDACT_LENGTH = 4


class SecretsFileError(ValueError):
    """The secrets file cannot be read or parsed (the message never holds a value)."""


class MissingSecrets(LookupError):
    """A task refers to secrets that are not configured."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(sorted(set(names)))
        listed = ", ".join(repr(n) for n in self.names)
        hint = ", ".join(env_var_for(n) for n in self.names)
        super().__init__(
            f"secret(s) {listed} not configured: set {hint} or add to the SECRETS_FILE"
        )


def env_var_for(name: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


class SecretProvider:
    """Secret lookup from the environment and an optional file. Thread-safe."""

    def __init__(self, file: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._file = file
        self._environ = os.environ if environ is None else environ
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._values: dict[str, str] = {}
        if file is not None:
            self._reload()  # fail at start, not at the first task, when the file is bad

    @classmethod
    def from_settings(cls, settings: Any) -> SecretProvider:
        return cls(settings.secrets_file)

    def get(self, name: str) -> str | None:
        value = self._environ.get(ENV_PREFIX + name)
        if value is None:
            value = self._environ.get(env_var_for(name))
        if value is not None:
            return value
        if self._file is None:
            return None
        with self._lock:
            self._reload_if_changed()
            return self._values.get(name)

    __call__ = get

    def _reload_if_changed(self) -> None:
        try:
            mtime = self._file.stat().st_mtime if self._file else None
        except OSError:
            mtime = None
        if mtime != self._mtime:
            self._reload()

    def _reload(self) -> None:
        assert self._file is not None
        try:
            text = self._file.read_text(encoding="utf-8")
            self._mtime = self._file.stat().st_mtime
        except OSError as exc:
            raise SecretsFileError(
                f"cannot read secrets file {self._file}: {exc.strerror}"
            ) from None
        self._values = parse_secrets_file(text, self._file.suffix == ".json")


def parse_secrets_file(text: str, is_json: bool = False) -> dict[str, str]:
    if is_json or text.lstrip().startswith("{"):
        return _parse_json(text)
    return _parse_dotenv(text)


def _parse_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        # The message of a JSON error quotes no input, only its position.
        raise SecretsFileError(f"secrets file is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SecretsFileError("secrets file must hold a JSON object {name: value}")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def _parse_dotenv(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip():
            raise SecretsFileError(f"secrets file line {number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


@dataclass(frozen=True, slots=True)
class Resolved:
    """A task input with its secrets substituted, and the values to redact from reports."""

    value: Any
    secrets: tuple[str, ...]


def resolve_task_secrets(value: Any, lookup: Callable[[str], str | None]) -> Resolved:
    """``value`` with every ``${workflow.secrets.NAME}`` resolved; raises MissingSecrets."""
    if not has_secrets(value):
        return Resolved(value, ())
    used: list[str] = []
    missing: list[str] = []

    def tracking(name: str) -> str | None:
        secret = lookup(name)
        if secret is None:
            missing.append(name)
        else:
            used.append(secret)
        return secret

    resolved = resolve_secrets(value, tracking)
    if missing:
        raise MissingSecrets(missing)
    return Resolved(resolved, tuple(used))


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every occurrence of a secret (and of its JSON fields) replaced by ***."""
    needles = sorted(_needles(secrets), key=len, reverse=True)
    if not needles:
        return value
    return _redact(value, needles)


def _needles(secrets: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for secret in secrets:
        if len(secret) >= _MIN_REDACT_LENGTH:
            found.add(secret)
        try:  # a JSON secret: its string fields may have been used one by one
            document = json.loads(secret)
        except ValueError:
            continue
        found.update(_strings(document))
    return {s for s in found if len(s) >= _MIN_REDACT_LENGTH}


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _redact(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, dict):
        return {_redact(k, needles): _redact(v, needles) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, needles) for v in value)
    return value
