"""Property: any single-byte change to any file of a valid signed pack is not verified."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops.evidence.sign import load_private_key, load_public_key, make_sealer
from aiops.evidence.verify import verify_pack
from aiops.services.keys import generate
from tests.evidence.builders import model_pack

FILES = sorted(
    [
        "evidence_pack.json",
        "evidence_pack.dsse.json",
        "run_manifest.json",
        "operator_output.md",
        "sod_check.json",
        "capability_scope_check.json",
        "proposer_output.json",
        "critic_output.json",
        "transcript.json",
    ]
)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("property")
    keys = generate(root / "keys")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1768046400")
        patch.chdir(root)
        pack = model_pack(
            root / "packs" / "pack", seal=make_sealer(load_private_key(keys.private_path))
        )
    return pack, keys.public_path


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(FILES),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    xor=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_is_not_verified(
    original: tuple[Path, Path], tmp_path: Path, name: str, where: float, xor: int
) -> None:
    source, public_key = original
    trusted = load_public_key(public_key)
    assert verify_pack(source, trusted).verified  # the original is valid
    copy = tmp_path / f"copy-{name}-{where}-{xor}"
    shutil.copytree(source, copy)
    target = copy / name
    data = bytearray(target.read_bytes())
    data[int(where * len(data))] ^= xor
    target.write_bytes(bytes(data))
    assert not verify_pack(copy, trusted).verified
    shutil.rmtree(copy)
