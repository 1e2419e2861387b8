"""The process's schema registry, from the settings (``ORCHESTRATOR_SCHEMA_REGISTRY_URL``).

``configure_registry(settings)`` is called once per process with the payload store
(``orchestrator.payloads.setup.configure_process``): with a URL set, the default Wire writes the
Confluent wire format, and the process registers (or finds) every schema of schemas/ at start,
so that its own records never need the registry again; a registry that cannot be reached is
waited for (logged once), never worked around.
"""

from __future__ import annotations

import logging

from orchestrator.codec.codec import get_codec
from orchestrator.codec.registry import SchemaRegistryUnavailable
from orchestrator.kafka.transient import QuietLog, retry_transient
from orchestrator.settings import Settings

log = logging.getLogger(__name__)
_QUIET = QuietLog(log)
WAIT_AT_START_S = 600.0  # then the process fails (its supervisor starts it again)


def registry_url(settings: Settings) -> str | None:
    url = settings.schema_registry_url
    return str(url).rstrip("/") if url is not None else None


def configure_registry(settings: Settings, *, register: bool = True) -> None:
    from orchestrator.codec.wire import set_default_registry

    url = registry_url(settings)
    set_default_registry(url)
    if url is None or not register:  # not registering: a command that handles no record
        return
    codec = get_codec(settings.schemas_dir, url)
    ids = retry_transient(
        codec.register_all,
        _QUIET,
        f"schema registry {url}",
        transient=lambda exc: isinstance(exc, SchemaRegistryUnavailable),
        deadline_s=WAIT_AT_START_S,
    )
    log.info("schema registry %s: %d record types registered", url, len(ids))
