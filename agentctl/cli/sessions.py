"""`agentctl sessions`: what happened on an account's sessions (history, transcripts,
recordings)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentctl.cli.complete import complete_agents, complete_sessions
from agentctl.cli.options import OutputOpt, YesOpt
from agentctl.cli.state import get_state
from agentctl.render.output import OutputMode

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI

app = typer.Typer(help="Session history: list, summaries, transcripts, recordings.",
                  no_args_is_help=True)

SessionArg = Annotated[str, typer.Argument(
    metavar="SESSION_ID", help="A session id (sess_...).", autocompletion=complete_sessions)]


class Status(StrEnum):
    created = "created"
    completed = "completed"


def agent_names(api: AgentsAPI) -> dict[str, str]:
    return {str(a.get("id")): str(a.get("name") or "") for a in api.list_agents()}


@app.command("list", epilog="""\b
Examples:
  agentctl sessions list
  agentctl sessions list --agent support --status completed --limit 20
  agentctl sessions list -o id | head -1""")
def list_(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option(
        "--agent", metavar="AGENT", help="Only this agent's sessions (name or id).",
        autocompletion=complete_agents)] = None,
    status: Annotated[Status | None, typer.Option(
        "--status", help="created (connected now) or completed.")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="At most N sessions (default: every page).")] = None,
    output: OutputOpt = OutputMode.table,
) -> None:
    """List sessions, newest first: id, agent, status, duration, close reason, started."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    agent_id = str(api.resolve(agent)["id"]) if agent else None
    items = list(platform.list_sessions(api, agent_id=agent_id,
                                        status=status.value if status else None, limit=limit))
    names = agent_names(api) if not out.machine else {}
    view.show_items(out, items, view.SESSION_COLUMNS, view.session_row(names),
                    empty="no sessions")


@app.command(epilog="""\b
Examples:
  agentctl sessions get sess_0123...
  agentctl sessions get sess_0123... -o json""")
def get(ctx: typer.Context, session_id: SessionArg, output: OutputOpt = OutputMode.table) -> None:
    """Show one session: a summary, or the record (config as it ran, artifacts) with -o."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    record = platform.get_session(api, session_id)
    name = None
    if not out.machine and record.get("agent_id"):
        name = agent_names(api).get(str(record["agent_id"])) or None
    view.show_one(out, record, view.session_summary(record, name))


@app.command(epilog="""\b
Examples:
  agentctl sessions transcript sess_0123...
  agentctl sessions transcript sess_0123... -o json   # the timeline itself""")
def transcript(ctx: typer.Context, session_id: SessionArg,
               output: OutputOpt = OutputMode.table) -> None:
    """The conversation from the session's timeline: who said what, when, tool calls."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    timeline = platform.read_artifact_json(api, platform.get_session(api, session_id),
                                           "timeline")
    out.document(timeline, text=view.transcript_lines(
        timeline if isinstance(timeline, dict) else {}))


_SUFFIXES = {"audio/ogg": ".ogg", "audio/wav": ".wav", "audio/x-wav": ".wav",
             "audio/mpeg": ".mp3"}


@app.command(epilog="""\b
Examples:
  agentctl sessions download sess_0123...
  agentctl sessions download sess_0123... --dir recordings --force""")
def download(
    ctx: typer.Context,
    session_id: SessionArg,
    directory: Annotated[Path, typer.Option(
        "--dir", metavar="DIR", file_okay=False, help="Where to write (default: here).")]
    = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Save the recording, timeline and metadata: SESSION_ID.<ext>, .timeline.json,
    .metadata.json (atomically; existing files only with --force)."""
    import io
    import os

    from agentctl.api import platform
    from agentctl.errors import UsageError
    from agentctl.fileio import path_in, write_atomic

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    session = platform.get_session(api, session_id)
    audio = platform.artifact_of(session, "audio")
    suffix = _SUFFIXES.get(str((audio or {}).get("content_type")), ".audio")
    plan = [("audio", suffix), ("timeline", ".timeline.json"), ("metadata", ".metadata.json")]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror or exc}") from None
    targets = {kind: path_in(directory, str(session.get("id")), ext) for kind, ext in plan}
    if not force:  # refuse before fetching anything, so no half set is written
        for target in targets.values():
            if os.path.lexists(target):
                raise UsageError(f"refusing to overwrite {target}: it exists",
                                 hint="pass --force to replace it")
    written = []
    progress = _progress(out) if out.is_tty(out.stderr) else None
    for kind, _ in plan:
        buffer = io.BytesIO()
        platform.fetch_artifact(api, session, kind, buffer,
                                on_progress=progress if kind == "audio" else None)
        if progress is not None and kind == "audio":
            out.stderr.write("\r\x1b[2K")
        written.append(write_atomic(targets[kind], buffer.getvalue(), force=force))
    if out.machine:
        out.data({kind: str(path) for (kind, _), path in zip(plan, written, strict=True)})
    else:
        for path in written:
            out.success(f"wrote {path}")


def _progress(out: Any) -> Any:
    def show(done: int, total: int | None) -> None:
        share = f" {100 * done // total}%" if total else ""
        out.stderr.write(f"\r\x1b[2Kdownloading audio:{share} {done // 1024} KiB")
        out.stderr.flush()
    return show


@app.command(epilog="""\b
Examples:
  agentctl sessions delete sess_0123... --yes""")
def delete(
    ctx: typer.Context,
    session_ids: Annotated[list[str], typer.Argument(
        metavar="SESSION_ID...", help="Session ids.", autocompletion=complete_sessions)],
    yes: YesOpt = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Delete sessions and their recordings (asks first on a terminal; --yes elsewhere)."""
    from agentctl.api import platform
    from agentctl.exit_codes import ExitCode

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    targets = list(dict.fromkeys(session_ids))
    for session_id in targets:
        platform.get_session(api, session_id)  # each exists: exit 5 before deleting any
    if not yes and not out.confirm(f"Delete {len(targets)} session(s) and their recordings:"
                                   f" {', '.join(targets)}?"):
        out.info("nothing deleted")
        raise typer.Exit(int(ExitCode.USAGE))
    for session_id in targets:
        platform.delete_session(api, session_id)
        out.result(f"deleted session {session_id}", gone=[{"id": session_id}], name_key="id")
