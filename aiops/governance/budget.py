"""Cost governance: worst-case estimates, a spend ledger, and refusal before sending.

**Estimate.** Before a call, the worst case is priced at the registry's rates:
input tokens estimated from the request's size (``BYTES_PER_TOKEN``: one token per 3
UTF-8 bytes of the prompts and output schema, plus ``REQUEST_OVERHEAD_TOKENS`` for the
framing — tokenisers average about 4 characters per token on English text, so this
over-counts on purpose) and the full output allowance (the request's
``max_output_tokens``, never more than the model's, reasoning tokens included: both
APIs count reasoning inside output tokens and bill it at the output rate).

**Ledger.** ``budget.spend_ledger`` is a JSON-lines file in the desk's budget state
directory (``aiops.governance.state``: ``[budget] state_dir``, else the per-user state
directory), never the working directory's, so every run of the operator counts against
one budget wherever it starts. Before a call, ``SpendLedger.reserve`` checks the
budget and appends a ``reserve`` line for the estimate under one exclusive lock, so
concurrent runs cannot both spend the last dollar; after the call ``settle`` appends
the ``spend`` line with the actual cost from usage, which replaces the reservation. A
reservation never settled (a killed process) keeps counting for
``reservation_ttl_s``. Every line is fsynced before the lock is released
(``aiops.evidence.jsonlines``): a call is sent only once its reservation is on disk.
Days and months are UTC at the run clock (``aiops.clock.now``, so
``SOURCE_DATE_EPOCH`` applies, and ``TZ`` never does): a line counts on the UTC day and
month of its ``timestamp_utc``, whatever offset it is written with; one without an
offset is unreadable.

**Refusal.** A call whose estimate could take today's or this month's spend past
``daily_cost_limit_usd`` / ``monthly_cost_limit_usd`` raises ``BudgetExceededError``
(exit 2) before anything is sent. Crossing ``alert_threshold_pct`` is a warning.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.canonical import canonical_json
from aiops.clock import isoformat
from aiops.errors import BudgetExceededError, SpendLedgerError
from aiops.evidence.jsonlines import LockedLines, locked_lines
from aiops.governance.state import spend_ledger_path
from aiops.providers.base import ModelRequest, Usage
from aiops.schemas.registry import Budget, Model

BYTES_PER_TOKEN = 3
REQUEST_OVERHEAD_TOKENS = 64
DEFAULT_RESERVATION_TTL_S = 3600.0


# --- estimates and actual cost ------------------------------------------------------


def estimate_tokens(text: str | bytes) -> int:
    """Conservative token count: ceil(UTF-8 bytes / 3)."""
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    return math.ceil(size / BYTES_PER_TOKEN)


def estimate_input_tokens(request: ModelRequest) -> int:
    """Prompts plus output schema, as they will appear in the request body."""
    schema = canonical_json(request.output_schema) if request.output_schema else b""
    return (
        estimate_tokens(request.system_prompt)
        + estimate_tokens(request.user_prompt)
        + estimate_tokens(schema)
        + REQUEST_OVERHEAD_TOKENS
    )


def cost_usd(model: Model, input_tokens: int, output_tokens: int) -> float:
    """Price at the registry's per-1k rates. ``output_tokens`` includes reasoning."""
    return (
        input_tokens * model.cost_per_1k_input + output_tokens * model.cost_per_1k_output
    ) / 1000.0


def worst_case_cost(request: ModelRequest) -> float:
    """The most this request can cost: estimated input, full output allowance."""
    output_cap = min(request.max_output_tokens, request.model.max_output_tokens)
    searches = request.web.max_calls if request.web is not None else 0
    return cost_usd(request.model, estimate_input_tokens(request), output_cap) + search_cost(
        request.model, searches
    )


def search_cost(model: Model, searches: int) -> float:
    """``searches`` web_search calls at the registry's price per 1,000."""
    return searches * model.cost_per_1k_web_searches / 1000.0


def search_calls(response: dict[str, Any] | None) -> int:
    """The web_search calls a response made (each ``web_search_call`` item is billed)."""
    output = response.get("output") if isinstance(response, dict) else None
    return sum(
        1
        for item in (output if isinstance(output, list) else [])
        if isinstance(item, dict) and item.get("type") == "web_search_call"
    )


def actual_cost(model: Model, usage: Usage) -> float:
    """What a finished call cost, from the usage the provider reported."""
    return cost_usd(model, usage.input_tokens, usage.output_tokens)


# --- budget decision ---------------------------------------------------------------


@dataclass(frozen=True)
class SpendTotals:
    """Spend counted against the budget: settled calls plus open reservations."""

    today_usd: float = 0.0
    month_usd: float = 0.0
    # Open reservations (today) of runs that never settled them (interrupted, or still
    # running): counted until they lapse, ``reservation_ttl`` after they were made.
    held_usd: float = 0.0
    held_count: int = 0
    held_until: datetime | None = None  # when the last of them lapses


@dataclass(frozen=True)
class BudgetStatus:
    """What the live banner shows: spend so far, this estimate, what is left."""

    spent_today_usd: float
    spent_month_usd: float
    estimate_usd: float
    daily_limit_usd: float
    monthly_limit_usd: float
    warnings: tuple[str, ...] = ()
    held_usd: float = 0.0
    held_count: int = 0
    held_until: datetime | None = None

    @property
    def remaining_today_usd(self) -> float:
        return max(0.0, self.daily_limit_usd - self.spent_today_usd)

    @property
    def remaining_month_usd(self) -> float:
        return max(0.0, self.monthly_limit_usd - self.spent_month_usd)

    def summary(self) -> str:
        """One line for the live banner; reservations still held are explained."""
        line = (
            f"worst case ${self.estimate_usd:.2f}; budget left today "
            f"${self.remaining_today_usd:.2f} of ${self.daily_limit_usd:.2f}, this month "
            f"${self.remaining_month_usd:.2f} of ${self.monthly_limit_usd:.2f}"
        )
        if self.held_count and self.held_until is not None:
            line += (
                f" (${self.held_usd:.2f} of it held by {self.held_count} open "
                f"reservation{'s' if self.held_count > 1 else ''} of runs interrupted or "
                f"still running; each lapses when its run's deadline has passed, the last "
                f"at {isoformat(self.held_until)})"
            )
        return line

    @property
    def within_budget(self) -> bool:
        return (
            self.spent_today_usd + self.estimate_usd <= self.daily_limit_usd
            and self.spent_month_usd + self.estimate_usd <= self.monthly_limit_usd
        )


def budget_status(budget: Budget, totals: SpendTotals, estimate_usd: float) -> BudgetStatus:
    """The status with threshold warnings; never raises (for banners and previews)."""
    warnings: list[str] = []
    for period, spent, limit in (
        ("daily", totals.today_usd, budget.daily_cost_limit_usd),
        ("monthly", totals.month_usd, budget.monthly_cost_limit_usd),
    ):
        after = spent + estimate_usd
        if after <= limit and after >= limit * budget.alert_threshold_pct / 100.0:
            warnings.append(
                f"budget: {period} spend could reach ${after:.2f} of ${limit:.2f} "
                f"(alert at {budget.alert_threshold_pct:g} %)"
            )
    return BudgetStatus(
        spent_today_usd=totals.today_usd,
        spent_month_usd=totals.month_usd,
        estimate_usd=estimate_usd,
        daily_limit_usd=budget.daily_cost_limit_usd,
        monthly_limit_usd=budget.monthly_cost_limit_usd,
        warnings=tuple(warnings),
        held_usd=totals.held_usd,
        held_count=totals.held_count,
        held_until=totals.held_until,
    )


def check_budget(
    budget: Budget, totals: SpendTotals, estimate_usd: float, what: str = "this call"
) -> BudgetStatus:
    """The status, or ``BudgetExceededError`` when ``what`` could pass a limit."""
    status = budget_status(budget, totals, estimate_usd)
    for period, spent, limit in (
        ("daily", totals.today_usd, budget.daily_cost_limit_usd),
        ("monthly", totals.month_usd, budget.monthly_cost_limit_usd),
    ):
        if spent + estimate_usd > limit:
            raise BudgetExceededError(
                f"budget: {what} could cost up to ${estimate_usd:.2f}; {period} spend is "
                f"${spent:.2f} of ${limit:.2f} (${max(0.0, limit - spent):.2f} left); "
                "refused before sending"
            )
    return status


# --- the spend ledger --------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    id: str
    run_id: str
    layer_id: str
    model_id: str
    estimate_usd: float


class SpendLedger:
    """The JSON-lines spend ledger at ``budget.spend_ledger``."""

    def __init__(
        self, budget: Budget, *, reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S
    ) -> None:
        self.budget = budget
        self.path = spend_ledger_path(budget)
        self.reservation_ttl = timedelta(seconds=reservation_ttl_s)

    def totals(self, at: datetime) -> SpendTotals:
        if not self.budget.tracking_enabled:
            return SpendTotals()
        with self._locked() as lines:
            return self._totals(lines, at)

    def status(self, estimate_usd: float, at: datetime) -> BudgetStatus:
        """For the banner: spend so far and what this estimate leaves; never raises."""
        return budget_status(self.budget, self.totals(at), estimate_usd)

    def reserve(
        self, estimate_usd: float, *, at: datetime, run_id: str, layer_id: str, model_id: str
    ) -> tuple[Reservation, BudgetStatus]:
        """Check the budget and hold ``estimate_usd`` against it, atomically."""
        reservation = Reservation(
            secrets.token_hex(8), run_id, layer_id, model_id, round(estimate_usd, 6)
        )
        if not self.budget.tracking_enabled:
            return reservation, check_budget(self.budget, SpendTotals(), estimate_usd)
        with self._locked() as lines:
            status = check_budget(self.budget, self._totals(lines, at), estimate_usd)
            lines.append({"kind": "reserve", **_line(reservation, at)})
        return reservation, status

    def settle(self, reservation: Reservation, *, at: datetime, usage: Usage, cost: float) -> None:
        """Record the actual cost (0 for a failed attempt); the reservation is released."""
        if not self.budget.tracking_enabled:
            return
        line = {"kind": "spend", **_line(reservation, at)}
        del line["estimate_usd"]
        line.update(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=round(cost, 6),
        )
        with self._locked() as lines:
            lines.append(line)

    def _totals(self, lines: LockedLines, at: datetime) -> SpendTotals:
        try:
            records = lines.read()
        except ValueError as error:
            raise self._unreadable(str(error)) from None
        spent: dict[str, tuple[datetime, float]] = {}
        reserved: dict[str, tuple[datetime, float]] = {}
        for number, record in records:
            try:
                when = datetime.fromisoformat(record["timestamp_utc"])
                kind = record["kind"]
                amount = float(record["cost_usd" if kind == "spend" else "estimate_usd"])
                key = str(record["id"])
            except (TypeError, KeyError, ValueError):
                raise self._unreadable(f"line {number} is not a spend record") from None
            if when.tzinfo is None:  # a day of which zone? guessing could overspend
                raise self._unreadable(f"line {number}: timestamp_utc has no UTC offset")
            when = when.astimezone(UTC)  # a line with another offset counts on its UTC day
            if kind == "spend":
                spent[key] = (when, amount)
            elif kind == "reserve":
                reserved[key] = (when, amount)
            else:
                raise self._unreadable(f"line {number} has unknown kind {kind!r}")
        held = [
            entry
            for key, entry in reserved.items()
            if key not in spent and at - entry[0] < self.reservation_ttl
        ]
        entries = list(spent.values()) + held
        day, month = at.date(), (at.year, at.month)
        today = sum(amount for when, amount in entries if when.date() == day)
        this_month = sum(amount for when, amount in entries if (when.year, when.month) == month)
        held_month = [(w, a) for w, a in held if (w.year, w.month) == month]
        return SpendTotals(
            today_usd=today,
            month_usd=this_month,
            held_usd=sum(amount for _, amount in held_month),
            held_count=len(held_month),
            held_until=(
                max(w for w, _ in held_month) + self.reservation_ttl if held_month else None
            ),
        )

    @contextmanager
    def _locked(self) -> Iterator[LockedLines]:
        try:
            with locked_lines(self.path) as lines:
                yield lines
        except OSError as error:
            raise self._unreadable(error.strerror or str(error)) from None

    def _unreadable(self, problem: str) -> SpendLedgerError:
        return SpendLedgerError(
            f"spend ledger {self.path}: {problem}; today's spend is unknown, refusing"
        )


def _line(reservation: Reservation, at: datetime) -> dict[str, Any]:
    return {
        "id": reservation.id,
        "timestamp_utc": isoformat(at),
        "run_id": reservation.run_id,
        "layer_id": reservation.layer_id,
        "model_id": reservation.model_id,
        "estimate_usd": reservation.estimate_usd,
    }
