"""Build the payload store and policy from the settings, and make them the process's default.

``configure_process(settings)`` is called once per process by the ``orchestrator`` command as
soon as it has loaded its settings (cli.py), and by the API's lifespan: from then on the
module-level codec functions (``orchestrator.codec.wire.encode_event`` and friends, which the
processor, the gate, the workers and the task bridge use) store and read large payloads. The
store connects on first use only.
"""

from __future__ import annotations

from orchestrator.codec.setup import configure_registry
from orchestrator.payloads.externalizer import Payloads
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.payloads.postgres import PostgresPayloadStore
from orchestrator.settings import Settings

_CONFIGURED: dict[tuple[object, ...], Payloads] = {}


def payloads_from_settings(settings: Settings) -> Payloads:
    """A new ``Payloads``: the Postgres store of the settings and their thresholds."""
    url = settings.payload_store_url or settings.database_url
    store = PostgresPayloadStore(url, settings.payload_store_schema)
    return Payloads(store, PayloadPolicy.from_settings(settings))


def configure_process(settings: Settings, *, register: bool = True) -> Payloads:
    """The process's ``Payloads`` for these settings, installed as the default Wire's (the same
    object for the same settings, so calling it twice opens no second pool); and the schema
    registry of the settings (``register``: registering every schema now, see codec/setup.py)."""
    from orchestrator.codec.wire import set_default_payloads

    url = settings.payload_store_url or settings.database_url
    policy = PayloadPolicy.from_settings(settings)
    key = (
        url,
        settings.payload_store_schema,
        *sorted(policy.thresholds.items()),
        *sorted(policy.maximums.items()),
        policy.record_max,
    )
    payloads = _CONFIGURED.get(key)
    if payloads is None:
        payloads = _CONFIGURED[key] = payloads_from_settings(settings)
    set_default_payloads(payloads)
    configure_registry(settings, register=register)
    return payloads
