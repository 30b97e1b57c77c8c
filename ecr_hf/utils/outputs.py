"""Atomic outputs: a file or a folder of files appears whole or not at all.

Every file ecr-hf writes goes to a temporary name in the target's own directory, is flushed and
fsynced, then renamed over the target (``os.replace``, atomic on POSIX and Windows), so a full disk
or a killed process leaves the previous file intact and never a truncated one. An existing target
is kept unless ``overwrite=True``: no output replaces another behind the user's back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["OutputExistsError", "atomic_write_bytes", "atomic_write_text", "atomic_write_folder"]


class OutputExistsError(FileExistsError):
    """The output exists and ``overwrite`` was not given."""


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its rename is durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import, not while threads write
    os.umask(mask)
    return mask


# mkstemp/mkdtemp make private files and folders; outputs get the modes a plain open()/mkdir() gives
_UMASK = _read_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename. An
    existing file keeps its mode; a new one gets the umask's. Raises :class:`OutputExistsError` if
    ``path`` exists and ``overwrite`` is false."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8 (newlines written as given)."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_folder(folder: str | os.PathLike, files: Mapping[str, str], *, overwrite: bool = False) -> Path:
    """Write ``{relative path: text}`` as one folder that appears whole: the files go to a
    temporary sibling folder that is renamed to ``folder``. A non-empty ``folder`` is refused
    unless ``overwrite``, which replaces it whole (no file of the old one is left behind)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise OutputExistsError(f"{folder} is not empty; pass overwrite=True (--overwrite) to replace it whole")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp")).resolve()
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        for name, text in files.items():
            target = tmp / name
            if tmp not in target.resolve().parents:
                raise ValueError(f"{name!r} is not a relative path inside the folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        old = None
        if folder.exists():  # empty, or overwrite: move it aside, put the new one in, then delete it
            old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".old"))
            os.replace(folder, old / "x")
        try:
            os.replace(tmp, folder)
        except BaseException:
            if old is not None:
                os.replace(old / "x", folder)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(folder.parent)
    return folder

