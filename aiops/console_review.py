"""Rich rendering of ``aiops review``: the whole pack the operator decides on (stdout),
what verify-pack finds wrong with it (stderr warnings), and the decision recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from aiops.console import STATUS_STYLE, stderr_console, stdout_console

if TYPE_CHECKING:
    from aiops.services.review import RecordedReview, ReviewSession
    from aiops.services.review_screen import ReviewScreen, RoleCall

_CHECK_STYLE = {"PASS": "green", "FAIL": "red", "WARN": "yellow"}


def render_review_pack(session: ReviewSession) -> None:
    """What the operator reads before deciding: the run, who answered, the verdicts and
    why, every output in full, and the verification state; last, one line to decide on."""
    out = stdout_console()
    view, index, screen = session.view, session.view.index, session.screen
    out.print(
        Text.assemble(("Review ", "bold"), (index.evidence_pack_id, "bold"), f" — {view.path}")
    )
    out.print(_summary(session))
    scope = index.capability_scope_check
    _bullets(
        out,
        "Violations",
        [
            f"{v.rule}: {v.detail}" + (f" (at {v.location})" if v.location else "")
            for v in scope.violations
        ],
    )
    failed = [f"{c.role.lower()} {line}" for c in screen.calls for line in c.failed_attempts]
    if failed:
        _bullets(out, "Failed attempts", failed)
    _bullets(out, "Findings (operator_output.md)", screen.findings)
    _bullets(out, "Actions", screen.actions)
    if screen.critic is not None:
        _bullets(out, "Critic findings", screen.critic.findings)
    _outputs(out, screen)
    out.print(_footer(session))
    err = stderr_console()
    for problem in [*view.problems, *screen.verification.problems]:
        err.print(Text.assemble(("warning:", "yellow"), f" {problem}"))


def _summary(session: ReviewSession) -> Table:
    view, index, screen = session.view, session.view.index, session.screen
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, overflow="fold")
    table.add_column(overflow="fold")
    table.add_row("Run", Text(f"{index.run_id} ({index.mode}, {index.creation_timestamp})"))
    table.add_row("Layer", Text(f"{index.layer_id} ({index.layer_name})"))
    table.add_row("Status", Text(index.status, style=STATUS_STYLE[index.status]))
    m = view.manifest
    if m is not None:
        fallback = ", ".join(m.fallback_model_ids) or "none"
        table.add_row(
            "Models",
            Text(f"primary {m.primary_model_id}, fallback {fallback}, critic {m.critic_model_id}"),
        )
    for call in screen.calls:
        table.add_row(call.role, _answered(call))
    sod = index.sod_check
    table.add_row("SoD", Text.assemble((sod.result, _CHECK_STYLE[sod.result]), f" — {sod.reason}"))
    scope = index.capability_scope_check
    violations = f" ({len(scope.violations)} violations)" if scope.violations else ""
    table.add_row("Scope", Text.assemble((scope.result, _CHECK_STYLE[scope.result]), violations))
    critic = screen.critic
    if critic is None:
        table.add_row("Critic decision", "not called")
    else:
        table.add_row("Critic decision", Text(critic.decision or "none (fails closed)"))
        table.add_row("Critic rationale", Text(critic.rationale or "none"))
    from aiops.services.governance_reviews import governance_shown

    table.add_row("L4 verdict", Text(governance_shown(view.path)))
    v = screen.verification
    table.add_row("verify-pack", Text(v.verdict, style="green" if v.verified else "red"))
    table.add_row("Ledger", Text(v.chain, style="" if v.chain_ok else "red"))
    if index.operator_notes:
        table.add_row("Notes", Text(index.operator_notes))
    return table


def _answered(call: RoleCall) -> Text:
    """Who answered, as operator_output.md tells it: never a model that did not."""
    if call.answered_by is not None:
        return Text(f"{call.answered_by} answered ({call.outcome})")
    if call.outcome == "not called":
        return Text("not called")
    tried = f"; {len(call.failed_attempts)} failed attempts" if call.failed_attempts else ""
    return Text(f"no model answered ({call.outcome}{tried})", style="red")


def _outputs(out: Console, screen: ReviewScreen) -> None:
    out.print(Text(f"Outputs ({len(screen.outputs)})", style="bold"))
    if not screen.outputs:
        out.print("  none")
    for block in screen.outputs:
        out.print(Text(f"  {block.title}", style="bold"))
        for line in block.lines:
            out.print(Text("  " + line), overflow="fold")


def _footer(session: ReviewSession) -> Text:
    """The facts to decide on, once more, right above the prompt."""
    index, screen = session.view.index, session.screen
    decision = "not called" if screen.critic is None else screen.critic.decision or "none"
    v = screen.verification
    verified = "VERIFIED" if v.verified and v.chain_ok else "NOT VERIFIED"
    return Text.assemble(
        ("Deciding on ", "bold"),
        (index.evidence_pack_id, "bold"),
        ": ",
        (index.status, STATUS_STYLE[index.status]),
        f", critic {decision}, {len(index.capability_scope_check.violations)} violations, ",
        (verified, "green" if verified == "VERIFIED" else "red"),
    )


def _bullets(out: Console, title: str, lines: list[str]) -> None:
    out.print(f"[bold]{escape(title)}[/bold]")
    for line in lines or ["none"]:
        out.print(Text(f"  - {line}"))


def render_review_recorded(recorded: RecordedReview) -> None:
    r = recorded.review
    timed = (
        f"{r.duration_seconds / 60:.1f} min on screen"
        if r.interactive
        else "decided on the command line: not timed"
    )
    stdout_console().print(
        f"Recorded {r.decision} by {r.reviewer} for {r.evidence_pack_id} ({timed}) in "
        f"{recorded.path}"
        + (", signed" if recorded.signed else " (unsigned: no AIOPS_SIGNING_KEY)"),
        markup=False,
    )
