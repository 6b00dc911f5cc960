"""Model modes of a layer run: replay, record and live.

pre-flight (governance, exists in ``run_layer``) -> inputs checked and hashed ->
proposer call (with fallback) -> capability-scope enforcement on its output -> critic
call, whose prompt carries the proposer output and its hash -> critic verdict parsed
strictly -> status -> evidence pack.

Status and exit code (DESIGN.md): COMPLETED (0) when the critic approves (with or
without changes) and the scope holds; REJECTED (1) when the critic rejects; BLOCKED (2)
on any scope violation or when the critic's verdict fails closed (unparseable, unknown
decision, not citing the proposer hash, refused, incomplete); FAILED (4) when no model
gave a usable answer (provider failure after fallbacks, or a proposer refusal or
incomplete answer). The critic still runs after a scope violation, so the pack shows
both judgements; the status stays BLOCKED whatever the critic says.

Nothing here is specific to a layer: the prompt set, scope and samples are config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.canonical import pack_json, prefixed_sha256
from aiops.errors import NetworkNotAllowedError, UsageError
from aiops.evidence.pack import (
    CRITIC_OUTPUT_FILE,
    PROPOSER_OUTPUT_FILE,
    TRANSCRIPT_FILE,
    PackContent,
    write_evidence,
)
from aiops.evidence.report import OperatorReport, model_run_sections
from aiops.governance.critic import CriticJudgement, judge_critic
from aiops.governance.inputs import CheckedInput, check_inputs
from aiops.governance.outputs import OutputCheck, enforce_outputs
from aiops.governance.scope import build_scope_check
from aiops.governance.sod import check_sod
from aiops.prompts import LoadedPrompt, RenderedPrompt, load_prompt, render_critic, render_proposer
from aiops.providers.base import Exchange, ModelClient, ModelRequest, ProviderCallError
from aiops.resources import data_root
from aiops.schemas.critic import CriticVerdict
from aiops.schemas.manifest import NETWORK_MODES, OutputEntry
from aiops.schemas.outputs import envelope_json_schema, strict_json_schema
from aiops.schemas.pack import ModelRun, PackStatus
from aiops.services.fallback import call_with_fallback
from aiops.services.network import Confirm, network_client
from aiops.services.run_layer import Preflight, RunOptions, RunOutcome, base_manifest, preflight
from aiops.services.run_outcome import (
    actions_for,
    decide_status,
    model_output_document,
    not_completed,
)
from aiops.settings import Settings

if TYPE_CHECKING:
    pass

PROPOSER_RUN_ID = "proposer-run-001"
CRITIC_RUN_ID = "critic-run-001"


@dataclass(frozen=True)
class ModelRunOptions:
    run: RunOptions
    inputs: list[Path] = field(default_factory=list)
    fixture: Path | None = None
    allow_network: bool = False
    force: bool = False


@dataclass(frozen=True)
class RunDetails:
    """What the summary shows beyond the pre-flight: who answered and what was decided."""

    proposer_model_id: str | None
    proposer_outcome: str
    critic_model_id: str | None
    critic_outcome: str | None
    critic_decision: str | None
    critic_problem: str | None
    violations: int
    outputs: list[str]
    fixture_written: Path | None = None


def run_model_layer(
    options: ModelRunOptions,
    confirm: Confirm | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    transport: Any = None,
    settings: Settings | None = None,
) -> RunOutcome:
    mode = options.run.mode
    if mode in NETWORK_MODES and not options.allow_network:
        raise NetworkNotAllowedError(
            f"{mode} calls real model APIs: pass --allow-network to opt in (nothing was sent)"
        )
    if mode == "record" and options.fixture is None:
        raise UsageError("record needs --fixture FILE to write the transcript to")
    pre = preflight(options.run, settings)
    prompt = load_prompt(pre.config, pre.layer_id)
    if mode == "record":
        from aiops.providers.recording import check_fixture_target

        assert options.fixture is not None
        check_fixture_target(options.fixture, options.force)
    inputs = check_inputs(_input_paths(options.inputs, prompt), pre.scope)
    proposer_prompt = render_proposer(
        prompt.prompts, pre.layer_id, pre.layer.name, pre.scope, [i.text for i in inputs]
    )
    warnings = list(pre.warnings)
    candidates = _proposer_candidates(pre, warnings)
    recorder = None
    closing: Any = None
    if mode == "replay":
        client: ModelClient = _replay_client(options.fixture, prompt, pre)
    else:
        closing, candidates = network_client(
            pre,
            prompt,
            candidates,
            proposer_prompt,
            options.run.mode,
            options.fixture,
            confirm,
            environ,
            transport,
            warnings,
        )
        client = closing
        if mode == "record":
            from aiops.providers.recording import RecordingClient

            recorder = RecordingClient(client)
            client = recorder
    try:
        run = _Run(pre, prompt, inputs, client, candidates, proposer_prompt, warnings)
        return run.execute(mode, options.run.notes, recorder, options)
    finally:
        if closing is not None:
            closing.close()


def _input_paths(given: list[Path], prompt: LoadedPrompt) -> list[Path]:
    if given:
        return given
    samples = prompt.prompts.prompt.sample_inputs
    if not samples:
        raise UsageError("no --input given and the layer's prompt names no sample input")
    return [data_root() / sample for sample in samples]


def _proposer_candidates(pre: Preflight, warnings: list[str]) -> list[str]:
    """The proposer, then each fallback that keeps separation of duties."""
    candidates = [pre.proposer_id]
    for model_id in pre.fallback_ids:
        sod = check_sod(
            pre.config.registry, pre.layer_id, pre.layer, model_id, pre.critic_id, pre.run_id, ""
        )
        if sod.result == "FAIL":
            warnings.append(f"fallback {model_id} skipped: {sod.reason}")
        else:
            candidates.append(model_id)
    return candidates


def _replay_client(fixture: Path | None, prompt: LoadedPrompt, pre: Preflight) -> ModelClient:
    from aiops.providers.replay import ReplayClient, load_fixture

    if fixture is None:
        sample = prompt.prompts.prompt.sample_fixture
        if sample is None:
            raise UsageError("no --fixture given and the layer's prompt names no sample fixture")
        fixture = data_root() / sample
    transcript = load_fixture(fixture, pre.layer_id, prompt.prompts.prompt.id)
    return ReplayClient(transcript, fixture.name, pre.layer_id)


def _schema_name(prompt_id: str, suffix: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{prompt_id}_{suffix}")[:64]


@dataclass
class _Run:
    pre: Preflight
    prompt: LoadedPrompt
    inputs: list[CheckedInput]
    client: ModelClient
    candidates: list[str]
    proposer_prompt: RenderedPrompt
    warnings: list[str]

    def request(
        self,
        role: str,
        model_id: str,
        rendered: RenderedPrompt,
        schema: dict[str, Any],
        name: str,
        limit: int,
    ) -> ModelRequest:
        registry = self.pre.config.registry
        model = registry.models[model_id]
        return ModelRequest(
            role=role,  # type: ignore[arg-type]
            model_id=model_id,
            model=model,
            provider_id=model.provider,
            provider=registry.providers[model.provider],
            system_prompt=rendered.system,
            user_prompt=rendered.user,
            output_schema=schema,
            schema_name=name,
            max_output_tokens=min(limit, model.max_output_tokens),
        )

    def execute(self, mode: str, notes: str, recorder: Any, options: ModelRunOptions) -> RunOutcome:
        prompts = self.prompt.prompts
        scope = self.pre.scope
        envelope = envelope_json_schema(scope.outputs.allowed)
        proposer_requests = [
            self.request(
                "proposer",
                model_id,
                self.proposer_prompt,
                envelope,
                _schema_name(prompts.prompt.id, "outputs"),
                prompts.proposer.max_output_tokens,
            )
            for model_id in self.candidates
        ]
        findings = list(self.warnings)
        proposer: Exchange | None = None
        proposer_error: ProviderCallError | None = None
        critic: Exchange | None = None
        critic_error: ProviderCallError | None = None
        critic_request: ModelRequest | None = None
        judgement: CriticJudgement | None = None
        output_check: OutputCheck | None = None
        reasons: list[str] = []
        try:
            proposer = call_with_fallback(self.client, proposer_requests)
        except ProviderCallError as error:
            proposer_error = error
            reasons.append(f"proposer failed: {error.message}")
        if proposer is not None:
            if proposer.model_id != self.pre.proposer_id:
                failed = [a for a in proposer.attempts if a.error_class]
                why = failed[0].error_class if failed else "failure"
                findings.append(
                    f"fallback used: {proposer.model_id} answered after "
                    f"{self.pre.proposer_id} failed ({why})"
                )
            if proposer.outcome != "completed":
                reasons.append(not_completed("proposer", proposer))
            else:
                output_check = enforce_outputs(proposer.text, scope)
                if output_check.violations:
                    reasons.append(
                        f"capability scope violated: {len(output_check.violations)} violation(s) "
                        f"({', '.join(sorted({v.rule for v in output_check.violations}))})"
                    )
                output_hash = prefixed_sha256(proposer.text.encode("utf-8"))
                rendered = render_critic(
                    prompts,
                    self.pre.layer_id,
                    self.pre.layer.name,
                    scope,
                    [i.text for i in self.inputs],
                    proposer_model_id=proposer.model_id,
                    proposer_output=proposer.text,
                    proposer_output_hash=output_hash,
                )
                critic_request = self.request(
                    "critic",
                    self.pre.critic_id,
                    rendered,
                    strict_json_schema(CriticVerdict),
                    "critic_verdict",
                    prompts.critic.max_output_tokens,
                )
                try:
                    # The critic has no fallback: a substitute critic is not the reviewer
                    # separation of duties was checked against.
                    critic = call_with_fallback(self.client, [critic_request])
                except ProviderCallError as error:
                    critic_error = error
                    reasons.append(f"critic failed: {error.message}")
                if critic is not None and critic.outcome != "completed":
                    reasons.append(not_completed("critic", critic) + " (fails closed)")
                elif critic is not None:
                    judgement = judge_critic(critic.text, output_hash)
                    if judgement.problem:
                        reasons.append(judgement.problem + " (fails closed)")
                    elif judgement.decision == "REJECT":
                        reasons.append(f"critic rejected: {judgement.rationale}")
        status = decide_status(
            proposer, proposer_error, critic, critic_error, output_check, judgement
        )
        return self._write(
            mode,
            notes,
            status,
            reasons,
            findings,
            proposer,
            proposer_requests[0],
            proposer_error,
            critic,
            critic_request,
            critic_error,
            output_check,
            judgement,
            recorder,
            options,
        )

    def _write(
        self,
        mode: str,
        notes: str,
        status: PackStatus,
        reasons: list[str],
        findings: list[str],
        proposer: Exchange | None,
        proposer_request: ModelRequest,
        proposer_error: ProviderCallError | None,
        critic: Exchange | None,
        critic_request: ModelRequest | None,
        critic_error: ProviderCallError | None,
        output_check: OutputCheck | None,
        judgement: CriticJudgement | None,
        recorder: Any,
        options: ModelRunOptions,
    ) -> RunOutcome:
        pre = self.pre
        manifest = base_manifest(pre, mode, notes)  # type: ignore[arg-type]
        timestamp = manifest.timestamp
        files: dict[str, bytes] = {}
        outputs: list[OutputEntry] = []
        proposer_doc = model_output_document(
            "proposer", PROPOSER_RUN_ID, proposer, proposer_request, proposer_error
        )
        files[PROPOSER_OUTPUT_FILE] = pack_json(proposer_doc)
        proposer_run = critic_run = None
        if proposer is not None:
            outputs.append(
                OutputEntry(
                    role="proposer",
                    model_id=proposer.model_id,
                    artifact_path=PROPOSER_OUTPUT_FILE,
                    output_hash=proposer_doc["output_hash"],
                )
            )
            proposer_run = ModelRun(
                model_id=proposer.model_id,
                run_id=PROPOSER_RUN_ID,
                prompt_hash=proposer_doc["prompt_hash"],
                output_hash=proposer_doc["output_hash"],
                artifact_path=PROPOSER_OUTPUT_FILE,
            )
        if critic_request is not None:
            critic_doc = model_output_document(
                "critic", CRITIC_RUN_ID, critic, critic_request, critic_error
            )
            critic_doc.update(
                decision=judgement.decision if judgement else None,
                rationale=judgement.rationale if judgement else "",
                evidence_ids=judgement.evidence_ids if judgement else [],
                findings=[f.model_dump(mode="json") for f in judgement.findings]
                if judgement
                else [],
            )
            files[CRITIC_OUTPUT_FILE] = pack_json(critic_doc)
            if critic is not None:
                outputs.append(
                    OutputEntry(
                        role="critic",
                        model_id=critic.model_id,
                        artifact_path=CRITIC_OUTPUT_FILE,
                        output_hash=critic_doc["output_hash"],
                    )
                )
                critic_run = ModelRun(
                    model_id=critic.model_id,
                    run_id=CRITIC_RUN_ID,
                    prompt_hash=critic_doc["prompt_hash"],
                    output_hash=critic_doc["output_hash"],
                    artifact_path=CRITIC_OUTPUT_FILE,
                )
        transcript_bytes: bytes | None = None
        if recorder is not None:
            transcript_bytes = self._transcript(recorder, options, timestamp)
            files[TRANSCRIPT_FILE] = transcript_bytes
        sod = pre.sod
        if proposer is not None and proposer.model_id != pre.proposer_id:
            sod = check_sod(
                pre.config.registry,
                pre.layer_id,
                pre.layer,
                proposer.model_id,
                pre.critic_id,
                pre.run_id,
                timestamp,
            )
        manifest = manifest.model_copy(
            update={
                "prompt_id": self.prompt.prompts.prompt.id,
                "prompt_version": self.prompt.prompts.prompt.version,
                "config": manifest.config.model_copy(update={"prompt_sha256": self.prompt.sha256}),
                "inputs_manifest": [i.entry for i in self.inputs],
                "outputs_manifest": outputs,
                "sod_result": sod.result,
                "sod_reason": sod.reason,
            }
        )
        scope_check = build_scope_check(
            run_id=pre.run_id,
            layer_id=pre.layer_id,
            timestamp=timestamp,
            scope=pre.scope,
            checks=pre.scope_checks + (output_check.checks if output_check else []),
            violations=output_check.violations if output_check else [],
            outputs_checked=output_check is not None,
        )
        report = OperatorReport(
            manifest=manifest,
            status=status,
            sod=sod,
            scope=scope_check,
            findings=[*reasons, *findings],
            actions=actions_for(status, judgement),
            sections=model_run_sections(
                proposer=proposer,
                critic=critic,
                judgement=judgement,
                parsed=output_check.parsed if output_check else None,
            ),
        )
        written, evidence = write_evidence(
            PackContent(
                manifest=manifest,
                status=status,
                sod=sod,
                scope=scope_check,
                report=report,
                proposer=proposer_run,
                critic=critic_run,
                model_files=files,
            ),
            pre.destination,
        )
        fixture_written = None
        if transcript_bytes is not None and options.fixture is not None:
            from aiops.providers.recording import write_fixture

            write_fixture(options.fixture, transcript_bytes, options.force)
            fixture_written = options.fixture
        parsed = output_check.parsed if output_check else None
        return RunOutcome(
            status=status,
            pack_path=written.path,
            manifest=manifest.model_copy(
                update={"artifacts": [a.name for a in evidence.artifacts]}
            ),
            sod=sod,
            scope=scope_check,
            evidence=evidence,
            warnings=self.warnings,
            reason="; ".join(reasons),
            details=RunDetails(
                proposer_model_id=proposer.model_id if proposer else None,
                proposer_outcome=proposer.outcome if proposer else "failed",
                critic_model_id=critic_request.model_id if critic_request else None,
                critic_outcome=critic.outcome if critic else ("failed" if critic_error else None),
                critic_decision=judgement.decision if judgement else None,
                critic_problem=judgement.problem if judgement else None,
                violations=len(scope_check.violations),
                outputs=[
                    str(item.get("type"))
                    for item in (parsed or {}).get("outputs", [])
                    if isinstance(item, dict)
                ]
                if isinstance(parsed, dict) and isinstance(parsed.get("outputs"), list)
                else [],
                fixture_written=fixture_written,
            ),
        )

    def _transcript(self, recorder: Any, options: ModelRunOptions, timestamp: str) -> bytes:
        from aiops.providers.recording import fixture_bytes
        from aiops.schemas.transcript import Transcript

        info = self.prompt.prompts.prompt
        stem = options.fixture.stem if options.fixture else "transcript"
        transcript = Transcript(
            transcript_id=f"{stem}-{timestamp[:10]}",
            recorded_at=timestamp,
            scenario=f"{info.id} v{info.version}",
            layer_id=self.pre.layer_id,  # type: ignore[arg-type]
            prompt_id=info.id,
            prompt_version=info.version,
            runs=recorder.runs,
        )
        return fixture_bytes(transcript)
