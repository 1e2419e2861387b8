"""Authentication and roles over HTTP with real keys, on the real stack (Kafka, Postgres).

Each module run gets its own schema (its own key tables) and topic prefix. The route x role
table of tests/unit/test_access_rules.py says what every route answers; here the same rules are
exercised the way a client meets them: keys created with the CLI's code, tokens from
POST /api/token, revocation, OIDC JWTs from a local issuer, the actor in the history, and
ORCHESTRATOR_AUTH=off.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.auth.keys import revoke_key
from orchestrator.settings import Settings
from projections.projector import Projector
from tests import readmodel_support as support
from tests.auth_support import bearer, new_key
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import Runtime

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

FLOW = {
    "name": "auth_flow",
    "version": 1,
    "tasks": [{"name": "auth_step", "taskReferenceName": "step", "type": "SIMPLE"}],
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A processor and a projector of the module's own prefix and schema."""
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"e2e-auth-{os.urandom(4).hex()}", log_dir=tmp_path_factory.mktemp("auth"))
    rt.create_topics()
    settings = support.settings_for(support.schema_url(base, schema), rt.prefix, partitions="4")
    projector = Projector(settings)
    thread = threading.Thread(target=projector.run, daemon=True)
    thread.start()
    try:
        rt.start_processor()
        wait_until_ready(rt, "processor", 1, 90)
        yield settings
    finally:
        projector.stop()
        thread.join(30)
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:  # no credentials of its own
        yield client


@pytest.fixture(scope="module")
def keys(settings: Settings, client: TestClient) -> dict[str, dict[str, str]]:
    db = settings.database_url
    found = {
        "admin": bearer(new_key(db, "admin", "ada")),
        "operator": bearer(new_key(db, "operator", "olga")),
        "viewer": bearer(new_key(db, "viewer", "vic")),
        "worker": bearer(new_key(db, "worker", "wendy", ["auth_step"])),
    }
    admin = found["admin"]
    step = {"name": "auth_step", "retryCount": 0}
    assert client.post("/api/metadata/taskdefs", json=[step], headers=admin).status_code == 200
    assert client.post("/api/metadata/workflow", json=FLOW, headers=admin).status_code == 200
    return found


def test_every_api_route_but_health_needs_credentials(client: TestClient) -> None:
    index = client.app.state.route_index  # type: ignore[attr-defined]
    api_routes = [r for r in index.routes if r.path.startswith("/api")]
    assert len(api_routes) > 40
    for rule in api_routes:
        path = re.sub(r"\{(\w+)(:\w+)?\}", "x1", rule.path)
        response = client.request(rule.method, path)
        assert response.status_code == 401, f"{rule.method} {rule.path}: {response.status_code}"
        assert response.json()["message"]
    assert client.get("/health").status_code in (200, 503)  # its own answer, no credential


def test_a_viewer_reads_but_cannot_terminate(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    started = client.post("/api/workflow", json={"name": "auth_flow"}, headers=keys["operator"])
    assert started.status_code == 200, started.text
    workflow_id = started.text
    assert client.get(f"/api/workflow/{workflow_id}", headers=keys["viewer"]).status_code == 200
    refused = client.delete(f"/api/workflow/{workflow_id}", headers=keys["viewer"])
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "vic (viewer) may not start or operate workflows: that needs the role operator or admin"
    )
    assert client.get(f"/api/workflow/{workflow_id}").status_code == 401


def test_a_worker_key_polls_its_task_type_only(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    worker = keys["worker"]
    mine = client.get("/api/tasks/poll/batch/auth_step", params={"timeout": 0}, headers=worker)
    assert mine.status_code == 200 and isinstance(mine.json(), list)
    other = client.get("/api/tasks/poll/batch/payroll", params={"timeout": 0}, headers=worker)
    assert other.status_code == 403
    assert "may work only on task types auth_step" in other.json()["message"]
    assert client.get("/api/workflow/search", headers=worker).status_code == 403
    not_an_operator = client.post("/api/workflow", json={"name": "auth_flow"}, headers=worker)
    assert not_an_operator.status_code == 403


def test_the_history_records_the_keys_principal_whatever_x_caller_says(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    headers = {**keys["operator"], "X-Caller": "mallory"}
    workflow_id = client.post("/api/workflow", json={"name": "auth_flow"}, headers=headers).text
    task = _poll(client, keys["worker"], workflow_id)
    result = {
        "workflowInstanceId": workflow_id,
        "taskId": task["taskId"],
        "status": "COMPLETED",
        "workerId": "claimed-worker-id",
        "outputData": {"ok": True},
    }
    assert client.post("/api/tasks", json=result, headers=keys["worker"]).status_code == 200
    history = _history_until(client, keys["viewer"], workflow_id, "WorkflowCompleted")
    actors = {e["type"]: e["actor"] for e in history}
    assert actors["WorkflowStarted"] == "api:olga"
    assert actors["TaskPickedUp"] == "worker:wendy"
    assert actors["TaskCompleted"] == "worker:wendy"
    assert "mallory" not in json.dumps(history)
    completed = next(e for e in history if e["type"] == "TaskCompleted")
    assert completed["data"]["worker_id"] == "claimed-worker-id"  # data, not identity


def test_conductors_key_exchange_gives_a_token_that_works_until_its_key_is_revoked(
    client: TestClient, settings: Settings
) -> None:
    key_id, secret = new_key(settings.database_url, "viewer", "tina").split(".", 1)
    assert client.post("/api/token", json={"keyId": key_id, "keySecret": "nope"}).status_code == 401
    assert client.post("/api/token").status_code == 401
    answer = client.post("/api/token", json={"keyId": key_id, "keySecret": secret})
    assert answer.status_code == 200
    token = answer.json()["token"]
    who = client.get("/api/token/userInfo", headers={"X-Authorization": token})
    assert who.json() == {
        "id": "tina", "roles": ["viewer"], "via": "token", "keyId": key_id, "taskTypes": None
    }  # fmt: skip
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 s'")
    client.app.state.authenticator._cache.clear()  # type: ignore[attr-defined]
    expired = client.get("/api/workflow/search", headers={"X-Authorization": token})
    assert (expired.status_code, expired.json()["error"]) == (401, "EXPIRED_TOKEN")
    fresh = client.post("/api/token", json={"keyId": key_id, "keySecret": secret}).json()["token"]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        revoke_key(conn, key_id)
    deadline = time.monotonic() + settings.auth_cache_s + 5  # every API re-checks within it
    while time.monotonic() < deadline:
        status = client.get("/api/workflow/search", headers={"X-Authorization": fresh})
        if status.status_code == 401:
            break
        time.sleep(0.5)
    assert status.status_code == 401 and status.json()["error"] == "INVALID_TOKEN"
    whole = client.get("/api/workflow/search", headers=bearer(f"{key_id}.{secret}"))
    assert whole.status_code == 401


def _poll(client: TestClient, worker: dict[str, str], workflow_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = client.get(
            "/api/tasks/poll/batch/auth_step", params={"timeout": 1000}, headers=worker
        ).json()
        for task in got:
            if task["workflowInstanceId"] == workflow_id:
                return dict(task)
    raise AssertionError("no task handed out (is a processor running? this module has none)")


def _history_until(
    client: TestClient, viewer: dict[str, str], workflow_id: str, last: str
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = client.get(f"/api/workflow/{workflow_id}/history", headers=viewer)
        if response.status_code == 200 and any(e["type"] == last for e in response.json()):
            return list(response.json())
        time.sleep(0.3)
    raise AssertionError(f"{workflow_id}: no {last} in the history")


# -- OIDC: a local issuer (its JWKS over HTTP), tokens signed with its key ------------------------

ISSUER = "https://idp.example/realms/test"
AUDIENCE = "orchestrator-api"


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[Any, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(jwks)))
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield key, f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


def _jwt(key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "svc-1", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def test_oidc_bearer_tokens_are_verified_against_the_issuers_jwks(
    settings: Settings, idp: tuple[Any, str]
) -> None:
    key, jwks_url = idp
    oidc = support.settings_for(
        settings.database_url,
        settings.topic_prefix,
        auth_oidc_issuer=ISSUER,
        auth_oidc_audience=AUDIENCE,
        auth_oidc_jwks_url=jwks_url,
        auth_oidc_principal_claim="preferred_username",
    )
    with TestClient(create_app(oidc)) as client:

        def get(token: str) -> Any:
            return client.get("/api/token/userInfo", headers=bearer(token))

        good = get(_jwt(key, preferred_username="olivia", roles=["operator", "unknown"]))
        assert good.status_code == 200
        assert (good.json()["id"], good.json()["roles"]) == ("olivia", ["operator"])
        spaced = get(_jwt(key, preferred_username="sam", roles="viewer other"))
        assert spaced.json()["roles"] == ["viewer"]
        expired = get(_jwt(key, preferred_username="o", roles=["admin"], exp=int(time.time()) - 60))
        assert (expired.status_code, expired.json()["error"]) == (401, "EXPIRED_TOKEN")
        wrong_aud = get(_jwt(key, preferred_username="o", roles=["admin"], aud="another-api"))
        assert wrong_aud.status_code == 401 and "audience" in wrong_aud.json()["message"].lower()
        wrong_iss = get(_jwt(key, preferred_username="o", roles=["admin"], iss="https://evil"))
        assert wrong_iss.status_code == 401
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = get(_jwt(other_key, preferred_username="o", roles=["admin"]))
        assert forged.status_code == 401 and "signature" in forged.json()["message"].lower()
        no_role = get(_jwt(key, preferred_username="nobody"))
        assert no_role.status_code == 403
        assert "carries none of the roles" in no_role.json()["message"]


# -- ORCHESTRATOR_AUTH=off -----------------------------------------------------------------------


def test_with_authentication_off_anyone_is_the_anonymous_admin_and_it_is_logged(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    off = support.settings_for(settings.database_url, settings.topic_prefix, auth="off")
    caplog.set_level(logging.WARNING, logger="orchestrator.api.app")
    with TestClient(create_app(off)) as client:
        assert "AUTHENTICATION IS OFF" in caplog.text
        assert client.get("/api/token/userInfo").json()["id"] == "anonymous"
        assert client.post("/api/token", json={"keyId": "k", "keySecret": "s"}).status_code == 404
        name = f"auth_off_{uuid.uuid4().hex[:6]}"
        definition = {**FLOW, "name": name}
        assert client.post("/api/metadata/workflow", json=definition).status_code == 200
        rows = _definition_actor(settings, name)
        assert rows == [("api:anonymous",)]


def _definition_actor(settings: Settings, name: str) -> list[tuple[str]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with psycopg.connect(settings.database_url) as conn:
            rows = conn.execute("SELECT actor FROM definitions WHERE name = %s", (name,)).fetchall()
        if rows:
            return [(str(r[0]),) for r in rows]
        time.sleep(0.3)
    raise AssertionError(f"definition {name} not projected")
