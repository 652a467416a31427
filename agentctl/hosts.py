"""What a host name says about where it is, judged from the name alone (no DNS).

Shared by the settings (the key goes over plain http only to loopback) and the spec rules
(an HTTP tool must not point into a private network), so it sits below both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ipaddress

_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host name spells, if it is an IP literal."""
    # Most names are not: skip ipaddress's two failed parses (exceptions; validate meets
    # thousands of tool URLs).
    if ":" not in host and not host.replace(".", "").isdigit():
        return None
    import ipaddress

    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def is_private_host(host: str) -> bool:
    """Private, loopback, link-local or reserved."""
    lowered = host.lower().rstrip(".")
    ip = _ip(lowered)
    if ip is None:
        # a single-label name only resolves on a private network
        return lowered == "localhost" or lowered.endswith(_PRIVATE_SUFFIXES) or (
            "." not in lowered)
    if ip.version == 6 and ip.ipv4_mapped:  # type: ignore[union-attr]
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast
