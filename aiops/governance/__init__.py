"""Governance controls: separation of duties, autonomy, model lifecycle, capability scope."""
