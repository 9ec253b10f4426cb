"""Atomic output, private output for patient-level files, and checksums.

A run either replaces its target completely or leaves it as it was.

Published output (reports, packs, indicator tables) gets the usual permissions of the user's
umask. Patient-level output (the processed tables of ``bsol prepare``, pack work folders,
unsuppressed intermediate tables) is written with ``private=True``: files ``0600`` and folders
``0700``, readable by their owner only whatever the umask. Synthetic extracts
(``bsol synth``) hold no real person and keep the usual permissions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Modes of patient-level files and folders: owner only.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_private(path: str | os.PathLike[str]) -> Path:
    """Restrict a file, or a folder and everything in it, to its owner (``0600``/``0700``).

    Symbolic links are left alone (their targets are not changed).

    Args:
        path: a file or a folder.

    Returns:
        ``path``.

    Examples:
        >>> import tempfile, pathlib, stat
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / "sub").mkdir(mode=0o755); _ = (root / "sub" / "a.txt").write_text("x")
        >>> _ = make_private(root)
        >>> oct(stat.S_IMODE((root / "sub" / "a.txt").stat().st_mode))
        '0o600'
        >>> oct(stat.S_IMODE((root / "sub").stat().st_mode))
        '0o700'
    """
    path = Path(path)
    if path.is_symlink():
        return path
    if not path.is_dir():
        os.chmod(path, PRIVATE_FILE_MODE)
        return path
    os.chmod(path, PRIVATE_DIR_MODE)
    for folder, dirs, files in os.walk(path):
        for name in dirs:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), PRIVATE_DIR_MODE)
        for name in files:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), PRIVATE_FILE_MODE)
    return path


def private_directory(path: str | os.PathLike[str] | None = None, prefix: str = "bsol-") -> Path:
    """Create (or restrict) a folder readable by its owner only (``0700``), whatever the umask.

    Missing parent folders are created with the usual permissions; an existing folder is
    restricted, with its contents (see :func:`make_private`).

    Args:
        path: the folder; ``None`` for a new temporary folder.
        prefix: name prefix of a new temporary folder.

    Returns:
        The folder.

    Examples:
        >>> import stat
        >>> work = private_directory(prefix="bsol-work-")
        >>> oct(stat.S_IMODE(work.stat().st_mode)), work.name.startswith("bsol-work-")
        ('0o700', True)
    """
    if path is None:
        return Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp makes 0700
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=PRIVATE_DIR_MODE)
    return make_private(path)


@contextlib.contextmanager
def atomic_directory(
    target: str | os.PathLike[str],
    prefix: str | None = None,
    *,
    private: bool = False,
    keep: Sequence[str] = (),
) -> Iterator[Path]:
    """Build a directory in a temporary sibling and swap it into place on success.

    If the ``with`` block raises, the temporary directory is removed and ``target`` is left
    exactly as it was. An existing ``target`` is first renamed to a backup sibling, then the
    new folder is renamed into place; if that second rename fails or is interrupted
    (``KeyboardInterrupt`` included), the backup is renamed back before the error goes on,
    so ``target`` never goes missing.

    Args:
        target: the directory to create or replace.
        prefix: name prefix of the temporary sibling (default ``.<target name>.tmp-``),
            so callers can recognise and sweep their own leftovers.
        private: patient-level output: the folder is ``0700`` throughout and every file in
            it is made ``0600`` before it is swapped into place. Otherwise the folder gets
            the usual permissions of the umask.
        keep: names of files of an existing ``target`` carried over into the new folder
            (a folder's own notes, such as its ``README.md``), unless the block wrote them.

    Yields:
        The temporary directory to write into.

    Examples:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_directory(root / "out") as tmp:
        ...     _ = (tmp / "a.txt").write_text("hello")
        >>> (root / "out" / "a.txt").read_text()
        'hello'
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix or f".{target.name}.tmp-", dir=target.parent))
    if not private:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; publish with normal permissions
    try:
        yield tmp
        for name in keep:
            if (target / name).is_file() and not (tmp / name).exists():
                shutil.copy2(target / name, tmp / name)
        if private:
            make_private(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Replace ``target`` by ``tmp`` with two renames, restoring ``target`` if the second fails."""
    backup = target.parent / f".{target.name}.old-{os.getpid()}"
    if backup.exists():
        shutil.rmtree(backup)
    moved = False
    try:
        if target.exists():
            os.replace(target, backup)
            moved = True
        os.replace(tmp, target)
    except BaseException:
        if moved and not target.exists():
            os.replace(backup, target)
        raise
    if moved:
        shutil.rmtree(backup, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine).

    Examples:
        >>> pid_alive(os.getpid())
        True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_directory(target: str | os.PathLike[str]) -> bool:
    """Put back ``target`` if a swap was killed between its two renames.

    :func:`atomic_directory` restores the backup itself on any exception or interrupt; only
    a process killed outright (``SIGKILL``, power loss) can leave ``target`` missing with
    its backup ``.<name>.old-<pid>`` beside it. When ``target`` is missing and the process
    that made the backup is gone, the newest such backup is renamed back.

    Returns:
        ``True`` when a backup was put back.

    Examples:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / ".out.old-999999999").mkdir()
        >>> recover_directory(root / "out"), (root / "out").is_dir()
        (True, True)
    """
    target = Path(target)
    if target.exists() or not target.parent.is_dir():
        return False
    backups = []
    for path in target.parent.glob(f".{target.name}.old-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if path.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            backups.append(path)
    if not backups:
        return False
    os.replace(max(backups, key=lambda p: p.stat().st_mtime), target)
    return True


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, private: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename.

    Args:
        path: the file to write.
        data: its new content.
        private: make the file ``0600`` (patient-level); otherwise it gets the usual
            permissions of the umask.

    Returns:
        ``path``.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
        >>> atomic_write_bytes(p, b"ok").read_bytes()
        b'ok'
        >>> oct(atomic_write_bytes(p, b"ok", private=True).stat().st_mode & 0o777)
        '0o600'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if not private:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, *, private: bool = False) -> Path:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`).

    Examples:
        >>> import tempfile, pathlib
        >>> atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "x.txt", "ok").read_text()
        'ok'
    """
    return atomic_write_bytes(path, text.encode("utf-8"), private=private)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as hex (read in blocks: any size of file).

    Args:
        path: the file.

    Returns:
        The 64-character lower-case hex digest.

    Examples:
        >>> import tempfile, pathlib
        >>> p = atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "x")
        >>> file_sha256(p)[:8]
        '2d711642'
    """
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def text_sha256(values: Any) -> str:
    """The SHA-256 of a column of text in row order, as hex.

    The same values give the same digest however they are split into chunks.

    Args:
        values: an Arrow ``string`` or ``large_string`` array, or a chunked array of one,
            with no nulls.

    Returns:
        The 64-character lower-case hex digest.

    Raises:
        ValueError: a value is null.

    Examples:
        >>> import pyarrow as pa
        >>> one = text_sha256(pa.chunked_array([["a", "bc"], ["d"]]))
        >>> one == text_sha256(pa.array(["a", "bc", "d"]).slice(0))
        True
        >>> one == text_sha256(pa.array(["ab", "c", "d"]))
        False
    """
    lengths, text = hashlib.sha256(), hashlib.sha256()
    for chunk in getattr(values, "chunks", [values]):
        if chunk.null_count:
            raise ValueError("text_sha256: a value is null")
        if not len(chunk):
            continue
        wide = str(chunk.type) in ("large_string", "large_utf8")
        _, offsets_buffer, data = chunk.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if wide else np.int32)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        lengths.update(np.diff(offsets).astype("<i8").tobytes())
        if data is not None:
            text.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    return hashlib.sha256(lengths.digest() + text.digest()).hexdigest()
