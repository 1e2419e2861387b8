"""Where HTTP tasks may connect: not to loopback, link-local, private or otherwise non-public
addresses (cloud metadata endpoints such as 169.254.169.254 live there), unless a network is
allowed in ``ORCHESTRATOR_HTTP_ALLOW_NETWORKS``.

A workflow definition is user input, and an HTTP task runs inside the deployment's network: an
unchecked URI lets whoever may register a definition read instance credentials from the
metadata endpoint or reach internal services (server-side request forgery). The check is made
where the connection is made, on every address the host name resolves to, for every redirect
hop: a host name that resolves (or is re-bound) to a refused address is refused, and the
connection goes to the very address that was checked, never to a second DNS answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressNotAllowed(Exception):
    """The task's target resolves to an address HTTP tasks may not call (the reason says why)."""


def parse_networks(raw: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``10.0.0.0/8``, ``fd00::/8`` or a single address; ValueError names the bad entry."""
    networks = []
    for entry in raw:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not a network (CIDR such as 10.0.0.0/8)") from None
    return tuple(networks)


def _kind(ip: IpAddress) -> str:
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata endpoints live there)"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    return "not a public address"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow: tuple[IpNetwork, ...] = ()

    def check(self, host: str, address: str) -> None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allow if network.version == ip.version):
            return
        if ip.is_global:
            return
        shown = host if host == str(ip) else f"{host} ({ip})"
        raise AddressNotAllowed(
            f"HTTP task refused: {shown} is {_kind(ip)}; HTTP tasks may only call public "
            f"addresses unless ORCHESTRATOR_HTTP_ALLOW_NETWORKS includes it"
        )


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks every address, connects to a checked one."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            found = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        for address in addresses:  # one refused address refuses the host (DNS games)
            self.policy.check(host, address)
        return await self.inner.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed("HTTP task refused: unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose every connection is checked. No proxy from
    the environment: through a proxy the target's address could not be checked."""

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__(trust_env=False)
        # httpx builds its pool without a way to pass a network backend: replace it.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(policy),
        )
