"""Outputs written through a temporary file and a rename look like any other write."""

import os
import stat

import pytest

from seqcast import atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_get_the_permissions_of_a_plain_write(tmp_path, umask_022):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic.write_text(tmp_path / "renamed.txt", "x")
    with atomic.atomic_dir(tmp_path / "folder") as tmp:
        atomic.write_json(tmp / "inner.json", {})
    (tmp_path / "plain_dir").mkdir()

    assert mode(tmp_path / "renamed.txt") == mode(plain) == 0o644
    assert mode(tmp_path / "folder") == mode(tmp_path / "plain_dir") == 0o755
    assert mode(tmp_path / "folder" / "inner.json") == 0o644


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic.write_text(tmp_path / "private.txt", "x")
        with atomic.atomic_dir(tmp_path / "private") as tmp:
            (tmp / "f").write_text("x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "private.txt") == 0o600
    assert mode(tmp_path / "private") == 0o700


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), atomic.atomic_path(tmp_path / "out.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []
