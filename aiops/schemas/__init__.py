"""Pydantic models of every file aiops reads or writes. All forbid unknown keys."""
