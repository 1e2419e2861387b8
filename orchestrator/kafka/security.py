"""How every Kafka client of the project reaches the cluster: bootstrap servers and security.

``KafkaAccess`` is the one value the client builders of orchestrator/kafka/clients.py take
(``Settings`` is accepted and turned into one): the bootstrap servers, and TLS (a CA, a client
certificate for mutual TLS) and SASL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER with an OIDC
client-credentials token endpoint) as librdkafka properties for confluent-kafka clients and as
faust credentials for the processor's faust app (aiokafka). There is no other way to build a
client here: a bare bootstrap string is refused, so no client can silently skip TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka.abc import AbstractTokenProvider

if TYPE_CHECKING:
    from orchestrator.settings import Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = field(default=None, repr=False)
    check_hostname: bool = True
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    oauth_token_url: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = field(default=None, repr=False)
    oauth_scope: str | None = None

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def librdkafka(self) -> dict[str, Any]:
        """The confluent-kafka (librdkafka) properties."""
        props: dict[str, Any] = {"security.protocol": self.protocol.lower()}
        if self.tls:
            optional = {
                "ssl.ca.location": self.ca_file,
                "ssl.certificate.location": self.cert_file,
                "ssl.key.location": self.key_file,
                "ssl.key.password": self.key_password,
            }
            props.update({k: v for k, v in optional.items() if v})
            props["ssl.endpoint.identification.algorithm"] = (
                "https" if self.check_hostname else "none"
            )
        if self.sasl:
            props["sasl.mechanism"] = self.sasl_mechanism
            if self.sasl_mechanism == "OAUTHBEARER":
                props["sasl.oauthbearer.method"] = "oidc"
                props["sasl.oauthbearer.token.endpoint.url"] = self.oauth_token_url
                props["sasl.oauthbearer.client.id"] = self.oauth_client_id
                props["sasl.oauthbearer.client.secret"] = self.oauth_client_secret
                if self.oauth_scope:
                    props["sasl.oauthbearer.scope"] = self.oauth_scope
            else:
                props["sasl.username"] = self.sasl_username
                props["sasl.password"] = self.sasl_password
        return props

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of aiokafka (faust): the CA, the client certificate, hostname check."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file, self.key_password)
        context.check_hostname = self.check_hostname
        return context

    def faust_credentials(self) -> Any:
        """``broker_credentials`` of a faust App (None: plaintext)."""
        import faust

        context = self.ssl_context() if self.tls else None
        if not self.sasl:
            return faust.SSLCredentials(context) if context is not None else None
        if self.sasl_mechanism == "OAUTHBEARER":
            return faust.OAuthCredentials(oauth_cb=OidcTokenProvider(self), ssl_context=context)
        return faust.SASLCredentials(
            username=self.sasl_username,
            password=self.sasl_password,
            ssl_context=context,
            mechanism=self.sasl_mechanism,
        )


@dataclass(frozen=True, slots=True)
class KafkaAccess:
    """Where the cluster is and how to authenticate to it."""

    bootstrap: str
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    def client_config(self, **props: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, **self.security.librdkafka(), **props}


def kafka_access(settings: Settings) -> KafkaAccess:
    s = settings
    secret = _secret_value
    return KafkaAccess(
        s.kafka_bootstrap,
        KafkaSecurity(
            protocol=s.kafka_security_protocol,
            ca_file=_path(s.kafka_ssl_ca_file),
            cert_file=_path(s.kafka_ssl_cert_file),
            key_file=_path(s.kafka_ssl_key_file),
            key_password=secret(s.kafka_ssl_key_password),
            check_hostname=s.kafka_ssl_check_hostname,
            sasl_mechanism=s.kafka_sasl_mechanism,
            sasl_username=s.kafka_sasl_username,
            sasl_password=secret(s.kafka_sasl_password),
            oauth_token_url=s.kafka_sasl_oauth_token_url,
            oauth_client_id=s.kafka_sasl_oauth_client_id,
            oauth_client_secret=secret(s.kafka_sasl_oauth_client_secret),
            oauth_scope=s.kafka_sasl_oauth_scope,
        ),
    )


def access_of(kafka: Any) -> KafkaAccess:
    """``kafka`` (Settings or KafkaAccess) as a KafkaAccess; a bare string is a bug."""
    if isinstance(kafka, KafkaAccess):
        return kafka
    if isinstance(kafka, str):
        raise TypeError(
            "a Kafka client needs settings or a KafkaAccess (security included), not the "
            f"bootstrap string {kafka!r}"
        )
    return kafka_access(kafka)


def _path(value: Any) -> str | None:
    return str(value) if value else None


def _secret_value(value: Any) -> str | None:
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal() if reveal else value)


class OidcTokenProvider(AbstractTokenProvider):  # type: ignore[misc]  # aiokafka is untyped
    """aiokafka's OAUTHBEARER token provider (faust): an OIDC client-credentials token,
    fetched from the token endpoint, reused until a minute before it expires. librdkafka
    clients do the same by themselves (``sasl.oauthbearer.method=oidc``)."""

    def __init__(self, security: KafkaSecurity) -> None:
        self._security = security
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() > self._expires - 60:
                self._token, lifetime = await self._fetch()
                self._expires = time.monotonic() + lifetime
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        import httpx

        s = self._security
        form: Mapping[str, str] = {"grant_type": "client_credentials"}
        if s.oauth_scope:
            form = {**form, "scope": s.oauth_scope}
        auth = (s.oauth_client_id or "", s.oauth_client_secret or "")
        async with httpx.AsyncClient(timeout=10, verify=s.ca_file or True) as client:
            response = await client.post(s.oauth_token_url or "", data=form, auth=auth)
        response.raise_for_status()
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 300))

    def extensions(self) -> dict[str, str]:
        return {}
