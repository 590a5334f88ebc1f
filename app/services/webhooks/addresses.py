"""Where a webhook may be delivered: no loopback, private, link-local or otherwise
non-public address (a request forged on the server's behalf could reach what only the
server's network reaches), unless its host is allowed by
``PLANPULSE_WEBHOOK_ALLOWED_HOSTS``.

The host is resolved when a subscription is made and again before every attempt (DNS
changes), and the attempt connects to the very addresses checked, so that a name that
resolves differently a moment later (DNS rebinding) cannot slip past."""

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) → the addresses it resolves to."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL may not be delivered to; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where an attempt connects: ``url`` with the checked address in place of the host
    (or the URL as it is, for an allowed host), the ``Host`` header and the name TLS
    checks the certificate against."""

    url: str
    host_header: str
    tls_name: str | None


def system_resolver(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(f"the host {host!r} does not resolve") from error
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def public(address: IPAddress) -> bool:
    """Whether ``address`` is on the public internet (not loopback, private, link-local,
    shared, reserved, multicast or unspecified)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str) -> tuple[str, str, int]:
    """The scheme, host (lower case, no brackets) and port of an http(s) URL, or
    :class:`Refused`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Refused(f"not a URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise Refused("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise Refused("must not carry a user name or password")
    if parts.fragment:
        raise Refused("must not have a fragment (#...)")
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def target(url: str, *, allowed_hosts: Sequence[str],
           resolve: Resolver | None = None) -> Target:
    """Where to connect for ``url``, or :class:`Refused` saying why not; ``resolve``:
    :func:`system_resolver` unless told."""
    scheme, host, port = check_url(url)
    parts = urlsplit(url)
    netloc_host = parts.netloc.rpartition("@")[2]
    if host in allowed_hosts:
        return Target(url, netloc_host, None)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    resolve = resolve or system_resolver
    addresses = [str(literal)] if literal is not None else list(resolve(host, port))
    if not addresses:
        raise Refused(f"the host {host!r} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not public(address):
            shown = host if literal is not None else f"{host} ({address})"
            raise Refused(f"{shown} is a loopback, private or reserved address; allow the "
                          "host with PLANPULSE_WEBHOOK_ALLOWED_HOSTS if it is meant")
    chosen = ipaddress.ip_address(addresses[0].split("%", 1)[0])
    pinned = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    explicit_port = f":{parts.port}" if parts.port is not None else ""
    pinned_url = parts._replace(netloc=f"{pinned}{explicit_port}").geturl()
    return Target(pinned_url, netloc_host, host if scheme == "https" else None)
