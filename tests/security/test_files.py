"""Files agentctl writes: atomic, never over an existing file without --force, and names
derived from agent names that stay inside the target directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentctl import fileio
from agentctl.errors import UsageError
from tests.conftest import SUPPORT_YAML, run_cli


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# -- write_atomic --------------------------------------------------------------------------
def test_write_creates_then_refuses_to_overwrite(tmp_path):
    target = tmp_path / "out.yaml"
    fileio.write_atomic(target, "one\n", force=False)
    with pytest.raises(UsageError, match="refusing to overwrite") as caught:
        fileio.write_atomic(target, "two\n", force=False)
    assert caught.value.hint == "pass --force to replace it"
    assert target.read_text() == "one\n"
    fileio.write_atomic(target, b"three\n", force=True)
    assert target.read_text() == "three\n"
    assert leftovers(tmp_path) == []


def test_modes_default_explicit_and_kept(tmp_path):
    old = os.umask(0o022)
    try:
        plain = fileio.write_atomic(tmp_path / "plain", "x", force=False)
        assert stat.S_IMODE(plain.stat().st_mode) == 0o644
        private = fileio.write_atomic(tmp_path / "private", "x", force=False, mode=0o600)
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        fileio.write_atomic(private, "y", force=True)  # replacing keeps the mode
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    target = tmp_path / "out.yaml"
    target.write_text("old\n")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(UsageError, match="No space left on device"):
        fileio.write_atomic(target, "new\n", force=True)
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_an_existing_symlink_is_not_written_through(tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("precious\n")
    link = tmp_path / "out.yaml"
    link.symlink_to(elsewhere)
    with pytest.raises(UsageError, match="refusing to overwrite"):
        fileio.write_atomic(link, "x", force=False)
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "missing")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        fileio.write_atomic(dangling, "x", force=False)
    fileio.write_atomic(link, "x", force=True)  # replaces the link itself
    assert elsewhere.read_text() == "precious\n"
    assert not link.is_symlink() and link.read_text() == "x"


def test_missing_directory_and_directory_target_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        fileio.write_atomic(tmp_path / "nope" / "f", "x", force=False)
    with pytest.raises(UsageError, match="is a directory"):
        fileio.write_atomic(tmp_path, "x", force=True)


def test_config_writes_are_atomic_and_private(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    fileio.write_private(path, 'api_key = "old"\n')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def broken_replace(src, dst):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "replace", broken_replace)
    # the one writer says what failed in one line (a UsageError), not a traceback
    with pytest.raises(UsageError, match="I/O error"):
        fileio.write_private(path, 'api_key = "new"\n')
    assert path.read_text() == 'api_key = "old"\n'
    assert leftovers(tmp_path) == []


# -- safe names ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("Support Assistant", "Support-Assistant"),
    ("../../etc/passwd", "etc-passwd"),
    ("..", "agent"),
    ("", "agent"),
    ("/", "agent"),
    (".bashrc", "bashrc"),
    ("-rf", "rf"),
    ("a\\b:c*d?e", "a-b-c-d-e"),
    ("con", "con_"),
    ("LPT1.txt", "LPT1.txt_"),
    ("Café Olé", "Café-Olé"),
    ("tab\there\nnewline\x00nul", "tabherenewlinenul"),
    ("ｆｕｌｌwidth／slash", "fullwidth-slash"),
    ("x" * 300, "x" * 100),
])
def test_safe_filename_examples(name, expected):
    assert fileio.safe_filename(name) == expected


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=300))
def test_no_agent_name_escapes_the_directory(tmp_path, name):
    safe = fileio.safe_filename(name)
    assert safe and len(safe) <= fileio.MAX_NAME + 1
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith((".", "-")) and ".." not in safe
    target = fileio.path_in(tmp_path, name, ".yaml")
    assert target.parent == tmp_path
    assert target.resolve().parent == tmp_path.resolve()


def test_path_in_refuses_a_planted_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "alpha.yaml").symlink_to(outside / "alpha.yaml")
    with pytest.raises(UsageError, match="outside"):
        fileio.path_in(tmp_path / "dir", "alpha", ".yaml")


# -- get --save ---------------------------------------------------------------------------
@pytest.fixture
def support(api_env, write, monkeypatch):
    monkeypatch.setenv("WEATHER_KEY", "s3cret-weather-value")
    run_cli("create", "-f", write("support.yaml", SUPPORT_YAML))
    return api_env


def test_get_save_writes_a_spec_and_refuses_to_overwrite(support, tmp_path):
    out_dir = tmp_path / "exports"
    result = run_cli("get", "Support Assistant", "--save", str(out_dir))
    target = out_dir / "Support-Assistant.yaml"
    assert result.stdout == f"saved agent 'Support Assistant' to {target}\n"
    saved = target.read_text()
    assert "s3cret" not in saved and "${" in saved  # secrets as ${VAR}, never the value
    assert yaml.safe_load(saved)["name"] == "Support Assistant"
    target.write_text("# edited by hand\n")
    refused = run_cli("get", "Support Assistant", "--save", str(out_dir), exit_code=2)
    assert f"error: refusing to overwrite {target}: it exists\n" in refused.stderr
    assert "--force" in refused.stderr
    assert target.read_text() == "# edited by hand\n"
    run_cli("get", "Support Assistant", "--save", str(out_dir), "--force")
    assert target.read_text() == saved
    run_cli("get", "Support Assistant", "--save", str(out_dir), "-o", "json")
    assert (out_dir / "Support-Assistant.json").exists()
    assert leftovers(out_dir) == []


def test_get_save_feeds_back_into_create(support, tmp_path):
    run_cli("get", "Support Assistant", "--save", str(tmp_path))
    saved = tmp_path / "Support-Assistant.yaml"
    text = saved.read_text().replace("name: Support Assistant", "name: Copy")
    saved.write_text(text)
    env = tmp_path / "vars.env"
    env.write_text("GET_WEATHER_AUTHORIZATION=Bearer new-value\n")
    run_cli("create", "-f", str(saved), "--env-file", str(env))
    assert support.store.count_agents() == 2


@pytest.mark.parametrize("name", ["../../escape", "/etc/cron.d/x", "..", ".hidden", "a/../../b"])
def test_get_save_keeps_hostile_names_inside_the_directory(api_env, tmp_path, name):
    api_env.store.create_agent({"name": name, "system_prompt": "p", "voice": {"voice_id": "ivy"}})
    out_dir = tmp_path / "deep" / "exports"
    run_cli("get", name, "--save", str(out_dir))
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".yaml"]
    assert len(written) == 1 and written[0].parent == out_dir
    assert not written[0].name.startswith(".")


def test_get_save_into_a_file_is_a_usage_error(support, write):
    path = write("not-a-dir", "x")
    result = run_cli("get", "Support Assistant", "--save", path, exit_code=2)
    assert "Traceback" not in result.stderr


# -- connect --output ---------------------------------------------------------------------
def test_connect_output_never_replaces_a_file_without_force(api_env, tmp_path):
    wav = tmp_path / "reply.wav"
    wav.write_bytes(b"RIFF-precious")
    result = run_cli("connect", "someone", "--input", str(wav), "--output", str(wav),
                     exit_code=2)
    assert "exists" in result.stderr and "--force" in result.stderr
    assert wav.read_bytes() == b"RIFF-precious"
    assert api_env.requests == []  # refused before anything was sent
