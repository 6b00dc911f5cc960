"""``aiops pilot report --html FILE``: one self-contained page — inline CSS and SVG, no
script, no external asset — with the KPI table and charts of drift, cost and latency."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from aiops.errors import EvidenceWriteError
from aiops.evidence.durable import discard, staging_path, write_all
from aiops.evidence.strict import FileRefusedError, refuse_unless_replaceable
from aiops.reporting.svg import Series, line_chart
from aiops.schemas.pilot import PilotReport

_STATUS_COLOUR = {"PASS": "#1a7f37", "FAIL": "#cf222e", "NO DATA": "#9a6700"}
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.35rem 0.7rem; text-align: left;
  vertical-align: top; font-size: 0.9rem; }
th { background: #f6f8fa; }
.status { font-weight: bold; color: #fff; border-radius: 4px; padding: 0.1rem 0.5rem; }
.meta { color: #59636e; font-size: 0.9rem; }
"""


def render_html(report: PilotReport) -> str:
    labels = [d.day for d in report.days]
    models = sorted({m for d in report.days for m in d.latency_ms})
    verdict = "PASS" if report.all_pass else "FAIL"
    parts = [
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
        "<h2>KPIs</h2>",
        '<table id="kpis"><thead><tr><th>KPI</th><th>Value</th><th>Threshold</th>'
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
    parts.append("</tbody></table>")
    parts += [
        "<h2>Operations</h2>",
        '<table id="operations"><tbody>',
        _row(
            "Fallback rate",
            _maybe(report.fallback_rate_pct, " %") + f" ({report.fallback_packs} packs)",
        ),
        _row("Cost per day", _maybe(report.cost_per_day_usd, " USD", ".4f")),
        _row("Cost total", f"{report.cost_total_usd:.4f} USD"),
        _row("Unpriced calls", str(report.unpriced_calls)),
    ]
    parts += [
        _row(
            f"Latency {m.model_id}", f"p50 {m.p50_ms:g} ms · p95 {m.p95_ms:g} ms ({m.calls} calls)"
        )
        for m in report.latency
    ]
    parts.append("</tbody></table>")
    parts += [
        "<h2>Charts</h2>",
        line_chart(
            "chart-drift",
            "Token drift vs day-1 baseline",
            labels,
            [Series("drift", [d.drift_pct for d in report.days])],
            " %",
            threshold=10.0,
        ),
        line_chart(
            "chart-cost",
            "Cost per day",
            labels,
            [Series("cost", [d.cost_usd for d in report.days])],
            " USD",
        ),
        line_chart(
            "chart-latency",
            "Mean latency per day",
            labels,
            [Series(m, [d.latency_ms.get(m) for d in report.days]) for m in models],
            " ms",
        ),
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


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
