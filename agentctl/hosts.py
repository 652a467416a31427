"""What a host name says about where it is, judged from the name alone (no DNS).

Shared by the settings (the key goes over plain http only to loopback) and the spec rules
(an HTTP tool must not point into a private network), so it sits below both.
"""

from __future__ import annotations

import ipaddress

_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_private_host(host: str) -> bool:
    """Private, loopback, link-local or reserved."""
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith(_PRIVATE_SUFFIXES) or "." not in lowered:
        # a single-label name only resolves on a private network
        try:
            ipaddress.ip_address(lowered)
        except ValueError:
            return True
    try:
        ip = ipaddress.ip_address(lowered)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast
