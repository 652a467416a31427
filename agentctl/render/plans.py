"""validate / diff / apply / promote on screen: diagnostics, plans, results, progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from agentctl.record import MISSING, format_path, mask_value
from agentctl.render.output import OutputMode

if TYPE_CHECKING:
    from agentctl.render.output import Output
    from agentctl.spec.plan import AgentPlan, Change
    from agentctl.spec.read import CheckReport

# What each plan action is called before and after it happens.
PENDING = {"create": "to create", "update": "to update", "unchanged": "unchanged",
           "delete": "to delete"}
DONE = {"create": "created", "update": "updated", "unchanged": "unchanged",
        "delete": "deleted"}
MARKS = {"create": ("+", "green"), "update": ("~", "yellow"), "unchanged": ("=", "dim"),
         "delete": ("-", "red")}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# -- validate --------------------------------------------------------------------------------


def diagnostic_text(item: dict[str, Any]) -> str:
    """`file:line: field: message`, leaving out what is not known."""
    where = item["file"] if item.get("line") is None else f"{item['file']}:{item['line']}"
    if item.get("path"):
        return f"{where}: {item['path']}: {item['message']}"
    return f"{where}: {item['message']}"


def show_diagnostics(out: Output, items: Sequence[dict[str, Any]], summary: str) -> None:
    """Every finding (a JSON/YAML list with -o json|yaml), then the summary line."""
    if out.mode in (OutputMode.json, OutputMode.yaml):
        out.data(list(items))
    else:
        for item in items:
            style = "bold red" if item["severity"] == "error" else "yellow"
            out.text(f"{item['severity']}: {diagnostic_text(item)}", style)
            if item.get("hint"):
                out.text(f"  hint: {item['hint']}", "dim")
    out.text(summary, "bold")


def check_summary(report: CheckReport) -> str:
    """`2 files, 3 agents: 1 error, 0 warnings`, and why warnings fail under --strict."""
    counted = plural(report.agents, 'agent')
    if report.tests:
        counted += f", {plural(report.tests, 'test file')}"
    summary = (f"{plural(len(report.files), 'file')}, {counted}: "
               f"{plural(report.errors, 'error')}, {plural(report.warnings, 'warning')}")
    if report.strict and report.warnings:
        summary += " (--strict: warnings fail)"
    return summary


def show_check(out: Output, report: CheckReport) -> None:
    """validate's output: every finding, then the summary line."""
    show_diagnostics(out, report.diagnostics, check_summary(report))


# -- plans -------------------------------------------------------------------------------------


def _shown(path: tuple[str | int, ...], value: Any) -> Any:
    return None if value is MISSING else mask_value(path, value)


def change_record(change: Change) -> dict[str, Any]:
    """One change as JSON: write-only values masked, a missing side as null."""
    return {
        "path": format_path(change.path),
        "old": _shown(change.path, change.old),
        "new": _shown(change.path, change.new),
    }


def plan_record(plan: AgentPlan, agent_id: str | None = None) -> dict[str, Any]:
    return {
        "name": plan.name,
        "id": agent_id or plan.id,
        "action": plan.action,
        "changes": [change_record(c) for c in plan.changes],
    }


def show_plans(out: Output, plans: Sequence[AgentPlan], *, full: bool = True) -> None:
    """The readable plan: one heading per agent, its changes below.

    `full` lists every field of an agent to be created (diff, --dry-run); without it a
    create is one line (apply, which prints its results right after).
    """
    from agentctl.render.diffview import STYLES, diff_lines
    from agentctl.render.output import ordered, to_yaml
    from agentctl.render.redact import mask_record

    for plan in plans:
        mark, style = MARKS[plan.action]
        label = f"agent {plan.name!r}" + (f" ({plan.id})" if plan.id else "")
        if plan.action == "create":
            head = f"{label} will be created" + (f" from {plan.where}" if plan.where else "")
        elif plan.action == "update":
            head = f"{label}: {plural(len(plan.changes), 'change')}"
        elif plan.action == "delete":
            head = f"{label} will be deleted (not in the files)"
        else:
            head = f"{label}: no changes"
        out.text(f"{mark} {head}", style)
        if plan.action == "create" and full:
            # The new agent as its spec (secrets masked): long prompts stay readable.
            for line in to_yaml(ordered(mask_record(plan.body or {}))).splitlines():
                out.text(f"    + {line}", STYLES["add"])
        elif plan.action == "update":
            for line_style, line in diff_lines(list(plan.changes)):
                out.text(f"    {line}", STYLES[line_style])


def plan_summary(plans: Sequence[AgentPlan], words: dict[str, str] = PENDING) -> str:
    counts = {action: 0 for action in words}
    for plan in plans:
        counts[plan.action] += 1
    parts = [f"{counts[a]} {words[a]}" for a in ("create", "update", "unchanged")]
    if counts["delete"]:
        parts.append(f"{counts['delete']} {words['delete']}")
    return ", ".join(parts)


def show_plan_data(
    out: Output, plans: Sequence[AgentPlan], ids: dict[str, str] | None = None, *,
    listed: Sequence[AgentPlan] | None = None, **extra: Any,
) -> None:
    """-o json|yaml: {**extra, "agents": [every plan]}; -o name|id: the `listed` plans'
    names or ids, one per line (all plans when not given)."""
    ids = ids or {}
    listed = plans if listed is None else listed
    if out.mode in (OutputMode.json, OutputMode.yaml):
        out.data({**extra, "agents": [plan_record(p, ids.get(p.name)) for p in plans]})
    elif out.mode == OutputMode.name:
        out.lines(p.name for p in listed)
    elif out.mode == OutputMode.id:
        out.lines(i for i in (ids.get(p.name) or p.id for p in listed) if i)


def show_results(
    out: Output, plans: Sequence[AgentPlan], ids: dict[str, str]
) -> None:
    """After apply: what happened to each agent, aligned, with ids."""
    width = max((len(p.name) for p in plans), default=0)
    for plan in plans:
        style = MARKS[plan.action][1]
        agent_id = ids.get(plan.name) or plan.id or ""
        out.text(f"{DONE[plan.action]:<9}  {plan.name:<{width}}  {agent_id}".rstrip(),
                 style if plan.action != "unchanged" else None)


# -- diff and apply ----------------------------------------------------------------------------


def show_diff(out: Output, plans: Sequence[AgentPlan]) -> None:
    """diff: the readable plan (tables only), the changed agents' data, the summary."""
    if not out.machine:
        show_plans(out, plans)
    show_plan_data(out, plans, listed=[p for p in plans if p.writes])
    out.text(f"diff: {plan_summary(plans)}", "bold")


def show_dry_run(out: Output, plans: Sequence[AgentPlan]) -> None:
    """apply --dry-run: the plan, and that nothing was sent."""
    if not out.machine:
        show_plans(out, plans)
    show_plan_data(out, plans, listed=[p for p in plans if p.action != "delete"],
                   dry_run=True)
    out.info(f"dry run: {plan_summary(plans)}; nothing was sent")


def confirm_deletes(out: Output, deletes: Sequence[AgentPlan]) -> bool:
    """Ask before --prune deletes (Output.confirm refuses off a terminal)."""
    listing = ", ".join(f"{p.name!r} ({p.id})" for p in deletes)
    return out.confirm(f"Delete {len(deletes)} agent(s) no file defines: {listing}?")


def show_apply_start(out: Output, plans: Sequence[AgentPlan]) -> None:
    """Before apply writes: each update's changes (creates and deletes show as results)."""
    if not out.machine:
        show_plans(out, [p for p in plans if p.action == "update"], full=False)


def show_applied(
    out: Output, plans: Sequence[AgentPlan], ids: dict[str, str], *, failed: bool
) -> None:
    """After apply: what happened to each agent; then either how many changes did not
    land (`failed`, the error itself follows) or the summary and the data."""
    done = [p for p in plans if not p.writes or p.name in ids]
    show_results(out, done, ids)
    writes = sum(1 for p in plans if p.writes)
    if failed:
        landed = sum(1 for p in done if p.writes)
        out.warn(f"{writes - landed} of {writes} change(s) not applied")
        return
    out.text(f"apply: {plan_summary(plans, DONE)}", "bold")
    show_plan_data(out, plans, ids, listed=[p for p in plans if p.action != "delete"],
                   dry_run=False)


def show_duplicates(out: Output, duplicates: Sequence[Any]) -> int:
    """`apply --dedupe`: per name, the agent kept (the oldest) and those to delete, on
    stderr; returns how many would be deleted."""
    count = 0
    for dup in duplicates:
        out.info(f"{dup.name!r}: keeping {dup.keep.get('id')} (the oldest, created "
                 f"{dup.keep.get('created_at')})")
        for extra in dup.extras:
            count += 1
            out.warn(f"{dup.name!r}: duplicate {extra.get('id')} (created "
                     f"{extra.get('created_at')}) will be deleted")
    return count


def show_interrupted(
    out: Output, plans: Sequence[AgentPlan], ids: dict[str, str], again: str
) -> None:
    """Ctrl-C during apply (on stderr): what landed, what did not, and how to finish."""
    writes = [p for p in plans if p.writes]
    done = [p for p in writes if p.name in ids]
    out.warn(f"interrupted: {len(done)} of {plural(len(writes), 'change')} landed")
    width = max((len(p.name) for p in done), default=0)
    for plan in done:
        out.info(f"  {DONE[plan.action]:<9}  {plan.name:<{width}}  {ids[plan.name]}")
    if len(done) < len(writes):
        out.info(f"  not applied: {len(writes) - len(done)} (any write in flight at the "
                 "interrupt may still have landed)")
    out.info(f"hint: to finish, run it again (it writes only what is still missing or "
             f"different): {again}")


# -- promote -----------------------------------------------------------------------------------


def show_promotion(out: Output, plan: AgentPlan, *, dry_run: bool, profile: str) -> None:
    """Before promote writes (or instead, with --dry-run): the plan when it changes
    anything."""
    if plan.writes and not out.machine:
        show_plans(out, [plan])
    if dry_run:
        show_plan_data(out, [plan], dry_run=True)
        out.info(f"dry run: nothing was sent to profile {profile!r}")


def show_promoted(
    out: Output, plan: AgentPlan, record: dict[str, Any] | None, *, profile: str
) -> None:
    """After promote: what happened in `profile`, and the agent's record (`record` is the
    one written; None when the agent was already the same)."""
    from agentctl.render.records import show_result

    if record is None:
        show_result(out, f"no changes to agent {plan.name!r} in profile {profile!r}",
                    [plan.current] if plan.current is not None else [])
        return
    show_result(out, f"{DONE[plan.action]} agent {plan.name!r} ({record.get('id')}) in "
                f"profile {profile!r}", [record])


# -- progress ----------------------------------------------------------------------------------


@contextmanager
def progress(out: Output, total: int, description: str) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when stderr is a terminal; nothing at all otherwise.

    Yields `advance()`, safe to call from worker threads.
    """
    if total <= 0 or not out.is_tty(out.stderr):
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=out.console(out.stderr), transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
