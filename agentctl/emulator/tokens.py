"""One-time temporary tokens (`GET /v1/token`), kept in memory like the service's.

A browser gets one from its own backend and connects with `wss://.../v1/ws?token=...`;
the WebSocket side calls `redeem`, which accepts each token once, before it expires.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

MIN_EXPIRES_IN_SECONDS = 1
MAX_EXPIRES_IN_SECONDS = 600
DEFAULT_EXPIRES_IN_SECONDS = 60


class TokenRegistry:
    """Issued tokens and their expiry times; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self, expires_in_seconds: float) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._prune(now)
            self._expiry[token] = now + expires_in_seconds
        return token

    def redeem(self, token: str) -> bool:
        """True once for a live token; False if unknown, already used or expired."""
        with self._lock:
            expiry = self._expiry.pop(token, None)
        return expiry is not None and self._clock() < expiry

    def __len__(self) -> int:
        with self._lock:
            self._prune(self._clock())
            return len(self._expiry)

    def _prune(self, now: float) -> None:
        for token in [t for t, expiry in self._expiry.items() if expiry <= now]:
            del self._expiry[token]
