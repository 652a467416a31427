"""The rest of the API in the emulator: numbers, calls, sessions, webhooks, built-in tools.

`platform_routes` is what `app.create_app` adds to its routes; the `Platform` it builds
is on `EmulatorState.platform`, where the live session finds its `recorder`
(`sessions.SessionRecorder`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from starlette.routing import BaseRoute

from agentctl.emulator import calls, numbers, sessions, webhooks
from agentctl.emulator.app import EmulatorState
from agentctl.emulator.resources import ResourceStore, random_secret


@dataclass
class PlatformOptions:
    """Test hooks: `artifact_ttl` (seconds a presigned link lives), `expired_links` (the
    next N links are issued already expired, to test a client's fresh fetch)."""

    artifact_ttl: float = sessions.ARTIFACT_TTL
    expired_links: int = 0

    @classmethod
    def coerce(cls, value: PlatformOptions | Mapping[str, Any] | None) -> PlatformOptions:
        if isinstance(value, PlatformOptions):
            return value
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (value or {}).items() if k in known})


class Platform:
    def __init__(self, state: EmulatorState, live_options: Any = None,
                 options: PlatformOptions | Mapping[str, Any] | None = None) -> None:
        self.state = state
        self.live_options = live_options
        self.options = PlatformOptions.coerce(options)
        self.resources = ResourceStore(state.store.path)
        self.secret = random_secret()  # signs artifact links
        self.recorder = sessions.SessionRecorder(self)
        self.dispatcher = webhooks.Dispatcher(self)

    def webhook_event(self, event: str, session_id: str | None, agent_id: str | None,
                      data: dict[str, Any]) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # not on the server's loop (a unit test): nothing to deliver from
        self.dispatcher.emit(event, session_id, agent_id, data)

    def routes(self) -> list[BaseRoute]:
        return [*numbers.routes(self), *webhooks.routes(self), *sessions.routes(self),
                *calls.routes(self)]


def platform_routes(state: EmulatorState, live_options: Any = None,
                    options: Any = None) -> list[BaseRoute]:
    platform = Platform(state, live_options, options)
    state.platform = platform
    return platform.routes()
