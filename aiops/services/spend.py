"""``aiops spend``: the spend ledger per day, model and layer, against the budget.

The spend ledger is read where and as ``aiops.governance.budget.SpendLedger`` reads it:
a ``spend`` line settles its reservation; a ``reserve`` line not settled is an open
reservation while younger than the reservation time-to-live (an interrupted run's
hold, which then lapses). The budget figures are the ledger's own totals. A ledger
that does not read is refused (exit 2), as a run would refuse it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from aiops.errors import SpendLedgerError
from aiops.evidence.jsonlines import locked_lines
from aiops.governance.budget import SpendLedger, SpendTotals, budget_status
from aiops.schemas.registry import Budget
from aiops.schemas.runs import BudgetState, SpendReport, SpendRow


@dataclass
class _Cell:
    spent: float = 0.0
    reserved: float = 0.0
    calls: int = 0


def spend_report(budget: Budget, at: datetime, since: date | None = None) -> SpendReport:
    ledger = SpendLedger(budget)
    exists = ledger.path.is_file()
    records = _records(ledger) if exists and budget.tracking_enabled else []
    cells: dict[tuple[str, str, str], _Cell] = defaultdict(_Cell)
    settled = {key for kind, key, *_ in records if kind == "spend"}
    for kind, key, when, model, layer, amount in records:
        if since is not None and when.date() < since:
            continue
        cell = cells[(when.date().isoformat(), model, layer)]
        if kind == "spend":
            cell.spent += amount
            cell.calls += 1
        elif key not in settled and at - when < ledger.reservation_ttl:
            cell.reserved += amount
    rows = [
        SpendRow(
            day=day,
            model_id=model,
            layer_id=layer,
            spent_usd=round(c.spent, 6),
            reserved_usd=round(c.reserved, 6),
            calls=c.calls,
        )
        for (day, model, layer), c in sorted(cells.items(), reverse=True)
    ]
    totals = ledger.totals(at) if exists else SpendTotals()
    status = budget_status(budget, totals, 0.0)
    return SpendReport(
        spend_ledger=str(ledger.path),
        since=since.isoformat() if since else None,
        rows=rows,
        spent_usd=round(sum(r.spent_usd for r in rows), 6),
        reserved_usd=round(sum(r.reserved_usd for r in rows), 6),
        budget=BudgetState(
            tracking_enabled=budget.tracking_enabled,
            today_usd=round(status.spent_today_usd, 6),
            month_usd=round(status.spent_month_usd, 6),
            daily_limit_usd=status.daily_limit_usd,
            monthly_limit_usd=status.monthly_limit_usd,
            remaining_today_usd=round(status.remaining_today_usd, 6),
            remaining_month_usd=round(status.remaining_month_usd, 6),
        ),
    )


_Record = tuple[str, str, datetime, str, str, float]


def _records(ledger: SpendLedger) -> list[_Record]:
    """(kind, id, UTC time, model, layer, amount) per line; refuses what the budget
    check would refuse."""
    try:
        with locked_lines(ledger.path) as lines:
            raw = lines.read()
    except (OSError, ValueError) as error:
        raise _unreadable(ledger, str(error)) from None
    records: list[_Record] = []
    for number, record in raw:
        try:
            when = datetime.fromisoformat(record["timestamp_utc"])
            kind = record["kind"]
            amount = float(record["cost_usd" if kind == "spend" else "estimate_usd"])
            key, model, layer = str(record["id"]), str(record["model_id"]), str(record["layer_id"])
        except (TypeError, KeyError, ValueError):
            raise _unreadable(ledger, f"line {number} is not a spend record") from None
        if when.tzinfo is None or kind not in ("spend", "reserve"):
            raise _unreadable(ledger, f"line {number} is not a spend record")
        records.append((kind, key, when.astimezone(UTC), model, layer, amount))
    return records


def _unreadable(ledger: SpendLedger, problem: str) -> SpendLedgerError:
    return SpendLedgerError(f"spend ledger {ledger.path}: {problem}; spend is unknown")
