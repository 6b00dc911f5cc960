"""Input paths against the scope's globs, judged by where they really are."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from aiops.configuration import load_config
from aiops.errors import UsageError
from aiops.governance.inputs import InputNotAllowedError, check_inputs, glob_match
from aiops.resources import fixtures_dir
from aiops.schemas.manifest import InputEntry
from aiops.schemas.scope import CapabilityScope

SNAPSHOT = '{"as_of": "2026-01-09"}\n'


@pytest.fixture
def scope() -> CapabilityScope:
    return load_config().scope_for("L2")


def write(path: str, text: str = SNAPSHOT) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def test_allowed_input_is_hashed(scope: CapabilityScope) -> None:
    write("data/market_snapshots/today.json")
    (checked,) = check_inputs([Path("data/market_snapshots/today.json")], scope)
    assert checked.entry.path == "data/market_snapshots/today.json"
    assert isinstance(checked.entry, InputEntry)  # a file, not a pack
    assert checked.entry.size == len(SNAPSHOT)
    assert checked.entry.sha256 == hashlib.sha256(SNAPSHOT.encode()).hexdigest()
    assert checked.text.text == SNAPSHOT


def test_shipped_sample_is_trusted_relative_to_the_data_root(scope: CapabilityScope) -> None:
    sample = fixtures_dir() / "market_snapshots" / "l2_sample_snapshot.json"
    (checked,) = check_inputs([sample], scope)
    assert checked.entry.path == "fixtures/market_snapshots/l2_sample_snapshot.json"


def test_shipped_sample_is_trusted_when_installed_under_the_working_directory(
    scope: CapabilityScope, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """aiops installed in ./.venv: the packaged data root lies inside the working
    directory, and the sample is still judged as the shipped fixture it is."""
    import aiops.governance.inputs as inputs

    root = tmp_path / ".venv" / "site-packages" / "aiops" / "_data"
    sample = write(str(root / "fixtures" / "market_snapshots" / "l2_sample_snapshot.json"))
    monkeypatch.setattr(inputs, "data_root", lambda: root)
    (checked,) = check_inputs([sample], scope)
    assert checked.entry.path == "fixtures/market_snapshots/l2_sample_snapshot.json"


def test_dotenv_is_forbidden(scope: CapabilityScope) -> None:
    write(".env", "OPENAI_API_KEY=x\n")
    with pytest.raises(InputNotAllowedError, match="forbidden"):
        check_inputs([Path(".env")], scope)


def test_dotdot_cannot_reach_a_forbidden_file(scope: CapabilityScope) -> None:
    write("config/live_trading.toml", "x = 1\n")
    Path("data/market_snapshots").mkdir(parents=True)
    with pytest.raises(InputNotAllowedError, match="config/live_trading.toml"):
        check_inputs([Path("data/market_snapshots/../../config/live_trading.toml")], scope)


def test_symlink_to_a_forbidden_file_is_refused(scope: CapabilityScope) -> None:
    write(".env", "OPENAI_API_KEY=x\n")
    Path("data/market_snapshots").mkdir(parents=True)
    os.symlink(Path(".env").resolve(), "data/market_snapshots/today.json")
    with pytest.raises(InputNotAllowedError, match=r"really \.env"):
        check_inputs([Path("data/market_snapshots/today.json")], scope)


def test_link_named_dotenv_is_refused_by_name(scope: CapabilityScope) -> None:
    target = write("data/market_snapshots/today.json")
    os.symlink(target.resolve(), ".env")
    with pytest.raises(InputNotAllowedError, match="forbidden"):
        check_inputs([Path(".env")], scope)


def test_absolute_path_outside_the_working_directory_is_refused(
    scope: CapabilityScope, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "data" / "market_snapshots" / "x.json"
    outside.parent.mkdir(parents=True)
    outside.write_text(SNAPSHOT)
    with pytest.raises(InputNotAllowedError, match="outside the working directory"):
        check_inputs([outside], scope)


def test_absolute_path_inside_is_judged_relative(scope: CapabilityScope) -> None:
    target = write("data/market_snapshots/today.json")
    (checked,) = check_inputs([target.resolve()], scope)
    assert checked.entry.path == "data/market_snapshots/today.json"


def test_path_not_in_the_allow_list(scope: CapabilityScope) -> None:
    write("notes/today.json")
    with pytest.raises(InputNotAllowedError, match="not in L2_market_outlook's inputs.allowed"):
        check_inputs([Path("notes/today.json")], scope)


def test_forbidden_wins_over_allowed(scope: CapabilityScope, config_copy: Path) -> None:
    write("data/market_snapshots/live_runs.json")
    narrowed = scope.model_copy(
        update={
            "inputs": scope.inputs.model_copy(
                update={"forbidden": [*scope.inputs.forbidden, "data/market_snapshots/live_*.json"]}
            )
        }
    )
    with pytest.raises(InputNotAllowedError, match="forbidden"):
        check_inputs([Path("data/market_snapshots/live_runs.json")], narrowed)


def test_missing_and_duplicate_and_binary_inputs(scope: CapabilityScope) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        check_inputs([Path("data/market_snapshots/none.json")], scope)
    write("data/market_snapshots/a.json")
    with pytest.raises(UsageError, match="given twice"):
        check_inputs(
            [Path("data/market_snapshots/a.json"), Path("./data/market_snapshots/a.json")], scope
        )
    Path("data/market_snapshots/b.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="not UTF-8"):
        check_inputs([Path("data/market_snapshots/b.json")], scope)


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("data/market_snapshots/a.json", "data/market_snapshots/*.json", True),
        ("data/market_snapshots/x/a.json", "data/market_snapshots/*.json", False),
        ("docs/market_outlook/a/b/c.md", "docs/market_outlook/**/*.md", True),
        ("docs/market_outlook/c.md", "docs/market_outlook/**/*.md", True),
        (".env", "**/.env", True),
        ("a/b/.env", "**/.env", True),
        ("a/.envrc", "**/.env", False),
    ],
)
def test_glob_semantics(path: str, pattern: str, matches: bool) -> None:
    assert (glob_match(path, [pattern]) is not None) is matches
