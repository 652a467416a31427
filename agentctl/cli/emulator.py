"""`agentctl emulator ...`: run the local stand-in for the Voice Agent API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Run the local stand-in for the Voice Agent API.", no_args_is_help=True)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8765,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            metavar="PATH",
            dir_okay=False,
            help="SQLite file holding the agents (default: emulator.sqlite3 in the user"
            " data directory).",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help="Accept only this key; repeatable (default: any well-formed key).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the REST API (and the live session) on HOST:PORT until Ctrl-C."""
    import sqlite3

    from agentctl.emulator.server import serve as run
    from agentctl.errors import UnavailableError, UsageError

    keys = list(api_key or [])
    if not keys:
        # `agentctl emulator serve --api-key K`: main() hoists `--api-key` (also a global
        # option) in front of the subcommand, so it arrives as the root's flag.
        flags = getattr(ctx.find_root().obj, "flags", None)
        root_key = flags.get("api_key") if isinstance(flags, dict) else None
        if isinstance(root_key, str) and root_key:
            keys = [root_key]
    if db is None:
        import platformdirs

        db = platformdirs.user_data_path("agentctl") / "emulator.sqlite3"
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create {db.parent}: {exc.strerror or exc}", hint="choose another --db"
        ) from exc
    try:
        run(host, port, db, api_keys=keys or None)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot use {db} as the emulator database: {exc}") from exc
    except OSError as exc:
        raise UnavailableError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="is another emulator running? choose another --port",
        ) from exc
