"""The two ways a real server's Chat Completions ``content`` wraps the JSON answer, and
the only ones undone (DESIGN.md "Model output contract").

DeepSeek-R1 through Ollama, or vLLM and llama.cpp started without a reasoning parser,
put the ``<think>…</think>`` block at the start of ``content``; chat models in JSON mode
often put the answer in one Markdown code fence. Anything looser (text around the
fence, two fences, a think block not at the start) is left as it is, and the JSON
reader then fails closed.

Pure ``re``, no other import: verify-pack re-derives ``answer_text`` and
``normalisations`` from ``output_text`` with this same function.
"""

from __future__ import annotations

import re

THINK_BLOCK = "think_block"  # a leading <think>…</think> block: reasoning, not answer
CODE_FENCE = "code_fence"  # one Markdown code fence around the whole answer

# At the very start of the content; the block ends at the first closing tag.
_THINK = re.compile(r"<think>(.*?)</think>\s*", re.DOTALL)
# The whole (remaining) answer: an opening fence with no language tag or ``json``, the
# body, a closing fence; only whitespace around it. The body may hold no other fence.
_FENCE = re.compile(r"\s*```(?:json|JSON)?[ \t]*\r?\n(.*?)\r?\n?```\s*", re.DOTALL)


def unwrap(content: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    """``(answer, think, normalisations)`` for a Chat Completions ``content``.

    ``answer`` is ``None`` when the content is taken as it stands (no known wrapper);
    ``think`` is the leading think block's text. Only a think block at position 0 and
    a single fence spanning the whole rest are undone."""
    answer, think, applied = content, None, []
    block = _THINK.match(content)
    if block is not None:
        think, answer = block.group(1).strip(), content[block.end() :]
        applied.append(THINK_BLOCK)
    fence = _FENCE.fullmatch(answer)
    if fence is not None and "```" not in fence.group(1):
        answer = fence.group(1)
        applied.append(CODE_FENCE)
    if not applied:
        return None, None, ()
    return answer, think or None, tuple(applied)
