"""Shell completion: the committed scripts are current, and Tab offers the right things.

Completion requests go through the real protocol (`_AGENTCTL_COMPLETE=complete_<shell>` and
the words so far in the environment) in a fresh interpreter, as the shell runs them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, agent_yaml, run_cli

ROOT = Path(__file__).resolve().parent.parent
FILES = {"bash": "completions/agentctl", "zsh": "completions/_agentctl",
         "fish": "completions/agentctl.fish"}
ENTRY = "from agentctl.cli import main; main()"


@pytest.fixture
def env(isolated: Path) -> dict[str, str]:
    """The environment of a shell's completion request: isolated config, data and cache."""
    environ = dict(os.environ)
    environ["XDG_CACHE_HOME"] = str(isolated / "cache")
    return environ


def complete(env: dict[str, str], line: str, shell: str = "bash") -> subprocess.CompletedProcess:
    """What the shell scripts run on Tab, for the command line typed so far (`line`)."""
    request = dict(env, _AGENTCTL_COMPLETE=f"complete_{shell}")
    if shell == "bash":  # bash's words (quoting kept) and the index of the one at the cursor
        words = shlex.split(line)
        cword = len(words) if line.endswith(" ") and not line.endswith("\\ ") else len(words) - 1
        request.update(COMP_WORDS=line, COMP_CWORD=str(cword))
    else:
        request.update(_TYPER_COMPLETE_ARGS=line, _TYPER_COMPLETE_FISH_ACTION="get-args")
    return subprocess.run([sys.executable, "-c", ENTRY], env=request, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def offered(env: dict[str, str], line: str, shell: str = "bash") -> list[str]:
    result = complete(env, line, shell)
    assert result.returncode == 0, result
    assert result.stderr == "", result.stderr  # never a word on the terminal during Tab
    return [word for word in result.stdout.splitlines() if word]  # nothing: one empty line


def make_agents(emulator, *names: str) -> None:
    for name in names:
        emulator.store.create_agent({"name": name, "system_prompt": "You help.",
                                     "voice": {"voice_id": "ivy"}})


# -- the scripts -------------------------------------------------------------------------

@pytest.mark.parametrize("shell", sorted(FILES))
def test_committed_script_is_current(shell: str) -> None:
    printed = run_cli("completion", shell).stdout
    committed = (ROOT / FILES[shell]).read_text(encoding="utf-8")
    assert printed == committed, (
        f"{FILES[shell]} is stale: regenerate it with "
        f"`agentctl completion {shell} > {FILES[shell]}`"
    )


@pytest.mark.parametrize("shell", sorted(FILES))
def test_env_var_protocol_prints_the_same_script(shell: str, env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-c", ENTRY], capture_output=True, text=True,
                            env=dict(env, _AGENTCTL_COMPLETE=f"source_{shell}"), timeout=60)
    assert result.returncode == 0, result
    assert result.stdout.rstrip("\n") + "\n" == (ROOT / FILES[shell]).read_text("utf-8")


def test_zsh_script_is_a_site_functions_file() -> None:
    # compinit only registers an $fpath file whose first line is #compdef.
    text = (ROOT / FILES["zsh"]).read_text("utf-8")
    assert text.splitlines()[0] == "#compdef agentctl"


def test_scripts_are_shipped_in_the_wheel() -> None:
    """pyproject's shared-data maps each script where the shells look for them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    mapping = config["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert mapping == {
        FILES["bash"]: "share/bash-completion/completions/agentctl",
        FILES["zsh"]: "share/zsh/site-functions/_agentctl",
        FILES["fish"]: "share/fish/vendor_completions.d/agentctl.fish",
    }


def test_unknown_shell_is_a_usage_error() -> None:
    result = run_cli("completion", "tcsh", exit_code=2)
    assert "tcsh" in result.stderr


# -- what Tab offers ---------------------------------------------------------------------

def test_subcommands(env: dict[str, str]) -> None:
    words = offered(env, "agentctl ")
    assert {"create", "list", "get", "update", "delete", "config", "emulator",
            "completion"} <= set(words)
    assert offered(env, "agentctl li") == ["list"]
    assert offered(env, "agentctl config u") == ["unset", "use"]


def test_options_and_output_values(env: dict[str, str]) -> None:
    assert {"--name", "--sort", "--limit", "--output"} <= set(offered(env, "agentctl list --"))
    assert offered(env, "agentctl list -o ") == ["table", "wide", "json", "yaml", "name", "id"]
    assert offered(env, "agentctl get x --output j") == ["json"]
    assert offered(env, "agentctl completion ") == ["bash", "zsh", "fish"]


@pytest.mark.slow
def test_profile_names_from_the_config_file(env: dict[str, str]) -> None:
    for name in ("prod", "staging", "dev"):
        run_cli("config", "set", "timeout", "5", "--profile", name)
    assert offered(env, "agentctl --profile ") == ["dev", "prod", "staging"]
    assert offered(env, "agentctl -p s") == ["staging"]
    # After the subcommand too, as the global flags are accepted there.
    assert offered(env, "agentctl list --profile p") == ["prod"]
    # Where a command takes a profile name of its own.
    assert offered(env, "agentctl config use s") == ["staging"]
    assert offered(env, "agentctl config show d") == ["dev"]
    assert offered(env, "agentctl promote x --from p") == ["prod"]
    assert offered(env, "agentctl promote x --from prod --to ") == ["dev", "prod", "staging"]


def test_no_config_file_offers_no_profiles(env: dict[str, str]) -> None:
    assert offered(env, "agentctl --profile ") == []


@pytest.mark.slow
def test_agent_names_from_a_running_emulator(api_env, env: dict[str, str]) -> None:
    make_agents(api_env, "support", "sales", "Front Desk", "twin", "twin")
    env = dict(env, ASSEMBLYAI_API_KEY=TEST_KEY, AGENTCTL_BASE_URL=api_env.base_url)
    twins = sorted(str(a["id"]) for a in api_env.store.list_agents() if a["name"] == "twin")
    words = offered(env, "agentctl get ")
    # A name shared by two agents would be refused (exit 6): their ids are offered instead.
    assert words == sorted(["Front\\ Desk", "sales", "support", *twins])
    assert offered(env, "agentctl update s") == ["sales", "support"]
    assert offered(env, "agentctl delete sales s") == ["sales", "support"]
    assert offered(env, "agentctl connect s") == ["sales", "support"]
    assert offered(env, "agentctl get Front\\ ") == ["Front\\ Desk"]
    # Ids complete once one is being typed.
    support = next(a["id"] for a in api_env.store.list_agents() if a["name"] == "support")
    assert offered(env, f"agentctl get {support[:8]}") == [support]


def test_zsh_and_fish_offer_the_id_as_help(api_env, env: dict[str, str]) -> None:
    make_agents(api_env, "Front Desk")
    env = dict(env, ASSEMBLYAI_API_KEY=TEST_KEY, AGENTCTL_BASE_URL=api_env.base_url)
    agent_id = api_env.store.list_agents()[0]["id"]
    zsh = complete(env, "agentctl get ", "zsh")
    assert zsh.stdout.strip() == f"""_arguments '*: :(("Front Desk":"{agent_id}"))'""", zsh
    fish = offered(env, "agentctl get F", "fish")
    assert fish == [f"Front Desk\t{agent_id}"]


@pytest.mark.slow
def test_agents_from_the_profile_named_on_the_line(emulator, env: dict[str, str]) -> None:
    make_agents(emulator, "support")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{unused.getsockname()[1]}"
    run_cli("config", "set", "base_url", nowhere, "--profile", "elsewhere")  # the current one
    run_cli("config", "set", "base_url", emulator.base_url, "--profile", "emu")
    run_cli("config", "set", "api_key_env", "EMU_KEY", "--profile", "emu")
    env = dict(env, EMU_KEY=TEST_KEY, ASSEMBLYAI_API_KEY=TEST_KEY)
    assert offered(env, "agentctl get ") == []  # the current profile's API is not there
    assert offered(env, "agentctl get --profile emu ") == ["support"]
    assert offered(env, "agentctl --profile emu get s") == ["support"]
    assert offered(dict(env, AGENTCTL_PROFILE="emu"), "agentctl update ") == ["support"]


def test_promote_completes_agents_of_the_from_profile(emulator, env: dict[str, str]) -> None:
    make_agents(emulator, "support")
    run_cli("config", "set", "base_url", emulator.base_url, "--profile", "staging")
    run_cli("config", "set", "api_key_env", "STAGING_KEY", "--profile", "staging")
    env = dict(env, STAGING_KEY=TEST_KEY)
    assert offered(env, "agentctl promote --from staging --to prod s") == ["support"]


@pytest.mark.slow
def test_agents_are_cached_for_a_while(api_env, env: dict[str, str]) -> None:
    make_agents(api_env, "support")
    env = dict(env, ASSEMBLYAI_API_KEY=TEST_KEY, AGENTCTL_BASE_URL=api_env.base_url)
    assert offered(env, "agentctl get ") == ["support"]
    served = len(api_env.requests)
    make_agents(api_env, "sales")
    # Within the cache's lifetime the list is not fetched again.
    assert offered(env, "agentctl get ") == ["support"]
    assert len(api_env.requests) == served
    cache = list(Path(env["XDG_CACHE_HOME"]).glob("agentctl/completion/agents-*.json"))
    assert len(cache) == 1
    assert TEST_KEY not in cache[0].read_text("utf-8")
    assert cache[0].stat().st_mode & 0o077 == 0
    # Expired: asked again.
    os.utime(cache[0], (0, 0))
    assert offered(env, "agentctl get ") == ["sales", "support"]


def test_stale_cache_is_offered_when_the_api_is_down(api_env, env: dict[str, str]) -> None:
    make_agents(api_env, "support")
    env = dict(env, ASSEMBLYAI_API_KEY=TEST_KEY, AGENTCTL_BASE_URL=api_env.base_url)
    assert offered(env, "agentctl get ") == ["support"]
    cache = next(Path(env["XDG_CACHE_HOME"]).glob("agentctl/completion/agents-*.json"))
    old = cache.stat().st_mtime - 600
    os.utime(cache, (old, old))
    api_env.stop()
    assert offered(env, "agentctl get ") == ["support"]


def test_local_emulator_state(env: dict[str, str]) -> None:
    run_cli("--local", "create", "-f", _spec("on-my-machine"), "-o", "id")
    assert offered(dict(env, AGENTCTL_LOCAL="1"), "agentctl get ") == ["on-my-machine"]
    assert offered(env, "agentctl --local get o") == ["on-my-machine"]


def _spec(name: str) -> str:
    path = Path(os.environ["AGENTCTL_DATA_DIR"]).parent / f"{name}.yaml"
    path.write_text(agent_yaml(name), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("trouble", ["refused", "no-answer", "garbage", "bad-config"])
def test_failures_are_silent(trouble: str, env: dict[str, str], isolated: Path) -> None:
    env = dict(env, ASSEMBLYAI_API_KEY=TEST_KEY)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        if trouble == "refused":
            listener.close()
        else:
            listener.listen(8)  # accepts connections (backlog) and never answers
        env["AGENTCTL_BASE_URL"] = f"http://127.0.0.1:{port}"
        if trouble == "garbage":
            env["AGENTCTL_BASE_URL"] = "ftp://example.invalid"
        if trouble == "bad-config":
            (isolated / "config").mkdir(exist_ok=True)
            (isolated / "config" / "config.toml").write_text("this is [not toml", "utf-8")
        result = complete(env, "agentctl get ")
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "", "")


# -- the scripts in a real shell -----------------------------------------------------------

@pytest.fixture
def on_path(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """An `agentctl` on PATH that runs this checkout with this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "agentctl"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "{ENTRY}" "$@"\n', "utf-8")
    launcher.chmod(0o755)
    return dict(env, PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHONPATH=str(ROOT))


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_script_in_bash(on_path: dict[str, str], api_env) -> None:
    make_agents(api_env, "Front Desk")
    env = dict(on_path, ASSEMBLYAI_API_KEY=TEST_KEY, AGENTCTL_BASE_URL=api_env.base_url)
    program = f"""
source {ROOT / FILES['bash']}
complete -p agentctl
COMP_WORDS=(agentctl li); COMP_CWORD=1; _agentctl_completion agentctl
printf '<%s>\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(agentctl get F); COMP_CWORD=2; _agentctl_completion agentctl
printf '<%s>\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines() == [
        "complete -o default -F _agentctl_completion agentctl", "<list>", "<Front\\ Desk>",
    ], result
    assert result.stderr == ""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_zsh_script_in_zsh(on_path: dict[str, str], tmp_path: Path) -> None:
    # Autoloaded from $fpath, as installed from the wheel (share/zsh/site-functions); the
    # first Tab must complete (the function file runs the completion, not just compdef).
    fpath = tmp_path / "site-functions"
    fpath.mkdir()
    shutil.copy(ROOT / FILES["zsh"], fpath / "_agentctl")
    program = f"""
fpath=({fpath} $fpath); autoload -Uz compinit; compinit -u -d $HOME/.zcompdump
print -r -- $_comps[agentctl]
_arguments() {{ print -r -- "$@" }}  # stands in for the completion system's own
words=(agentctl li); CURRENT=2; _agentctl
"""
    result = subprocess.run(["zsh", "-f", "-c", program], env=on_path, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.splitlines() == [
        "_agentctl", r'*: :(("list":"List agents\\: name, id, created, updated."))',
    ], result


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
def test_fish_script_in_fish(on_path: dict[str, str]) -> None:
    program = f"source {ROOT / FILES['fish']}; complete --do-complete 'agentctl li'"
    result = subprocess.run(["fish", "--no-config", "-c", program], env=on_path,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split("\t")[0].strip() == "list", result


def test_cache_file_is_plain_json(api_env, env: dict[str, str]) -> None:
    make_agents(api_env, "support")
    env = dict(env, ASSEMBLYAI_API_KEY=TEST_KEY, AGENTCTL_BASE_URL=api_env.base_url)
    offered(env, "agentctl get ")
    cache = next(Path(env["XDG_CACHE_HOME"]).glob("agentctl/completion/agents-*.json"))
    assert [name for _, name in json.loads(cache.read_text("utf-8"))] == ["support"]


# -- the fast path (tab.py) answers exactly as Typer does --------------------------------------

EQUIVALENCE_LINES = [
    "agentctl ", "agentctl li", "agentctl l", "agentctl x", "agentctl list ", "agentctl list -",
    "agentctl list --", "agentctl list --s", "agentctl list -o ", "agentctl list -o j",
    "agentctl list --output Y", "agentctl list -o json -", "agentctl list -o json --sort ",
    "agentctl --profile ", "agentctl -p s", "agentctl list --profile ", "agentctl -v ",
    "agentctl -v --no-color l", "agentctl --local get ", "agentctl config ",
    "agentctl config u", "agentctl config use ", "agentctl config set ", "agentctl emulator ",
    "agentctl emulator serve --", "agentctl emulator serve --api-key ", "agentctl completion ",
    "agentctl completion z", "agentctl completion zsh ", "agentctl get ", "agentctl get s",
    "agentctl get support ", "agentctl get support -", "agentctl get --profile emu ",
    "agentctl delete ", "agentctl update ", "agentctl update sales --set ", "agentctl apply -f ",
    "agentctl apply --", "agentctl connect ", "agentctl promote --from emu ",
    "agentctl promote --from ", "agentctl nosuch ", "agentctl list --bogus ",
    "agentctl create --dry-run -", "agentctl get -- ", "agentctl update x --set a=b ",
    "agentctl list --output=", "agentctl -vp ",
]


def _answers(monkeypatch: pytest.MonkeyPatch, shell: str, line: str) -> tuple[str, str | None]:
    """(Typer's answer, the fast path's or None), in-process; the first saves the tree."""
    import contextlib
    import io

    from agentctl.cli import run, tab

    monkeypatch.setenv("_AGENTCTL_COMPLETE", f"complete_{shell}")
    if shell == "bash":
        words = shlex.split(line)
        cword = len(words) if line.endswith(" ") else len(words) - 1
        monkeypatch.setenv("COMP_WORDS", line)
        monkeypatch.setenv("COMP_CWORD", str(cword))
    else:
        monkeypatch.setenv("_TYPER_COMPLETE_ARGS", line)
        monkeypatch.setenv("_TYPER_COMPLETE_FISH_ACTION", "get-args")
    typer_out, fast_out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(typer_out), pytest.raises(SystemExit):
        run([], debug=False)
    with contextlib.redirect_stdout(fast_out):
        code = tab.answer()
    return typer_out.getvalue(), None if code is None else fast_out.getvalue()


@pytest.mark.slow
def test_fast_path_answers_as_typer_does(api_env, monkeypatch: pytest.MonkeyPatch,
                                         isolated: Path) -> None:
    make_agents(api_env, "support", "sales", "Front Desk", "twin", "twin")
    run_cli("config", "set", "base_url", api_env.base_url, "--profile", "emu")
    run_cli("config", "set", "timeout", "5", "--profile", "staging")
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated / "cache"))
    monkeypatch.setenv("AGENTCTL_LOCAL", "")
    different, fallbacks, answered = [], [], 0
    for shell in ("bash", "zsh", "fish"):
        for line in EQUIVALENCE_LINES if shell == "bash" else EQUIVALENCE_LINES[::3]:
            typer_answer, fast_answer = _answers(monkeypatch, shell, line)
            if fast_answer is None:  # not modelled: Typer answers it
                fallbacks.append((shell, line))
            elif typer_answer != fast_answer:
                different.append((shell, line, typer_answer, fast_answer))
            else:
                answered += typer_answer.strip() not in ("", "_files")
    assert different == []
    assert answered >= 40, (answered, fallbacks)
    assert {line for _, line in fallbacks} <= {
        "agentctl x", "agentctl nosuch ", "agentctl list --bogus ", "agentctl get -- ",
        "agentctl update x --set a=b ", "agentctl list --output=", "agentctl -vp ",
    }, fallbacks
    assert len(list((isolated / "cache").glob("agentctl/completion/tree-*.json"))) == 1


def test_fast_path_is_taken(api_env, monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    from agentctl.cli import tab

    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated / "cache"))
    monkeypatch.setenv("_AGENTCTL_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "agentctl li")
    monkeypatch.setenv("COMP_CWORD", "1")
    assert tab.answer() is None  # no tree yet: Typer answers (and saves it)
    _answers(monkeypatch, "bash", "agentctl li")
    assert tab.answer() == 0
    # The tree is keyed by the package's files: a changed file is a new tree.
    before = tab.tree_path()
    source = Path(tab.__file__)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    try:
        assert tab.tree_path() != before
        assert tab.answer() is None
        _answers(monkeypatch, "bash", "agentctl li")  # saves the new tree, drops the old
        assert [p.name for p in tab.tree_path().parent.glob("tree-*")] == [tab.tree_path().name]
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
