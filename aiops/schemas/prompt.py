"""Schema of ``config/prompts/<name>.toml``: a versioned proposer and critic prompt.

Templates use ``$name`` placeholders (``string.Template``), so JSON braces in a prompt
need no escaping. Each role may use only the placeholders listed here; a typo is a
config error, not a literal ``$typo`` sent to a model.
"""

from __future__ import annotations

from string import Template
from typing import Annotated, Self

from pydantic import Field, model_validator

from aiops.schemas.base import Strict
from aiops.schemas.registry import LayerId, PositiveInt

COMMON_PLACEHOLDERS = frozenset(
    {
        "layer_id",
        "layer_name",
        "allowed_outputs",
        "forbidden_outputs",
        "min_scenarios",
        "max_scenarios",
        "min_citations",
        "allowed_domains",
        "inputs",
        "policies",
    }
)
CRITIC_PLACEHOLDERS = COMMON_PLACEHOLDERS | {
    "proposer_model_id",
    "proposer_output",
    "proposer_output_hash",
}


class PromptInfo(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    version: Annotated[str, Field(min_length=1)]
    layer_id: LayerId
    description: str = ""
    # Shipped samples, relative to aiops' data root: what `replay` uses when no
    # --fixture is given and every mode uses when no --input is given.
    sample_inputs: list[str] = []
    sample_fixture: str | None = None


class RolePrompt(Strict):
    system: Annotated[str, Field(min_length=1)]
    user: Annotated[str, Field(min_length=1)]
    max_output_tokens: PositiveInt

    def placeholders(self) -> set[str]:
        names: set[str] = set()
        for text in (self.system, self.user):
            template = Template(text)
            if not template.is_valid():
                raise ValueError("invalid $placeholder (use $$ for a literal dollar sign)")
            names.update(template.get_identifiers())
        return names


class PromptSet(Strict):
    prompt: PromptInfo
    proposer: RolePrompt
    critic: RolePrompt

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        for role, prompt, allowed in (
            ("proposer", self.proposer, COMMON_PLACEHOLDERS),
            ("critic", self.critic, CRITIC_PLACEHOLDERS),
        ):
            unknown = sorted(prompt.placeholders() - allowed)
            if unknown:
                raise ValueError(f"{role}: unknown placeholders {', '.join(unknown)}")
        if "inputs" not in self.proposer.placeholders():
            raise ValueError("proposer: the prompt must carry $inputs")
        missing = {"proposer_output", "proposer_output_hash"} - self.critic.placeholders()
        if missing:
            raise ValueError(
                "critic: the prompt must carry the proposer output and its hash "
                f"(missing ${', $'.join(sorted(missing))})"
            )
        return self
