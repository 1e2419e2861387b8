"""The external payload store: a small interface, content-addressed (put -> reference, get).

A payload is the UTF-8 JSON text of one value (a workflow input, a task output...). Its
reference is ``sha256:<hex digest of the bytes>``, computed here for every store, so that:

- storing the same bytes twice is harmless (the processor re-emits identical records after a
  crash, docs/adr/0003; a re-emitted record references the very same payload), and
- a reference read back from the log can be checked against the bytes a store returns.

Stores: ``PostgresPayloadStore`` (postgres.py, the default: the Postgres every deployment
already runs) and ``MemoryPayloadStore`` (tests; the contract tests run against both). An
S3-compatible store would implement the same three methods; see docs/adr/0011.

Errors: ``PayloadUnavailable`` is transient (the store cannot be reached: retry, never
dead-letter), ``PayloadNotFound`` is permanent (no such payload, or bytes that do not match
their reference).
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Protocol

REF_PREFIX = "sha256:"
_REF = re.compile(r"sha256:[0-9a-f]{64}")


class PayloadStoreError(Exception):
    """Base of the store's errors."""


class PayloadUnavailable(PayloadStoreError):
    """The store cannot be reached or refused the operation: transient, retry later."""


class PayloadNotFound(PayloadStoreError):
    """No payload under this reference (or bytes that do not match it): permanent."""


def content_ref(data: bytes) -> str:
    """The reference of ``data``: ``sha256:`` and the hex digest of the bytes."""
    return REF_PREFIX + hashlib.sha256(data).hexdigest()


def is_ref(ref: object) -> bool:
    return isinstance(ref, str) and _REF.fullmatch(ref) is not None


def checked(ref: str, data: bytes) -> bytes:
    """``data`` if it is what ``ref`` names, else PayloadNotFound (corrupt or wrong bytes)."""
    if content_ref(data) != ref:
        raise PayloadNotFound(f"payload {ref}: the stored bytes do not match their reference")
    return data


class PayloadStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data`` (idempotent) and return its reference."""
        ...

    def get(self, ref: str) -> bytes:
        """The bytes stored under ``ref``; PayloadNotFound / PayloadUnavailable."""
        ...

    def close(self) -> None: ...


class MemoryPayloadStore:
    """A dict behind the store interface, for tests. ``fail`` simulates an outage."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.fail: str | None = None
        self.puts = 0
        self.gets = 0

    def put(self, data: bytes) -> str:
        if self.fail:
            raise PayloadUnavailable(self.fail)
        ref = content_ref(data)
        with self._lock:
            self.puts += 1
            self._data.setdefault(ref, bytes(data))
        return ref

    def get(self, ref: str) -> bytes:
        if self.fail:
            raise PayloadUnavailable(self.fail)
        with self._lock:
            self.gets += 1
            found = self._data.get(ref)
        if found is None:
            raise PayloadNotFound(f"no payload {ref} in the store")
        return checked(ref, found)

    def close(self) -> None:
        return None
