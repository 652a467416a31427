"""The root app: global options and the registration table (reads like the contract)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentctl import __version__
from agentctl.cli import (
    agents,
    complete,
    emulator,
    gitops,
    live,
    meta,
    numbers,
    profiles,
    sessions,
    webhooks,
)
from agentctl.cli.complete import complete_profiles
from agentctl.cli.state import State

app = typer.Typer(
    name="agentctl",
    help="Manage AssemblyAI voice agents: create, inspect, change, deploy and talk to them.",
    no_args_is_help=True,
    add_completion=False,  # `agentctl completion SHELL` prints our (tested) scripts
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        import sys

        sys.stdout.write(f"agentctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option(
        "--profile", "-p", envvar="AGENTCTL_PROFILE", help="Named profile from the config file.",
        show_envvar=True, autocompletion=complete_profiles)] = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", help="API key (default: $ASSEMBLYAI_API_KEY). Never echoed.",
        show_default=False)] = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="API host (default: https://agents.assemblyai.com; "
        "$AGENTCTL_BASE_URL).")] = None,
    local: Annotated[bool, typer.Option(
        "--local", help="Use the embedded emulator ($AGENTCTL_LOCAL=1).")] = False,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", help="Seconds per request (default 30; $AGENTCTL_TIMEOUT).")] = None,
    ca_cert: Annotated[str | None, typer.Option(
        "--ca-cert", metavar="PEM", help="Trust the certificates in this file for https "
        "(e.g. the one `emulator serve --tls` prints; $AGENTCTL_CA_BUNDLE).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr.")]
    = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="HTTP traffic (key redacted) and tracebacks on stderr.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output ($NO_COLOR).")]
    = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")]
    = False,
) -> None:
    # api_key/profile are read here and not from envvar= so that --help never shows them.
    state = State(flags={
        "profile": profile, "api_key": api_key, "base_url": base_url, "local": local,
        "timeout": timeout, "ca_cert": ca_cert, "verbose": verbose, "debug": debug,
        "no_color": no_color,
    })
    ctx.obj = state
    ctx.call_on_close(state.close)


# The registration table.
app.command("create")(agents.create)
app.command("list")(agents.list_)
app.command("get")(agents.get)
app.command("update")(agents.update)
app.command("delete")(agents.delete)
app.command("connect")(live.connect)
app.command("diff")(gitops.diff)
app.command("apply")(gitops.apply)
app.command("validate")(gitops.validate)
app.command("promote")(gitops.promote)
app.add_typer(sessions.app, name="sessions")
app.add_typer(numbers.app, name="numbers")
app.add_typer(numbers.calls_app, name="calls")
app.add_typer(webhooks.app, name="webhooks")
app.command("builtin-tools")(webhooks.builtin_tools)
app.add_typer(profiles.app, name="config")
app.add_typer(emulator.app, name="emulator")
app.command("completion")(complete.completion)
app.command("schema")(meta.schema)
