"""The `policyqa` command line (a shell over `ingest` and `assistant`): cli/main.py."""
from .main import main

__all__ = ["main"]
