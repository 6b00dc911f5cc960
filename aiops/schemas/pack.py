"""Schema of ``evidence_pack.json``: the index of a pack and its link in the ledger chain."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aiops.schemas.base import Strict
from aiops.schemas.checks import CheckResult, Violation
from aiops.schemas.manifest import Mode
from aiops.schemas.registry import LayerId

PackStatus = Literal["COMPLETED", "REJECTED", "BLOCKED", "FAILED"]

EVIDENCE_PACK_VERSION = "2.0"


class Digest(Strict):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Artifact(Strict):
    """A file of the pack other than ``evidence_pack.json``: name, digest and size."""

    name: str
    digest: Digest
    size: int = Field(ge=0)


class ModelRun(Strict):
    """The proposer's or critic's call as the pack records it."""

    model_id: str
    run_id: str
    prompt_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    output_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    artifact_path: str


class SoDSummary(Strict):
    result: CheckResult
    reason: str
    artifact_path: str


class ScopeSummary(Strict):
    result: CheckResult
    violations: list[Violation]
    artifact_path: str


class EvidencePack(Strict):
    evidence_pack_id: str
    evidence_pack_version: str
    creation_timestamp: str
    layer_id: LayerId
    layer_name: str
    run_id: str
    mode: Mode
    network_used: bool
    status: PackStatus
    proposer: ModelRun | None
    critic: ModelRun | None
    sod_check: SoDSummary
    capability_scope_check: ScopeSummary
    artifacts: list[Artifact]
    operator_notes: str
    matrix_version: str
    registry_version: str
    aiops_version: str
    sequence: int = Field(ge=1)
    previous_pack_id: str | None
    previous_pack_sha256: str | None = Field(pattern=r"^[0-9a-f]{64}$")
