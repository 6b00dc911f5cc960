"""Rich rendering of what an auditor and a key holder run: ``verify-pack`` and ``keys
generate``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from aiops.console import stdout_console
from aiops.streams import printable

if TYPE_CHECKING:
    from pathlib import Path

    from aiops.evidence.findings import Finding, PackReport, VerifyReport
    from aiops.services.keys import KeyPair

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
