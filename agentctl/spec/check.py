"""Offline checks of spec files, before any request.

`check_files` is `validate`: every problem in every file (load errors, schema errors,
read-only fields, lint warnings), none of them fatal, as one report. `check_names` and
`check_masked_creates` are what diff/apply refuse before they write: duplicate names, names
outside `--selector`, and a "***" secret on an agent that does not exist yet.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from agentctl.errors import SpecError
    from agentctl.spec.load import SpecDocument
    from agentctl.spec.plan import AgentPlan
    from agentctl.spec.validate import Diagnostic

# One finding as validate prints it (and as `-o json|yaml` lists it, keys in this order):
# {"file", "line" (int or None), "path" ("" when none), "severity", "message", "hint"}.
Finding = dict[str, Any]


@dataclass(frozen=True)
class CheckReport:
    """What `validate` found: the findings in file order, the files read, the agent count."""

    diagnostics: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    agents: int = 0
    strict: bool = False  # warnings fail too
    tests: int = 0  # test files (`agentctl test`) among the files

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d["severity"] == "error")

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors

    @property
    def failed(self) -> bool:
        return bool(self.errors or (self.strict and self.warnings))


def check_files(
    paths: Sequence[str], env: Mapping[str, str], *, strict: bool = False,
    stdin: TextIO | None = None,
) -> CheckReport:
    """Load each file on its own (so one bad file does not hide the others' problems) and
    collect everything: load errors, schema errors, read-only fields, lint warnings.

    An unset ${VAR} is not an error here: the values built from it are reported as not
    checked (one warning each) instead of whatever their placeholder text would trigger.
    """
    from agentctl.errors import SpecError
    from agentctl.spec.interpolate import secret_findings
    from agentctl.spec.lint import lint_documents
    from agentctl.spec.load import load_specs
    from agentctl.spec.testfile import check_test_document, is_test_document
    from agentctl.spec.validate import collect_problems, diagnostic, strip_read_only

    lenient = _LenientEnv(env)
    docs: list[SpecDocument] = []
    items: list[Finding] = []
    sources: list[str] = []
    for path in expand_paths(paths):
        try:
            loaded = load_specs([path], env=lenient, stdin=stdin)
        except SpecError as exc:
            item = load_problem(path, exc)
            items.append(item)
            sources.append(item["file"])
            continue
        docs.extend(loaded)
        sources.extend(doc.source for doc in loaded if doc.source not in sources)
    found = []
    # Test files (a top-level `tests:` list) are checked as tests, not as agents.
    tests = [doc for doc in docs if is_test_document(doc.data)]
    docs = [doc for doc in docs if not is_test_document(doc.data)]
    for doc in tests:
        found.extend(diagnostic(doc, path, message)
                     for path, message in check_test_document(doc))
    for doc in docs:
        found.extend(strip_read_only(doc))
        found.extend(collect_problems(doc))
        found.extend(secret_findings(doc, lenient.env, lenient.missing))
    found.extend(lint_documents(docs))
    # A value built from an unset variable is unknown here: its own findings are dropped
    # and replaced by one warning that says so.
    unset = [d for doc in docs + tests for d in missing_variables(doc, lenient.missing)]
    unchecked = {(d.source, d.path) for d in unset}
    found = [d for d in found if (d.source, d.path) not in unchecked] + unset
    items.extend(
        {"file": d.source, "line": d.line, "path": d.path, "severity": d.severity,
         "message": d.message, "hint": None}
        for d in found
    )
    rank = {source: i for i, source in enumerate(sources)}
    items.sort(key=lambda i: (rank.get(i["file"], len(rank)), i["line"] or 0))
    return CheckReport(items, sources, len(docs), strict, tests=len(tests))


class _LenientEnv(Mapping[str, str]):
    """The environment for an offline check: an unset variable reads as "" and is noted.

    "" (not a made-up value) so that `${VAR:-default}` still takes its default, exactly as
    when the variable is set but empty. The values that depend on an unset variable are
    then reported as such and not checked (see `missing_variables`).
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.missing: set[str] = set()

    def __getitem__(self, name: str) -> str:
        if name in self.env:
            return self.env[name]
        self.missing.add(name)
        return ""

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


def expand_paths(paths: Sequence[str]) -> Iterator[str]:
    """Directories as their spec files, so each file is loaded (and can fail) alone."""
    from agentctl.spec.load import SPEC_SUFFIXES

    for given in paths:
        if given != "-" and os.path.isdir(given):
            try:
                names = sorted(os.listdir(given))
            except OSError:
                names = []
            inside = [
                os.path.join(given, n) for n in names
                if not n.startswith(".") and n.lower().endswith(SPEC_SUFFIXES)
                and os.path.isfile(os.path.join(given, n))
            ]
            yield from inside or [given]  # an empty or unreadable one: the loader says why
        else:
            yield given


_LOCATED = re.compile(r"(\d+): (.*)", re.DOTALL)


def load_problem(path: str, exc: SpecError) -> Finding:
    """A loader's one-line SpecError (`file:line: ...`) as a finding."""
    from agentctl.spec.load import STDIN_NAME

    message, line = exc.message, None
    for source in (path, STDIN_NAME, "-"):
        if message.startswith(source + ":"):
            path, message = source, message[len(source) + 1:].lstrip()
            match = _LOCATED.fullmatch(message)
            if match:
                line, message = int(match.group(1)), match.group(2)
            break
    return {"file": path, "line": line, "path": "", "severity": "error", "message": message,
            "hint": exc.hint}


# `$${` (an escaped `${`) or a reference; group 2 is the `:-default` part.
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def missing_variables(doc: SpecDocument, missing: set[str]) -> Iterator[Diagnostic]:
    """A warning for each value that uses an unset ${VAR} without a default: validate
    cannot know the value, so that field is not checked."""
    from agentctl.spec.validate import diagnostic

    if not missing:
        return
    for path, template in doc.templates.items():
        for match in _REFERENCE.finditer(template):
            name = match.group(1)
            if name in missing and match.group(2) is None:
                yield diagnostic(doc, path, f"environment variable {name} is not set, so "
                                 "this value was not checked", "warning")


# -- before diff/apply write -------------------------------------------------------------------


def check_names(
    docs: Sequence[SpecDocument],
    selector: str | None,
    *,
    hint: str = "agents are matched by name, so each name may appear once",
) -> None:
    """Agents are matched by name: each name once, and inside `selector` when one is given.
    Raises the first problem (RejectedError for a duplicate, SpecError for the selector)."""
    from agentctl.errors import RejectedError

    seen: dict[str, str] = {}
    for doc in docs:
        name = str(doc.data.get("name"))
        if name in seen:
            raise RejectedError(
                f"{doc.where(('name',))}: name: {name!r} is also defined at {seen[name]}",
                hint=hint,
            )
        seen[name] = doc.where(("name",))
        if selector and not name.startswith(selector):
            raise doc.error(("name",), f"{name!r} does not start with the selector "
                            f"{selector!r}", hint="every agent these files manage must "
                            "be named PREFIX...; fix the name or the --selector")


def check_masked_creates(docs: Sequence[SpecDocument], plans: Sequence[AgentPlan]) -> None:
    """A new agent cannot keep a secret it never had: a header named without a value is
    an error on a create, naming the header, before the first write. Also: `llm` sent
    without its key (the service needs all three fields whenever `llm` is written)."""
    from agentctl.spec.plan import llm_keys_missing, secrets_a_create_lacks

    creates = {p.name for p in plans if p.action == "create"}
    for doc in docs:
        found = secrets_a_create_lacks(doc.data) if doc.data.get("name") in creates else []
        if found:
            header = _header_name(doc.data, found[0])
            raise doc.error(found[0], f"header {header!r} has no value, and this agent does "
                            "not exist yet, so there is no stored value to keep",
                            hint="give the value as ${VAR}")
    by_name = {p.name: p for p in plans}
    for doc in docs:
        plan = by_name.get(str(doc.data.get("name")))
        missing = llm_keys_missing(plan)
        if missing:
            raise doc.error(missing[0], "llm is sent (it changed), and the service needs "
                            "its api_key with it; reads never return the key",
                            hint="give llm[].api_key as ${VAR}")


def _header_name(data: dict[str, Any], path: tuple[Any, ...]) -> str:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    return str(node.get("name")) if isinstance(node, dict) else "?"


# -- diff: values it never compares --------------------------------------------------------


def load_for_comparison(paths: Sequence[str], env: Mapping[str, str], *,
                        stdin: TextIO | None = None) -> list[SpecDocument]:
    """Load spec files for `diff`, which compares and never sends.

    Write-only values (tool header values, LLM keys) cannot be read back, so diff never
    compares them: a `${VAR}` there may be unset or empty (a directory from `export --all`
    diffs clean before its secrets are filled in). An unset variable anywhere else is the
    usual error, as the value it builds is compared.
    """
    from agentctl.record import is_write_only
    from agentctl.spec.load import load_specs

    lenient = _LenientEnv(env)
    docs = load_specs(list(paths), env=lenient, stdin=stdin)
    for doc in docs:
        for path, template in doc.templates.items():
            for match in _REFERENCE.finditer(template):
                name = match.group(1)
                if name in lenient.missing and match.group(2) is None and not is_write_only(
                        path):
                    raise doc.error(path, f"environment variable {name} is not set",
                                    hint=f"export {name}=... or pass --env-file FILE")
    return docs
