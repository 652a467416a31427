"""AgentsAPI: the Voice Agent REST API as plain Python calls returning plain records."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from agentctl.api.errors import error_for_response, error_for_transport
from agentctl.api.paging import Page, iter_items, iter_pages
from agentctl.api.retry import NOT_PROCESSED_STATUSES, RETRY_STATUSES, RetryPolicy
from agentctl.errors import AgentctlError, NotFoundError, RejectedError, UnavailableError
from agentctl.record import could_be_id, for_write

if TYPE_CHECKING:
    import httpx

Record = dict[str, Any]
OnPage = Callable[[Page], None]
# Record fields and the JSON types agentctl can read (a null is read as "not set").
_RECORD_SHAPES: dict[str, type | tuple[type, ...]] = {
    "name": str, "system_prompt": str, "greeting": str, "voice": dict, "input": dict,
    "output": dict, "tools": list, "pre_connect_requests": list, "transfer_targets": list,
    "llm": list,
}


def _path(agent_id: str) -> str:
    """An id as one path segment: ids are opaque strings (§4)."""
    return "/v1/agents/" + quote(agent_id, safe="")


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
        # Requests go to absolute URLs: httpx then parses each URL once, not twice (merging
        # a relative one with the base URL parses again), ~50 us of ~1.5 ms a request.
        self._base = str(http.base_url).rstrip("/")
        self._agents_url: httpx.URL | None = None

    def agents_url(self) -> httpx.URL:
        """`/v1/agents` (absolute, as above) parsed once: each create of a bulk `apply` sends
        it as is (parsing it is ~60 us of a create)."""
        if self._agents_url is None:
            import httpx

            self._agents_url = httpx.URL(self._base + "/v1/agents")
        return self._agents_url

    # -- the endpoints ----------------------------------------------------------------
    def iter_collection(
        self, path: str, key: str, *, what: str, limit: int | None = None,
        params: dict[str, Any] | None = None, on_page: OnPage | None = None,
    ) -> Iterator[Record]:
        """Every item of a paged list (§5), page by page as the caller consumes them:
        `GET path` with `limit`/`cursor`, items under `key`. For any collection."""

        def fetch(query: dict[str, Any]) -> Any:
            return self._json(self._send("GET", path, params=query, what=what), what)

        return iter_items(fetch, key, what=what, limit=limit, params=params, on_page=on_page)

    def iter_agents(self, limit: int | None = None, on_page: OnPage | None = None
                    ) -> Iterator[Record]:
        """List items `{id, name, created_at, updated_at}`, newest first, every page.
        `limit` is the page size asked for; stop iterating to stop fetching."""
        return self.iter_collection("/v1/agents", "agents", what="list agents", limit=limit,
                                    on_page=on_page)

    def agent_pages(self, limit: int | None = None) -> Iterator[Page]:
        """The agents list a page at a time (for a caller that shows each page)."""

        def fetch(query: dict[str, Any]) -> Any:
            return self._json(self._send("GET", "/v1/agents", params=query,
                                         what="list agents"), "list agents")

        return iter_pages(fetch, "agents", what="list agents", limit=limit)

    def list_agents(self) -> list[Record]:
        return list(self.iter_agents())

    def get_agent(self, agent_id: str) -> Record:
        what = f"get agent {agent_id}"
        return self._record(self._send("GET", _path(agent_id), what=what), what)

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
                response = self.http.post(self.agents_url(), json=for_write(body))
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
            if 300 <= response.status_code < 400:
                raise error_for_response(response, what)
            return self._record(response, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def update_agent(self, agent_id: str, body: Record) -> Record:
        what = f"update agent {agent_id}"
        response = self._send("PUT", _path(agent_id), json=for_write(body), what=what)
        return self._record(response, what)

    def delete_agent(self, agent_id: str) -> None:
        what = f"delete agent {agent_id}"
        self._send("DELETE", _path(agent_id), what=what, gone_ok_after_retry=True)

    # -- addressing -------------------------------------------------------------------
    def find_by_name(self, name: str) -> list[Record]:
        return [a for a in self.iter_agents() if a.get("name") == name]

    def get_by_ref(self, ref: str) -> Record:
        """The full record of the agent `ref` names: an id (one GET, tried first when `ref`
        could be one) or an exact name (the list, every page, then one GET)."""
        if could_be_id(ref):
            try:
                return self.get_agent(ref)
            except NotFoundError:
                pass
        return self.get_agent(str(self._by_name(ref, self.iter_agents())["id"]))

    def resolve(self, ref: str) -> Record:
        """An id or an exact name -> a record with at least {id, name}."""
        return self.resolve_many([ref])[0]

    def resolve_many(self, refs: Iterable[str], *, missing_ok: bool = False
                     ) -> list[Record | None]:
        """Each ref as a record with at least {id, name}, in order: an id is tried with one
        GET; what is not found that way is looked up by name in the list, read at most
        once for all of them. `missing_ok`: None for one that matches nothing."""
        refs = list(refs)
        found: list[Record | None] = [None] * len(refs)
        for i, ref in enumerate(refs):
            if could_be_id(ref):
                with contextlib.suppress(NotFoundError):
                    found[i] = self.get_agent(ref)
        if any(f is None for f in found):
            items = self.list_agents()
            for i, ref in enumerate(refs):
                if found[i] is None:
                    try:
                        found[i] = self._by_name(ref, items)
                    except NotFoundError:
                        if not missing_ok:
                            raise
        return found

    @staticmethod
    def _by_name(ref: str, items: Iterable[Record]) -> Record:
        named = [a for a in items if a.get("name") == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            ids = ", ".join(str(a.get("id")) for a in named)
            raise RejectedError(
                f"{len(named)} agents are named {ref!r}: {ids}",
                hint="address one by its id",
            )
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
                response = self.http.request(method, self._base + path, json=json,
                                             params=params)
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
            if response.status_code >= 300:
                raise error_for_response(response, what)  # 3xx too: never followed
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
            raise UnavailableError(f"{what}: the service answered with an unexpected shape "
                                   "(not an agent record)")
        if not isinstance(body.get("id"), str) or not body["id"]:
            raise UnavailableError(
                f"{what}: the service answered {response.status_code} without the agent's id",
                hint="the answer is not an agent record; agentctl list shows what exists")
        problem = shape_problem(body)
        if problem:
            raise UnavailableError(f"{what}: the service's record has {problem}",
                                   hint="the answer is in a shape agentctl does not know")
        return body

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise UnavailableError(
                f"{what}: the service answered {response.status_code} with a body that is not JSON"
            ) from None


def shape_problem(record: Record) -> str | None:
    """Which field of `record` has a JSON type agentctl cannot read ("tools as str, not
    list"), or None. Also for records read back from a cache."""
    for key, kind in _RECORD_SHAPES.items():
        value = record.get(key)
        if value is not None and not isinstance(value, kind):
            return (f"{key} as {type(value).__name__}, "
                    f"not {kind.__name__}")  # type: ignore[union-attr]
    return None


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
