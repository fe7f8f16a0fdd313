"""Which addresses a URL given to us may reach: public ones only, never our own network."""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolves_public(host: str, port: int | None) -> bool:
    """Whether every address `host` resolves to is public; False when it does not resolve."""
    return await public_or_unresolved(host, port) is True


async def public_or_unresolved(host: str, port: int | None) -> bool | None:
    """Whether every address `host` resolves to is public; None when it does not resolve (a
    caller may try again later)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return None
    return bool(infos) and all(is_public(str(info[4][0])) for info in infos)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, lower-case host, port with the scheme's default)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port out of range
        return parts.scheme, "", None
    return (
        parts.scheme,
        (parts.hostname or "").lower(),
        port or {"http": 80, "https": 443}.get(parts.scheme),
    )
