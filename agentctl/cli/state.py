"""Per-run state on ctx.obj: settings, the config file, and the lazily built API client."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI
    from agentctl.emulator.server import RunningEmulator
    from agentctl.profiles import Config
    from agentctl.render.output import Output, OutputMode
    from agentctl.settings import Settings

def _secret(value: str) -> None:
    """The key of this run: scrubbed from everything printed (render.redact)."""
    from agentctl.render.redact import register_secret

    register_secret(value)


@dataclass
class State:
    flags: dict[str, Any]
    _settings: Settings | None = None
    _config: Config | None = None
    _api: AgentsAPI | None = None
    _apis: dict[str, AgentsAPI] = field(default_factory=dict)
    _local: RunningEmulator | None = None  # the --local emulator, once started
    _closers: list[Any] = field(default_factory=list)

    # -- configuration ----------------------------------------------------------------
    @property
    def config(self) -> Config:
        if self._config is None:
            from agentctl import profiles

            self._config = profiles.load()
            for warning in self._config.warnings:
                self.output().warn(warning)
        return self._config

    @property
    def profile_name(self) -> str | None:
        return self.flags.get("profile") or os.environ.get("AGENTCTL_PROFILE") or (
            self.config.current
        )

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from agentctl.settings import resolve

            name = self.profile_name
            explicit = self.flags.get("profile") or os.environ.get("AGENTCTL_PROFILE")
            profile = self.config.profile(name) if explicit and name else (
                self.config.profiles.get(name or "", {})
            )
            self._settings = resolve(self.flags, os.environ, profile, name)
            if self._settings.api_key:
                _secret(self._settings.api_key)
        return self._settings

    def output(self, mode: OutputMode | str | None = None) -> Output:
        from agentctl.render.output import Output, OutputMode

        no_color = bool(self.flags.get("no_color")) or "NO_COLOR" in os.environ
        return Output(OutputMode(mode or OutputMode.table), no_color=no_color)

    # -- the API ----------------------------------------------------------------------
    def api(self) -> AgentsAPI:
        if self._api is None:
            self._api = self._build_api(self.settings)
        return self._api

    def api_for(self, profile_name: str) -> AgentsAPI:
        """A client for a named profile (`promote --from/--to`), one per profile per run.

        The profile's own base URL and key win over $AGENTCTL_BASE_URL and
        $ASSEMBLYAI_API_KEY here: those would otherwise point both sides of a promote at
        one account. A profile that sets neither still falls back to them.
        """
        if profile_name not in self._apis:
            from agentctl.settings import resolve

            profile = self.config.profile(profile_name)
            env = dict(os.environ)
            if profile.get("api_key") or profile.get("api_key_env"):
                env.pop("ASSEMBLYAI_API_KEY", None)
            if profile.get("base_url") or "local" in profile:
                env.pop("AGENTCTL_BASE_URL", None)
                env.pop("AGENTCTL_LOCAL", None)
            flags = {k: self.flags.get(k)
                     for k in ("timeout", "ca_cert", "verbose", "debug", "no_color")}
            settings = resolve(flags, env, profile, profile_name)
            if settings.api_key:
                _secret(settings.api_key)
            self._apis[profile_name] = self._build_api(settings, profile_name)
        return self._apis[profile_name]

    def _build_api(self, settings: Settings, profile_name: str | None = None) -> AgentsAPI:
        from agentctl.api.client import AgentsAPI
        from agentctl.api.transport import build_client
        from agentctl.errors import AuthError

        base_url = self.local_emulator_url() if settings.local else settings.base_url
        if not settings.api_key:
            if profile_name is not None:
                raise AuthError(
                    f"no API key for profile {profile_name!r}",
                    hint=f"agentctl config set api_key_env VAR --profile {profile_name}",
                )
            raise AuthError(
                "no API key",
                hint="set ASSEMBLYAI_API_KEY, pass --api-key, or use a profile "
                "(agentctl config set api_key_env VAR); --local needs none",
            )
        out = self.output()
        log = out.info if (settings.debug or settings.verbose) else None
        http = build_client(base_url, settings.api_key, settings.timeout, log=log,
                            ca_cert=settings.ca_cert)
        self._closers.append(http.close)
        return AgentsAPI(http, on_retry=out.warn if log else None)

    def base_url(self) -> str:
        return self.local_emulator_url() if self.settings.local else self.settings.base_url

    def local_emulator_url(self) -> str:
        """Start the embedded emulator (state in the data dir) once per run."""
        if self._local is not None:
            return self._local.base_url
        from agentctl.emulator import server
        from agentctl.profiles import data_dir

        directory = data_dir()
        directory.mkdir(parents=True, exist_ok=True)
        running = server.start(db_path=directory / "emulator.sqlite3")
        self._local = running
        self._closers.append(running)
        return running.base_url

    def close(self) -> None:
        for closer in reversed(self._closers):
            stop = getattr(closer, "stop", None)
            (stop or closer)()
        self._closers.clear()


def get_state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):  # a subcommand invoked without the root callback
        obj = State(flags={})
        ctx.find_root().obj = obj
    return obj
