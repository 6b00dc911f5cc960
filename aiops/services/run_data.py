"""The typed data a model run passes from stage to stage (``services/model_run.py``).

``ModelRunOptions`` come from the CLI; ``run_prepare`` turns them into a
``PreparedRun``; ``run_prepare.open_calls`` adds the client stack, making the
``RunContext`` every later stage reads; ``run_calls`` and ``run_judging`` fill in the
run's ``Answers``; ``run_writing`` turns both into the pack and the ``RunDetails`` the
summary shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiops.governance.critic import CriticJudgement
from aiops.governance.fallback import FallbackChain
from aiops.governance.inputs import CheckedInput
from aiops.governance.outputs import OutputCheck
from aiops.governance.served_model import ServedCheck
from aiops.governance.web_check import WebEvidence
from aiops.prompts import LoadedPrompt, RenderedPrompt
from aiops.providers.base import Attempt, Exchange, ModelRequest, ProgressSink, ProviderCallError
from aiops.schemas.checks import SoDCheck
from aiops.schemas.manifest import NetworkRoute
from aiops.secret_sources import KeyEnviron
from aiops.services.fallback import CallStack
from aiops.services.input_packs import AdmittedPack
from aiops.services.run_layer import Preflight, RunOptions
from aiops.services.run_outcome import StoredAnswer

if TYPE_CHECKING:
    from aiops.errors import BudgetExceededError, SpendLedgerError
    from aiops.evidence.sign import Sealer


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


@dataclass
class PreparedRun:
    """Everything settled before a client exists: pre-flight passed, secrets known,
    prompt loaded, inputs checked, input packs admitted, the fallback chain built."""

    pre: Preflight
    prompt: LoadedPrompt
    inputs: list[CheckedInput]
    admitted: list[AdmittedPack]  # --input-pack, verified
    proposer_prompt: RenderedPrompt
    chain: FallbackChain
    warnings: list[str]
    seal: Sealer | None
    environ: KeyEnviron


@dataclass
class RunContext:
    """A prepared run with its client stack: what the calling, judging and writing
    stages read."""

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
    recorder: Any = None  # record: the RecordingClient whose runs become the transcript


@dataclass
class Answers:
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
