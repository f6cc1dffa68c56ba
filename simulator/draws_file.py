"""Every run's draws on disk (``simulate --draws``), for analysis outside electsim.

The file is a NumPy ``.npz`` (a zip of ``.npy`` arrays; ``np.load`` reads it, as does any zip
reader with an ``.npy`` parser):

* ``shares``: runs x lists, float32: each list's share of the valid votes;
* ``seats``: runs x lists, int16;
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

BYTES_PER_CELL = 4 + 2  # float32 share + int16 seats


def draws_size(runs: int, lists: int) -> int:
    """Bytes a draws file of ``runs`` runs and ``lists`` lists takes (arrays only)."""
    return runs * lists * BYTES_PER_CELL


class DrawsWriter:
    """Collects waves of recorded runs (:meth:`add`), then writes the file (:meth:`close`)."""

    def __init__(self, path: str | Path, runs: int, ids: tuple[str, ...]):
        self.path = Path(path)
        self.ids = ids
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent or "."))
        shape = (runs, len(ids))
        self.shares = np.lib.format.open_memmap(self.tmp / "shares.npy", "w+", np.float32, shape)
        self.seats = np.lib.format.open_memmap(self.tmp / "seats.npy", "w+", np.int16, shape)
        self.done = 0

    def add(self, votes: np.ndarray, seats: np.ndarray, chunk_runs: np.ndarray) -> None:
        """One wave's records (chunks x max runs x lists), chunk by chunk."""
        for c, n in enumerate(chunk_runs):
            self.shares[self.done: self.done + n] = votes[c, :n]
            self.seats[self.done: self.done + n] = seats[c, :n]
            self.done += int(n)

    def close(self) -> None:
        """Zip the arrays (cut to the runs done) into the target, atomically."""
        from .report import atomic_path

        try:
            arrays = {"shares": self.shares, "seats": self.seats}
            if self.done < self.shares.shape[0]:  # stopped early (--target-se)
                arrays = {name: self._cut(name, a) for name, a in arrays.items()}
            else:
                for a in arrays.values():
                    a.flush()
            np.save(self.tmp / "parties.npy", np.array(self.ids))
            with atomic_path(self.path) as out, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED,
                                                                 allowZip64=True) as z:
                for name in ("shares", "seats", "parties"):
                    z.write(self.tmp / f"{name}.npy", f"{name}.npy")
        finally:
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
