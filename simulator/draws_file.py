"""Every run's draws on disk (``simulate --draws``), for analysis outside electsim.

The file is a NumPy ``.npz`` (a zip of ``.npy`` arrays; ``np.load`` reads it, as does any zip
reader with an ``.npy`` parser):

* ``shares``: runs x lists, float32: each list's share of the valid votes;
* ``seats``: runs x lists, int16 (int32 when the election has more than 32,767 seats);
* ``parties``: the lists' ids, in column order.

Runs are in chunk order, so the file is the same for the same config and seed. It is streamed:
each wave of runs goes into memory-mapped ``.npy`` files in a temporary directory beside the
target, which are zipped (stored, not compressed) into the target at the end and only then
replace it, so memory stays flat and an interrupted run leaves no file behind.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import InputError

def seat_dtype(seats: int) -> np.dtype:
    """The smallest integer type that holds every seat count of an election of ``seats`` seats."""
    return np.dtype(np.int16 if seats <= np.iinfo(np.int16).max else np.int32)


def draws_size(runs: int, lists: int, seats: int = 0) -> int:
    """Bytes a draws file of ``runs`` runs and ``lists`` lists takes (arrays only): a float32
    share and a seat count (:func:`seat_dtype`) per cell."""
    return runs * lists * (4 + seat_dtype(seats).itemsize)


class DrawsWriter:
    """Collects waves of recorded runs (:meth:`add`), then writes the file (:meth:`close`)."""

    def __init__(self, path: str | Path, runs: int, ids: tuple[str, ...], seats: int = 0):
        from .files import _PREFIX

        self.path = Path(path)
        self.ids = ids
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=self.path.parent or "."))
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write in {self.path.parent} "
                             f"({exc.strerror})") from None
        shape = (runs, len(ids))
        self.shares = np.lib.format.open_memmap(self.tmp / "shares.npy", "w+", np.float32, shape)
        self.seats = np.lib.format.open_memmap(self.tmp / "seats.npy", "w+", seat_dtype(seats), shape)
        self.done = 0

    def add(self, votes: np.ndarray, seats: np.ndarray, chunk_runs: np.ndarray) -> None:
        """One wave's records (chunks x max runs x lists), chunk by chunk."""
        for c, n in enumerate(chunk_runs):
            self.shares[self.done: self.done + n] = votes[c, :n]
            self.seats[self.done: self.done + n] = seats[c, :n]
            self.done += int(n)

    def close(self, outputs=None) -> None:
        """Zip the arrays (cut to the runs done) into the target, atomically; with ``outputs``
        (a :class:`simulator.files.Outputs`), into a temporary file that joins that set instead,
        to be put in place with the command's other outputs."""
        from .files import Outputs, temporary_beside

        own = outputs is None
        outputs = Outputs() if own else outputs
        try:
            arrays = {"shares": self.shares, "seats": self.seats}
            if self.done < self.shares.shape[0]:  # stopped early (--target-se)
                arrays = {name: self._cut(name, a) for name, a in arrays.items()}
            else:
                for a in arrays.values():
                    a.flush()
            np.save(self.tmp / "parties.npy", np.array(self.ids))
            out = temporary_beside(self.path)
            outputs.add_file(self.path, out)
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
                for name in ("shares", "seats", "parties"):
                    z.write(self.tmp / f"{name}.npy", f"{name}.npy")
            if own:
                outputs.commit()
        finally:
            if own:
                outputs.abort()
            self.abort()

    def _cut(self, name: str, a: np.memmap) -> np.memmap:
        cut = np.lib.format.open_memmap(self.tmp / f"{name}.cut.npy", "w+", a.dtype,
                                        (self.done, a.shape[1]))
        for start in range(0, self.done, 1 << 20):
            cut[start: start + (1 << 20)] = a[start: start + (1 << 20)]
        cut.flush()
        (self.tmp / f"{name}.cut.npy").replace(self.tmp / f"{name}.npy")
        return cut

    def abort(self) -> None:
        """Remove the temporary directory (the target is untouched)."""
        self.shares = self.seats = None
        with contextlib.suppress(OSError):
            shutil.rmtree(self.tmp)
