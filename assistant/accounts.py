"""Accounts of the web app: a JSON file of names, roles and scrypt password hashes.

    {"version": 1, "users": {"wang": {"role": "librarian", "password": "scrypt$16384$8$1$<salt>$<hash>"}}}

Roles: a reader may chat, search, look terms up and view documents; a librarian may also
upload and remove documents. `policyqa user add NAME --role ROLE --auth FILE` writes the
file (mode 600). A server re-reads it when it changes, so a removed account stops working
at its next request, even with a session already open.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from pathlib import Path

from ingest.errors import AccountsError, Forbidden

ROLES = {"reader": frozenset({"read"}), "librarian": frozenset({"read", "write"})}
ROLE_NAMES = {"reader": "读者 reader", "librarian": "馆员 librarian"}
MIN_PASSWORD = 8
_NAME = re.compile(r"[\w.@-]{1,64}")
# scrypt at n=2**14, r=8: 16 MB and ~50 ms per check (the standard library's own limits).
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(_unb64(key)), maxmem=2**26)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(key))


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


@functools.lru_cache(maxsize=1)
def _dummy() -> str:
    return hash_password(secrets.token_hex(8))      # unknown names cost as much as known ones


class Accounts:
    """The accounts in one file; thread-safe, re-read when the file changes."""

    def __init__(self, path: str | Path, *, create: bool = False):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._users: dict[str, dict] = {}
        if create and not self.path.exists():
            return
        self._users = self._read()

    # -- reading ------------------------------------------------------------------------
    def _read(self) -> dict[str, dict]:
        try:
            st = self.path.stat()
            doc = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            raise AccountsError(f"no accounts file at {self.path}: create it with "
                                f"`policyqa user add NAME --role librarian --auth {self.path}`") from None
        except (OSError, ValueError) as e:
            raise AccountsError(f"accounts file {self.path} is unreadable ({e})") from None
        users = doc.get("users") if isinstance(doc, dict) else None
        if not isinstance(users, dict) or not all(
                isinstance(u, dict) and u.get("role") in ROLES and isinstance(u.get("password"), str)
                for u in users.values()):
            raise AccountsError(f"accounts file {self.path} is not in the expected form "
                                '({"version": 1, "users": {NAME: {"role", "password"}}})')
        self._stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        return users

    def _current(self) -> dict[str, dict]:
        """The users as the file says now; the last good copy if it cannot be read."""
        with self._lock:
            try:
                st = self.path.stat()
                if (st.st_mtime_ns, st.st_size, st.st_ino) != self._stamp:
                    self._users = self._read()
            except (OSError, AccountsError):
                self._users = {}                 # the file is gone or broken: nobody gets in
            return self._users

    def verify(self, name: str, password: str) -> bool:
        user = self._current().get(name)
        ok = check_password(password or "", user["password"] if user else _dummy())
        return ok and user is not None

    def role(self, name: str | None) -> str | None:
        user = self._current().get(name or "")
        return user["role"] if user else None

    def names(self) -> list[tuple[str, str]]:
        return sorted((n, u["role"]) for n, u in self._current().items())

    # -- writing -----------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str) -> None:
        """Create or replace an account (a new password or role for an existing name)."""
        if not _NAME.fullmatch(name or ""):
            raise AccountsError("an account name is 1-64 letters, digits or . _ @ - (no spaces)")
        if role not in ROLES:
            raise AccountsError(f"role must be one of {', '.join(ROLES)}")
        if len(password or "") < MIN_PASSWORD:
            raise AccountsError(f"the password must have at least {MIN_PASSWORD} characters")
        users = dict(self._users)
        users[name] = {"role": role, "password": hash_password(password)}
        self._write(users)

    def remove(self, name: str) -> None:
        if name not in self._users:
            raise AccountsError(f"no account {name!r} in {self.path}")
        self._write({n: u for n, u in self._users.items() if n != name})

    def _write(self, users: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".accounts-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)                   # password hashes: the owner only
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "users": users}, f, ensure_ascii=False, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._users = users
        self._stamp = None


def authorize(accounts: Accounts | None, user: str | None, action: str) -> None:
    """Raise Forbidden unless `user` may do `action` ("read" or "write"). Without accounts
    (a server for one's own machine) everyone may do everything."""
    if accounts is None:
        return
    role = accounts.role(user)
    if role is None:
        raise Forbidden("请先登录（或账号已被删除）。 Sign in first (or this account no longer exists).")
    if action not in ROLES[role]:
        raise Forbidden("上传和删除文件需要馆员（librarian）权限，请联系管理员。"
                        " Uploading and removing documents needs the librarian role; ask the administrator.")
