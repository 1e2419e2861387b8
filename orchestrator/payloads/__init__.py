"""Large payloads, Conductor's way: external payload storage (docs/adr/0011).

- ``store.py``: the store interface (put -> content reference, get) and its errors;
  ``postgres.py``: the default store, one table in its own schema.
- ``limits.py``: soft thresholds, hard maximums and the record limit (``PayloadPolicy``,
  ``PayloadKind``, ``PayloadTooLarge``).
- ``externalizer.py``: ``Payloads``, what the codec (orchestrator/codec/wire_payloads.py) uses.
- ``setup.py``: built from the settings; ``configure_process`` installs them for the process.
"""

from orchestrator.payloads.externalizer import Payloads
from orchestrator.payloads.limits import PayloadKind, PayloadPolicy, PayloadTooLarge
from orchestrator.payloads.store import (
    MemoryPayloadStore,
    PayloadNotFound,
    PayloadStore,
    PayloadStoreError,
    PayloadUnavailable,
)

__all__ = [
    "MemoryPayloadStore",
    "PayloadKind",
    "PayloadNotFound",
    "PayloadPolicy",
    "PayloadStore",
    "PayloadStoreError",
    "PayloadTooLarge",
    "PayloadUnavailable",
    "Payloads",
]
