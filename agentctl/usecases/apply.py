"""Spec files against the server, and the writes that follow: diff, apply and promote.

Matching by name, the checks before the first write, and running the writes over the one
AgentsAPI, `concurrency` at a time. The plans themselves are computed by the pure
`spec.plan`; nothing here prints: progress is reported through a callback, results come
back as plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import threading

    from agentctl.api.client import AgentsAPI
    from agentctl.errors import AgentctlError
    from agentctl.spec.load import SpecDocument
    from agentctl.spec.plan import AgentPlan

_T = TypeVar("_T")
_R = TypeVar("_R")

# Called from a worker thread after each write that lands: (plan, agent id).
OnWritten = Callable[["AgentPlan", str], None]


def _ignore(plan: AgentPlan, agent_id: str) -> None:
    pass


# -- diff and apply ----------------------------------------------------------------------------


def plan_documents(
    api: AgentsAPI, docs: Sequence[SpecDocument], *, prune: bool = False,
    selector: str | None = None, concurrency: int = 8,
) -> list[AgentPlan]:
    """Every spec against the server, matched by name, plus (with `prune` and a
    `selector`) a delete for each `selector*` agent no spec names. A name that matches
    several agents is an error here, before anything is written."""
    from agentctl.errors import RejectedError
    from agentctl.spec.plan import ambiguous_names, group_by_name, plan_agent, prune_plans

    items = api.list_agents()
    names = [str(doc.data.get("name")) for doc in docs]
    twins = ambiguous_names(names, items)
    if twins:
        name, ids = next(iter(twins.items()))
        more = f" (and {len(twins) - 1} more names)" if len(twins) > 1 else ""
        raise RejectedError(
            f"{len(ids)} agents on the server are named {name!r}: {', '.join(ids)}{more}",
            hint="agents are matched by name: `agentctl apply --dedupe` keeps the oldest of "
            "each name and deletes the others (after asking), or delete one by id",
        )
    named = group_by_name(items)
    matched = [named.get(name, [None])[0] for name in names]
    # The list holds summaries: each matched agent's full record, fetched in parallel.
    fetched = iter(run_each(lambda item: api.get_agent(str(item["id"])),
                            [item for item in matched if item], concurrency))
    records = [next(fetched) if item else None for item in matched]
    plans = [
        plan_agent(doc.data, record, doc.where(("name",)))
        for doc, record in zip(docs, records, strict=True)
    ]
    if prune and selector:
        plans.extend(prune_plans(items, set(names), selector))
    return plans


@dataclass
class ApplyResult:
    """The ids of the writes that landed (by agent name) and the failures, in plan order."""

    ids: dict[str, str] = field(default_factory=dict)
    failures: list[AgentctlError] = field(default_factory=list)


def apply_plans(
    api: AgentsAPI, plans: Sequence[AgentPlan], concurrency: int,
    on_written: OnWritten = _ignore,
) -> ApplyResult:
    """Every write of `plans`: creates and updates first, deletes only once everything else
    has landed (so a failed apply never leaves an agent deleted and its replacement
    missing)."""
    writes = [p for p in plans if p.writes and p.action != "delete"]
    created: dict[str, dict[str, Any]] = {}  # name -> record, for settling races after

    def landed(plan: AgentPlan, record: dict[str, Any] | None) -> None:
        if plan.action == "create" and record is not None:
            created[plan.name] = record

    result = execute(api, writes, concurrency, on_written, settle=False, on_record=landed)
    result.ids.update(_settle(api, [p for p in writes if p.name in created], created))
    if not result.failures:
        more = execute(api, [p for p in plans if p.action == "delete"], concurrency,
                       on_written)
        result = ApplyResult({**result.ids, **more.ids}, more.failures)
    return result


def _settle(api: AgentsAPI, plans: Sequence[AgentPlan],
            created: dict[str, dict[str, Any]]) -> dict[str, str]:
    """After an apply's creates: one list, and each name another run created at the same
    time left to its oldest agent (api.converge), updated to our spec where it differs.
    Returns name -> the id that now stands for it."""
    from agentctl.api.converge import settle_creates
    from agentctl.spec.plan import plan_agent

    ids = {}
    for plan, settled in zip(plans, settle_creates(api, [created[p.name] for p in plans]),
                             strict=True):
        record = settled.record
        if not settled.kept:
            again = plan_agent(plan.body or {}, record)
            if again.writes:
                record = api.update_agent(str(record["id"]), again.body or {})
        ids[plan.name] = str(record["id"])
    return ids


def execute(
    api: AgentsAPI, plans: Sequence[AgentPlan], concurrency: int,
    on_written: OnWritten = _ignore, *, settle: bool = True,
    on_record: Callable[[AgentPlan, dict[str, Any] | None], None] | None = None,
) -> ApplyResult:
    """Run the writes over the one client, `concurrency` at a time. After the first
    failure no new write starts (those already in flight finish)."""
    import threading

    from agentctl.errors import AgentctlError

    stop = threading.Event()

    def write(plan: AgentPlan) -> str | AgentctlError:
        try:
            record = write_plan(api, plan, settle=settle)
            if on_record is not None:
                on_record(plan, record)
        except AgentctlError as exc:
            stop.set()
            return exc
        agent_id = str(plan.id) if record is None else str(record["id"])
        on_written(plan, agent_id)
        return agent_id

    outcomes = run_each(write, plans, concurrency, stop)
    ids = {p.name: o for p, o in zip(plans, outcomes, strict=True) if isinstance(o, str)}
    failures = [o for o in outcomes if isinstance(o, AgentctlError)]
    return ApplyResult(ids, failures)


def run_each(work: Callable[[_T], _R], items: Sequence[_T], concurrency: int,
             stop: threading.Event | None = None) -> list[_R | None]:
    """`work(item)` for every item, `concurrency` at a time, the results in item order.

    Each of the worker threads takes the next item when it is done with one: no future
    per item, so less CPU and fewer thread wake-ups than an executor's `map` (a bulk
    apply on loopback is CPU-bound). Once `stop` is set no item starts (None stands for
    it); an exception stops the rest likewise and is raised here (the first in item
    order) once the items in flight are done. On Ctrl-C the items in flight finish on
    their own and none starts after them.
    """
    import threading

    stop = stop or threading.Event()
    results: list[_R | None] = [None] * len(items)
    errors: dict[int, BaseException] = {}
    lock = threading.Lock()
    pending = iter(range(len(items)))

    def worker() -> None:
        while not stop.is_set():
            with lock:
                index = next(pending, None)
            if index is None:
                return
            try:
                results[index] = work(items[index])
            except BaseException as exc:  # Ctrl-C in a worker too: raised in the caller
                errors[index] = exc
                stop.set()

    threads = [threading.Thread(target=worker, name=f"agentctl-{i}")
               for i in range(min(concurrency, len(items)))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:  # Ctrl-C while waiting: the queued items must not start
        stop.set()
        raise
    if errors:
        raise errors[min(errors)]
    return results


def write_plan(api: AgentsAPI, plan: AgentPlan, *, settle: bool = True
               ) -> dict[str, Any] | None:
    """One plan's request: the created or updated record, None for a delete. `settle`:
    a create then settles a race with another run (api.converge); `apply` settles all
    of its creates at once afterwards instead."""
    if plan.action == "create":
        if not settle:
            return api.create_agent(plan.body or {})
        return _create_converged(api, plan.body or {})
    if plan.action == "update":
        from agentctl.errors import NotFoundError

        try:
            return api.update_agent(str(plan.id), plan.body or {})
        except NotFoundError:
            if plan.spec is None:
                raise
            # Deleted under us since the plan was made: the spec says it should exist,
            # so it is created again (a header named without a value then fails, 422).
            return _create_converged(api, plan.spec)
    if plan.action == "delete":
        api.delete_agent(str(plan.id))
        return None
    raise ValueError(f"nothing to write for an {plan.action!r} plan")


def _create_converged(api: AgentsAPI, body: dict[str, Any]) -> dict[str, Any]:
    """Create, then settle a race with another run creating the same name (api.converge):
    if another's agent is older, ours is deleted and that one is made to match `body`."""
    from agentctl.api.converge import settle_create
    from agentctl.spec.plan import plan_agent

    settled = settle_create(api, api.create_agent(body))
    if settled.kept:
        return settled.record
    again = plan_agent(body, settled.record)
    if not again.writes:
        return settled.record
    return api.update_agent(str(settled.record["id"]), again.body or {})


# -- promote -----------------------------------------------------------------------------------


def promotion_source(
    source: AgentsAPI, target: AgentsAPI, agent: str, *, profile: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """`agent` from `source` as a spec (secrets as ${VAR} placeholders), and the record of
    the agent of that name in `target` (None: not there). Several of that name in the
    target is an error (`profile` names it)."""
    from agentctl.errors import RejectedError
    from agentctl.spec.export import export_spec

    record = source.get_by_ref(agent)
    spec, _ = export_spec(record)
    name = str(spec.get("name"))
    matches = target.find_by_name(name)
    if len(matches) > 1:
        raise RejectedError(
            f"{len(matches)} agents are named {name!r} in profile {profile!r}: "
            + ", ".join(str(m.get("id")) for m in matches),
            hint="agents are matched by name: delete or rename the extra ones first",
        )
    current = target.get_agent(str(matches[0]["id"])) if matches else None
    return spec, current


def promotion_plan(
    spec: dict[str, Any], current: dict[str, Any] | None, env: Mapping[str, str], *,
    profile: str, dry_run: bool = False,
) -> AgentPlan:
    """The exported spec against the target's agent. A header secret the target already
    has is kept (its name is sent alone), else it takes its variable from `env`; the LLM
    key is needed only when `llm` changed. If a value is missing this is a SpecError
    naming the variables, before anything is written; with `dry_run` the plan is
    returned anyway and `promotion_missing` says what would be missing."""
    from agentctl.spec.export import secret_placeholders
    from agentctl.spec.plan import fill_secrets, plan_agent

    placeholders = secret_placeholders(spec)
    filled, missing = fill_secrets(spec, placeholders, current, env)
    plan = plan_agent(filled, current)
    missing += [(p, placeholders.get(p, "LLM_API_KEY")) for p in _llm_keys_missing(plan)]
    if missing and not dry_run:
        raise promotion_error(str(spec.get("name")), missing, profile)
    return plan


def promotion_missing(
    spec: dict[str, Any], current: dict[str, Any] | None, env: Mapping[str, str],
) -> list[tuple[Any, str]]:
    """The (path, variable) pairs a promotion lacks (empty: it can be written)."""
    from agentctl.spec.export import secret_placeholders
    from agentctl.spec.plan import fill_secrets, plan_agent

    placeholders = secret_placeholders(spec)
    filled, missing = fill_secrets(spec, placeholders, current, env)
    plan = plan_agent(filled, current)
    return missing + [(p, placeholders.get(p, "LLM_API_KEY"))
                      for p in _llm_keys_missing(plan)]


def _llm_keys_missing(plan: AgentPlan) -> list[Any]:
    from agentctl.spec.plan import llm_keys_missing

    return llm_keys_missing(plan)


def promotion_error(name: str, missing: list[tuple[Any, str]], profile: str) -> AgentctlError:
    from agentctl.errors import SpecError
    from agentctl.record import format_path

    variables = ", ".join(v for _, v in missing)
    where = ", ".join(format_path(p) for p, _ in missing)
    return SpecError(
        f"promote {name!r}: no value for {len(missing)} secret(s) ({where}) in profile "
        f"{profile!r}: set {variables}",
        hint=f"export {missing[0][1]}=... (or --env-file FILE); a header secret the target "
        "agent already has is kept",
    )


def check_masked_creates(docs: Sequence[SpecDocument], plans: Sequence[AgentPlan]) -> None:
    """A new agent cannot keep a secret it never had: a header named without a value is
    an error on a create, naming the header, before the first write. Also: `llm` sent
    without its key (the service needs all three fields whenever `llm` is written)."""
    from agentctl.spec.plan import llm_keys_missing, secrets_a_create_lacks

    creates = {p.name for p in plans if p.action == "create"}
    for doc in docs:
        found = secrets_a_create_lacks(doc.data) if doc.data.get("name") in creates else []
        if found:
            header = _header_name(doc.data, found[0])
            raise doc.error(found[0], f"header {header!r} has no value, and this agent does "
                            "not exist yet, so there is no stored value to keep",
                            hint="give the value as ${VAR}")
    by_name = {p.name: p for p in plans}
    for doc in docs:
        missing = llm_keys_missing(by_name.get(str(doc.data.get("name"))))
        if missing:
            raise doc.error(missing[0], "llm is sent (it changed), and the service needs "
                            "its api_key with it; reads never return the key",
                            hint="give llm[].api_key as ${VAR}")


def _header_name(data: dict[str, Any], path: tuple[Any, ...]) -> str:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    return str(node.get("name")) if isinstance(node, dict) else "?"
