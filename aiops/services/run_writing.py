"""Writing a model run's evidence: the output file of each role called, the web
sources, the transcript (record), the manifest with the governance verdict, the scope
check, the operator report, then the pack (``evidence/pack.write_evidence``), the
record fixture and the outcome the CLI renders (``write_run``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiops.canonical import pack_json
from aiops.errors import EXIT_BLOCKED, EvidenceWriteError, OutputExistsError
from aiops.evidence.names import WEB_SOURCES_FILE
from aiops.evidence.pack import (
    CRITIC_OUTPUT_FILE,
    PROPOSER_OUTPUT_FILE,
    TRANSCRIPT_FILE,
    PackContent,
    write_evidence,
)
from aiops.evidence.report import OperatorReport, ReportSection, model_run_sections
from aiops.governance.budget import actual_cost, search_calls, search_cost
from aiops.governance.l4_verdict import not_allowed_exit, verdict_lines
from aiops.governance.scope import build_scope_check
from aiops.governance.served_model import served_entry
from aiops.governance.web_check import sources_section
from aiops.providers.base import Attempt, Exchange
from aiops.schemas.checks import ScopeCheck, SoDCheck
from aiops.schemas.manifest import OutputEntry, RunManifest
from aiops.schemas.pack import ModelRun, PackStatus
from aiops.services.input_packs import review_verdict
from aiops.services.run_data import Answers, ModelRunOptions, RunContext, RunDetails
from aiops.services.run_layer import RunOutcome, base_manifest
from aiops.services.run_outcome import (
    actions_for,
    layer_output,
    model_output_document,
    secret_violations,
)

PROPOSER_RUN_ID = "proposer-run-001"
CRITIC_RUN_ID = "critic-run-001"


@dataclass
class ModelFiles:
    """The pack's model files and the index's records of the roles called."""

    files: dict[str, bytes] = field(default_factory=dict)
    outputs: list[OutputEntry] = field(default_factory=list)
    proposer_run: ModelRun | None = None
    critic_run: ModelRun | None = None
    cost_usd: float = 0.0  # both roles' answers
    spent: bool = True  # False in replay: the cost is the recorded calls', nothing was spent
    transcript: bytes | None = None  # record: the transcript, also the fixture


def write_run(
    run: RunContext, status: PackStatus, answers: Answers, options: ModelRunOptions
) -> RunOutcome:
    pre, mode = run.pre, options.run.mode
    manifest = base_manifest(pre, mode, options.run.notes)
    timestamp = manifest.timestamp
    model = _model_files(run, answers)
    model.spent = mode != "replay"
    if run.recorder is not None:
        model.transcript = _transcript(run, options, timestamp)
        model.files[TRANSCRIPT_FILE] = model.transcript
    # SoD as re-checked for the model that actually answered (a fallback included).
    sod = answers.proposer_sod or pre.sod
    manifest = _run_manifest(run, answers, status, manifest, model.outputs, sod)
    answers.reasons += verdict_lines(manifest.governance_verdict)
    scope_check = _scope_check(run, answers, timestamp)
    attempts = [
        (role, attempt)
        for role in ("proposer", "critic")
        for attempt in run.stack.attempts_of(role)
    ]
    report = _operator_report(run, answers, status, manifest, sod, scope_check, attempts, model)
    written, evidence = write_evidence(
        PackContent(
            manifest=manifest,
            status=status,
            sod=sod,
            scope=scope_check,
            report=report,
            proposer=model.proposer_run,
            critic=model.critic_run,
            model_files=model.files,
        ),
        pre.destination,
        seal=run.seal,
    )
    fixture_written = None
    if model.transcript is not None and options.fixture is not None:
        from aiops.providers.recording import write_fixture

        try:
            write_fixture(options.fixture, model.transcript, options.force)
        except (EvidenceWriteError, OutputExistsError) as error:
            raise type(error)(
                f"{error.message} (the pack {written.path} was written; its "
                f"{TRANSCRIPT_FILE} is the same transcript)"
            ) from None
        fixture_written = options.fixture
    return RunOutcome(
        status=status,
        pack_path=written.path,
        manifest=manifest.model_copy(update={"artifacts": [a.name for a in evidence.artifacts]}),
        sod=sod,
        scope=scope_check,
        evidence=evidence,
        warnings=run.warnings,
        reason="; ".join(answers.reasons),
        details=_run_details(answers, scope_check, attempts, model, fixture_written),
        exit_override=EXIT_BLOCKED
        if answers.refused is not None
        else not_allowed_exit(status, manifest.governance_verdict),
    )


def _cost(run: RunContext, exchange: Exchange | None) -> float:
    if exchange is None:
        return 0.0
    model = run.pre.config.registry.models[exchange.model_id]
    searches = search_cost(model, search_calls(exchange.response_body))
    return round(actual_cost(model, exchange.usage) + searches, 6)


def _model_files(run: RunContext, answers: Answers) -> ModelFiles:
    """Every role that was called is in the index, answered or not (its file says)."""
    proposer, critic = answers.exchange("proposer"), answers.exchange("critic")
    judgement, critic_request = answers.judgement, answers.critic_request
    model = ModelFiles()
    proposer_doc = model_output_document(
        "proposer",
        PROPOSER_RUN_ID,
        answers.proposer,
        answers.proposer_request,
        run.stack.attempts_of("proposer"),
        _cost(run, proposer),
    )
    proposer_doc["served"] = answers.served["proposer"].record()
    model.files[PROPOSER_OUTPUT_FILE] = pack_json(proposer_doc)
    model.proposer_run = _model_run(proposer_doc, PROPOSER_OUTPUT_FILE)
    critic_cost = _cost(run, critic)
    if proposer is not None:
        model.outputs.append(_output_entry("proposer", proposer, proposer_doc))
    if critic_request is not None:
        critic_doc = model_output_document(
            "critic",
            CRITIC_RUN_ID,
            answers.critic,
            critic_request,
            run.stack.attempts_of("critic"),
            critic_cost,
        )
        critic_doc.update(
            decision=judgement.decision if judgement else None,
            rationale=judgement.rationale if judgement else "",
            evidence_ids=judgement.evidence_ids if judgement else [],
            findings=[f.model_dump(mode="json") for f in judgement.findings] if judgement else [],
            served=answers.served["critic"].record(),
        )
        model.files[CRITIC_OUTPUT_FILE] = pack_json(critic_doc)
        model.critic_run = _model_run(critic_doc, CRITIC_OUTPUT_FILE)
        if critic is not None:
            model.outputs.append(_output_entry("critic", critic, critic_doc))
    if answers.web is not None:
        model.files[WEB_SOURCES_FILE] = pack_json(answers.web.document)
    model.cost_usd = round(proposer_doc["cost_usd"] + critic_cost, 6)
    return model


def _output_entry(role: str, exchange: Exchange, document: dict[str, Any]) -> OutputEntry:
    return OutputEntry(
        role=role,  # type: ignore[arg-type]
        model_id=exchange.model_id,
        artifact_path=PROPOSER_OUTPUT_FILE if role == "proposer" else CRITIC_OUTPUT_FILE,
        output_hash=document["output_hash"],
        **served_entry(exchange),
    )


def _model_run(document: dict[str, Any], artifact_path: str) -> ModelRun:
    """The index's record of a role, taken from the output file it points at."""
    return ModelRun(
        model_id=document["model_id"],
        run_id=document["run_id"],
        prompt_hash=document["prompt_hash"],
        output_hash=document["output_hash"],
        artifact_path=artifact_path,
    )


def _run_manifest(
    run: RunContext,
    answers: Answers,
    status: PackStatus,
    manifest: RunManifest,
    outputs: list[OutputEntry],
    sod: SoDCheck,
) -> RunManifest:
    output_check = answers.output_check
    info = run.prompt.prompts.prompt
    return manifest.model_copy(
        update={
            "prompt_id": info.id,
            "prompt_version": info.version,
            "config": manifest.config.model_copy(update={"prompt_sha256": run.prompt.sha256}),
            "inputs_manifest": [i.entry for i in run.inputs],
            "outputs_manifest": outputs,
            "sod_result": sod.result,
            "sod_reason": sod.reason,
            "sod_timestamp": sod.timestamp,
            "network": run.network,
            "governance_verdict": review_verdict(
                run.admitted, run.pre.scope, status, output_check.parsed if output_check else None
            ),
        }
    )


def _scope_check(run: RunContext, answers: Answers, timestamp: str) -> ScopeCheck:
    pre, output_check = run.pre, answers.output_check
    web_only = answers.web if output_check is None else None  # an answer not completed
    return build_scope_check(
        run_id=pre.run_id,
        layer_id=pre.layer_id,
        timestamp=timestamp,
        scope=pre.scope,
        checks=pre.scope_checks
        + (output_check.checks if output_check else [])
        + ([web_only.check] if web_only else []),
        violations=[
            *(output_check.violations if output_check else []),
            *(web_only.violations if web_only else []),
            *secret_violations(answers.proposer, answers.critic, output_check),
        ],
        outputs_checked=output_check is not None,
    )


def _operator_report(
    run: RunContext,
    answers: Answers,
    status: PackStatus,
    manifest: RunManifest,
    sod: SoDCheck,
    scope_check: ScopeCheck,
    attempts: list[tuple[str, Attempt]],
    model: ModelFiles,
) -> OperatorReport:
    output_check = answers.output_check
    web = [ReportSection(*sources_section(answers.web.document))] if answers.web else []
    return OperatorReport(
        manifest=manifest,
        status=status,
        sod=sod,
        scope=scope_check,
        findings=[*answers.reasons, *run.warnings, *run.notes],
        actions=actions_for(
            status, answers.judgement, layer_output(run.pre.layer_id, run.pre.layer.name)
        ),
        sections=model_run_sections(
            proposer=answers.exchange("proposer"),
            critic=answers.exchange("critic"),
            judgement=answers.judgement,
            parsed=output_check.parsed if output_check else None,
            attempts=attempts,
            cost_usd=model.cost_usd,
            spent=model.spent,
        )
        + web,
    )


def _run_details(
    answers: Answers,
    scope_check: ScopeCheck,
    attempts: list[tuple[str, Attempt]],
    model: ModelFiles,
    fixture_written: Path | None,
) -> RunDetails:
    proposer, critic = answers.exchange("proposer"), answers.exchange("critic")
    judgement, critic_request = answers.judgement, answers.critic_request
    parsed = answers.output_check.parsed if answers.output_check else None
    outputs = parsed.get("outputs") if isinstance(parsed, dict) else None
    return RunDetails(
        proposer_model_id=proposer.model_id if proposer else None,
        proposer_outcome=proposer.outcome if proposer else "failed",
        critic_model_id=critic_request.model_id if critic_request else None,
        critic_outcome=critic.outcome
        if critic
        else ("failed" if answers.critic_error or answers.refused else None),
        critic_decision=judgement.decision if judgement else None,
        critic_problem=judgement.problem if judgement else None,
        violations=len(scope_check.violations),
        outputs=[str(item.get("type")) for item in outputs if isinstance(item, dict)]
        if isinstance(outputs, list)
        else [],
        fixture_written=fixture_written,
        attempts=attempts,
        cost_usd=model.cost_usd,
        spent=model.spent,
    )


def _transcript(run: RunContext, options: ModelRunOptions, timestamp: str) -> bytes:
    from aiops.providers.recording import fixture_bytes
    from aiops.schemas.transcript import Transcript

    info = run.prompt.prompts.prompt
    stem = options.fixture.stem if options.fixture else "transcript"
    transcript = Transcript(
        transcript_id=f"{stem}-{timestamp[:10]}",
        recorded_at=timestamp,
        scenario=f"{info.id} v{info.version}",
        layer_id=run.pre.layer_id,  # type: ignore[arg-type]
        prompt_id=info.id,
        prompt_version=info.version,
        runs=run.recorder.runs,
    )
    return fixture_bytes(transcript)
