"""Web tooling between the registry and a capability scope: which request gets the
web_search tool, and which combinations are config errors.

A scope allows the web when ``tooling.allowed`` names ``web`` (and ``forbidden`` does
not). Then the proposer, and each fallback that can search (registry ``web_search``
``supported`` or ``required``), is sent the tool with the scope's domains; the critic
never is. Config errors (``aiops config check``, and pre-flight for the models a run
actually uses): a domain the API's filter cannot express, an hourly limit below one
call's cap, a proposer that cannot search under a scope that allows the web, a model
that requires the tool under a scope that does not. A fallback that cannot search is a
warning: it would answer without the web.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiops.governance.web_scope import DomainError, api_domains
from aiops.providers.base import WebSearch

if TYPE_CHECKING:
    from aiops.schemas.registry import Model, Registry
    from aiops.schemas.scope import CapabilityScope

WEB = "web"


def allows_web(scope: CapabilityScope) -> bool:
    return WEB in scope.tooling.allowed and WEB not in scope.tooling.forbidden


def web_search_for(scope: CapabilityScope, model: Model) -> WebSearch | None:
    """The tool a proposer request carries under ``scope``; None: no tool is sent."""
    if not allows_web(scope) or model.web_search == "none":
        return None
    web = scope.web_access
    return WebSearch(
        domains=tuple(api_domains(web.allowed_domains)),  # checked at load: never raises
        scope_domains=tuple(web.allowed_domains),
        max_calls=web.max_searches_per_run,
        scope_id=scope.scope.scope_id,
        rate_limit_per_hour=web.rate_limit_per_hour,
    )


def scope_problems(scope: CapabilityScope) -> list[tuple[str, str]]:
    """(problem, key path) of the scope's own web settings, when it allows the web."""
    if not allows_web(scope):
        return []
    web = scope.web_access
    problems = []
    try:
        api_domains(web.allowed_domains)
    except DomainError as error:
        problems.append((f"web tooling is allowed but {error}", "web_access.allowed_domains"))
    if web.rate_limit_per_hour < web.max_searches_per_run:
        problems.append(
            (
                f"rate_limit_per_hour {web.rate_limit_per_hour} is below max_searches_per_run "
                f"{web.max_searches_per_run}: no call could ever search",
                "web_access.rate_limit_per_hour",
            )
        )
    return problems


def model_problems(
    registry: Registry, scope: CapabilityScope, proposer_id: str, fallback_ids: list[str]
) -> list[tuple[str, str]]:
    """(problem, role) of the models a layer runs under ``scope``."""
    problems = []
    scope_id = scope.scope.scope_id
    proposer = registry.models[proposer_id]
    if allows_web(scope) and proposer.web_search == "none":
        problems.append(
            (
                f"scope {scope_id} allows web tooling but proposer {proposer_id} cannot use "
                "the web_search tool (registry web_search = none)",
                "primary",
            )
        )
    if not allows_web(scope):
        for model_id in [proposer_id, *fallback_ids]:
            if registry.models[model_id].web_search == "required":
                problems.append(
                    (
                        f"model {model_id} requires the web_search tool but scope {scope_id} "
                        "does not allow web tooling",
                        "primary" if model_id == proposer_id else "fallbacks",
                    )
                )
    return problems


def fallback_warnings(
    registry: Registry, scope: CapabilityScope, fallback_ids: list[str]
) -> list[str]:
    if not allows_web(scope):
        return []
    return [
        f"fallback {model_id} cannot use the web_search tool: if it answers, it answers "
        "without web sources"
        for model_id in fallback_ids
        if registry.models[model_id].web_search == "none"
    ]
