"""The strict schemas that requests carry are read from ``aiops/schemas/json/strict/``
(generated from the models by ``python -m aiops.schemas.catalog``), not generated on
every run; each file equals its model's schema, and a model without a file is still
generated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from aiops.schemas import outputs
from aiops.schemas.catalog import strict_models
from aiops.schemas.critic import CriticVerdict


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    outputs._strict_text.cache_clear()
    outputs._envelope_text.cache_clear()
    yield
    outputs._strict_text.cache_clear()
    outputs._envelope_text.cache_clear()


@pytest.mark.parametrize("model", strict_models(), ids=lambda m: m.__name__)
def test_each_shipped_strict_schema_equals_its_model(model: type[BaseModel]) -> None:
    # The same schema, whatever order this Pydantic version writes its keys in (requests
    # carry the shipped file, and prompt hashes are over canonical JSON with sorted keys).
    shipped = (outputs.STRICT_DIR / f"{model.__name__}.json").read_text(encoding="utf-8")
    assert json.loads(shipped) == json.loads(outputs.generate_strict_text(model)), (
        "regenerate: python -m aiops.schemas.catalog"
    )


def test_every_output_type_and_the_critic_verdict_have_a_file() -> None:
    assert {m.__name__ for m in strict_models()} == {*outputs.OUTPUT_MODELS, "CriticVerdict"}


def test_the_shipped_file_is_what_a_request_carries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marked = json.loads(outputs.generate_strict_text(CriticVerdict))
    marked["description"] = "read from the shipped file"
    (tmp_path / "CriticVerdict.json").write_text(json.dumps(marked), encoding="utf-8")
    monkeypatch.setattr(outputs, "STRICT_DIR", tmp_path)
    assert outputs.strict_json_schema(CriticVerdict)["description"] == (
        "read from the shipped file"
    )


def test_a_model_without_a_file_is_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "STRICT_DIR", tmp_path)  # empty: no shipped files
    generated = json.loads(outputs.generate_strict_text(CriticVerdict))
    assert outputs.strict_json_schema(CriticVerdict) == generated
    report = json.loads(outputs.generate_strict_text(outputs.OUTPUT_MODELS["ScenarioReport"]))
    nested = report.pop("$defs")
    defs = outputs.envelope_json_schema(["ScenarioReport"])["$defs"]
    assert defs == {**nested, "ScenarioReport": report}
