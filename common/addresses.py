"""Whether a URL may be called from inside our network: http(s), and only public addresses."""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


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


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolves_public(host: str, port: int | None) -> bool:
    """True when every address `host` resolves to is public; OSError when it does not resolve."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return all(is_public(info[4][0]) for info in infos)
