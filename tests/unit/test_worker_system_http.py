"""The HTTP executor's rules that need no network: host policy, request building, outcomes."""

from __future__ import annotations

import json

import httpx
import pytest

from orchestrator.domain.statuses import TaskStatus
from orchestrator.worker.system.http import (
    MISSING_METHOD,
    MISSING_REQUEST,
    MISSING_URI,
    HostNotAllowed,
    HostPolicy,
    build_request,
    decode_body,
    outcome_of_response,
    request_of,
)


def test_empty_lists_allow_any_host() -> None:
    HostPolicy().check("http://anything.example/x")


def test_deny_list_wins_over_allow_list() -> None:
    policy = HostPolicy(allow=("*",), deny=("metadata.internal",))
    with pytest.raises(HostNotAllowed, match=r"host metadata\.internal is not allowed"):
        policy.check("http://metadata.internal/latest")


def test_allow_list_admits_only_its_hosts_and_subdomain_patterns() -> None:
    policy = HostPolicy(allow=("api.example.com", "*.trusted.org"))
    policy.check("https://API.example.com/v1")
    policy.check("https://a.b.trusted.org/")
    with pytest.raises(HostNotAllowed):
        policy.check("https://example.com/")
    with pytest.raises(HostNotAllowed):
        policy.check("https://untrusted.org/")


@pytest.mark.parametrize(
    ("task_input", "reason"),
    [
        ({}, MISSING_REQUEST),
        ({"http_request": {"method": "GET"}}, MISSING_URI),
        ({"http_request": {"uri": "http://x/"}}, MISSING_METHOD),
    ],
)
def test_incomplete_request_fails_with_conductors_message(task_input: dict, reason: str) -> None:
    outcome = request_of(task_input)
    assert not isinstance(outcome, dict)
    assert outcome.status is TaskStatus.FAILED and outcome.reason == reason


def test_request_parameters_may_sit_at_the_top_level() -> None:
    assert request_of({"uri": "http://x/", "method": "GET"}) == {
        "uri": "http://x/",
        "method": "GET",
    }


def test_body_is_json_encoded_unless_it_is_text_and_defaults_are_conductors() -> None:
    client = httpx.AsyncClient()
    request = build_request(
        client,
        {"uri": "http://x/", "method": "post", "body": {"a": [1]}, "headers": {"X-N": 5}},
    )
    assert request.method == "POST"
    assert json.loads(request.content) == {"a": [1]}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["x-n"] == "5"
    text = build_request(client, {"uri": "http://x/", "method": "PUT", "body": "raw text"})
    assert text.content == b"raw text"


def test_response_body_is_decoded_when_it_is_json() -> None:
    assert decode_body('{"a": 1}') == {"a": 1}
    assert decode_body("[1, 2]") == [1, 2]
    assert decode_body("plain words") == "plain words"
    assert decode_body("") is None


def test_2xx_completes_with_conductors_response_shape() -> None:
    response = httpx.Response(201, json={"id": 7}, headers={"X-A": "1"})
    outcome = outcome_of_response(response)
    assert outcome.status is TaskStatus.COMPLETED
    out = outcome.output["response"]
    assert out["statusCode"] == 201 and out["body"] == {"id": 7}
    assert out["reasonPhrase"] == "Created" and out["headers"]["x-a"] == ["1"]


def test_non_2xx_fails_with_status_and_body_and_keeps_the_response() -> None:
    outcome = outcome_of_response(httpx.Response(503, text="try later"))
    assert outcome.status is TaskStatus.FAILED
    assert outcome.reason == "HTTP 503 Service Unavailable: try later"
    assert outcome.output["response"]["statusCode"] == 503


def test_redirect_status_left_unfollowed_is_a_failure() -> None:
    assert outcome_of_response(httpx.Response(304)).status is TaskStatus.FAILED
