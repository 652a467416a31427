"""The root app: global options and the registration table (reads like the contract)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from agentctl.cli import (
    agents,
    complete,
    emulator,
    gitops,
    live,
    meta,
    numbers,
    profiles,
    repo,
    sessions,
    testing,
    webhooks,
)
from agentctl.cli.complete import complete_profiles
from agentctl.cli.state import new_state
from agentctl.settings import GLOBAL_OPTIONS, GlobalOption

app = typer.Typer(
    name="agentctl",
    help="Manage AssemblyAI voice agents: create, inspect, change, deploy and talk to them.",
    no_args_is_help=True,
    add_completion=False,  # `agentctl completion SHELL` prints our (tested) scripts
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(ctx: typer.Context, value: bool) -> None:
    # `agentctl --version` is answered in cli.main before Typer is built; this is the
    # same answer for a run that reaches the app (one implementation: print_version).
    if value:
        from agentctl.cli import print_version
        from agentctl.cli.state import get_state

        print_version(get_state(ctx).env)
        raise typer.Exit()


def root(ctx: typer.Context, **flags: Any) -> None:
    # The environment variables are read by settings.resolve, not by Typer (envvar=), so
    # that --help never shows a key's value.
    flags.pop("version", None)
    state = new_state(ctx.obj, flags)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _global_parameter(option: GlobalOption) -> inspect.Parameter:
    """A root parameter from its one declaration in settings.GLOBAL_OPTIONS."""
    kind: Any = bool if not option.takes_value else option.kind | None
    declared = typer.Option(
        *option.flags, help=option.help_text(), show_default=False,
        autocompletion=_COMPLETERS.get(option.complete or ""),
    )
    return inspect.Parameter(option.field, inspect.Parameter.KEYWORD_ONLY,
                             default=False if kind is bool else None,
                             annotation=Annotated[kind, declared])


_COMPLETERS = {"profiles": complete_profiles}
root.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
    inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
    *(_global_parameter(o) for o in GLOBAL_OPTIONS),
    inspect.Parameter("version", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=(
        Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                     help="Print the version and exit.")])),
])
app.callback()(root)


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
app.command("init")(repo.init)
app.command("export")(repo.export)
app.command("test")(testing.test)
app.add_typer(sessions.app, name="sessions")
app.add_typer(numbers.app, name="numbers")
app.add_typer(numbers.calls_app, name="calls")
app.add_typer(webhooks.app, name="webhooks")
app.command("builtin-tools")(webhooks.builtin_tools)
app.add_typer(profiles.app, name="config")
app.add_typer(emulator.app, name="emulator")
app.command("completion")(complete.completion)
app.command("schema")(meta.schema)
