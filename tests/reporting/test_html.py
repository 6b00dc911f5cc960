"""The HTML report: one self-contained file, KPI table, and SVG charts with one point
per day that has data."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiops.cli import app
from aiops.reporting.html import render_html
from aiops.schemas.pilot import PilotReport
from aiops.services.pilot_report import ReportOptions, pilot_report
from tests.conftest import FIXED_EPOCH
from tests.support.pilot import DAYS

REPLAY = frozenset({"replay"})  # the synthetic pilot replays its days


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self.svg: str | None = None
        self.points: Counter[tuple[str, str]] = Counter()  # (chart, series) -> circles
        self.polylines: dict[tuple[str, str], int] = {}
        self.kpi_rows: list[str] = []
        self.flagged: list[str] = []  # days marked as flagged on the drift chart
        self.pack_rows: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags[tag] += 1
        self.attrs.append((tag, a))
        if tag == "svg":
            self.svg = a.get("id")
        elif tag == "circle" and self.svg and "data-flagged" in a:
            self.flagged.append(f"{self.svg} {a['data-flagged']}")
        elif tag == "circle" and self.svg:
            self.points[(self.svg, a["data-series"] or "")] += 1
        elif tag == "polyline" and self.svg:
            coords = (a.get("points") or "").split()
            self.polylines[(self.svg, a["data-series"] or "")] = len(coords)
        elif tag == "tr" and a.get("data-kpi"):
            self.kpi_rows.append(a["data-kpi"] or "")
        elif tag == "tr" and a.get("data-pack"):
            self.pack_rows.append(a)
        elif tag == "a":
            self.links.append(a.get("href") or "")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg = None
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


@pytest.fixture(scope="module")
def report(pilot_ledger: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> PilotReport:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)  # the generated-at time, as every test's
        # An empty verification cache, as every test's: the report says how it verified.
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("html-cache")))
        return pilot_report(ReportOptions(modes=REPLAY, ledger=pilot_ledger[1].parent))


@pytest.fixture(scope="module")
def page(report: PilotReport) -> Page:
    parsed = Page()
    parsed.feed(render_html(report))
    parsed.close()
    return parsed


def test_charts_have_one_point_per_day_with_data(page: Page) -> None:
    assert page.tags["svg"] == 3
    assert page.points == {
        ("chart-drift", "drift"): DAYS,
        # the critic answered every day (it reviews a blocked output too); gpt-5.2
        # answered on the fallback day, gpt-5.2-pro on every other day
        ("chart-latency", "deepseek-r1"): DAYS,
        ("chart-latency", "gpt-5.2-pro"): DAYS - 1,
        ("chart-latency", "gpt-5.2"): 1,
    }
    # replayed runs spent nothing: no spend to chart (an empty line, no point)
    assert page.polylines == {**page.points, ("chart-cost", "cost"): 0}


def test_flagged_drift_points_are_marked(page: Page, report: PilotReport) -> None:
    assert report.drift_flagged_days == ["2026-01-19", "2026-01-24"]
    assert page.flagged == [f"chart-drift {day}" for day in report.drift_flagged_days]


def test_every_pack_has_a_row_linking_its_operator_output(page: Page, report: PilotReport) -> None:
    ledger = Path(report.ledger)
    assert len(page.pack_rows) == report.packs == DAYS
    assert len(page.links) == DAYS
    for link in page.links:  # relative to the ledger's parent, where the page sits
        assert link.startswith(f"{ledger.name}/") and link.endswith("/operator_output.md")
        assert (ledger.parent / link).is_file()
    reviewed = [row["data-reviewed"] for row in page.pack_rows]
    assert reviewed.count("True") == 25 and reviewed.count("False") == 5


def test_page_says_when_and_by_what_it_was_made(report: PilotReport) -> None:
    html = render_html(report)
    assert f"generated {report.generated_at} by aiops {report.aiops_version}" in html
    assert "Modes counted: replay" in html
    assert "25 of 30 packs (83.3 %)" in html and "25 approved, 0 rejected" in html
    assert "of the 50 USD daily limit" in html


def test_model_colours_do_not_depend_on_the_other_models(report: PilotReport) -> None:
    def colours(html: str) -> dict[str, str]:
        found = re.findall(r'<polyline data-series="([^"]+)" points="[^"]*" fill="none" '
                           r'stroke="([^"]+)"', html)  # fmt: skip
        return dict(found)

    full = colours(render_html(report))

    def without_critic(latency: dict[str, float]) -> dict[str, float]:
        return {m: v for m, v in latency.items() if m != "deepseek-r1"}

    days = [d.model_copy(update={"latency_ms": without_critic(d.latency_ms)}) for d in report.days]
    without = colours(render_html(report.model_copy(update={"days": days})))
    assert without["gpt-5.2-pro"] == full["gpt-5.2-pro"] and without["gpt-5.2"] == full["gpt-5.2"]
    assert len({full[m] for m in ("gpt-5.2-pro", "gpt-5.2", "deepseek-r1")}) == 3


def test_kpi_table_lists_every_kpi_with_its_status(page: Page, report: PilotReport) -> None:
    assert page.kpi_rows == [
        "sod",
        "scope",
        "completeness",
        "review_coverage",
        "review_time",
        "drift",
    ]
    assert [k.status for k in report.kpis] == ["PASS", "FAIL", "FAIL", "FAIL", "PASS", "FAIL"]


def test_page_is_self_contained(page: Page) -> None:
    assert page.tags["script"] == 0 and page.tags["link"] == 0 and page.tags["img"] == 0
    for tag, attrs in page.attrs:
        assert "src" not in attrs, tag
        if tag == "a":  # links to the packs beside the page: relative, never a network
            href = attrs["href"] or ""
            assert ":" not in href and not href.startswith("/"), href
        else:
            assert "href" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), tag
    css = "".join(page.styles)
    assert "url(" not in css and "@import" not in css


def test_text_from_the_ledger_is_escaped(report: PilotReport) -> None:
    hostile = report.model_copy(update={"ledger": "<script>alert(1)</script>"})
    html = render_html(hostile)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_command_writes_the_html_file(
    runner: CliRunner, report: PilotReport, tmp_path: Path
) -> None:
    target = tmp_path / "pilot.html"
    result = runner.invoke(
        app, ["pilot", "report", "--mode", "replay", report.ledger, "--json", "--html", str(target)]
    )
    assert result.exit_code == 1  # KPIs fail
    assert result.stderr.splitlines()[0] == f"aiops: wrote {target}"
    assert target.read_text(encoding="utf-8") == render_html(report)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unwritable_html_target_exit_2(
    runner: CliRunner, report: PilotReport, tmp_path: Path
) -> None:
    target = tmp_path / "missing-dir" / "pilot.html"
    result = runner.invoke(
        app, ["pilot", "report", "--mode", "replay", report.ledger, "--html", str(target)]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"aiops: error: cannot write {target}: ")


# --- rendered in a real browser, when one is installed --------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into unfiltered rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    previous = bytearray(stride)
    for y in range(height):
        filter_type, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_chromium_renders_a_page_that_is_not_blank(report: PilotReport, tmp_path: Path) -> None:
    page_file = tmp_path / "pilot.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900", page_file.as_uri())
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 900)
    grey = [sum(row[i : i + 3]) / 3 for row in rows[::4] for i in range(0, len(row), 12)]
    mean = sum(grey) / len(grey)
    variance = sum((g - mean) ** 2 for g in grey) / len(grey)
    dark = sum(1 for g in grey if g < 128) / len(grey)
    assert variance > 100 and 0.005 < dark < 0.5  # text and charts on a white page


def test_png_decoder_undoes_filters() -> None:
    """The decoder the browser test relies on, on a PNG built here (filters 0, 1, 2)."""
    rows = [bytes([10, 20, 30, 200, 100, 50]), bytes([11, 22, 33, 0, 255, 7]), bytes(6)]
    sub = bytes([rows[1][i] - (rows[1][i - 3] if i >= 3 else 0) & 0xFF for i in range(6)])
    up = bytes([(rows[2][i] - rows[1][i]) & 0xFF for i in range(6)])
    raw = b"\x00" + rows[0] + b"\x01" + sub + b"\x02" + up

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 3, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    assert png_pixels(png) == (2, 3, rows)


_MEASURE = (
    "<script>const e = document.documentElement;"
    'document.body.setAttribute("data-widths", e.scrollWidth + " " + e.clientWidth);</script>'
)


def _chromium(tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [
            str(shutil.which("chromium")),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        check=True,
        capture_output=True,
        timeout=60,
        text=True,
    )
    return done.stdout


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
@pytest.mark.parametrize("width", [700, 1400])
def test_no_horizontal_overflow_from_700_px_to_wide(
    report: PilotReport, tmp_path: Path, width: int
) -> None:
    """The page as rendered, plus a probe (in the test's copy only: the report itself has
    no script) that writes the document's scroll and client widths into the DOM."""
    probe = tmp_path / "probe.html"
    probe.write_text(render_html(report).replace("</body>", _MEASURE + "</body>"), "utf-8")
    dom = _chromium(tmp_path, f"--window-size={width},900", "--dump-dom", probe.as_uri())
    found = re.search(r'data-widths="(\d+) (\d+)"', dom)
    assert found is not None, dom[:300]
    scroll, client = int(found.group(1)), int(found.group(2))
    assert client <= width and scroll <= client  # nothing sticks out sideways
    shot = tmp_path / "shot.png"
    page_file = tmp_path / "pilot.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    _chromium(tmp_path, f"--screenshot={shot}", f"--window-size={width},900", page_file.as_uri())
    assert png_pixels(shot.read_bytes())[:2] == (width, 900)
