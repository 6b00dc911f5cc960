"""Preparing a model run, before any call: settings and key sources, the signing key,
pre-flight, the run's secrets, the prompt, the inputs and input packs, the fallback
chain (``prepare_run``); then the client stack of the mode (``open_calls``).

Record/live-only modules (network planning, httpx, pydantic-settings, recording) and
the signing module are imported inside the branch that needs them, so a replay
starts without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.canonical import require_utf8
from aiops.clock import isoformat
from aiops.errors import NetworkNotAllowedError, UsageError
from aiops.governance.fallback import FallbackChain, fallback_chain, layer_failure_policy
from aiops.governance.inputs import CheckedInput, check_inputs
from aiops.known_secrets import activate, collect_for
from aiops.prompts import LoadedPrompt, load_prompt, render_proposer
from aiops.providers.base import ModelClient
from aiops.redact import SECRET_SHAPED
from aiops.resources import data_root
from aiops.schemas.manifest import NETWORK_MODES, NetworkRoute
from aiops.secret_sources import KeyEnviron, SecretSources, default_sources, env_file_named
from aiops.services.fallback import CallStack, network_stack, replay_stack
from aiops.services.input_packs import admit_input_packs, chain_sod
from aiops.services.run_data import ModelRunOptions, PreparedRun
from aiops.services.run_layer import Preflight, preflight
from aiops.settings import Settings

if TYPE_CHECKING:
    from aiops.services.network import Confirm


@dataclass
class OpenCalls:
    """The client stack of the run's mode, with what record/live add to it."""

    stack: CallStack
    chain: FallbackChain  # record/live: only the models whose keys and endpoints are usable
    route: NetworkRoute | None = None  # record/live: how requests left, for the manifest
    recorder: Any = None  # record: the RecordingClient
    closing: Any = None  # record/live: the HTTP client to close when the run ends


def check_mode_options(options: ModelRunOptions) -> None:
    """The mode's own options, before anything is loaded."""
    mode = options.run.mode
    if mode in NETWORK_MODES and not options.allow_network:
        raise NetworkNotAllowedError(
            f"{mode} calls real model APIs: pass --allow-network to opt in (nothing was sent)"
        )
    if mode == "record" and options.fixture is None:
        raise UsageError("record needs --fixture FILE to write the transcript to")
    if options.fixture is not None:  # its name is recorded (attempts, transcript id)
        require_utf8(options.fixture.name, "the --fixture file name")


def prepare_run(
    options: ModelRunOptions, settings: Settings | None, environ: Mapping[str, str] | None
) -> PreparedRun:
    """Everything before a client exists, in the order its refusals are checked."""
    check_mode_options(options)
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
    keys = KeyEnviron([p.api_key_env for p in providers], sources, environ)
    # The run's secrets are known before anything is read, sent or written.
    activate(collect_for(providers, keys))
    prompt = load_prompt(pre.config, pre.layer_id)
    if options.run.mode == "record":
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
    return PreparedRun(pre, prompt, inputs, admitted, proposer_prompt, chain, warnings, seal, keys)


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


def open_calls(
    prepared: PreparedRun,
    options: ModelRunOptions,
    confirm: Confirm | None,
    transport: Any,
) -> OpenCalls:
    """Replay: the transcript behind the retry loop. Record/live: the network plan
    (keys, budget, banner, confirmation), then the HTTP client behind the guard."""
    if options.run.mode != "replay":
        return _network_calls(prepared, options, confirm, transport)
    pre = prepared.pre
    policy = pre.config.registry.fallback_policy
    failure = layer_failure_policy(policy, pre.layer_id)
    client = _replay_client(options.fixture, prepared.prompt, pre)
    return OpenCalls(replay_stack(client, policy, failure), prepared.chain)


def _network_calls(
    prepared: PreparedRun,
    options: ModelRunOptions,
    confirm: Confirm | None,
    transport: Any,
) -> OpenCalls:
    from aiops.governance.call_guard import CallGuard
    from aiops.providers.openai_compatible import OpenAICompatibleClient
    from aiops.providers.retry import Deadline
    from aiops.services.network import prepare_network  # record and live only

    pre, mode = prepared.pre, options.run.mode
    registry = pre.config.registry
    policy = registry.fallback_policy
    failure = layer_failure_policy(policy, pre.layer_id)
    guard = CallGuard(registry, run_id=pre.run_id, layer_id=pre.layer_id)
    network = prepare_network(
        pre,
        prepared.prompt,
        prepared.chain.model_ids,
        prepared.proposer_prompt,
        mode,
        options.fixture,
        confirm,
        prepared.environ,
        prepared.warnings,
        guard.ledger,
    )
    # The operator may have taken a while to confirm: the ledger is checked again
    # (head intact, clock not behind it) right before the first paid call.
    from aiops.evidence.ledger import check_before_run

    check_before_run(pre.destination.ledger, known=pre.destination.known)
    usable = network.usable
    chain = prepared.chain
    chain = FallbackChain([c for c in chain.candidates if c.model_id in usable], chain.skipped)
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
    recorder = None
    if mode == "record":
        from aiops.providers.recording import RecordingClient

        recorder = RecordingClient(inner)
        inner = recorder
    stack = network_stack(inner, policy, failure, deadline, guard)
    return OpenCalls(stack, chain, network.facts, recorder, closing)


def _replay_client(fixture: Path | None, prompt: LoadedPrompt, pre: Preflight) -> ModelClient:
    from aiops.providers.replay import ReplayClient, load_fixture

    if fixture is None:
        sample = prompt.prompts.prompt.sample_fixture
        if sample is None:
            raise UsageError("no --fixture given and the layer's prompt names no sample fixture")
        fixture = data_root() / sample
    transcript = load_fixture(fixture, pre.layer_id, prompt.prompts.prompt.id)
    return ReplayClient(transcript, fixture.name, pre.layer_id)
