"""Dev secrets files under the state dir (codec keys, API tokens)."""

from __future__ import annotations

import os
from pathlib import Path


def create_private_once(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only, unless `path` already exists."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temp file, then link it into place: concurrent first starts agree on
    # one content and nobody ever reads a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
