"""Model modes of a layer run: replay, record and live.

pre-flight (governance, exists in ``run_layer``) -> the run's secrets known
(``aiops.known_secrets``; an input holding one is refused) -> inputs checked and hashed ->
fallback chain (lifecycle and SoD re-checked per candidate) -> [record/live: keys,
budget check of the run's worst case, banner] -> proposer call (retries, then the
chain's fallbacks; ``services/fallback.py``) -> capability-scope enforcement on its
output -> critic call (retries, no fallback), whose prompt carries the proposer output
as stored and the hash of the text as received -> critic verdict parsed strictly ->
status -> evidence pack (signed when ``AIOPS_SIGNING_KEY`` is set). Each answer is
stored redacted (``run_outcome.store_answer``): a secret in either is a scope
violation, BLOCKED.

Status and exit code (DESIGN.md): COMPLETED (0) when the critic approves (with or
without changes) and the scope holds; REJECTED (1) when the critic rejects; BLOCKED (2)
on any scope violation or when the critic's verdict fails closed (unparseable, unknown
decision, not citing the proposer hash, refused, incomplete); FAILED (4) when no model
gave a usable answer (provider failure after retries and fallbacks, or a proposer
refusal or incomplete answer; a budget refusal after something was sent is FAILED
too, but exits 2). The critic still runs after a scope violation, so the pack shows
both judgements; the status stays BLOCKED whatever the critic says.

Nothing here is specific to a layer: the prompt set, scope and samples are config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.canonical import pack_json, require_utf8
from aiops.clock import isoformat
from aiops.errors import (
    EXIT_BLOCKED,
    BudgetExceededError,
    EvidenceWriteError,
    NetworkNotAllowedError,
    OutputExistsError,
    SpendLedgerError,
    UsageError,
)
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
from aiops.governance.critic import CriticJudgement, judge_critic
from aiops.governance.fallback import FallbackChain, fallback_chain, layer_failure_policy
from aiops.governance.inputs import CheckedInput, check_inputs
from aiops.governance.l4_verdict import not_allowed_exit, verdict_lines
from aiops.governance.outputs import OutputCheck, enforce_outputs
from aiops.governance.scope import build_scope_check
from aiops.governance.served_model import ServedCheck, check_served, served_entry
from aiops.governance.web_check import WebEvidence, extend_check, sources_section, web_evidence
from aiops.governance.web_config import web_search_for
from aiops.known_secrets import activate, collect_for
from aiops.prompts import LoadedPrompt, RenderedPrompt, load_prompt, render_critic, render_proposer
from aiops.providers.base import (
    Attempt,
    Exchange,
    ModelClient,
    ModelRequest,
    ProgressSink,
    ProviderCallError,
    WebSearch,
)
from aiops.providers.fallback import FallbackAlert
from aiops.redact import SECRET_SHAPED
from aiops.resources import data_root
from aiops.schemas.checks import SoDCheck
from aiops.schemas.critic import CriticVerdict
from aiops.schemas.manifest import (
    NETWORK_MODES,
    NetworkRoute,
    OutputEntry,
)
from aiops.schemas.outputs import envelope_json_schema, strict_json_schema
from aiops.schemas.pack import ModelRun, PackStatus
from aiops.secret_sources import KeyEnviron, SecretSources, default_sources, env_file_named
from aiops.services.fallback import (
    CallStack,
    call_critic,
    call_proposer,
    network_stack,
    replay_stack,
)
from aiops.services.input_packs import (
    AdmittedPack,
    admit_input_packs,
    chain_sod,
    review_verdict,
)
from aiops.services.run_layer import Preflight, RunOptions, RunOutcome, base_manifest, preflight
from aiops.services.run_outcome import (
    StoredAnswer,
    actions_for,
    decide_status,
    model_output_document,
    not_completed,
    secret_in_text,
    secret_violations,
    store_answer,
    stored_check,
)
from aiops.settings import Settings

if TYPE_CHECKING:
    from aiops.evidence.sign import Sealer
    from aiops.services.network import Confirm

PROPOSER_RUN_ID = "proposer-run-001"
CRITIC_RUN_ID = "critic-run-001"


@dataclass(frozen=True)
class ModelRunOptions:
    run: RunOptions
    inputs: list[Path] = field(default_factory=list)
    fixture: Path | None = None
    allow_network: bool = False
    force: bool = False
    progress: ProgressSink | None = None  # the terminal's view of calls; never the pack
    env_file: Path | None = None  # --env-file (else AIOPS_ENV_FILE): settings and keys
    input_packs: list[str] = field(default_factory=list)  # --input-pack: path, id, latest
    input_ledger: Path | None = None  # --input-ledger: where input packs from elsewhere are


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
    # Every attempt of the run in order, as (role, attempt); and what the answers cost.
    attempts: list[tuple[str, Attempt]] = field(default_factory=list)
    cost_usd: float = 0.0
    spent: bool = True  # False in replay: the cost is the recorded calls', nothing was spent


def _settings_and_sources(
    options: ModelRunOptions, settings: Settings | None
) -> tuple[Settings, SecretSources]:
    """The run's settings and key sources. pydantic-settings (about 40 ms of imports)
    loads only when an env file is named or the run calls models; otherwise (replay,
    no env file) the environment alone decides, as it would anyway."""
    named = env_file_named(options.env_file)
    if settings is None and (named is not None or options.run.mode in NETWORK_MODES):
        from aiops.env_settings import load_settings

        loaded = load_settings(named)
        return loaded.as_settings(), loaded.secrets
    return settings or Settings(), default_sources()


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
    if options.fixture is not None:  # its name is recorded (attempts, transcript id)
        require_utf8(options.fixture.name, "the --fixture file name")
    settings, sources = _settings_and_sources(options, settings)
    seal = None  # unsigned unless AIOPS_SIGNING_KEY is set (then sign loads)
    trusted = None  # input packs' signatures are checked with the same key
    if settings.signing_key is not None:
        from aiops.evidence.sign import sealer_from_settings, trusted_from_private

        seal = sealer_from_settings(settings.signing_key)  # a bad key stops us before any call
        trusted = trusted_from_private(settings.signing_key)
    pre = preflight(options.run, settings)
    # Every key is looked up once, in the environment, the env file, the secrets dir.
    providers = pre.config.registry.providers.values()
    environ = KeyEnviron([p.api_key_env for p in providers], sources, environ)
    # The run's secrets are known before anything is read, sent or written.
    activate(collect_for(providers, environ))
    prompt = load_prompt(pre.config, pre.layer_id)
    if mode == "record":
        from aiops.providers.recording import check_fixture_target

        assert options.fixture is not None
        check_fixture_target(options.fixture, options.force)
    admitted = admit_input_packs(
        options.input_packs,
        pre.scope,
        pre.layer_id,
        pre.destination.ledger,
        options.input_ledger,
        trusted,
    )
    inputs = check_inputs(_input_paths(options.inputs, prompt, bool(admitted)), pre.scope)
    inputs += [pack.as_input(number) for number, pack in enumerate(admitted, 1)]
    _refuse_secret_inputs(inputs)
    proposer_prompt = render_proposer(
        prompt.prompts, pre.layer_id, pre.layer.name, pre.scope, [i.text for i in inputs]
    )
    warnings = list(pre.warnings)
    registry = pre.config.registry
    policy = registry.fallback_policy
    failure = layer_failure_policy(policy, pre.layer_id)
    chain = fallback_chain(
        registry,
        pre.layer_id,
        pre.layer,
        primary_id=pre.proposer_id,
        critic_id=pre.critic_id,
        run_id=pre.run_id,
        timestamp=isoformat(pre.clock),
        at=pre.clock,
    )
    chain, chained_sod = chain_sod(chain, pre.sod, admitted, pre.scope)
    pre = replace(pre, sod=chained_sod)
    warnings += [skipped.notice for skipped in chain.skipped]
    recorder = None
    closing: Any = None
    route: NetworkRoute | None = None  # record/live: how requests left, for the manifest
    if mode == "replay":
        stack = replay_stack(_replay_client(options.fixture, prompt, pre), policy, failure)
    else:
        from aiops.governance.call_guard import CallGuard
        from aiops.providers.openai_compatible import OpenAICompatibleClient
        from aiops.providers.retry import Deadline
        from aiops.services.network import prepare_network  # record and live only

        guard = CallGuard(registry, run_id=pre.run_id, layer_id=pre.layer_id)
        network = prepare_network(
            pre,
            prompt,
            chain.model_ids,
            proposer_prompt,
            mode,
            options.fixture,
            confirm,
            environ,
            warnings,
            guard.ledger,
        )
        # The operator may have taken a while to confirm: the ledger is checked again
        # (head intact, clock not behind it) right before the first paid call.
        from aiops.evidence.ledger import check_before_run

        check_before_run(pre.destination.ledger, known=pre.destination.known)
        usable = network.usable
        chain = FallbackChain([c for c in chain.candidates if c.model_id in usable], chain.skipped)
        route = network.facts
        deadline = Deadline(policy.run_deadline_seconds)  # starts once confirmed
        guard.deadline = deadline
        closing = OpenAICompatibleClient(
            network.endpoints,
            policy,
            transport=transport,
            deadline=deadline,
            trust=network.trust,
            progress=options.progress,
        )
        inner: ModelClient = closing
        if mode == "record":
            from aiops.providers.recording import RecordingClient

            recorder = RecordingClient(inner)
            inner = recorder
        stack = network_stack(inner, policy, failure, deadline, guard)
    try:
        run = _Run(pre, prompt, inputs, stack, chain, proposer_prompt, warnings, seal, route)
        run.admitted = admitted
        return run.execute(recorder, options)
    finally:
        if closing is not None:
            closing.close()


def _refuse_secret_inputs(inputs: list[CheckedInput]) -> None:
    """An input holding a secret the run knows would be sent to a provider and kept in
    the transcript (whose request bodies are hashed as sent): refused, nothing sent."""
    from aiops.governance.inputs import InputNotAllowedError
    from aiops.redact import secret_kinds

    for item in inputs:
        kinds = [kind for kind in secret_kinds(item.text.text) if kind != SECRET_SHAPED]
        if kinds:
            raise InputNotAllowedError(
                f"input {item.text.path} holds a secret this run knows ({', '.join(kinds)}): "
                "it would be sent to the model and recorded; nothing was sent"
            )


def _input_paths(given: list[Path], prompt: LoadedPrompt, packs: bool = False) -> list[Path]:
    if given or packs:  # input packs given: no sample input is added to them
        return given
    samples = prompt.prompts.prompt.sample_inputs
    if not samples:
        raise UsageError("no --input given and the layer's prompt names no sample input")
    return [data_root() / sample for sample in samples]


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
class _Answers:
    """What the calls of one run produced, filled in as the run goes."""

    proposer_request: ModelRequest
    proposer: StoredAnswer | None = None  # answers as stored: secrets redacted
    proposer_error: ProviderCallError | None = None
    proposer_sod: SoDCheck | None = None  # SoD of the model that actually answered
    critic: StoredAnswer | None = None
    critic_request: ModelRequest | None = None
    critic_error: ProviderCallError | None = None
    judgement: CriticJudgement | None = None
    output_check: OutputCheck | None = None
    refused: BudgetExceededError | SpendLedgerError | None = None  # mid-run budget refusal
    reasons: list[str] = field(default_factory=list)
    served: dict[str, ServedCheck] = field(default_factory=dict)  # by role
    web: WebEvidence | None = None  # the proposer's web sources, when it had the tool

    def exchange(self, role: str) -> Exchange | None:
        answer = self.proposer if role == "proposer" else self.critic
        return answer.exchange if answer is not None else None


@dataclass
class _Run:
    pre: Preflight
    prompt: LoadedPrompt
    inputs: list[CheckedInput]
    stack: CallStack
    chain: FallbackChain
    proposer_prompt: RenderedPrompt
    warnings: list[str]  # shown on stderr and in the report's findings
    seal: Sealer | None
    network: NetworkRoute | None = None  # record/live only
    notes: list[str] = field(default_factory=list)  # report findings only
    admitted: list[AdmittedPack] = field(default_factory=list)  # --input-pack, verified

    def request(
        self,
        role: str,
        model_id: str,
        rendered: RenderedPrompt,
        schema: dict[str, Any],
        name: str,
        limit: int,
        web: WebSearch | None = None,
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
            web=web,
        )

    def proposer_request(self, model_id: str) -> ModelRequest:
        prompts = self.prompt.prompts
        return self.request(
            "proposer",
            model_id,
            self.proposer_prompt,
            envelope_json_schema(self.pre.scope.outputs.allowed),
            _schema_name(prompts.prompt.id, "outputs"),
            prompts.proposer.max_output_tokens,
            web_search_for(self.pre.scope, self.pre.config.registry.models[model_id]),
        )

    def _refused_mid_run(self, refused: BudgetExceededError | SpendLedgerError) -> None:
        """Nothing sent yet: the refusal stops the run with no pack (exit 2). Else the
        pack records what was sent before it."""
        if not self.stack.attempts:
            raise refused

    def execute(self, recorder: Any, options: ModelRunOptions) -> RunOutcome:
        prompts = self.prompt.prompts
        scope = self.pre.scope
        answers = _Answers(proposer_request=self.proposer_request(self.pre.proposer_id))
        reasons = answers.reasons
        try:
            result = call_proposer(self.stack, self.chain, self.proposer_request)
        except ProviderCallError as error:
            answers.proposer_error = error
            reasons.append(f"proposer failed: {error.message}")
        except (BudgetExceededError, SpendLedgerError) as refused:
            self._refused_mid_run(refused)
            answers.refused = refused
            reasons.append(f"proposer not called: {refused.message}")
        else:
            answers.proposer = store_answer(result.exchange)
            answers.proposer_sod = result.candidate.sod
            answers.proposer_request = self.proposer_request(result.candidate.model_id)
            # Web sources of any answer (as stored: as verify-pack re-derives them).
            answers.web = web_evidence(answers.proposer.exchange, answers.proposer_request.web)
            if result.fell_back:
                self._fallback_used(result.exchange, result.alert)
            if result.exchange.outcome == "completed":
                # Enforced on the text as received; everything after sees it redacted.
                answers.output_check = stored_check(
                    enforce_outputs(result.exchange.answer, scope, raw=result.exchange.text),
                    answers.proposer,
                )
                answers.output_check = extend_check(answers.output_check, answers.web, scope)
        proposer = answers.exchange("proposer")
        if proposer is not None and answers.proposer is not None:
            if proposer.outcome != "completed":
                reasons.append(not_completed("proposer", proposer))
            else:
                output_check = answers.output_check
                assert output_check is not None
                if output_check.violations:
                    reasons.append(
                        f"capability scope violated: {len(output_check.violations)} violation(s) "
                        f"({', '.join(sorted({v.rule for v in output_check.violations}))})"
                    )
                output_hash = answers.proposer.output_hash
                rendered = render_critic(
                    prompts,
                    self.pre.layer_id,
                    self.pre.layer.name,
                    scope,
                    [i.text for i in self.inputs],
                    proposer_model_id=proposer.model_id,
                    proposer_output=proposer.text,  # as stored: no secret is passed on
                    proposer_output_hash=output_hash,
                )
                answers.critic_request = self.request(
                    "critic",
                    self.pre.critic_id,
                    rendered,
                    strict_json_schema(CriticVerdict),
                    "critic_verdict",
                    prompts.critic.max_output_tokens,
                )
                self._call_critic(answers, output_hash)
        found = [
            f"{role}'s ({', '.join(answer.kinds)})"
            for role, answer in (("proposer", answers.proposer), ("critic", answers.critic))
            if answer is not None and answer.kinds
        ]
        if found:
            reasons.append(f"secret in a model answer, stored redacted: {'; '.join(found)}")
        status = decide_status(
            proposer,
            answers.proposer_error,
            answers.exchange("critic"),
            answers.critic_error,
            answers.output_check,
            answers.judgement,
            secret_found=bool(found) or secret_in_text(answers.output_check),
        )
        if answers.refused is not None:
            status = "FAILED"  # a role went unanswered: no usable outcome (exit 2, refused)
        status = self._served(answers, status)
        if status == "FAILED" and not self.stack.failure.fail_closed:
            self.warnings.append(
                f"fail_closed = false for {self.pre.layer_id} has no effect on a model run: "
                "without a usable answer there is nothing to pass on (FAILED)"
            )
        if self.stack.guard is not None:
            self.warnings += [w for w in self.stack.guard.warnings if w not in self.warnings]
        return self._write(status, answers, recorder, options)

    def _served(self, answers: _Answers, status: PackStatus) -> PackStatus:
        """Threat T7: each answer's served model against the registry's pin; a mismatch
        warns or, per the layer's ``served_model_mismatch``, blocks."""
        policy = self.pre.layer.served_model_mismatch
        for role, exchange, request in (
            ("proposer", answers.exchange("proposer"), answers.proposer_request),
            ("critic", answers.exchange("critic"), answers.critic_request),
        ):
            if request is None:
                continue
            check = check_served(role, request.model_id, request.model, exchange, policy)
            answers.served[role] = check
            if check.matches is False:
                (answers.reasons if check.blocks else self.warnings).append(check.message())
        blocked = any(check.blocks for check in answers.served.values())
        return "BLOCKED" if blocked and status in ("COMPLETED", "REJECTED") else status

    def _fallback_used(self, exchange: Exchange, alert: FallbackAlert | None) -> None:
        """The skipped models are warned about already (before any call); this adds the
        fallback itself: a warning when alert_on_fallback is on, else a report finding."""
        if alert is not None:  # a warning in the summary and the report
            self.warnings.append(alert.message)
            return
        failed = ", ".join(
            dict.fromkeys(
                f"{a.model_id} ({a.error_class})" for a in exchange.attempts if a.error_class
            )
        )
        self.notes.append(f"fallback used: {exchange.model_id} answered after {failed} failed")

    def _call_critic(self, answers: _Answers, output_hash: str) -> None:
        assert answers.critic_request is not None
        reasons = answers.reasons
        try:
            critic = call_critic(self.stack, answers.critic_request)
        except ProviderCallError as error:
            answers.critic_error = error
            reasons.append(f"critic failed: {error.message}")
            return
        except (BudgetExceededError, SpendLedgerError) as refused:
            answers.refused = refused
            reasons.append(f"critic not called: {refused.message}")
            return
        answers.critic = store_answer(critic)
        critic = answers.critic.exchange  # judged as stored: no secret reaches a reason
        if critic.outcome != "completed":
            reasons.append(not_completed("critic", critic) + " (fails closed)")
            return
        judgement = judge_critic(critic.answer, output_hash)
        answers.judgement = judgement
        if judgement.problem:
            reasons.append(judgement.problem + " (fails closed)")
        elif judgement.decision == "REJECT":
            reasons.append(f"critic rejected: {judgement.rationale}")

    def _cost(self, exchange: Exchange | None) -> float:
        if exchange is None:
            return 0.0
        model = self.pre.config.registry.models[exchange.model_id]
        searches = search_cost(model, search_calls(exchange.response_body))
        return round(actual_cost(model, exchange.usage) + searches, 6)

    def _write(
        self, status: PackStatus, answers: _Answers, recorder: Any, options: ModelRunOptions
    ) -> RunOutcome:
        pre = self.pre
        mode = options.run.mode
        proposer, critic = answers.exchange("proposer"), answers.exchange("critic")
        judgement = answers.judgement
        critic_request, output_check = answers.critic_request, answers.output_check
        manifest = base_manifest(pre, mode, options.run.notes)
        timestamp = manifest.timestamp
        files: dict[str, bytes] = {}
        outputs: list[OutputEntry] = []
        proposer_doc = model_output_document(
            "proposer",
            PROPOSER_RUN_ID,
            answers.proposer,
            answers.proposer_request,
            self.stack.attempts_of("proposer"),
            self._cost(proposer),
        )
        proposer_doc["served"] = answers.served["proposer"].record()
        files[PROPOSER_OUTPUT_FILE] = pack_json(proposer_doc)
        # Every role that was called is in the index, answered or not (its file says).
        proposer_run = _model_run(proposer_doc, PROPOSER_OUTPUT_FILE)
        critic_run = None
        critic_cost = self._cost(critic)
        if proposer is not None:
            outputs.append(
                OutputEntry(
                    role="proposer",
                    model_id=proposer.model_id,
                    artifact_path=PROPOSER_OUTPUT_FILE,
                    output_hash=proposer_doc["output_hash"],
                    **served_entry(proposer),
                )
            )
        if critic_request is not None:
            critic_doc = model_output_document(
                "critic",
                CRITIC_RUN_ID,
                answers.critic,
                critic_request,
                self.stack.attempts_of("critic"),
                critic_cost,
            )
            critic_doc.update(
                decision=judgement.decision if judgement else None,
                rationale=judgement.rationale if judgement else "",
                evidence_ids=judgement.evidence_ids if judgement else [],
                findings=[f.model_dump(mode="json") for f in judgement.findings]
                if judgement
                else [],
                served=answers.served["critic"].record(),
            )
            files[CRITIC_OUTPUT_FILE] = pack_json(critic_doc)
            critic_run = _model_run(critic_doc, CRITIC_OUTPUT_FILE)
            if critic is not None:
                outputs.append(
                    OutputEntry(
                        role="critic",
                        model_id=critic.model_id,
                        artifact_path=CRITIC_OUTPUT_FILE,
                        output_hash=critic_doc["output_hash"],
                        **served_entry(critic),
                    )
                )
        if answers.web is not None:
            files[WEB_SOURCES_FILE] = pack_json(answers.web.document)
        transcript_bytes: bytes | None = None
        if recorder is not None:
            transcript_bytes = self._transcript(recorder, options, timestamp)
            files[TRANSCRIPT_FILE] = transcript_bytes
        # SoD as re-checked for the model that actually answered (a fallback included).
        sod = answers.proposer_sod or pre.sod
        manifest = manifest.model_copy(
            update={
                "prompt_id": self.prompt.prompts.prompt.id,
                "prompt_version": self.prompt.prompts.prompt.version,
                "config": manifest.config.model_copy(update={"prompt_sha256": self.prompt.sha256}),
                "inputs_manifest": [i.entry for i in self.inputs],
                "outputs_manifest": outputs,
                "sod_result": sod.result,
                "sod_reason": sod.reason,
                "sod_timestamp": sod.timestamp,
                "network": self.network,
                "governance_verdict": review_verdict(
                    self.admitted, pre.scope, status, output_check.parsed if output_check else None
                ),
            }
        )
        answers.reasons += verdict_lines(manifest.governance_verdict)
        web_only = answers.web if output_check is None else None  # an answer not completed
        scope_check = build_scope_check(
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
        attempts = [
            (role, attempt)
            for role in ("proposer", "critic")
            for attempt in self.stack.attempts_of(role)
        ]
        cost = round(proposer_doc["cost_usd"] + critic_cost, 6)
        report = OperatorReport(
            manifest=manifest,
            status=status,
            sod=sod,
            scope=scope_check,
            findings=[*answers.reasons, *self.warnings, *self.notes],
            actions=actions_for(status, judgement),
            sections=model_run_sections(
                proposer=proposer,
                critic=critic,
                judgement=judgement,
                parsed=output_check.parsed if output_check else None,
                attempts=attempts,
                cost_usd=cost,
                spent=mode != "replay",
            )
            + ([ReportSection(*sources_section(answers.web.document))] if answers.web else []),
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
            seal=self.seal,
        )
        fixture_written = None
        if transcript_bytes is not None and options.fixture is not None:
            from aiops.providers.recording import write_fixture

            try:
                write_fixture(options.fixture, transcript_bytes, options.force)
            except (EvidenceWriteError, OutputExistsError) as error:
                raise type(error)(
                    f"{error.message} (the pack {written.path} was written; its "
                    f"{TRANSCRIPT_FILE} is the same transcript)"
                ) from None
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
            reason="; ".join(answers.reasons),
            details=RunDetails(
                proposer_model_id=proposer.model_id if proposer else None,
                proposer_outcome=proposer.outcome if proposer else "failed",
                critic_model_id=critic_request.model_id if critic_request else None,
                critic_outcome=critic.outcome
                if critic
                else ("failed" if answers.critic_error or answers.refused else None),
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
                attempts=attempts,
                cost_usd=cost,
                spent=mode != "replay",
            ),
            exit_override=EXIT_BLOCKED
            if answers.refused is not None
            else not_allowed_exit(status, manifest.governance_verdict),
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


def _model_run(document: dict[str, Any], artifact_path: str) -> ModelRun:
    """The index's record of a role, taken from the output file it points at."""
    return ModelRun(
        model_id=document["model_id"],
        run_id=document["run_id"],
        prompt_hash=document["prompt_hash"],
        output_hash=document["output_hash"],
        artifact_path=artifact_path,
    )
