"""Schema of ``config/model_registry.toml``."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from aiops.bounds import MAX_FIGURE, MAX_SECONDS
from aiops.schemas.base import Autonomy, StrictConfig

LAYER_IDS = ("L0", "L1", "L2", "L3", "L4", "L5", "L6")
LayerId = Literal["L0", "L1", "L2", "L3", "L4", "L5", "L6"]
EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]
PositiveInt = Annotated[int, Field(gt=0, strict=True)]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _toml_date(value: object) -> object:
    """A TOML date, or the ``YYYY-MM-DD`` string that is its JSON form (what the
    exported schema describes); not a number, and not a date-time."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    return value  # a date passes; anything else fails the strict date check


TomlDate = Annotated[date, BeforeValidator(_toml_date)]
# Bounds on numbers (aiops.bounds; integers are also bounded by aiops.configuration, as
# in packs): a float is finite, a duration at most a day, a price or budget at most
# MAX_FIGURE dollars.
NonNegative = Annotated[float, Field(ge=0, le=MAX_FIGURE, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]


class EndpointKind(StrEnum):
    RESPONSES = "responses"
    CHAT_COMPLETIONS = "chat_completions"


class ModelStatus(StrEnum):
    PRODUCTION = "production"
    PREVIEW = "preview"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


class Diversity(StrEnum):
    """Provider diversity between proposer and critic: off, warn, or require."""

    OFF = "off"
    WARN = "warn"
    REQUIRE = "require"


class RegistryInfo(StrictConfig):
    version: str
    matrix_version: str
    effective_date: TomlDate
    owner: str


class Provider(StrictConfig):
    description: str = ""
    base_url: Annotated[str, Field(pattern=r"^https?://")]
    base_url_env: EnvName
    api_key_env: EnvName
    api_key_required: bool = True


class Model(StrictConfig):
    provider: str
    provider_model: Annotated[str, Field(min_length=1)]
    endpoint: EndpointKind = Field(strict=False)
    family: str
    description: str = ""
    context_window: PositiveInt
    max_output_tokens: PositiveInt
    cost_per_1k_input: NonNegative
    cost_per_1k_output: NonNegative
    rate_limit_rpm: PositiveInt
    status: ModelStatus = Field(strict=False)
    retired_on: TomlDate | None = None
    replacement: str | None = None
    reasoning: bool = Field(
        default=False, description="Reasoning model: rejects sampling parameters."
    )
    structured_output: Literal["json_schema", "json_object", "none"] = "json_schema"
    snapshot: str | None = Field(
        default=None,
        min_length=1,
        description="Version pin (threat T7): the dated snapshot sent as the model name "
        "in place of provider_model, e.g. gpt-5.2-pro-2025-12-11.",
    )
    served_model: str | None = Field(
        default=None,
        min_length=1,
        description="The model name the provider must report as having answered "
        "(the response's model); default: the snapshot, when one is pinned. A different "
        "name is handled by the layer's served_model_mismatch.",
    )
    web_search: Literal["none", "supported", "required"] = Field(
        default="none",
        description="The Responses web_search tool: none (the model cannot take it), "
        "supported, or required (deep-research models need a data source tool). A layer "
        "whose scope allows web tooling sends it to a proposer that supports it.",
    )
    cost_per_1k_web_searches: NonNegative = Field(
        default=0.0, description="USD per 1,000 web_search calls (each web_search_call item)."
    )
    call_mode: Literal["blocking", "stream", "background"] | None = Field(
        default=None,
        description="How a call is made: blocking (one request, one answer), stream "
        "(server-sent events; survives idle-dropping proxies and shows progress) or "
        "background (Responses only: the response is created, then polled; it is stored "
        "by the provider even when store is false). Default: background for pro and "
        "deep-research models on the Responses endpoint, blocking otherwise.",
    )
    notes: str = ""

    @model_validator(mode="after")
    def _background_on_responses(self) -> Self:
        if self.call_mode == "background" and self.endpoint is not EndpointKind.RESPONSES:
            raise ValueError("call_mode background exists only on the responses endpoint")
        if self.web_search != "none" and self.endpoint is not EndpointKind.RESPONSES:
            raise ValueError("web_search exists only on the responses endpoint")
        return self

    @property
    def effective_call_mode(self) -> Literal["blocking", "stream", "background"]:
        """The registry's ``call_mode``, else background for a pro or deep-research
        model on Responses (minutes per request), else blocking."""
        if self.call_mode is not None:
            return self.call_mode
        long_running = re.search(r"-pro\b|deep-research", self.provider_model)
        if self.endpoint is EndpointKind.RESPONSES and long_running:
            return "background"
        return "blocking"

    @property
    def requested_model(self) -> str:
        """The model name a request carries: the pinned snapshot, else provider_model."""
        return self.snapshot or self.provider_model

    @property
    def expected_served_model(self) -> str | None:
        return self.served_model or self.snapshot


class LayerMapping(StrictConfig):
    name: str
    max_autonomy: Autonomy = Field(strict=False)
    capability_scope: str | None = None
    primary: str | None = None
    fallbacks: list[str] = []
    critic: str | None = None
    provider_diversity: Diversity = Field(default=Diversity.WARN, strict=False)
    deterministic_only: bool = Field(
        default=False, description="Runs deterministic code only; no model is ever called."
    )
    forbidden: bool = Field(default=False, description="The layer may never run.")
    prompt: str | None = Field(
        default=None, description="Prompt set name under config/prompts/ (model layers)."
    )
    served_model_mismatch: Literal["warn", "block"] = Field(
        default="warn",
        description="When a model's answer names another served model than the registry "
        "expects: warn (the run goes on) or block (status BLOCKED).",
    )
    notes: str = ""

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.max_autonomy is Autonomy.EXEC and not self.forbidden:
            raise ValueError("a layer with max_autonomy EXEC must be marked forbidden = true")
        if self.forbidden or self.deterministic_only:
            if self.primary or self.critic or self.fallbacks:
                raise ValueError("a forbidden or deterministic-only layer names no models")
        elif not (self.primary and self.critic and self.capability_scope):
            raise ValueError("a model layer needs primary, critic and capability_scope")
        return self


class LayerFallbackPolicy(StrictConfig):
    alert_on_fallback: bool | None = None
    fail_closed: bool | None = None


class FallbackPolicy(StrictConfig):
    max_retries_per_model: Annotated[int, Field(ge=0, le=10)] = 2
    backoff_initial_seconds: Seconds = 1.0
    backoff_max_seconds: Seconds = 30.0
    jitter_seconds: Seconds = 0.5
    fail_closed: bool = True
    alert_on_fallback: bool = True
    connect_timeout_seconds: PositiveSeconds = 10.0
    request_timeout_seconds: PositiveSeconds = 900.0
    run_deadline_seconds: PositiveSeconds = 3600.0
    poll_interval_seconds: Annotated[float, Field(gt=0, le=60, allow_inf_nan=False)] = Field(
        default=2.0, description="Background calls: seconds between two polls of the response."
    )
    layers: dict[LayerId, LayerFallbackPolicy] = {}


class Budget(StrictConfig):
    daily_cost_limit_usd: NonNegative
    monthly_cost_limit_usd: NonNegative
    alert_threshold_pct: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 80
    tracking_enabled: bool = True
    # Relative: under state_dir. The state is the desk's, not the working directory's.
    spend_ledger: str = "logs/spend_ledger.jsonl"
    # Absolute directory of the spend ledger and rate-limit windows; empty: the
    # per-user state directory ($XDG_STATE_HOME/aiops, else ~/.local/state/aiops).
    state_dir: str = ""
    owner: str = ""

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if value and not value.startswith("/"):
            raise ValueError("must be an absolute path (or empty: the per-user state directory)")
        return value


def _a_boolean(value: object) -> object:
    """``Literal[True]`` alone also takes ``1`` (equal to ``True`` in Python)."""
    if not isinstance(value, bool):
        raise ValueError("must be true (a TOML boolean)")
    return value


class SoDAudit(StrictConfig):
    enforce_different_models: Annotated[Literal[True], BeforeValidator(_a_boolean)] = True
    log_sod_violations: bool = True


# Every field an audit log line carries (aiops.evidence.audit_log); the registry's
# ``audit.required_log_fields`` may only name these.
AUDIT_LOG_FIELDS = (
    "timestamp_utc",
    "run_id",
    "layer_id",
    "role",
    "model_id",
    "endpoint",
    "prompt_hash",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "latency_ms",
    "retry_delay_ms",
    "http_status",
    "error_class",
    "success",
    "error_message",
)


class Audit(StrictConfig):
    log_all_model_calls: bool = True
    log_destination: str = "logs/ai_model_calls.jsonl"
    required_log_fields: list[str]
    retention_days: PositiveInt = 90
    sod_checks: SoDAudit = SoDAudit()

    @model_validator(mode="after")
    def _known_fields(self) -> Self:
        unknown = [name for name in self.required_log_fields if name not in AUDIT_LOG_FIELDS]
        if unknown:
            raise ValueError(
                f"required_log_fields: aiops does not log {', '.join(map(repr, unknown))}; "
                f"known fields are {', '.join(AUDIT_LOG_FIELDS)}"
            )
        return self


class Registry(StrictConfig):
    registry: RegistryInfo
    providers: dict[str, Provider]
    models: dict[str, Model]
    layer_mapping: dict[LayerId, LayerMapping]
    fallback_policy: FallbackPolicy = FallbackPolicy()
    budget: Budget
    audit: Audit

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        for model_id, model in self.models.items():
            if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", model_id):
                raise ValueError(f"models.{model_id}: model ids are lower-case [a-z0-9._-]")
            if model.provider not in self.providers:
                raise ValueError(f"models.{model_id}.provider: unknown provider {model.provider!r}")
            if model.replacement is not None and model.replacement not in self.models:
                raise ValueError(
                    f"models.{model_id}.replacement: unknown model {model.replacement!r}"
                )
            if model.status is ModelStatus.RETIRED and model.retired_on is None:
                raise ValueError(f"models.{model_id}.retired_on: a retired model needs a date")
        missing = [layer for layer in LAYER_IDS if layer not in self.layer_mapping]
        if missing:
            raise ValueError(f"layer_mapping: missing layers {', '.join(missing)}")
        for layer_id, layer in self.layer_mapping.items():
            named: list[tuple[str, str | None]] = [
                ("primary", layer.primary),
                ("critic", layer.critic),
            ]
            named += [(f"fallbacks[{i}]", m) for i, m in enumerate(layer.fallbacks)]
            for field, named_id in named:
                if named_id is not None and named_id not in self.models:
                    raise ValueError(
                        f"layer_mapping.{layer_id}.{field}: unknown model {named_id!r}"
                    )
        return self
