"""`${VAR}` in spec files, and `--env-file`.

Syntax, inside string values only (never keys):

- `${NAME}`: the variable's value; an error if it is not set (set to "" is fine).
- `${NAME:-default}`: the default when NAME is unset *or empty* (as in docker compose
  and POSIX sh). The default is literal text: it may not contain `}` or another `${`.
- `$${`: a literal `${`. A `$` not followed by `{` is an ordinary character.
- NAME is `[A-Za-z_][A-Za-z0-9_]*`; anything else after `${` is an error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from agentctl.errors import SpecError

if TYPE_CHECKING:
    from agentctl.spec.diagnostics import Diagnostic
    from agentctl.spec.load import Path, SpecDocument

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `$${` (escape), `${...}` (a reference), or a bare `${` with no closing brace.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_REFERENCE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class _Malformed(Exception):
    pass


class _Missing(Exception):
    def __init__(self, names: list[str]) -> None:
        self.names = names


def expand(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace the references in `text`; return the result and the variable names used.

    Raises _Missing (every unset name, in order) or _Malformed (for the caller to place).
    """
    names: list[str] = []
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        shown = json.dumps(token, ensure_ascii=False)  # quoted, newlines escaped
        if token == "$${":
            return "${"
        inner = match.group(1)
        if inner is None:
            raise _Malformed('unterminated "${" (no closing "}")')
        ref = _REFERENCE.fullmatch(inner)
        if ref is None:
            raise _Malformed(
                f"bad variable reference {shown}: write ${{NAME}} or ${{NAME:-default}}, "
                "NAME being letters, digits and _ and not starting with a digit"
            )
        name, default = ref.group(1), ref.group(2)
        if default is not None and "${" in default:
            raise _Malformed(f'nested "${{" in the default of {shown} is not supported')
        if name not in names:
            names.append(name)
        value = env.get(name)
        if default is not None and not value:
            return default
        if value is None:
            missing.append(name)
            return ""
        return value

    result = _TOKEN.sub(replace, text)
    if missing:
        raise _Missing(missing)
    return result, names


def interpolate_document(doc: SpecDocument, env: Mapping[str, str]) -> None:
    """Replace `${VAR}` in every string value of `doc.data`, in place.

    Records `doc.variables` (path -> names) and `doc.templates` (path -> original text)
    for every string that held a reference. The first missing variable is the error.
    """
    missing: list[tuple[Path, str]] = []

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return {key: walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, (*path, i)) for i, item in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        try:
            result, names = expand(value, env)
        except _Malformed as exc:
            raise doc.error(path, str(exc), hint="write $${ for a literal ${") from None
        except _Missing as exc:
            missing.extend((path, name) for name in exc.names)
            return value
        if names:
            doc.variables[path] = names
            doc.templates[path] = value
        return result

    data = walk(doc.data, ())
    if missing:
        path, name = missing[0]
        hint = f"export {name}=... or pass --env-file FILE"
        others = sorted({n for _, n in missing[1:]} - {name})
        if others:
            hint += f" (also not set: {', '.join(others)})"
        raise doc.error(path, f"environment variable {name} is not set", hint=hint)
    doc.data = data


# -- env files ----------------------------------------------------------------------------

_ENV_LINE = re.compile(r"(?:export\s+)?([^=\s]+)\s*=\s*(.*)", re.DOTALL)
_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def load_env_file(path: str) -> dict[str, str]:
    """Read `KEY=VALUE` lines: `export ` prefix, `#` comments and blank lines allowed.

    Values may be unquoted (trimmed; ` #` starts a comment), 'single-quoted' (literal) or
    "double-quoted" (\\n, \\t, \\r, \\", \\\\ and \\$ escapes). No `${VAR}` expansion inside
    the file. Later lines override earlier ones. A bad line is a SpecError naming file:line.
    """
    from agentctl.spec.load import _read_file  # shares the size cap and UTF-8 messages

    text = _read_file(path)
    values: dict[str, str] = {}
    # split on \n only: str.splitlines() also breaks on \f, \x1c, ... and skews numbers
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(stripped)
        if match is None:
            raise SpecError(f"{path}:{number}: expected KEY=VALUE",
                            hint="lines are KEY=VALUE, '# comments' or blank")
        key, rest = match.group(1), match.group(2)
        if not NAME.fullmatch(key):
            raise SpecError(
                f"{path}:{number}: {key!r} is not a variable name",
                hint="names are letters, digits and _, not starting with a digit",
            )
        try:
            values[key] = _env_value(rest)
        except ValueError as exc:
            raise SpecError(f"{path}:{number}: {key}: {exc}") from None
    return values


def _env_value(rest: str) -> str:
    if rest[:1] == "'":
        end = rest.find("'", 1)
        if end < 0:
            raise ValueError("unterminated single quote")
        _only_comment_after(rest[end + 1 :])
        return rest[1:end]
    if rest[:1] == '"':
        out: list[str] = []
        i = 1
        while i < len(rest):
            char = rest[i]
            if char == '"':
                _only_comment_after(rest[i + 1 :])
                return "".join(out)
            if char == "\\" and i + 1 < len(rest):
                nxt = rest[i + 1]
                out.append(_DOUBLE_ESCAPES.get(nxt, "\\" + nxt))
                i += 2
                continue
            out.append(char)
            i += 1
        raise ValueError("unterminated double quote")
    # Unquoted: a `#` after whitespace starts a comment (`KEY=a#b` keeps the `#`).
    return re.split(r"\s#", rest, maxsplit=1)[0].strip()


def _only_comment_after(tail: str) -> None:
    tail = tail.strip()
    if tail and not tail.startswith("#"):
        raise ValueError(f"unexpected text after the closing quote: {tail[:20]!r}")


def build_env(
    env_files: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables `${VAR}` sees: env files first, then the real environment on top.

    Precedence (highest first): the process environment, then the env files, later files
    over earlier ones. The real environment wins, as in docker compose, so CI can override
    a checked-in env file without editing it.
    """
    merged: dict[str, str] = {}
    for path in env_files:
        merged.update(load_env_file(path))
    merged.update(os.environ if environ is None else environ)
    return merged


# -- secret variables ---------------------------------------------------------------------

# A variable whose name holds one of these words is a secret wherever it is used.
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# A reference without a default: `${NAME}` (group 1); `$${` is an escape.
_PLAIN_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def is_secret_name(name: str) -> bool:
    """`ASSEMBLYAI_API_KEY`, `CAL_TOKEN`, `DB_PASSWORD`: the name says it is a secret."""
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def secret_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of `env` whose names say secret, with a value."""
    return {name: value for name, value in env.items() if value and is_secret_name(name)}


def secret_variables(doc: SpecDocument) -> dict[str, list[Path]]:
    """Each variable `doc` uses as a secret (its name says so, or it fills a write-only
    value such as a tool header), with the paths it fills."""
    from agentctl.spec.plan import is_write_only

    found: dict[str, list[Path]] = {}
    for path, names in doc.variables.items():
        for name in names:
            if is_write_only(path) or is_secret_name(name):
                found.setdefault(name, []).append(path)
    return found


def secret_values(doc: SpecDocument, env: Mapping[str, str]) -> list[str]:
    """The values output must never show for `doc`: its secret variables' values."""
    return [env[name] for name in secret_variables(doc) if env.get(name)]


def misplaced_secrets(doc: SpecDocument) -> list[tuple[Path, str]]:
    """(path, variable) where a secret variable fills a field that is not write-only,
    such as a greeting: the service returns that field to anyone who reads the agent."""
    from agentctl.spec.plan import is_write_only

    return [(path, name) for name, paths in secret_variables(doc).items()
            for path in paths if not is_write_only(path)]


def empty_secrets(doc: SpecDocument, env: Mapping[str, str]) -> list[tuple[Path, str]]:
    """(path, variable) where a write-only value uses `${VAR}` (no default) and VAR is set
    but empty: `Bearer ${TOKEN}` from a blank `.env` would store `Bearer `."""
    from agentctl.spec.plan import is_write_only

    found = []
    for path, template in doc.templates.items():
        if not is_write_only(path):
            continue
        for match in _PLAIN_REFERENCE.finditer(template):
            name = match.group(1)
            if name and match.group(2) is None and name in env and not env[name].strip():
                found.append((path, name))
    return found


def check_empty_secrets(docs: Iterable[SpecDocument], env: Mapping[str, str]) -> None:
    """Before any write: an empty variable at a write-only path is a SpecError (exit 3)."""
    for doc in docs:
        for path, name in empty_secrets(doc, env):
            raise doc.error(path, f"environment variable {name} is empty, and this value "
                            "is a secret", hint=f"set {name} (a blank line in an env file "
                            "sets it to nothing)")


def secret_findings(doc: SpecDocument, env: Mapping[str, str],
                    unset: Iterable[str] = ()) -> list[Diagnostic]:
    """validate's warnings (failures under --strict) about secret variables: one filling a
    field that is not write-only, one that is empty at a write-only path. `unset`: the
    variables validate found not set (reported on their own)."""
    from agentctl.spec.diagnostics import diagnostic

    skip = set(unset)
    found = [
        diagnostic(doc, path, f"the secret variable {name} fills a field that is not "
                   "write-only: anyone who can read the agent can read it", "warning")
        for path, name in misplaced_secrets(doc)
    ]
    found.extend(
        diagnostic(doc, path, f"environment variable {name} is empty, and this value is "
                   "a secret (apply refuses it)", "warning")
        for path, name in empty_secrets(doc, env) if name not in skip
    )
    return found
