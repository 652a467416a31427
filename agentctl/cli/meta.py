"""schema: the JSON Schema of a spec file (or a test file), for editors."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from agentctl.cli.state import get_state
from agentctl.render.output import OutputMode


class SchemaKind(StrEnum):
    agent = "agent"
    test = "test"


def schema(
    ctx: typer.Context,
    output: Annotated[OutputMode, typer.Option(
        "--output", "-o", case_sensitive=False, help="json (default) or yaml.")]
    = OutputMode.json,
    kind: Annotated[SchemaKind, typer.Option(
        "--kind", case_sensitive=False,
        help="agent: a spec file; test: a test file (agentctl test).")] = SchemaKind.agent,
) -> None:
    """Print the JSON Schema of a spec file, e.g. agentctl schema > agent.schema.json."""
    from agentctl.spec.diagnostics import load_schema
    from agentctl.spec.testfile import load_test_schema

    out = get_state(ctx).output(output)
    out.data(load_test_schema() if kind == SchemaKind.test else load_schema(), people="json")
