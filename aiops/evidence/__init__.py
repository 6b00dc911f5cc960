"""Evidence packs: write, hash, chain, sign and verify."""
