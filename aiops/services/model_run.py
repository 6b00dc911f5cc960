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

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.canonical import pack_json, prefixed_sha256, prompt_hash
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
from aiops.providers.wire import wire_for
from aiops.resources import data_root
from aiops.schemas.critic import CriticVerdict
from aiops.schemas.manifest import NETWORK_MODES, OutputEntry
from aiops.schemas.outputs import envelope_json_schema, strict_json_schema
from aiops.schemas.pack import ModelRun, PackStatus
from aiops.services.fallback import call_with_fallback
from aiops.services.run_layer import Preflight, RunOptions, RunOutcome, base_manifest, preflight
from aiops.settings import Settings

if TYPE_CHECKING:
    from aiops.providers.openai_compatible import OpenAICompatibleClient

PROPOSER_RUN_ID = "proposer-run-001"
CRITIC_RUN_ID = "critic-run-001"
# Conservative token estimate for the worst-case cost: one token per 3 UTF-8 bytes.
BYTES_PER_TOKEN = 3


@dataclass(frozen=True)
class ModelRunOptions:
    run: RunOptions
    inputs: list[Path] = field(default_factory=list)
    fixture: Path | None = None
    allow_network: bool = False
    force: bool = False


@dataclass(frozen=True)
class PlannedCall:
    role: str
    model_id: str
    provider_model: str
    endpoint: str  # URL the call goes to (no credentials)
    max_input_tokens: int
    max_output_tokens: int
    worst_case_usd: float


@dataclass(frozen=True)
class NetworkPlan:
    """What the warning banner shows before anything is sent."""

    mode: str
    layer_id: str
    layer_name: str
    calls: list[PlannedCall]
    worst_case_usd: float
    fixture: Path | None


Confirm = Callable[[NetworkPlan], None]


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
        closing, candidates = _network_client(
            pre, prompt, candidates, proposer_prompt, options, confirm, environ, transport, warnings
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


def _network_client(
    pre: Preflight,
    prompt: LoadedPrompt,
    candidates: list[str],
    proposer_prompt: RenderedPrompt,
    options: ModelRunOptions,
    confirm: Confirm | None,
    environ: Mapping[str, str] | None,
    transport: Any,
    warnings: list[str],
) -> tuple[OpenAICompatibleClient, list[str]]:
    from aiops.errors import MissingCredentialError
    from aiops.providers.openai_compatible import (
        Endpoint,
        OpenAICompatibleClient,
        resolve_endpoint,
    )

    registry = pre.config.registry
    endpoints: dict[str, Endpoint] = {}

    def endpoint_for(model_id: str) -> Endpoint:
        provider_id = registry.models[model_id].provider
        if provider_id not in endpoints:
            endpoints[provider_id] = resolve_endpoint(
                provider_id, registry.providers[provider_id], environ
            )
        return endpoints[provider_id]

    endpoint_for(pre.proposer_id)  # missing keys refuse here, before anything is sent
    endpoint_for(pre.critic_id)
    usable = [pre.proposer_id]
    for model_id in candidates[1:]:
        try:
            endpoint_for(model_id)
        except MissingCredentialError as exc:
            warnings.append(f"fallback {model_id} unavailable: {exc}")
            continue
        usable.append(model_id)
    plan = _plan(pre, prompt, usable, proposer_prompt, endpoints, options)
    if confirm is not None:
        confirm(plan)
    policy = registry.fallback_policy
    return OpenAICompatibleClient(endpoints, policy, transport=transport), usable


def _plan(
    pre: Preflight,
    prompt: LoadedPrompt,
    candidates: list[str],
    proposer_prompt: RenderedPrompt,
    endpoints: Mapping[str, Any],
    options: ModelRunOptions,
) -> NetworkPlan:
    registry = pre.config.registry
    proposer_in = _tokens(proposer_prompt.system + proposer_prompt.user) + 2000  # + schema
    calls: list[PlannedCall] = []
    proposer_out = 0
    for index, model_id in enumerate(candidates):
        model = registry.models[model_id]
        limit = min(prompt.prompts.proposer.max_output_tokens, model.max_output_tokens)
        proposer_out = max(proposer_out, limit)
        calls.append(
            _planned(
                "proposer" if index == 0 else "fallback",
                model_id,
                proposer_in,
                limit,
                pre,
                endpoints,
            )
        )
    critic = registry.models[pre.critic_id]
    critic_in = _tokens(prompt.prompts.critic.system + prompt.prompts.critic.user) + proposer_in
    critic_in += proposer_out + 2000
    critic_out = min(prompt.prompts.critic.max_output_tokens, critic.max_output_tokens)
    calls.append(_planned("critic", pre.critic_id, critic_in, critic_out, pre, endpoints))
    # Worst case: every proposer candidate is billed, then the critic.
    worst = round(sum(call.worst_case_usd for call in calls), 4)
    return NetworkPlan(
        mode=options.run.mode,
        layer_id=pre.layer_id,
        layer_name=pre.layer.name,
        calls=calls,
        worst_case_usd=worst,
        fixture=options.fixture if options.run.mode == "record" else None,
    )


def _planned(
    role: str,
    model_id: str,
    tokens_in: int,
    tokens_out: int,
    pre: Preflight,
    endpoints: Mapping[str, Any],
) -> PlannedCall:
    model = pre.config.registry.models[model_id]
    url = endpoints[model.provider].base_url + wire_for(model.endpoint).path
    cost = tokens_in / 1000 * model.cost_per_1k_input + tokens_out / 1000 * model.cost_per_1k_output
    return PlannedCall(
        role, model_id, model.provider_model, url, tokens_in, tokens_out, round(cost, 4)
    )


def _tokens(text: str) -> int:
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


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
                reasons.append(_not_completed("proposer", proposer))
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
                    reasons.append(_not_completed("critic", critic) + " (fails closed)")
                elif critic is not None:
                    judgement = judge_critic(critic.text, output_hash)
                    if judgement.problem:
                        reasons.append(judgement.problem + " (fails closed)")
                    elif judgement.decision == "REJECT":
                        reasons.append(f"critic rejected: {judgement.rationale}")
        status = _status(proposer, proposer_error, critic, critic_error, output_check, judgement)
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
        proposer_doc = _model_output(
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
            critic_doc = _model_output(
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
            actions=_actions(status, judgement),
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


def _not_completed(role: str, exchange: Exchange) -> str:
    if exchange.outcome == "refused":
        return f"{role} {exchange.model_id} refused: {(exchange.refusal or '').strip()[:200]}"
    return f"{role} {exchange.model_id} answer incomplete ({exchange.incomplete_reason})"


def _status(
    proposer: Exchange | None,
    proposer_error: ProviderCallError | None,
    critic: Exchange | None,
    critic_error: ProviderCallError | None,
    output_check: OutputCheck | None,
    judgement: CriticJudgement | None,
) -> PackStatus:
    if proposer is None or proposer_error is not None or proposer.outcome != "completed":
        return "FAILED"
    if critic_error is not None:
        return "FAILED"
    if output_check is not None and output_check.violations:
        return "BLOCKED"
    if critic is None or critic.outcome != "completed" or judgement is None or judgement.problem:
        return "BLOCKED"
    if judgement.decision == "REJECT":
        return "REJECTED"
    return "COMPLETED"


def _actions(status: PackStatus, judgement: CriticJudgement | None) -> list[str]:
    if status == "COMPLETED":
        if judgement is not None and judgement.decision == "APPROVE_WITH_CHANGES":
            return ["Apply the critic's findings before circulating the outlook."]
        return ["Review the outlook; it is advisory only and triggers nothing."]
    if status == "REJECTED":
        return ["Do not use this outlook: the critic rejected it (see Critic)."]
    if status == "BLOCKED":
        return ["Do not use this outlook: it is blocked (see Findings); investigate first."]
    return ["No usable outlook: re-run when the provider is available (see Findings)."]


def _model_output(
    role: str,
    run_id: str,
    exchange: Exchange | None,
    request: ModelRequest,
    error: ProviderCallError | None,
) -> dict[str, Any]:
    """``proposer_output.json`` / ``critic_output.json`` in the agreed format."""
    if exchange is not None:
        text = exchange.text
        parsed: Any = None
        if exchange.outcome == "completed":
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        return {
            "role": role,
            "run_id": run_id,
            "model_id": exchange.model_id,
            "provider_model": exchange.request_body.get("model"),
            "endpoint_kind": exchange.endpoint_kind,
            "prompt_hash": prompt_hash(exchange.request_body),
            "output_hash": prefixed_sha256(text.encode("utf-8")),
            "output_text": text,
            "parsed": parsed,
            "outcome": exchange.outcome,
            "usage": asdict(exchange.usage),
            "latency_ms": exchange.latency_ms,
            "attempts": [asdict(a) for a in exchange.attempts],
        }
    body = wire_for(request.model.endpoint).build_body(request)
    attempts = error.attempts if error else []
    return {
        "role": role,
        "run_id": run_id,
        "model_id": request.model_id,
        "provider_model": request.model.provider_model,
        "endpoint_kind": request.model.endpoint.value,
        "prompt_hash": prompt_hash(body),
        "output_hash": prefixed_sha256(b""),
        "output_text": "",
        "parsed": None,
        "outcome": "failed",
        "usage": {"input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0},
        "latency_ms": sum(a.latency_ms for a in attempts),
        "attempts": [asdict(a) for a in attempts],
    }
