"""`test`: conversation tests against live sessions, for CI gates before a deploy."""

from __future__ import annotations

import os
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agentctl.cli.options import EnvFileOpt
from agentctl.cli.state import get_state

if TYPE_CHECKING:
    from agentctl.spec.testfile import AgentRef, TestCase
    from agentctl.testing.run import TestResult


class TestFormat(StrEnum):
    text = "text"
    json = "json"


def test(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH...", help="Test files, or directories of them.")],
    agent: Annotated[str | None, typer.Option(
        "--agent", metavar="AGENT",
        help="Test this agent instead of the one each test names: a stored agent (id or "
        "name) or a spec file (.yaml/.yml/.json/.jsonc), connected inline, never stored.")]
    = None,
    select: Annotated[list[str] | None, typer.Option(
        "-k", metavar="PATTERN",
        help="Run only tests whose name contains PATTERN (case-insensitive; repeatable: "
        "any).")] = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", min=1, max=32, metavar="N",
        help="Tests run at once (each is one live session, two with a simulated "
        "caller).")] = 1,
    junit: Annotated[Path | None, typer.Option(
        "--junit", metavar="FILE", dir_okay=False,
        help="Also write the results as JUnit XML (replaced atomically).")] = None,
    save_dir: Annotated[Path | None, typer.Option(
        "--save-dir", metavar="DIR", file_okay=False,
        help="Keep each test's transcript, checks, events and both sides' audio here.")]
    = None,
    fmt: Annotated[TestFormat, typer.Option(
        "--output", "-o", case_sensitive=False,
        help="text: a line per test; json: one document with every test and check.")]
    = TestFormat.text,
    env_file: EnvFileOpt = None,
    speed: Annotated[float, typer.Option(
        "--speed", metavar="X", min=0.01, max=1000.0,
        help="Stream audio X times faster than real time (against an emulator whose "
        "live speed matches; for fast tests).")] = 1.0,
    tool_timeout: Annotated[float, typer.Option(
        "--tool-timeout", metavar="SECONDS", min=0.001,
        help="How long a tool's command may run.")] = 10.0,
) -> None:
    """Run conversation tests: each test talks to an agent (recorded turns or a
    simulated caller) and checks what it said and did. Exit 0: all passed; 1: any
    failed; 7: the service was unavailable."""
    import time

    from agentctl.errors import AuthError, UsageError
    from agentctl.render.output import OutputMode
    from agentctl.render.testing import show_result, show_summary
    from agentctl.session.ws import is_loopback_url, ws_url
    from agentctl.spec.testfile import load_tests
    from agentctl.testing.report import document, junit_xml, record, save
    from agentctl.testing.run import Agents, Runner, RunOptions

    state = get_state(ctx)
    out = state.output(OutputMode.json if fmt == TestFormat.json else OutputMode.table)
    if junit is not None and not (junit.parent if str(junit.parent) else Path(".")).is_dir():
        # Checked first: the report of a long run must not be lost at its end.
        raise UsageError(f"--junit {junit}: directory {junit.parent} does not exist")
    env = state.spec_environment(env_file)
    override = _agent_ref(agent) if agent else None
    tests = _select(load_tests(paths, env), select or [])
    if not tests:
        raise UsageError("no tests selected" if select else "no tests in the given files",
                         hint="check -k" if select else "a test file has a tests: list")
    if override is None:
        for t in tests:
            if t.agent.stored is None and t.agent.spec is None:
                raise UsageError(f"{t.source}:{t.line}: test {t.name!r} names no agent",
                                 hint="add agent: NAME or spec: FILE to the test (or the "
                                 "file), or pass --agent")

    base_url = state.base_url()
    if speed != 1.0 and not is_loopback_url(base_url):
        # The service ends a session whose audio runs ahead of real time.
        raise UsageError("--speed is for an emulator on this machine",
                         hint="the service takes audio at the pace of speech only")
    api_key = state.settings.api_key
    if not api_key:
        raise AuthError("no API key", hint="set ASSEMBLYAI_API_KEY, pass --api-key, or use "
                        "--local (the embedded emulator)")
    options = RunOptions(url=ws_url(base_url), api_key=api_key, speed=speed,
                         open_timeout=state.settings.timeout, ca_cert=state.settings.ca_cert,
                         tool_timeout=tool_timeout,
                         keep_audio=save_dir is not None)
    agents = Agents(state.api, env, allow_loopback=is_loopback_url(base_url),
                    override=override)
    runner = Runner(options, agents)
    shown = threading.Lock()

    def finished(result: TestResult) -> None:
        with shown:
            if save_dir is not None and (result.status != "error" or result.agent.events):
                save(result, save_dir)
            show_result(out, record(result))

    started = time.monotonic()
    results = runner.run_all(tests, concurrency, finished)
    if junit is not None:
        from agentctl.fileio import write_atomic

        write_atomic(junit, junit_xml(results), force=True)
    show_summary(out, document(results), time.monotonic() - started)
    raise typer.Exit(_exit_code(results, interrupted=runner.cancelled.is_set()))


def _agent_ref(value: str) -> AgentRef:
    """--agent: a spec file when it names one, else a stored agent's id or name."""
    from agentctl.errors import UsageError
    from agentctl.spec.load import SPEC_SUFFIXES
    from agentctl.spec.testfile import AgentRef

    if value.lower().endswith(SPEC_SUFFIXES) or os.sep in value:
        if not os.path.isfile(value):
            raise UsageError(f"--agent {value}: no such spec file",
                             hint="a spec file path, or a stored agent's id or name")
        return AgentRef(spec=os.path.normpath(value), where="--agent")
    return AgentRef(stored=value, where="--agent")


def _select(tests: list[TestCase], patterns: list[str]) -> list[TestCase]:
    if not patterns:
        return tests
    wanted = [p.lower() for p in patterns]
    return [t for t in tests if any(p in t.name.lower() for p in wanted)]


def _exit_code(results: list[TestResult], *, interrupted: bool) -> int:
    """130 after Ctrl-C; an error's own code when a test could not run (7 first: the
    service was unavailable); 1 when any failed; else 0."""
    from agentctl.exit_codes import ExitCode

    if interrupted:
        return int(ExitCode.INTERRUPTED)
    codes = [r.exit_code for r in results if r.status == "error"]
    if codes:
        return int(ExitCode.UNAVAILABLE) if ExitCode.UNAVAILABLE in codes else codes[0]
    if any(r.status == "failed" for r in results):
        return 1
    return 0
