"""Property: hostile values in any field of a pack or a configuration file never crash
the commands that read them.

Into one numeric or string field at a time (of any pack file, and of the registry and a
capability scope) goes a random number (an integer of up to thousands of digits, a
float, an overflowing exponent, a ``NaN``/``Infinity`` spelling), a random string or a
random nesting of lists and objects. The pack's digests are then re-recorded, so that
only the value changed. ``verify-pack``, ``pilot report``, ``pilot drift`` and ``review``
must each end with normal output or one ``aiops: error:`` line, exit 0, 1 or 2 — never
3, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from aiops.canonical import pack_json
from aiops.cli import app
from aiops.resources import default_config_dir

PLACEHOLDER = "\u2063hostile\u2063"
PACK_FILES = (
    "evidence_pack.json",
    "run_manifest.json",
    "sod_check.json",
    "capability_scope_check.json",
    "proposer_output.json",
    "critic_output.json",
    "review.json",
)
# Modest in the suite (each example runs five commands); AIOPS_HOSTILE_EXAMPLES sets
# both counts for a longer search.
_SEARCH = os.environ.get("AIOPS_HOSTILE_EXAMPLES")

# The packs made here are not live: the pilot report counts them only when asked.
NOT_LIVE = ("--mode", "replay", "--mode", "dry-run")


def _examples(default: int) -> settings:
    return settings(
        max_examples=int(_SEARCH) if _SEARCH else default,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- hostile values, as the raw text that goes into the file -----------------------------


def _digits(count: int) -> str:
    return "9" * count


json_numbers = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**53 - 2, max_value=2**64).map(str),
    st.integers(min_value=17, max_value=5000).map(_digits),
    st.sampled_from(["4300", "4301", "10000"]).map(lambda n: _digits(int(n))),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e308", "1e309", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity"]),
    st.sampled_from(["0", "-0", "-1", "0.5", "1E+2", "-0.0"]),
)
json_strings = st.text(max_size=60).map(lambda s: json.dumps(s, ensure_ascii=False))


def _nested(depth: int, kind: str) -> str:
    return (
        ("[" if kind == "list" else '{"a":') * depth
        + "1"
        + ("]" if kind == "list" else "}") * depth
    )


json_nesting = st.one_of(
    st.builds(_nested, st.integers(1, 2500), st.sampled_from(["list", "object"])),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.text(max_size=5)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=8,
    ).map(json.dumps),
)
json_values = st.one_of(json_numbers, json_strings, json_nesting)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a number or string in a parsed JSON document."""
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _leaves(value[key], (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        yield path


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


# --- the ledger: two replayed packs, the second reviewed -------------------------------


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile-values")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("SOURCE_DATE_EPOCH", "1768046400")
        patch.setenv("AIOPS_RATELIMIT_DIR", str(root / "ratelimit"))
        for name in ("AIOPS_CONFIG_DIR", "AIOPS_PACKS_DIR", "AIOPS_SIGNING_KEY"):
            patch.delenv(name, raising=False)
        runner = CliRunner()
        for _ in range(2):
            assert runner.invoke(app, ["l2", "replay"]).exit_code == 0
        second = sorted((root / "evidence_packs").iterdir())[1]
        reviewed = runner.invoke(
            app, ["review", str(second), "--approve", "--notes", "ok", "--reviewer", "a"]
        )
        assert reviewed.exit_code == 0, reviewed.output
    return root / "evidence_packs"


@pytest.fixture(scope="module")
def fields(original: Path) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    """Per file, per top-level key, every path to a number or string under it: a field
    is drawn key first, so ``latency_ms`` is as likely as one of the many leaves of a
    proposer's ``parsed`` output."""
    second = sorted(original.iterdir())[1]
    found: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for name in PACK_FILES:
        for path in _leaves(json.loads((second / name).read_bytes())):
            found.setdefault(name, {}).setdefault(path[0], []).append(path)
    return found


def _write_hostile(pack: Path, name: str, path: tuple[Any, ...], raw: str) -> None:
    doc = json.loads((pack / name).read_bytes())
    _replace(doc, path, PLACEHOLDER)
    text = pack_json(doc).decode("utf-8").replace(json.dumps(PLACEHOLDER, ensure_ascii=False), raw)
    data = text.encode("utf-8")
    (pack / name).write_bytes(data)
    if name in ("evidence_pack.json", "review.json"):
        return  # no digest covers them
    index = json.loads((pack / "evidence_pack.json").read_bytes())
    for artifact in index["artifacts"]:
        if artifact["name"] == name:
            artifact["digest"] = {"sha256": hashlib.sha256(data).hexdigest()}
            artifact["size"] = len(data)
    (pack / "evidence_pack.json").write_bytes(pack_json(index))


def _assert_contained(result: Result, command: str) -> None:
    """Exit 0, 1 or 2; no traceback; a failure is exactly one ``aiops: error:`` line."""
    where = f"{command}: exit {result.exit_code}\n{result.stderr[-3000:]}"
    assert result.exit_code in (0, 1, 2), where
    assert result.exception is None or isinstance(result.exception, SystemExit), where
    assert "Traceback" not in result.stderr, where
    errors = [line for line in result.stderr.splitlines() if line.startswith("aiops: error:")]
    if result.exit_code == 2:
        assert len(errors) == 1, where


def _commands(ledger: Path, first: Path, second: Path) -> dict[str, list[str]]:
    return {
        "verify-pack": ["verify-pack", str(ledger), "--json"],
        "pilot report --json": ["pilot", "report", *NOT_LIVE, str(ledger), "--json"],
        "pilot report": ["pilot", "report", *NOT_LIVE, str(ledger)],
        "pilot drift": ["pilot", "drift", str(first), str(second)],
        "review": ["review", str(second), "--approve", "--notes", "n", "--reviewer", "r"],
    }


def _check_pack_value(
    original: Path, workspace: Path, name: str, path: tuple[Any, ...], raw: str
) -> None:
    ledger = workspace / "evidence_packs"
    shutil.copytree(original, ledger)
    first, second = sorted(ledger.iterdir())
    _write_hostile(second, name, path, raw)
    for command, args in _commands(ledger, first, second).items():
        if command == "review" and name != "review.json":
            # The hostile pack is shown for review; a review is never overwritten, so
            # the one it had goes first (its fields were exercised by the others).
            (second / "review.json").unlink()
        _assert_contained(CliRunner().invoke(app, args), command)
    shutil.rmtree(workspace)


@pytest.mark.parametrize("name", PACK_FILES)
@_examples(12)
@given(data=st.data(), raw=json_values)
def test_a_hostile_value_in_any_pack_field_is_contained(
    original: Path,
    fields: dict[str, dict[str, list[tuple[Any, ...]]]],
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    data: st.DataObject,
    raw: str,
) -> None:
    key = data.draw(st.sampled_from(sorted(fields[name])), label="key")
    path = data.draw(st.sampled_from(fields[name][key]), label="field")
    _check_pack_value(original, tmp_path_factory.mktemp("ledger"), name, path, raw)


@pytest.mark.parametrize(
    ("name", "path", "raw"),
    [
        ("proposer_output.json", ("latency_ms",), "9" * 4000),
        ("proposer_output.json", ("cost_usd",), "1e400"),
        ("proposer_output.json", ("cost_usd",), "1e300"),
        ("proposer_output.json", ("usage", "input_tokens"), "9" * 4301),
        ("proposer_output.json", ("attempts", 0, "model_id"), '["gpt-5.2"]'),
        ("proposer_output.json", ("model_id",), '{"a": 1}'),
        ("critic_output.json", ("decision",), '["APPROVE"]'),
        ("critic_output.json", ("latency_ms",), "-1e308"),
        ("evidence_pack.json", ("sequence",), "9007199254740993"),
        ("review.json", ("review_started_at",), "[" * 5000 + "]" * 5000),
    ],
)
def test_hostile_values_found_before_stay_contained(
    original: Path, tmp_path: Path, name: str, path: tuple[Any, ...], raw: str
) -> None:
    """The values that crashed a command before (and their neighbours), every run."""
    _check_pack_value(original, tmp_path / "workspace", name, path, raw)


# --- configuration files ----------------------------------------------------------------

_ASSIGNMENT = re.compile(r"^(\s*[A-Za-z0-9_-]+\s*=\s*)(.+)$", re.MULTILINE)
CONFIG_FILES = (
    "model_registry.toml",
    "capability_scopes/L2_market_outlook.toml",
    "prompts/l2_market_outlook.toml",
)

toml_values = st.one_of(
    st.integers().map(str),
    st.integers(min_value=17, max_value=5000).map(_digits),
    st.floats().map(repr),  # "inf" and "nan" are TOML spellings too
    st.sampled_from(["inf", "-inf", "nan", "+nan", "1e309", "1e308", "-1e400", "0", "-1"]),
    st.text(max_size=40).map(lambda s: json.dumps(s)),
    st.integers(1, 2500).map(lambda n: "[" * n + "1" + "]" * n),
    st.integers(1, 400).map(lambda n: "{a = " * n + "1" + "}" * n),
)


@pytest.fixture(scope="module")
def config_lines() -> list[tuple[str, int]]:
    source = default_config_dir()
    return [
        (name, match.start(2))
        for name in CONFIG_FILES
        for match in _ASSIGNMENT.finditer((source / name).read_text())
    ]


@_examples(30)
@given(data=st.data(), raw=toml_values)
def test_a_hostile_value_in_any_config_field_is_contained(
    original: Path,
    config_lines: list[tuple[str, int]],
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
    raw: str,
) -> None:
    name, start = data.draw(st.sampled_from(config_lines), label="assignment")
    root = tmp_path_factory.mktemp("config")
    config = root / "config"
    shutil.copytree(default_config_dir(), config)
    text = (config / name).read_text()
    end = text.index("\n", start)
    (config / name).write_text(text[:start] + raw + text[end:])
    ledger = root / "evidence_packs"
    shutil.copytree(original, ledger)
    first, second = sorted(ledger.iterdir())
    commands = {
        "dry-run": ["l2", "dry-run", "--out", str(root / "dry")],
        "replay": ["l2", "replay", "--out", str(root / "replayed")],
        **_commands(ledger, first, second),
    }
    for command, args in commands.items():
        if command == "review":
            (second / "review.json").unlink()  # a review is never overwritten
        result = CliRunner().invoke(app, ["--config-dir", str(config), *args])
        _assert_contained(result, command)
    shutil.rmtree(root)
