"""``aiops show PACK``: a pack as the operator reads it — its row in ``aiops runs``,
``operator_output.md`` as recorded, and what verify-pack finds wrong with the pack."""

from __future__ import annotations

from pathlib import Path

from aiops.evidence.inputs_check import check_pack_inputs
from aiops.evidence.names import OPERATOR_OUTPUT_FILE
from aiops.evidence.reader import load_pack
from aiops.evidence.strict import MAX_JSON_BYTES, read_file_in
from aiops.evidence.verify import verify_pack
from aiops.schemas.registry import Registry
from aiops.schemas.runs import PackShow
from aiops.services.governance_reviews import with_governance
from aiops.services.runs import run_row


def show_pack(pack_dir: Path, registry: Registry) -> PackShow:
    view = load_pack(pack_dir)  # raises PackReadError (exit 2) when it is not a pack
    read = read_file_in(pack_dir, OPERATOR_OUTPUT_FILE, max_bytes=MAX_JSON_BYTES)
    text: str | None = None
    if read.status is None and read.data is not None:
        text = read.data.decode("utf-8", errors="replace")
    report = verify_pack(pack_dir)
    check_pack_inputs(report)  # the packs it took as input, too
    findings = [
        f"{f.name} {f.status}" + (f" ({f.detail})" if f.detail else "") for f in report.failed_files
    ]
    findings += [
        f"{f.severity}: {f.check}: {f.message}"
        for f in report.findings
        if f.severity in ("error", "warning")
    ]
    return PackShow(
        run=with_governance(pack_dir.parent, [run_row(view, registry)])[0],
        operator_notes=view.index.operator_notes,
        operator_output=text,
        verified=report.verified,
        verification=findings,
    )
