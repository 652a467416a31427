"""Per-run state on ctx.obj: settings, the config file, and the lazily built API client."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from pathlib import Path

    from agentctl.api.client import AgentsAPI
    from agentctl.emulator.server import RunningEmulator
    from agentctl.profiles import Config
    from agentctl.render.output import Output, OutputMode
    from agentctl.settings import Environment, Settings


@dataclass
class State:
    flags: dict[str, Any]
    env: Environment
    _settings: Settings | None = None
    _config: Config | None = None
    _api: AgentsAPI | None = None
    _apis: dict[str, AgentsAPI] = field(default_factory=dict)
    _local: RunningEmulator | None = None  # the --local emulator, once started
    local_live: dict[str, Any] | None = None  # its live-session options (connect --speed)
    _closers: list[Any] = field(default_factory=list)

    # -- configuration ----------------------------------------------------------------
    @property
    def config(self) -> Config:
        if self._config is None:
            from agentctl import profiles

            self._config = profiles.load(profiles.config_path(self.env.environ))
            for warning in self._config.warnings:
                self.output().warn(warning)
        return self._config

    @property
    def profile_name(self) -> str | None:
        from agentctl.settings import profile_name

        return profile_name(self.flags, self.env.environ, self.config)[0]

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from agentctl.settings import for_run

            self._settings = for_run(self.flags, self.env.environ, self.config)
            self.env.secrets.add(self._settings.api_key)  # never printed
        return self._settings

    def output(self, mode: OutputMode | str | None = None) -> Output:
        from agentctl.render.output import Output, OutputMode
        from agentctl.settings import no_color

        return Output(OutputMode(mode or OutputMode.table),
                      no_color=no_color(self.flags, self.env.environ),
                      stdout=self.env.stdout, stderr=self.env.stderr, stdin=self.env.stdin,
                      secrets=self.env.secrets)

    def spec_environment(self, env_file: Path | None) -> dict[str, str]:
        """What ${VAR} in spec files sees: --env-file's values, overridden by the real
        environment (as docker compose does)."""
        from agentctl.spec.interpolate import build_env

        return build_env([str(env_file)] if env_file is not None else [], self.env.environ)

    # -- the API ----------------------------------------------------------------------
    def api(self) -> AgentsAPI:
        if self._api is None:
            self._api = self._build_api(self.settings)
        return self._api

    def api_for(self, profile_name: str) -> AgentsAPI:
        """A client for a named profile (`promote --from/--to`), one per profile per run."""
        if profile_name not in self._apis:
            from agentctl.settings import for_profile

            settings = for_profile(self.flags, self.env.environ, self.config, profile_name)
            self.env.secrets.add(settings.api_key)
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
        import sqlite3

        from agentctl.emulator import server
        from agentctl.fileio import private_dir
        from agentctl.settings import emulator_db

        db = emulator_db(self.env.environ)
        private_dir(db.parent)  # 700: the database (600) holds header values and LLM keys
        _tighten(db)
        if not self.settings.debug:
            _quiet_embedded_emulator()
        try:
            running = server.start(db_path=db, live=self.local_live)
        except sqlite3.Error as exc:  # not SQLite, damaged, or a newer agentctl's layout
            from agentctl.errors import UsageError

            raise UsageError(f"cannot use {db} as the local emulator's state: {exc}",
                             hint="move the file aside and agentctl starts a new one",
                             ) from None
        self._local = running
        self._closers.append(running)
        return running.base_url

    def close(self) -> None:
        for closer in reversed(self._closers):
            stop = getattr(closer, "stop", None)
            (stop or closer)()
        self._closers.clear()


def _tighten(path: Path) -> None:
    """A database an older version left readable by others (644) is made 600."""
    import stat

    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            for item in (path, path.with_name(path.name + "-wal"),
                         path.with_name(path.name + "-shm")):
                if item.exists():
                    item.chmod(0o600)
    except OSError:
        pass


def _quiet_embedded_emulator() -> None:
    """The --local emulator shares our stderr: its server's log (a request cut short by
    Ctrl-C, a connection closed at exit) must not print there. Python's last-resort
    handler prints a record nothing else handles; a NullHandler handles it. --debug keeps
    them. (Its real faults are still counted: `RunningEmulator.errors`.)"""
    import logging

    for name in ("agentctl.emulator", "asyncio"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


def get_state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):  # a subcommand invoked without the root callback
        root.obj = new_state(root.obj, {})
    return root.obj


def new_state(obj: object, flags: dict[str, Any]) -> State:
    """The run's State, on the Environment that `cli.main` passed as the context's obj."""
    from agentctl.settings import Environment

    env = obj if isinstance(obj, Environment) else Environment.from_process()
    return State(flags=flags, env=env)
