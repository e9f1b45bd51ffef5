"""Atomic file writes: a crash or Ctrl-C at any moment leaves the previous file intact."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from hmip_cli.errors import BadRequest


def _umask_mode() -> int:
    """The mode an ordinary new file gets here: 0o666 less the user's umask.

    Case data is sensitive: a user (or an organisation) with umask 077 expects files only
    they can read, so the mode follows the umask instead of a fixed 0o644.
    """
    current = os.umask(0)
    os.umask(current)
    return 0o666 & ~current


def atomic_write(path: Path, write: Callable[[Path], object], mode: int | None = None) -> None:
    """Call `write(tmp_path)` on a temporary file beside `path`, then move it into place.

    temp file in the target directory -> write -> fsync -> chmod (mkstemp makes 0600; the
    final mode is `mode`, default 0o666 less the umask, as for any new file) -> os.replace
    -> fsync the directory. On any exception the temporary file is removed and `path` is
    untouched.
    """
    path = Path(path)
    if path.is_dir():
        raise BadRequest(f"cannot write {path}: it is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        # The destination cannot take a file (read-only, no permission, a file where a folder
        # should be): one clear message instead of a traceback; nothing has been written.
        raise BadRequest(f"cannot write {path}: {_reason(exc)}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _reason(exc: OSError) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename:
        return f"{exc.filename} is a file, not a folder"
    return (exc.strerror or str(exc)).lower()  # the file name would be our temporary file's


def check_writable(path: Path) -> None:
    """Raise BadRequest now, before any work, if `path` cannot be written: it is a directory,
    or its nearest existing folder is a file or not writable. Creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise BadRequest(f"cannot write {path}: it is a directory; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise BadRequest(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadRequest(f"cannot write {path}: permission denied ({parent})")


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data), mode)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
