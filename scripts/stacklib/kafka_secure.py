"""A secured local broker (``make stack-up KAFKA_SECURITY=sasl_ssl``): no plaintext listener.

- ``SASL_SSL`` on the broker port: TLS with the stack's own CA (stacklib/tls.py), then SASL
  PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 as user ``orchestrator`` (password generated once);
  a client certificate is accepted too (``ssl.client.auth=requested``).
- ``SSL`` on ``kafka_ssl_port``: mutual TLS, the client certificate is the authentication.
- the controller listener speaks TLS and requires a certificate signed by the CA.

The SCRAM credentials are written into the storage when it is formatted, so a stack formatted
for plaintext must be reset (``make stack-reset``) before it can start secured.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from .common import Settings, StackError
from .tls import Pki, ensure_pki

USER = "orchestrator"
MECHANISM = "SCRAM-SHA-512"


def pki(settings: Settings) -> Pki:
    return ensure_pki(settings.state_dir / "kafka" / "tls")


def credentials(settings: Settings) -> dict[str, str]:
    """The SASL users and passwords of the stack, generated once and kept (mode 0600)."""
    path = settings.state_dir / "kafka" / "sasl.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    found = {"broker": secrets.token_urlsafe(18), USER: secrets.token_urlsafe(18)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(found))
    path.chmod(0o600)
    return found


def server_properties(settings: Settings, data: Path) -> str:
    port, ctl, ssl_port = settings.kafka_port, settings.controller_port, settings.kafka_ssl_port
    tls = pki(settings)
    users = credentials(settings)
    plain_users = " ".join(f'user_{name}="{pw}"' for name, pw in users.items())
    plain = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="broker" password="{users["broker"]}" {plain_users};'
    )
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    return f"""# Written by scripts/stack.py on every start (secured: {settings.kafka_security}).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{ctl}
listeners=SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port},CONTROLLER://127.0.0.1:{ctl}
advertised.listeners=SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL,SSL:SSL
ssl.keystore.type=PEM
ssl.keystore.location={tls.server_bundle}
ssl.truststore.type=PEM
ssl.truststore.location={tls.ca}
ssl.client.auth=requested
listener.name.ssl.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512{",OAUTHBEARER" if oauth(settings) else ""}
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config={plain}
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={scram}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram}
{_oauth_properties(settings)}log.dirs={data}
{COMMON}"""


def oauth(settings: Settings) -> bool:
    return bool(settings.kafka_oauth_jwks_url)


def _oauth_properties(settings: Settings) -> str:
    """OAUTHBEARER on the SASL_SSL listener: tokens signed by the issuer's JWKS keys, for the
    audience, checked by Kafka's own validator (jose4j)."""
    if not oauth(settings):
        return ""
    prefix = "listener.name.sasl_ssl.oauthbearer."
    return (
        f"{prefix}sasl.jaas.config="
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;\n"
        f"{prefix}sasl.server.callback.handler.class="
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler\n"
        f"sasl.oauthbearer.jwks.endpoint.url={settings.kafka_oauth_jwks_url}\n"
        f"sasl.oauthbearer.expected.issuer={settings.kafka_oauth_issuer}\n"
        f"sasl.oauthbearer.expected.audience={settings.kafka_oauth_audience}\n"
    )


def jvm_options(settings: Settings) -> list[str]:
    """Kafka fetches only the OAuth URLs this system property allows (CVE-2025-27817)."""
    if not oauth(settings):
        return []
    return [f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={settings.kafka_oauth_jwks_url}"]


COMMON = """num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
"""


def format_args(settings: Settings) -> list[str]:
    """StorageTool arguments that store the SCRAM credentials at format time."""
    password = credentials(settings)[USER]
    return [
        arg
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
        for arg in ("--add-scram", f"{mechanism}=[name={USER},password={password}]")
    ]


def check_formatted_for(settings: Settings, formatted: Path) -> None:
    """A storage formatted for one security mode cannot start in the other (no SCRAM users)."""
    mark = formatted / "security.mode"
    if not (formatted / "meta.properties").exists():
        return
    was = mark.read_text().strip() if mark.exists() else "plaintext"
    if was != settings.kafka_security:
        raise StackError(
            f"Kafka's storage was formatted for {was}, not {settings.kafka_security}: "
            "run `make stack-reset` first (it deletes the stack's data)"
        )


def env_lines(settings: Settings) -> str:
    tls = pki(settings)
    password = credentials(settings)[USER]
    return (
        "export ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n"
        f"export ORCHESTRATOR_KAFKA_SASL_MECHANISM={MECHANISM}\n"
        f"export ORCHESTRATOR_KAFKA_SASL_USERNAME={USER}\n"
        f"export ORCHESTRATOR_KAFKA_SASL_PASSWORD={password}\n"
        f"export ORCHESTRATOR_KAFKA_SSL_CA_FILE={tls.ca}\n"
    )
