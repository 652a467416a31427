"""`agentctl webhooks` (subscriptions, deliveries, verifying a signature) and
`agentctl builtin-tools`.

A webhook secret is never taken from the command line (it would sit in the shell's
history and in `ps`) and never printed: it comes from `--secret-env VAR` or stdin.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agentctl.cli.complete import complete_agents, complete_sessions
from agentctl.cli.options import OutputOpt, YesOpt
from agentctl.cli.state import get_state
from agentctl.render.output import OutputMode

if TYPE_CHECKING:
    from agentctl.render.output import Output

app = typer.Typer(help="Webhook subscriptions, their deliveries, and checking signatures.",
                  no_args_is_help=True)


class Event(StrEnum):
    session_started = "session.started"
    session_completed = "session.completed"
    call_connected = "call.connected"
    call_ended = "call.ended"
    call_failed = "call.failed"


SecretEnvOpt = Annotated[str | None, typer.Option(
    "--secret-env", metavar="VAR",
    help="Read the secret from this environment variable (otherwise from stdin).")]
SubscriptionArg = Annotated[str, typer.Argument(
    metavar="SUBSCRIPTION_ID", help="A subscription id (whs_...).")]


def read_secret(ctx: typer.Context, out: Output, env_var: str | None, *,
                what: str = "webhook secret") -> str:
    """The secret from $VAR, else stdin (a hidden prompt on a terminal); never argv. It
    joins the run's secrets, so no output or error line of this run can show it."""
    import os
    import sys

    from agentctl.errors import UsageError

    if env_var is not None:
        value = os.environ.get(env_var)
        if not value:
            raise UsageError(f"--secret-env {env_var}: the variable is not set or empty",
                             hint=f"export {env_var}=... first")
    elif out.is_tty(out.stdin):
        import getpass

        value = getpass.getpass(f"{what}: ", stream=sys.stderr)
    else:
        value = out.stdin.readline().rstrip("\r\n")
        if not value:
            raise UsageError(f"no {what} on stdin", hint="pipe it in, or pass --secret-env VAR")
    get_state(ctx).env.secrets.add(value)
    return value


@app.command("list", epilog="""\b
Examples:
  agentctl webhooks list
  agentctl webhooks list -o json""")
def list_(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N.")] = None,
    output: OutputOpt = OutputMode.table,
) -> None:
    """List webhook subscriptions, disabled ones too (the secret is never shown)."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    items = list(platform.list_webhooks(state.api(), limit=limit))
    view.show_items(out, items, view.WEBHOOK_COLUMNS, view.webhook_row, name_key="url",
                    empty="no webhook subscriptions")


@app.command(epilog="""\b
Examples:
  export HOOK_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  agentctl webhooks create --url https://example.com/hooks \\
      --event session.completed --event call.ended --secret-env HOOK_SECRET
  printf '%s\\n' "$HOOK_SECRET" | agentctl webhooks create --url https://example.com/h \\
      --event session.started --agent support""")
def create(
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", help="Where deliveries go (https).")],
    events: Annotated[list[Event], typer.Option(
        "--event", help="An event to deliver; repeatable.")],
    agent: Annotated[str | None, typer.Option(
        "--agent", metavar="AGENT", help="Only this agent's sessions (default: every agent).",
        autocompletion=complete_agents)] = None,
    secret_env: SecretEnvOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off.")]
    = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Subscribe a URL to events; deliveries are signed with the secret (X-AAI-Signature)."""
    from agentctl.api import platform

    state = get_state(ctx)
    out = state.output(output)
    secret = platform.check_webhook_secret(read_secret(ctx, out, secret_env))
    body: dict = {"url": url, "events": list(dict.fromkeys(e.value for e in events)),
                  "secret": secret, "enabled": not disabled}
    api = state.api()
    if agent is not None:
        body["agent_id"] = str(api.resolve(agent)["id"])
    record = platform.create_webhook(api, body)
    out.result(f"created webhook subscription {record.get('id')} for {record.get('url')}",
               records=[record], name_key="id")


@app.command(epilog="""\b
Examples:
  agentctl webhooks update whs_0123... --disable
  agentctl webhooks update whs_0123... --event session.completed
  agentctl webhooks update whs_0123... --rotate-secret --secret-env NEW_SECRET""")
def update(
    ctx: typer.Context,
    subscription_id: SubscriptionArg,
    url: Annotated[str | None, typer.Option("--url", help="A new URL.")] = None,
    events: Annotated[list[Event] | None, typer.Option(
        "--event", help="Replace the events; repeatable.")] = None,
    enabled: Annotated[bool | None, typer.Option(
        "--enable/--disable", help="Switch deliveries on or off.", show_default=False)] = None,
    rotate_secret: Annotated[bool, typer.Option(
        "--rotate-secret", help="Set a new secret (from --secret-env VAR or stdin).")] = False,
    secret_env: SecretEnvOpt = None,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Change a subscription: URL, events, on/off, or a new secret."""
    from agentctl.api import platform
    from agentctl.errors import UsageError

    state = get_state(ctx)
    out = state.output(output)
    changes: dict = {}
    if url is not None:
        changes["url"] = url
    if events:
        changes["events"] = list(dict.fromkeys(e.value for e in events))
    if enabled is not None:
        changes["enabled"] = enabled
    if secret_env is not None and not rotate_secret:
        raise UsageError("--secret-env goes with --rotate-secret")
    if rotate_secret:
        changes["secret"] = platform.check_webhook_secret(read_secret(ctx, out, secret_env))
    if not changes:
        raise UsageError("nothing to change",
                         hint="give --url, --event, --enable/--disable or --rotate-secret")
    record = platform.update_webhook(state.api(), subscription_id, changes)
    out.result(f"updated webhook subscription {subscription_id}"
               + (f" (secret version {record.get('secret_version')})" if rotate_secret else ""),
               records=[record], name_key="id")


@app.command(epilog="""\b
Examples:
  agentctl webhooks delete whs_0123... --yes""")
def delete(
    ctx: typer.Context,
    subscription_ids: Annotated[list[str], typer.Argument(
        metavar="SUBSCRIPTION_ID...", help="Subscription ids.")],
    yes: YesOpt = False,
) -> None:
    """Delete subscriptions (asks first on a terminal; --yes elsewhere)."""
    from agentctl.api import platform
    from agentctl.exit_codes import ExitCode

    state = get_state(ctx)
    out = state.output()
    api = state.api()
    targets = list(dict.fromkeys(subscription_ids))
    for subscription_id in targets:
        platform.get_webhook(api, subscription_id)  # exit 5 before deleting any
    if not yes and not out.confirm(f"Delete {len(targets)} webhook subscription(s):"
                                   f" {', '.join(targets)}?"):
        out.info("nothing deleted")
        raise typer.Exit(int(ExitCode.USAGE))
    for subscription_id in targets:
        platform.delete_webhook(api, subscription_id)
        out.success(f"deleted webhook subscription {subscription_id}")


@app.command(epilog="""\b
Examples:
  agentctl webhooks deliveries sess_0123...
  agentctl webhooks deliveries sess_0123... --latest -o json""")
def deliveries(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(
        metavar="SESSION_ID", help="A session id.", autocompletion=complete_sessions)],
    latest: Annotated[bool, typer.Option(
        "--latest", help="Only the latest delivery per subscription.")] = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """The webhook deliveries of a session: status, attempts, HTTP status, error."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    items = list(platform.list_deliveries(state.api(), session_id, latest=latest))
    view.show_items(out, items, view.DELIVERY_COLUMNS, view.delivery_row,
                    empty="no webhook deliveries")


@app.command(epilog="""\b
Examples:
  # in a receiver: the raw body on stdin, the header as received
  agentctl webhooks verify --signature "$HTTP_X_AAI_SIGNATURE" --secret-env HOOK_SECRET \\
      < body.json
  # the secret on stdin instead: the payload from a file
  agentctl webhooks verify --signature 't=...,v1=...' --payload body.json < secret.txt""")
def verify(
    ctx: typer.Context,
    signature: Annotated[str, typer.Option(
        "--signature", metavar="HEADER", help="The X-AAI-Signature header's value.")],
    secret_env: SecretEnvOpt = None,
    payload: Annotated[Path | None, typer.Option(
        "--payload", metavar="FILE", dir_okay=False,
        help="The raw body (default: stdin; then the secret must come from --secret-env).")]
    = None,
    tolerance: Annotated[int, typer.Option(
        "--tolerance", metavar="SECONDS", min=0, help="Oldest signature accepted.")] = 300,
) -> None:
    """Check a delivery's X-AAI-Signature against its raw body (exit 0 valid, 6 not)."""
    import sys

    from agentctl.api import platform
    from agentctl.errors import UsageError

    state = get_state(ctx)
    out = state.output()
    if payload is None and secret_env is None:
        raise UsageError("the payload and the secret cannot both come from stdin",
                         hint="pass --secret-env VAR, or --payload FILE")
    if payload is not None:
        try:
            body = payload.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {payload}: {exc.strerror or exc}") from None
        secret = read_secret(ctx, out, secret_env)
    else:
        secret = read_secret(ctx, out, secret_env)
        stream = getattr(out.stdin, "buffer", None) or getattr(sys.stdin, "buffer", None)
        body = stream.read() if stream is not None else out.stdin.read().encode("utf-8")
    stamp = platform.verify_signature(signature, body, secret, tolerance=tolerance)
    import time

    out.success(f"signature valid (signed {max(0, int(time.time()) - stamp)} s ago)")


def builtin_tools(ctx: typer.Context, output: OutputOpt = OutputMode.table) -> None:
    """The platform's built-in tools (their names are reserved for agents' own tools)."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    items = platform.list_builtin_tools(state.api())
    view.show_items(out, items, view.BUILTIN_COLUMNS, view.builtin_row, name_key="name",
                    empty="no built-in tools")
