"""`list` on a terminal: streamed page by page, ids never wrapped or cut, empty said in a line."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest

from agentctl.render.table import Column, layout, stream
from agentctl.render.views import LIST_COLUMNS, WIDE_COLUMNS
from tests.conftest import agent_yaml, run_cli

UUID = re.compile(r"agent_[0-9a-f]{32}")  # the ids the emulator gives (§4)
LONG = "a-support-agent-with-a-really-long-descriptive-name-for-the-north-region"


@pytest.fixture
def agents(api_env, write):
    for name in ("short", LONG, "日本語のサポート担当エージェント"):
        run_cli("create", "-f", write(f"{len(name)}.yaml", agent_yaml(name)))
    return api_env


def ids_of(emulator) -> set[str]:
    return {a["id"] for a in emulator.store.list_agents()}


@pytest.mark.parametrize(("columns", "args"), [(80, ()), (80, ("-o", "wide")),
                                               (140, ("-o", "wide")), (60, ())])
def test_ids_are_never_wrapped_or_cut_and_lines_fit(agents, monkeypatch, columns, args):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = run_cli("--no-color", "list", *args, tty=True).stdout
    lines = out.splitlines()
    assert all(len(line) <= columns for line in lines if line.isascii()), out
    shown = {m.group() for line in lines for m in UUID.finditer(line)}
    assert shown == ids_of(agents)  # every id whole, each on the line of its name
    assert any(line.startswith("short ") for line in lines)
    assert any("…" in line and line.startswith(LONG[:10]) for line in lines)  # the name gave way


def test_a_wide_terminal_shows_every_column_and_whole_names(agents, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = run_cli("--no-color", "list", tty=True).stdout
    assert out.splitlines()[0].split() == ["NAME", "ID", "CREATED", "UPDATED"]
    assert LONG in out and "…" not in out


def test_wide_asian_names_are_measured_in_terminal_cells(agents, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = run_cli("--no-color", "list", tty=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("日本"))
    id_at = line.index(UUID.search(line).group())
    short = next(line for line in out.splitlines() if line.startswith("short"))
    # the id starts in the same terminal column on every row: 2 cells per wide character
    wide_chars = sum(1 for c in line[:id_at] if ord(c) > 0x2E80)
    assert id_at + wide_chars == short.index(UUID.search(short).group())


def test_an_empty_list_says_so_in_one_line(api_env):
    for tty in (True, False):
        result = run_cli("--no-color", "list", tty=tty)
        assert result.stdout == ""
        assert result.stderr.strip() == "no agents"
    result = run_cli("--no-color", "list", "-o", "wide", tty=True)
    assert result.stdout == "" and result.stderr.strip() == "no agents"
    assert json.loads(run_cli("list", "-o", "json").stdout) == []
    assert run_cli("list", "-o", "id").stdout == ""


def test_no_match_for_a_name_filter_says_which_filter(agents):
    result = run_cli("list", "--name", "nobody-*")
    assert result.stdout == "" and result.stderr.strip() == "no agents match --name 'nobody-*'"


def test_control_characters_in_a_name_are_escaped_on_a_terminal():
    out = io.StringIO()
    stream(out, LIST_COLUMNS, [[("evil\x1b[31mname\nx", "id-1", "c", "u")]], width=120)
    assert "\x1b[31m" not in out.getvalue() and "\\x1b[31mname\\nx" in out.getvalue()


def test_rows_are_written_page_by_page_before_the_next_page_is_asked_for():
    out = io.StringIO()
    seen_before_page: list[str] = []

    def pages():
        yield [("first", "id-1", "c", "u")]
        seen_before_page.append(out.getvalue())  # what was on screen when page 2 was fetched
        yield [("second", "id-2", "c", "u")]

    assert stream(out, LIST_COLUMNS, pages(), width=100) == 2
    assert "first" in seen_before_page[0] and "second" not in seen_before_page[0]
    assert "second" in out.getvalue()


def test_columns_give_way_in_order_and_ids_never():
    rows = [("n" * 30, "i" * 36, "c" * 20, "u" * 20)]
    assert layout(LIST_COLUMNS, rows, 200) == [32, 36, 20, 20]  # room for longer names
    assert layout(LIST_COLUMNS, [("n", "i" * 36, "c" * 20, "u" * 20)], 90) == [8, 36, 20, 20]
    assert layout(LIST_COLUMNS, rows, 100) == [18, 36, 20, 20]  # the name shrinks first
    assert layout(LIST_COLUMNS, rows, 80) == [20, 36, 20, None]  # then UPDATED goes
    assert layout(LIST_COLUMNS, rows, 50) == [12, 36, None, None]
    assert layout(LIST_COLUMNS, rows, 20)[1] == 36  # too narrow for anything: still whole
    wide = layout(WIDE_COLUMNS, [("n", "i" * 36, "ivy", "0", "g" * 40, "c" * 20, "u" * 20)],
                  80)
    assert wide[1] == 36 and wide[5] is None and wide[6] is None
    assert layout([Column("A", cut=True, min_width=3)], [("x" * 10,)], 5) == [5]


class _Terminal(io.StringIO):
    """A terminal stdout that notes, at each write, how many list pages had been asked for."""

    def __init__(self, emulator) -> None:
        super().__init__()
        self.emulator = emulator
        self.pages_asked_at_write: list[tuple[int, str]] = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        asked = sum(1 for r in self.emulator.requests
                    if r["method"] == "GET" and r["path"] == "/v1/agents")
        self.pages_asked_at_write.append((asked, text))
        return super().write(text)


@pytest.mark.parametrize("args", [(), ("-o", "wide")])
def test_the_first_rows_are_on_screen_before_the_last_page_is_asked_for(
        tmp_path, monkeypatch, args):
    from agentctl.cli import main
    from agentctl.emulator import server
    from agentctl.emulator.app import create_app

    if "page_size" not in create_app.__code__.co_varnames:
        pytest.skip("the emulator does not page its lists yet")
    running = server.start(port=0, db_path=tmp_path / "paged.sqlite3", page_size=3)
    try:
        for i in range(8):
            running.store.create_agent({"name": f"paged-{i}", "system_prompt": "x",
                                        "voice": {"voice_id": "ivy"}})
        monkeypatch.setenv("ASSEMBLYAI_API_KEY", "test-key-0123456789")
        monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
        monkeypatch.setenv("COLUMNS", "80")
        terminal = _Terminal(running)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = terminal, io.StringIO()
        try:
            assert main(["--no-color", "list", *args]) == 0
        finally:
            sys.stdout, sys.stderr = saved
    finally:
        running.stop()
    pages = max(asked for asked, _ in terminal.pages_asked_at_write)
    assert pages == 3  # 8 agents, 3 a page
    first_row = next(asked for asked, text in terminal.pages_asked_at_write if "paged-" in text)
    assert first_row == 1  # written while only the first page had been asked for
    assert terminal.getvalue().count("paged-") == 8


def test_wide_fetches_only_the_items_that_are_not_whole_records():
    """One shape of the reference lists whole agents: those cost no GET (a fake transport
    plays it; the emulator lists summaries)."""
    import httpx

    from agentctl.api.client import AgentsAPI
    from agentctl.api.transport import build_client
    from agentctl.usecases.wide import full_records

    asked: list[str] = []
    full = {"id": "agent_1", "name": "whole", "system_prompt": "x", "voice": {"voice_id": "a"}}

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json={"id": "agent_2", "name": "summary",
                                         "system_prompt": "y"})

    http = build_client("http://127.0.0.1:9", "k", 5, transport=httpx.MockTransport(answer))
    pages = [[full, {"id": "agent_2", "name": "summary"}]]
    records = [r for page in full_records(AgentsAPI(http), pages) for r in page]
    assert asked == ["/v1/agents/agent_2"]
    assert [r["name"] for r in records] == ["whole", "summary"] and records[0] is full
