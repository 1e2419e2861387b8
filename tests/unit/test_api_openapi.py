"""/docs describes what the routes really answer: walks the app's OpenAPI document.

Built from ``create_app`` without its lifespan (no Kafka, no Postgres). What a route really
answers at run time is checked against the same document by the OpenAPI fuzz test (every answer
of every operation, schemathesis' status_code_conformance) and by the e2e operation tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute

from orchestrator.api.app import create_app
from orchestrator.settings import load_settings

APP = create_app(load_settings(environ={}))
SPEC = APP.openapi()
OPERATIONS = [
    (method, path, op) for path, item in SPEC["paths"].items() for method, op in item.items()
]
ERROR = {"$ref": "#/components/schemas/ErrorBody"}

# The answers of the writes, as the routes produce them: success, 202 when the command is on
# its way but not visible within the bound, and the errors they answer on purpose.
COMMANDS = {
    # 413: a payload over its maximum (ADR 0011); 503: Kafka or the payload store unreachable
    ("post", "/api/workflow"): {"200", "202", "400", "404", "409", "413", "503"},
    ("post", "/api/workflow/{name}"): {"200", "202", "400", "404", "409", "413", "503"},
    # 202: started, not visible in the read model within waitForSeconds (0 is allowed)
    ("post", "/api/workflow/execute/{name}/{version}"): {
        "200",
        "202",
        "400",
        "404",
        "409",
        "413",
        "503",
    },
    ("put", "/api/workflow/{workflow_id}/pause"): {"200", "202", "404", "409"},
    ("put", "/api/workflow/{workflow_id}/resume"): {"200", "202", "404", "409"},
    ("delete", "/api/workflow/{workflow_id}"): {"200", "202", "404", "409"},
    ("post", "/api/workflow/{workflow_id}/restart"): {"204", "202", "404", "409"},
    ("post", "/api/workflow/{workflow_id}/retry"): {"204", "202", "404", "409"},
    ("post", "/api/workflow/{workflow_id}/rerun"): {"200", "202", "404", "409", "413", "503"},
    ("put", "/api/workflow/{workflow_id}/skiptask/{task_reference_name}"): {
        "200",
        "202",
        "404",
        "409",
        "413",
        "503",
    },
    ("delete", "/api/workflow/{workflow_id}/remove"): {"200", "404", "409"},
    # 413: a definition too large for a Kafka record; 503: Kafka unreachable
    ("post", "/api/metadata/taskdefs"): {"200", "400", "413", "503"},
    ("put", "/api/metadata/taskdefs"): {"200", "400", "413", "503"},
    ("post", "/api/metadata/workflow"): {"200", "400", "409", "413", "503"},
    ("put", "/api/metadata/workflow"): {"200", "400", "413", "503"},
    ("put", "/api/workflow/bulk/{action}"): {"200", "400"},
    ("post", "/api/workflow/bulk/{action}"): {"200", "400"},
    ("post", "/api/event"): {"200", "400", "409"},
    ("put", "/api/event"): {"200", "400", "404"},
    ("delete", "/api/event/{name}"): {"200", "404"},
}


def codes(op: dict[str, Any]) -> set[str]:
    return {c for c in op["responses"] if c not in ("4XX", "5XX")}


@pytest.mark.parametrize(
    "method,path,op", OPERATIONS, ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_operation_documents_conductors_error_body_and_no_422(
    method: str, path: str, op: dict[str, Any]
) -> None:
    responses = op["responses"]
    assert "422" not in responses
    for code in ("4XX", "5XX", *(c for c in responses if c[0] in "45" and c[1:] != "XX")):
        assert list(responses[code]["content"]) == ["application/json"], code
        schema = responses[code]["content"]["application/json"]["schema"]
        if (path, code) not in ((p, "503") for p in ("/health", "/health/ready")):  # Health
            assert schema == ERROR, code


def test_every_route_documents_the_status_it_declares_and_one_success() -> None:
    for route in APP.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods:
            op = SPEC["paths"][route.path][method.lower()]
            declared = str(route.status_code or 200)
            assert declared in op["responses"], (method, route.path, declared)
            successes = {c for c in codes(op) if c.startswith("2")} - {"202"}
            assert successes == {declared}, (method, route.path, successes)


@pytest.mark.parametrize("method,path", sorted(COMMANDS))
def test_writes_document_exactly_the_statuses_they_answer(method: str, path: str) -> None:
    assert codes(SPEC["paths"][path][method]) == COMMANDS[(method, path)]


EMPTY_200 = [
    ("put", "/api/workflow/{workflow_id}/pause"),
    ("put", "/api/workflow/{workflow_id}/resume"),
    ("delete", "/api/workflow/{workflow_id}"),
    ("put", "/api/workflow/{workflow_id}/skiptask/{task_reference_name}"),
    ("post", "/api/metadata/workflow"),
    ("put", "/api/metadata/taskdefs"),
    ("post", "/api/event"),
    ("put", "/api/event"),
    ("delete", "/api/event/{name}"),
]


def test_answers_without_a_body_document_no_content() -> None:
    for method, path in COMMANDS:
        for code, response in SPEC["paths"][path][method]["responses"].items():
            if code in ("202", "204") or (code == "200" and (method, path) in EMPTY_200):
                assert "content" not in response, (method, path, code)


def test_metadata_bodies_are_the_definition_models_one_or_a_list() -> None:
    schemas = SPEC["components"]["schemas"]
    ref = {"$ref": "#/components/schemas/WorkflowDef"}
    one = SPEC["paths"]["/api/metadata/workflow"]["post"]["requestBody"]
    assert one["content"]["application/json"]["schema"] == ref and one["required"]
    for method in ("put",):
        body = SPEC["paths"]["/api/metadata/workflow"][method]["requestBody"]
        assert body["content"]["application/json"]["schema"]["anyOf"] == [
            {"type": "array", "items": ref}, ref]  # fmt: skip
    taskdefs = SPEC["paths"]["/api/metadata/taskdefs"]["post"]["requestBody"]
    assert {"$ref": "#/components/schemas/TaskDef"} in (
        taskdefs["content"]["application/json"]["schema"]["anyOf"]
    )
    workflow = schemas["WorkflowDef"]
    assert set(workflow["required"]) == {"name", "tasks"}
    task = schemas["WorkflowTask"]["properties"]
    assert task["loopOver"]["items"] == {"$ref": "#/components/schemas/WorkflowTask"}
    assert schemas["TaskDef"]["properties"]["retryLogic"]["enum"] == [
        "FIXED", "LINEAR_BACKOFF", "EXPONENTIAL_BACKOFF"]  # fmt: skip
    got = SPEC["paths"]["/api/metadata/workflow/{name}"]["get"]["responses"]["200"]
    assert got["content"]["application/json"]["schema"] == ref


def test_event_handler_bodies_and_lists_are_the_event_handler_model() -> None:
    ref = {"$ref": "#/components/schemas/EventHandler"}
    for method in ("post", "put"):
        body = SPEC["paths"]["/api/event"][method]["requestBody"]
        assert body["content"]["application/json"]["schema"] == ref and body["required"]
    for path in ("/api/event", "/api/event/{event}"):
        listed = SPEC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert listed["schema"] == {"type": "array", "items": ref}
    action = SPEC["components"]["schemas"]["EventHandlerAction"]
    assert action["properties"]["action"] == {"$ref": "#/components/schemas/ActionType"}


def test_every_reference_in_the_document_resolves() -> None:
    schemas = SPEC["components"]["schemas"]
    missing: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            target = node.get("$ref")
            if isinstance(target, str) and target.split("/")[-1] not in schemas:
                missing.append(target)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SPEC)
    assert missing == []


def test_the_error_body_shows_the_engines_rejection_code() -> None:
    assert "code" in SPEC["components"]["schemas"]["ErrorBody"]["properties"]
