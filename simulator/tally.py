"""Tallies: the mergeable counts a simulation keeps instead of its runs.

Two tallies of disjoint sets of runs add up (``a + b``) to the tally of both, so chunks can be
counted anywhere and merged in any grouping; memory does not grow with the number of runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Shares are summed as integers of this unit, so that merges are exact. A share is at most 1, i.e.
# 2**24 units, so an int64 sum has room for 2**39 (5.5e11) runs; rounding each run's share to the
# unit moves a mean share by less than 3e-8.
SHARE_UNIT = 2.0**-24
MAX_RUNS = 2**39


@dataclass
class Tally:
    runs: int
    seat_counts: np.ndarray  # (lists x seats+1) int64: runs in which list i won exactly k seats
    majority: np.ndarray  # (lists,) int64: runs in which list i alone held a majority
    threshold: np.ndarray  # (lists,) int64: runs in which list i reached its threshold
    coalition_majority: np.ndarray  # (coalitions,) int64
    coalition_seat_counts: np.ndarray  # (coalitions x seats+1) int64
    # (lists,) int64: sum over runs of the list's share of valid votes, in SHARE_UNITs (rounded per
    # run). Integer sums do not depend on grouping, as float sums would; room for MAX_RUNS runs.
    share_units: np.ndarray

    @property
    def share_sum(self) -> np.ndarray:
        """Sum over runs of each list's share of valid votes (float)."""
        return self.share_units * SHARE_UNIT

    @classmethod
    def empty(cls, lists: int, seats: int, coalitions: int) -> Tally:
        return cls(
            runs=0,
            seat_counts=np.zeros((lists, seats + 1), np.int64),
            majority=np.zeros(lists, np.int64),
            threshold=np.zeros(lists, np.int64),
            coalition_majority=np.zeros(coalitions, np.int64),
            coalition_seat_counts=np.zeros((coalitions, seats + 1), np.int64),
            share_units=np.zeros(lists, np.int64),
        )

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            runs=self.runs + other.runs,
            seat_counts=self.seat_counts + other.seat_counts,
            majority=self.majority + other.majority,
            threshold=self.threshold + other.threshold,
            coalition_majority=self.coalition_majority + other.coalition_majority,
            coalition_seat_counts=self.coalition_seat_counts + other.coalition_seat_counts,
            share_units=self.share_units + other.share_units,
        )

    def equals(self, other: Tally) -> bool:
        """Bit-for-bit equality of every count and sum."""
        return self.runs == other.runs and all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("seat_counts", "majority", "threshold", "coalition_majority",
                      "coalition_seat_counts", "share_units")
        )
