"""agentctl init: a repository of agents that validates, tests and applies as created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agentctl.emulator import server
from tests.conftest import TEST_KEY, run_cli

FILES = [".env.example", ".github/workflows/agents.yml", ".gitignore", "agent.schema.json",
         "agents/assistant.yaml", "test.schema.json", "tests/assistant.yaml"]


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[server.RunningEmulator]:
    """An emulator whose live sessions run 50 times faster (`agentctl test --speed 50`)."""
    running = server.start(port=0, db_path=tmp_path / "live.sqlite3", live={"speed": 50.0})
    monkeypatch.setenv("ASSEMBLYAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AGENTCTL_BASE_URL", running.base_url)
    try:
        yield running
    finally:
        running.stop()
    assert running.errors == []


def test_init_creates_a_repository_that_validates_tests_and_applies(live, tmp_path,
                                                                     monkeypatch):
    repo = tmp_path / "agents-repo"
    result = run_cli("init", str(repo))
    assert listing(repo) == FILES
    assert f"created {repo / 'agents/assistant.yaml'}" in result.stdout
    monkeypatch.chdir(repo)
    checked = run_cli("validate", "-f", "agents/", "-f", "tests/", "--strict")
    assert checked.stdout.splitlines()[-1].endswith("0 errors, 0 warnings")
    tested = run_cli("test", "tests/", "--speed", "50")
    assert "1 passed" in tested.stdout + tested.stderr
    run_cli("apply", "-f", "agents/")
    run_cli("diff", "-f", "agents/")  # exit 0: what apply made is what the file says
    # the editor's schema line, pointing at the schema files it wrote
    for spec, schema in (("agents/assistant.yaml", "agent"), ("tests/assistant.yaml", "test")):
        first = Path(spec).read_text().splitlines()[0]
        assert first == f"# yaml-language-server: $schema=../{schema}.schema.json"
        assert Path(f"{schema}.schema.json").read_text().startswith("{")


def test_the_workflow_serialises_deploys_and_installs_agentctl_from_its_repository(tmp_path):
    run_cli("init", str(tmp_path / "r"))
    text = (tmp_path / "r/.github/workflows/agents.yml").read_text()
    workflow = yaml.safe_load(text)
    apply = workflow["jobs"]["apply"]
    assert apply["concurrency"] == {"group": "agents-apply", "cancel-in-progress": False}
    assert apply["needs"] == "check"
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    installs = [r for r in runs if r.startswith("pip install")]
    assert len(installs) == 2 and all("AGENTCTL_SOURCE" in r for r in installs)
    assert "pip install agentctl" not in text  # that PyPI name is another project
    assert "agentctl validate -f agents/ -f tests/ --strict" in runs
    assert any(r.startswith("agentctl test tests/") for r in runs)


def test_install_from_and_name(tmp_path):
    requirement = "agentctl @ git+https://github.com/example/agentctl@v0.1.0"
    run_cli("init", str(tmp_path / "r"), "--name", "Front desk: main", "--install-from",
            requirement)
    text = (tmp_path / "r/.github/workflows/agents.yml").read_text()
    assert f"pip install '{requirement}'" in text and "AGENTCTL_SOURCE" not in text
    spec = yaml.safe_load((tmp_path / "r/agents/Front-desk-main.yaml").read_text())
    assert spec["name"] == "Front desk: main"
    test = yaml.safe_load((tmp_path / "r/tests/Front-desk-main.yaml").read_text())
    assert test["spec"] == "../agents/Front-desk-main.yaml"


def test_never_over_existing_files_without_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path(".gitignore").write_text("mine\n")
    result = run_cli("init", exit_code=2)
    assert "refusing to overwrite 1 file(s): .gitignore" in result.stderr
    assert "--force" in result.stderr
    assert listing(tmp_path) == [".gitignore"]  # nothing else written either
    run_cli("init", "--force")
    assert listing(tmp_path) == FILES
    assert Path(".gitignore").read_text().startswith(".env\n")


def test_an_empty_name_is_a_usage_error(tmp_path):
    run_cli("init", str(tmp_path / "r"), "--name", " ", exit_code=2)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("direct_url", "expected"), [
    ('{"url": "https://github.com/example/agentctl", "vcs_info": {"vcs": "git", '
     '"requested_revision": "v0.1.0", "commit_id": "abc"}}',
     "agentctl-voice @ git+https://github.com/example/agentctl@v0.1.0"),
    ('{"url": "file:///home/me/agentctl", "dir_info": {"editable": true}}', None),
    (None, None),
])
def test_ci_installs_what_this_agentctl_was_installed_from(monkeypatch, direct_url, expected):
    from importlib import metadata

    from agentctl.cli.repo import _installed_from

    class Distribution:
        def read_text(self, name: str) -> str | None:
            assert name == "direct_url.json"
            return direct_url

    monkeypatch.setattr(metadata, "distribution", lambda name: Distribution())
    assert _installed_from() == expected
