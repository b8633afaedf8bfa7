"""Dev secrets files under the state dir (codec keys, API tokens): owner-only, in a state dir
created owner-only, and refused when anyone else could have read or planted them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
OTHERS = 0o077
"""Permission bits of the group and of everyone else."""


class PrivateFileError(PermissionError):
    """A secrets file others could read, or one another user owns."""


def private_dir(path: Path) -> None:
    """Create `path` (the state dir) owner-only if it is missing: it holds the dev secrets, the
    local stack's database and its logs. An existing one is left as it is: run as root, the
    embedded PostgreSQL's own user must traverse it, and its wheel opens it up for that."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        return
    path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask; be exact


def read_private(path: Path) -> str:
    """The text of an owner-only secrets file. Refused if others may read it (a copied key or
    token is a leaked one) or another user owns it (a planted one would be trusted); the file
    checked is the one read (its open descriptor), not whatever the path names a moment later."""
    with path.open() as f:
        _refuse_if_shared(path, os.fstat(f.fileno()))
        return f.read()


def create_private_once(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only, unless `path` already exists."""
    if path.exists():
        return
    private_dir(path.parent)
    # Write a private temp file, then link it into place: concurrent first starts agree on
    # one content and nobody ever reads a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def replace_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only, replacing it in one step."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _refuse_if_shared(path: Path, found: os.stat_result) -> None:
    if found.st_uid != os.getuid():
        raise PrivateFileError(_not_owned(path, found))
    mode = stat.S_IMODE(found.st_mode)
    if mode & OTHERS:
        raise PrivateFileError(
            f"{path} has mode {mode:#o}, open to its group or other users: its secrets may have "
            f"leaked. If they have not, make it owner-only: chmod 600 {path}"
        )


def _not_owned(path: Path, found: os.stat_result) -> str:
    mode = stat.S_IMODE(found.st_mode)
    return (
        f"{path} (mode {mode:#o}) is owned by uid {found.st_uid}, not by this user "
        f"(uid {os.getuid()}): its secrets cannot be trusted"
    )
