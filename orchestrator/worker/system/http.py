"""The HTTP system task (Conductor's ``http_request``), run by the built-in executor.

Input ``http_request: {uri, method, headers, body, accept, contentType, connectionTimeOut,
readTimeOut}`` (Conductor's defaults: accept and contentType ``application/json``, timeouts
3000 ms). Output ``response: {statusCode, headers, body, reasonPhrase}``; a JSON response body
is decoded. Rules (Conductor's HttpTask): 2xx -> COMPLETED; any other status -> FAILED with the
response kept in the output; a connection error or timeout -> FAILED "Failed to invoke HTTP task
due to: ..."; a missing request, uri or method -> FAILED with Conductor's message. A target
host outside HTTP_ALLOW_HOSTS or inside HTTP_DENY_HOSTS, or an address that is not public
(loopback, link-local such as the cloud metadata endpoint 169.254.169.254, private) outside
HTTP_ALLOW_NETWORKS -> FAILED_WITH_TERMINAL_ERROR with the reason, checked for every redirect hop
too (ssrf.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from orchestrator.domain.expressions import to_text
from orchestrator.domain.statuses import TaskStatus
from orchestrator.worker.system.ssrf import AddressNotAllowed, AddressPolicy, GuardedTransport
from orchestrator.worker.task import Outcome, failed

MISSING_REQUEST = (
    "Missing HTTP request. Task input MUST have a 'http_request' key with HttpTask.Input as "
    "value. See documentation for HttpTask for required input parameters"
)
MISSING_URI = "Missing HTTP URI.  See documentation for HttpTask for required input parameters"
MISSING_METHOD = "No HTTP method specified"
DEFAULT_TIMEOUT_MS = 3000
MAX_REASON_BODY = 500


class HostNotAllowed(Exception):
    pass


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Allow/deny lists of target hosts. Entries: ``host``, ``*.domain`` (subdomains) or ``*``.

    The deny list wins; an empty allow list allows every host not denied. Matching is on the
    URL's host name, before DNS.
    """

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    def check(self, url: httpx.URL | str) -> None:
        host = (urlsplit(str(url)).hostname or "").lower().rstrip(".")
        if _matches(host, self.deny) or (self.allow and not _matches(host, self.allow)):
            raise HostNotAllowed(f"host {host or '(none)'} is not allowed")


def _matches(host: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.lower().rstrip(".")
        if pattern == "*" or host == pattern:
            return True
        suffix = pattern[1:] if pattern.startswith("*.") else pattern if pattern[:1] == "." else ""
        if suffix and host.endswith(suffix):
            return True
    return False


def request_of(task_input: dict[str, Any]) -> dict[str, Any] | Outcome:
    """The http_request object, or the FAILED outcome Conductor gives a bad one."""
    request = task_input.get("http_request")
    if request is None and "uri" in task_input:  # newer Conductor: parameters at the top level
        request = task_input
    if not isinstance(request, dict):
        return failed(MISSING_REQUEST)
    if not request.get("uri"):
        return failed(MISSING_URI)
    if not request.get("method"):
        return failed(MISSING_METHOD)
    return request


def build_request(client: httpx.AsyncClient, request: dict[str, Any]) -> httpx.Request:
    headers = {
        "Content-Type": str(request.get("contentType") or "application/json"),
        "Accept": str(request.get("accept") or "application/json"),
    }
    for name, value in (request.get("headers") or {}).items():
        if value is not None:
            headers[str(name)] = to_text(value)
    body = request.get("body")
    content: bytes | None = None
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        content = text.encode("utf-8")
    return client.build_request(
        str(request["method"]).upper(),
        str(request["uri"]),
        headers=headers,
        content=content,
        timeout=httpx.Timeout(
            connect=_seconds(request.get("connectionTimeOut")),
            read=_seconds(request.get("readTimeOut")),
            write=_seconds(request.get("readTimeOut")),
            pool=_seconds(request.get("connectionTimeOut")),
        ),
    )


def _seconds(ms: Any) -> float:
    try:
        value = int(ms) if ms is not None else DEFAULT_TIMEOUT_MS
    except (TypeError, ValueError):
        value = DEFAULT_TIMEOUT_MS
    return max(value, 1) / 1000


def response_output(response: httpx.Response) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        headers.setdefault(name, []).append(value)
    return {
        "statusCode": response.status_code,
        "headers": headers,
        "body": decode_body(response.text),
        "reasonPhrase": response.reason_phrase,
    }


def decode_body(text: str) -> Any:
    """JSON when the body parses as JSON (as Conductor does, whatever the content type)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def outcome_of_response(response: httpx.Response) -> Outcome:
    output = {"response": response_output(response)}
    if 200 <= response.status_code < 300:
        return Outcome(TaskStatus.COMPLETED, output)
    text = response.text.strip()
    reason = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    reason += f": {text[:MAX_REASON_BODY]}" if text else " (no response body)"
    return failed(reason, output=output)


class HttpExecutor:
    """One AsyncClient per event loop (created lazily inside the loop that uses it)."""

    def __init__(self, policy: HostPolicy, addresses: AddressPolicy | None = None) -> None:
        self.policy = policy
        self.addresses = addresses or AddressPolicy()
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:

            async def check_host(request: httpx.Request) -> None:
                self.policy.check(request.url)  # every hop, redirects included

            self._client = httpx.AsyncClient(
                follow_redirects=True,
                event_hooks={"request": [check_host]},
                transport=GuardedTransport(self.addresses),
                trust_env=False,
            )
        return self._client

    async def __call__(self, task_input: dict[str, Any]) -> Outcome:
        request = request_of(task_input)
        if isinstance(request, Outcome):
            return request
        try:
            self.policy.check(str(request["uri"]))
            client = self.client()
            response = await client.send(build_request(client, request))
        except (HostNotAllowed, AddressNotAllowed) as exc:
            return failed(str(exc), terminal=True)
        except (httpx.HTTPError, ValueError) as exc:
            detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
            return failed(
                f"Failed to invoke HTTP task due to: {detail}", output={"response": detail}
            )
        return outcome_of_response(response)
