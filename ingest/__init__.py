"""Ingest: turn policy files into an index folder (see ingest/store.py for its layout)."""
from .errors import FileSkipped, IndexBusy, IndexMismatch, IndexNotFound, PolicyQAError

__all__ = ["ingest", "remove", "IngestSummary", "PolicyQAError", "FileSkipped", "IndexNotFound",
           "IndexMismatch", "IndexBusy"]


def __getattr__(name):
    # The pipeline pulls in numpy, faiss and the models: import it only when asked for.
    if name in ("ingest", "remove", "IngestSummary"):
        from . import pipeline
        return getattr(pipeline, name)
    raise AttributeError(name)
