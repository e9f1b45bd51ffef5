"""Atomic writes: the file appears whole or not at all, with the permissions the umask asks for."""

from __future__ import annotations

import os
import stat

import pytest

from hmip_cli.fileio import atomic_write, atomic_write_bytes


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640)])
def test_new_files_follow_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        target = tmp_path / "out.bin"
        atomic_write_bytes(target, b"data")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == expected
    assert target.read_bytes() == b"data"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write_bytes(target, b"old")

    def boom(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
