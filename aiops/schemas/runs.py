"""What ``aiops LAYER <mode> --json``, ``aiops runs --json``, ``aiops show --json`` and
``aiops spend --json`` print (``aiops schema run-result`` / ``runs`` / ``show`` /
``spend`` export them)."""

from __future__ import annotations

from typing import Literal

from aiops.schemas.base import Strict
from aiops.schemas.manifest import Mode
from aiops.schemas.pack import PackStatus
from aiops.schemas.pilot import OutputFormat

ReviewState = Literal["unreviewed", "APPROVE", "REJECT", "invalid"]


class RunCost(Strict):
    """``recorded_usd``: what the calls cost at the registry's prices as recorded;
    ``spent_usd``: what was spent now (0 in dry-run and replay, where nothing is sent)."""

    recorded_usd: float
    spent_usd: float


class ServedModels(Strict):
    """The registry models that answered (``None``: no answer)."""

    proposer: str | None
    critic: str | None


class RunResult(Strict):
    format: OutputFormat = OutputFormat(name="aiops-run", version=1)
    pack_path: str
    pack_id: str
    sequence: int
    layer_id: str
    mode: Mode
    run_id: str
    status: PackStatus
    exit_code: int
    reason: str
    critic_decision: str | None
    violations: int
    cost: RunCost
    models: ServedModels
    warnings: list[str]
    # A reviewing layer (L4): its verdict on the reviewed pack; None for other runs.
    governance_verdict: str | None = None


class RunRow(Strict):
    sequence: int
    pack_id: str
    pack_path: str
    layer_id: str
    mode: Mode
    status: PackStatus
    critic_decision: str | None
    review: ReviewState
    reviewer: str | None
    proposer_model: str | None
    critic_model: str | None
    cost_usd: float | None  # None: a call is not priced
    spent: bool  # False for dry-run and replay: the cost was recorded, not spent
    created: str
    problems: list[str]
    # The newest governance verdict (L4) on this pack, "(stale)" when the pack changed
    # since; None: no reviewing pack in the ledger names it.
    governance_verdict: str | None = None


class RunList(Strict):
    format: OutputFormat = OutputFormat(name="aiops-runs", version=1)
    ledger: str
    runs: list[RunRow]
    unreadable: list[str]  # entries of the ledger whose index does not read, with why


class PackShow(Strict):
    format: OutputFormat = OutputFormat(name="aiops-show", version=1)
    run: RunRow
    operator_notes: str
    operator_output: str | None  # operator_output.md as recorded; None: not readable
    verified: bool
    verification: list[str]  # what verify-pack finds wrong, one line each


class SpendRow(Strict):
    day: str
    model_id: str
    layer_id: str
    spent_usd: float
    reserved_usd: float
    calls: int


class BudgetState(Strict):
    """Today's and this month's spend as the budget counts it (settled calls plus open
    reservations), against the registry's limits."""

    tracking_enabled: bool
    today_usd: float
    month_usd: float
    daily_limit_usd: float
    monthly_limit_usd: float
    remaining_today_usd: float
    remaining_month_usd: float


class SpendReport(Strict):
    format: OutputFormat = OutputFormat(name="aiops-spend", version=1)
    spend_ledger: str
    since: str | None
    rows: list[SpendRow]
    spent_usd: float
    reserved_usd: float
    budget: BudgetState
