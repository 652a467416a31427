"""A repository of agents: `init` scaffolds one, `export` fills one from an account."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentctl.cli.complete import complete_agents
from agentctl.cli.state import get_state


def export(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option(
        "--dir", metavar="DIR", file_okay=False, help="Where the files go (created if "
        "missing).", show_default=False)],
    agents: Annotated[list[str] | None, typer.Argument(
        metavar="[AGENT...]", help="Ids or exact names (or --all).",
        autocompletion=complete_agents, show_default=False)] = None,
    all_: Annotated[bool, typer.Option(
        "--all", help="Every agent in the account (with --selector: those it matches).")]
    = False,
    selector: Annotated[str | None, typer.Option(
        "--selector", metavar="PREFIX", help="With --all: only agents whose name starts "
        "with PREFIX.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace files that exist.")] = False,
) -> None:
    """Write agents as spec files, one per agent, for apply -f DIR; secrets as ${VAR}.

    Write-only values (tool header values, LLM keys) cannot be read back: each becomes a
    ${VAR} placeholder, listed in DIR/.env.example. Nothing is written if any file exists,
    unless --force; each file is written atomically.
    """
    from agentctl.errors import UsageError
    from agentctl.fileio import path_in, write_atomic
    from agentctl.render.output import to_yaml
    from agentctl.spec.bundle import env_example, export_agents

    if bool(agents) == all_:
        raise UsageError("give the agents to export, or --all",
                         hint="agentctl export --all --dir agents/")
    if selector is not None and not all_:
        raise UsageError("--selector goes with --all")
    state = get_state(ctx)
    out = state.output()
    api = state.api()
    if all_:
        summaries = [a for a in api.list_agents()
                     if selector is None or str(a.get("name", "")).startswith(selector)]
        ids = [str(a["id"]) for a in summaries]
    else:
        ids = list(dict.fromkeys(str(api.resolve(ref)["id"]) for ref in agents or []))
    records = _fetch(api, ids)
    exported = export_agents(records)
    if not exported:
        out.info("no agents to export" + (f" (none named {selector}*)" if selector else ""))
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror or exc}") from None
    files = [(path_in(directory, a.filename), to_yaml(a.spec)) for a in exported]
    variables = [v for a in exported for v in a.variables]
    if variables:
        files.append((directory / ".env.example", env_example(exported)))
    existing = [str(p) for p, _ in files if p.exists()]
    if existing and not force:
        raise UsageError(f"refusing to overwrite {len(existing)} file(s): "
                         + ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else ""),
                         hint="pass --force to replace them, or choose another --dir")
    for (path, text), agent in zip(files, exported, strict=False):
        write_atomic(path, text, force=force)
        out.success(f"exported {agent.name!r} to {path}")
    if variables:
        write_atomic(files[-1][0], files[-1][1], force=force)
        out.warn(f"{len(variables)} secret(s) could not be read back; set them to apply "
                 f"these files (listed in {files[-1][0]}): " + ", ".join(variables))
    out.info(f"export: {len(exported)} agent(s) to {directory}")


def _fetch(api: object, ids: list[str]) -> list[dict[str, object]]:
    """Full records, 8 GETs at a time over the client's one pool."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(api.get_agent, ids))  # type: ignore[attr-defined]


def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(
        metavar="[DIR]", help="Where to create it (default: the current directory).",
        file_okay=False)] = Path("."),
    name: Annotated[str, typer.Option(
        "--name", help="The agent's name (agents are matched by name in an account).")]
    = "assistant",
    install_from: Annotated[str | None, typer.Option(
        "--install-from", metavar="REQUIREMENT", help="What CI pip-installs for agentctl, "
        "e.g. git+https://github.com/ORG/agentctl@v0.1.0 (default: where this agentctl "
        "came from, if a git URL; else a repository variable).", show_default=False)]
    = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that exist.")]
    = False,
) -> None:
    """Create a repository of agents: a spec, a test, .env.example, a CI workflow and the
    schemas for editors. Nothing is written if any of its files exists, unless --force."""
    from agentctl.errors import UsageError
    from agentctl.fileio import write_atomic
    from agentctl.spec.diagnostics import load_schema
    from agentctl.spec.scaffold import scaffold
    from agentctl.spec.testfile import load_test_schema

    if not name.strip():
        raise UsageError("--name must not be empty")
    out = get_state(ctx).output()
    files = scaffold(name, install_from or _installed_from(), load_schema(),
                     load_test_schema())
    targets = [(directory / relative, text) for relative, text in files.items()]
    existing = [str(path) for path, _ in targets if path.exists()]
    if existing and not force:
        raise UsageError(f"refusing to overwrite {len(existing)} file(s): "
                         + ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else ""),
                         hint="pass --force to replace them, or choose another DIR")
    for path, text in targets:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
        write_atomic(path, text, force=force)
        out.success(f"created {path}")
    where = "" if directory == Path(".") else f"cd {directory} && "
    out.info(f"next: {where}agentctl validate -f agents/ -f tests/ --strict && "
             "agentctl --local test tests/ && agentctl --local apply -f agents/")


def _installed_from() -> str | None:
    """The pip requirement this agentctl was installed from, if that was a VCS URL
    (PEP 610's direct_url.json): CI can install the same. None otherwise."""
    import json
    from importlib import metadata

    from agentctl import DISTRIBUTION

    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        data = json.loads(text) if text else {}
    except (metadata.PackageNotFoundError, ValueError):
        return None
    vcs = data.get("vcs_info") if isinstance(data, dict) else None
    if not isinstance(vcs, dict) or not isinstance(data.get("url"), str):
        return None
    revision = vcs.get("requested_revision") or vcs.get("commit_id")
    url = f"{vcs.get('vcs', 'git')}+{data['url']}"
    name = DISTRIBUTION
    return f"{name} @ {url}@{revision}" if revision else f"{name} @ {url}"
