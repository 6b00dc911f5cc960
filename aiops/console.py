"""All terminal rendering. Results go to stdout, banners and warnings to stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from aiops.streams import (
    TERMINAL_CONTROLS,
    discard_stdout,
    printable,
    stderr_failed,
    stdout_failed,
    visible_escape,
)
from aiops.wording import counted

if TYPE_CHECKING:
    from pathlib import Path

    from aiops.evidence.findings import Finding, PackReport, VerifyReport
    from aiops.schemas.pilot import DriftResult, PilotReport
    from aiops.services.keys import KeyPair
    from aiops.services.network import NetworkPlan
    from aiops.services.run_layer import RunOutcome

# Columns whose cells are long (identifiers, URLs, prose): they wrap at a narrow width
# while the short words of the other columns stay whole.
_LONG_COLUMNS = frozenset({"Model", "Endpoint", "KPI", "Detail"})
_STATUS_STYLE = {"COMPLETED": "green", "REJECTED": "yellow", "BLOCKED": "red", "FAILED": "red"}


class _Terminal(Console):
    """A console on which text from outside cannot drive the terminal.

    Names, paths, pack fields and model answers reach the screen as ``str`` or
    ``Text``; Rich drops a few control characters from them (bell, backspace, carriage
    return) but passes ESC, so a hostile pack directory name could move the cursor,
    clear lines or retitle the window. Rich's own styles and cursor moves are not text
    (they are added from a segment's style or are control segments), so any terminal
    control left in the text of a segment came from data: it is spelt as its escape."""

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and TERMINAL_CONTROLS.search(segment.text):
                text = TERMINAL_CONTROLS.sub(lambda m: visible_escape(m.group()), segment.text)
                yield Segment(text, segment.style)
            else:
                yield segment

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        """A file or a pipe gets lines as long as their content: no padding to the width."""
        text = super()._render_buffer(buffer)
        if self.is_terminal:
            return text
        return "\n".join(line.rstrip(" ") for line in text.split("\n"))


class _Console(_Terminal):
    def on_broken_pipe(self) -> None:
        # Rich would exit 1 ("rejected", "not verified"): the reader going away is not
        # the run's outcome. The rest is discarded; the command keeps its exit code.
        self.quiet = True
        discard_stdout()

    def _check_buffer(self) -> None:
        # Rich handles only a broken pipe; any other refusal (a full disk) is ours.
        try:
            super()._check_buffer()
        except OSError as error:
            self.quiet = True
            raise stdout_failed(error) from None


class _Diagnostics(_Terminal):
    """stderr: a banner or warning that cannot be written is dropped, never a traceback
    that would replace the command's exit code."""

    def _check_buffer(self) -> None:
        try:
            super()._check_buffer()
        except OSError:
            self.quiet = True
            stderr_failed()


def stdout_console() -> Console:
    return _fitted(_Console(highlight=False, soft_wrap=False, width=_width()))


def stderr_console() -> Console:
    return _fitted(_Diagnostics(stderr=True, highlight=False, soft_wrap=False, width=_width()))


# Narrower than this, Rich's tables give some columns no room at all and their cells
# print empty: a run summary without its status, a ledger table without its packs.
MIN_WIDTH = 60
UNKNOWN_WIDTH = 80  # what Rich assumes when nothing says otherwise
# A file or a pipe has no width: its lines are as long as their content, so output to
# one (a snapshot, a log, a grep) is the same whatever COLUMNS says and nothing is cut.
PLAIN_WIDTH = 4096


def _width() -> int | None:
    raw = os.environ.get("TERMINAL_WIDTH") or os.environ.get("COLUMNS")
    return int(raw) if raw and raw.isdigit() else None


def _fitted(console: Console) -> Console:
    """A width of 0 (``COLUMNS=0``, a pseudo-terminal that reports no size) printed
    nothing at all: it means "unknown". A width below ``MIN_WIDTH`` is raised to it: the
    terminal wraps the longer lines, and every value is still there to read. A file or
    a pipe is laid out at ``PLAIN_WIDTH`` whatever ``COLUMNS`` says."""
    if not console.is_terminal:
        console.width = PLAIN_WIDTH
    elif console.width <= 0:
        console.width = UNKNOWN_WIDTH
    elif console.width < MIN_WIDTH:
        console.width = MIN_WIDTH
    return console


def render_run(outcome: RunOutcome, *, to_stderr: bool = False) -> None:
    """The run summary of the seed's example output, as a Rich table (on stderr when
    stdout carries the run's JSON result)."""
    out = stderr_console() if to_stderr else stdout_console()
    m = outcome.manifest
    style = _STATUS_STYLE[outcome.status]
    out.print(f"[bold]aiops {m.run_type}[/bold] — {m.layer_id} ({m.layer_name})")
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, overflow="fold")
    table.add_column(overflow="fold")
    table.add_row("Run ID", m.run_id)
    table.add_row(
        "Pack", f"{outcome.evidence.evidence_pack_id} (sequence {outcome.evidence.sequence})"
    )
    table.add_row("Autonomy", str(m.autonomy_level))
    table.add_row("Primary", m.primary_model_id)
    table.add_row("Fallback", ", ".join(m.fallback_model_ids) or "none")
    table.add_row("Critic", m.critic_model_id)
    table.add_row("SoD", f"{outcome.sod.result} — {outcome.sod.reason}")
    table.add_row(
        "Scope", f"{outcome.scope.result} ({outcome.scope.scope_id} v{outcome.scope.scope_version})"
    )
    table.add_row("Config", escape(config_shown(m.config.directory, m.config.directory_source)))
    d = outcome.details
    if d is not None:
        table.add_row("Prompt", f"{m.prompt_id} v{m.prompt_version}")
        table.add_row("Inputs", escape(", ".join(i.path for i in m.inputs_manifest) or "none"))
        table.add_row(
            "Proposer", f"{d.proposer_model_id or m.primary_model_id} — {d.proposer_outcome}"
        )
        if d.critic_model_id is not None:
            decision = d.critic_decision or "none (fails closed)"
            table.add_row(
                "Verdict", f"{d.critic_model_id} — {d.critic_outcome}, decision {decision}"
            )
        table.add_row("Violations", str(d.violations))
        table.add_row("Outputs", escape(", ".join(d.outputs) or "none"))
        table.add_row(
            "Cost",
            f"${d.cost_usd:.4f}"
            + ("" if d.spent else " (recorded usage; replayed, nothing spent)"),
        )
    table.add_row("Network", "used" if m.network_used else "not used")
    table.add_row("Status", f"[{style}]{outcome.status}[/{style}]")
    out.print(table)
    for violation in outcome.scope.violations:
        where = f" (at {violation.location})" if violation.location else ""
        out.print(
            f"  [red]violation[/red] {escape(f'{violation.rule}: {violation.detail}{where}')}"
        )
    if d is not None and d.attempts:
        out.print(f"[bold]Attempts[/bold] ({len(d.attempts)})")
        attempts = Table(box=None, padding=(0, 1), pad_edge=False)
        for column in ("Role", "Model", "Endpoint", "HTTP", "Result", "Latency", "Then waited"):
            # Short words stay whole; the long identifiers wrap.
            attempts.add_column(column, overflow="fold", no_wrap=column not in _LONG_COLUMNS)
        for role, a in d.attempts:
            attempts.add_row(
                role,
                a.model_id,
                Text(a.endpoint),
                "-" if a.http_status is None else str(a.http_status),
                "ok" if a.error_class is None else Text(a.error_class, style="red"),
                f"{a.latency_ms} ms",
                f"{a.retry_delay_ms} ms" if a.retry_delay_ms else "",
            )
        out.print(attempts)
    out.print(f"[bold]Artifacts[/bold] in {escape(str(outcome.pack_path))}")
    for name in outcome.manifest.artifacts + ["evidence_pack.json"]:
        out.print(f"  - {name}")
    if d is not None and d.fixture_written is not None:
        out.print(f"[bold]Fixture[/bold] written to {escape(str(d.fixture_written))}")
    err = stderr_console()
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")


# --- Pilot: drift, KPI report (the review screen is console_review.py) ----------------

_KPI_STYLE = {"PASS": "green", "FAIL": "red", "NO DATA": "yellow"}


_CONFIG_SOURCE = {
    "given": "--config-dir or AIOPS_CONFIG_DIR",
    "working directory": "found in the working directory",
}


def config_shown(directory: str | None, source: str | None) -> str:
    """Which configuration directory a run used, and how it was chosen."""
    if directory is None:
        return "not recorded"
    if source in _CONFIG_SOURCE:
        return f"{directory} ({_CONFIG_SOURCE[source]})"
    return directory


def render_network_banner(plan: NetworkPlan, config: str | None = None) -> None:
    """The seed's guardrail banner, on stderr: models, endpoints, how requests leave
    (direct or via a proxy, which CAs are trusted), worst-case cost."""
    lines = [
        f"Real model API calls will be made ({plan.mode}, {plan.layer_id} {plan.layer_name}):",
    ]
    if config is not None:
        lines.append(f"- Config: {config}")
    for call in plan.calls:
        lines.append(
            f"  - {call.role}: {call.model_id} ({call.provider_model}) at {call.endpoint} — "
            f"up to {call.max_input_tokens} in / {call.max_output_tokens} out tokens, "
            f"<= ${call.worst_case_usd:.2f}"
            + (f"; must be served as {call.expected_served}" if call.expected_served else "")
            + ("" if call.call_mode == "blocking" else f"; {call.call_mode} call")
        )
    if any(call.call_mode == "background" for call in plan.calls):
        lines.append(
            "- Background calls are stored by the provider (store: true, retained for a "
            "while) even though the desk sends store: false"
        )
    if plan.routes:
        lines.append("- Routes (proxy variables read explicitly; credentials never shown):")
        lines += [f"  - {r.provider_id} {r.base_url}: {r.route}" for r in plan.routes]
        keys = [f"{r.provider_id} key from {r.key_source}" for r in plan.routes if r.key_source]
        lines += [f"- Keys (values never shown): {', '.join(keys)}"] if keys else []
    lines.append(f"- TLS trust: {plan.tls_trust}")
    lines += [
        f"- Costs will be incurred: worst case ${plan.worst_case_usd:.2f} "
        "(registry prices; estimated prompt size and max output tokens)",
    ]
    if plan.budget is not None:
        lines.append(f"- Budget: {plan.budget.summary()}")
        lines += [f"- WARNING {warning}" for warning in plan.budget.warnings]
    lines += [
        "- NO-LIVE trading remains enforced: outputs are advisory, nothing is executed",
        "- An evidence pack will be written",
    ]
    if plan.fixture is not None:
        lines.append(f"- The transcript will be recorded to {plan.fixture}")
    err = stderr_console()
    err.print(
        Panel(
            Text("\n".join(lines)),  # plain text: URLs such as http://[::1]/ are not markup
            title="WARNING: NETWORK MODE ENABLED",
            border_style="red",
            expand=False,
        ),
        markup=False,
    )


def render_drift(result: DriftResult) -> None:
    out = stdout_console()
    flag = "[red]FLAGGED[/red]" if result.flagged else "[green]within threshold[/green]"
    out.print(
        f"[bold]Drift[/bold] {escape(result.current_pack_id)} vs baseline "
        f"{escape(result.baseline_pack_id)}"
    )
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, overflow="fold")
    table.add_column(overflow="fold")
    table.add_row(
        "Token drift",
        f"{result.token_drift_pct:.2f} % (threshold {result.threshold_pct:g} %) — {flag}",
    )
    table.add_row(
        "Tokens",
        f"{result.baseline_tokens} vs {result.current_tokens}, "
        f"{result.matched_tokens} matched ({result.basis})",
    )
    s = result.structural
    regime = f"{s.regime_baseline} -> {s.regime_current}" if s.regime_changed else "unchanged"
    table.add_row("Regime", escape(regime))
    table.add_row("Scenarios added", escape(", ".join(s.scenarios_added) or "none"))
    table.add_row("Scenarios removed", escape(", ".join(s.scenarios_removed) or "none"))
    table.add_row("Triggers added", escape(", ".join(s.triggers_added) or "none"))
    table.add_row("Triggers removed", escape(", ".join(s.triggers_removed) or "none"))
    if result.served_model_changed:
        table.add_row(
            "Served model",
            f"[red]CHANGED[/red] {escape(str(result.served_model_baseline))} -> "
            f"{escape(str(result.served_model_current))}",
        )
    elif result.served_model_current is not None:
        table.add_row("Served model", escape(result.served_model_current))
    out.print(table)


def render_pilot_report(report: PilotReport) -> None:
    out = stdout_console()
    verdict = "[green]PASS[/green]" if report.all_pass else "[red]FAIL[/red]"
    modes = ", ".join(report.modes)
    others = f"; {counted(report.packs_other_modes, 'pack')} of other modes left out"
    out.print(
        f"[bold]Pilot report[/bold] {escape(report.ledger)}: {counted(report.packs, 'pack')} "
        f"({escape(modes)}{others if report.packs_other_modes else ''}), "
        f"{report.first_day} to {report.last_day} — {verdict}"
    )
    table = Table(title=None, show_lines=False)
    for column in ("KPI", "Value", "Threshold", "Status", "Detail"):
        table.add_column(column, overflow="fold", no_wrap=column not in _LONG_COLUMNS)
    for kpi in report.kpis:
        style = _KPI_STYLE[kpi.status]
        table.add_row(
            kpi.name,
            kpi.shown_value,
            kpi.shown_threshold,
            f"[{style}]{kpi.status}[/]",
            escape(kpi.detail),
        )
    out.print(table)
    for kpi in report.kpis:
        if kpi.failing_packs:
            out.print(f"[bold]{kpi.name} failing:[/bold] {escape(', '.join(kpi.failing_packs))}")
    extra = Table(show_header=False, box=None, padding=(0, 2))
    extra.add_column(style="bold", no_wrap=True, overflow="fold")
    extra.add_column(overflow="fold")
    rate = "n/a" if report.fallback_rate_pct is None else f"{report.fallback_rate_pct:.2f} %"
    extra.add_row("Fallback rate", f"{rate} ({counted(report.fallback_packs, 'pack')})")
    per_day = "n/a" if report.cost_per_day_usd is None else f"{report.cost_per_day_usd:.4f} USD"
    extra.add_row("Cost per day", f"{per_day} (total spend {report.cost_total_usd:.4f} USD)")
    if report.cost_not_spent_usd:
        extra.add_row(
            "Not spent", f"{report.cost_not_spent_usd:.4f} USD recorded by replays and dry-runs"
        )
    if report.reviews is not None:
        r = report.reviews
        extra.add_row(
            "Reviews",
            f"{r.reviewed}/{r.due} ({r.approved} approved, {r.rejected} rejected; "
            f"{r.interactive} interactive, {r.non_interactive} without a terminal"
            + (f", {r.unknown} unrecorded" if r.unknown else "")
            + ")",
        )
    if report.unpriced_calls:
        extra.add_row("Unpriced calls", str(report.unpriced_calls))
    for m in report.latency:
        extra.add_row(
            f"Latency {escape(m.model_id)}",
            f"p50 {m.p50_ms:g} ms, p95 {m.p95_ms:g} ms ({counted(m.calls, 'call')})",
        )
    extra.add_row("Drift flagged days", ", ".join(report.drift_flagged_days) or "none")
    extra.add_row(
        "Served model changes",
        escape("; ".join(report.served_model_changes)) or "none",
    )
    extra.add_row("Baseline", escape(report.baseline_pack_id or "none"))
    extra.add_row("Verifier", escape(report.verifier))
    out.print(extra)


def confirm_network(plan: NetworkPlan, yes: bool, config: str | None = None) -> None:
    """Show the banner, then wait for ENTER unless ``--yes``. Without a terminal on
    stdin and without ``--yes`` there is no one to confirm: refuse."""
    from aiops.errors import NetworkNotAllowedError

    render_network_banner(plan, config)
    if yes:
        return
    if not sys.stdin.isatty():
        raise NetworkNotAllowedError(
            "no terminal to confirm on: pass --yes to run without the prompt (nothing was sent)"
        )
    stderr_console().print("Press ENTER to continue or Ctrl-C to abort...", markup=False)
    try:
        input()
    except EOFError:
        raise NetworkNotAllowedError("not confirmed (end of input); nothing was sent") from None


# --- verify-pack -------------------------------------------------------------------------

_FILE_STYLE = {"OK": "green"}
_SIGNATURE_STYLE = {"VALID": "green", "INVALID": "red", "MISSING": "red", "FILES_DIFFER": "red"}


def render_verify(report: VerifyReport, checkpoint_written: Path | None = None) -> None:
    """Every file's status (a pack) or every pack's (a ledger), then every finding.

    Untrusted text (names, details from the pack) is passed as ``Text`` so that no
    markup or control sequence from a hostile pack reaches the terminal.
    """
    out = stdout_console()
    out.print(Text(f"aiops verify-pack — {report.kind} {report.path}", style="bold"))
    if report.kind == "pack" and report.packs:
        _pack_files(out, report.packs[0])
    else:
        _ledger_table(out, report)
    findings: list[tuple[PackReport | None, Finding]] = [(None, f) for f in report.findings]
    findings += [(p, f) for p in report.packs for f in p.findings]
    if findings:
        table = Table(title="Findings", title_justify="left", show_lines=False)
        if report.kind == "ledger":
            table.add_column("Pack", overflow="fold")
        table.add_column("Severity", no_wrap=True, overflow="fold")
        table.add_column("Check", no_wrap=True, overflow="fold")
        table.add_column("Finding", overflow="fold")
        for pack, finding in findings:
            row = _finding_row(finding)
            if report.kind == "ledger":
                row.insert(
                    0, Text(printable(pack.dir_name if pack else (finding.pack or "ledger")))
                )
            table.add_row(*row)
        out.print(table)
    if report.key_id:
        out.print(Text(f"Trusted key: {report.key_id}"))
    if checkpoint_written is not None:
        out.print(Text(f"Checkpoint written: {checkpoint_written}"))
    from aiops.evidence.verdict import verdict_line

    style = "bold green" if report.verified else "bold red"
    out.print(Text(verdict_line(report), style=style), soft_wrap=True)  # one line, whole


def _finding_row(finding: Finding) -> list[Text]:
    style = {"error": "red", "warning": "yellow"}.get(finding.severity, "")
    return [Text(finding.severity, style=style), Text(finding.check), Text(finding.message)]


def _pack_files(out: Console, pack: PackReport) -> None:
    table = Table(title="Files", title_justify="left")
    table.add_column("File", overflow="fold")
    table.add_column("Status", no_wrap=True, overflow="fold")
    table.add_column("Size", justify="right", no_wrap=True, overflow="fold")
    table.add_column("SHA-256", overflow="fold")
    table.add_column("Detail", overflow="fold")
    for file in pack.files:
        table.add_row(
            Text(file.name),
            Text(file.status, style=_FILE_STYLE.get(file.status, "red")),
            Text("" if file.size is None else str(file.size)),
            Text(file.sha256 or ""),  # whole: a cut hash identifies nothing
            Text(file.detail),
        )
    out.print(table)
    style = _SIGNATURE_STYLE.get(pack.signature.status, "")
    out.print(
        Text.assemble("Signature: ", (pack.signature.status, style), f" — {pack.signature.detail}")
    )
    if pack.review.present:
        style = _SIGNATURE_STYLE.get(pack.review.status, "")
        decision = f"{pack.review.decision} " if isinstance(pack.review.decision, str) else ""
        out.print(
            Text.assemble(
                "Review: ", (pack.review.status, style), f" — {decision}{pack.review.detail}"
            )
        )


def _ledger_table(out: Console, report: VerifyReport) -> None:
    table = Table(title="Packs", title_justify="left")
    table.add_column("Pack directory", overflow="fold")
    table.add_column("Sequence", justify="right", no_wrap=True, overflow="fold")
    table.add_column("Evidence pack id", overflow="fold")
    table.add_column("Files", no_wrap=True, overflow="fold")
    table.add_column("Signature", no_wrap=True, overflow="fold")
    reviewed = any(pack.review.present for pack in report.packs)
    if reviewed:  # an unreviewed ledger keeps the narrower table
        table.add_column("Review", no_wrap=True, overflow="fold")
    table.add_column("Result", no_wrap=True, overflow="fold")
    for pack in report.packs:
        ok = sum(1 for f in pack.files if f.status == "OK")
        row = [
            Text(printable(pack.dir_name)),
            Text(str(pack.chain.sequence) if pack.chain else "?"),
            Text(pack.pack_id or "?"),
            Text(f"{ok}/{len(pack.files)} OK"),
            Text(pack.signature.status, style=_SIGNATURE_STYLE.get(pack.signature.status, "")),
        ]
        if reviewed:
            review = pack.review
            row.append(
                Text(
                    review.status if review.present else "-",
                    _SIGNATURE_STYLE.get(review.status, ""),
                )
            )
        row.append(Text("OK", style="green") if pack.verified else Text("FAIL", style="red"))
        table.add_row(*row)
    out.print(table)
    failed = [(p, f) for p in report.packs for f in p.failed_files]
    if failed:
        files = Table(title="File problems", title_justify="left")
        files.add_column("Pack", overflow="fold")
        files.add_column("File", overflow="fold")
        files.add_column("Status", no_wrap=True, overflow="fold")
        files.add_column("Detail", overflow="fold")
        for pack, file in failed:
            files.add_row(
                Text(printable(pack.dir_name)),
                Text(file.name),
                Text(file.status, style="red"),
                Text(file.detail),
            )
        out.print(files)


# --- keys ----------------------------------------------------------------------------------


def render_keys(pair: KeyPair) -> None:
    out = stdout_console()
    out.print(Text(f"Private key: {pair.private_path} (mode 0600; keep it secret)"))
    out.print(Text(f"Public key:  {pair.public_path} (give it to auditors: --key)"))
    out.print(Text(f"Key id:      {pair.keyid}"))
    out.print(Text(f"Sign packs:  export AIOPS_SIGNING_KEY={pair.private_path}"))
