"""`list -o wide` reuses the records an earlier listing fetched (usecases/record_cache.py):
a record whose list fields are unchanged costs no GET; a changed one costs one; a deleted
one disappears; a broken or foreign cache file is ignored; `--no-cache` bypasses it.
The real CLI against the real emulator; requests counted in the emulator's log."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from agentctl.settings import cache_dir
from agentctl.usecases import record_cache
from agentctl.usecases.record_cache import RecordCache
from tests.conftest import TEST_KEY, run_cli


def record_gets(emulator) -> list[str]:
    """The GETs of single agents in the emulator's log."""
    return [r["path"] for r in emulator.requests
            if r["method"] == "GET" and r["path"].startswith("/v1/agents/")]


def cache_files() -> list[Path]:
    folder = cache_dir() / record_cache.SUBDIR
    return sorted(folder.glob("*.json")) if folder.exists() else []


def wide_rows(result) -> dict[str, list[str]]:
    """name -> the columns of its row (piped: plain columns, two spaces apart)."""
    lines = result.stdout.splitlines()[1:]
    return {line.split()[0]: line.split() for line in lines if line.strip()}


@pytest.fixture
def three(api_env):
    """Three agents; their ids by name."""
    ids = {}
    for name, voice in (("alpha", "ivy"), ("beta", "james"), ("gamma", "tyler")):
        ids[name] = api_env.store.create_agent(
            {"name": name, "system_prompt": "x", "voice": {"voice_id": voice},
             "greeting": f"Hello {name}"})["id"]
    return ids


def test_a_second_listing_makes_no_get_and_a_changed_agent_one(api_env, three):
    first = run_cli("list", "-o", "wide")
    assert sorted(record_gets(api_env)) == sorted(f"/v1/agents/{i}" for i in three.values())
    api_env.requests.clear()
    second = run_cli("list", "-o", "wide")
    assert record_gets(api_env) == []
    assert second.stdout == first.stdout
    assert [r["path"] for r in api_env.requests] == ["/v1/agents"]  # the list alone

    run_cli("update", "beta", "--set", "voice.voice_id=winter")
    api_env.requests.clear()
    third = run_cli("list", "-o", "wide")
    assert record_gets(api_env) == [f"/v1/agents/{three['beta']}"]
    assert wide_rows(third)["beta"][2] == "winter"
    assert wide_rows(third)["alpha"] == wide_rows(first)["alpha"]


def test_a_deleted_agent_disappears_from_the_listing_and_the_cache(api_env, three):
    run_cli("list", "-o", "wide")
    run_cli("delete", "gamma", "--yes")
    api_env.requests.clear()
    result = run_cli("list", "-o", "wide")
    assert set(wide_rows(result)) == {"alpha", "beta"}
    assert record_gets(api_env) == []
    (path,) = cache_files()
    stored = json.loads(path.read_text())["records"]
    assert sorted(r["name"] for r in stored) == ["alpha", "beta"]


def test_an_empty_listing_empties_the_cache(api_env, three):
    run_cli("list", "-o", "wide")
    run_cli("delete", "alpha", "beta", "gamma", "--yes")
    result = run_cli("list", "-o", "wide")
    assert result.stdout == "" and "no agents" in result.stderr
    (path,) = cache_files()
    assert json.loads(path.read_text())["records"] == []


def test_a_partial_listing_keeps_the_other_records(api_env, three):
    run_cli("list", "-o", "wide", "--name", "a*")  # alpha only
    run_cli("list", "-o", "wide", "--limit", "1")  # the newest: gamma
    api_env.requests.clear()
    run_cli("list", "-o", "wide")
    assert record_gets(api_env) == [f"/v1/agents/{three['beta']}"]


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"\xff\xfe\x00", b"[1, 2]",
                                     b'{"format": 1, "account": "someone else", "records": []}',
                                     b'{"format": 999, "records": []}'])
def test_a_broken_or_foreign_cache_file_is_ignored_and_replaced(api_env, three, garbage):
    run_cli("list", "-o", "wide")
    (path,) = cache_files()
    path.write_bytes(garbage)
    api_env.requests.clear()
    result = run_cli("list", "-o", "wide")
    assert result.stderr == ""
    assert len(record_gets(api_env)) == 3
    assert len(json.loads(path.read_text())["records"]) == 3


def test_a_cached_record_of_an_unreadable_shape_is_fetched_again(api_env, three):
    run_cli("list", "-o", "wide")
    (path,) = cache_files()
    data = json.loads(path.read_text())
    for record in data["records"]:
        if record["name"] == "alpha":
            record["tools"] = "not a list"
    path.write_text(json.dumps(data))
    api_env.requests.clear()
    result = run_cli("list", "-o", "wide")
    assert record_gets(api_env) == [f"/v1/agents/{three['alpha']}"]
    assert wide_rows(result)["alpha"][3] == "0"


def test_another_account_or_url_has_its_own_cache(api_env, three, monkeypatch):
    run_cli("list", "-o", "wide")
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", "another-key-0123456789")
    api_env.requests.clear()
    run_cli("list", "-o", "wide")
    assert len(record_gets(api_env)) == 3  # nothing shared with the first key
    files = cache_files()
    assert len(files) == 2
    for path in files:  # named and marked by a hash: neither key is in the file
        text = path.read_text()
        assert TEST_KEY not in text and "another-key" not in text
        assert TEST_KEY not in path.name


def test_the_cache_is_600_in_700_directories(api_env, three):
    run_cli("list", "-o", "wide")
    (path,) = cache_files()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_no_cache_fetches_everything_and_leaves_the_cache_alone(api_env, three):
    run_cli("list", "-o", "wide")
    (path,) = cache_files()
    before = path.read_bytes(), path.stat().st_mtime_ns
    run_cli("update", "beta", "--set", "greeting=Changed")
    api_env.requests.clear()
    result = run_cli("list", "-o", "wide", "--no-cache")
    assert len(record_gets(api_env)) == 3
    assert wide_rows(result)["beta"][3:5] == ["0", "Changed"]
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_without_a_cache_file_nothing_is_written_for_a_table_or_json(api_env, three):
    run_cli("list")
    run_cli("list", "-o", "json")
    assert cache_files() == []


def test_get_and_writes_never_read_the_cache(api_env, three):
    run_cli("list", "-o", "wide")
    (path,) = cache_files()
    data = json.loads(path.read_text())
    for record in data["records"]:
        record["greeting"] = "from the cache"
    path.write_text(json.dumps(data))
    api_env.requests.clear()
    got = json.loads(run_cli("get", three["alpha"], "-o", "json").stdout)
    assert got["greeting"] == "Hello alpha"
    assert record_gets(api_env) == [f"/v1/agents/{three['alpha']}"]  # one fresh GET
    updated = run_cli("update", "alpha", "--set", "greeting=New", "-o", "json")
    assert json.loads(updated.stdout)["greeting"] == "New"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_says_what_came_from_the_cache(api_env, three):
    """Piped table, stderr on a terminal: a count there, erased at the end."""
    from agentctl.cli import main

    def wide() -> tuple[str, str]:
        out, err = io.StringIO(), _Tty()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            assert main(["list", "-o", "wide"]) == 0
        finally:
            sys.stdout, sys.stderr = saved
        return out.getvalue(), err.getvalue()

    table, progress = wide()
    assert "\rdetails of 3 agents (3 fetched, 0 from the cache)" in progress
    assert progress.endswith("\r\x1b[K") and "\x1b" not in table
    _, progress = wide()
    assert "\rdetails of 3 agents (0 fetched, 3 from the cache)" in progress


def test_an_agent_deleted_between_the_list_and_its_get_is_left_out():
    """A 404 for one GET (a fake transport plays the race): that agent is gone, the others
    are shown."""
    import httpx

    from agentctl.api.client import AgentsAPI
    from agentctl.api.transport import build_client
    from agentctl.usecases.wide import full_records

    def answer(request: httpx.Request) -> httpx.Response:
        agent_id = request.url.path.rsplit("/", 1)[1]
        if agent_id == "agent_gone":
            return httpx.Response(404, json={"error": "agent not found",
                                             "code": "agent_not_found"})
        return httpx.Response(200, json={"id": agent_id, "name": agent_id,
                                         "system_prompt": "x"})

    http = build_client("http://127.0.0.1:9", "k", 5, transport=httpx.MockTransport(answer))
    pages = [[{"id": "agent_a"}, {"id": "agent_gone"}], [{"id": "agent_b"}]]
    got = list(full_records(AgentsAPI(http), pages))
    assert [[r["id"] for r in page] for page in got] == [["agent_a"], ["agent_b"]]


# -- the cache file itself ------------------------------------------------------------------

def _records(tag: str, count: int) -> list[dict]:
    return [{"id": f"agent_{i:03d}", "name": f"{tag}-{i}", "created_at": "t0",
             "updated_at": f"{tag}", "system_prompt": "x" * 100} for i in range(count)]


def test_two_writers_at_once_never_leave_a_broken_file(tmp_path):
    a, b = _records("a", 300), _records("b", 300)
    stop = threading.Event()
    seen: list[str] = []

    def write(records: list[dict]) -> None:
        cache = RecordCache(tmp_path, "http://127.0.0.1:1", "k")
        while not stop.is_set():
            assert cache.save(records, complete=True)

    writers = [threading.Thread(target=write, args=(r,)) for r in (a, b)]
    for thread in writers:
        thread.start()
    try:
        while len(seen) < 200 and all(thread.is_alive() for thread in writers):
            loaded = RecordCache(tmp_path, "http://127.0.0.1:1", "k").load()
            if loaded:
                tags = {r["updated_at"] for r in loaded.values()}
                assert len(loaded) == 300 and len(tags) == 1, "a mixed or partial file"
                seen.append(tags.pop())
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert len(seen) == 200, "a writer failed"
    cache_folder = tmp_path / record_cache.SUBDIR
    assert [p.name for p in cache_folder.iterdir() if p.name.endswith(".tmp")] == []


def test_the_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(record_cache, "MAX_RECORDS", 10)
    cache = RecordCache(tmp_path, "http://127.0.0.1:1", "k")
    assert cache.save(_records("a", 25), complete=True)
    assert sorted(RecordCache(tmp_path, "http://127.0.0.1:1", "k").load()) == [
        f"agent_{i:03d}" for i in range(10)]
    monkeypatch.setattr(record_cache, "MAX_RECORDS", 1000)
    monkeypatch.setattr(record_cache, "MAX_BYTES", 2000)
    assert cache.save(_records("b", 25), complete=True)
    assert cache.path.stat().st_size <= 2100  # the bound, and the file's own header
    assert 0 < len(RecordCache(tmp_path, "http://127.0.0.1:1", "k").load()) < 25


def test_a_write_only_value_is_never_stored(tmp_path):
    """The service never returns one; if it did, the cache would not keep it."""
    secret, llm = "hdr-SECRET-in-cache-4242", "llm-SECRET-in-cache-7777"
    record = {"id": "agent_1", "name": "leaky", "created_at": "t", "updated_at": "t",
              "tools": [{"name": "t", "http": {"url": "https://x.example", "headers": [
                  {"name": "Authorization", "value": secret}]}}],
              "llm": [{"model": "m", "api_key": llm}]}
    cache = RecordCache(tmp_path, "http://127.0.0.1:1", "k")
    assert cache.save([record], complete=True)
    text = cache.path.read_text()
    assert secret not in text and llm not in text and "Authorization" in text
    assert record["llm"][0]["api_key"] == llm  # the caller's record is untouched


def test_an_unwritable_cache_is_no_error(api_env, three, monkeypatch):
    blocked = Path(os.environ["HOME"]) / "not-a-dir"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    result = run_cli("list", "-o", "wide")
    assert len(wide_rows(result)) == 3 and result.stderr == ""
