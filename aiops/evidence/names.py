"""The names a pack directory may hold. Light on purpose: the verifier imports it.

``PACK_FILES`` are the files ``evidence_pack.json`` lists (plus itself);
``SIDECAR_FILES`` sit beside them but are never listed, because they are made from
the finished index (the signature envelope) or after it (the operator's review and
its signature envelope).
"""

from __future__ import annotations

EVIDENCE_PACK_FILE = "evidence_pack.json"
RUN_MANIFEST_FILE = "run_manifest.json"
OPERATOR_OUTPUT_FILE = "operator_output.md"
SOD_CHECK_FILE = "sod_check.json"
SCOPE_CHECK_FILE = "capability_scope_check.json"
PROPOSER_OUTPUT_FILE = "proposer_output.json"
CRITIC_OUTPUT_FILE = "critic_output.json"
TRANSCRIPT_FILE = "transcript.json"
WEB_SOURCES_FILE = "web_sources.json"  # what the proposer searched and cited

DSSE_ENVELOPE_FILE = "evidence_pack.dsse.json"
REVIEW_FILE = "review.json"
REVIEW_ENVELOPE_FILE = "review.dsse.json"  # the review's signature, when a key signs

# Every name a pack may hold that evidence_pack.json lists (and the index itself).
PACK_FILES = frozenset(
    {
        EVIDENCE_PACK_FILE,
        RUN_MANIFEST_FILE,
        OPERATOR_OUTPUT_FILE,
        SOD_CHECK_FILE,
        SCOPE_CHECK_FILE,
        PROPOSER_OUTPUT_FILE,
        CRITIC_OUTPUT_FILE,
        TRANSCRIPT_FILE,
        WEB_SOURCES_FILE,
    }
)

# Files beside the listed ones, never listed in evidence_pack.json.
SIDECAR_FILES = frozenset({DSSE_ENVELOPE_FILE, REVIEW_FILE, REVIEW_ENVELOPE_FILE})

KNOWN_FILES = PACK_FILES | SIDECAR_FILES
