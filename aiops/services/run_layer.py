"""Run a layer: pre-flight governance, then (by mode) model calls, then the evidence pack.

The pre-flight is the same for every mode and refuses before anything is written or
sent: unknown layer, EXEC or deterministic-only layer, unknown / non-production /
retired model, SoD failure, an output location that already holds evidence, a ledger
whose head is damaged or newer than the clock, an ``--out`` inside a pack or not the
ledger's next pack name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiops import __version__
from aiops.canonical import canonical_json, require_utf8, sha256_hex
from aiops.clock import isoformat, now
from aiops.configuration import REGISTRY_FILE, Config, load_config
from aiops.errors import (
    EXIT_BLOCKED,
    EXIT_OK,
    EXIT_PROVIDER,
    EXIT_REJECTED,
    GovernanceError,
    OutputExistsError,
    SoDViolationError,
    UsageError,
)
from aiops.evidence.ledger import (
    DEFAULT_PACK_NAME,
    check_before_run,
    next_link,
    pack_dir_name,
)
from aiops.evidence.names import EVIDENCE_PACK_FILE
from aiops.evidence.pack import Destination, PackContent, write_evidence
from aiops.evidence.report import OperatorReport
from aiops.evidence.writer import check_can_write_in, check_destination
from aiops.governance.autonomy import check_layer_may_run, parse_layer
from aiops.governance.lifecycle import require_runnable
from aiops.governance.scope import build_scope_check, preflight_checks
from aiops.governance.sod import check_sod
from aiops.schemas.checks import Check, ScopeCheck, SoDCheck
from aiops.schemas.manifest import NETWORK_MODES, ConfigDigest, Mode, RunManifest
from aiops.schemas.pack import EvidencePack, PackStatus
from aiops.schemas.registry import LayerMapping
from aiops.schemas.scope import CapabilityScope
from aiops.settings import Settings, working_directory

if TYPE_CHECKING:
    from aiops.services.run_data import RunDetails

EXIT_FOR_STATUS: dict[str, int] = {
    "COMPLETED": EXIT_OK,
    "REJECTED": EXIT_REJECTED,
    "BLOCKED": EXIT_BLOCKED,
    "FAILED": EXIT_PROVIDER,
}


@dataclass(frozen=True)
class RunOptions:
    layer: str
    mode: Mode
    primary: str | None = None
    critic: str | None = None
    out: Path | None = None
    notes: str = ""
    config_dir: Path | None = None


@dataclass(frozen=True)
class RunOutcome:
    status: PackStatus
    pack_path: Path
    manifest: RunManifest
    sod: SoDCheck
    scope: ScopeCheck
    evidence: EvidencePack
    warnings: list[str] = field(default_factory=list)
    reason: str = ""
    details: RunDetails | None = None  # model modes: who answered, what was decided
    # A governance refusal mid-run (the budget) exits 2 although its pack says FAILED.
    exit_override: int | None = None

    @property
    def exit_code(self) -> int:
        if self.exit_override is not None:
            return self.exit_override
        return EXIT_FOR_STATUS[self.status]


@dataclass(frozen=True)
class Preflight:
    """Everything decided before any model call: config, models, SoD, destination."""

    clock: datetime
    config: Config
    layer_id: str
    layer: LayerMapping
    scope: CapabilityScope
    proposer_id: str
    fallback_ids: list[str]
    critic_id: str
    run_id: str
    sod: SoDCheck
    scope_checks: list[Check]
    destination: Destination
    warnings: list[str]


def compute_run_id(
    layer_id: str, primary: str, fallbacks: list[str], critic: str, scope_id: str, version: str
) -> str:
    """``<LAYER>-`` + the first 16 hex digits of SHA-256 over the canonical JSON of
    ``{"capability_scope_id", "capability_scope_version", "critic_model_id",
    "fallback_model_ids", "layer_id", "primary_model_id"}``. The same configuration
    always gets the same run id; packs are told apart by ``evidence_pack_id``."""
    payload = {
        "layer_id": layer_id,
        "primary_model_id": primary,
        "fallback_model_ids": fallbacks,
        "critic_model_id": critic,
        "capability_scope_id": scope_id,
        "capability_scope_version": version,
    }
    return f"{layer_id}-{sha256_hex(canonical_json(payload))[:16]}"


def preflight(options: RunOptions, settings: Settings | None = None) -> Preflight:
    settings = settings or Settings()
    working_directory()  # runtime state lives under it: refuse at once if it is gone
    require_utf8(options.notes, "--notes")
    clock = now()
    layer_id = parse_layer(options.layer)
    config = load_config(options.config_dir or settings.config_dir)
    layer = config.layer(layer_id)
    check_layer_may_run(layer_id, layer)
    assert layer.primary is not None and layer.critic is not None  # model layer
    proposer_id = options.primary or layer.primary
    critic_id = options.critic or layer.critic
    require_runnable(config.registry, proposer_id, "proposer", clock)
    require_runnable(config.registry, critic_id, "critic", clock)
    # The critic is never a fallback; neither is the proposer itself.
    fallback_ids = [m for m in layer.fallbacks if m not in (proposer_id, critic_id)]
    scope = config.scope_for(layer_id)
    run_id = compute_run_id(
        layer_id, proposer_id, fallback_ids, critic_id, scope.scope.scope_id, scope.scope.version
    )
    timestamp = isoformat(clock)
    sod = check_sod(config.registry, layer_id, layer, proposer_id, critic_id, run_id, timestamp)
    if sod.result == "FAIL":
        raise SoDViolationError(sod.reason)
    scope_checks = preflight_checks(layer, scope)
    web_warnings = _check_web_models(config, scope, proposer_id, fallback_ids)
    failed = [check.detail for check in scope_checks if not check.passed]
    if failed:
        raise GovernanceError(f"capability scope {scope.scope.scope_id}: " + "; ".join(failed))
    destination = choose_destination(options.out, settings.packs_dir, layer_id, layer.name)
    return Preflight(
        clock=clock,
        config=config,
        layer_id=layer_id,
        layer=layer,
        scope=scope,
        proposer_id=proposer_id,
        fallback_ids=fallback_ids,
        critic_id=critic_id,
        run_id=run_id,
        sod=sod,
        scope_checks=scope_checks,
        destination=destination,
        warnings=list(sod.warnings) + web_warnings,
    )


def _check_web_models(
    config: Config, scope: CapabilityScope, proposer_id: str, fallback_ids: list[str]
) -> list[str]:
    """The models this run uses against the scope's web tooling (``--primary`` too):
    a config error (exit 2) before anything is written; fallbacks that cannot search
    are warnings."""
    from aiops.errors import ConfigError
    from aiops.governance.web_config import fallback_warnings, model_problems

    registry = config.registry
    for problem, _role in model_problems(registry, scope, proposer_id, fallback_ids):
        raise ConfigError(config.scope_files[scope.scope.scope_id], problem, "tooling.allowed")
    return fallback_warnings(registry, scope, fallback_ids)


def choose_destination(
    out: Path | None, packs_dir: Path, layer_id: str, layer_name: str
) -> Destination:
    """Where the pack goes, checked before anything is sent or paid: the ledger's head
    readable and intact and the clock not behind it (``check_before_run``); an ``--out``
    never inside a pack; in the ledger (``packs_dir``) only under its next pack name,
    and elsewhere a name of the ``<LAYER>_<NAME>_<DATE>_<NNN>`` form only if it is that
    directory's next one (verify-pack checks such a name against the pack it holds)."""
    if out is None:
        check_can_write_in(packs_dir)
        check_before_run(packs_dir)
        return Destination(ledger=packs_dir, target=None)
    check_destination(out)
    sealed = _enclosing_pack(out)
    if sealed is not None:
        raise OutputExistsError(
            f"--out {out} is inside the pack {sealed}; a sealed pack is never written into"
        )
    ledger = out.parent
    check_can_write_in(ledger)
    known = _same_directory(ledger, packs_dir)
    head = check_before_run(ledger, known=known)
    if not known and not DEFAULT_PACK_NAME.fullmatch(out.name):
        return Destination(ledger=ledger, target=out, known=False)  # the operator's own name
    link = next_link(head, now())
    expected = pack_dir_name(layer_id, layer_name, link.created[:10], link.sequence)
    if out.name != expected:
        raise UsageError(
            f"--out {out} is in the ledger {ledger}, whose next pack is {expected}: a pack "
            "in a ledger takes the ledger's next name. Leave out --out, or give a "
            "directory outside the ledger"
        )
    return Destination(ledger=ledger, target=out, chained=True, known=known)


def _enclosing_pack(out: Path) -> Path | None:
    """The pack directory ``out`` would be inside of, if any."""
    for parent in out.absolute().parents:
        if os.path.lexists(parent / EVIDENCE_PACK_FILE):
            return parent
    return None


def _same_directory(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return one.absolute() == other.absolute()


def base_manifest(pre: Preflight, mode: Mode, notes: str) -> RunManifest:
    """The manifest fields every mode shares; model runs add inputs and outputs."""
    timestamp = isoformat(pre.clock)
    registry = pre.config.registry
    scope_file = pre.config.scope_files[pre.scope.scope.scope_id]
    return RunManifest(
        run_id=pre.run_id,
        run_type=mode,
        network_used=mode in NETWORK_MODES,
        timestamp=timestamp,
        layer_id=pre.layer_id,  # type: ignore[arg-type]
        layer_name=pre.layer.name,
        autonomy_level=pre.scope.scope.autonomy_level,
        primary_model_id=pre.proposer_id,
        fallback_model_ids=pre.fallback_ids,
        critic_model_id=pre.critic_id,
        capability_scope_id=pre.scope.scope.scope_id,
        capability_scope_version=pre.scope.scope.version,
        sod_result=pre.sod.result,
        sod_reason=pre.sod.reason,
        sod_timestamp=pre.sod.timestamp,
        matrix_version=registry.registry.matrix_version,
        registry_version=registry.registry.version,
        config=ConfigDigest(
            registry_sha256=pre.config.digest(pre.config.directory / REGISTRY_FILE),
            scope_sha256=pre.config.digest(scope_file),
            directory=pre.config.shown_path,
            directory_source=pre.config.source,
        ),
        artifacts=[],
        operator_output_path="operator_output.md",
        operator_notes=notes,
        inputs_manifest=[],
        outputs_manifest=[],
        aiops_version=__version__,
    )


def dry_run(options: RunOptions, settings: Settings | None = None) -> RunOutcome:
    """Validate orchestration without calling a model and write the dry-run pack."""
    from aiops.evidence.sign import sealer_from_settings

    settings = settings or Settings()
    seal = sealer_from_settings(settings.signing_key)  # a bad key stops us before any write
    pre = preflight(options, settings)
    manifest = base_manifest(pre, "dry-run", options.notes)
    scope_check = build_scope_check(
        run_id=pre.run_id,
        layer_id=pre.layer_id,
        timestamp=manifest.timestamp,
        scope=pre.scope,
        checks=pre.scope_checks,
        violations=[],
        outputs_checked=False,
    )
    report = OperatorReport(
        manifest=manifest,
        status="COMPLETED",
        sod=pre.sod,
        scope=scope_check,
        findings=pre.warnings,
    )
    written, evidence = write_evidence(
        PackContent(
            manifest=manifest, status="COMPLETED", sod=pre.sod, scope=scope_check, report=report
        ),
        pre.destination,
        seal=seal,
    )
    return RunOutcome(
        status="COMPLETED",
        pack_path=written.path,
        manifest=manifest.model_copy(update={"artifacts": [a.name for a in evidence.artifacts]}),
        sod=pre.sod,
        scope=scope_check,
        evidence=evidence,
        warnings=pre.warnings,
    )
