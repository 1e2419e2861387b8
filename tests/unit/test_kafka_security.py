"""Kafka security from settings to every client: librdkafka properties, faust credentials, the
OAUTHBEARER token provider, and the rule that no client is built around them.

The same settings against a real SASL_SSL broker: tests/e2e/test_kafka_sasl_ssl.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import faust
import pytest

from orchestrator.kafka.clients import client_config, consumer_config, producer_config
from orchestrator.kafka.security import KafkaAccess, KafkaSecurity, OidcTokenProvider, access_of
from orchestrator.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]
SCRAM = {
    "ORCHESTRATOR_KAFKA_BOOTSTRAP": "broker-1:9093,broker-2:9093",
    "ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "ORCHESTRATOR_KAFKA_SASL_MECHANISM": "scram-sha-512",
    "ORCHESTRATOR_KAFKA_SASL_USERNAME": "orchestrator",
    "ORCHESTRATOR_KAFKA_SASL_PASSWORD": "s3cret",
}


def test_plaintext_is_the_default_and_adds_no_tls_or_sasl() -> None:
    config = client_config(load_settings(environ={}))
    assert config["bootstrap.servers"] == "127.0.0.1:19092"
    assert config["security.protocol"] == "plaintext"
    assert not [k for k in config if k.startswith(("ssl.", "sasl."))]


def test_sasl_ssl_with_scram_reaches_every_kind_of_client() -> None:
    settings = load_settings(environ=SCRAM)
    for config in (
        client_config(settings),
        producer_config(settings),
        consumer_config(settings, "g"),
    ):
        assert config["bootstrap.servers"] == "broker-1:9093,broker-2:9093"
        assert config["security.protocol"] == "sasl_ssl"
        assert config["sasl.mechanism"] == "SCRAM-SHA-512"
        assert (config["sasl.username"], config["sasl.password"]) == ("orchestrator", "s3cret")
        assert config["ssl.endpoint.identification.algorithm"] == "https"


def test_mutual_tls_uses_the_ca_the_client_certificate_and_its_key(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in files.values():
        path.write_text("-----BEGIN-----\n")
    settings = load_settings(
        environ={
            "ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL": "SSL",
            "ORCHESTRATOR_KAFKA_SSL_CA_FILE": str(files["ca"]),
            "ORCHESTRATOR_KAFKA_SSL_CERT_FILE": str(files["cert"]),
            "ORCHESTRATOR_KAFKA_SSL_KEY_FILE": str(files["key"]),
            "ORCHESTRATOR_KAFKA_SSL_KEY_PASSWORD": "kp",
            "ORCHESTRATOR_KAFKA_SSL_CHECK_HOSTNAME": "false",
        }
    )
    config = client_config(settings)
    assert config["security.protocol"] == "ssl"
    assert config["ssl.ca.location"] == str(files["ca"])
    assert config["ssl.certificate.location"] == str(files["cert"])
    assert config["ssl.key.location"] == str(files["key"])
    assert config["ssl.key.password"] == "kp"
    assert config["ssl.endpoint.identification.algorithm"] == "none"
    assert "sasl.mechanism" not in config


def test_oauthbearer_uses_librdkafkas_oidc_client_credentials() -> None:
    settings = load_settings(
        environ={
            "ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ORCHESTRATOR_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "ORCHESTRATOR_KAFKA_SASL_OAUTH_TOKEN_URL": "https://idp.example/token",
            "ORCHESTRATOR_KAFKA_SASL_OAUTH_CLIENT_ID": "orchestrator",
            "ORCHESTRATOR_KAFKA_SASL_OAUTH_CLIENT_SECRET": "cs",
            "ORCHESTRATOR_KAFKA_SASL_OAUTH_SCOPE": "kafka",
        }
    )
    config = client_config(settings)
    assert config["sasl.mechanism"] == "OAUTHBEARER"
    assert config["sasl.oauthbearer.method"] == "oidc"
    assert config["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/token"
    assert config["sasl.oauthbearer.client.id"] == "orchestrator"
    assert config["sasl.oauthbearer.client.secret"] == "cs"
    assert config["sasl.oauthbearer.scope"] == "kafka"
    assert "sasl.password" not in config


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM: needed"),
        ({"ORCHESTRATOR_KAFKA_SASL_MECHANISM": "PLAIN"}, "but ORCHESTRATOR_KAFKA_SECURITY"),
        (
            {**SCRAM, "ORCHESTRATOR_KAFKA_SASL_PASSWORD": ""},
            "ORCHESTRATOR_KAFKA_SASL_PASSWORD: needed with SCRAM-SHA-512",
        ),
        ({"ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL": "TLS"}, "expected one of PLAINTEXT, SSL"),
        ({"ORCHESTRATOR_KAFKA_SSL_CA_FILE": "/no/such/ca.pem"}, "no such file: /no/such/ca.pem"),
        ({"ORCHESTRATOR_KAFKA_SASL_MECHANISM": "KERBEROS"}, "KAFKA_SASL_MECHANISM: expected"),
    ],
)
def test_an_incomplete_security_setting_is_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(environ=environ)


def test_secrets_are_masked_in_the_settings_listing() -> None:
    rows = {name: value for name, value, _ in load_settings(environ=SCRAM).describe()}
    assert rows["ORCHESTRATOR_KAFKA_SASL_PASSWORD"] == "***"
    assert "s3cret" not in repr(load_settings(environ=SCRAM))
    assert "s3cret" not in repr(access_of(load_settings(environ=SCRAM)))


def test_a_bare_bootstrap_string_is_refused() -> None:
    with pytest.raises(TypeError, match="not the bootstrap string"):
        producer_config("127.0.0.1:19092")  # type: ignore[arg-type]


def test_faust_gets_the_same_security_as_every_other_client() -> None:
    assert KafkaSecurity().faust_credentials() is None
    scram = access_of(load_settings(environ=SCRAM)).security.faust_credentials()
    assert isinstance(scram, faust.SASLCredentials)
    assert (scram.username, scram.password) == ("orchestrator", "s3cret")
    assert scram.mechanism.value == "SCRAM-SHA-512" and scram.ssl_context is not None
    tls = KafkaSecurity(protocol="SSL").faust_credentials()
    assert isinstance(tls, faust.SSLCredentials)
    oauth = KafkaSecurity(
        protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER", oauth_token_url="http://x/t"
    ).faust_credentials()
    assert isinstance(oauth, faust.OAuthCredentials)
    assert isinstance(oauth.oauth_cb, OidcTokenProvider)


def test_no_module_builds_a_kafka_client_by_hand() -> None:
    """Every client's configuration comes from kafka/clients.py (which takes security from
    kafka/security.py): the bootstrap.servers property appears nowhere else."""
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("orchestrator", "projections")
        for path in (REPO / folder).rglob("*.py")
        if '"bootstrap.servers"' in path.read_text() and path.name != "security.py"
    ]
    assert offenders == []


class _TokenEndpoint(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).calls.append({"body": body, "auth": self.headers.get("Authorization")})
        answer = json.dumps({"access_token": f"tok-{len(self.calls)}", "expires_in": 3600})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_the_oauthbearer_token_provider_fetches_once_and_reuses_the_token() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider = OidcTokenProvider(
            KafkaSecurity(
                protocol="SASL_PLAINTEXT",
                sasl_mechanism="OAUTHBEARER",
                oauth_token_url=f"http://127.0.0.1:{server.server_address[1]}/token",
                oauth_client_id="orchestrator",
                oauth_client_secret="cs",
                oauth_scope="kafka",
            )
        )

        async def twice() -> list[str]:
            return [await provider.token(), await provider.token()]

        assert asyncio.run(twice()) == ["tok-1", "tok-1"]
        [call] = _TokenEndpoint.calls
        assert "grant_type=client_credentials" in call["body"] and "scope=kafka" in call["body"]
        assert call["auth"].startswith("Basic ")  # client id and secret
    finally:
        server.shutdown()
        server.server_close()


def test_kafka_access_of_another_cluster_is_plaintext_unless_told() -> None:
    assert KafkaAccess("other:9092").client_config()["security.protocol"] == "plaintext"
