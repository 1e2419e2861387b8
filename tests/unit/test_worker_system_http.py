"""The HTTP executor's rules: host policy, request building, outcomes, and the addresses it may
connect to (against a loopback server and the unreachable metadata address: no internet)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from orchestrator.domain.statuses import TaskStatus
from orchestrator.worker.system.http import (
    MISSING_METHOD,
    MISSING_REQUEST,
    MISSING_URI,
    HostNotAllowed,
    HostPolicy,
    HttpExecutor,
    build_request,
    decode_body,
    outcome_of_response,
    request_of,
)
from orchestrator.worker.system.ssrf import AddressNotAllowed, AddressPolicy, parse_networks
from orchestrator.worker.task import Outcome


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


# -- where HTTP tasks may connect (SSRF): checked at connection time, every hop ------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local address (cloud metadata endpoints live there)"),
        ("127.0.0.1", "loopback address"),
        ("::1", "loopback address"),
        ("10.0.0.5", "private address"),
        ("172.16.9.9", "private address"),
        ("192.168.1.1", "private address"),
        ("fd00:ec2::254", "private address"),  # AWS's IPv6 metadata endpoint
        ("::ffff:169.254.169.254", "link-local address"),  # IPv4-mapped
        ("0.0.0.0", "unspecified address"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str, kind: str) -> None:
    with pytest.raises(AddressNotAllowed, match=re.escape(kind)):
        AddressPolicy().check("host.example", address)


def test_public_addresses_and_allowed_networks_pass() -> None:
    AddressPolicy().check("example.com", "93.184.215.14")
    AddressPolicy().check("example.com", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    allowed = AddressPolicy(parse_networks(["10.0.0.0/8", "127.0.0.1"]))
    allowed.check("internal", "10.20.30.40")
    allowed.check("localhost", "127.0.0.1")
    with pytest.raises(AddressNotAllowed):
        allowed.check("localhost", "127.0.0.2")


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33' is not a network")):
        parse_networks(["10.0.0.0/33"])


def _run(executor: HttpExecutor, uri: str) -> Outcome:
    request = {"http_request": {"uri": uri, "method": "GET", "connectionTimeOut": 2000}}
    return asyncio.run(executor(request))


def test_the_metadata_endpoint_fails_the_task_for_good_with_the_reason() -> None:
    outcome = _run(HttpExecutor(HostPolicy()), "http://169.254.169.254/latest/meta-data/")
    assert outcome.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.reason == (
        "HTTP task refused: 169.254.169.254 is a link-local address (cloud metadata endpoints "
        "live there); HTTP tasks may only call public addresses unless "
        "ORCHESTRATOR_HTTP_ALLOW_NETWORKS includes it"
    )


def test_a_name_is_checked_by_the_address_it_resolves_to() -> None:
    outcome = _run(HttpExecutor(HostPolicy()), "http://localhost:9/")
    assert outcome.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert "localhost (127.0.0.1) is a loopback address" in (outcome.reason or "")


class _Redirect(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/ok":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        self.send_response(302)  # to the metadata endpoint: must be refused at that hop
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_an_allowed_server_answers_but_its_redirect_to_metadata_is_refused() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        executor = HttpExecutor(HostPolicy(), AddressPolicy(parse_networks(["127.0.0.0/8"])))
        assert _run(executor, f"{base}/ok").status is TaskStatus.COMPLETED
        refused = _run(executor, f"{base}/elsewhere")
        assert refused.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
        assert "169.254.169.254 is a link-local address" in (refused.reason or "")
        default = _run(HttpExecutor(HostPolicy()), f"{base}/ok")  # loopback not allowed
        assert "127.0.0.1 is a loopback address" in (default.reason or "")
    finally:
        server.shutdown()
        server.server_close()
