"""``aiops pilot report --html FILE``: one self-contained page — inline CSS and SVG, no
script, no external asset — as a pilot lead prints it: the KPI table, reviews, budget
used against the limit, a per-pack table linking each pack's ``operator_output.md``
(relative links, right when the page sits beside the ledger), and charts of drift
(flagged points marked), spend and latency (one colour per model, the same in every
report). The layout holds from 700 px to a wide screen: charts scale, wide tables
scroll inside their own box."""

from __future__ import annotations

import os
from collections.abc import Callable
from html import escape
from pathlib import Path
from urllib.parse import quote

from aiops.errors import EvidenceWriteError
from aiops.evidence.durable import discard, staging_path, write_all
from aiops.evidence.strict import FileRefusedError, refuse_unless_replaceable
from aiops.reporting.svg import Series, line_chart, stable_colour
from aiops.schemas.pilot import PackRow, PilotReport

_STATUS_COLOUR = {"PASS": "#1a7f37", "FAIL": "#cf222e", "NO DATA": "#9a6700"}
_CSS = """
body { font-family: system-ui, sans-serif; margin: 1rem; color: #1f2328; background: #fff;
  max-width: 1400px; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.box { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left;
  vertical-align: top; font-size: 0.85rem; overflow-wrap: anywhere; }
th { background: #f6f8fa; }
.status { font-weight: bold; color: #fff; border-radius: 4px; padding: 0.1rem 0.5rem; }
.meta { color: #59636e; font-size: 0.9rem; overflow-wrap: anywhere; }
svg.chart { width: 100%; max-width: 720px; height: auto; display: block; }
@media print { .box { overflow: visible; } a { color: inherit; } }
"""


def render_html(report: PilotReport) -> str:
    parts = [
        *_head(report),
        *_kpi_table(report),
        *_reviews_and_budget(report),
        *_operations(report),
        *_pack_table(report),
        *_charts(report),
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


def _head(report: PilotReport) -> list[str]:
    verdict = "PASS" if report.all_pass else "FAIL"
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>aiops pilot report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>aiops pilot report "
        f'<span class="status" style="background:{_STATUS_COLOUR[verdict]}">{verdict}</span></h1>',
        f'<p class="meta">Ledger {escape(report.ledger)} · {report.packs} packs · '
        f"{escape(report.first_day or '-')} to {escape(report.last_day or '-')} · "
        f"baseline {escape(report.baseline_pack_id or 'none')} · "
        f"verifier: {escape(report.verifier)}</p>",
        *(
            [f'<p class="meta" id="completeness-basis">{escape(basis.statement)}</p>']
            if (basis := report.completeness_basis) is not None
            else []
        ),
        f'<p class="meta" id="generated">Modes counted: {escape(", ".join(report.modes))}'
        f"{_others(report)} · generated {escape(report.generated_at or '-')} by aiops "
        f"{escape(report.aiops_version or '-')}</p>",
    ]


def _kpi_table(report: PilotReport) -> list[str]:
    parts = [
        "<h2>KPIs</h2>",
        '<div class="box"><table id="kpis"><thead><tr><th>KPI</th><th>Value</th><th>Threshold</th>'
        "<th>Status</th><th>Detail</th></tr></thead><tbody>",
    ]
    for kpi in report.kpis:
        failing = (
            f"<br>failing: {escape(', '.join(kpi.failing_packs))}" if kpi.failing_packs else ""
        )
        parts.append(
            f'<tr data-kpi="{escape(kpi.key)}"><td>{escape(kpi.name)}</td>'
            f"<td>{escape(kpi.shown_value)}</td><td>{escape(kpi.shown_threshold)}</td>"
            f'<td><span class="status" style="background:{_STATUS_COLOUR[kpi.status]}">'
            f"{escape(kpi.status)}</span></td><td>{escape(kpi.detail)}{failing}</td></tr>"
        )
    parts.append("</tbody></table></div>")
    return parts


def _operations(report: PilotReport) -> list[str]:
    parts = [
        "<h2>Operations</h2>",
        '<div class="box"><table id="operations"><tbody>',
        _row(
            "Fallback rate",
            _maybe(report.fallback_rate_pct, " %") + f" ({report.fallback_packs} packs)",
        ),
        _row("Spend per day", _maybe(report.cost_per_day_usd, " USD", ".4f")),
        _row("Spend total", f"{report.cost_total_usd:.4f} USD"),
        _row(
            "Not spent",
            f"{report.cost_not_spent_usd:.4f} USD recorded by replays and dry-runs",
        ),
        _row("Served model changes", "; ".join(report.served_model_changes) or "none"),
        _row("Unpriced calls", str(report.unpriced_calls)),
    ]
    parts += [
        _row(
            f"Latency {m.model_id}", f"p50 {m.p50_ms:g} ms · p95 {m.p95_ms:g} ms ({m.calls} calls)"
        )
        for m in report.latency
    ]
    parts.append("</tbody></table></div>")
    return parts


def _charts(report: PilotReport) -> list[str]:
    labels = [d.day for d in report.days]
    models = sorted({m for d in report.days for m in d.latency_ms})
    return [
        "<h2>Charts</h2>",
        line_chart(
            "chart-drift",
            "Token drift vs day-1 baseline",
            labels,
            [Series("drift", [d.drift_pct for d in report.days])],
            " %",
            threshold=10.0,
            flag_above=True,
        ),
        line_chart(
            "chart-cost",
            "Spend per day (live and record runs)",
            labels,
            [Series("cost", [d.cost_usd for d in report.days])],
            " USD",
        ),
        line_chart(
            "chart-latency",
            "Mean latency per day",
            labels,
            [
                Series(m, [d.latency_ms.get(m) for d in report.days], stable_colour(m))
                for m in models
            ],
            " ms",
        ),
    ]


def _others(report: PilotReport) -> str:
    n = report.packs_other_modes
    return f" ({n} packs of other modes left out)" if n else ""


def _reviews_and_budget(report: PilotReport) -> list[str]:
    rows = ["<h2>Reviews and budget</h2>", '<div class="box"><table id="reviews"><tbody>']
    r = report.reviews
    if r is not None:
        coverage = f"{100.0 * r.reviewed / r.due:.1f} %" if r.due else "n/a"
        rows += [
            _row("Review coverage", f"{r.reviewed} of {r.due} packs ({coverage})"),
            _row("Decisions", f"{r.approved} approved, {r.rejected} rejected"),
            _row(
                "Kind",
                f"{r.interactive} interactive (timed), {r.non_interactive} without a terminal "
                f"(not timed)" + (f", {r.unknown} not recorded" if r.unknown else ""),
            ),
        ]
    highest = max((d.cost_usd or 0.0 for d in report.days), default=0.0)
    if report.budget_daily_limit_usd is not None:
        rows.append(
            _row(
                "Budget",
                f"spend {report.cost_total_usd:.4f} USD over the pilot; highest day "
                f"{highest:.4f} USD of the {report.budget_daily_limit_usd:g} USD daily limit "
                f"({_share(highest, report.budget_daily_limit_usd)}); monthly limit "
                f"{report.budget_monthly_limit_usd:g} USD",
            )
        )
    rows.append("</tbody></table></div>")
    return rows


def _share(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "no limit"


def _review_cell(row: PackRow, ledger: str) -> str:
    if not row.reviewed:
        return "no"
    kind = ", no terminal" if row.interactive is False else ""
    return escape(f"{(row.review_decision or '').lower()}{kind}")


def _pack_cell(row: PackRow, ledger: str) -> str:
    href = "/".join(quote(part) for part in (ledger, row.dir_name, "operator_output.md"))
    return f'<a href="{escape(href)}">{escape(row.pack_id)}</a>'


# One column of the per-pack table: its heading and its cell (HTML) for a row, given
# the ledger's directory name. A new per-pack figure (a layer's verdict) is one entry.
_PACK_COLUMNS: tuple[tuple[str, Callable[[PackRow, str], str]], ...] = (
    ("#", lambda row, _: "" if row.sequence is None else str(row.sequence)),
    ("Day", lambda row, _: escape(row.day or "-")),
    ("Pack", _pack_cell),
    ("Mode", lambda row, _: escape(row.mode or "-")),
    ("Status", lambda row, _: escape(row.status or "unreadable")),
    ("Critic", lambda row, _: escape(row.critic_decision or "-")),
    ("Review", _review_cell),
    ("Reviewer", lambda row, _: escape(row.reviewer or "-")),
    ("L4", lambda row, _: escape(row.governance_verdict or "-")),
    ("Drift", lambda row, _: "-" if row.drift_pct is None else f"{row.drift_pct:.2f} %"),
    ("Spend", lambda row, _: "-" if row.cost_usd is None else f"{row.cost_usd:.4f}"),
)


def _pack_table(report: PilotReport) -> list[str]:
    """One row per pack; the pack links to its operator_output.md, relative to the
    ledger's parent directory (where the page is meant to sit)."""
    ledger = Path(report.ledger).name
    head = "".join(f"<th>{escape(name)}</th>" for name, _ in _PACK_COLUMNS)
    rows = [
        "<h2>Packs</h2>",
        f'<div class="box"><table id="packs"><thead><tr>{head}</tr></thead><tbody>',
    ]
    rows += [_pack_row(ledger, row) for row in report.pack_rows]
    rows.append("</tbody></table></div>")
    return rows


def _pack_row(ledger: str, row: PackRow) -> str:
    data = "".join(f"<td>{cell(row, ledger)}</td>" for _, cell in _PACK_COLUMNS)
    return f'<tr data-pack="{escape(row.pack_id)}" data-reviewed="{row.reviewed}">{data}</tr>'


def _row(name: str, value: str) -> str:
    return f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"


def _maybe(value: float | None, unit: str, spec: str = ".2f") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def write_html(report: PilotReport, path: Path) -> None:
    """Write the page atomically (temporary file beside it, then rename), replacing only
    a regular file: never a FIFO, a device or a symbolic link."""
    try:
        refuse_unless_replaceable(path)
    except FileRefusedError as exc:
        raise EvidenceWriteError(f"cannot write {path}: {exc}") from None
    staging = staging_path(path)
    try:
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_all(fd, render_html(report).encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(staging, path)
    except OSError as exc:
        raise EvidenceWriteError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        discard(staging)
