"""The per-attempt controls of a networked run, as ``RetryingClient`` hooks.

Before every attempt: wait for a rate-limit slot (``rate_limit_rpm``, shared across
processes), then reserve the attempt's worst-case cost in the spend ledger — refused
with ``BudgetExceededError`` (exit 2) before anything is sent. After every attempt,
success or not: settle the reservation with the actual cost from usage and append the
attempt's audit line (its ``prompt_hash`` is that of the request body, the same for a
failed attempt as for the one that answered).

    guard = CallGuard(registry, run_id=..., layer_id=..., deadline=deadline)
    client = RetryingClient(inner, policy, deadline=deadline,
                            before_attempt=guard.before_attempt,
                            after_attempt=guard.after_attempt)

(as ``aiops.services.fallback.network_stack`` builds it for every record/live run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiops.canonical import prompt_hash
from aiops.clock import now
from aiops.evidence.audit_log import AuditLog, AuditRecord
from aiops.governance.budget import (
    BudgetStatus,
    Reservation,
    SpendLedger,
    actual_cost,
    search_calls,
    search_cost,
    worst_case_cost,
)
from aiops.governance.state import budget_state_directory, rate_limit_directory
from aiops.governance.web_rate import reserve as reserve_searches
from aiops.governance.web_rate import settle as settle_searches
from aiops.governance.web_rate import window_path
from aiops.providers.base import Attempt, Exchange, ModelRequest, Usage
from aiops.providers.ratelimit import acquire
from aiops.providers.retry import Deadline
from aiops.providers.wire import wire_for
from aiops.redact import secrets_from_env
from aiops.schemas.registry import Registry


@dataclass
class CallGuard:
    registry: Registry
    run_id: str
    layer_id: str
    deadline: Deadline | None = None
    clock: Callable[[], datetime] = now
    rate_limit: Callable[..., float] = acquire
    ledger: SpendLedger = field(init=False)
    audit: AuditLog = field(init=False)
    statuses: list[BudgetStatus] = field(default_factory=list, init=False)
    costs_usd: list[float] = field(default_factory=list, init=False)
    # Every attempt seen, in order: what the pack records even when a later attempt is
    # refused by the budget (BudgetExceededError carries no attempts).
    attempts: list[Attempt] = field(default_factory=list, init=False)
    _open: Reservation | None = field(default=None, init=False)
    _searches: tuple[Path, str] | None = field(default=None, init=False)  # web hold

    def __post_init__(self) -> None:
        self.ledger = SpendLedger(
            self.registry.budget,
            reservation_ttl_s=self.registry.fallback_policy.run_deadline_seconds,
        )
        keys = secrets_from_env(p.api_key_env for p in self.registry.providers.values())
        self.audit = AuditLog(self.registry.audit, known_secrets=keys)

    def before_attempt(self, request: ModelRequest) -> None:
        max_wait = self.deadline.remaining() if self.deadline is not None else None
        self.rate_limit(
            request.model_id,
            request.model.rate_limit_rpm,
            max_wait_s=max_wait,
            directory=rate_limit_directory(self.registry.budget),
        )
        self._searches = self._reserve_searches(request)
        try:
            reservation, status = self.ledger.reserve(
                worst_case_cost(request),
                at=self.clock(),
                run_id=self.run_id,
                layer_id=self.layer_id,
                model_id=request.model_id,
            )
        except BaseException:
            self._settle_searches(0)  # nothing is sent: the hold is given back
            raise
        self._open = reservation
        self.statuses.append(status)

    def after_attempt(
        self, request: ModelRequest, attempt: Attempt, exchange: Exchange | None
    ) -> None:
        usage = exchange.usage if exchange is not None else Usage()
        made = search_calls(exchange.response_body) if exchange is not None else None
        cost = actual_cost(request.model, usage) + search_cost(request.model, made or 0)
        self._settle_searches(made or 0)  # a failed attempt is not billed: no searches
        at = self.clock()
        self.costs_usd.append(cost)
        self.attempts.append(attempt)
        reservation, self._open = self._open, None
        try:
            if reservation is not None:
                self.ledger.settle(reservation, at=at, usage=usage, cost=cost)
        finally:  # the call went out: its audit line is written whatever the ledger did
            self._audit(request, attempt, exchange, usage, cost, at)

    def _audit(
        self,
        request: ModelRequest,
        attempt: Attempt,
        exchange: Exchange | None,
        usage: Usage,
        cost: float,
        at: datetime,
    ) -> None:
        self.audit.record(
            AuditRecord.for_attempt(
                attempt,
                at=at,
                run_id=self.run_id,
                layer_id=self.layer_id,
                role=request.role,
                prompt_hash=prompt_hash(
                    exchange.request_body
                    if exchange is not None
                    else wire_for(request.model.endpoint).build_body(request)
                ),
                usage=usage,
                cost_usd=cost,
            )
        )

    def _reserve_searches(self, request: ModelRequest) -> tuple[Path, str] | None:
        """Hold the call's cap of web searches in the scope's hourly window (refused
        before sending when it would pass ``rate_limit_per_hour``)."""
        if request.web is None:
            return None
        path = window_path(budget_state_directory(self.registry.budget), request.web.scope_id)
        limit = request.web.rate_limit_per_hour
        return path, reserve_searches(path, limit, request.web.max_calls)

    def _settle_searches(self, made: int) -> None:
        if self._searches is not None:
            path, hold = self._searches
            self._searches = None
            settle_searches(path, hold, made)

    @property
    def warnings(self) -> list[str]:
        """Budget threshold warnings seen so far, each once."""
        return list(dict.fromkeys(w for status in self.statuses for w in status.warnings))
