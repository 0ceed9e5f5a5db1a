"""Which files an ingest reads: the paths named, and the files under the folders named.

File systems hold more than files: symbolic links that loop, lead nowhere or lead out of
the folder, folders that cannot be read. Each such entry becomes a skip with its reason;
nothing here raises. A link leading outside the folder being ingested is not followed
unless `follow_links` (a folder of documents must not pull in /etc/passwd); paths named
directly are the caller's choice and are always taken, and so is a folder named that holds
nothing but links to files (`ln -s` of each document: a selection made by hand, as
../shared/tools/dev_eval.sh makes its Chinese-only folder) -- a planted link sits among
real documents.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .meta import is_sidecar, left_out


@dataclass
class Walked:
    files: list[Path] = field(default_factory=list)     # sorted within each folder, de-duplicated
    folders: list[Path] = field(default_factory=list)   # the folders walked (real paths)
    skipped: list[dict] = field(default_factory=list)   # {"path", "reason"}


def walk(paths, *, follow_links: bool = False) -> Walked:
    out = Walked()
    seen: dict[str, Path] = {}               # real path -> the path it was found as
    for p in map(Path, paths):
        if os.path.isdir(p):
            root = os.path.realpath(p)
            out.folders.append(Path(root))
            _walk_folder(p, root, follow_links or _only_file_links(p), seen, out, {root})
        elif os.path.lexists(p):
            seen.setdefault(os.path.realpath(p), p)    # the loader reports what is wrong with it
        else:
            out.skipped.append({"path": str(p), "reason": "no such file or folder"})
    out.files = list(seen.values())
    return out


def _only_file_links(folder: Path) -> bool:
    """Whether the folder holds links to regular files and nothing else (dotfiles and sidecars aside)."""
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if not e.name.startswith(".") and not is_sidecar(Path(e.path))]
    except OSError:
        return False
    try:
        return bool(entries) and all(e.is_symlink() and stat.S_ISREG(os.stat(e.path).st_mode) for e in entries)
    except OSError:                  # a dangling or looping link: not a hand-made selection
        return False


def _walk_folder(folder: Path, root: str, follow: bool, seen: dict, out: Walked, visited: set[str]) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        out.skipped.append({"path": str(folder), "reason": f"cannot read folder ({e.strerror or e})"})
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith(".") or is_sidecar(path):
            continue
        if entry.is_symlink():
            _link(path, root, follow, seen, out, visited)
        elif entry.is_dir(follow_symlinks=False):
            _walk_folder(path, root, follow, seen, out, visited)
        elif not (entry.is_file(follow_symlinks=False) and left_out(path)):
            # Unsupported files, FIFOs and devices too: the loader says why it skips them.
            seen.setdefault(os.path.realpath(path), path)


def _link(path: Path, root: str, follow: bool, seen: dict, out: Walked, visited: set[str]) -> None:
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            reason = "symbolic link loop (the link leads back to itself)"
        elif e.errno == errno.ENOENT:
            reason = "broken symbolic link (its target is missing)"
        else:
            reason = f"cannot follow symbolic link ({e.strerror or e})"
        out.skipped.append({"path": str(path), "reason": reason})
        return
    target = os.path.realpath(path)
    inside = target == root or target.startswith(root.rstrip(os.sep) + os.sep)
    if stat.S_ISDIR(st.st_mode):
        if target in visited:
            return                             # a link back to a folder on this walk: already read
        if inside or follow:
            if follow:
                _walk_folder(path, root, follow, seen, out, visited | {target})
            return                             # inside: its files are reached directly
    elif inside or follow:
        seen.setdefault(target, path)
        return
    out.skipped.append({"path": str(path), "reason": f"symbolic link to {target}, outside the folder "
                                                      "being ingested: not followed (--follow-links)"})
