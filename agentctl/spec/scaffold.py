"""`agentctl init`: the files of a new repository of agents, as text.

One agent, a conversation test for it, `.env.example`, a CI workflow, the JSON Schemas the
files name for editors, and a `.gitignore`. As created, `agentctl validate -f agents/ -f
tests/ --strict` passes and `agentctl --local test tests/` passes; the writing (atomic,
never over a file without --force) is the command's.
"""

from __future__ import annotations

import json

from agentctl.fileio import safe_filename

# What CI installs when agentctl's own source is not known: the repository is taken from
# a GitHub Actions variable, as the PyPI name "agentctl" belongs to another project.
INSTALL_FROM_VARIABLE = "AGENTCTL_SOURCE"

AGENT = """\
# yaml-language-server: $schema=../agent.schema.json
# An agent, as the API's create request takes it (agentctl schema; docs/specs.md).
# `agentctl apply -f agents/` creates it, or updates it to match this file: agents are
# matched by name.
name: {name}
system_prompt: |
  You are a friendly assistant on a phone line.
  Keep every answer under two sentences.
greeting: Hi, how can I help?
voice:
  voice_id: ivy
input:
  turn_detection:
    vad_threshold: 0.5
    min_silence: 1000
    max_silence: 3000
# A tool the agent may call over HTTP. Its secrets come from the environment as ${{VAR}}
# (listed in .env.example), never from this file:
# tools:
#   - name: lookup_order
#     description: Look up an order by its number.
#     parameters:
#       type: object
#       properties: {{order_number: {{type: string}}}}
#       required: [order_number]
#     http:
#       url: https://orders.example.com/v1/lookup
#       http_method: POST
#       headers:
#         - name: Authorization
#           value: "Bearer ${{ORDERS_API_TOKEN}}"
"""

TEST = """\
# yaml-language-server: $schema=../test.schema.json
# Conversation tests for {name!r}: `agentctl test tests/` connects the spec file inline
# (never stored) and checks what the agent says and does (docs/testing.md).
spec: ../agents/{filename}
tests:
  - name: greets the caller
    expect:
      - said: "how can I help"
        turn: greeting
"""

ENV_EXAMPLE = """\
# The variables the files under agents/ use as ${VAR} (tool header values, LLM keys).
# Copy to .env (never committed), fill in, and pass it:
#   agentctl apply -f agents/ --env-file .env
# In CI they come from the repository's secrets (see .github/workflows/agents.yml).
# The agent has no tool yet; uncomment its tool and this line together:
# ORDERS_API_TOKEN=
"""

GITIGNORE = """\
.env
test-results.xml
test-artifacts/
"""

WORKFLOW = """\
# Agents in git: validate, test and diff every pull request; apply on main.
# Secrets live in the repository's secrets, never in the agent files.
name: agents
on:
  pull_request:
  push:
    branches: [main]

env:
  ASSEMBLYAI_API_KEY: ${{{{ secrets.ASSEMBLYAI_API_KEY }}}}
  # One line per variable in .env.example, e.g.:
  # ORDERS_API_TOKEN: ${{{{ secrets.ORDERS_API_TOKEN }}}}

jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
{install}
      # Offline: schema errors and likely mistakes; --strict fails on warnings too.
      - run: agentctl validate -f agents/ -f tests/ --strict
      # Conversation tests against the files as changed (connected inline, never stored).
      - run: agentctl test tests/ --junit test-results.xml --save-dir test-artifacts/
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: agent-tests
          path: |
            test-results.xml
            test-artifacts/
          if-no-files-found: ignore
      # What apply would do. Exit 1 means "differences", which is not a failure here.
      - run: agentctl diff -f agents/ || [ $? -eq 1 ]

  apply:
    if: github.event_name == 'push'
    needs: check
    runs-on: ubuntu-latest
    # One deploy at a time, in order: a second push waits for the first apply to finish.
    concurrency:
      group: agents-apply
      cancel-in-progress: false
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
{install}
      # Creates what is missing and updates what differs; a second run writes nothing.
      # To also delete agents that no file defines, name them all with one prefix and add
      # --prune --selector PREFIX --yes.
      - run: agentctl apply -f agents/
"""

INSTALL_FIXED = """\
      # agentctl from its repository (the "agentctl" on PyPI is another project).
      - run: pip install {requirement}"""

INSTALL_VARIABLE = """\
      # agentctl from its repository (the "agentctl" on PyPI is another project): set
      # the repository variable {var} to a pip requirement for it, e.g.
      # git+https://github.com/ORG/agentctl@v0.1.0 (Settings > Secrets and variables).
      - run: pip install "${{{var}:?set the repository variable {var}}}"
        env:
          {var}: ${{{{ vars.{var} }}}}"""


def scaffold(name: str, install_from: str | None, agent_schema: dict[str, object],
             test_schema: dict[str, object]) -> dict[str, str]:
    """The files of a new repository: relative path -> text, in the order to show them."""
    filename = safe_filename(name) + ".yaml"
    if install_from:
        install = INSTALL_FIXED.format(requirement=_shell_quote(install_from))
    else:
        install = INSTALL_VARIABLE.format(var=INSTALL_FROM_VARIABLE)
    return {
        f"agents/{filename}": AGENT.format(name=_yaml_string(name)),
        f"tests/{filename}": TEST.format(name=name, filename=filename),
        ".env.example": ENV_EXAMPLE,
        ".github/workflows/agents.yml": WORKFLOW.format(install=install),
        "agent.schema.json": json.dumps(agent_schema, indent=2) + "\n",
        "test.schema.json": json.dumps(test_schema, indent=2) + "\n",
        ".gitignore": GITIGNORE,
    }


def _yaml_string(text: str) -> str:
    """A YAML scalar for `text` (JSON is YAML): quoted only when it needs to be."""
    plain = text and text.strip() == text and all(c.isalnum() or c in " -_." for c in text)
    return text if plain and not text[0].isdigit() else json.dumps(text)


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
