"""Every error the library raises on purpose. Shells (CLI, UI) translate these."""


class PolicyQAError(Exception):
    """Base class: the message is meant for the user and says what to do next."""


class FileSkipped(PolicyQAError):
    """A file could not be ingested; the batch goes on. str(e) is the one-line reason."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexNotFound(PolicyQAError):
    """No index at the given folder."""


class IndexMismatch(PolicyQAError):
    """The index was built differently (format version, embedding model) than expected."""


class BadIndexAddress(PolicyQAError, ValueError):
    """An `--index` value that names no backend correctly (milvus://HOST:PORT/COLLECTION, ...)."""


class IndexBusy(PolicyQAError):
    """Another process is writing this index."""


class EmbedderUnavailable(PolicyQAError):
    """The embedding model named in the settings or the manifest cannot be loaded."""


class BadQuery(PolicyQAError):
    """The question or query cannot be answered as given (empty, only punctuation, ...)."""


class UploadRejected(PolicyQAError):
    """Uploaded files cannot be taken (too many, too large, wrong type, bad name)."""


class BadEvalFile(PolicyQAError):
    """A question file (or question dict) that does not follow the evaluation format."""


class Forbidden(PolicyQAError):
    """The signed-in account (or anonymous visitor) may not do this; or the server will not
    call the address asked for."""


class AccountsError(PolicyQAError):
    """The accounts file is missing or malformed, or an account cannot be made as asked."""


def one_line(e: BaseException, limit: int = 120) -> str:
    """A short, single-line description of an exception for a skip reason."""
    lines = str(e).strip().splitlines()
    msg = lines[0] if lines else type(e).__name__
    return msg if len(msg) <= limit else msg[: limit - 1] + "…"
