"""Reading packs back in tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def only_pack(ledger: Path = Path("evidence_packs")) -> Path:
    (pack,) = [p for p in ledger.iterdir() if not p.name.startswith(".")]
    return pack


def read(pack: Path, name: str) -> Any:
    return json.loads((pack / name).read_text())
