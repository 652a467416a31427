"""`agentctl numbers` (phone numbers: buy, import, assign an agent) and `agentctl calls`."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentctl.cli.complete import complete_agents, complete_numbers
from agentctl.cli.options import AgentArg, OutputOpt, YesOpt
from agentctl.cli.state import get_state
from agentctl.render.output import OutputMode

app = typer.Typer(help="Phone numbers: buy, import over a SIP trunk, assign an agent.",
                  no_args_is_help=True)
calls_app = typer.Typer(help="Outbound calls: place one, follow it, list them.",
                        no_args_is_help=True)

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI
    from agentctl.render.output import Output

NumberArg = Annotated[str, typer.Argument(
    metavar="NUMBER", help="An E.164 number, e.g. +14155550100.",
    autocompletion=complete_numbers)]


class NumberType(StrEnum):
    local = "local"
    mobile = "mobile"
    national = "national"


def _names(api: AgentsAPI) -> dict[str, str]:
    from agentctl.cli.sessions import agent_names

    return agent_names(api)


@app.command("list", epilog="""\b
Examples:
  agentctl numbers list
  agentctl numbers list -o name   # the numbers, one per line""")
def list_(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N numbers.")]
    = None,
    output: OutputOpt = OutputMode.table,
) -> None:
    """List the account's phone numbers and the agent each one reaches."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    items = list(platform.list_numbers(api, limit=limit))
    names = _names(api) if not out.machine else {}
    view.show_items(out, items, view.NUMBER_COLUMNS, view.number_row(names),
                    empty="no phone numbers",
                    name_key="phone_number")


@app.command(epilog="""\b
Examples:
  agentctl numbers get +14155550100""")
def get(ctx: typer.Context, number: NumberArg, output: OutputOpt = OutputMode.table) -> None:
    """Show one phone number."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    number = platform.check_e164(number)
    api = state.api()
    record = platform.get_number(api, number)
    name = None
    if not out.machine and record.get("agent_id"):
        name = _names(api).get(str(record["agent_id"])) or None
    view.show_one(out, record, view.number_summary(record, name), name_key="phone_number")


def _show_written(out: Output, record: dict[str, Any], verb: str) -> None:

    out.result(f"{verb} {record.get('phone_number')} ({record.get('id')})", records=[record],
               name_key="phone_number")


@app.command(epilog="""\b
Examples:
  agentctl numbers buy --country US --area-code 415
  agentctl numbers buy --country GB --type mobile --label support
  agentctl numbers buy --number +14155550123 --agent support""")
def buy(
    ctx: typer.Context,
    country: Annotated[str | None, typer.Option(
        "--country", metavar="CC", help="ISO country code of a number to search for (US).")]
    = None,
    number_type: Annotated[NumberType, typer.Option(
        "--type", help="With --country: local, mobile or national.")] = NumberType.local,
    area_code: Annotated[int | None, typer.Option(
        "--area-code", min=1, help="With --country: this area code.")] = None,
    locality: Annotated[str | None, typer.Option(
        "--locality", help="With --country: a town or region.")] = None,
    number: Annotated[str | None, typer.Option(
        "--number", metavar="E164", help="Buy this number instead of searching.")] = None,
    label: Annotated[str | None, typer.Option("--label", help="A label of your own.")] = None,
    agent: Annotated[str | None, typer.Option(
        "--agent", metavar="AGENT", help="Assign this agent (name or id) at once.",
        autocompletion=complete_agents)] = None,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Buy a phone number (billed): by search, or a specific one. A retry after a lost
    answer reuses the request's Idempotency-Key, so the number is bought once."""
    from agentctl.api import platform
    from agentctl.errors import UsageError

    state = get_state(ctx)
    out = state.output(output)
    if (number is None) == (country is None):
        raise UsageError("give either --country (to search) or --number E164",
                         hint="e.g. agentctl numbers buy --country US --area-code 415")
    if number is not None:
        extra = [flag for flag, value in (("--area-code", area_code), ("--locality", locality),
                                          ("--label", label), ("--agent", agent)) if value]
        if extra:
            raise UsageError(f"{extra[0]} goes with --country, not --number",
                             hint="buy the number, then: agentctl numbers assign NUMBER AGENT")
        body: dict = {"phone_number": platform.check_e164(number)}
    else:
        assert country is not None
        if len(country) != 2 or not country.isalpha():
            raise UsageError(f"--country {country!r} is not a two-letter country code",
                             hint="e.g. --country US")
        body = {"country_code": country.upper(), "number_type": number_type.value}
        if area_code is not None:
            body["area_code"] = area_code
        for key, value in (("locality", locality), ("label", label)):
            if value is not None:
                body[key] = value
    api = state.api()
    if agent is not None:
        body["agent_id"] = str(api.resolve(agent)["id"])
    record = platform.buy_number(api, body)
    _show_written(out, record, "bought")


@app.command("import", epilog="""\b
Examples:
  agentctl numbers import +14155550199 --termination-uri my-trunk.pstn.twilio.com""")
def import_(
    ctx: typer.Context,
    number: NumberArg,
    termination_uri: Annotated[str, typer.Option(
        "--termination-uri", metavar="URI",
        help="Your SIP trunk: a host name (my-trunk.pstn.twilio.com) or a sip: URI.")],
    label: Annotated[str | None, typer.Option("--label", help="A label of your own.")] = None,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Bring a number you own over your SIP trunk (the trunk originates to
    sip:sip.assemblyai.com)."""
    from agentctl.api import platform

    state = get_state(ctx)
    out = state.output(output)
    number = platform.check_e164(number)
    record = platform.import_number(state.api(), number, termination_uri, label)
    _show_written(out, record or {"phone_number": number}, "imported")


@app.command(epilog="""\b
Examples:
  agentctl numbers assign +14155550100 support""")
def assign(ctx: typer.Context, number: NumberArg, agent: AgentArg,
           output: OutputOpt = OutputMode.table) -> None:
    """Put an agent on a number: it answers the number's calls."""
    from agentctl.api import platform

    state = get_state(ctx)
    out = state.output(output)
    number = platform.check_e164(number)
    api = state.api()
    target = api.resolve(agent)
    record = platform.assign_number(api, number, str(target["id"]))
    out.result(f"assigned {number} to agent {target.get('name')!r} ({target['id']})",
               records=[record or platform.get_number(api, number)] if out.machine else [],
               name_key="phone_number")


@app.command(epilog="""\b
Examples:
  agentctl numbers unassign +14155550100""")
def unassign(ctx: typer.Context, number: NumberArg) -> None:
    """Take the agent off a number (the number stays yours)."""
    from agentctl.api import platform

    state = get_state(ctx)
    number = platform.check_e164(number)
    platform.unassign_number(state.api(), number)
    state.output().success(f"unassigned {number}")


@app.command(epilog="""\b
Examples:
  agentctl numbers release +14155550100 --yes""")
def release(ctx: typer.Context, number: NumberArg, yes: YesOpt = False) -> None:
    """Give a number up (deregister it); asks first on a terminal, --yes elsewhere."""
    from agentctl.api import platform
    from agentctl.exit_codes import ExitCode

    state = get_state(ctx)
    out = state.output()
    number = platform.check_e164(number)
    api = state.api()
    platform.get_number(api, number)  # exit 5 for a number that is not ours
    if not yes and not out.confirm(f"Release {number}? A released number may not come back."):
        out.info("nothing released")
        raise typer.Exit(int(ExitCode.USAGE))
    platform.release_number(api, number)
    out.success(f"released {number}")


# -- calls -------------------------------------------------------------------------------------

class CallStatus(StrEnum):
    dialing = "dialing"
    active = "active"
    ended = "ended"
    failed = "failed"
    refused = "refused"


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


@calls_app.command("create", epilog="""\b
Examples:
  agentctl calls create --from +14155550100 --to +14155550142
  agentctl calls create --from +14155550100 --to +14155550142 --wait""")
def create_call(
    ctx: typer.Context,
    from_number: Annotated[str, typer.Option(
        "--from", metavar="NUMBER", help="Your number; its agent makes the call.",
        autocompletion=complete_numbers)],
    to_number: Annotated[str, typer.Option("--to", metavar="NUMBER", help="Who to call.")],
    wait: Annotated[bool, typer.Option(
        "--wait", help="Follow the call until it ends, then show its session.")] = False,
    wait_timeout: Annotated[float, typer.Option(
        "--wait-timeout", metavar="SECONDS", min=1, help="With --wait: give up after this.")]
    = 3600.0,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Place an outbound call (billed; one Idempotency-Key across retries)."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    from_number = platform.check_e164(from_number, "--from")
    to_number = platform.check_e164(to_number, "--to")
    api = state.api()
    call = platform.create_call(api, from_number, to_number)
    out.success(f"call {call.get('id')}: {call.get('status')}")
    if wait:
        call = platform.wait_for_call(
            api, str(call.get("id")), timeout=wait_timeout,
            on_status=lambda c: out.info(f"call {c.get('id')}: {c.get('status')}"))
        session_id = call.get("session_id")
        if out.machine:
            view.show_one(out, call, [])
            return
        view.show_one(out, call, view.call_summary(call))
        if session_id:
            from agentctl.cli.sessions import agent_names

            session = platform.get_session(api, str(session_id))
            name = agent_names(api).get(str(session.get("agent_id"))) or None
            out.lines([""])
            view.show_one(out, session, view.session_summary(session, name))
            out.info(f"see the conversation: agentctl sessions transcript {session_id}")
        return
    if out.machine:
        view.show_one(out, call, [])


@calls_app.command("list", epilog="""\b
Examples:
  agentctl calls list --status ended --limit 10""")
def list_calls(
    ctx: typer.Context,
    status: Annotated[CallStatus | None, typer.Option("--status", help="Only this status.")]
    = None,
    direction: Annotated[Direction | None, typer.Option(
        "--direction", help="inbound or outbound.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N calls.")]
    = None,
    output: OutputOpt = OutputMode.table,
) -> None:
    """List calls, newest first."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    items = list(platform.list_calls(state.api(), status=status.value if status else None,
                                     direction=direction.value if direction else None,
                                     limit=limit))
    view.show_items(out, items, view.CALL_COLUMNS, view.call_row, empty="no calls")


@calls_app.command("get", epilog="""\b
Examples:
  agentctl calls get call_0123...""")
def get_call(ctx: typer.Context,
             call_id: Annotated[str, typer.Argument(metavar="CALL_ID", help="A call id.")],
             output: OutputOpt = OutputMode.table) -> None:
    """Show one call: status, numbers, duration, its session."""
    from agentctl.api import platform
    from agentctl.render import platform as view

    state = get_state(ctx)
    out = state.output(output)
    call = platform.get_call(state.api(), call_id)
    view.show_one(out, call, view.call_summary(call))
