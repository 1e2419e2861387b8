"""A workflow end to end over a broker that speaks only SASL_SSL (no plaintext listener).

The module starts its own broker with the project's script (``scripts/stack.py up --kafka-only
--kafka-security sasl_ssl``: a CA made with openssl, TLS, SCRAM-SHA-512 users), on free ports
and in a temporary state folder, apart from the shared stack. Every process then gets only the
settings that script writes (``ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL`` ...): processor, gate,
projector, API (with its HTTP poll bridge), a Kafka SDK worker, the system executors and the
event handlers. The
workflow goes through each of them: a gated task done by the SDK worker, a task polled over
HTTP, an EVENT task publishing to a Kafka sink. Then every client of every process has
connected: the broker's own log must show no failed authentication, until the test's own
plaintext and wrong-password probes add theirs. The broker also takes OAUTHBEARER tokens of an
OIDC provider the test runs (client credentials, RS256, its JWKS): librdkafka fetches them
itself, the processor's faust app (aiokafka) through OidcTokenProvider.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from confluent_kafka import TopicPartition
from cryptography.hazmat.primitives.asymmetric import rsa

from orchestrator.kafka.clients import new_admin, new_reader
from orchestrator.kafka.security import KafkaAccess, kafka_access
from orchestrator.settings import load_settings
from tests import readmodel_support as support
from tests.auth_support import bearer, new_key

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "stack.py"
FAILED_AUTH = re.compile(r"Failed authentication with")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SecuredBroker:
    state: Path
    env: dict[str, str]  # ORCHESTRATOR_* as the script wrote them
    ports: dict[str, int]

    @property
    def log(self) -> Path:
        return self.state / "logs" / "kafka.log"

    def failed_authentications(self) -> list[str]:
        return [
            ln for ln in self.log.read_text(errors="replace").splitlines() if FAILED_AUTH.search(ln)
        ]


def _stack(command: str, env: dict[str, str], *extra: str) -> None:
    done = subprocess.run(
        [sys.executable, str(STACK), command, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"stack.py {command} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def idp() -> Iterator[Idp]:
    """An OIDC provider for OAUTHBEARER: client credentials in, RS256 JWTs out, its JWKS."""
    provider = Idp(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    server = ThreadingHTTPServer(("127.0.0.1", 0), provider.handler())
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, idp: Idp) -> Iterator[SecuredBroker]:
    state = tmp_path_factory.mktemp("sasl-ssl-stack")
    ports = {"broker": _free_port(), "controller": _free_port(), "mtls": _free_port()}
    env = {
        **os.environ,
        "ORCHESTRATOR_STACK_STATE_DIR": str(state),
        "ORCHESTRATOR_STACK_KAFKA_PORT": str(ports["broker"]),
        "ORCHESTRATOR_STACK_CONTROLLER_PORT": str(ports["controller"]),
        "ORCHESTRATOR_STACK_KAFKA_SSL_PORT": str(ports["mtls"]),
        # the broker also takes OAUTHBEARER tokens of the test's IdP
        "ORCHESTRATOR_STACK_KAFKA_OAUTH_JWKS_URL": f"{idp.url}/jwks",
        "ORCHESTRATOR_STACK_KAFKA_OAUTH_ISSUER": idp.url,
        "ORCHESTRATOR_STACK_KAFKA_OAUTH_AUDIENCE": "kafka",
    }
    _stack("up", env, "--kafka-only", "--kafka-security", "sasl_ssl")
    try:
        written = dict(
            re.findall(r"^export (ORCHESTRATOR_\w+)=(.*)$", (state / "env").read_text(), re.M)
        )
        yield SecuredBroker(state, written, ports)
    finally:
        _stack("down", env)


@dataclass
class Idp:
    key: Any
    url: str = ""
    issued: int = 0
    clients: tuple[tuple[str, str], ...] = (("orchestrator-app", "app-secret"),)

    def jwks(self) -> bytes:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return json.dumps(
            {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        ).encode()

    def token(self, client_id: str) -> bytes:
        now = int(time.time())
        claims = {"iss": self.url, "aud": "kafka", "sub": client_id, "iat": now, "exp": now + 600}
        self.issued += 1
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        return json.dumps(
            {"access_token": token, "token_type": "bearer", "expires_in": 600}
        ).encode()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._send(200, idp.jwks())

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                user, _, secret = (
                    base64.b64decode(
                        (self.headers.get("Authorization") or "Basic ").split(" ", 1)[1] or b""
                    )
                    .decode()
                    .partition(":")
                )
                if (user, secret) in idp.clients:
                    self._send(200, idp.token(user))
                else:
                    self._send(401, b'{"error": "invalid_client"}')

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@dataclass
class Deployment:
    broker: SecuredBroker
    env: dict[str, str]
    log_dir: Path
    api: str
    admin: dict[str, str]
    worker: dict[str, str]
    prefix: str
    processes: list[subprocess.Popen[bytes]]

    def start(self, name: str, *args: str) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives with the process
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "orchestrator", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture(scope="module")
def deployment(
    broker: SecuredBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    log_dir = tmp_path_factory.mktemp("sasl-ssl-run")
    base = support.database_url()
    schema = support.create_schema(base)
    prefix = f"sasl-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    shared = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_KAFKA_")}
    env = {
        **shared,  # the shared stack's Kafka settings are dropped: only the script's count
        **broker.env,
        "ORCHESTRATOR_DATABASE_URL": support.schema_url(base, schema),
        "ORCHESTRATOR_TOPIC_PREFIX": prefix,
        "ORCHESTRATOR_STATE_DIR": str(log_dir / "state"),
        "ORCHESTRATOR_STATE_STORE_SCHEMA": f"engine_{prefix.replace('-', '_')}",
        "ORCHESTRATOR_API_PORT": str(port),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
    }
    db = env["ORCHESTRATOR_DATABASE_URL"]
    d = Deployment(
        broker,
        env,
        log_dir,
        f"http://127.0.0.1:{port}",
        bearer(new_key(db, "admin", "sasl-admin")),
        bearer(new_key(db, "worker", "sasl-http-worker", ["sasl_http_step"])),
        prefix,
        [],
    )
    topics = subprocess.run(
        [sys.executable, "-m", "orchestrator", "topics"], env=env, capture_output=True, timeout=120
    )
    assert topics.returncode == 0, topics.stderr.decode()
    for name, args in [
        ("processor", ["processor"]),
        ("gate", ["gate"]),
        ("projector", ["projector"]),
        ("api", ["api"]),
        ("worker", ["worker", "tests.e2e.e2e_workers", "--grace", "1"]),
        ("system-worker", ["worker", "--system", "--grace", "1"]),
        ("event-handlers", ["event-handlers"]),
    ]:
        d.start(name, *args)
    try:
        support.wait_until(lambda: _healthy(d), 120, "the API to be healthy over SASL_SSL")
        yield d
    finally:
        for proc in d.processes:
            proc.terminate()
        for proc in d.processes:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        support.drop_schema(base, schema)
        with support_db(base) as conn:
            conn.execute(
                f'DROP SCHEMA IF EXISTS "{env["ORCHESTRATOR_STATE_STORE_SCHEMA"]}" CASCADE'
            )


def support_db(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _healthy(d: Deployment) -> bool:
    try:
        return httpx.get(f"{d.api}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _secured(broker: SecuredBroker) -> KafkaAccess:
    return kafka_access(load_settings(environ=broker.env))


def _flow(prefix: str) -> dict[str, Any]:
    return {
        "name": "sasl_flow",
        "version": 1,
        "tasks": [
            {"name": "e2e_echo", "taskReferenceName": "by_sdk", "type": "SIMPLE",
             "inputParameters": {"n": "${workflow.input.n}"}},
            {"name": "sasl_http_step", "taskReferenceName": "by_http", "type": "SIMPLE"},
            {"name": "announce", "taskReferenceName": "announce", "type": "EVENT",
             "sink": f"kafka:{prefix}.sasl-sink",
             "inputParameters": {"n": "${workflow.input.n}"}},
        ],
        "outputParameters": {"echo": "${by_sdk.output.echo}", "http": "${by_http.output.by}"},
    }  # fmt: skip


def _poll_http_task(d: Deployment) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        got = httpx.get(
            f"{d.api}/api/tasks/poll/batch/sasl_http_step",
            params={"count": 1, "timeout": 2000, "workerid": "http-1"},
            headers=d.worker,
            timeout=30,
        )
        assert got.status_code == 200, got.text
        if got.json():
            return dict(got.json()[0])
    raise AssertionError(f"no HTTP task handed out\n{d.logs()}")


def _sink_records(broker: SecuredBroker, topic: str) -> list[dict[str, Any]]:
    reader = new_reader(_secured(broker), **{"group.id": f"sink-{uuid.uuid4().hex[:6]}"})
    try:
        reader.assign([TopicPartition(topic, 0, 0)])
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            found += [json.loads(m.value()) for m in reader.consume(10, 1.0) if not m.error()]
        return found
    finally:
        reader.close()


def test_a_workflow_runs_over_sasl_ssl_through_every_component(d: Deployment) -> None:
    api = httpx.Client(base_url=d.api, headers=d.admin, timeout=60)
    defs = [
        {"name": "e2e_echo", "retryCount": 0, "responseTimeoutSeconds": 30,
         "rateLimitPerFrequency": 50, "rateLimitFrequencyInSeconds": 1},  # through the gate
        {"name": "sasl_http_step", "retryCount": 0, "responseTimeoutSeconds": 60},
    ]  # fmt: skip
    assert api.post("/api/metadata/taskdefs", json=defs).status_code == 200
    assert api.post("/api/metadata/workflow", json=_flow(d.prefix)).status_code == 200
    subprocess.run(  # the sink the EVENT task publishes to (the broker creates no topic)
        [sys.executable, "-c", _CREATE_SINK, f"{d.prefix}.sasl-sink"], env=d.env, check=True
    )
    support.wait_until(
        lambda: api.get("/api/metadata/workflow/sasl_flow").status_code == 200, 60, "projection"
    )
    started = api.post("/api/workflow", json={"name": "sasl_flow", "input": {"n": 7}})
    assert started.status_code == 200, started.text
    workflow_id = started.text

    task = _poll_http_task(d)
    assert task["workflowInstanceId"] == workflow_id
    done = {"workflowInstanceId": workflow_id, "taskId": task["taskId"], "status": "COMPLETED",
            "outputData": {"by": "http-1"}, "workerId": "http-1"}  # fmt: skip
    assert httpx.post(f"{d.api}/api/tasks", json=done, headers=d.worker).status_code == 200

    def completed() -> bool:
        return api.get(f"/api/workflow/{workflow_id}").json().get("status") == "COMPLETED"

    try:
        support.wait_until(completed, 120, "the workflow to complete over SASL_SSL")
    except AssertionError:
        raise AssertionError(f"not completed\n{d.logs()}") from None
    run = api.get(f"/api/workflow/{workflow_id}").json()
    assert run["output"] == {"echo": {"n": 7}, "http": "http-1"}
    assert [r["n"] for r in _sink_records(d.broker, f"{d.prefix}.sasl-sink")] == [7]

    # The API's other Kafka readers: queue backlog, queue lags + gate status + presence, metrics.
    assert api.get("/api/tasks/queue/sizes", params={"taskType": "e2e_echo"}).json() == {
        "e2e_echo": 0
    }
    queues = api.get("/api/ui/queues").json()
    assert queues["presenceReady"] is True, queues
    assert api.get("/metrics").status_code == 200
    health = api.get("/health").json()
    assert health["components"]["kafka"]["healthy"] is True
    history = api.get(f"/api/workflow/{workflow_id}/history").json()
    assert ("WorkflowStarted", "api:sasl-admin") in {(e["type"], e["actor"]) for e in history}

    # The audit tools read the log over SASL_SSL too.
    verify = subprocess.run(
        [sys.executable, "-m", "orchestrator", "replay", "--verify"],
        env=d.env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # Every client of every process authenticated: the broker saw no failed attempt.
    assert d.broker.failed_authentications() == [], d.logs()


def test_plaintext_and_wrong_credentials_are_refused_and_seen_by_the_broker(
    d: Deployment,
) -> None:
    before = len(d.broker.failed_authentications())
    secured = _secured(d.broker)
    attempts = {
        "plaintext on the SASL_SSL port": KafkaAccess(secured.bootstrap),
        "plaintext on the controller port": KafkaAccess(f"127.0.0.1:{d.broker.ports['controller']}"),
        "plaintext on the mutual-TLS port": KafkaAccess(f"127.0.0.1:{d.broker.ports['mtls']}"),
        "a wrong password": kafka_access(
            load_settings(environ={**d.broker.env, "ORCHESTRATOR_KAFKA_SASL_PASSWORD": "wrong"})
        ),
        "TLS without a client certificate on the mutual-TLS port": kafka_access(
            load_settings(
                environ={
                    "ORCHESTRATOR_KAFKA_BOOTSTRAP": f"127.0.0.1:{d.broker.ports['mtls']}",
                    "ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL": "SSL",
                    "ORCHESTRATOR_KAFKA_SSL_CA_FILE": d.broker.env["ORCHESTRATOR_KAFKA_SSL_CA_FILE"],
                }
            )
        ),
    }  # fmt: skip
    for what, access in attempts.items():
        with pytest.raises(Exception, match=r"transport failure|Authentication|timed out"):
            new_admin(access, **{"socket.timeout.ms": 3000}).list_topics(timeout=4)
        assert what  # (named for the failure message above)
    assert new_admin(secured).list_topics(timeout=10).brokers  # and the right way works
    tls = Path(d.broker.env["ORCHESTRATOR_KAFKA_SSL_CA_FILE"]).parent
    mtls = kafka_access(
        load_settings(
            environ={
                "ORCHESTRATOR_KAFKA_BOOTSTRAP": f"127.0.0.1:{d.broker.ports['mtls']}",
                "ORCHESTRATOR_KAFKA_SECURITY_PROTOCOL": "SSL",
                "ORCHESTRATOR_KAFKA_SSL_CA_FILE": str(tls / "ca.pem"),
                "ORCHESTRATOR_KAFKA_SSL_CERT_FILE": str(tls / "client.pem"),
                "ORCHESTRATOR_KAFKA_SSL_KEY_FILE": str(tls / "client.key"),
            }
        )
    )
    assert new_admin(mtls).list_topics(timeout=10).brokers  # a client certificate is enough
    support.wait_until(
        lambda: len(d.broker.failed_authentications()) > before, 30, "the broker to log them"
    )


def _oauth(broker: SecuredBroker, idp: Idp, secret: str) -> KafkaAccess:
    environ = {
        **broker.env,
        "ORCHESTRATOR_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
        "ORCHESTRATOR_KAFKA_SASL_USERNAME": "",
        "ORCHESTRATOR_KAFKA_SASL_PASSWORD": "",
        "ORCHESTRATOR_KAFKA_SASL_OAUTH_TOKEN_URL": f"{idp.url}/token",
        "ORCHESTRATOR_KAFKA_SASL_OAUTH_CLIENT_ID": "orchestrator-app",
        "ORCHESTRATOR_KAFKA_SASL_OAUTH_CLIENT_SECRET": secret,
    }
    return kafka_access(load_settings(environ=environ))


def test_oauthbearer_tokens_of_an_oidc_provider_work_for_both_client_libraries(
    d: Deployment, idp: Idp
) -> None:
    """librdkafka fetches its own tokens (sasl.oauthbearer.method=oidc); the processor's faust
    app (aiokafka) gets them from OidcTokenProvider. The broker checks them against the JWKS."""
    access = _oauth(d.broker, idp, "app-secret")
    before = idp.issued
    assert new_admin(access).list_topics(timeout=20).brokers
    assert idp.issued > before  # the token came from the IdP

    topic = f"{d.prefix}.oauth-check"
    subprocess.run([sys.executable, "-c", _CREATE_SINK, topic], env=d.env, check=True)
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    auth = credentials_to_aiokafka_auth(access.security.faust_credentials())

    async def send() -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=access.bootstrap, **auth)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"via aiokafka with an OAuth token")
        finally:
            await producer.stop()

    asyncio.run(send())
    reader = new_reader(access, **{"group.id": f"oauth-{uuid.uuid4().hex[:6]}"})
    try:
        reader.assign([TopicPartition(topic, 0, 0)])
        got: list[bytes] = []
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            got += [m.value() for m in reader.consume(10, 1.0) if not m.error()]
    finally:
        reader.close()
    assert got == [b"via aiokafka with an OAuth token"]

    with pytest.raises(Exception, match=r"transport failure|token|timed out"):
        new_admin(_oauth(d.broker, idp, "wrong"), **{"socket.timeout.ms": 3000}).list_topics(
            timeout=5
        )


_CREATE_SINK = """
import sys
from orchestrator.kafka.admin import ensure_topics
from orchestrator.kafka.topics import TopicSpec
from orchestrator.settings import load_settings
assert ensure_topics(load_settings(), [TopicSpec(sys.argv[1], 1, {})]).ok
"""


@pytest.fixture(scope="module")
def d(deployment: Deployment) -> Deployment:
    return deployment
