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


class ResumeTokens:
    """The live session's `resume_token`s (voice-agent-api.md §15.7, §15.8).

    Each `session.ready` gets a new token and the session's previous one stops working.
    A token is spent by the upgrade it authenticates (single use). Every token ever
    issued is remembered, so a spent or replaced one is told apart from an API key (the
    emulator accepts any well-formed key) and refused with `unauthorized`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, str] = {}  # token -> session id
        self._current: dict[str, str] = {}  # session id -> its live token
        self._issued: set[str] = set()

    def issue(self, session_id: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            old = self._current.pop(session_id, None)
            if old is not None:
                self._live.pop(old, None)
            self._live[token] = session_id
            self._current[session_id] = token
            self._issued.add(token)
        return token

    def is_resume_token(self, value: str) -> bool:
        with self._lock:
            return value in self._issued

    def redeem(self, token: str) -> str | None:
        """The session id a live token resumes (spending it), or None."""
        with self._lock:
            session_id = self._live.pop(token, None)
            if session_id is not None:
                self._current.pop(session_id, None)
        return session_id

    def forget(self, session_id: str) -> None:
        """The session is over: its token no longer resumes anything."""
        with self._lock:
            token = self._current.pop(session_id, None)
            if token is not None:
                self._live.pop(token, None)
