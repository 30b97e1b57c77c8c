"""Atomic outputs: whole or nothing, and no silent overwrite."""

import os

import pytest

from ecr_hf.utils import OutputExistsError, atomic_write_folder, atomic_write_text


def test_atomic_write_text_refuses_then_overwrites(tmp_path):
    path = tmp_path / "sub" / "out.json"
    atomic_write_text(path, "one\n")
    assert path.read_text() == "one\n"
    with pytest.raises(OutputExistsError, match="overwrite"):
        atomic_write_text(path, "two\n")
    assert path.read_text() == "one\n"
    atomic_write_text(path, "two\n", overwrite=True)
    assert path.read_text() == "two\n"
    assert sorted(os.listdir(path.parent)) == ["out.json"]  # no temporary file left


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_text("previous\n")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_text(path, "x" * 10_000, overwrite=True)
    assert path.read_text() == "previous\n"
    assert os.listdir(tmp_path) == ["out.json"]


def test_atomic_write_folder_replaces_whole(tmp_path, monkeypatch):
    folder = tmp_path / "splits"
    atomic_write_folder(folder, {f"fold{k}/test.jsonl": f"{k}\n" for k in range(5)})
    assert sorted(os.listdir(folder)) == [f"fold{k}" for k in range(5)]
    with pytest.raises(OutputExistsError, match="not empty"):
        atomic_write_folder(folder, {"fold0/test.jsonl": "new\n"})
    atomic_write_folder(folder, {f"fold{k}/test.jsonl": "new\n" for k in range(3)}, overwrite=True)
    assert sorted(os.listdir(folder)) == ["fold0", "fold1", "fold2"]  # old fold3/fold4 gone
    assert sorted(os.listdir(tmp_path)) == ["splits"]

    real_open = open
    calls = []

    def failing_open(file, *args, **kwargs):  # the third file fails part-way
        calls.append(file)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OSError):
        atomic_write_folder(folder, {f"fold{k}/test.jsonl": "newer\n" for k in range(5)}, overwrite=True)
    monkeypatch.undo()
    assert sorted(os.listdir(folder)) == ["fold0", "fold1", "fold2"]
    assert (folder / "fold0" / "test.jsonl").read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == ["splits"]


def test_empty_target_folder_is_used(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    atomic_write_folder(folder, {"a.txt": "a"})
    assert (folder / "a.txt").read_text() == "a"
    with pytest.raises(ValueError, match="relative path"):
        atomic_write_folder(tmp_path / "other", {"../escape.txt": "x"})


def test_outputs_get_ordinary_modes(tmp_path):
    from ecr_hf.utils.outputs import _UMASK

    path = atomic_write_text(tmp_path / "new.txt", "x")
    assert path.stat().st_mode & 0o777 == 0o666 & ~_UMASK  # not mkstemp's private 0600
    path.chmod(0o640)
    atomic_write_text(path, "y", overwrite=True)
    assert path.stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
    folder = atomic_write_folder(tmp_path / "folder", {"a.txt": "a"})
    assert folder.stat().st_mode & 0o777 == 0o777 & ~_UMASK
