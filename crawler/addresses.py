"""Which IP addresses a crawl may connect to.

A feed is untrusted input: an entry pointing at 127.0.0.1, 10.0.0.5 or the cloud metadata service
(169.254.169.254) must not make the crawler an SSRF proxy. `allow_private_addresses` opens
loopback and private ranges (an intranet deployment, tests); link-local, multicast, reserved and
unspecified addresses are never web servers and stay refused whatever the config says.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal_reason(address: str, *, allow_private: bool) -> str | None:
    """Why `address` must not be contacted, or None if it may be. Unparsable -> refused."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"not an IP address: {address!r}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for label, hit in (
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved and not ip.is_loopback),
    ):
        if hit:
            return f"{label} address {ip}"
    if ip.is_global:
        return None
    if allow_private:
        return None
    kind = "loopback" if ip.is_loopback else "private"
    return f"{kind} address {ip} (allow_private_addresses is off)"


def literal_ip(host: str) -> str | None:
    """The host itself if it is an IP literal (brackets stripped), else None."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        return None
    return bare
