"""validate, diff, apply, promote: agents kept in git, checked offline and deployed by name."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentctl.cli.complete import complete_profiles
from agentctl.cli.options import AgentArg, DryRunOpt, EnvFileOpt, FilesOpt, OutputOpt, YesOpt
from agentctl.cli.specs import read_specs, spec_environment
from agentctl.cli.state import get_state
from agentctl.exit_codes import ExitCode
from agentctl.render.output import OutputMode

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI
    from agentctl.errors import AgentctlError
    from agentctl.render.output import Output
    from agentctl.spec.load import SpecDocument
    from agentctl.spec.plan import AgentPlan

PruneOpt = Annotated[bool, typer.Option(
    "--prune", help="Also delete agents named --selector PREFIX* that no file defines.")]
SelectorOpt = Annotated[str | None, typer.Option(
    "--selector", "-l", metavar="PREFIX",
    help="Name prefix of the agents these files manage: every spec must match it, and "
    "--prune only ever deletes agents whose name starts with it.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 3).")]
ConcurrencyOpt = Annotated[int, typer.Option(
    "--concurrency", min=1, max=16, metavar="N", help="Requests in flight at once (1-16).")]
SpecOutputOpt = Annotated[
    OutputMode,
    typer.Option("--output", "-o", case_sensitive=False,
                 help="Output format: table (default), json or yaml."),
]


# -- validate ----------------------------------------------------------------------------------


def validate(
    ctx: typer.Context,
    files: FilesOpt,
    env_file: EnvFileOpt = None,
    strict: StrictOpt = False,
    output: SpecOutputOpt = OutputMode.table,
) -> None:
    """Check spec files offline: every error with file:line and field, likely mistakes as
    warnings. Needs no key and no network; an unset ${VAR} is a warning."""
    from agentctl.errors import UsageError
    from agentctl.render.plans import show_check
    from agentctl.spec.check import check_files

    state = get_state(ctx)
    out = state.output(output)
    if out.mode in (OutputMode.name, OutputMode.id):
        raise UsageError(f"validate has no -o {out.mode.value}", hint="use -o json or -o yaml")
    if not files:
        raise UsageError("no spec files given", hint="pass -f PATH (a file, a directory, or -)")
    report = check_files(files, spec_environment(env_file), strict=strict, stdin=sys.stdin)
    show_check(out, report)
    if report.failed:
        raise typer.Exit(int(ExitCode.SPEC))


# -- diff and apply ----------------------------------------------------------------------------


def diff(
    ctx: typer.Context,
    files: FilesOpt,
    env_file: EnvFileOpt = None,
    prune: PruneOpt = False,
    selector: SelectorOpt = None,
    concurrency: ConcurrencyOpt = 8,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Compare spec files with the agents on the server, matched by name.
    Exit 0: no differences; 1: differences."""
    from agentctl.render.plans import plan_summary, show_plan_data, show_plans

    state = get_state(ctx)
    out = state.output(output)
    docs = _read(files, env_file, out, prune=prune, selector=selector)
    plans = _plan(state.api(), docs, prune=prune, selector=selector, concurrency=concurrency)
    changed = [p for p in plans if p.writes]
    if not out.machine:
        show_plans(out, plans)
    show_plan_data(out, plans, listed=changed)
    out.text(f"diff: {plan_summary(plans)}", "bold")
    if changed:
        raise typer.Exit(int(ExitCode.DIFFERENT))


def apply(
    ctx: typer.Context,
    files: FilesOpt,
    env_file: EnvFileOpt = None,
    dry_run: DryRunOpt = False,
    prune: PruneOpt = False,
    selector: SelectorOpt = None,
    yes: YesOpt = False,
    concurrency: ConcurrencyOpt = 8,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Create the agents that are missing, update the ones that differ, leave the rest."""
    from agentctl.render.plans import (
        DONE,
        plan_summary,
        progress,
        show_plan_data,
        show_plans,
        show_results,
    )

    state = get_state(ctx)
    out = state.output(output)
    docs = _read(files, env_file, out, prune=prune, selector=selector)
    api = state.api()
    plans = _plan(api, docs, prune=prune, selector=selector, concurrency=concurrency)
    _refuse_masked_creates(docs, plans)
    kept = [p for p in plans if p.action != "delete"]
    if dry_run:
        if not out.machine:
            show_plans(out, plans)
        show_plan_data(out, plans, listed=kept, dry_run=True)
        out.info(f"dry run: {plan_summary(plans)}; nothing was sent")
        return
    deletes = [p for p in plans if p.action == "delete"]
    if deletes and not yes:
        listing = ", ".join(f"{p.name!r} ({p.id})" for p in deletes)
        if not out.confirm(f"Delete {len(deletes)} agent(s) no file defines: {listing}?"):
            out.info("nothing applied")
            raise typer.Exit(int(ExitCode.USAGE))
    if not out.machine:
        show_plans(out, [p for p in plans if p.action == "update"], full=False)
    writes = [p for p in plans if p.writes]
    with progress(out, len(writes), "applying") as advance:
        # Creates and updates first; deletes only once everything else has landed.
        ids, failures = _execute(api, [p for p in writes if p.action != "delete"],
                                 concurrency, advance)
        if not failures:
            more, failures = _execute(api, deletes, concurrency, advance)
            ids.update(more)
    done = [p for p in plans if not p.writes or p.name in ids]
    show_results(out, done, ids)
    if failures:
        out.warn(f"{len(writes) - len([p for p in done if p.writes])} of {len(writes)} "
                 "change(s) not applied")
        raise failures[0]
    out.text(f"apply: {plan_summary(plans, DONE)}", "bold")
    show_plan_data(out, plans, ids, listed=kept, dry_run=False)


def _read(
    files: Sequence[str], env_file: Path | None, out: Output, *, prune: bool,
    selector: str | None,
) -> list[SpecDocument]:
    """Load and validate every document (before any request), then check the names."""
    from agentctl.errors import RejectedError, UsageError

    if prune and not selector:
        raise UsageError(
            "--prune needs --selector PREFIX",
            hint="prune only deletes agents whose name starts with the prefix, so one "
            "team's apply never deletes another's agents",
        )
    if selector is not None and not selector.strip():
        raise UsageError("--selector must not be empty")
    docs = read_specs(files, env_file, out)
    seen: dict[str, str] = {}
    for doc in docs:
        name = str(doc.data.get("name"))
        if name in seen:
            raise RejectedError(
                f"{doc.where(('name',))}: name: {name!r} is also defined at {seen[name]}",
                hint="agents are matched by name, so each name may appear once",
            )
        seen[name] = doc.where(("name",))
        if selector and not name.startswith(selector):
            raise doc.error(("name",), f"{name!r} does not start with the selector "
                            f"{selector!r}", hint="every agent these files manage must "
                            "be named PREFIX...; fix the name or the --selector")
    return docs


def _plan(
    api: AgentsAPI, docs: list[SpecDocument], *, prune: bool, selector: str | None,
    concurrency: int,
) -> list[AgentPlan]:
    """Every spec against the server, matched by name; ambiguity is an error here, before
    anything is written."""
    from concurrent.futures import ThreadPoolExecutor

    from agentctl.errors import RejectedError
    from agentctl.spec.plan import ambiguous_names, group_by_name, plan_agent, prune_plans

    items = api.list_agents()
    names = [str(doc.data.get("name")) for doc in docs]
    twins = ambiguous_names(names, items)
    if twins:
        name, ids = next(iter(twins.items()))
        more = f" (and {len(twins) - 1} more names)" if len(twins) > 1 else ""
        raise RejectedError(
            f"{len(ids)} agents on the server are named {name!r}: {', '.join(ids)}{more}",
            hint="agents are matched by name: delete or rename the extra ones first "
            "(agentctl delete ID)",
        )
    named = group_by_name(items)
    matched = [named.get(name, [None])[0] for name in names]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        records = list(pool.map(
            lambda item: api.get_agent(str(item["id"])) if item else None, matched))
    plans = [
        plan_agent(doc.data, record, doc.where(("name",)))
        for doc, record in zip(docs, records, strict=True)
    ]
    if prune and selector:
        plans.extend(prune_plans(items, set(names), selector))
    return plans


def _refuse_masked_creates(docs: list[SpecDocument], plans: list[AgentPlan]) -> None:
    """A new agent cannot "keep" a secret it never had: say so before the first write."""
    from agentctl.spec.plan import masked_secrets

    creates = {p.name for p in plans if p.action == "create"}
    for doc in docs:
        found = masked_secrets(doc.data) if doc.data.get("name") in creates else []
        if found:
            raise doc.error(found[0], '"***" keeps a stored value, and this agent does not '
                            "exist yet", hint="use ${VAR} for the secret itself")


def _execute(
    api: AgentsAPI, plans: list[AgentPlan], concurrency: int, advance: Any
) -> tuple[dict[str, str], list[AgentctlError]]:
    """Run the writes over the one client, `concurrency` at a time. After the first
    failure no new write starts; returns the ids written and the failures, in plan order."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from agentctl.errors import AgentctlError

    stop = threading.Event()

    def write(plan: AgentPlan) -> str | AgentctlError | None:
        if stop.is_set():
            return None
        try:
            if plan.action == "create":
                agent_id = str(api.create_agent(plan.body or {})["id"])
            elif plan.action == "update":
                agent_id = str(api.update_agent(str(plan.id), plan.body or {})["id"])
            else:
                api.delete_agent(str(plan.id))
                agent_id = str(plan.id)
        except AgentctlError as exc:
            stop.set()
            return exc
        except BaseException:
            stop.set()
            raise
        advance()
        return agent_id

    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        outcomes = list(pool.map(write, plans))
    except BaseException:  # Ctrl-C: the queued writes must not start after it
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    ids = {p.name: o for p, o in zip(plans, outcomes, strict=True) if isinstance(o, str)}
    failures = [o for o in outcomes if isinstance(o, AgentctlError)]
    return ids, failures


# -- promote -----------------------------------------------------------------------------------


def promote(
    ctx: typer.Context,
    agent: AgentArg,
    from_: Annotated[str, typer.Option(
        "--from", metavar="PROFILE", help="Profile (account) to copy from.",
        autocompletion=complete_profiles)],
    to: Annotated[str, typer.Option(
        "--to", metavar="PROFILE", help="Profile (account) to create or update it in.",
        autocompletion=complete_profiles)],
    env_file: EnvFileOpt = None,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Copy an agent's configuration from one profile's account to another's, by name.

    A secret (tool header value, LLM key) cannot be read back: the target keeps the value
    it already has for that header, or takes it from the variable `get --export` names
    (e.g. GET_WEATHER_AUTHORIZATION); if neither exists nothing is written (exit 3).
    """
    from agentctl.errors import RejectedError, SpecError, UsageError
    from agentctl.render import records
    from agentctl.render.plans import show_plan_data, show_plans
    from agentctl.spec.export import export_spec, secret_placeholders
    from agentctl.spec.plan import fill_secrets, plan_agent
    from agentctl.spec.rules import format_path

    state = get_state(ctx)
    out = state.output(output)
    if from_ == to:
        raise UsageError(f"--from and --to are both {from_!r}", hint="name two profiles")
    given = [flag for flag, key in (("--api-key", "api_key"), ("--base-url", "base_url"),
                                    ("--local", "local")) if state.flags.get(key)]
    if given:
        raise UsageError(f"{', '.join(given)} cannot be used with promote: each side comes "
                         "from its profile", hint="agentctl config set base_url URL --profile NAME")
    source, target = state.api_for(from_), state.api_for(to)
    record = source.get_agent(str(source.resolve(agent)["id"]))
    spec, _ = export_spec(record)
    name = str(spec.get("name"))
    matches = target.find_by_name(name)
    if len(matches) > 1:
        raise RejectedError(
            f"{len(matches)} agents are named {name!r} in profile {to!r}: "
            + ", ".join(str(m.get("id")) for m in matches),
            hint="agents are matched by name: delete or rename the extra ones first",
        )
    current = target.get_agent(str(matches[0]["id"])) if matches else None
    spec, missing = fill_secrets(spec, secret_placeholders(spec), current,
                                 spec_environment(env_file))
    if missing:
        variables = ", ".join(v for _, v in missing)
        where = ", ".join(format_path(p) for p, _ in missing)
        raise SpecError(
            f"promote {name!r}: no value for {len(missing)} secret(s) ({where}) in profile "
            f"{to!r}: set {variables}",
            hint=f"export {missing[0][1]}=... (or --env-file FILE); a secret the target "
            "agent already has is kept",
        )
    plan = plan_agent(spec, current)
    if plan.writes and not out.machine:
        show_plans(out, [plan])
    if dry_run:
        show_plan_data(out, [plan], dry_run=True)
        out.info(f"dry run: nothing was sent to profile {to!r}")
        return
    if plan.action == "unchanged":
        out.success(f"no changes to agent {name!r} in profile {to!r}")
        if out.machine and current is not None:
            records.show_records(out, [current])
        return
    if plan.action == "create":
        result = target.create_agent(plan.body or {})
    else:
        result = target.update_agent(str(plan.id), plan.body or {})
    out.success(f"{'created' if plan.action == 'create' else 'updated'} agent {name!r} "
                f"({result.get('id')}) in profile {to!r}")
    records.show_records(out, [result], quiet_table=True)
