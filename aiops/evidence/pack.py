"""Assemble a pack's files from typed results and hand them to the atomic writer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiops import __version__
from aiops.canonical import pack_json
from aiops.evidence.ledger import ChainLink, evidence_pack_id, pack_dir_name
from aiops.evidence.names import (  # re-exported: the file names live in one light module
    CRITIC_OUTPUT_FILE,
    EVIDENCE_PACK_FILE,
    OPERATOR_OUTPUT_FILE,
    PACK_FILES,
    PROPOSER_OUTPUT_FILE,
    RUN_MANIFEST_FILE,
    SCOPE_CHECK_FILE,
    SOD_CHECK_FILE,
    TRANSCRIPT_FILE,
)
from aiops.evidence.report import OperatorReport, render_operator_output
from aiops.evidence.writer import Sealer, WrittenPack, write_pack
from aiops.schemas.checks import ScopeCheck, SoDCheck
from aiops.schemas.manifest import RunManifest
from aiops.schemas.pack import (
    EVIDENCE_PACK_VERSION,
    Artifact,
    EvidencePack,
    ModelRun,
    PackStatus,
    ScopeSummary,
    SoDSummary,
)

__all__ = [
    "CRITIC_OUTPUT_FILE",
    "EVIDENCE_PACK_FILE",
    "OPERATOR_OUTPUT_FILE",
    "PACK_FILES",
    "PROPOSER_OUTPUT_FILE",
    "RUN_MANIFEST_FILE",
    "SCOPE_CHECK_FILE",
    "SOD_CHECK_FILE",
    "TRANSCRIPT_FILE",
    "Destination",
    "PackContent",
    "write_evidence",
]


@dataclass(frozen=True)
class Destination:
    """Where the pack goes: the ledger (chain) and, with ``--out``, the exact directory.
    ``chained``: ``target`` must be the ledger's next pack name when it is written;
    ``known``: ``ledger`` is the configured ledger, where every directory is a pack
    (an ``--out``'s parent holds other things too)."""

    ledger: Path
    target: Path | None
    chained: bool = False
    known: bool = True


@dataclass(frozen=True)
class PackContent:
    manifest: RunManifest
    status: PackStatus
    sod: SoDCheck
    scope: ScopeCheck
    report: OperatorReport
    proposer: ModelRun | None = None
    critic: ModelRun | None = None
    model_files: dict[str, bytes] | None = None  # proposer/critic outputs, transcript


def write_evidence(
    content: PackContent, destination: Destination, seal: Sealer | None = None
) -> tuple[WrittenPack, EvidencePack]:
    extra = dict(content.model_files or {})
    names = sorted(
        [RUN_MANIFEST_FILE, OPERATOR_OUTPUT_FILE, SOD_CHECK_FILE, SCOPE_CHECK_FILE, *extra]
    )
    manifest = content.manifest.model_copy(
        update={"artifacts": names, "operator_output_path": OPERATOR_OUTPUT_FILE}
    )
    # The report states what the index records: one source for each of these.
    report = OperatorReport(
        **{
            **content.report.__dict__,
            "manifest": manifest,
            "status": content.status,
            "sod": content.sod,
            "scope": content.scope,
        }
    )
    files = {
        RUN_MANIFEST_FILE: pack_json(
            manifest.model_dump(mode="json", exclude=_absent_optional(manifest))
        ),
        OPERATOR_OUTPUT_FILE: render_operator_output(report).encode("utf-8"),
        SOD_CHECK_FILE: pack_json(content.sod.model_dump(mode="json")),
        SCOPE_CHECK_FILE: pack_json(content.scope.model_dump(mode="json")),
        **extra,
    }
    built: list[EvidencePack] = []

    # The run's own time is the manifest's (pre-flight: lifecycle, SoD); the pack's
    # creation time, its id and its directory's date are fixed when the sequence is
    # claimed under the ledger's lock (``link.created``), never before the manifest's.
    def build_index(link: ChainLink, artifacts: list[Artifact]) -> bytes:
        index = EvidencePack(
            evidence_pack_id=evidence_pack_id(manifest.layer_id, link.created[:10], link.sequence),
            evidence_pack_version=EVIDENCE_PACK_VERSION,
            creation_timestamp=link.created,
            layer_id=manifest.layer_id,
            layer_name=manifest.layer_name,
            run_id=manifest.run_id,
            mode=manifest.run_type,
            network_used=manifest.network_used,
            status=content.status,
            proposer=content.proposer,
            critic=content.critic,
            sod_check=SoDSummary(
                result=content.sod.result, reason=content.sod.reason, artifact_path=SOD_CHECK_FILE
            ),
            capability_scope_check=ScopeSummary(
                result=content.scope.result,
                violations=content.scope.violations,
                artifact_path=SCOPE_CHECK_FILE,
            ),
            artifacts=artifacts,
            operator_notes=manifest.operator_notes,
            matrix_version=manifest.matrix_version,
            registry_version=manifest.registry_version,
            aiops_version=__version__,
            sequence=link.sequence,
            previous_pack_id=link.previous_pack_id,
            previous_pack_sha256=link.previous_pack_sha256,
        )
        built.append(index)
        return pack_json(index.model_dump(mode="json"))

    def name(link: ChainLink) -> str:
        day = link.created[:10]
        return pack_dir_name(manifest.layer_id, manifest.layer_name, day, link.sequence)

    in_ledger = destination.target is not None and destination.chained
    written = write_pack(
        ledger=destination.ledger,
        files=files,
        build_index=build_index,
        name=name if destination.target is None or in_ledger else destination.target,
        seal=seal,
        expect=destination.target if in_ledger else None,
        known_ledger=destination.known,
    )
    return written, built[-1]


def _absent_optional(manifest: RunManifest) -> set[str] | None:
    """Fields only some runs have are left out, not written as null, so the manifests
    of other runs are what they were before those fields existed."""
    absent = {name for name in ("network", "governance_verdict") if getattr(manifest, name) is None}
    return absent or None
