"""config list|show|set|unset|use|path: profiles in the config file."""

from __future__ import annotations

from typing import Annotated

import typer

from agentctl.cli.complete import complete_profiles
from agentctl.cli.options import OutputOpt
from agentctl.cli.state import get_state
from agentctl.render.output import OutputMode, View

app = typer.Typer(
    help="Profiles: a base URL and where the key comes from, per account.",
    no_args_is_help=True,
)


def _target(ctx: typer.Context) -> str:
    """The profile a `config` command acts on: --profile, $AGENTCTL_PROFILE, current, default."""
    from agentctl.profiles import check_name

    state = get_state(ctx)
    return check_name(state.profile_name or "default")


PROFILES = View(("CURRENT", "NAME", "BASE URL", "KEY"), lambda rows: [
    ("*" if r["current"] else "", r["name"], r["base_url"] or "(default)", r["key"])
    for r in rows])


@app.command("list")
def list_profiles(ctx: typer.Context, output: OutputOpt = OutputMode.table) -> None:
    """List profiles; the current one is marked with *."""
    state = get_state(ctx)
    out = state.output(output)
    config = state.config
    rows = []
    for name in sorted(config.profiles):
        values = config.profiles[name]
        rows.append({
            "name": name,
            "current": name == config.current,
            "base_url": values.get("base_url", ""),
            "key": _key_source(values),
        })
    out.records([rows], view=PROFILES, id_key="name")  # a profile's name is its id


def _key_source(values: dict) -> str:
    if values.get("api_key"):
        return "stored in config (***)"
    if values.get("api_key_env"):
        return f"${values['api_key_env']}"
    return "$ASSEMBLYAI_API_KEY"


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(
        help="Profile (default: the current one).", autocompletion=complete_profiles)]
    = None,
    output: OutputOpt = OutputMode.yaml,
) -> None:
    """Show a profile's settings (a stored key shows as ***)."""
    state = get_state(ctx)
    out = state.output(output)
    target = name or _target(ctx)
    values = dict(state.config.profile(target))
    if "api_key" in values:
        values["api_key"] = "***"
    record = {"name": target, "current": target == state.config.current, **values}
    out.record(record, summary=lambda r: [(k, str(v)) for k, v in r.items()],
               id_key="name", headers=("SETTING", "VALUE"))


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(
        help="base_url, api_key, api_key_env, timeout or local.")],
    value: Annotated[str, typer.Argument(help="The value; for api_key, - reads it from stdin.")],
) -> None:
    """Set a setting in a profile (--profile NAME, default: the current one or 'default')."""
    import sys

    from agentctl import profiles

    state = get_state(ctx)
    out = state.output()
    target = _target(ctx)
    if key == "api_key" and value == "-":
        value = sys.stdin.readline().strip()
    coerced = profiles.coerce(key, value)
    with profiles.editing(state.config.path) as config:  # locked: concurrent sets all land
        config.profiles.setdefault(target, {})[key] = coerced
        if config.current is None:
            config.current = target
    shown = "***" if key == "api_key" else value
    out.success(f"profile {target!r}: {key} = {shown}")


@app.command("unset")
def unset(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The setting to remove.")],
) -> None:
    """Remove a setting from a profile."""
    from agentctl import profiles

    state = get_state(ctx)
    target = _target(ctx)
    with profiles.editing(state.config.path) as config:
        config.profile(target).pop(key, None)
    state.output().success(f"profile {target!r}: {key} unset")


@app.command("use")
def use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
        help="The profile to make current.", autocompletion=complete_profiles)],
) -> None:
    """Make a profile the current one."""
    from agentctl import profiles

    state = get_state(ctx)
    with profiles.editing(state.config.path) as config:
        config.profile(name)
        config.current = name
    state.output().success(f"current profile: {name}")


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the config file's path."""
    from agentctl.profiles import config_path

    get_state(ctx).output().lines([str(config_path())])
