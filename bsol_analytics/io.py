"""Atomic output: a run either replaces its target completely or leaves it as it was."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str], prefix: str | None = None) -> Iterator[Path]:
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
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; publish with normal permissions
    try:
        yield tmp
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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
        >>> atomic_write_bytes(p, b"ok").read_bytes()
        b'ok'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
