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

The run is a short sequence of stages, each in a module named for it, passing the
typed data of ``run_data``: preparing (``run_prepare``: settings, pre-flight, secrets,
prompt, inputs and input packs, fallback chain; then the mode's client stack),
calling (``run_calls``: proposer with fallback and scope enforcement, critic),
judging (``run_judging``: secrets found, status, served model) and writing
(``run_writing``: the pack's files, manifest, report, fixture and outcome).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiops.services.run_calls import call_critic_stage, call_proposer_stage
from aiops.services.run_data import ModelRunOptions, RunContext, RunDetails
from aiops.services.run_judging import judge_run
from aiops.services.run_layer import RunOutcome
from aiops.services.run_prepare import open_calls, prepare_run
from aiops.services.run_writing import write_run
from aiops.settings import Settings

if TYPE_CHECKING:
    from aiops.services.network import Confirm

__all__ = ["ModelRunOptions", "RunDetails", "run_model_layer"]


def run_model_layer(
    options: ModelRunOptions,
    confirm: Confirm | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    transport: Any = None,
    settings: Settings | None = None,
) -> RunOutcome:
    prepared = prepare_run(options, settings, environ)
    calls = open_calls(prepared, options, confirm, transport)
    try:
        run = RunContext(
            pre=prepared.pre,
            prompt=prepared.prompt,
            inputs=prepared.inputs,
            stack=calls.stack,
            chain=calls.chain,
            proposer_prompt=prepared.proposer_prompt,
            warnings=prepared.warnings,
            seal=prepared.seal,
            network=calls.route,
            admitted=prepared.admitted,
            recorder=calls.recorder,
        )
        answers = call_proposer_stage(run)
        call_critic_stage(run, answers)
        status = judge_run(run, answers)
        return write_run(run, status, answers, options)
    finally:
        if calls.closing is not None:
            calls.closing.close()
