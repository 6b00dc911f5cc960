"""The served model across a pilot (threat T7, model drift): each change of the model a
provider says answered, per role and registry model, and each answer that did not match
the registry's pin. Read from the ``served`` object of the packs' output files; packs
written before it was recorded are passed over."""

from __future__ import annotations

from typing import Any

from aiops.evidence.reader import PackView

_SHOWN = 80  # a served name is the provider's text: shown printable and bounded


def served_model(doc: dict[str, Any] | None) -> str | None:
    served = doc.get("served") if isinstance(doc, dict) else None
    model = served.get("model") if isinstance(served, dict) else None
    return _shown(model) if isinstance(model, str) and model else None


def served_model_changes(views: list[PackView]) -> list[str]:
    """One line per change or mismatch, in ledger order: ``<day> <pack id>: …``."""
    last: dict[tuple[str, str], str] = {}
    lines: list[str] = []
    for view in views:
        where = f"{view.day} {view.index.evidence_pack_id}"
        for role, doc in (("proposer", view.proposer), ("critic", view.critic)):
            model_id = doc.get("model_id") if isinstance(doc, dict) else None
            served = served_model(doc)
            if not isinstance(model_id, str) or served is None:
                continue
            model_id = _shown(model_id)
            before = last.get((role, model_id))
            if before is not None and before != served:
                lines.append(f"{where}: {role} {model_id} served by {before} -> {served}")
            last[(role, model_id)] = served
            check = doc.get("served") if isinstance(doc, dict) else None
            if isinstance(check, dict) and check.get("matches") is False:
                expected = check.get("expected")
                lines.append(
                    f"{where}: {role} {model_id} served by {served}, expected "
                    f"{_shown(expected) if isinstance(expected, str) else '(unknown)'}"
                )
    return lines


def _shown(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text[:_SHOWN])
