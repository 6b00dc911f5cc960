"""Verification opens nothing outside the pack, whatever names and links it holds."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiops.services.verify_pack import VerifyOptions, verify
from tests.evidence.builders import model_pack, rewrite_json

AUDIT_SCRIPT = """
import json, sys
from pathlib import Path
from aiops.services.verify_pack import VerifyOptions, verify

verify(VerifyOptions(Path(sys.argv[1])))  # warm up: modules and schemas are loaded now
seen = []

def hook(event, args):
    if event in ("open", "os.scandir", "os.listdir", "os.chdir", "os.symlink"):
        seen.append([event, args[0] if isinstance(args[0], (str, int)) else repr(args[0])])

sys.addaudithook(hook)
report = verify(VerifyOptions(Path(sys.argv[2]))).report
print(json.dumps({"verified": report.verified, "seen": seen}))
"""


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A pack whose entries point outside it in every way the verifier must resist."""
    pack = model_pack(tmp_path / "packs" / "hostile")
    secret = tmp_path / "secret.json"
    secret.write_bytes((pack / "sod_check.json").read_bytes())
    (pack / "sod_check.json").unlink()
    (pack / "sod_check.json").symlink_to(secret)  # same bytes, outside
    (pack / "run_manifest.json").unlink()
    (pack / "run_manifest.json").symlink_to("../../secret.json")
    (pack / "extra-link").symlink_to("/etc/hostname")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    size = secret.stat().st_size

    def point_outside(index: dict[str, Any]) -> None:
        for name in ("../../secret.json", str(secret), "/etc/passwd"):
            index["artifacts"].append({"name": name, "digest": {"sha256": digest}, "size": size})

    rewrite_json(pack / "evidence_pack.json", point_outside)
    return pack


def test_every_open_resolves_inside_the_pack(
    hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = model_pack(tmp_path / "warm" / "warm")
    verify(VerifyOptions(warm))  # modules and generated schemas are loaded now
    opened: list[str] = []
    real_open, real_builtin_open, real_scandir = os.open, builtins.open, os.scandir

    def where(path: int | str | os.PathLike[str], dir_fd: int | None) -> str:
        if isinstance(path, int):
            return os.readlink(f"/proc/self/fd/{path}")
        if dir_fd is not None:
            return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        return os.path.abspath(path)

    def spy_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        opened.append(where(path, dir_fd))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    def spy_builtin_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(where(file, None))
        return real_builtin_open(file, *args, **kwargs)

    def spy_scandir(path: Any = ".") -> Any:
        opened.append(where(path, None))
        return real_scandir(path)

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(builtins, "open", spy_builtin_open)
    monkeypatch.setattr(os, "scandir", spy_scandir)
    report = verify(VerifyOptions(hostile)).report
    monkeypatch.undo()
    assert not report.verified
    assert opened, "the spies saw nothing: the test would prove nothing"
    inside = str(hostile.resolve())
    outside = [path for path in opened if not (path == inside or path.startswith(inside + "/"))]
    assert outside == []
    statuses = {f.name: f.status for f in report.packs[0].files}
    assert statuses["sod_check.json"] == "NOT_REGULAR"
    assert statuses["../../secret.json"] == "BAD_NAME"
    assert statuses["/etc/passwd"] == "BAD_NAME"


def test_audit_hook_sees_no_open_outside_the_pack(hostile: Path, tmp_path: Path) -> None:
    warm = model_pack(tmp_path / "warm" / "warm")
    done = subprocess.run(
        [sys.executable, "-c", AUDIT_SCRIPT, str(warm), str(hostile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["verified"] is False
    opens = [target for event, target in result["seen"] if event == "open"]
    assert opens, "no open was audited: the test would prove nothing"
    for target in opens:
        if isinstance(target, int):
            continue  # a descriptor already open (the pack directory's)
        if os.path.isabs(target):
            assert target == str(hostile) or target.startswith(str(hostile) + "/"), target
        else:
            assert "/" not in target, target  # plain names, opened relative to the pack fd
    assert all(event != "os.chdir" for event, _ in result["seen"])
