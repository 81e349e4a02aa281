"""Writing the publish folder: atomically, and only when the bytes change.

A feed file that is rewritten with the same bytes would get a new Last-Modified and ETag,
and every subscriber would download it again; so unchanged files are left alone. A changed
file is written to a temp file in the same folder and renamed over the old one, so a reader
sees either the old document or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from aggregator.errors import PublishError


def write_if_changed(path: Path, data: bytes) -> bool:
    """Make ``path`` hold ``data``; True if it was written, False if it already held it.

    Raises PublishError naming the path when the folder or file cannot be written.
    """
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass  # missing or unreadable: writing it says what is wrong
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, data)
    except OSError as e:
        raise PublishError(f"{path}: cannot write: {e.strerror or e}") from e
    return True


def _replace(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private; published files are for everyone to read.
        Path(temp).chmod(0o644)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def remove(path: Path) -> None:
    """Delete ``path`` if it exists. Raises PublishError naming it when it cannot be."""
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        raise PublishError(f"{path}: cannot remove: {e.strerror or e}") from e
