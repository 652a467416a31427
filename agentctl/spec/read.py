"""Reading spec files: one reading, in the modes the commands need.

- `read_specs`, fail-first (create, update, diff, apply, connect -f): the files are
  loaded (`${VAR}` filled in), the secrets they hold are handed to `on_secrets` before
  anything can quote them, and the documents are checked: the first error raises
  (SpecError, with file:line and field), warnings go to `warn`.
- `check_files`, collect-all (`validate`): every problem in every file (load errors,
  schema errors, read-only fields, lint warnings), none of them fatal, as one report.
- `load_for_comparison` (diff, through `read_specs(compare_only=True)`): values diff
  never compares (write-only ones) may use unset variables.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from agentctl.errors import SpecError
    from agentctl.spec.diagnostics import Diagnostic
    from agentctl.spec.load import SpecDocument

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
    from agentctl.spec.diagnostics import collect_problems, diagnostic, strip_read_only
    from agentctl.spec.interpolate import secret_findings
    from agentctl.spec.lint import lint_documents
    from agentctl.spec.load import load_specs
    from agentctl.spec.testfile import check_test_document, is_test_document

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
    from agentctl.spec.diagnostics import diagnostic

    if not missing:
        return
    for path, template in doc.templates.items():
        for match in _REFERENCE.finditer(template):
            name = match.group(1)
            if name in missing and match.group(2) is None:
                yield diagnostic(doc, path, f"environment variable {name} is not set, so "
                                 "this value was not checked", "warning")


# -- diff: values it never compares --------------------------------------------------------


def load_for_comparison(paths: Sequence[str], env: Mapping[str, str], *,
                        stdin: TextIO | None = None) -> list[SpecDocument]:
    """Load spec files for `diff`, which compares and never sends.

    Write-only values (tool header values, LLM keys) cannot be read back, so diff never
    compares them: a `${VAR}` there may be unset or empty (a directory from `export --all`
    diffs clean before its secrets are filled in). An unset variable anywhere else is the
    usual error, as the value it builds is compared.
    """
    from agentctl.spec.load import load_specs
    from agentctl.spec.plan import is_write_only

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


# -- fail-first ----------------------------------------------------------------------------


def read_specs(
    paths: Sequence[str], env: Mapping[str, str], *, stdin: TextIO | None,
    on_secrets: Callable[[Iterable[str]], None], warn: Callable[[str], None],
    partial: bool = False, compare_only: bool = False, allow_loopback_urls: bool = False,
) -> list[SpecDocument]:
    """`partial`: an update or an inline session (the service keeps or fills in the rest).
    `compare_only` (diff): secrets are never compared, so their variables may be unset or
    empty. `allow_loopback_urls`: an emulator on loopback may call loopback tools."""
    from agentctl.errors import UsageError
    from agentctl.spec.diagnostics import validate_documents
    from agentctl.spec.interpolate import check_empty_secrets, misplaced_secrets, secret_values
    from agentctl.spec.load import load_specs
    from agentctl.spec.rules import format_path

    if not paths:
        raise UsageError("no spec files given", hint="pass -f PATH (a file, a directory, or -)")
    if compare_only:
        docs = load_for_comparison(list(paths), env, stdin=stdin)
    else:
        docs = load_specs(list(paths), env=env, stdin=stdin)
    for doc in docs:  # from here on, output never shows them
        on_secrets(secret_values(doc, env))
    if not compare_only:
        check_empty_secrets(docs, env)
    for doc in docs:
        for path, name in misplaced_secrets(doc):
            warn(f"{doc.where(path)}: {format_path(path)}: the secret variable {name} fills a "
                 "field that is not write-only: anyone who can read the agent can read it")
    for warning in validate_documents(docs, partial=partial,
                                      allow_loopback_urls=allow_loopback_urls):
        warn(warning)
    return docs
