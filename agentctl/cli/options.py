"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentctl.cli.complete import complete_agents
from agentctl.render.output import OutputMode

FilesOpt = Annotated[
    list[str],
    typer.Option(
        "--filename", "-f", metavar="PATH",
        help="Spec file (YAML, JSON, JSONC), directory, or - for stdin. Repeatable.",
    ),
]
OptionalFilesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--filename", "-f", metavar="PATH",
        help="Spec file (YAML, JSON, JSONC), or - for stdin.",
    ),
]
EnvFileOpt = Annotated[
    Path | None,
    typer.Option("--env-file", metavar="FILE",
                 help="KEY=VALUE lines for ${VAR} (the real environment wins)."),
]
OutputOpt = Annotated[
    OutputMode,
    typer.Option("--output", "-o", help="Output format.", case_sensitive=False),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be sent; send nothing.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AgentArg = Annotated[str, typer.Argument(
    metavar="AGENT", help="An agent id or exact name.", autocompletion=complete_agents)]
# Several agents (delete): the same completion.
AgentsArg = Annotated[list[str], typer.Argument(
    metavar="AGENT...", help="Ids or exact names.", autocompletion=complete_agents)]
