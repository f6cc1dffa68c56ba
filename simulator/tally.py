"""Tallies: the mergeable counts a simulation keeps instead of its runs, and the compiled stage
that adds a block of runs to them.

Two tallies of disjoint sets of runs add up (``a + b``) to the tally of both, so chunks can be
counted anywhere and merged in any grouping; memory does not grow with the number of runs. Every
count is an integer, so the sums do not depend on the grouping, and results do not depend on the
thread count.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, fields

import numba as nb
import numpy as np

from .analysis import MARGIN_BINS
from .config import MAX_RUNS  # noqa: F401 (its bound is set by the share sums here)

# Shares are summed as integers of this unit, so that merges are exact. A share is at most 1, i.e.
# 2**24 units, so an int64 sum has room for 2**39 (5.5e11) runs; rounding each run's share to the
# unit moves a mean share by less than 3e-8.
SHARE_UNIT = 2.0**-24
_UNITS_PER_SHARE = 1.0 / SHARE_UNIT
# Vote shares are also counted in a histogram of SHARE_BINS equal bins over [0, 1] (0.024 points
# each; a share of exactly 1 has a bin of its own), so that quantiles can be read from the tally;
# they interpolate within their bin. The histogram counts one run in SHARE_THIN (those whose place
# in their block is a multiple of it): a run's increments cost as much as its seat counts', and a
# quarter of a million runs in a million pin a 5 % quantile to 0.005 of the share's sd (0.01 points
# for a list whose share varies by 2 points), far below the points' one decimal shown.
SHARE_BINS = 4096
SHARE_THIN = 4


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
    share_hist: np.ndarray  # (lists x SHARE_BINS+1) int64: runs by share bin (one in SHARE_THIN)
    # with districts (else of length 0): per district and list, the sum of its seats over runs,
    # the runs in which it won at least one, and its seat distribution (one run in SHARE_THIN)
    district_seats: np.ndarray = None
    district_any: np.ndarray = None
    district_hist: np.ndarray = None
    # analysis (simulator.analysis): places by seats (lists x lists), first by votes, power index
    # sums (POWER_UNITs), pivots, the runs power was counted in, majorities of
    # votes without seats and the reverse (lists, then coalitions), the last seat
    rank: np.ndarray = None
    first_by_votes: np.ndarray = None
    banzhaf: np.ndarray = None
    shapley: np.ndarray = None
    pivotal: np.ndarray = None
    power_runs: np.ndarray = None
    vote_not_seat: np.ndarray = None
    seat_not_vote: np.ndarray = None
    last_won: np.ndarray = None
    last_lost: np.ndarray = None
    margin_hist: np.ndarray = None

    @property
    def share_sum(self) -> np.ndarray:
        """Sum over runs of each list's share of valid votes (float)."""
        return self.share_units * SHARE_UNIT

    @classmethod
    def empty(cls, lists: int, seats: int, coalitions: int, slots: int | None = None,
              districts: int = 0, magnitude: int = 0) -> Tally:
        """A tally of no runs; with ``slots``, every array has a leading axis of that many
        slots, for the engine's threads to count into (see :meth:`merged`). ``magnitude``: the
        largest district's seats."""
        lead = () if slots is None else (slots,)

        def z(*shape):
            return np.zeros(lead + shape, np.int64)

        return cls(runs=0, seat_counts=z(lists, seats + 1), majority=z(lists), threshold=z(lists),
                   coalition_majority=z(coalitions), coalition_seat_counts=z(coalitions, seats + 1),
                   share_units=z(lists), share_hist=z(lists, SHARE_BINS + 1),
                   district_seats=z(districts, lists), district_any=z(districts, lists),
                   district_hist=z(districts, lists, magnitude + 1 if districts else 0),
                   rank=z(lists, lists), first_by_votes=z(lists), banzhaf=z(lists), shapley=z(lists),
                   pivotal=z(lists), power_runs=z(1),
                   vote_not_seat=z(lists + coalitions), seat_not_vote=z(lists + coalitions),
                   last_won=z(lists), last_lost=z(lists), margin_hist=z(MARGIN_BINS + 1))

    def chunk_tally(self) -> ChunkTally:
        """The arrays as the compiled tally stage takes them."""
        return ChunkTally(*(getattr(self, f) for f in self._arrays()), np.empty(0),
                          np.empty((0, 0), np.int32))

    @property
    def has_districts(self) -> bool:
        return self.district_seats is not None and self.district_seats.shape[0] > 0

    def merged(self, runs: int, majority: int) -> Tally:
        """The sum of a slotted tally's slots, with its majorities counted from the seat
        distributions, as a tally of ``runs`` runs."""
        out = Tally(runs=runs, **{f: getattr(self, f).sum(axis=0) for f in self._arrays()})
        out.majority = out.seat_counts[:, majority:].sum(axis=1)
        out.coalition_majority = out.coalition_seat_counts[:, majority:].sum(axis=1)
        return out

    def _arrays(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if f.name != "runs")

    def __add__(self, other: Tally) -> Tally:
        return Tally(runs=self.runs + other.runs,
                     **{f: getattr(self, f) + getattr(other, f) for f in self._arrays()})

    def equals(self, other: Tally) -> bool:
        """Bit-for-bit equality of every count and sum."""
        return self.runs == other.runs and all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in self._arrays())


def share_quantile(hist: np.ndarray, q: float) -> float:
    """The q-quantile of a share (a fraction) from its histogram row (see ``SHARE_BINS``),
    interpolated linearly within the bin where the cumulative count reaches q."""
    total = hist.sum()
    if total == 0:
        return float("nan")
    cdf = np.cumsum(hist)
    target = q * total
    b = int(np.searchsorted(cdf, target))
    below = cdf[b - 1] if b > 0 else 0
    frac = (target - below) / hist[b] if hist[b] else 0.0
    return min((b + frac) / SHARE_BINS, 1.0)


def share_cdf(hist: np.ndarray, x: float) -> float:
    """P(share < x) from a histogram row, interpolated as :func:`share_quantile` is."""
    total = hist.sum()
    if total == 0:
        return float("nan")
    pos = min(max(x, 0.0), 1.0) * SHARE_BINS
    b = min(int(pos), SHARE_BINS)
    return float((hist[:b].sum() + (pos - b) * hist[b]) / total)


# The tally stage of the engine: what to count (one record), and a chunk's counters.
TallySpec = namedtuple("TallySpec", (
    "thresholds",  # (lists,) percent
    "base",  # threshold base of a simulated election
    "coalition_members",  # (coalitions x lists) bool
))
ChunkTally = namedtuple("ChunkTally", (
    "seat_counts", "majority", "threshold", "coalition_majority", "coalition_seat_counts",
    "share_units", "share_hist", "district_seats", "district_any", "district_hist",  # as in Tally
    "rank", "first_by_votes", "banzhaf", "shapley", "pivotal", "power_runs",
    "vote_not_seat", "seat_not_vote", "last_won", "last_lost", "margin_hist",
    "cs",  # (BLOCK,) scratch
    "bins",  # (lists x BLOCK) int32 scratch: each run's share bin
))


@nb.njit(cache=True)
def chunk_tally(slots, x, cs, bins):
    """The :data:`ChunkTally` of slot ``x`` of ``slots`` (a record of arrays with a leading slot
    axis, fields as ChunkTally's), with the scratch arrays ``cs`` and ``bins``."""
    return ChunkTally(slots.seat_counts[x], slots.majority[x], slots.threshold[x],
                      slots.coalition_majority[x], slots.coalition_seat_counts[x],
                      slots.share_units[x], slots.share_hist[x], slots.district_seats[x],
                      slots.district_any[x], slots.district_hist[x], slots.rank[x],
                      slots.first_by_votes[x], slots.banzhaf[x], slots.shapley[x],
                      slots.pivotal[x], slots.power_runs[x],
                      slots.vote_not_seat[x], slots.seat_not_vote[x], slots.last_won[x],
                      slots.last_lost[x], slots.margin_hist[x], cs, bins)


@nb.njit(cache=True, error_model="numpy")
def tally_block(src, sb, nr, spec, t):
    """Add the first nr runs of a block (vote shares ``src`` and seats ``sb``, lists x runs) to a
    chunk's tally ``t``: seat and share distributions, threshold passes, share sums (integers),
    and coalition seat distributions. Majorities come from the distributions (Tally.merged)."""
    _tally(src, sb, nr, spec.thresholds, spec.base, spec.coalition_members, t.seat_counts,
           t.share_hist, t.threshold, t.share_units, t.coalition_seat_counts, t.cs, t.bins)


@nb.njit(cache=True, error_model="numpy")
def _tally(src, sb, nr, thresholds, base, members, counts, hist, threshold, share_units,
           coalition_counts, cs, bins):
    """:func:`tally_block` on plain arrays (a record's fields, unpacked: the loops vectorise)."""
    n = src.shape[0]
    for i in range(n):  # vectorised across runs, in integers
        thr = thresholds[i] * base
        passed = 0
        units = 0
        for r in range(nr):
            v = src[i, r]
            passed += (v > 0.0) & (v * 100.0 >= thr)
            units += np.int32(v * _UNITS_PER_SHARE + 0.5)  # v <= 1: fits easily
        threshold[i] += passed
        share_units[i] += units
        row = src[i]
        into = bins[i]
        for r in range(0, nr, SHARE_THIN):
            into[r // SHARE_THIN] = np.int32(row[r] * SHARE_BINS)
    for r in range((nr + SHARE_THIN - 1) // SHARE_THIN):
        for i in range(n):
            hist[i, bins[i, r]] += 1
    _count_seats(sb, nr, members, counts, coalition_counts, cs)


@nb.njit(cache=True, error_model="numpy")
def tally_seats_block(src, sb, nr, spec, t):
    """:func:`tally_block` without the vote shares' sums and histogram: for a variant of the rules
    whose votes are another tally's (a sweep's scenario without merges), so only its seat
    distributions, threshold passes and coalition seats are its own."""
    _tally_seats(src, sb, nr, spec.thresholds, spec.base, spec.coalition_members, t.seat_counts,
                 t.threshold, t.coalition_seat_counts, t.cs)


@nb.njit(cache=True, error_model="numpy")
def _tally_seats(src, sb, nr, thresholds, base, members, counts, threshold, coalition_counts, cs):
    n = src.shape[0]
    for i in range(n):
        thr = thresholds[i] * base
        passed = 0
        for r in range(nr):
            v = src[i, r]
            passed += (v > 0.0) & (v * 100.0 >= thr)
        threshold[i] += passed
    _count_seats(sb, nr, members, counts, coalition_counts, cs)


@nb.njit(cache=True, error_model="numpy")
def _count_seats(sb, nr, members, counts, coalition_counts, cs):
    """Each list's and coalition's seat distribution from the first nr runs of ``sb``."""
    n = sb.shape[0]
    for r in range(nr):  # run by run: the lists' counters are independent, so no store waits on another
        for i in range(n):
            counts[i, np.int64(sb[i, r])] += 1
    for k in range(members.shape[0]):
        for r in range(nr):
            cs[r] = 0.0
        for i in range(n):
            if members[k, i]:
                for r in range(nr):
                    cs[r] += sb[i, r]
        for r in range(nr):
            coalition_counts[k, np.int64(cs[r])] += 1


@nb.njit(cache=True, error_model="numpy")
def tally_districts(dseats, nr, t):
    """Add the first nr runs of a block's district seats (districts x lists x runs) to the
    district counts of ``t``: seat sums and runs with a seat exactly, the distribution from one
    run in ``SHARE_THIN``."""
    _tally_districts(dseats, nr, t.district_seats, t.district_any, t.district_hist)


@nb.njit(cache=True, error_model="numpy")
def _tally_districts(dseats, nr, total, any_seat, hist):
    for d in range(dseats.shape[0]):
        for i in range(dseats.shape[1]):
            s = 0.0
            a = 0
            for r in range(nr):
                x = dseats[d, i, r]
                s += x
                a += x > 0.0
            total[d, i] += np.int64(s)
            any_seat[d, i] += a
            for r in range(0, nr, SHARE_THIN):
                hist[d, i, np.int64(dseats[d, i, r])] += 1
