"""Writing the publish folder: atomically, only when the bytes change, and into the manifest.

A feed file that is rewritten with the same bytes would get a new Last-Modified and ETag,
and every subscriber would download it again; so unchanged files are left alone. A changed
file is written to a temp file in the same folder and renamed over the old one, so a reader
sees either the old document or the new one, never half of one.

``Folder`` keeps the publish manifest (the store's ``published_files``): which files are
Wiredesk's, the sha256 and stat of the bytes it wrote, the story ids each lists and the
config it was built for. Whether a listed file is still intact costs a stat, and a hash
only when the stat differs; nothing is learned by reading the published documents back.

A file's mtime, which the server sends as Last-Modified, is not the moment this node wrote
it but the moment its bytes first appeared on any node (``stamp``, from the store's
``file_times``): nodes writing the same bytes seconds apart then give the same
Last-Modified, and a reader's If-Modified-Since gets 304 from every node, as its
If-None-Match does (the ETag is the bytes' digest). A time read from the content (a feed's
newest story) would serve feeds, but not the stylesheet, OPML and pages, nor a feed that
changed because a story left it; the first appearance moves on with every new version of
any file. Bytes that come back to an earlier version of a file get that version's time
again, older than the version in between: a reader that sends only If-Modified-Since may
keep the version in between until the file changes once more.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.errors import PublishError
from aggregator.models import PublishedFile

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Folder:
    """The publish folder as the manifest knows it. Writes go through ``write`` and
    ``remove``; ``changes`` and ``removed`` are then what the store must record."""

    def __init__(self, root: Path, manifest: Mapping[str, PublishedFile]) -> None:
        self.root = root
        self.manifest = dict(manifest)  # as this publish leaves it
        self._stored = manifest  # as the store holds it
        self.written: list[str] = []
        self.unchanged: list[str] = []
        self.removed: list[str] = []
        self.changes: dict[str, PublishedFile] = {}  # manifest rows new or different
        self._intact: dict[str, bool] = {}
        self._done: set[str] = set()

    def lists(self, name: str) -> tuple[str, ...]:
        """The story ids ``name`` listed when it was last written; () when not ours."""
        entry = self.manifest.get(name)
        return entry.lists if entry else ()

    def current(self, name: str, built_for: str) -> bool:
        """True when ``name`` is ours, was built for ``built_for`` and is intact on disk."""
        entry = self.manifest.get(name)
        return entry is not None and entry.built_for == built_for and self.intact(name)

    def intact(self, name: str) -> bool:
        """True when the file ``name`` still holds the bytes the manifest records for it:
        its size and mtime match, or else its sha256 does. False when missing or not ours."""
        if name not in self._intact:
            self._intact[name] = self._check(name)
        return self._intact[name]

    def done(self, name: str) -> bool:
        """True when ``name`` was already written (or found right) by this publish."""
        return name in self._done

    def write(
        self, name: str, data: bytes, *, lists: Sequence[str] = (), built_for: str = ""
    ) -> None:
        """Make the file ``name`` hold ``data`` and enter it in the manifest with the story
        ids it ``lists`` and the config digest it was ``built_for``.

        Raises PublishError naming the path when it cannot be written.
        """
        path = self.root / name
        digest = hashlib.sha256(data).hexdigest()
        entry = self.manifest.get(name)
        if entry is not None and entry.sha256 == digest and self.intact(name):
            changed, entry = False, self.manifest[name]  # intact() may have refreshed it
        else:
            changed = write_if_changed(path, data)
            entry = _entry(name, path, digest)
        (self.written if changed else self.unchanged).append(name)
        self._done.add(name)
        self._enter(replace(entry, lists=tuple(lists), built_for=built_for))

    def remove(self, name: str) -> None:
        """Delete the file ``name`` and drop it from the manifest.

        Raises PublishError naming the path when it cannot be removed."""
        remove(self.root / name)
        self.manifest.pop(name, None)
        self.changes.pop(name, None)
        self.removed.append(name)

    def found(self) -> dict[datetime, list[str]]:
        """The files this publish found already right on disk that the manifest did not
        list (a new node, a copied folder), by their mtime: the disk's own, not yet their
        bytes' first appearance."""
        found: dict[datetime, list[str]] = {}
        written = set(self.written)
        for name, entry in self.changes.items():
            if name not in self._stored and name not in written:
                when = EPOCH + timedelta(microseconds=entry.mtime_ns // 1000)
                found.setdefault(when, []).append(name)
        return found

    def stamp(self, times: Mapping[str, datetime]) -> None:
        """Give each file of ``times`` (those this publish wrote, and those it ``found``)
        that mtime (its bytes' first appearance), entering the new stat in the manifest.

        Raises PublishError naming the path when it cannot be changed."""
        for name, when in times.items():
            entry = self.manifest.get(name)
            if entry is None:
                continue
            ns = (when - EPOCH) // timedelta(microseconds=1) * 1000
            if entry.mtime_ns == ns:
                continue
            path = self.root / name
            try:
                os.utime(path, ns=(ns, ns))
            except OSError as e:
                raise PublishError(f"{path}: cannot set its time: {e.strerror or e}") from e
            self._enter(replace(entry, mtime_ns=ns))

    def _check(self, name: str) -> bool:
        entry = self.manifest.get(name)
        if entry is None:
            return False
        path = self.root / name
        try:
            info = path.stat()
            if (info.st_size, info.st_mtime_ns) == (entry.size, entry.mtime_ns):
                return True
            with path.open("rb") as file:
                intact = hashlib.file_digest(file, "sha256").hexdigest() == entry.sha256
        except OSError:
            return False
        if intact:  # the same bytes under a new stat (a copied folder): remember it
            self._enter(replace(entry, size=info.st_size, mtime_ns=info.st_mtime_ns))
        return intact

    def _enter(self, entry: PublishedFile) -> None:
        self.manifest[entry.name] = entry
        if self._stored.get(entry.name) == entry:
            self.changes.pop(entry.name, None)
        else:
            self.changes[entry.name] = entry


def _entry(name: str, path: Path, digest: str) -> PublishedFile:
    """The manifest row of the file just written at ``path``."""
    try:
        info = path.stat()
    except OSError as e:
        raise PublishError(f"{path}: cannot read back: {e.strerror or e}") from e
    return PublishedFile(name=name, sha256=digest, size=info.st_size, mtime_ns=info.st_mtime_ns)


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
    import tempfile  # loads only when a file is written, not on a pass with nothing new

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
