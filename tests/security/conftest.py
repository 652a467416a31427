"""One emulator for a whole module, wiped before each test: many short CLI runs stay fast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentctl.emulator import server


@pytest.fixture(scope="module")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.RunningEmulator]:
    running = server.start(port=0, db_path=tmp_path_factory.mktemp("shared") / "db.sqlite3")
    yield running
    running.stop()
    assert running.errors == []


@pytest.fixture
def clean_emulator(shared_emulator: server.RunningEmulator) -> server.RunningEmulator:
    shared_emulator.store.clear()
    del shared_emulator.requests[:]
    return shared_emulator
