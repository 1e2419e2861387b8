"""Rules across settings (checked once every value is valid): each message names the variables
and says what to change."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.settings import Settings

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


def _env(name: str) -> str:
    return "ORCHESTRATOR_" + name.upper()


def check(s: Settings) -> None:
    """Raise ValueError naming the variables of the first rule broken."""
    if s.min_insync_replicas is not None and s.min_insync_replicas > s.replication_factor:
        raise ValueError(
            f"{_env('min_insync_replicas')}: {s.min_insync_replicas} is more than "
            f"{_env('replication_factor')} ({s.replication_factor})"
        )
    for kind in ("workflow_input", "workflow_output", "task_input", "task_output"):
        soft = getattr(s, f"{kind}_payload_threshold_kb")
        hard = getattr(s, f"max_{kind}_payload_kb")
        if soft > hard:
            raise ValueError(
                f"{_env(f'{kind}_payload_threshold_kb')} ({soft}) is more than "
                f"{_env(f'max_{kind}_payload_kb')} ({hard})"
            )
    _kafka_security(s)
    oidc = ("auth_oidc_issuer", "auth_oidc_audience", "auth_oidc_jwks_url")
    given = [getattr(s, name) for name in oidc]
    if any(given) and not all(given):
        missing = ", ".join(_env(n) for n, v in zip(oidc, given, strict=True) if not v)
        raise ValueError(f"{missing}: needed too when OIDC is configured")


def _kafka_security(s: Settings) -> None:
    protocol, mechanism = s.kafka_security_protocol, s.kafka_sasl_mechanism
    sasl = protocol.startswith("SASL_")
    if sasl and mechanism is None:
        raise ValueError(
            f"{_env('kafka_sasl_mechanism')}: needed with {protocol} (one of {', '.join(MECHANISMS)})"
        )
    if mechanism is not None and not sasl:
        raise ValueError(
            f"{_env('kafka_sasl_mechanism')} is set but {_env('kafka_security_protocol')} is "
            f"{protocol}: use SASL_SSL"
        )
    oauth = ("kafka_sasl_oauth_token_url", "kafka_sasl_oauth_client_id",
             "kafka_sasl_oauth_client_secret")  # fmt: skip
    plain = ("kafka_sasl_username", "kafka_sasl_password")
    needed = oauth if mechanism == "OAUTHBEARER" else plain if sasl else ()
    missing = [_env(n) for n in needed if not getattr(s, n)]
    if missing:
        raise ValueError(f"{', '.join(missing)}: needed with {mechanism}")
    if bool(s.kafka_ssl_cert_file) != bool(s.kafka_ssl_key_file):
        raise ValueError(
            f"{_env('kafka_ssl_cert_file')} and {_env('kafka_ssl_key_file')}: set both (a client "
            "certificate and its key) or neither"
        )
