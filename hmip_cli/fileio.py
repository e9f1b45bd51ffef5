"""Every file hmip writes goes through here.

- Atomic: a temporary file beside the target, fsync, then one rename; a crash or Ctrl-C at
  any moment leaves the previous file intact. `atomic_write_files` does the same for a
  group of files (a Markdown report and its figures): all are written before any is moved
  into place, so a failure leaves none of them.
- Safe targets: hmip replaces only a regular file (or creates a new one). A symbolic link,
  FIFO, device, socket or directory is refused, and so is any path inside a store
  directory (outputs must not land in, or replace, the store). Usage errors, exit 2.
- Disk full: one message naming the device and the file (`WriteFailed`, exit 1); the
  temporary files and any folders created for the output are removed.
- Permissions: new files get 0o666 less the umask, as any new file would.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from hmip_cli.errors import BadRequest, HmipError, WriteFailed

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def _umask_mode() -> int:
    """The mode an ordinary new file gets here: 0o666 less the user's umask.

    Case data is sensitive: a user (or an organisation) with umask 077 expects files only
    they can read, so the mode follows the umask instead of a fixed 0o644.
    """
    current = os.umask(0)
    os.umask(current)
    return 0o666 & ~current


def atomic_write(
    path: Path,
    write: Callable[[Path], object],
    mode: int | None = None,
    *,
    into_store: bool = False,
) -> None:
    """Call `write(tmp_path)` on a temporary file beside `path`, then move it into place.

    temp file in the target directory -> write -> fsync -> chmod (mkstemp makes 0600; the
    final mode is `mode`, default 0o666 less the umask, as for any new file) -> os.replace
    -> fsync the directory. On any exception the temporary file (and any folder made for
    it) is removed and `path` is untouched. Only the store itself passes `into_store`.
    """
    _write_group([(Path(path), write)], mode, into_store)


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    atomic_write(path, _bytes_writer(data), mode)


def atomic_write_files(files: Sequence[tuple[Path, bytes]], mode: int | None = None) -> None:
    """Write several files all or nothing: each to a temporary file beside its target;
    only when every one is written are they moved into place (in the order given)."""
    _write_group([(Path(p), _bytes_writer(data)) for p, data in files], mode, False)


def _bytes_writer(data: bytes) -> Callable[[Path], object]:
    return lambda tmp: tmp.write_bytes(data)


def _write_group(
    files: Sequence[tuple[Path, Callable[[Path], object]]], mode: int | None, into_store: bool
) -> None:
    for path, _ in files:  # every target is checked before anything is written
        check_target(path, into_store=into_store)
    made: list[Path] = []  # folders created for the outputs, removed again on failure
    staged: list[tuple[Path, Path]] = []
    current = files[0][0]  # the file being written, for the message
    try:
        for current, write in files:
            made += _make_parents(current)
            staged.append((_stage(current, write, mode), current))
        for tmp, current in staged:
            _check_replaceable(current)  # again: it may have changed while we wrote
            os.replace(tmp, current)
    except BaseException as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        _raise_no_space(exc, current)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            # The error names our temporary file; the user needs their own path.
            raise WriteFailed(
                f"could not write {current}: {_reason(exc)}; nothing was changed"
            ) from None
        raise
    for folder in {path.parent for _, path in staged}:
        _fsync_dir(folder)


def _make_parents(path: Path) -> list[Path]:
    """Create the folders above `path` that are missing; return those created."""
    missing = []
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _raise_no_space(exc, path)
        # The destination cannot take a file (read-only, no permission, a file where a
        # folder should be): one clear message instead of a traceback; nothing written.
        raise BadRequest(f"cannot write {path}: {_reason(exc)}") from None
    return list(reversed(missing))


def _stage(path: Path, write: Callable[[Path], object], mode: int | None) -> Path:
    """`path`'s content written, fsynced and given its final mode, in a temporary file."""
    tmp = _temp_beside(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode() if mode is None else mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _temp_beside(path: Path) -> Path:
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        _raise_no_space(exc, path)
        raise BadRequest(f"cannot write {path}: {_reason(exc)}") from None
    os.close(fd)
    return Path(name)


def _reason(exc: OSError) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename:
        return f"{exc.filename} is a file, not a folder"
    return (exc.strerror or str(exc)).lower()  # the file name would be our temporary file's


# ---- which targets hmip may replace ----------------------------------------------------------

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_target(path: Path, *, into_store: bool = False, store: Path | None = None) -> None:
    """BadRequest unless `path` is a regular file or does not exist yet, and (unless
    `into_store`) lies outside every store directory (and outside `store`, a store about
    to be created). Does not follow a symbolic link at `path`; creates nothing."""
    path = Path(path)
    _check_replaceable(path)
    if into_store:
        return
    from hmip_cli import store as store_module

    here = Path(os.path.realpath(path.absolute().parent))  # non-strict: may not exist yet
    holder = store_module.store_holding(here)
    if holder is None and store is not None:
        mine = Path(os.path.realpath(store))
        holder = mine if here == mine or mine in here.parents else None
    if holder is not None:
        raise BadRequest(
            f"cannot write {path}: it is inside the store directory {holder}; hmip does not "
            "write outputs into a store: choose a file elsewhere"
        )


def _check_replaceable(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        return  # a file where a folder should be: said when the folder is made
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadRequest(
                f"cannot write {path}: a folder on the way is a symbolic link that loops"
            ) from None
        raise BadRequest(f"cannot write {path}: {_reason(exc)}") from None
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISDIR(st.st_mode):
        raise BadRequest(f"cannot write {path}: it is a directory; give a file name")
    if stat.S_ISLNK(st.st_mode):
        raise BadRequest(
            f"cannot write {path}: it is a symbolic link (to {os.readlink(path)}); hmip "
            "replaces only regular files: give the real path of the file"
        )
    kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
    raise BadRequest(
        f"cannot write {path}: it is {kind}, not a regular file; hmip replaces only regular "
        "files (to write to standard output, leave out --output)"
    )


def _real_folder(path: Path) -> Path:
    """The real path of the nearest existing folder above `path`."""
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return Path(os.path.realpath(parent))


def check_writable(path: Path, *, store: Path | None = None) -> None:
    """Raise BadRequest now, before any work, if `path` cannot be written: not a target
    hmip may replace (`check_target`), or its nearest existing folder is a file or not
    writable. Creates nothing."""
    path = Path(path)
    check_target(path, store=store)
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise BadRequest(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadRequest(f"cannot write {path}: permission denied ({parent})")


# ---- disk full -------------------------------------------------------------------------------


def is_no_space(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the disk or quota is full. Polars reports it
    as a ComputeError whose text ends "(os error 28)"; xlsxwriter wraps the OSError."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or isinstance(e, HmipError) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _NO_SPACE:
            return True
        text = str(e).lower()
        if "no space left on device" in text or "disk quota exceeded" in text:
            return True
        todo += [e.__cause__, e.__context__, *e.args]
    return False


def _raise_no_space(exc: BaseException, path: Path) -> None:
    if is_no_space(exc):
        raise WriteFailed(no_space_message(path)) from None


def no_space_message(path: Path | str | None, st_dev: int | None = None) -> str:
    """ "no space left on DEVICE while writing PATH" (DEVICE from /proc/self/mountinfo)."""
    what = "standard output" if path is None else str(path)
    if st_dev is None and path is not None:
        with contextlib.suppress(OSError):
            st_dev = os.stat(_real_folder(Path(path))).st_dev
    folder = None if path is None else _real_folder(Path(path))
    device = _device_name(st_dev, folder) if st_dev is not None else None
    unchanged = "" if path is None else "; nothing was changed"
    return (
        f"no space left on {device or 'the device'} while writing {what}{unchanged}: "
        "free some space and try again"
    )


def _device_name(st_dev: int, folder: Path | None) -> str | None:
    """'<source> (mounted at <mount point>)' for the filesystem `st_dev`, or None."""
    wanted = f"{os.major(st_dev)}:{os.minor(st_dev)}"
    best: tuple[int, str] | None = None
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) < 5 or len(extra) < 2 or fields[2] != wanted:
            continue
        mount = fields[4].replace("\\040", " ")
        inside = folder is None or folder == Path(mount) or Path(mount) in folder.parents
        score = len(mount) if inside else -1  # the deepest mount holding the folder
        if best is None or score > best[0]:
            best = (score, f"{extra[1]} (mounted at {mount})")
    return None if best is None else best[1]


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
