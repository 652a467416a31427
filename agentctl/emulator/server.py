"""Run the emulator: in a background thread (`start`, for tests and `--local`) or in the
foreground (`serve`, for `agentctl emulator serve`).

`start` binds the socket itself, so `port=0` works and the real port is known before it
returns, then runs Hypercorn with the Starlette app on its own event loop in a daemon
thread. Importing this module is cheap: the server stack is imported inside functions.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    import socket

    from starlette.applications import Starlette

    from agentctl.emulator.faults import FaultConfig
    from agentctl.emulator.store import Store

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def _url_host(host: str) -> str:
    host = _WILDCARD_HOSTS.get(host, host)
    return f"[{host}]" if ":" in host else host


def _bind(host: str, port: int) -> socket.socket:
    import socket

    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class RunningEmulator:
    """A running emulator: its URLs, state and request log; `stop()` or use `with`."""

    def __init__(
        self,
        *,
        sock: socket.socket,
        host: str,
        store: Store,
        app: Starlette,
        temp_dir: str | None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self._sock = sock
        self.port: int = sock.getsockname()[1]
        self.host = host
        self.store = store
        self.app = app
        self.db_path = store.path
        self._temp_dir = temp_dir
        self.tls = tls  # (certificate, key) files: https and wss
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name=f"agentctl-emulator-{self.port}", daemon=True
        )

    # -- public -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{_url_host(self.host)}:{self.port}"

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.tls else "ws"
        return f"{scheme}://{_url_host(self.host)}:{self.port}/v1/ws"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request log: `{"method", "path", "status"}` per request, oldest first."""
        return self.app.state.emulator.requests

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions the app turned into 500s (should stay empty)."""
        return self.app.state.emulator.errors

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server thread ends (or `timeout`); True if it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Shut down cleanly: stop serving, join the thread, close the DB. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(event.set)
        if self._thread.ident is not None:
            self._thread.join(STOP_TIMEOUT)
        self._sock.close()
        self.store.close()
        if self._temp_dir is not None:
            import shutil

            shutil.rmtree(self._temp_dir, ignore_errors=True)
        if self._thread.is_alive():
            raise RuntimeError(f"the emulator thread did not stop within {STOP_TIMEOUT} s")

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningEmulator {self.base_url} db={self.db_path} {state}>"

    # -- the server thread ------------------------------------------------------------------

    def _start(self) -> None:
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the emulator did not start within {READY_TIMEOUT} s")
        if self._failure is not None:
            failure = self._failure
            self.stop()
            raise RuntimeError(f"the emulator failed to start: {failure}") from failure

    def _run(self) -> None:
        import asyncio
        import signal

        if hasattr(signal, "pthread_sigmask"):
            # Ctrl-C and SIGTERM belong to the main thread (see `serve`); delivered here,
            # the main thread would only notice them at its next wake-up.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by _start, or lost after a clean start
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        import asyncio
        import logging
        import os

        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        from agentctl.emulator.reasons import install as install_reason_phrases

        install_reason_phrases()  # `HTTP/1.1 401 Unauthorized`, not `HTTP/1.1 401 `
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        config = Config()
        # Hypercorn wraps (and on shutdown closes) a duplicate of our listening socket.
        config.bind = [f"fd://{os.dup(self._sock.fileno())}"]
        config.accesslog = None
        config.errorlog = logging.getLogger("agentctl.emulator.server")
        config.graceful_timeout = 2.0
        config.include_server_header = False
        if self.tls is not None:
            config.certfile, config.keyfile = (str(p) for p in self.tls)
        await serve(self.app, config, shutdown_trigger=self._until_stopped, mode="asgi")

    async def _until_stopped(self) -> None:
        # Hypercorn awaits this once every listener is serving: that is "ready".
        self._ready.set()
        assert self._stop_event is not None
        await self._stop_event.wait()


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    db_path: str | Path | None = None,
    *,
    api_keys: Collection[str] | None = None,
    faults: str | FaultConfig | None = None,
    tls: bool | tuple[Path, Path] | None = None,
    **options: Any,
) -> RunningEmulator:
    """Start an emulator in a background thread; returns once it accepts connections.

    `db_path=None`: a private temporary database, deleted on `stop()`. `api_keys`: the
    keys accepted (None: any well-formed key). `faults`: a fault-injection SPEC (see
    `faults.py`; the config is then `running.app.state.faults`). `options` go to
    `app.create_app` (e.g. `allow_loopback_tools=True`).
    """
    import shutil
    import tempfile

    from agentctl.emulator.app import create_app
    from agentctl.emulator.faults import install as install_faults
    from agentctl.emulator.store import Store

    temp_dir = None
    if db_path is None:
        temp_dir = tempfile.mkdtemp(prefix="agentctl-emulator-")
        db_path = Path(temp_dir) / "emulator.sqlite3"
    if tls is True:  # a certificate made now, next to the database (emulator/tls.py)
        from agentctl.emulator.tls import make_certificate

        tls = make_certificate(Path(db_path).parent, host)
    store: Store | None = None
    sock = None
    try:
        sock = _bind(host, port)
        store = Store(db_path)
        app = create_app(store, api_keys=api_keys, **options)
        install_faults(app, faults)
    except BaseException:
        if sock is not None:
            sock.close()
        if store is not None:
            store.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    emulator = RunningEmulator(sock=sock, host=host, store=store, app=app, temp_dir=temp_dir,
                               tls=tls or None)
    emulator._start()
    return emulator


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    db_path: str | Path | None = None,
    *,
    api_keys: Collection[str] | None = None,
    faults: str | FaultConfig | None = None,
    **options: Any,
) -> None:
    """Run the emulator in the foreground until Ctrl-C or SIGTERM; then stop cleanly."""
    import signal

    emulator = start(host, port, db_path, api_keys=api_keys, faults=faults, **options)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_term = None
    try:
        print(
            f"Emulator listening on {emulator.base_url} (db: {emulator.db_path})",
            file=sys.stderr,
            flush=True,
        )
        if host in _WILDCARD_HOSTS:
            for line in _exposed_notice(host, emulator.port):
                print(line, file=sys.stderr, flush=True)
        if emulator.tls is not None:
            cert = emulator.tls[0]
            print(f"TLS certificate: {cert} (trust it: --ca-cert {cert})", file=sys.stderr,
                  flush=True)
        injected = emulator.app.state.faults
        if injected is not None:
            print(f"Injecting faults: {injected.describe()}", file=sys.stderr, flush=True)
        if in_main_thread:
            previous_term = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        while not emulator.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        previous_int = None
        if in_main_thread:  # a second Ctrl-C must not interrupt the clean shutdown
            previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            emulator.stop()
        finally:
            if in_main_thread:
                signal.signal(signal.SIGINT, previous_int)
                if previous_term is not None:
                    signal.signal(signal.SIGTERM, previous_term)


def _exposed_notice(host: str, port: int) -> list[str]:
    """`serve --host 0.0.0.0`: the address other machines use, and what that exposes."""
    shown = _url_host(_outward_address(host) or host)
    return [
        f"From other machines: http://{shown}:{port} (listening on every interface)",
        "warning: anyone who can reach this machine can use this emulator, over plain "
        "http (keys and header values travel in the clear); /_emulator/* answers "
        "loopback clients only",
    ]


def _outward_address(host: str) -> str | None:
    """This machine's address on its default route (no packet is sent), or None."""
    import socket

    family = socket.AF_INET6 if host == "::" else socket.AF_INET
    probe = "2001:db8::1" if family == socket.AF_INET6 else "192.0.2.1"
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((probe, 9))
            address = sock.getsockname()[0]
    except OSError:
        return None
    return None if address in ("0.0.0.0", "::") else address


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def agent_names(db_path: Path) -> list[tuple[str, str]]:
    """(id, name) of each agent in an emulator database, read without serving it: Tab
    completion under --local (the store is the emulator's own; callers go through here)."""
    from agentctl.emulator.store import Store

    with Store(db_path, busy_timeout_ms=500) as store:
        return [(a["id"], a["name"]) for a in store.list_agents()]


def platform_records(db_path: Path, kind: str) -> list[dict[str, Any]]:
    """The records of one kind ("session", "number", ...) in an emulator database, newest
    first, read without serving it: Tab completion under --local."""
    from agentctl.emulator.resources import ResourceStore

    store = ResourceStore(db_path)
    try:
        return [record for _, record in store.items(kind)]
    finally:
        store.close()
