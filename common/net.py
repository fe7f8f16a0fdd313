"""Which addresses a URL given to us may reach: public ones only, never our own network."""

import asyncio
import ipaddress
import socket


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolves_public(host: str, port: int) -> bool:
    """Whether every address `host` resolves to is public; False when it does not resolve."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(is_public(str(info[4][0])) for info in infos)
