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


def test_readme_command_table_lists_every_command():
    """One line per command in the README's table, and every docs/ link in it exists."""
    import re

    from agentctl.cli import _command
    from agentctl.cli.app import app

    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Commands\n", 1)[1].split("\n## ", 1)[0]
    listed = {re.match(r"\| `([a-z-]+)", row).group(1) for row in table.splitlines()
              if row.startswith("| `")}
    root = _command(app)
    commands = {name for name in root.commands if not root.commands[name].hidden}
    assert commands == listed
    for link in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)", readme):
        assert (ROOT / link).is_file(), link


def test_links_between_the_docs_lead_to_files():
    import re

    for page in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target}"
