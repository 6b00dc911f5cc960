"""Schema of ``run_manifest.json`` (seed Phase 2 fields plus what a replay needs)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aiops.schemas.base import Autonomy, Strict
from aiops.schemas.checks import CheckResult
from aiops.schemas.registry import LayerId

Mode = Literal["dry-run", "replay", "record", "live"]
NETWORK_MODES: frozenset[str] = frozenset({"record", "live"})


class InputEntry(Strict):
    """One input file as read: path relative to the working directory and its digest."""

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class InputPackEntry(Strict):
    """Another evidence pack taken as input (``--input-pack``): which pack, as it was
    when it was admitted. verify-pack finds it again by id and hash."""

    kind: Literal["evidence_pack"]
    path: str  # the pack's directory name in its ledger, as shown
    evidence_pack_id: str
    sequence: int = Field(ge=1)
    layer_id: LayerId
    status: Literal["COMPLETED", "REJECTED", "BLOCKED", "FAILED"]
    evidence_pack_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    same_ledger: bool  # False: from a ledger named with --input-ledger


class GovernanceFinding(Strict):
    """One finding of a governance verdict, citing a policy and a reviewed pack file."""

    severity: Literal["info", "warning", "error"]
    policy_ref: str
    file: str
    detail: str
    cited: bool  # the policy is one of the scope's and the file one of the reviewed pack's


class GovernanceVerdictRecord(Strict):
    """A reviewing layer's verdict on the pack it reviewed (``aiops.governance.l4_verdict``):
    ``verdict`` is what holds after the fail-closed rules, ``model_verdict`` what the
    model said (``None`` when no verdict could be read)."""

    reviewed_pack_id: str
    reviewed_pack_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    verdict: Literal["ALLOW", "REVIEW_REQUIRED", "REJECT"]
    model_verdict: Literal["ALLOW", "REVIEW_REQUIRED", "REJECT"] | None
    fail_closed_reasons: list[str]
    policy_refs: list[str]
    findings: list[GovernanceFinding]


class OutputEntry(Strict):
    """One model output of the run and the hash of its text as received."""

    role: Literal["proposer", "critic"]
    model_id: str
    artifact_path: str
    output_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    # What the provider says answered (threat T7): the response's model, and Chat
    # Completions' system_fingerprint and service_tier, each when given.
    served_model: str | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


ConfigSource = Literal["given", "working directory", "packaged"]


class ConfigDigest(Strict):
    """What configuration the run used, by content hash."""

    registry_sha256: str
    scope_sha256: str | None
    prompt_sha256: str | None = None
    # Which configuration directory the run used and how it was chosen: the path as
    # given (--config-dir / AIOPS_CONFIG_DIR, or ./config), or "packaged defaults".
    # Optional so that packs written before it was recorded still verify.
    directory: str | None = None
    directory_source: ConfigSource | None = None


class EndpointRoute(Strict):
    """How one provider's requests left the machine: direct or through a proxy, shown
    as ``scheme://host:port`` (never credentials)."""

    provider_id: str
    base_url: str
    route: Literal["direct", "proxy"]
    proxy: str | None = Field(default=None, pattern=r"^https?://[^\s/@]+:[0-9]+$")
    decided_by: str | None = None  # the environment variable that decided, if any
    # Where the provider's key came from (never the key); absent in older packs.
    api_key_source: Literal["environment", "env file", "secrets dir"] | None = None


class NetworkRoute(Strict):
    """record/live: the routes and TLS trust the warning banner showed before sending.
    ``tls_trust`` is ``certifi`` (its bundle) or ``environment`` (``ca_file`` from
    ``SSL_CERT_FILE`` and/or ``ca_dir`` from ``SSL_CERT_DIR``)."""

    endpoints: list[EndpointRoute]
    tls_trust: Literal["certifi", "environment"]
    ca_file: str | None = None
    ca_dir: str | None = None


class RunManifest(Strict):
    run_id: str
    run_type: Mode
    network_used: bool
    timestamp: str
    layer_id: LayerId
    layer_name: str
    autonomy_level: Autonomy
    primary_model_id: str
    fallback_model_ids: list[str]
    critic_model_id: str
    capability_scope_id: str
    capability_scope_version: str
    sod_result: CheckResult
    sod_reason: str
    sod_timestamp: str
    matrix_version: str
    registry_version: str
    prompt_id: str | None = None
    prompt_version: str | None = None
    config: ConfigDigest
    artifacts: list[str]
    operator_output_path: str
    operator_notes: str
    inputs_manifest: list[InputEntry | InputPackEntry]
    outputs_manifest: list[OutputEntry]
    aiops_version: str
    # Only in record/live packs; absent (not null) otherwise, so dry-run and replay
    # manifests are what they were before it existed (evidence/pack.py).
    network: NetworkRoute | None = None
    # Only in the packs of a layer that reviews its input pack (L4); absent otherwise.
    governance_verdict: GovernanceVerdictRecord | None = None
