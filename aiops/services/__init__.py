"""Use cases, one module each. Services return typed results and never print."""
