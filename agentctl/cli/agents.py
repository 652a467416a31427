"""create, list, get, update, delete: parse options, call spec/api, hand results to render."""

from __future__ import annotations

import fnmatch
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentctl.cli.options import (
    AgentArg,
    AgentsArg,
    DryRunOpt,
    EnvFileOpt,
    FilesOpt,
    OptionalFilesOpt,
    OutputOpt,
    YesOpt,
)
from agentctl.cli.specs import read_specs
from agentctl.cli.state import get_state
from agentctl.render.output import OutputMode

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from agentctl.api.client import AgentsAPI
    from agentctl.cli.state import State
    from agentctl.render.output import Output


class SortKey(StrEnum):
    name = "name"
    created = "created"
    updated = "updated"


def create(
    ctx: typer.Context,
    files: FilesOpt,
    env_file: EnvFileOpt = None,
    allow_duplicate_name: Annotated[bool, typer.Option(
        "--allow-duplicate-name", help="Create even if an agent with the name exists.")] = False,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Create one agent per spec document."""
    from agentctl.render import records
    from agentctl.usecases.create import create_agents

    state = get_state(ctx)
    out = state.output(output)
    docs = read_specs(files, state.spec_environment(env_file), out)
    if dry_run:
        records.show_bodies(out, [doc.data for doc in docs])
        out.info(f"dry run: {len(docs)} agent(s) would be created; nothing was sent")
        return
    created = create_agents(
        state.api(), docs, allow_duplicate_name=allow_duplicate_name,
        on_created=lambda r: out.success(f"created agent {r.get('name')!r} ({r.get('id')})"))
    records.show_result(out, None, created)


def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(
        "--name", metavar="GLOB", help="Only names matching this glob (e.g. 'support-*').")]
    = None,
    sort: Annotated[SortKey | None, typer.Option(
        "--sort", help="Sort by name, created or updated (default: newest first).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="At most N agents.")]
    = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="With -o wide: fetch every record (one GET each) instead of "
        "reusing the ones an earlier listing cached, and leave the cache alone.")] = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """List agents: name, id, created, updated.

    -o wide adds voice, tools and greeting: one GET per agent, except for the records an
    earlier wide listing cached whose agents the list shows unchanged (see --no-cache).
    """
    from agentctl.render import records

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    page_size = max(1, min(limit, 200)) if limit is not None and sort is None else None
    pages = _pages(api, out, page_size)
    if name:
        pages = ([a for a in page if fnmatch.fnmatchcase(str(a.get("name", "")), name)]
                 for page in pages)
    if sort is not None:
        field = {"name": "name", "created": "created_at", "updated": "updated_at"}[sort.value]
        items = [a for page in pages for a in page]
        items.sort(key=lambda a: str(a.get(field, "")), reverse=sort != SortKey.name)
        pages = (items[i:i + PAGE] for i in range(0, len(items), PAGE))
    if limit is not None:
        pages = _first(pages, limit)
    if out.wide:
        pages = _details(state, api, pages, out, complete=name is None and limit is None,
                         use_cache=not no_cache)
    records.show_list(out, pages, empty=f"no agents match --name {name!r}" if name
                      else "no agents")


PAGE = 100  # rows written at a time once sorted (the service's pages are written as they come)


def _pages(api: AgentsAPI, out: Output, page_size: int | None = None
           ) -> Iterator[list[dict[str, Any]]]:
    """The agents, a page at a time as the service sends them (§5); the caller stops
    consuming to stop fetching (`list --limit`). When pages keep coming for more than a
    second, a terminal's stderr shows how many have loaded."""
    import time

    started = time.monotonic()
    shown = False
    loaded = 0
    try:
        for page in api.agent_pages(limit=page_size):
            loaded += len(page.items)
            if page.next_cursor and out.is_tty(out.stderr) and (
                time.monotonic() - started > 1.0
            ):
                out.stderr.write(f"\rloading agents: {loaded} ({page.number} pages)...")
                out.stderr.flush()
                shown = True
            yield page.items
    finally:
        if shown:
            out.stderr.write("\r\x1b[2K")  # the progress line goes
            out.stderr.flush()


def _first(pages: Iterable[list[dict[str, Any]]], limit: int) -> Iterator[list[dict[str, Any]]]:
    left = limit
    if left <= 0:
        return
    for page in pages:
        yield page[:left]
        left -= len(page)
        if left <= 0:
            return  # before the next page is fetched


def _details(state: State, api: AgentsAPI, pages: Iterable[list[dict[str, Any]]],
             out: Output, *, complete: bool, use_cache: bool
             ) -> Iterator[list[dict[str, Any]]]:
    """Full records for -o wide (usecases/wide.py): cached ones reused, the others fetched
    concurrently. When the table is piped and stderr is a terminal, a count there says
    it is working."""
    from agentctl.usecases.wide import full_records

    cache = None
    if use_cache:
        from agentctl.settings import emulator_db
        from agentctl.usecases.record_cache import RecordCache

        settings = state.settings  # --local: its port changes, its database does not
        origin = f"local:{emulator_db(state.env.environ)}" if settings.local else (
            settings.base_url)
        cache = RecordCache(state.env.cache_dir, origin, settings.api_key)
    progress = out.is_tty(out.stderr) and not out.is_tty(out.stdout)
    shown = False

    def report(done: int, fetched: int, cached: int) -> None:
        nonlocal shown
        shown = True
        out.stderr.write(f"\rdetails of {done} agents ({fetched} fetched, "
                         f"{cached} from the cache)")
        out.stderr.flush()

    try:
        yield from full_records(api, pages, cache=cache, complete=complete,
                                on_progress=report if progress else None)
    finally:
        if shown:
            out.stderr.write("\r\x1b[K")
            out.stderr.flush()


def get(
    ctx: typer.Context,
    agent: AgentArg,
    output: OutputOpt = OutputMode.table,
    export: Annotated[bool, typer.Option(
        "--export", help="A spec that create -f / apply -f accept: read-only fields dropped, "
        "secrets as ${VAR} placeholders.")] = False,
    save: Annotated[Path | None, typer.Option(
        "--save", metavar="DIR", file_okay=False, help="Write the export to DIR/<name>.yaml "
        "(.json with -o json) instead of stdout; implies --export.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="With --save: replace an existing file.")] = False,
) -> None:
    """Show one agent: a readable summary, or the full record with -o json|yaml."""
    from agentctl.render import records

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    record = api.get_by_ref(agent)
    if export or save is not None:
        from agentctl.spec.export import export_spec

        spec, variables = export_spec(record)
        if variables:
            out.warn("the export needs these variables for its secrets: " + ", ".join(variables))
        if save is not None:
            _save_export(out, save, record, spec, force=force)
            return
        out.data(spec)  # YAML unless -o json
        return
    records.show_record(out, record)


def _save_export(
    out: Output, directory: Path, record: dict[str, Any], spec: Any, *, force: bool
) -> None:
    """DIR/<safe name>.yaml, written atomically; an existing file only with --force."""
    from agentctl.errors import UsageError
    from agentctl.fileio import path_in, write_atomic

    suffix, text = out.file_text(spec)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror or exc}") from None
    target = path_in(directory, str(record.get("name") or record.get("id")), suffix)
    write_atomic(target, text, force=force)
    out.success(f"saved agent {record.get('name')!r} to {target}")


def update(
    ctx: typer.Context,
    agent: AgentArg,
    files: OptionalFilesOpt = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY.PATH=VALUE",
        help="Change one field, e.g. --set greeting='Hi!' --set output.volume=80. Repeatable.")]
    = None,
    env_file: EnvFileOpt = None,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Change an agent: show the difference, send only what changed."""
    from agentctl.errors import UsageError
    from agentctl.render import records
    from agentctl.spec.plan import plan_update
    from agentctl.spec.setpath import apply_sets, check_sets

    state = get_state(ctx)
    out = state.output(output)
    if bool(files) == bool(set_):
        raise UsageError(
            "give either -f PATH or --set KEY.PATH=VALUE", hint="see: agentctl update --help"
        )
    if files:
        docs = read_specs(files, state.spec_environment(env_file), out, partial=True)
        if len(docs) != 1:
            raise UsageError(f"update takes one agent spec; {len(docs)} documents given",
                             hint="use agentctl apply -f for several agents")
        spec = docs[0].data
    api = state.api()
    current = api.get_by_ref(agent)
    if set_:
        spec = apply_sets(current, set_)
        check_sets(spec, set_)  # a forbidden change: one error line, not a diff then a 422
    plan = plan_update(current, spec)
    if plan.missing_keys:
        from agentctl.errors import SpecError
        from agentctl.record import format_path

        raise SpecError(
            f"agent {current.get('name')!r}: llm changed, and the service needs "
            f"{format_path(plan.missing_keys[0])} whenever llm is sent (reads never return "
            "the key)", hint="set it too, e.g. --set llm[0].api_key=$MY_LLM_KEY, or use -f "
            "with api_key: ${VAR}")
    if plan.empty:
        records.show_result(out, f"no changes to agent {current.get('name')!r}", [current])
        return
    records.show_diff(out, plan.changes, title=f"agent {current.get('name')!r} ({current['id']})")
    if dry_run:
        out.info(f"dry run: {len(plan.changes)} change(s) not sent")
        return
    updated = api.update_agent(str(current["id"]), plan.body)
    records.show_result(out, f"updated agent {updated.get('name')!r} ({updated.get('id')})",
                        [updated])


def delete(
    ctx: typer.Context,
    agents: AgentsArg,
    yes: YesOpt = False,
    ignore_not_found: Annotated[bool, typer.Option(
        "--ignore-not-found", help="An agent that does not exist is not an error.")] = False,
    output: OutputOpt = OutputMode.table,
) -> None:
    """Delete agents (asks first on a terminal; --yes elsewhere)."""
    from agentctl.errors import NotFoundError
    from agentctl.exit_codes import ExitCode

    state = get_state(ctx)
    out = state.output(output)
    api = state.api()
    targets: list[dict[str, Any]] = []
    # Ids first (one GET each), then names: the list is read at most once for them all.
    for ref, item in zip(agents, api.resolve_many(agents, missing_ok=ignore_not_found),
                         strict=True):
        if item is None:
            out.info(f"agent {ref!r} not found; nothing to delete")
            continue
        if all(t["id"] != item["id"] for t in targets):
            targets.append(item)
    if not targets:
        return
    if not yes:
        listing = ", ".join(f"{t.get('name')!r} ({t['id']})" for t in targets)
        if not out.confirm(f"Delete {len(targets)} agent(s): {listing}?"):
            out.info("nothing deleted")
            raise typer.Exit(int(ExitCode.USAGE))
    for target in targets:
        try:
            api.delete_agent(str(target["id"]))
        except NotFoundError:
            if not ignore_not_found:
                raise
        out.result(f"deleted agent {target.get('name')!r} ({target['id']})", gone=[target])


