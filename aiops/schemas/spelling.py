"""One spelling of a JSON Schema, whatever Pydantic release generated it.

Pydantic releases spell the same schema differently: before 2.10 a ``Literal`` field
carried both ``const`` and ``enum``, and an integral float bound was written ``1.0``;
later releases write ``const`` alone and ``1``; later releases also mark an open
mapping (``dict[str, Any]``) ``additionalProperties: true``, which 2.7 leaves out. The
schemas aiops derives from its models go into requests (so into prompt hashes, which
replay fixtures are keyed by) and into the published files ``verify-pack`` reads, so
they are brought to one spelling:
a constant is ``enum: [value]``, an integral number is an integer, and
``additionalProperties: true`` (the default) is left out. The meaning is unchanged; JSON
Schema treats ``1.0`` and ``1`` as the same number.
"""

from __future__ import annotations

from typing import Any


def one_spelling(node: Any) -> Any:
    """A copy of the schema ``node`` in the one spelling described above."""
    if isinstance(node, dict):
        out = {key: one_spelling(value) for key, value in node.items()}
        if out.get("additionalProperties") is True:
            del out["additionalProperties"]
        if "const" in out:
            const = out.pop("const")
            out.setdefault("enum", [const])
        return out
    if isinstance(node, list):
        return [one_spelling(item) for item in node]
    if isinstance(node, float) and node.is_integer():
        return int(node)
    return node
