"""Every route x every role: the status the API answers before the route's own code runs.

The table below is the specification: one row per route (method, path), one column per caller
(no credentials, viewer, operator, worker, admin). ``OK`` means the access rule lets the call
through (whatever the route then answers: here, without Kafka and Postgres, often a 500), 401
and 403 are the refusals. A route added to the app without a row here fails
``test_every_route_has_a_row``; one without a rule in orchestrator/api/access.py fails
``test_every_route_has_an_access_rule``.

No stack: the app is built without its lifespan and the keys live in an in-memory store that
follows the Postgres store's contract (tests/auth_support.py). The same rules are exercised
with real keys over HTTP in tests/e2e/test_auth_e2e.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from orchestrator.api.access import RULES
from orchestrator.api.app import create_app
from orchestrator.auth.keys import KeyRecord
from orchestrator.auth.roles import Role
from orchestrator.settings import load_settings
from tests.auth_support import InMemoryKeyStore, bearer

OK, U, F = "ok", 401, 403
CALLERS = ("none", "viewer", "operator", "worker", "admin")
PUB = (OK, OK, OK, OK, OK)
READ = (U, OK, OK, F, OK)
OPERATE = (U, F, OK, F, OK)
WORK = (U, F, F, OK, OK)
DEFINE = (U, F, F, F, OK)

TABLE: dict[tuple[str, str], tuple[object, ...]] = {
    # route                                                     none viewer operator worker admin
    ("GET", "/health"): PUB,
    ("GET", "/health/ready"): PUB,
    # public, but it authenticates by its body: no key id and secret there is 401 for anyone
    ("POST", "/api/token"): (U, U, U, U, U),
    ("GET", "/"): PUB,
    ("GET", "/execution/{workflow_id}"): PUB,
    ("GET", "/definitions"): PUB,
    ("GET", "/definitions/workflow/{name}"): PUB,
    ("GET", "/queues"): PUB,
    ("GET", "/ui/{path:path}"): PUB,
    ("GET", "/openapi.json"): PUB,
    ("GET", "/docs"): PUB,
    ("GET", "/docs/oauth2-redirect"): PUB,
    ("GET", "/redoc"): PUB,
    ("GET", "/api/token/userInfo"): (U, OK, OK, OK, OK),
    ("GET", "/metrics"): READ,
    ("GET", "/api/ui/queues"): READ,
    ("GET", "/api/workflow/search"): READ,
    ("GET", "/api/workflow/search-v2"): READ,
    ("GET", "/api/tasks/search"): READ,
    ("GET", "/api/tasks/search-v2"): READ,
    ("GET", "/api/workflow/{name}/correlated/{correlation_id}"): READ,
    ("POST", "/api/workflow/{name}/correlated"): READ,
    ("GET", "/api/workflow/running/{name}"): READ,
    ("GET", "/api/workflow/{workflow_id}"): READ,
    ("GET", "/api/workflow/{workflow_id}/status"): READ,
    ("GET", "/api/workflow/{workflow_id}/history"): READ,
    ("GET", "/api/workflow/{workflow_id}/state"): READ,
    ("GET", "/api/metadata/taskdefs"): READ,
    ("GET", "/api/metadata/taskdefs/{name}"): READ,
    ("GET", "/api/metadata/workflow"): READ,
    ("GET", "/api/metadata/workflow/{name}"): READ,
    ("GET", "/api/event"): READ,
    ("GET", "/api/event/{event}"): READ,
    ("GET", "/api/tasks/queue/sizes"): READ,
    ("GET", "/api/tasks/{taskId}/log"): READ,
    ("GET", "/api/tasks/{taskId}"): READ,
    ("POST", "/api/workflow"): OPERATE,
    ("POST", "/api/workflow/{name}"): OPERATE,
    ("POST", "/api/workflow/execute/{name}/{version}"): OPERATE,
    ("DELETE", "/api/workflow/{workflow_id}"): OPERATE,
    ("PUT", "/api/workflow/{workflow_id}/pause"): OPERATE,
    ("PUT", "/api/workflow/{workflow_id}/resume"): OPERATE,
    ("POST", "/api/workflow/{workflow_id}/restart"): OPERATE,
    ("POST", "/api/workflow/{workflow_id}/retry"): OPERATE,
    ("POST", "/api/workflow/{workflow_id}/rerun"): OPERATE,
    ("PUT", "/api/workflow/{workflow_id}/skiptask/{task_reference_name}"): OPERATE,
    ("DELETE", "/api/workflow/{workflow_id}/remove"): OPERATE,
    ("POST", "/api/workflow/bulk/{action}"): OPERATE,
    ("PUT", "/api/workflow/bulk/{action}"): OPERATE,
    ("POST", "/api/tasks/{workflowId}/{taskRefName}/{status}"): (U, F, OK, OK, OK),
    ("GET", "/api/tasks/poll/batch/{taskType}"): WORK,
    ("GET", "/api/tasks/poll/{taskType}"): WORK,
    ("POST", "/api/tasks"): WORK,
    ("POST", "/api/tasks/update-v2"): WORK,
    ("POST", "/api/metadata/taskdefs"): DEFINE,
    ("PUT", "/api/metadata/taskdefs"): DEFINE,
    ("POST", "/api/metadata/workflow"): DEFINE,
    ("PUT", "/api/metadata/workflow"): DEFINE,
    ("POST", "/api/event"): DEFINE,
    ("PUT", "/api/event"): DEFINE,
    ("DELETE", "/api/event/{name}"): DEFINE,
}

STORE = InMemoryKeyStore()
KEYS = {
    role.value: STORE.add(
        KeyRecord(f"key_{role.value}", role.value, role, None, datetime.now(UTC), "test", None),
        "s3cret",
    )
    for role in Role
}
APP = create_app(load_settings(environ={}))
APP.state.authenticator.store = STORE
CLIENT = TestClient(APP, raise_server_exceptions=False)

# Real values where a route reads one before it could fail for want of Kafka and Postgres.
SAMPLES = {"path": "js/common.js", "action": "pause", "status": "COMPLETED", "version": "1"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLES.get(m.group(1), "x1"), path)


def test_every_route_has_a_row() -> None:
    routes = {(r.method, r.path) for r in APP.state.route_index.routes}
    assert routes - set(TABLE) == set(), "routes without a row in this test's TABLE"
    assert set(TABLE) - routes == set(), "rows of routes the app does not have"


def test_every_route_has_an_access_rule() -> None:
    assert [(r.method, r.path) for r in APP.state.route_index.missing] == []
    assert set(RULES) == set(TABLE)


@pytest.mark.parametrize("route", sorted(TABLE), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_answers_each_caller_as_the_table_says(route: tuple[str, str]) -> None:
    method, path = route
    for caller, expected in zip(CALLERS, TABLE[route], strict=True):
        headers = bearer(KEYS[caller]) if caller != "none" else {}
        body = {} if method in ("POST", "PUT") else None
        response = CLIENT.request(method, concrete(path), headers=headers, json=body)
        status = response.status_code
        if expected == OK:
            assert status not in (401, 403), f"{caller}: {status} {response.text}"
        else:
            assert status == expected, f"{caller}: {status} {response.text}"
            assert response.json()["message"], "a refusal says why"


def test_a_refusal_names_the_caller_its_role_and_the_roles_that_may() -> None:
    response = CLIENT.delete("/api/workflow/w1", headers=bearer(KEYS["viewer"]))
    assert response.status_code == 403
    message = response.json()["message"]
    assert "viewer" in message and "operator or admin" in message


def test_a_malformed_body_without_credentials_is_401_not_400() -> None:
    response = CLIENT.post(
        "/api/workflow", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


def test_a_wrong_secret_an_unknown_key_and_junk_are_401_with_the_reason() -> None:
    for credential, reason in [
        ("key_admin.wrong", "unknown or revoked API key"),
        ("key_nobody.s3cret", "unknown or revoked API key"),
        ("letmein", "neither an API key"),
        ("a.b.c", "OIDC is not configured"),
    ]:
        response = CLIENT.get("/api/workflow/w1", headers=bearer(credential))
        assert response.status_code == 401, credential
        assert reason in response.json()["message"]
    basic = CLIENT.get("/api/workflow/w1", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401 and "Bearer" in basic.json()["message"]


def test_conductors_x_authorization_header_is_accepted() -> None:
    response = CLIENT.get("/api/token/userInfo", headers={"X-Authorization": KEYS["operator"]})
    assert response.status_code == 200
    assert response.json()["roles"] == ["operator"]


def test_docs_declare_the_credentials_every_protected_operation_needs() -> None:
    spec = APP.openapi()
    assert {"bearer", "xAuthorization"} <= set(spec["components"]["securitySchemes"])
    assert "security" in spec["paths"]["/api/workflow/{workflow_id}"]["delete"]
    assert "security" not in spec["paths"]["/health"]["get"]
