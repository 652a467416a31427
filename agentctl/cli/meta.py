"""schema: the JSON Schema of a spec file, for editors (completion and checking)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentctl.cli.state import get_state
from agentctl.render.output import OutputMode


def schema(
    ctx: typer.Context,
    output: Annotated[OutputMode, typer.Option(
        "--output", "-o", case_sensitive=False, help="json (default) or yaml.")]
    = OutputMode.json,
) -> None:
    """Print the JSON Schema of a spec file, e.g. agentctl schema > agent.schema.json."""
    from agentctl.spec.validate import load_schema

    out = get_state(ctx).output(OutputMode.yaml if output == OutputMode.yaml else OutputMode.json)
    out.data(load_schema())
