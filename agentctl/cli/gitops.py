"""validate, diff, apply, promote: agents kept in git, checked offline and deployed by name."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from agentctl.cli.complete import complete_profiles
from agentctl.cli.options import AgentArg, DryRunOpt, EnvFileOpt, FilesOpt, OutputOpt, YesOpt
from agentctl.cli.specs import read_specs
from agentctl.cli.state import get_state
from agentctl.exit_codes import ExitCode
from agentctl.render.output import OutputMode

if TYPE_CHECKING:
    from agentctl.api.client import AgentsAPI
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
class ReportMode(StrEnum):
    """validate's -o: a report has no names or ids to list."""

    table = "table"
    json = "json"
    yaml = "yaml"


SpecOutputOpt = Annotated[
    ReportMode,
    typer.Option("--output", "-o", case_sensitive=False,
                 help="Output format: table (default), json or yaml."),
]


# -- validate ----------------------------------------------------------------------------------


def validate(
    ctx: typer.Context,
    files: FilesOpt,
    env_file: EnvFileOpt = None,
    strict: StrictOpt = False,
    output: SpecOutputOpt = ReportMode.table,
) -> None:
    """Check spec files offline: every error with file:line and field, likely mistakes as
    warnings. Needs no key and no network; an unset ${VAR} is a warning."""
    from agentctl.errors import UsageError
    from agentctl.render.plans import show_check
    from agentctl.spec.read import check_files

    state = get_state(ctx)
    out = state.output(output)
    if not files:
        raise UsageError("no spec files given", hint="pass -f PATH (a file, a directory, or -)")
    report = check_files(files, state.spec_environment(env_file), strict=strict,
                         stdin=state.env.stdin)
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
    from agentctl.render.plans import show_diff
    from agentctl.usecases.apply import plan_documents

    state = get_state(ctx)
    out = state.output(output)
    docs = _read(files, state.spec_environment(env_file), out, prune=prune, selector=selector,
                 compare_only=True)
    plans = plan_documents(state.api(), docs, prune=prune, selector=selector,
                           concurrency=concurrency)
    show_diff(out, plans)
    if any(p.writes for p in plans):
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
    dedupe: Annotated[bool, typer.Option(
        "--dedupe", help="Where several agents share a name the files define (left by a "
        "race or --allow-duplicate-name), keep the oldest and delete the others; asks "
        "first (--yes off a terminal).")] = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Create the agents that are missing, update the ones that differ, leave the rest."""
    from agentctl.render.plans import (
        confirm_deletes,
        progress,
        show_applied,
        show_apply_start,
        show_dry_run,
        show_interrupted,
    )
    from agentctl.usecases.apply import apply_plans, check_masked_creates, plan_documents

    state = get_state(ctx)
    out = state.output(output)
    docs = _read(files, state.spec_environment(env_file), out, prune=prune, selector=selector)
    api = state.api()
    if dedupe and not _dedupe(api, out, docs, yes=yes, dry_run=dry_run):
        return
    plans = plan_documents(api, docs, prune=prune, selector=selector, concurrency=concurrency)
    check_masked_creates(docs, plans)
    if dry_run:
        show_dry_run(out, plans)
        return
    deletes = [p for p in plans if p.action == "delete"]
    if deletes and not yes and not confirm_deletes(out, deletes):
        out.info("nothing applied")
        raise typer.Exit(int(ExitCode.USAGE))
    show_apply_start(out, plans)
    landed: dict[str, str] = {}  # name -> id of each write that landed, as they land
    with progress(out, sum(1 for p in plans if p.writes), "applying") as advance:
        def written(plan: AgentPlan, agent_id: str) -> None:
            landed[plan.name] = agent_id
            advance()

        try:
            result = apply_plans(api, plans, concurrency, written)
        except KeyboardInterrupt:
            again = shlex.join(["agentctl", "apply", *(a for f in files for a in ("-f", f))])
            show_interrupted(out, plans, dict(landed), again)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    show_applied(out, plans, result.ids, failed=bool(result.failures))
    if result.failures:
        raise result.failures[0]


def _dedupe(api: AgentsAPI, out: Output, docs: Sequence[SpecDocument], *, yes: bool,
            dry_run: bool) -> bool:
    """`apply --dedupe`: each name's extra agents deleted after a confirmation. False when
    apply should stop here (a dry run: the plan needs the duplicates gone)."""
    from agentctl.api.converge import delete_extras, find_duplicates
    from agentctl.render.plans import show_duplicates

    names = [str(doc.data.get("name")) for doc in docs]
    duplicates = find_duplicates(api.list_agents(), names)
    if not duplicates:
        out.info("dedupe: no name the files define has more than one agent")
        return True
    extras = show_duplicates(out, duplicates)
    if dry_run:
        out.info(f"dry run: {extras} duplicate agent(s) would be deleted; nothing was sent")
        return False
    if not yes and not out.confirm(f"Delete {extras} duplicate agent(s)?"):
        out.info("nothing applied")
        raise typer.Exit(int(ExitCode.USAGE))
    deleted = delete_extras(api, duplicates)
    out.success(f"dedupe: deleted {len(deleted)} duplicate agent(s)")
    return True


def _read(
    files: Sequence[str], env: Mapping[str, str], out: Output, *, prune: bool,
    selector: str | None, compare_only: bool = False,
) -> list[SpecDocument]:
    """--prune and --selector checked, then every document loaded and validated (before
    any request), then their names. `compare_only`: for diff (see `read_specs`)."""
    from agentctl.errors import UsageError
    from agentctl.usecases.names import check_names

    if prune and not selector:
        raise UsageError(
            "--prune needs --selector PREFIX",
            hint="prune only deletes agents whose name starts with the prefix, so one "
            "team's apply never deletes another's agents",
        )
    if selector is not None and not selector.strip():
        raise UsageError("--selector must not be empty")
    docs = read_specs(files, env, out, compare_only=compare_only)
    check_names(docs, selector)
    return docs


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
    (e.g. GET_WEATHER_AUTHORIZATION); if neither exists nothing is written (exit 3;
    --dry-run shows the plan and says what is missing).
    """
    from agentctl.errors import UsageError
    from agentctl.render.plans import show_promoted, show_promotion
    from agentctl.usecases.apply import (
        promotion_error,
        promotion_missing,
        promotion_plan,
        promotion_source,
        write_plan,
    )

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
    spec, current = promotion_source(source, target, agent, profile=to)
    env = state.spec_environment(env_file)
    plan = promotion_plan(spec, current, env, profile=to, dry_run=dry_run)
    show_promotion(out, plan, dry_run=dry_run, profile=to)
    if dry_run:
        missing = promotion_missing(spec, current, env)
        if missing:
            out.warn(promotion_error(plan.name, missing, to).message
                     + " (a real run would stop here, exit 3)")
        return
    record = write_plan(target, plan) if plan.writes else None
    show_promoted(out, plan, record, profile=to)
