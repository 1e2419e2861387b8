"""``Payloads``: a payload store and the size policy, as the codec uses them.

The codec (orchestrator/codec/wire_payloads.py) asks ``threshold(kind)``, hands the JSON text of
a payload to ``store_text`` (which returns its reference and size) and gets a reference's text
back from ``load_text``. References this process stored or read are remembered (bounded), so a
payload that goes in and out again (a worker's result the processor re-emits in TaskCompleted)
is not written a second time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from orchestrator.payloads.limits import PayloadKind, PayloadPolicy
from orchestrator.payloads.store import PayloadNotFound, PayloadStore, content_ref

KNOWN_REFS = 8192  # references remembered as present in the store


class Payloads:
    def __init__(self, store: PayloadStore, policy: PayloadPolicy) -> None:
        self.store = store
        self.policy = policy
        self._known: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def threshold(self, kind: PayloadKind) -> int:
        return self.policy.thresholds[kind]

    @property
    def record_max(self) -> int:
        return self.policy.record_max

    def store_text(self, text: str) -> tuple[str, int]:
        """(reference, size in bytes) of ``text`` after storing it (idempotent)."""
        data = text.encode("utf-8")
        ref = content_ref(data)
        if not self._seen(ref):
            stored = self.store.put(data)
            if stored != ref:  # a store must address by content, or re-emission breaks
                raise PayloadNotFound(f"store answered {stored} for payload {ref}")
            self._remember(ref)
        return ref, len(data)

    def load_text(self, ref: str) -> str:
        """The JSON text stored under ``ref`` (PayloadNotFound / PayloadUnavailable)."""
        data = self.store.get(ref)
        self._remember(ref)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadNotFound(f"payload {ref} is not UTF-8 text: {exc}") from None

    def close(self) -> None:
        self.store.close()

    def _seen(self, ref: str) -> bool:
        with self._lock:
            if ref in self._known:
                self._known.move_to_end(ref)
                return True
            return False

    def _remember(self, ref: str) -> None:
        with self._lock:
            self._known[ref] = None
            self._known.move_to_end(ref)
            while len(self._known) > KNOWN_REFS:
                self._known.popitem(last=False)
