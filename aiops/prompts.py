"""Load a layer's prompt set and render the proposer and critic prompts.

Rendering is pure string substitution, so the same config and inputs always give the
same request bodies, and therefore the same prompt hashes a replay looks up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from aiops.configuration import Config, parse_model, read_toml_digest
from aiops.errors import ConfigError, UsageError
from aiops.schemas.prompt import PromptSet, RolePrompt
from aiops.schemas.scope import CapabilityScope

PROMPTS_DIR = "prompts"


@dataclass(frozen=True)
class LoadedPrompt:
    prompts: PromptSet
    path: Path
    sha256: str


@dataclass(frozen=True)
class InputText:
    """An input file as the model sees it: its recorded path and its text."""

    path: str
    text: str


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str


def load_prompt(config: Config, layer_id: str) -> LoadedPrompt:
    layer = config.layer(layer_id)
    if layer.prompt is None:
        raise UsageError(
            f"{layer_id} ({layer.name}) has no prompt configured "
            f"(layer_mapping.{layer_id}.prompt), so it can only dry-run"
        )
    path = config.directory / PROMPTS_DIR / f"{layer.prompt}.toml"
    raw_path_data, digest = read_toml_digest(path)
    prompts = parse_model(PromptSet, raw_path_data, path)
    if prompts.prompt.layer_id != layer_id:
        raise ConfigError(
            path,
            f"prompt is for layer {prompts.prompt.layer_id}, not {layer_id}",
            "prompt.layer_id",
        )
    return LoadedPrompt(prompts, path, digest)


def _values(
    layer_id: str, layer_name: str, scope: CapabilityScope, inputs: list[InputText]
) -> dict[str, str]:
    return {
        "layer_id": layer_id,
        "layer_name": layer_name,
        "allowed_outputs": ", ".join(scope.outputs.allowed),
        "forbidden_outputs": ", ".join(scope.outputs.forbidden),
        "min_scenarios": str(scope.validation.min_scenario_count),
        "min_citations": str(scope.validation.min_citations),
        "allowed_domains": ", ".join(scope.web_access.allowed_domains),
        "max_scenarios": str(scope.validation.max_scenario_count),
        "inputs": render_inputs(inputs),
        "policies": "\n".join(f"- {ref}: {text}" for ref, text in scope.policies.items()),
    }


def render_inputs(inputs: list[InputText]) -> str:
    blocks = [f'<input path="{item.path}">\n{item.text.rstrip()}\n</input>' for item in inputs]
    return "\n\n".join(blocks)


def _render(prompt: RolePrompt, values: dict[str, str]) -> RenderedPrompt:
    return RenderedPrompt(
        system=Template(prompt.system).substitute(values).strip(),
        user=Template(prompt.user).substitute(values).strip(),
    )


def render_proposer(
    prompts: PromptSet,
    layer_id: str,
    layer_name: str,
    scope: CapabilityScope,
    inputs: list[InputText],
) -> RenderedPrompt:
    return _render(prompts.proposer, _values(layer_id, layer_name, scope, inputs))


def render_critic(
    prompts: PromptSet,
    layer_id: str,
    layer_name: str,
    scope: CapabilityScope,
    inputs: list[InputText],
    *,
    proposer_model_id: str,
    proposer_output: str,
    proposer_output_hash: str,
) -> RenderedPrompt:
    values = _values(layer_id, layer_name, scope, inputs)
    values.update(
        proposer_model_id=proposer_model_id,
        proposer_output=proposer_output,
        proposer_output_hash=proposer_output_hash,
    )
    return _render(prompts.critic, values)
