"""The capability scope's [input_packs] and [policies] tables: strict, consistent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from aiops.configuration import load_config
from aiops.schemas.scope import CapabilityScope


def scope_with(**tables: Any) -> dict[str, Any]:
    data = load_config(None).scope_for("L4").model_dump(mode="python")
    data["scope"]["autonomy_level"] = "REC"
    data.update(tables)
    return data


def test_the_shipped_chain_scopes() -> None:
    config = load_config(None)
    l3, l4 = config.scope_for("L3").input_packs, config.scope_for("L4").input_packs
    assert l3 is not None and l3.allowed_layers == ["L2"] and l3.allowed_statuses == ["COMPLETED"]
    assert l4 is not None and l4.review and config.scope_for("L4").policies
    assert config.scope_for("L2").input_packs is None


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"input_packs": {"allowed_layers": ["L2"], "typo": 1}}, "Extra inputs are not permitted"),
        ({"input_packs": {"allowed_layers": []}}, "at least 1 item"),
        ({"input_packs": {"allowed_layers": ["L9"]}}, "Input should be"),
        ({"input_packs": {"allowed_layers": ["L2"], "allowed_statuses": ["X"]}}, "Input should"),
        ({"input_packs": {"allowed_layers": ["L2"], "min_packs": 2}}, "below min_packs"),
        ({"input_packs": {"allowed_layers": ["L2"], "review": True, "max_packs": 2}}, "exactly"),
        ({"input_packs": {"allowed_layers": ["L2"], "review": True}, "policies": {}}, "[policies]"),
        ({"input_packs": {"allowed_layers": ["L2"], "require_approved": "yes"}}, "boolean"),
        ({"policies": {"lower-case": "x"}}, "String should match pattern"),
    ],
)  # fmt: skip
def test_a_wrong_table_is_a_config_error(tables: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CapabilityScope.model_validate(scope_with(**tables))
