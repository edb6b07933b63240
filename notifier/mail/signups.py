"""Who a sign-up limit counts: a Telegram user, an IPv4 address, an IPv6 /64, and everyone together.

An IPv6 client usually holds a whole /64 (privacy addresses change by the hour), so counting single
addresses would give one person 2^64 budgets; an IPv4-mapped IPv6 address is its IPv4 address.
"""

from __future__ import annotations

import ipaddress

# What one IPv6 subscriber is routed: a /64 (RFC 6177 suggests /48 to /64 per site).
IPV6_PREFIX = 64


def ip_limit_key(ip: str) -> str:
    """The key the per-IP limit counts for `ip`: the address for IPv4, the /64 for IPv6, else the text."""
    try:
        address = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)
