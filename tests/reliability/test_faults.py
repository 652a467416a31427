"""The emulator's fault injection: the SPEC syntax, and what each fault looks like on the wire."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from agentctl.emulator import server
from agentctl.emulator.faults import FaultConfig, faults_of, parse_faults
from agentctl.errors import UsageError
from tests.conftest import run_cli
from tests.reliability.conftest import BODY

KEY = {"Authorization": "fault-test-key"}


# -- the SPEC ----------------------------------------------------------------------------
def test_spec_parses_rates_arguments_and_seed():
    config = parse_faults(
        "429=0.1:0, 503=5%,reset-before=0.05,reset-after=0.05,slow=0.02:500ms,ws-drop=0.5,seed=7")
    assert config.rates == {"429": 0.1, "503": 0.05, "reset-before": 0.05,
                            "reset-after": 0.05, "slow": 0.02, "ws-drop": 0.5}
    assert (config.retry_after, config.slow_seconds, config.seed) == (0.0, 0.5, 7)
    assert config.ws_drop_rate == 0.5
    assert parse_faults(config.describe()).rates == config.rates  # describe() round-trips
    assert parse_faults("").active is False


def test_defaults_and_a_random_seed_that_is_reported():
    config = parse_faults("429=0.5,slow=0.5")
    assert (config.retry_after, config.slow_seconds) == (1.0, 5.0)
    assert isinstance(config.seed, int) and f"seed={config.seed}" in config.describe()


@pytest.mark.parametrize(("spec", "words"), [
    ("429", "not KIND=RATE"),
    ("418=0.1", "unknown kind"),
    ("503=lots", "not a number"),
    ("503=1.5", "not between 0 and 1"),
    ("503=nan", "not between 0 and 1"),
    ("503=-0.1", "not between 0 and 1"),
    ("503=0.6,500=0.6", "add up to 1.2"),
    ("503=0.1,503=0.2", "given twice"),
    ("slow=0.1:soon", "duration"),
    ("slow=0.1:2h", "duration"),
    ("503=0.1:2s", "takes no argument"),
    ("seed=x", "not an integer"),
    ("methods=PATCH", "methods"),
    ("methods=", "methods"),
])
def test_bad_specs_are_usage_errors_that_say_why(spec, words):
    with pytest.raises(UsageError, match=words) as caught:
        parse_faults(spec)
    assert "--faults" in (caught.value.hint or "")


def test_the_same_seed_gives_the_same_faults():
    def draws(seed: int) -> list[str | None]:
        config = parse_faults(f"503=0.3,reset-after=0.2,seed={seed}")
        return [config.draw() for _ in range(200)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    observed = draws(7)
    assert 20 < observed.count("503") < 100 and 10 < observed.count("reset-after") < 70


def test_emulator_serve_refuses_a_bad_spec_before_listening():
    result = run_cli("emulator", "serve", "--port", "0", "--faults", "503=2", exit_code=2)
    assert result.stderr.startswith("error: invalid fault spec: 503: rate '2'")
    assert "Traceback" not in result.stderr


# -- on the wire ---------------------------------------------------------------------------
@pytest.fixture
def start(tmp_path):
    started = []

    def _start(spec: str | FaultConfig) -> server.RunningEmulator:
        running = server.start(port=0, db_path=tmp_path / f"e{len(started)}.sqlite3",
                               faults=spec)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop()
        assert running.errors == []


def post(running: server.RunningEmulator, timeout: float = 5.0) -> httpx.Response:
    with httpx.Client(base_url=running.base_url, headers=KEY, timeout=timeout) as http:
        return http.post("/v1/agents", json=BODY)


@pytest.mark.parametrize(("spec", "status"), [
    ("500=1", 500), ("502=1", 502), ("503=1", 503), ("504=1", 504), ("429=1:3", 429)])
def test_status_faults_answer_json_and_do_nothing(start, spec, status):
    running = start(spec)
    response = post(running)
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)
    assert response.headers.get("retry-after") == ("3" if status == 429 else None)
    assert running.store.count_agents() == 0
    assert running.requests == [
        {"method": "POST", "path": "/v1/agents", "status": status, "fault": str(status)}]


def test_reset_before_kills_the_connection_and_stores_nothing(start):
    running = start("reset-before=1")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        post(running)
    assert running.store.count_agents() == 0
    assert running.requests == [
        {"method": "POST", "path": "/v1/agents", "status": None, "fault": "reset-before"}]


def test_reset_after_stores_the_agent_but_the_client_never_hears(start):
    running = start("reset-after=1")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        post(running)
    assert running.store.count_agents() == 1
    assert running.requests == [
        {"method": "POST", "path": "/v1/agents", "status": 201, "fault": "reset-after"}]


def test_slow_stores_the_agent_and_answers_after_the_client_gave_up(start):
    running = start("slow=1:30s")  # stopping must not wait for these 30 s
    with pytest.raises(httpx.ReadTimeout):
        post(running, timeout=0.3)
    assert running.store.count_agents() == 1
    assert running.requests[0]["fault"] == "slow"


def test_slow_answers_in_the_end_when_the_client_waits(start):
    running = start("slow=1:50ms")
    assert post(running).status_code == 201


def test_the_request_log_and_openapi_are_never_faulted(start):
    running = start("503=1")
    with httpx.Client(base_url=running.base_url, timeout=5) as http:
        assert http.get("/_emulator/requests").status_code == 200
    assert faults_of(running.app).counts == {}


def test_counts_match_the_request_log(start):
    running = start("503=0.2,reset-before=0.1,reset-after=0.1,seed=3")
    with httpx.Client(base_url=running.base_url, headers=KEY, timeout=5) as http:
        for _ in range(60):
            with contextlib.suppress(httpx.TransportError):
                http.get("/v1/agents")
    config = faults_of(running.app)
    logged = [r.get("fault") for r in running.requests]
    assert config.requests_seen == len(logged) == 60
    for kind in ("503", "reset-before", "reset-after"):
        assert logged.count(kind) == config.counts[kind] > 0


def test_methods_limit_the_faults(start):
    running = start("503=1,methods=post+put")
    assert parse_faults(faults_of(running.app).describe()).methods == {"POST", "PUT"}
    with httpx.Client(base_url=running.base_url, headers=KEY, timeout=5) as http:
        assert http.get("/v1/agents").status_code == 200
        assert http.post("/v1/agents", json=BODY).status_code == 503
    assert faults_of(running.app).requests_seen == 1


def test_no_faults_means_no_middleware(start):
    running = start(None)  # type: ignore[arg-type]
    assert faults_of(running.app) is None
    assert post(running).status_code == 201
