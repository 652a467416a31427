"""`export --all`: many server records -> one spec file each, and the variables they need.

Each record goes through `export.export_spec`, the one exporter (`get --export` uses it
too), so a file here is what `get AGENT --export` prints for that agent. What this adds is
what only a directory of agents has: file names that do not collide, and variable names
that do not collide across agents (two agents whose `lookup` tools both have an
`Authorization` header would otherwise share `LOOKUP_AUTHORIZATION`, and one value would
be applied to both: each such variable is prefixed with its agent's name instead).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agentctl.errors import RejectedError
from agentctl.fileio import safe_filename
from agentctl.spec.export import export_spec, secret_placeholders, variable_name

Path = tuple[str | int, ...]


@dataclass
class ExportedAgent:
    name: str
    agent_id: str
    filename: str  # within the directory
    spec: dict[str, Any]
    # variable -> where it is used in this spec (a field path)
    variables: dict[str, Path] = field(default_factory=dict)


def export_agents(records: list[dict[str, Any]], suffix: str = ".yaml") -> list[ExportedAgent]:
    """One exported spec per record, sorted by name, with unique file and variable names.

    Two agents with the same name are refused (exit 6): agents in files are matched by
    name, so neither could be applied from the directory.
    """
    records = sorted(records, key=lambda r: (str(r.get("name", "")), str(r.get("id", ""))))
    names = Counter(str(r.get("name", "")) for r in records)
    shared = sorted(n for n, count in names.items() if count > 1)
    if shared:
        ids = ", ".join(str(r.get("id")) for r in records if r.get("name") == shared[0])
        raise RejectedError(
            f"{len(shared)} name(s) belong to several agents, e.g. {shared[0]!r} ({ids}); "
            "agents in files are matched by name",
            hint="rename one (agentctl update ID --set name=NEW), or leave them out with "
                 "--selector PREFIX")
    exported: list[ExportedAgent] = []
    taken: set[str] = set()
    for record in records:
        spec, _ = export_spec(record)
        name = str(record.get("name") or record.get("id"))
        exported.append(ExportedAgent(
            name=name, agent_id=str(record.get("id", "")),
            filename=_unique(safe_filename(name), suffix, taken), spec=spec,
            variables={var: path for path, var in secret_placeholders(spec).items()}))
    _separate_shared_variables(exported)
    return exported


def env_example(exported: list[ExportedAgent]) -> str:
    """`.env.example`: every variable, empty, under a comment saying where it goes."""
    lines = [
        "# The write-only values the agent files here need (the API never returns them).",
        "# Copy to .env (not committed), fill in, then: agentctl apply -f . --env-file .env",
        "# In CI they come from the pipeline's secrets.",
    ]
    for agent in exported:
        for var, path in agent.variables.items():
            lines.append(f"# {agent.name}: {_describe(agent.spec, path)}")
            lines.append(f"{var}=")
    return "\n".join(lines) + "\n"


def _unique(stem: str, suffix: str, taken: set[str]) -> str:
    candidate, n = f"{stem}{suffix}", 2
    while candidate.lower() in taken:  # case-insensitive file systems
        candidate, n = f"{stem}-{n}{suffix}", n + 1
    taken.add(candidate.lower())
    return candidate


def _separate_shared_variables(exported: list[ExportedAgent]) -> None:
    """A variable used by more than one agent gets its agent's name in front, in each."""
    uses = Counter(var for agent in exported for var in agent.variables)
    everywhere = {var for agent in exported for var in agent.variables}
    for agent in exported:
        renamed: dict[str, Path] = {}
        for var, path in agent.variables.items():
            if uses[var] > 1:
                new, n = variable_name(agent.name, var), 2
                base = new
                while new in everywhere or new in renamed:
                    new, n = f"{base}_{n}", n + 1
                everywhere.add(new)
                _set(agent.spec, path, "${" + new + "}")
                var = new
            renamed[var] = path
        agent.variables = renamed


def _set(spec: Any, path: Path, value: str) -> None:
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _describe(spec: dict[str, Any], path: Path) -> str:
    """`tool lookup, header Authorization` or `llm[0].api_key`, for a person."""
    if path[:1] == ("tools",) and len(path) >= 5:
        tool = spec["tools"][path[1]]
        header = tool["http"]["headers"][path[4]]
        return f"tool {tool.get('name')!r}, header {header.get('name')!r}"
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
