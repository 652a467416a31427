"""docs/commands.md is generated from --help and must not drift from the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_command_reference_is_current():
    from agentctl.cli.docgen import render

    expected = render()
    current = (ROOT / "docs" / "commands.md").read_text()
    assert current == expected, (
        "docs/commands.md is stale: run `python -m agentctl.cli.docgen > docs/commands.md`")


def test_reference_holds_every_command_and_its_options():
    text = (ROOT / "docs" / "commands.md").read_text()
    for heading in ("## agentctl get", "## agentctl config set", "## agentctl emulator serve"):
        assert heading + "\n" in text
    assert "--export" in text.split("## agentctl get\n", 1)[1].split("\n## ", 1)[0]


def test_the_module_prints_the_reference():
    out = subprocess.run([sys.executable, "-m", "agentctl.cli.docgen"], capture_output=True,
                         text=True, check=True, cwd=ROOT, env={"COLUMNS": "40", "PATH": ""})
    assert out.stdout == (ROOT / "docs" / "commands.md").read_text()
