"""Input files against the capability scope's allowed and forbidden globs.

A path is judged by where it really is: symlinks and ``..`` are resolved first and the
glob is matched against the real path relative to the working directory (or, for the
shipped samples, relative to aiops' packaged data root). Forbidden wins over allowed,
and the name as given is checked against the forbidden globs too, so neither a link
to ``.env`` nor a link named ``.env`` gets through. Anything outside both roots is
refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aiops.canonical import require_utf8, sha256_hex
from aiops.errors import GovernanceError, UsageError
from aiops.evidence.strict import read_text_file
from aiops.prompts import InputText
from aiops.resources import data_root
from aiops.schemas.manifest import InputEntry, InputPackEntry
from aiops.schemas.scope import CapabilityScope
from aiops.settings import working_directory

MAX_INPUT_BYTES = 1024 * 1024  # per file; inputs go into the prompt verbatim


class InputNotAllowedError(GovernanceError):
    """An input path the capability scope does not allow (exit 2, nothing sent)."""


@dataclass(frozen=True)
class CheckedInput:
    entry: InputEntry | InputPackEntry  # a file, or a pack (aiops.services.input_packs)
    text: InputText


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``**`` spans directories, ``*`` and ``?`` stay within one path segment."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(path: str, patterns: list[str]) -> str | None:
    """The first pattern matching the POSIX relative ``path``, or None."""
    for pattern in patterns:
        if _glob_regex(pattern).match(path):
            return pattern
    return None


def _relative(real: Path, base: Path) -> str | None:
    """``real`` relative to the packaged data root when it is one of the shipped samples
    under its ``fixtures/`` (checked first: aiops may be installed in a virtual
    environment inside the working directory), else relative to the working directory."""
    shipped = data_root().resolve()
    if real.is_relative_to(shipped / "fixtures"):
        return real.relative_to(shipped).as_posix()
    if real.is_relative_to(base):
        return real.relative_to(base).as_posix()
    return None


def check_inputs(
    paths: list[Path], scope: CapabilityScope, cwd: Path | None = None
) -> list[CheckedInput]:
    """Check, read and hash every input; the first refused path raises (exit 2)."""
    base = (cwd or working_directory()).resolve()
    checked: list[CheckedInput] = []
    seen: set[str] = set()
    scope_id = scope.scope.scope_id
    for given in paths:
        # The name as given (not resolved): a link called ".env" is refused by name.
        hit = glob_match(given.as_posix().lstrip("/"), scope.inputs.forbidden) or glob_match(
            given.name, scope.inputs.forbidden
        )
        if hit:
            raise InputNotAllowedError(
                f"input {given} is forbidden by {scope_id} (inputs.forbidden {hit!r})"
            )
        try:
            real = given.resolve(strict=True)
        except FileNotFoundError:
            raise UsageError(f"input {given} does not exist") from None
        except (OSError, RuntimeError) as exc:
            raise UsageError(f"input {given} cannot be resolved: {exc}") from None
        rel = _relative(real, base)
        if rel is None:
            raise InputNotAllowedError(
                f"input {given} resolves outside the working directory; "
                f"{scope_id} allows only paths under it"
            )
        require_utf8(rel, "an --input path")  # the manifest records it
        hit = glob_match(rel, scope.inputs.forbidden)
        if hit:
            raise InputNotAllowedError(
                f"input {given} (really {rel}) is forbidden by {scope_id} "
                f"(inputs.forbidden {hit!r})"
            )
        if not glob_match(rel, scope.inputs.allowed):
            raise InputNotAllowedError(
                f"input {given} (really {rel}) is not in {scope_id}'s inputs.allowed"
            )
        if rel in seen:
            raise UsageError(f"input {given} is given twice")
        seen.add(rel)
        # never a FIFO (it would block) or a device; never read past the bound
        data, text = read_text_file(real, max_bytes=MAX_INPUT_BYTES, what=f"input {given}")
        checked.append(
            CheckedInput(
                entry=InputEntry(path=rel, sha256=sha256_hex(data), size=len(data)),
                text=InputText(path=rel, text=text),
            )
        )
    return checked
