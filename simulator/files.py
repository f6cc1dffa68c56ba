"""Output files: checked before any work, written whole or not at all, several as one.

Every file electsim writes goes through :class:`Outputs`: each is written to a temporary file
beside its target first; only when all are written are the targets replaced, and if one
replacement fails the ones already made are undone (the old files come back), so a command
leaves either all of its outputs or none of them, never a half-written file nor a JSON without
its CSV. :func:`check_writable` and :func:`check_output_dir` say what cannot be written before a
long simulation starts.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from .errors import InputError

_PREFIX = ".electsim-"  # temporary files: short names, so a target's long name still fits


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _probe(directory: Path, shown: Path) -> None:
    """Create and remove a file in ``directory``: what os.access cannot tell (a read-only file
    system, /proc, a full quota) shows here."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=_PREFIX, dir=directory)
    except OSError as exc:
        raise InputError(f"{shown}: cannot write in {directory} ({_why(exc)})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_writable(path: str | Path, inputs=()) -> Path:
    """Fail early, before any work, when an output file cannot be written: a directory, a
    missing or unwritable directory, a name too long for the file system, an existing file that
    cannot be replaced, or one of ``inputs`` (a command never writes over what it reads)."""
    path = Path(path)
    parent = _parent(path)
    if not parent.is_dir():
        raise InputError(f"{path}: directory {parent} does not exist")
    try:
        longest = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    if len(os.fsencode(path.name)) > longest:
        raise InputError(f"{path.name[:40]}...: file name too long ({len(os.fsencode(path.name))} "
                         f"bytes; this file system allows {longest})")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file to write")
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise InputError(f"{path}: is an input of this command; refusing to write over it")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{path}: exists and is not writable (read-only or immutable)")
    _probe(parent, path)
    return path


def check_outputs(paths, inputs=()) -> None:
    """:func:`check_writable` for every output of a command, and no two of them the same file."""
    paths = [Path(p) for p in paths if p is not None]
    for i, path in enumerate(paths):
        check_writable(path, inputs)
        for other in paths[:i]:
            if _same_file(path, other):
                raise InputError(f"{path}: given for two outputs")


def check_output_dir(out: str | Path, inputs=(), names=()) -> Path:
    """Fail early when ``out`` cannot become a directory of outputs (an existing file, a parent
    that cannot be written), or when one of the ``names`` to be written there is an input."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    existing = out
    while not existing.exists():  # the directory is made with its parents: the nearest one counts
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise InputError(f"{out}: {existing} is a file, not a directory")
    _probe(existing, out)
    for name in names:
        for source in inputs:
            if source is not None and _same_file(out / name, Path(source)):
                raise InputError(f"{out / name}: is an input of this command; refusing to write "
                                 "over it")
    return out


def _plain_mode(path: Path) -> int:
    """The permission bits ``open(path, "w")`` would leave: an existing file keeps its own; a new
    one gets 0666 less the process's umask (mkstemp's 0600 is for its own safety only)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def temporary_beside(path: str | Path) -> Path:
    """A new empty temporary file in ``path``'s directory (to be renamed onto it)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_PREFIX, suffix=".tmp", dir=_parent(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot write in {_parent(path)} ({_why(exc)})") from None
    os.close(fd)
    return Path(tmp)


class Outputs:
    """A set of files written as one: :meth:`add` writes each to a temporary file beside its
    target; :meth:`commit` puts them all in place or, on any failure, none (targets replaced
    already get their old contents back). Leaving the ``with`` block without a commit (an error,
    Ctrl-C) removes the temporary files. ``written`` lists the targets once committed."""

    def __init__(self):
        self.pending: list[tuple[Path, Path]] = []  # (temporary, target)
        self.written: list[Path] = []

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc) -> None:
        self.abort()

    def add(self, path: str | Path, data: str | bytes) -> None:
        """Write ``data`` (text as UTF-8) into a temporary file for ``path``."""
        tmp = temporary_beside(path)
        try:
            if isinstance(data, bytes):
                tmp.write_bytes(data)
            else:
                with open(tmp, "w", encoding="utf-8", newline="") as f:
                    f.write(data)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise InputError(f"{path}: cannot write ({_why(exc)})") from None
            raise
        self.pending.append((tmp, Path(path)))

    def add_file(self, path: str | Path, tmp: Path) -> None:
        """A temporary file already written beside ``path`` (see :func:`temporary_beside`)."""
        self.pending.append((Path(tmp), Path(path)))

    def commit(self) -> list[Path]:
        """Put every file in place, or none; return the targets."""
        backups: list[tuple[Path, Path | None]] = []  # (target, its old contents or None)
        try:
            for _, target in self.pending:  # keep the old files: a hard link costs no copy
                old = None
                if target.exists():
                    old = temporary_beside(target)
                    os.unlink(old)
                    try:
                        os.link(target, old)
                    except PermissionError:  # immutable, or a directory that forbids it
                        raise InputError(f"{target}: cannot be replaced (immutable or "
                                         "protected); no output was written") from None
                    except OSError:  # no hard links here: go on without the undo
                        old = None
                backups.append((target, old))
            done = []
            for tmp, target in self.pending:
                os.chmod(tmp, _plain_mode(target))
                try:
                    os.replace(tmp, target)
                except OSError as exc:
                    self._undo(done, backups)
                    raise InputError(f"{target}: cannot be replaced ({_why(exc)}); no output "
                                     "was written") from None
                done.append(target)
            self.written = done
            self.pending = []
            return done
        finally:
            for _, old in backups:
                if old is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(old)

    @staticmethod
    def _undo(done: list[Path], backups: list[tuple[Path, Path | None]]) -> None:
        old_of = dict(backups)
        for target in done:
            with contextlib.suppress(OSError):
                if old_of.get(target) is not None:
                    os.replace(old_of[target], target)
                else:  # it did not exist before
                    os.unlink(target)

    def abort(self) -> None:
        """Remove the temporary files not committed."""
        for tmp, _ in self.pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.pending = []


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write one file so that readers see either the old file or the whole new one, never half."""
    with Outputs() as out:
        out.add(path, data)
        out.commit()


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """A temporary path beside ``path`` to write into; on success it replaces ``path`` (with the
    mode a plain ``open()`` gives), on any failure (Ctrl-C included) it is removed."""
    with Outputs() as out:
        tmp = temporary_beside(path)
        out.add_file(path, tmp)
        yield tmp
        out.commit()
