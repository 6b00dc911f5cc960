"""Build real packs for the verifier's tests: dry-run packs through the service, and
model-run packs (proposer, critic, transcript) through ``write_evidence`` with
hand-built outputs in the agreed file formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiops.canonical import pack_json, prefixed_sha256
from aiops.evidence.pack import Destination, PackContent, write_evidence
from aiops.evidence.report import OperatorReport
from aiops.evidence.writer import Sealer
from aiops.governance.scope import build_scope_check
from aiops.governance.sod import check_sod
from aiops.schemas.checks import Violation
from aiops.schemas.manifest import OutputEntry
from aiops.schemas.pack import ModelRun, PackStatus
from aiops.services.run_layer import RunOptions, base_manifest, dry_run, preflight
from aiops.settings import Settings

PROPOSER_TEXT = json.dumps(
    {
        "outputs": [
            {"type": "ScenarioReport", "scenarios": [{"name": "base"}, {"name": "risk-off"}]},
            {"type": "UncertaintyAssessment", "level": "medium"},
            {"type": "NoTradeTriggers", "triggers": ["VIX > 30"]},
        ]
    }
)


def dry_pack(path: Path, signing_key: Path | None = None) -> Path:
    """A dry-run pack written by the real service at ``path``."""
    dry_run(RunOptions(layer="l2", mode="dry-run", out=path), Settings(signing_key=signing_key))
    return path


def ledger(path: Path, count: int, signing_key: Path | None = None) -> list[Path]:
    """``count`` dry-run packs chained in the ledger ``path``, in sequence order."""
    settings = Settings(packs_dir=path, signing_key=signing_key)
    return [
        dry_run(RunOptions(layer="l2", mode="dry-run"), settings).pack_path for _ in range(count)
    ]


def attempt(model_id: str, endpoint: str = "replay:sample.json") -> dict[str, Any]:
    """One answered attempt in the agreed format (``aiops.providers.base.Attempt``)."""
    return {
        "model_id": model_id,
        "endpoint": endpoint,
        "http_status": 200,
        "error_class": None,
        "error_message": None,
        "latency_ms": 2345,
        "retry_delay_ms": 0,
    }


def proposer_output(text: str = PROPOSER_TEXT, model_id: str = "gpt-5.2-pro") -> dict[str, Any]:
    return {
        "role": "proposer",
        "run_id": "proposer-run-001",
        "model_id": model_id,
        "provider_model": model_id,
        "endpoint_kind": "responses",
        "prompt_hash": prefixed_sha256(b"proposer prompt"),
        "output_hash": prefixed_sha256(text.encode("utf-8")),
        "output_text": text,
        "parsed": json.loads(text),
        "outcome": "completed",
        "usage": {"input_tokens": 1200, "output_tokens": 560, "reasoning_tokens": 128},
        "latency_ms": 2345,
        "attempts": [attempt(model_id)],
        "cost_usd": 0.1194,
    }


def critic_output(
    decision: str | None, cites: str, model_id: str = "deepseek-r1"
) -> dict[str, Any]:
    answer = {
        "decision": decision,
        "rationale": "scenarios are balanced",
        "evidence_ids": [cites],
        "findings": [],
    }
    text = json.dumps(answer)
    return {
        "role": "critic",
        "run_id": "critic-run-001",
        "model_id": model_id,
        "provider_model": model_id,
        "endpoint_kind": "chat_completions",
        "prompt_hash": prefixed_sha256(b"critic prompt"),
        "output_hash": prefixed_sha256(text.encode("utf-8")),
        "output_text": text,
        "parsed": answer,  # as the writer does: the answer parses, even if unusable
        "outcome": "completed",
        "usage": {"input_tokens": 900, "output_tokens": 200, "reasoning_tokens": 64},
        "latency_ms": 1234,
        "attempts": [attempt(model_id)],
        "cost_usd": 0.0,
        "decision": decision,
        "rationale": answer["rationale"],
        "evidence_ids": answer["evidence_ids"],
        "findings": [],
    }


def model_pack(
    path: Path,
    *,
    status: PackStatus = "COMPLETED",
    decision: str | None = "APPROVE",
    cite: str | None = None,
    violations: list[Violation] | None = None,
    proposer: dict[str, Any] | None = None,
    critic: dict[str, Any] | None = None,
    transcript: bool = True,
    seal: Sealer | None = None,
    report_status: PackStatus | None = None,
) -> Path:
    """A replay-mode pack with proposer, critic and transcript files at ``path``."""
    pre = preflight(RunOptions(layer="l2", mode="replay", out=path))
    proposer = proposer or proposer_output()
    critic = critic or critic_output(decision, cite or proposer["output_hash"])
    manifest = base_manifest(pre, "replay", "").model_copy(
        update={
            "outputs_manifest": [
                OutputEntry(
                    role="proposer",
                    model_id=proposer["model_id"],
                    artifact_path="proposer_output.json",
                    output_hash=proposer["output_hash"],
                ),
                OutputEntry(
                    role="critic",
                    model_id=critic["model_id"],
                    artifact_path="critic_output.json",
                    output_hash=critic["output_hash"],
                ),
            ]
        }
    )
    sod = pre.sod
    if proposer["model_id"] != pre.proposer_id:  # a fallback answered: SoD is its own
        sod = check_sod(
            pre.config.registry,
            pre.layer_id,
            pre.layer,
            proposer["model_id"],
            pre.critic_id,
            pre.run_id,
            manifest.sod_timestamp,
        )
        manifest = manifest.model_copy(update={"sod_result": sod.result, "sod_reason": sod.reason})
    scope = build_scope_check(
        run_id=pre.run_id,
        layer_id=pre.layer_id,
        timestamp=manifest.timestamp,
        scope=pre.scope,
        checks=pre.scope_checks,
        violations=violations or [],
        outputs_checked=True,
    )
    files = {
        "proposer_output.json": pack_json(proposer),
        "critic_output.json": pack_json(critic),
    }
    if transcript:
        files["transcript.json"] = pack_json(transcript_doc(proposer, critic))
    runs = {
        role: ModelRun(
            model_id=doc["model_id"],
            run_id=doc["run_id"],
            prompt_hash=doc["prompt_hash"],
            output_hash=doc["output_hash"],
            artifact_path=f"{role}_output.json",
        )
        for role, doc in (("proposer", proposer), ("critic", critic))
    }
    write_evidence(
        PackContent(
            manifest=manifest,
            status=status,
            sod=sod,
            scope=scope,
            report=OperatorReport(
                manifest=manifest, status=report_status or status, sod=sod, scope=scope
            ),
            proposer=runs["proposer"],
            critic=runs["critic"],
            model_files=files,
        ),
        Destination(ledger=path.parent, target=path),
        seal=seal,
    )
    return path


def transcript_doc(*outputs: dict[str, Any]) -> dict[str, Any]:
    """A ``transcript.json`` in the agreed format with one answered run per output."""
    return {
        "transcript_version": "1",
        "transcript_id": "t-1",
        "recorded_at": "2026-01-05T09:00:00+00:00",
        "scenario": "l2_market_outlook v1",
        "layer_id": "L2",
        "prompt_id": "l2_market_outlook",
        "prompt_version": "1",
        "runs": [
            {
                "run_id": doc["run_id"],
                "role": doc["role"],
                "model_id": doc["model_id"],
                "endpoint_kind": doc["endpoint_kind"],
                "prompt_hash": doc["prompt_hash"],
                "request": {"model": doc["provider_model"], "input": "prompt"},
                "response": {"output_text": doc["output_text"]},
                "error": None,
                "metadata": {
                    "timestamp": "2026-01-05T09:00:00+00:00",
                    "latency_ms": doc["latency_ms"],
                    "http_status": 200,
                },
            }
            for doc in outputs
        ],
    }


def rewrite_json(path: Path, change: Any) -> None:
    """Apply ``change(doc)`` to a pack JSON file and write it back canonically."""
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_bytes(pack_json(doc))


def reindex(pack: Path, name: str) -> None:
    """Re-record ``name``'s digest and size in evidence_pack.json (a forger's step)."""
    import hashlib

    data = (pack / name).read_bytes()

    def update(index: dict[str, Any]) -> None:
        for artifact in index["artifacts"]:
            if artifact["name"] == name:
                artifact["digest"] = {"sha256": hashlib.sha256(data).hexdigest()}
                artifact["size"] = len(data)

    rewrite_json(pack / "evidence_pack.json", update)
