"""Record and live: the endpoints and keys the run needs, how requests leave (direct
or through a proxy, which CAs are trusted), the budget check of its worst case and
what the warning banner shows, all settled before anything is sent."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Conservative token estimate for the worst-case cost (one token per 3 UTF-8 bytes),
# the same as the per-attempt budget reservation's.
from aiops.governance.budget import BYTES_PER_TOKEN
from aiops.prompts import LoadedPrompt, RenderedPrompt
from aiops.providers.wire import wire_for
from aiops.services.run_layer import Preflight

if TYPE_CHECKING:
    from aiops.governance.budget import BudgetStatus, SpendLedger
    from aiops.providers.egress import TlsTrust
    from aiops.providers.openai_compatible import Endpoint
    from aiops.schemas.manifest import NetworkRoute


@dataclass(frozen=True)
class PlannedCall:
    role: str
    model_id: str
    provider_model: str
    endpoint: str  # URL the call goes to (no credentials)
    max_input_tokens: int
    max_output_tokens: int
    worst_case_usd: float
    expected_served: str | None = None  # the served model the registry expects, if any
    call_mode: str = "blocking"  # blocking, stream or background (registry call_mode)


@dataclass(frozen=True)
class PlannedRoute:
    """How one provider's requests leave: ``direct`` or ``via proxy scheme://host:port``
    (never credentials), with the variable that decided."""

    provider_id: str
    base_url: str
    route: str
    key_source: str | None = None  # where its key came from (never the key)


@dataclass(frozen=True)
class NetworkPlan:
    """What the warning banner shows before anything is sent."""

    mode: str
    layer_id: str
    layer_name: str
    calls: list[PlannedCall]
    worst_case_usd: float
    fixture: Path | None
    budget: BudgetStatus | None = None  # spend so far and what the worst case leaves
    routes: list[PlannedRoute] = field(default_factory=list)
    tls_trust: str = "certifi"  # "certifi", or the SSL_CERT_FILE / SSL_CERT_DIR paths


Confirm = Callable[[NetworkPlan], None]


@dataclass(frozen=True)
class PreparedNetwork:
    """What the client needs (endpoints with their routes, the TLS trust) and what the
    run manifest records about the network (``facts``, as the banner showed it)."""

    endpoints: dict[str, Endpoint]
    usable: list[str]  # proposer candidates that can be reached, in chain order
    trust: TlsTrust
    facts: NetworkRoute


def prepare_network(
    pre: Preflight,
    prompt: LoadedPrompt,
    candidates: list[str],
    proposer_prompt: RenderedPrompt,
    mode: str,
    fixture: Path | None,
    confirm: Confirm | None,
    environ: Mapping[str, str] | None,
    warnings: list[str],
    ledger: SpendLedger,
) -> PreparedNetwork:
    """The providers' endpoints (each with its route), the proposer candidates that can
    be reached and the TLS trust. Refuses (exit 2, nothing sent) on a proxy variable
    that does not parse or a CA bundle that does not load, on a missing key, or when
    the run's worst case could pass the daily or monthly budget given the spend ledger;
    budget alerts join ``warnings``. ``confirm`` (the banner) is called last, once
    everything else has passed."""
    from dataclasses import replace

    from aiops.errors import MissingCredentialError
    from aiops.governance.budget import check_budget
    from aiops.providers.egress import read_egress
    from aiops.providers.openai_compatible import resolve_endpoint

    egress = read_egress(environ)
    registry = pre.config.registry
    endpoints: dict[str, Endpoint] = {}

    def endpoint_for(model_id: str) -> Endpoint:
        provider_id = registry.models[model_id].provider
        if provider_id not in endpoints:
            provider = registry.providers[provider_id]
            endpoint = resolve_endpoint(provider_id, provider, environ)
            _check_base_url(endpoint.base_url, provider_id, provider.base_url_env, environ)
            endpoints[provider_id] = replace(endpoint, route=egress.route(endpoint.base_url))
        return endpoints[provider_id]

    _require_keys(pre, candidates, environ)  # every missing key in one line, nothing sent
    endpoint_for(pre.proposer_id)
    endpoint_for(pre.critic_id)
    usable = [pre.proposer_id]
    for model_id in candidates[1:]:
        try:
            endpoint_for(model_id)
        except MissingCredentialError as exc:
            warnings.append(f"fallback {model_id} unavailable: {exc}")
            continue
        usable.append(model_id)
    plan = _plan(pre, prompt, usable, proposer_prompt, endpoints, mode, fixture)
    status = check_budget(
        ledger.budget, ledger.totals(pre.clock), plan.worst_case_usd, what="this run"
    )
    routes = [
        PlannedRoute(e.provider_id, e.base_url, e.route.describe(), e.api_key_source)
        for e in endpoints.values()
    ]
    plan = replace(plan, budget=status, routes=routes, tls_trust=egress.trust.describe())
    warnings.extend(status.warnings)
    if confirm is not None:
        confirm(plan)
    return PreparedNetwork(endpoints, usable, egress.trust, _facts(endpoints, egress.trust))


def _require_keys(pre: Preflight, candidates: list[str], environ: Mapping[str, str] | None) -> None:
    """Refuse, naming every unset key variable at once, when the proposer's or the
    critic's is unset (a fallback's alone only makes that fallback unavailable)."""
    import os

    from aiops.errors import MissingCredentialError

    env = os.environ if environ is None else environ
    registry = pre.config.registry
    missing: dict[str, list[str]] = {}  # key variable -> the models that need it
    for model_id in dict.fromkeys([pre.proposer_id, pre.critic_id, *candidates]):
        provider = registry.providers[registry.models[model_id].provider]
        if provider.api_key_required and not env.get(provider.api_key_env):
            missing.setdefault(provider.api_key_env, []).append(model_id)
    required = {pre.proposer_id, pre.critic_id}
    if not any(required & set(models) for models in missing.values()):
        return
    names = list(missing)
    verb = "is" if len(names) == 1 else "are"
    listed = "; ".join(f"{name} for {', '.join(missing[name])}" for name in names)
    raise MissingCredentialError(
        f"{' and '.join(names)} {verb} not set ({listed}): set the API keys in the "
        "environment, the env file or the secrets directory (nothing was sent)"
    )


def _check_base_url(
    base_url: str, provider_id: str, variable: str, environ: Mapping[str, str] | None
) -> None:
    """Refuse (exit 2, nothing sent) a base URL that does not parse, naming where it
    came from but not the URL itself (it may carry a token in its path or query)."""
    from aiops.errors import NetworkSetupError
    from aiops.providers.egress import base_url_problem

    problem = base_url_problem(base_url)
    if problem is None:
        return
    env = os.environ if environ is None else environ
    source = variable if env.get(variable) else f"providers.{provider_id}.base_url"
    raise NetworkSetupError(
        f"the base URL of provider {provider_id} ({source}) is not a usable URL: {problem}; "
        "nothing was sent"
    )


def _facts(endpoints: Mapping[str, Endpoint], trust: TlsTrust) -> NetworkRoute:
    from aiops.schemas.manifest import EndpointRoute, NetworkRoute

    return NetworkRoute(
        endpoints=[
            EndpointRoute(
                provider_id=e.provider_id,
                base_url=e.base_url,
                route="direct" if e.route.proxy is None else "proxy",
                proxy=None if e.route.proxy is None else e.route.proxy.shown,
                decided_by=e.route.decided_by,
                api_key_source=e.api_key_source,  # type: ignore[arg-type]
            )
            for e in endpoints.values()
        ],
        tls_trust="environment" if trust.from_environment else "certifi",
        ca_file=trust.ca_file,
        ca_dir=trust.ca_dir,
    )


def _plan(
    pre: Preflight,
    prompt: LoadedPrompt,
    candidates: list[str],
    proposer_prompt: RenderedPrompt,
    endpoints: Mapping[str, Any],
    mode: str,
    fixture: Path | None,
) -> NetworkPlan:
    registry = pre.config.registry
    proposer_in = _tokens(proposer_prompt.system + proposer_prompt.user) + 2000  # + schema
    calls: list[PlannedCall] = []
    proposer_out = 0
    for index, model_id in enumerate(candidates):
        model = registry.models[model_id]
        limit = min(prompt.prompts.proposer.max_output_tokens, model.max_output_tokens)
        proposer_out = max(proposer_out, limit)
        calls.append(
            _planned(
                "proposer" if index == 0 else "fallback",
                model_id,
                proposer_in,
                limit,
                pre,
                endpoints,
            )
        )
    critic = registry.models[pre.critic_id]
    critic_in = _tokens(prompt.prompts.critic.system + prompt.prompts.critic.user) + proposer_in
    critic_in += proposer_out + 2000
    critic_out = min(prompt.prompts.critic.max_output_tokens, critic.max_output_tokens)
    calls.append(_planned("critic", pre.critic_id, critic_in, critic_out, pre, endpoints))
    # Worst case: every proposer candidate is billed, then the critic.
    worst = round(sum(call.worst_case_usd for call in calls), 4)
    return NetworkPlan(
        mode=mode,
        layer_id=pre.layer_id,
        layer_name=pre.layer.name,
        calls=calls,
        worst_case_usd=worst,
        fixture=fixture if mode == "record" else None,
    )


def _planned(
    role: str,
    model_id: str,
    tokens_in: int,
    tokens_out: int,
    pre: Preflight,
    endpoints: Mapping[str, Any],
) -> PlannedCall:
    model = pre.config.registry.models[model_id]
    url = endpoints[model.provider].base_url + wire_for(model.endpoint).path
    cost = tokens_in / 1000 * model.cost_per_1k_input + tokens_out / 1000 * model.cost_per_1k_output
    if role != "critic":  # a proposer may make up to max_searches_per_run web searches
        from aiops.governance.budget import search_cost
        from aiops.governance.web_config import web_search_for

        web = web_search_for(pre.scope, model)
        cost += search_cost(model, web.max_calls) if web is not None else 0.0
    return PlannedCall(
        role,
        model_id,
        model.requested_model,
        url,
        tokens_in,
        tokens_out,
        round(cost, 4),
        model.expected_served_model,
        model.effective_call_mode,
    )


def _tokens(text: str) -> int:
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)
