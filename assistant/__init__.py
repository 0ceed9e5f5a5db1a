"""The assistant: search and answer over an index built by `ingest`."""
from ingest.errors import BadQuery, IndexMismatch, IndexNotFound, PolicyQAError

from .types import Answer, Citation, Document, Hit

__all__ = ["Assistant", "Answer", "Citation", "Document", "Hit", "PolicyQAError", "BadQuery",
           "IndexNotFound", "IndexMismatch"]


def __getattr__(name):
    # Importing the package stays cheap; the index and models load in Assistant.open.
    if name == "Assistant":
        from .core import Assistant
        return Assistant
    raise AttributeError(name)
