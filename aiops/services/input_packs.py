"""Evidence packs as a run's input (``--input-pack``): find, verify, admit, render.

Before any model call every input pack must (1) be named once, by path, pack id or
``latest`` (the newest pack of a layer the consuming scope accepts); (2) be in the
run's ledger, or in the one named with ``--input-ledger``; (3) verify with the checks
of verify-pack, its own input packs included, and its signature when a trusted key is
configured (the public half of ``AIOPS_SIGNING_KEY``); (4) be of a layer and a status
the consuming scope's ``[input_packs]`` allows, and operator-approved when it says so.
Anything else is refused with one line (exit 2) and nothing is sent.

An admitted pack becomes an input of the prompt: a summary holding only what is the
same for two replays of the same run (no ids, sequences, times or paths), between
markers carrying the summary's hash, so a replay fixture's prompt hash holds. The
manifest records it by id, sequence, layer, status and the SHA-256 of its
``evidence_pack.json`` (``InputPackEntry``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.canonical import sha256_hex
from aiops.errors import GovernanceError, SoDViolationError, UsageError
from aiops.evidence.names import (
    CRITIC_OUTPUT_FILE,
    EVIDENCE_PACK_FILE,
    PROPOSER_OUTPUT_FILE,
    RUN_MANIFEST_FILE,
)
from aiops.evidence.strict import MAX_JSON_BYTES, StrictJSONError, loads_strict, read_file_in
from aiops.governance.fallback import Candidate, FallbackChain, Skipped
from aiops.governance.inputs import CheckedInput
from aiops.prompts import InputText
from aiops.schemas.checks import Check, SoDCheck
from aiops.schemas.manifest import GovernanceVerdictRecord, InputPackEntry
from aiops.schemas.scope import CapabilityScope

if TYPE_CHECKING:
    from aiops.evidence.inputs_check import InputsChecker


class InputPackRefused(GovernanceError):
    """An input pack the consuming scope does not take (exit 2, nothing sent)."""


@dataclass(frozen=True)
class AdmittedPack:
    path: Path
    entry: InputPackEntry
    files: list[str]  # the pack's files (evidence_pack.json and every listed artifact)
    proposer_model_id: str | None
    critic_model_id: str | None
    content: str  # the deterministic summary the model sees
    content_hash: str  # "sha256:" + SHA-256 of ``content``

    def as_input(self, position: int) -> CheckedInput:
        marker = f"INPUT_PACK {self.content_hash}"
        text = f"<<<{marker}\n{self.content}\n{marker}>>>"
        name = f"input pack {position} ({self.entry.layer_id} {self.entry.status})"
        return CheckedInput(entry=self.entry, text=InputText(path=name, text=text))


def admit_input_packs(
    refs: list[str],
    scope: CapabilityScope,
    layer_id: str,
    run_ledger: Path,
    input_ledger: Path | None,
    trusted: Any = None,
) -> list[AdmittedPack]:
    """Each reference resolved, verified and checked against ``scope``; the first
    refusal raises (exit 2)."""
    policy = scope.input_packs
    if policy is None:
        if refs:
            raise UsageError(
                f"{layer_id} takes no input packs ({scope.scope.scope_id} has no [input_packs])"
            )
        return []
    if len(refs) < policy.min_packs:
        layers = " or ".join(policy.allowed_layers)
        raise UsageError(
            f"{layer_id} needs --input-pack: at least {policy.min_packs} pack of layer "
            f"{layers}, by path, pack id or 'latest'"
        )
    if len(refs) > policy.max_packs:
        raise UsageError(f"{layer_id} takes at most {policy.max_packs} --input-pack")
    if input_ledger is not None and not input_ledger.is_dir():
        raise UsageError(f"--input-ledger {input_ledger} is not a directory")
    from aiops.evidence.inputs_check import InputsChecker

    checker = InputsChecker(input_ledger=input_ledger, trusted=trusted)
    admitted: list[AdmittedPack] = []
    for ref in refs:
        path, same = _resolve(ref, policy.allowed_layers, run_ledger, input_ledger)
        if any(os.path.samefile(path, a.path) for a in admitted):
            raise UsageError(f"input pack {ref} is given twice")
        admitted.append(_admit(ref, path, same, scope, checker))
    return admitted


def _resolve(
    ref: str, layers: Sequence[str], run_ledger: Path, input_ledger: Path | None
) -> tuple[Path, bool]:
    """The pack directory and whether it is in the run's own ledger."""
    from aiops.services.pack_ref import LATEST, PACK_ID, ledger_indexes

    where = input_ledger or run_ledger
    if ref == LATEST or (PACK_ID.fullmatch(ref) and not Path(ref).exists()):
        indexed = ledger_indexes(where)
        if ref == LATEST:
            of_layer = [i for i in indexed if i[1].split("-")[1] in layers]
            if not of_layer:
                raise UsageError(
                    f"no {' or '.join(layers)} pack in the ledger {where} for --input-pack latest"
                )
            top = max(i[0] for i in of_layer)
            matches = [p for seq, _, p in of_layer if seq == top]
        else:
            matches = [p for _, pack_id, p in indexed if pack_id == ref]
        if len(matches) != 1:
            raise UsageError(
                f"no pack {ref!r} in the ledger {where}"
                if not matches
                else f"{ref!r} is ambiguous in the ledger {where}"
            )
        return matches[0], _same(where, run_ledger)
    path = Path(ref)
    if not (path / EVIDENCE_PACK_FILE).is_file():
        raise UsageError(f"input pack {ref} is not a pack (no {EVIDENCE_PACK_FILE})")
    if _same(path.parent, run_ledger):
        return path, True
    if input_ledger is not None and _same(path.parent, input_ledger):
        return path, False
    raise InputPackRefused(
        f"input pack {ref} is not in this run's ledger {run_ledger}: name its ledger with "
        f"--input-ledger {path.parent}"
    )


def _same(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def _admit(
    ref: str, path: Path, same_ledger: bool, scope: CapabilityScope, checker: InputsChecker
) -> AdmittedPack:
    from aiops.evidence.inputs_check import index_sha256
    from aiops.evidence.verify import verify_pack

    policy = scope.input_packs
    assert policy is not None
    sha = index_sha256(path)  # before verifying: what is verified is what is recorded
    report = verify_pack(path, checker.trusted)
    checker.reports[os.path.realpath(path)] = report
    problems = checker.pack_problems(path)
    name = report.pack_id or path.name
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputPackRefused(
            f"input pack {name} does not verify: {problems[0]}{more}; run aiops verify-pack "
            f"{path} (nothing was sent)"
        )
    index = _json(path, EVIDENCE_PACK_FILE)
    layer, status = index["layer_id"], index["status"]
    scope_id = scope.scope.scope_id
    if layer not in policy.allowed_layers:
        raise InputPackRefused(
            f"input pack {name} is an {layer} pack; {scope_id} takes only "
            f"{', '.join(policy.allowed_layers)} packs (nothing was sent)"
        )
    if status not in policy.allowed_statuses:
        raise InputPackRefused(
            f"input pack {name} is {status}; {scope_id} takes only "
            f"{', '.join(policy.allowed_statuses)} packs (nothing was sent)"
        )
    if policy.require_approved and report.review.decision != "APPROVE":
        decided = report.review.decision or "not reviewed"
        raise InputPackRefused(
            f"input pack {name} is {decided}; {scope_id} takes only packs an operator "
            "approved (aiops review) (nothing was sent)"
        )
    if sha != index_sha256(path):
        raise InputPackRefused(f"input pack {name} changed while it was checked (nothing was sent)")
    entry = InputPackEntry(
        kind="evidence_pack",
        path=path.name,
        evidence_pack_id=index["evidence_pack_id"],
        sequence=index["sequence"],
        layer_id=layer,
        status=status,
        evidence_pack_sha256=sha,
        same_ledger=same_ledger,
    )
    content = render_pack(path, index)
    proposer, critic = index.get("proposer"), index.get("critic")
    return AdmittedPack(
        path=path,
        entry=entry,
        files=[EVIDENCE_PACK_FILE, *sorted(a["name"] for a in index["artifacts"])],
        proposer_model_id=proposer["model_id"] if proposer else None,
        critic_model_id=critic["model_id"] if critic else None,
        content=content,
        content_hash="sha256:" + sha256_hex(content.encode("utf-8")),
    )


def _json(pack: Path, name: str) -> Any:
    read = read_file_in(pack, name, max_bytes=MAX_JSON_BYTES)
    if read.status is not None or read.data is None:
        return None
    try:
        return loads_strict(read.data)
    except StrictJSONError:  # the pack verified: cannot happen unless it changed since
        raise InputPackRefused(f"{pack}/{name} changed while it was read") from None


def render_pack(path: Path, index: dict[str, Any]) -> str:
    """What a model sees of a pack: its manifest, outputs, checks and the critic's
    verdict, and nothing that differs between two replays of the same run (ids,
    sequences, times, paths, versions, network routes) — never a key (a pack holds
    none, and the run refuses an input holding a secret it knows)."""
    manifest = _json(path, RUN_MANIFEST_FILE) or {}
    proposer = _json(path, PROPOSER_OUTPUT_FILE) if index.get("proposer") else None
    critic = _json(path, CRITIC_OUTPUT_FILE) if index.get("critic") else None
    summary = {
        "layer_id": index["layer_id"],
        "layer_name": index["layer_name"],
        "mode": index["mode"],
        "status": index["status"],
        "files": [EVIDENCE_PACK_FILE, *sorted(a["name"] for a in index["artifacts"])],
        "manifest": {
            key: manifest.get(key)
            for key in (
                "primary_model_id",
                "fallback_model_ids",
                "critic_model_id",
                "capability_scope_id",
                "capability_scope_version",
                "autonomy_level",
                "prompt_id",
                "prompt_version",
                "sod_result",
                "sod_reason",
            )
        },
        "inputs": [_input_summary(item) for item in manifest.get("inputs_manifest", [])],
        "outputs": [
            {k: item.get(k) for k in ("role", "model_id", "output_hash")}
            for item in manifest.get("outputs_manifest", [])
        ],
        "checks": {
            "sod": index["sod_check"]["result"],
            "capability_scope": index["capability_scope_check"]["result"],
            "violations": index["capability_scope_check"]["violations"],
        },
        "proposer_output": proposer.get("parsed") if isinstance(proposer, dict) else None,
        "critic_verdict": {k: critic.get(k) for k in ("decision", "rationale", "findings")}
        if isinstance(critic, dict)
        else None,
    }
    return json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False)


def _input_summary(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("kind") == "evidence_pack":  # its id and hash differ run to run
        return {"kind": "evidence_pack", "layer_id": item["layer_id"], "status": item["status"]}
    return {"path": item["path"], "sha256": item["sha256"]}


def reviewed_models(admitted: list[AdmittedPack]) -> dict[str, str]:
    """model id -> which role of which reviewed pack it held."""
    held: dict[str, str] = {}
    for pack in admitted:
        for role, model_id in (
            ("proposer", pack.proposer_model_id),
            ("critic", pack.critic_model_id),
        ):
            if model_id is not None:
                held.setdefault(
                    model_id, f"{role} of the reviewed pack {pack.entry.evidence_pack_id}"
                )
    return held


def chain_sod(
    chain: FallbackChain, pre_sod: SoDCheck, admitted: list[AdmittedPack], scope: CapabilityScope
) -> tuple[FallbackChain, SoDCheck]:
    """Separation of duties across the chain, for a layer that reviews its input pack:
    the proposer must differ from the reviewed pack's proposer and critic (SoD FAIL,
    exit 2); a fallback that does not is skipped. Each SoD record gains the check."""
    if scope.input_packs is None or not scope.input_packs.review:
        return chain, pre_sod
    held = reviewed_models(admitted)
    primary = pre_sod.proposer_model_id
    if primary in held:
        raise SoDViolationError(
            f"SoD FAIL: proposer {primary} == the {held[primary]}: a pack is never reviewed "
            "by a model that made it (nothing was sent)"
        )
    check = Check(
        name="differs_from_reviewed_pack",
        passed=True,
        detail=f"proposer differs from the reviewed pack's models ({', '.join(sorted(held))})",
    )

    def with_check(sod: SoDCheck) -> SoDCheck:
        return sod.model_copy(update={"checks": [*sod.checks, check]})

    kept: list[Candidate] = []
    skipped = list(chain.skipped)
    for candidate in chain.candidates:
        if candidate.model_id in held:
            skipped.append(
                Skipped(candidate.model_id, f"SoD: it is the {held[candidate.model_id]}")
            )
        else:
            kept.append(
                Candidate(candidate.model_id, candidate.is_fallback, with_check(candidate.sod))
            )
    return FallbackChain(kept, skipped), with_check(pre_sod)


def review_verdict(
    admitted: list[AdmittedPack],
    scope: CapabilityScope,
    status: str,
    parsed: dict[str, Any] | None,
) -> GovernanceVerdictRecord | None:
    """A reviewing layer's verdict on its input pack (``[input_packs] review``)."""
    from aiops.governance.l4_verdict import governance_verdict

    if scope.input_packs is None or not scope.input_packs.review or not admitted:
        return None
    reviewed = admitted[0]
    return governance_verdict(
        parsed,
        status,
        scope,
        reviewed_pack_id=reviewed.entry.evidence_pack_id,
        reviewed_pack_sha256=reviewed.entry.evidence_pack_sha256,
        reviewed_files=reviewed.files,
        content_hash=reviewed.content_hash,
    )
