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
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            metavar="SPEC",
            help="Inject faults, e.g. '429=0.1:0,503=0.05,reset-before=0.05,"
            "reset-after=0.05,slow=0.02:2s,ws-drop=0.01,seed=7' (see docs/emulator.md).",
            show_default=False,
        ),
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option(
            "--script",
            metavar="FILE.yaml",
            dir_okay=False,
            help="What the live session's agent hears and says, turn by turn (transcripts,"
            " replies, tool calls; see docs/emulator.md). Default: it describes the audio.",
            show_default=False,
        ),
    ] = None,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve https (and wss) with a self-signed certificate made at start, next to"
            " the --db file; clients trust it with --ca-cert PATH (needs openssl).",
        ),
    ] = False,
    allow_loopback_tools: Annotated[
        bool,
        typer.Option(
            "--allow-loopback-tools",
            help="Let HTTP tools use http://127.0.0.1 URLs (the emulator calls them).",
        ),
    ] = False,
    page_size: Annotated[
        int | None,
        typer.Option(
            "--page-size", min=1, max=200, metavar="N",
            help="The most items one page of a list holds, and the default limit (the"
            " service: 50 by default, at most 200); small pages test a client's paging.",
        ),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            metavar="X",
            min=0.01,
            max=1000.0,
            help="Run live sessions X times faster: the agent speaks faster and audio may"
            " arrive X times faster than real time (for connect --speed X). Default: the"
            " script's speed, else 1.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the REST API (and the live session) on HOST:PORT until Ctrl-C."""
    import sqlite3

    from agentctl.emulator.faults import parse_faults
    from agentctl.emulator.server import serve as run
    from agentctl.errors import UnavailableError, UsageError

    fault_config = parse_faults(faults) if faults else None  # a bad SPEC: exit 2 before binding
    live: dict[str, object] | None = (
        {"script": _load_script(script)} if script is not None else None)
    if speed is not None:
        live = {**(live or {}), "speed": speed}

    keys = list(api_key or [])
    if db is None:
        from agentctl.settings import emulator_db

        db = emulator_db()  # the same state as --local
    try:
        db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the db holds secrets
    except OSError as exc:
        raise UsageError(
            f"cannot create {db.parent}: {exc.strerror or exc}", hint="choose another --db"
        ) from exc
    try:
        run(host, port, db, api_keys=keys or None, faults=fault_config, live=live,
            allow_loopback_tools=allow_loopback_tools, tls=tls, page_size=page_size)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot use {db} as the emulator database: {exc}") from exc
    except OSError as exc:
        raise UnavailableError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="is another emulator running? choose another --port",
        ) from exc


def _load_script(path: Path) -> object:
    """The live session's script, checked before the server starts (a bad one: exit 3)."""
    from agentctl.emulator.script import ScriptError, load_script
    from agentctl.errors import SpecError

    try:
        return load_script(path)
    except ScriptError as exc:
        raise SpecError(str(exc), hint="see docs/emulator.md: Live sessions") from None
