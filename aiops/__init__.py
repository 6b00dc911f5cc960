"""aiops: governed LLM layer runs that leave evidence an auditor can verify offline."""

__version__ = "0.1.0"
