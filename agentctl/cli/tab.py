"""Tab completion without Typer: the cached command tree, and the values Tab offers.

Importing Typer and building the app is most of a completion request's time (~50 ms of
~75). So the first request after an install or upgrade goes through Typer (`complete.py`)
and saves the app's command tree (commands, options, arguments, choices) in the user cache
dir, keyed by the installation's stamp (`usercache`); every later request is answered here
from that tree, following Click's rules for what the word under the cursor is. Anything
this does not model (`--`, `--opt=value`, option clusters, unknown words) returns None and
the request goes through Typer as before. Typer-free: no module imported here imports it.

Agent names come from the API with a short timeout and are cached for a few seconds; on any
failure Tab offers nothing, and nothing here ever writes to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentctl.cli.usercache import (
    PROG,
    cache_dir,
    drop_other_stamps,
    install_stamp,
    write_private,
)

COMPLETE_VAR = "_AGENTCTL_COMPLETE"
FAST_VAR = "_AGENTCTL_COMPLETE_FAST"  # "0": always through Typer (for tests)
API_TIMEOUT = 1.5  # seconds, wall clock, for the one list request (connect to last byte)
CACHE_TTL = 30.0  # seconds a fetched list of agents is offered without asking again
STALE_TTL = 24 * 3600.0  # an older list is still offered when the API cannot be reached
TREE_FORMAT = 1

Item = tuple[str, str]  # (value, help)


# -- the command tree ----------------------------------------------------------------------

def tree_path() -> Path:
    """Named by the installation's stamp (usercache), so an upgrade or an edit in a
    checkout never reads an old tree."""
    return cache_dir() / "completion" / f"tree-{install_stamp(f'tree {TREE_FORMAT}')}.json"


def save_tree(command: Any) -> None:
    """Write the tree of a built (Click) command, once; a cache we cannot write is no error."""
    try:
        path = tree_path()
        if path.exists():
            return
        import json

        write_private(path, json.dumps(_node(command, None, PROG), separators=(",", ":")))
        # Older trees of this installation go (another one, e.g. a checkout, keeps its own).
        drop_other_stamps(path, "tree", path.stem.removeprefix("tree-"))
    except Exception:
        pass


def _node(command: Any, parent: Any, name: str) -> dict[str, Any]:
    from typer._click import Context

    ctx = Context(command, info_name=name, parent=parent, **command.context_settings)
    node: dict[str, Any] = {"help": command.get_short_help_str(), "hidden": command.hidden,
                            "options": [], "arguments": []}
    for param in command.get_params(ctx):
        entry = {"name": param.name, "nargs": param.nargs, "complete": _completer(param)}
        choices = getattr(param.type, "choices", None)
        if choices is not None:
            entry["choices"] = [str(c) for c in choices]
            entry["case_sensitive"] = bool(getattr(param.type, "case_sensitive", True))
        if param.param_type_name == "option":
            entry.update(opts=list(param.opts), secondary=list(param.secondary_opts),
                         flag=bool(param.is_flag or param.count), multiple=param.multiple,
                         hidden=bool(param.hidden), help=param.help or "")
            node["options"].append(entry)
        else:
            node["arguments"].append(entry)
    if hasattr(command, "list_commands"):
        node["commands"] = {
            sub: _node(command.get_command(ctx, sub), ctx, sub)
            for sub in command.list_commands(ctx)
        }
    return node


def _completer(param: Any) -> str | None:
    """Which of our callbacks completes the parameter: "agents", "profiles", "other"."""
    custom = getattr(param, "_custom_shell_complete", None)
    if custom is None:
        return None
    for cell in custom.__closure__ or ():
        function = getattr(cell.cell_contents, "__wrapped__", cell.cell_contents)
        name = getattr(function, "__name__", "")
        if name in ("complete_agents", "complete_profiles"):
            return name.removeprefix("complete_")
    return "other"


def _load_tree() -> dict[str, Any] | None:
    import json

    try:
        tree = json.loads(tree_path().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return tree if isinstance(tree, dict) else None


# -- answering a request from the tree -------------------------------------------------------

def answer() -> int | None:
    """Answer the completion request in the environment: the exit code, or None to let
    Typer answer it (no tree yet, or a case the tree does not model)."""
    instruction = os.environ.get(COMPLETE_VAR, "")
    shell = instruction.removeprefix("complete_")
    if os.environ.get(FAST_VAR) == "0" or shell not in ("bash", "zsh", "fish"):
        return None
    try:
        words = _words(shell)
        tree = _load_tree() if words is not None else None
        items = _complete(tree, *words) if tree is not None and words is not None else None
    except Exception:
        return None
    if items is None:
        return None
    if shell == "fish" and os.environ.get("_TYPER_COMPLETE_FISH_ACTION") == "is-args":
        return 0 if items else 1
    sys.stdout.write(format_items(shell, items) + "\n")
    sys.stdout.flush()
    return 0


def _split(text: str) -> list[str]:
    """Click's `split_arg_string`: shlex, keeping an unterminated last word as it is."""
    import shlex

    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out: list[str] = []
    try:
        out.extend(lex)
    except ValueError:
        out.append(lex.token)
    return out


def _words(shell: str) -> tuple[list[str], str] | None:
    """(complete words after the program name, the word under the cursor), as Typer's
    shell classes read them."""
    if shell == "bash":
        words = _split(os.environ["COMP_WORDS"])
        cword = int(os.environ["COMP_CWORD"])
        return words[1:cword], (words[cword] if cword < len(words) else "")
    line = os.environ.get("_TYPER_COMPLETE_ARGS", "")
    args = _split(line)[1:]
    if args and not line.endswith(" "):
        return args[:-1], args[-1]
    return args, ""


def hoist_for_completion(args: list[str]) -> list[str]:
    """`hoist_global_flags` for the words before the cursor. A global value flag just before
    it (`get --profile <Tab>`) goes to the front with the other global flags and without the
    subcommand, so that the root's option completes its value."""
    from agentctl.cli import hoist_global_flags

    # A stand-in for the value being typed lets hoisting decide where the flag belongs.
    probe = hoist_global_flags([*args, "\0"])
    return probe[: probe.index("\0")]


def _complete(tree: dict[str, Any], args: list[str], incomplete: str) -> list[Item] | None:
    args = hoist_for_completion(args)
    if any(a == "--" or "=" in a for a in args) or "=" in incomplete:
        return None
    node, root = tree, tree
    used: set[str] = set()  # options given to the current command
    values: dict[str, Any] = {}  # parameter values per command depth, for the callbacks
    root_values: dict[str, Any] = {}
    positionals = 0
    pending: dict[str, Any] | None = None  # an option whose value is the next word
    for arg in args:
        if pending is not None:
            values[pending["name"]] = arg
            pending = None
            continue
        if arg.startswith("-"):
            option = _option(node, arg)
            if option is None:
                return None
            used.add(option["name"])
            if option["flag"]:
                values[option["name"]] = arg not in option["secondary"]
            elif option["nargs"] != 1:
                return None
            else:
                pending = option
            continue
        commands = node.get("commands")
        if commands is not None and positionals == 0 and not node["arguments"]:
            if arg not in commands:
                return None
            if node is root:
                root_values = values
            node, used, values, positionals = commands[arg], set(), {}, 0
            continue
        positionals += 1
    if node is root:
        root_values = values
    context = {"root": root_values, "command": values}
    # Click's order: an option being typed, an option's value, an argument, a subcommand.
    if incomplete.startswith("-"):
        return [
            (name, option["help"]) for option in node["options"]
            if not option["hidden"] and (option["multiple"] or option["name"] not in used)
            for name in (*option["opts"], *option["secondary"]) if name.startswith(incomplete)
        ]
    if pending is not None:  # `--output <Tab>`
        return _values(pending, incomplete, context)
    argument = _next_argument(node, positionals)
    if argument is False:
        return None
    if argument is not None:
        return _values(argument, incomplete, context)
    commands = node.get("commands")
    if commands is None:
        return []
    return [(name, sub["help"]) for name, sub in commands.items()
            if not sub["hidden"] and name.startswith(incomplete)]


def _option(node: dict[str, Any], arg: str) -> dict[str, Any] | None:
    for option in node["options"]:
        if arg in option["opts"] or arg in option["secondary"]:
            return option
    return None


def _next_argument(node: dict[str, Any], given: int) -> dict[str, Any] | bool | None:
    """The argument the next positional word fills (Click: the first one not given, or a
    variadic one); False for shapes not modelled here."""
    for argument in node["arguments"]:
        if argument["nargs"] == -1:
            return argument
        if argument["nargs"] != 1:
            return False
        if given == 0:
            return argument
        given -= 1
    return None


def _values(param: dict[str, Any], incomplete: str, context: dict[str, Any]) -> list[Item] | None:
    kind = param.get("complete")
    if kind == "other":
        return None
    if kind == "profiles":
        found: list[Item] = [(n, "") for n in profile_names(incomplete)]
    elif kind == "agents":
        flags = {k: context["root"].get(k) for k in
                 ("profile", "api_key", "base_url", "local", "timeout")}
        source = context["command"].get("from_")
        found = agent_items({"profile": source} if source else flags, incomplete)
    elif "choices" in param:
        if param.get("case_sensitive", True):
            return [(c, "") for c in param["choices"] if c.startswith(incomplete)]
        return [(c, "") for c in param["choices"] if c.lower().startswith(incomplete.lower())]
    else:
        return []
    return [(v, h) for v, h in found if v.startswith(incomplete)]  # as Typer filters them


# -- formatting, as Typer's shell classes (without their Rich pass over help text) ------------

_BASH_SPECIAL = set(" \t\"'\\$`&;|<>()*?[]{}!#~")


def bash_escape(value: str) -> str:
    """bash inserts a candidate as given: escape what it would split on (`Front\\ Desk`)."""
    return "".join("\\" + c if c in _BASH_SPECIAL else c for c in value)


def zsh_item(value: str, help_text: str) -> str:
    def escape(s: str) -> str:
        return (s.replace('"', '""').replace("'", "''").replace("$", "\\$")
                .replace("`", "\\`").replace(":", r"\\:"))

    return f'"{escape(value)}":"{escape(help_text)}"' if help_text else f'"{escape(value)}"'


def fish_item(value: str, help_text: str) -> str:
    return f"{value}\t{' '.join(help_text.split())}" if help_text else value


def format_items(shell: str, items: list[Item]) -> str:
    if shell == "bash":
        return "\n".join(bash_escape(v) for v, _ in items)
    if shell == "zsh":
        if not items:
            return "_files"
        return "_arguments '*: :((" + "\n".join(zsh_item(v, h) for v, h in items) + "))'"
    return "\n".join(fish_item(v, h) for v, h in items)


# -- the values: profiles and agents --------------------------------------------------------

def profile_names(incomplete: str) -> list[str]:
    """Profile names from the config file."""
    try:
        from agentctl import profiles

        return sorted(n for n in profiles.load().profiles if n.startswith(incomplete))
    except Exception:
        return []


def agent_items(flags: dict[str, Any], incomplete: str) -> list[Item]:
    """Agent names (ids where a name is shared or empty), and ids once one is being typed;
    each with a help text (the id for a name, the name for an id) for zsh and fish."""
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return candidates(_agents(flags), incomplete)
    except Exception:
        return []


def candidates(agents: list[tuple[str, str]], incomplete: str) -> list[Item]:
    """A name with control characters (or a line break) is offered as its id instead: the
    shell would write it raw to the terminal. Help texts are escaped."""
    from agentctl.render.redact import safe_text

    counts: dict[str, int] = {}
    for _, name in agents:
        counts[name] = counts.get(name, 0) + 1
    found: dict[str, str] = {}
    for agent_id, raw_name in agents:
        name = safe_text(raw_name, keep_newlines=False)
        if name != raw_name:
            counts[name] = 2  # not offerable as typed: the id stands in
        if safe_text(agent_id, keep_newlines=False) != agent_id:
            continue
        if name and counts[name] == 1:
            if name.startswith(incomplete):
                found[name] = agent_id
        elif agent_id.startswith(incomplete):
            found[agent_id] = name or "(no name)"
        if incomplete and agent_id.startswith(incomplete):
            found[agent_id] = name
    # One candidate per line: a name with a newline or tab cannot be offered.
    return sorted((v, h) for v, h in found.items() if "\n" not in v and "\t" not in v)


def _agents(flags: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, name) of every agent in the account the flags/env/profile point at."""
    from agentctl import profiles
    from agentctl.settings import emulator_db, for_run

    # The settings as every command resolves them (State itself would import Typer); the
    # config file's warnings are not printed: never a word during Tab.
    settings = for_run(flags, os.environ, profiles.load())
    if settings.local:
        from agentctl.emulator.server import agent_names

        db = emulator_db()
        return agent_names(db) if db.exists() else []
    if not settings.api_key:
        return []
    key = settings.api_key
    return _cached(_cache_file(settings.base_url, key), lambda: _fetch(settings.base_url, key))


def _fetch(base_url: str, api_key: str) -> list[tuple[str, str]]:
    from agentctl.api.client import AgentsAPI
    from agentctl.api.retry import RetryPolicy
    from agentctl.api.transport import build_client

    with build_client(base_url, api_key, API_TIMEOUT, max_connections=1) as http:
        items = AgentsAPI(http, RetryPolicy(attempts=1)).list_agents()
    return [(str(a.get("id", "")), str(a.get("name") or "")) for a in items if a.get("id")]


def _cache_file(base_url: str, api_key: str) -> Path:
    """One file per account: named by a hash of URL and key (the key is never stored)."""
    import hashlib

    digest = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()[:24]
    return cache_dir() / "completion" / f"agents-{digest}.json"


def _cached(path: Path, fetch: Callable[[], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    import json
    import time

    cached: list[tuple[str, str]] | None = None
    age = float("inf")
    try:
        age = time.time() - path.stat().st_mtime
        if age < STALE_TTL:
            cached = [(str(i), str(n)) for i, n in json.loads(path.read_text("utf-8"))]
    except (OSError, ValueError, TypeError):
        cached = None
    if cached is not None and 0 <= age < CACHE_TTL:
        return cached
    try:
        agents = fetch()
    except Exception:
        return cached or []
    write_private(path, json.dumps(agents, separators=(",", ":")))
    return agents
