"""SPSS `.sav`/`.zsav` and Stata `.dta` files read by pyreadstat **in a child process**.

pyreadstat (ReadStat, C) segfaults on some damaged files, even with `metadataonly=True`, and
no header check catches them all; in-process, `hmip` would die with exit 139 and no message.
So the reads run in one reader process per `hmip` process (`python -m hmip_cli.statfiles`,
started on first use, pyreadstat imported once): when it dies on a file, that becomes
`ReaderCrashed`, the caller's message names the file, and the next read starts a new one.
The frame comes back as an Arrow IPC temporary file, the metadata pickled on a pipe.
(Not `multiprocessing`: its children re-import the parent's `__main__`, i.e. all of hmip.)
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from typing import IO, Any, Literal

import polars as pl

Kind = Literal["sav", "dta"]
_LOCK = threading.Lock()
_SERVER: dict[str, subprocess.Popen[bytes]] = {}  # "reader": the running one, if any


class ReaderCrashed(Exception):
    """The reader process died (a signal) instead of reading or refusing the file."""


class ReaderFailed(Exception):
    """pyreadstat refused the file; the message is its own."""


def read_stat(kind: Kind, path: str, **options: Any) -> tuple[pl.DataFrame, Any]:
    """`pyreadstat.read_sav/read_dta(path, output_format="polars", **options)` in the reader
    process: (frame, metadata). Raises ReaderFailed (pyreadstat's error), ReaderCrashed,
    or MemoryError as the reader saw it."""
    with _LOCK, tempfile.TemporaryDirectory(prefix="hmip-stat-") as tmp:
        out = os.path.join(tmp, "frame.arrow")
        server = _SERVER.get("reader")
        if server is None or server.poll() is not None:
            server = _SERVER["reader"] = _start()
        assert server.stdin is not None and server.stdout is not None
        try:
            _send(server.stdin, (kind, path, out, options))
            status, payload = _receive(server.stdout)
        except (EOFError, OSError):  # it died on this file
            server.kill()
            code = server.wait()
            del _SERVER["reader"]
            raise ReaderCrashed(_death(kind, code)) from None
        if status == "memory":
            raise MemoryError(payload)
        if status == "error":
            raise ReaderFailed(payload)
        return pl.read_ipc(out), payload


def _start() -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", __name__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(_stop, server)
    return server


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None and server.stdin is not None:
        server.stdin.close()  # its read ends: it exits
        try:
            server.wait(timeout=2)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _death(kind: Kind, code: int | None) -> str:
    if code is not None and code < 0:
        try:
            what = f"signal {-code}, {signal.Signals(-code).name}"
        except ValueError:
            what = f"signal {-code}"
    else:
        what = f"exit {code}"
    fmt, article = ("SPSS", "an") if kind == "sav" else ("Stata", "a")
    return (
        f"the {fmt} reader crashed on this file ({what}); it is damaged or not {article} {fmt} file"
    )


def _send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    size = struct.unpack("<Q", head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def _serve() -> None:
    """The reader process: one request at a time until its stdin closes."""
    import pyreadstat

    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")  # the pipe; fd 1 itself goes nowhere, so nothing
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the C library prints can corrupt it
    while True:
        try:
            kind, path, out, options = _receive(requests)
        except EOFError:
            return
        try:
            with warnings.catch_warnings():  # pyreadstat warns about label types
                warnings.simplefilter("ignore")
                read = pyreadstat.read_sav if kind == "sav" else pyreadstat.read_dta
                frame, meta = read(path, output_format="polars", **options)
            frame.write_ipc(out, compression="uncompressed")
            reply: tuple[str, Any] = ("ok", meta)
        except MemoryError as exc:
            reply = ("memory", str(exc))
        except Exception as exc:  # noqa: BLE001 - any refusal is reported, by its message
            reply = ("error", str(exc).strip() or type(exc).__name__)
        _send(replies, reply)


if __name__ == "__main__":
    _serve()
