"""The served model across a pilot (threat T7, model drift): each change of the model a
provider says answered, per role and registry model, and each answer that did not match
the registry's pin. Read from the ``served`` object of the packs' output files; packs
written before it was recorded are passed over."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiops.evidence.reader import PackView

if TYPE_CHECKING:
    from aiops.services.pilot_facts import PackFacts

_SHOWN = 80  # a served name is the provider's text: shown printable and bounded


def served_model(doc: dict[str, Any] | None) -> str | None:
    served = doc.get("served") if isinstance(doc, dict) else None
    model = served.get("model") if isinstance(served, dict) else None
    return _shown(model) if isinstance(model, str) and model else None


@dataclass(frozen=True)
class Served:
    """Who served one call of a pack: the registry model and the provider's name for
    the model that answered (both shown printable), and what the pin expected when the
    answer did not match it (``"(unknown)"`` when the pin is not recorded)."""

    role: str
    model_id: str
    served: str
    expected: str | None  # None: the answer matched its pin, or no pin was checked


def served_of(view: PackView) -> Iterator[Served]:
    for role, doc in (("proposer", view.proposer), ("critic", view.critic)):
        model_id = doc.get("model_id") if isinstance(doc, dict) else None
        served = served_model(doc)
        if not isinstance(model_id, str) or served is None:
            continue
        check = doc.get("served") if isinstance(doc, dict) else None
        expected = None
        if isinstance(check, dict) and check.get("matches") is False:
            pin = check.get("expected")
            expected = _shown(pin) if isinstance(pin, str) else "(unknown)"
        yield Served(role, _shown(model_id), served, expected)


def served_model_changes(packs: Sequence[PackFacts]) -> list[str]:
    """One line per change or mismatch, in ledger order: ``<day> <pack id>: …``."""
    last: dict[tuple[str, str], str] = {}
    lines: list[str] = []
    for pack in packs:
        where = f"{pack.day} {pack.pack_id}"
        for call in pack.served:
            before = last.get((call.role, call.model_id))
            if before is not None and before != call.served:
                lines.append(
                    f"{where}: {call.role} {call.model_id} served by {before} -> {call.served}"
                )
            last[(call.role, call.model_id)] = call.served
            if call.expected is not None:
                lines.append(
                    f"{where}: {call.role} {call.model_id} served by {call.served}, expected "
                    f"{call.expected}"
                )
    return lines


def _shown(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text[:_SHOWN])
