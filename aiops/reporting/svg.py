"""Inline SVG line charts: no script, no external asset, deterministic output.

Each series is one ``<polyline data-series=NAME>`` through the days that have a value
and one ``<circle data-series=NAME data-day=DAY>`` (with a ``<title>`` tooltip) per
such day, so a reader — or a test — can count the points.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x label; None where there is no data
    colour: str | None = None  # default: by position in the chart


def stable_colour(name: str) -> str:
    """A series' colour from its name alone, so a model keeps its colour from one
    report to the next whatever other models are charted."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str,
    threshold: float | None = None,
    flag_above: bool = False,
) -> str:
    """With ``flag_above``, each point above ``threshold`` is marked (a ring,
    ``data-flagged``)."""
    values = [v for s in series for v in s.values if v is not None]
    grid = _nice_step(max([*values, threshold or 0.0, 0.0]) / 4)
    top = grid * 4
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)

    def x(i: int) -> float:
        return LEFT + (i * step if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for k in range(5):  # horizontal grid with y labels
        v = grid * k
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#e0e0e0"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{_fmt(v)}{escape(unit)}</text>"
        )
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#555"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#555"/>'
    )
    tick = max(1, len(labels) // 6)
    for i, label in enumerate(labels):
        if i % tick == 0 or i == len(labels) - 1:
            out.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 20}" font-size="10" text-anchor="middle">'
                f"{escape(label[5:])}</text>"
            )
    if threshold is not None:
        out.append(
            f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}" stroke="#d62728" stroke-dasharray="6 4"/>'
        )
    for n, s in enumerate(series):
        colour = s.colour or PALETTE[n % len(PALETTE)]
        points = [(i, v) for i, v in enumerate(s.values) if v is not None]
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
        name = escape(s.name)
        out.append(
            f'<polyline data-series="{name}" points="{coords}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        for i, v in points:
            if flag_above and threshold is not None and v > threshold:
                out.append(
                    f'<circle class="flagged" data-flagged="{escape(labels[i])}" '
                    f'cx="{x(i):.1f}" cy="{y(v):.1f}" r="7" fill="none" stroke="#cf222e" '
                    'stroke-width="2"/>'
                )
            out.append(
                f'<circle data-series="{name}" data-day="{escape(labels[i])}" cx="{x(i):.1f}" '
                f'cy="{y(v):.1f}" r="3" fill="{colour}"><title>{escape(labels[i])} {name}: '
                f"{_fmt(v)}{escape(unit)}</title></circle>"
            )
        out.append(
            f'<text x="{WIDTH - RIGHT - 4}" y="{TOP + 14 * (n + 1)}" font-size="11" '
            f'text-anchor="end" fill="{colour}">{name}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _nice_step(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above ``raw`` (1 for an empty chart)."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
