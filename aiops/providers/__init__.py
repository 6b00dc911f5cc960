"""Model clients, one module per API kind, all behind ``ModelClient``."""
