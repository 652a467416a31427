"""AgentsAPI: the Voice Agent REST API as plain Python calls returning plain records."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from agentctl.api.errors import error_for_response, error_for_transport
from agentctl.api.retry import NOT_PROCESSED_STATUSES, RETRY_STATUSES, RetryPolicy
from agentctl.errors import AgentctlError, NotFoundError, RejectedError, UnavailableError

if TYPE_CHECKING:
    import httpx

Record = dict[str, Any]
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class AgentsAPI:
    def __init__(
        self,
        http: httpx.Client,
        retry: RetryPolicy | None = None,
        *,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.http = http
        self.retry = retry or RetryPolicy.from_env()
        self.on_retry = on_retry

    # -- the endpoints ----------------------------------------------------------------
    def list_agents(self) -> list[Record]:
        body = self._json(self._send("GET", "/v1/agents", what="list agents"), "list agents")
        # The OpenAPI spec says a bare array; one starter reads {"agents": [...]}.
        if isinstance(body, dict) and isinstance(body.get("agents"), list):
            body = body["agents"]
        if not isinstance(body, list):
            raise UnavailableError("list agents: the service answered with an unexpected shape")
        return [item for item in body if isinstance(item, dict)]

    def get_agent(self, agent_id: str) -> Record:
        what = f"get agent {agent_id}"
        return self._record(self._send("GET", f"/v1/agents/{agent_id}", what=what), what)

    def create_agent(self, body: Record, *, known_ids: Collection[str] = ()) -> Record:
        """POST once; after an unknown outcome, look for the agent by name before retrying.

        `known_ids` are agents with the same name that existed before (only possible with
        --allow-duplicate-name): they are not taken for the one this call created.
        """
        name = body.get("name")
        what = f"create agent {name!r}"
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self.http.post("/v1/agents", json=body)
            except Exception as exc:
                if not _is_transport_error(exc):
                    raise
                # Checked on the last try too: it may have landed, which is success.
                if not _request_never_sent(exc):
                    landed = self._find_created(name, known_ids, what, type(exc).__name__)
                    if landed is not None:
                        return landed
                if last:
                    raise _after_tries(
                        error_for_transport(exc, what, str(self.http.base_url)), attempt
                    ) from None
                self._wait(attempt, None, f"{what}: {type(exc).__name__}")
                continue
            if response.status_code in RETRY_STATUSES:
                if response.status_code not in NOT_PROCESSED_STATUSES:
                    landed = self._find_created(
                        name, known_ids, what, str(response.status_code)
                    )
                    if landed is not None:
                        return landed
                if not last:
                    self._wait(attempt, response.headers.get("Retry-After"),
                               f"{what}: {response.status_code}")
                    continue
                raise _after_tries(error_for_response(response, what), attempt)
            return self._record(response, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def update_agent(self, agent_id: str, body: Record) -> Record:
        what = f"update agent {agent_id}"
        response = self._send("PUT", f"/v1/agents/{agent_id}", json=body, what=what)
        return self._record(response, what)

    def delete_agent(self, agent_id: str) -> None:
        what = f"delete agent {agent_id}"
        self._send("DELETE", f"/v1/agents/{agent_id}", what=what, gone_ok_after_retry=True)

    # -- addressing -------------------------------------------------------------------
    def find_by_name(self, name: str) -> list[Record]:
        return [a for a in self.list_agents() if a.get("name") == name]

    def resolve(self, ref: str, agents: list[Record] | None = None) -> Record:
        """An id or an exact name -> the list item {id, name, ...}; ambiguity is an error.
        `agents`: a list already read (resolving many refs reads it once)."""
        agents = self.list_agents() if agents is None else agents
        by_id = [a for a in agents if a.get("id") == ref]
        if by_id:
            return by_id[0]
        named = [a for a in agents if a.get("name") == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            ids = ", ".join(str(a.get("id")) for a in named)
            raise RejectedError(
                f"{len(named)} agents are named {ref!r}: {ids}",
                hint="address one by its id",
            )
        if UUID.match(ref):
            # Maybe created after the list was read: ask for it directly.
            try:
                return self.get_agent(ref)
            except NotFoundError:
                pass
        raise NotFoundError(f"no agent with id or name {ref!r}", hint="see: agentctl list")

    # -- plumbing ---------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        gone_ok_after_retry: bool = False,
    ) -> httpx.Response:
        """Send an idempotent request, retrying connection errors, 429 and 5xx."""
        retried_unknown = False
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self.http.request(method, path, json=json, params=params)
            except Exception as exc:
                if not _is_transport_error(exc):
                    raise
                if last:
                    raise _after_tries(
                        error_for_transport(exc, what, str(self.http.base_url)), attempt
                    ) from None
                retried_unknown = retried_unknown or not _request_never_sent(exc)
                self._wait(attempt, None, f"{what}: {type(exc).__name__}")
                continue
            if response.status_code in RETRY_STATUSES and not last:
                retried_unknown = True
                self._wait(attempt, response.headers.get("Retry-After"),
                           f"{what}: {response.status_code}")
                continue
            if response.status_code == 404 and gone_ok_after_retry and retried_unknown:
                return response  # an earlier try deleted it
            if response.status_code in RETRY_STATUSES:
                raise _after_tries(error_for_response(response, what), attempt)
            if response.status_code >= 400:
                raise error_for_response(response, what)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _find_created(
        self, name: Any, known_ids: Collection[str], what: str, trouble: str
    ) -> Record | None:
        """After a create with an unknown outcome: the agent it made, or None if none.

        If the check itself fails, the outcome stays unknown and posting again could make
        a duplicate: that is an error (exit 7), never a blind retry.
        """
        if not isinstance(name, str):
            return None
        try:
            found = [a for a in self.find_by_name(name) if a.get("id") not in known_ids]
            if not found:
                return None
            newest = max(found, key=lambda a: str(a.get("created_at", "")))
            return self.get_agent(str(newest["id"]))
        except UnavailableError as exc:
            raise UnavailableError(
                f"{what}: the outcome is unknown ({trouble}), and checking whether the agent"
                f" was created failed too ({exc.message})",
                hint=f"see whether it exists: agentctl list --name {name!r}; "
                "`agentctl apply` creates only what is missing",
            ) from None

    def _wait(self, attempt: int, retry_after: str | None, reason: str) -> None:
        delay = self.retry.delay(attempt, retry_after)
        if self.on_retry:
            self.on_retry(f"{reason}; retrying in {delay:.1f}s")
        self.retry.sleep(delay)

    def _record(self, response: httpx.Response, what: str) -> Record:
        if response.status_code >= 400:
            raise error_for_response(response, what)
        body = self._json(response, what)
        if not isinstance(body, dict):
            raise UnavailableError(f"{what}: the service answered with an unexpected shape")
        return body

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise UnavailableError(
                f"{what}: the service answered {response.status_code} with a body that is not JSON"
            ) from None


def _after_tries(error: AgentctlError, attempt: int) -> AgentctlError:
    """Say how many tries a failure survived: `... (after 5 tries)`."""
    if attempt > 0:
        tries = f"after {attempt + 1} tries"
        if "after retries" in error.message:
            error.message = error.message.replace("after retries", tries)
        else:
            error.message = f"{error.message} ({tries})"
        error.args = (error.message,)
    return error


def _is_transport_error(exc: Exception) -> bool:
    import httpx

    return isinstance(exc, httpx.TransportError)


def _request_never_sent(exc: Exception) -> bool:
    """True when the failure happened before the request could reach the server."""
    import httpx

    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
