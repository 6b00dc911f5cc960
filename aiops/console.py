"""All terminal rendering. Results go to stdout, banners and warnings to stderr."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from pathlib import Path

    from aiops.evidence.findings import Finding, PackReport, VerifyReport
    from aiops.services.keys import KeyPair
    from aiops.services.run_layer import RunOutcome

_STATUS_STYLE = {"COMPLETED": "green", "REJECTED": "yellow", "BLOCKED": "red", "FAILED": "red"}


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=_width())


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=False, width=_width())


def _width() -> int | None:
    raw = os.environ.get("TERMINAL_WIDTH") or os.environ.get("COLUMNS")
    return int(raw) if raw and raw.isdigit() else None


def render_run(outcome: RunOutcome) -> None:
    """The run summary of the seed's example output, as a Rich table."""
    out = stdout_console()
    m = outcome.manifest
    style = _STATUS_STYLE[outcome.status]
    out.print(f"[bold]aiops {m.run_type}[/bold] — {m.layer_id} ({m.layer_name})")
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
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
    table.add_row("Network", "used" if m.network_used else "not used")
    table.add_row("Status", f"[{style}]{outcome.status}[/{style}]")
    out.print(table)
    out.print(f"[bold]Artifacts[/bold] in {outcome.pack_path}")
    for name in outcome.manifest.artifacts + ["evidence_pack.json"]:
        out.print(f"  - {name}")
    err = stderr_console()
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")


def print_error(message: str) -> None:
    """One line on stderr; no markup interpretation of the message."""
    stderr_console().print(f"aiops: error: {message}", markup=False, highlight=False)


# --- verify-pack -------------------------------------------------------------------------

_FILE_STYLE = {"OK": "green"}
_SIGNATURE_STYLE = {"VALID": "green", "INVALID": "red", "MISSING": "red"}


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
            table.add_column("Pack")
        table.add_column("Severity")
        table.add_column("Check")
        table.add_column("Finding", overflow="fold")
        for pack, finding in findings:
            row = _finding_row(finding)
            if report.kind == "ledger":
                row.insert(0, Text(pack.dir_name if pack else (finding.pack or "ledger")))
            table.add_row(*row)
        out.print(table)
    if report.key_id:
        out.print(Text(f"Trusted key: {report.key_id}"))
    if checkpoint_written is not None:
        out.print(Text(f"Checkpoint written: {checkpoint_written}"))
    if report.verified:
        out.print(Text(f"VERIFIED — {len(report.packs)} pack(s)", style="bold green"))
    else:
        out.print(
            Text(
                f"NOT VERIFIED — {report.failed_files} file problem(s), "
                f"{len(report.errors)} finding(s)",
                style="bold red",
            )
        )


def _finding_row(finding: Finding) -> list[Text]:
    style = {"error": "red", "warning": "yellow"}.get(finding.severity, "")
    return [Text(finding.severity, style=style), Text(finding.check), Text(finding.message)]


def _pack_files(out: Console, pack: PackReport) -> None:
    table = Table(title="Files", title_justify="left")
    table.add_column("File", overflow="fold")
    table.add_column("Status")
    table.add_column("Size", justify="right")
    table.add_column("SHA-256")
    table.add_column("Detail", overflow="fold")
    for file in pack.files:
        table.add_row(
            Text(file.name),
            Text(file.status, style=_FILE_STYLE.get(file.status, "red")),
            Text("" if file.size is None else str(file.size)),
            Text((file.sha256 or "")[:16]),
            Text(file.detail),
        )
    out.print(table)
    style = _SIGNATURE_STYLE.get(pack.signature.status, "")
    out.print(
        Text.assemble("Signature: ", (pack.signature.status, style), f" — {pack.signature.detail}")
    )


def _ledger_table(out: Console, report: VerifyReport) -> None:
    table = Table(title="Packs", title_justify="left")
    table.add_column("Pack directory", overflow="fold")
    table.add_column("Sequence", justify="right")
    table.add_column("Evidence pack id")
    table.add_column("Files")
    table.add_column("Signature")
    table.add_column("Result")
    for pack in report.packs:
        ok = sum(1 for f in pack.files if f.status == "OK")
        table.add_row(
            Text(pack.dir_name),
            Text(str(pack.chain.sequence) if pack.chain else "?"),
            Text(pack.pack_id or "?"),
            Text(f"{ok}/{len(pack.files)} OK"),
            Text(pack.signature.status, style=_SIGNATURE_STYLE.get(pack.signature.status, "")),
            Text("OK", style="green") if pack.verified else Text("FAIL", style="red"),
        )
    out.print(table)
    failed = [(p, f) for p in report.packs for f in p.failed_files]
    if failed:
        files = Table(title="File problems", title_justify="left")
        files.add_column("Pack", overflow="fold")
        files.add_column("File", overflow="fold")
        files.add_column("Status")
        files.add_column("Detail", overflow="fold")
        for pack, file in failed:
            files.add_row(
                Text(pack.dir_name),
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
