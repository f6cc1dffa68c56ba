"""The simulation engine: draw vote shares, allocate seats, tally; fused, streaming and parallel.

Runs are cut into chunks of ``chunk_size``; chunk ``c`` draws from its own random stream
(:mod:`simulator.streams`). Chunks are processed in waves of ``WAVE_CHUNKS`` by one compiled
function that runs the chunks of a wave in parallel (``prange``), each into its own slot of the
wave's tallies, which are then summed in chunk order. Nothing depends on the thread count, so the
same config and seed give bit-identical results on 1 thread or 16; memory is one wave's tallies,
whatever the number of runs.

Runs go by blocks of ``BLOCK``, one run per column of a lists x runs matrix. Per block: the
gammas of each poll bucket (a Dirichlet draw is normalised gammas) and of each list inside
``others`` (its own Dirichlet split of that bucket), a bucket at a time with
:func:`~simulator.streams.fill_gamma` (with mixture pooling, each run first picks its poll and
draws its gammas one by one); the shares; the seats, by the block kernel
(:func:`~simulator.allocation.kernels.allocate_block_t`, vectorised across runs) for the divisor
methods, run by run otherwise; and the tallies, vectorised across runs where they can be.
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np

from .allocation import kernel_rules
from .allocation.kernels import (
    BLOCK, BLOCK_MAX_LISTS, HARE_NIEMEYER, allocate_block_t, allocate_column,
    below_threshold_factor, block_work,
)
from .config import Election
from .errors import InputError
from .polls import PollModel, build_poll_model
from .results import Result, result_from_tally
from .streams import (
    chunk_states, fill_gamma, fresh_seed, gamma_constants, gamma_prepared, stream_state, uniform,
)
from .tally import MAX_RUNS, SHARE_UNIT, Tally

_UNITS_PER_SHARE = 1.0 / SHARE_UNIT
_TINY = 1e-280  # a Dirichlet's gammas summing below this are rescaled first (see _rescue)
WAVE_CHUNKS = 32  # chunks per compiled call: enough to keep every core busy, fixed for determinism


@nb.njit(cache=True, parallel=True, error_model="numpy")  # numpy errors: see allocate_block
def _simulate_wave(states, chunk_runs, alpha, cum_probs, bucket_of, others_bucket, split_alpha,
                   base, seats, method, thresholds, minority, exempt, cnum, cden, majority,
                   coalition_members, seat_counts, maj, thr, coal_maj, coal_counts, share_units,
                   record_votes, record_seats):
    chunks = states.shape[0]
    n = bucket_of.shape[0]
    n_buckets = alpha.shape[1]
    fex = below_threshold_factor(minority, exempt, cnum)
    blocked = method != HARE_NIEMEYER and n <= BLOCK_MAX_LISTS
    named_idx = np.flatnonzero(bucket_of >= 0)  # lists with their own poll bucket
    named_bucket = bucket_of[named_idx]
    split_idx = np.flatnonzero(split_alpha > 0.0) if others_bucket >= 0 else np.zeros(0, np.int64)
    n_split = split_idx.shape[0]
    gd = np.empty(alpha.shape)  # Marsaglia-Tsang constants of every shape, computed once
    gc = np.empty(alpha.shape)
    for row in range(alpha.shape[0]):
        for k in range(n_buckets):
            gd[row, k], gc[row, k] = gamma_constants(alpha[row, k])
    split_shape = split_alpha[split_idx]
    sd = np.empty(n_split)
    sc = np.empty(n_split)
    for j in range(n_split):
        sd[j], sc[j] = gamma_constants(split_shape[j])
    for c in nb.prange(chunks):
        _simulate_chunk(states[c], chunk_runs[c], alpha, cum_probs, gd, gc, named_idx, named_bucket,
                        others_bucket, split_idx, split_shape, sd, sc, base, seats, method,
                        thresholds, minority, exempt, cnum, cden, fex, blocked, majority,
                        coalition_members, seat_counts[c], maj[c], thr[c], coal_maj[c],
                        coal_counts[c], share_units[c], record_votes, record_seats, c)


@nb.njit(cache=True, error_model="numpy")
def _simulate_chunk(words, runs, alpha, cum_probs, gd, gc, named_idx, named_bucket, others_bucket,
                    split_idx, split_shape, sd, sc, base, seats, method, thresholds, minority,
                    exempt, cnum, cden, fex, blocked, majority, coalition_members, counts, maj, thr,
                    coal_maj, ccounts, share_units, record_votes, record_seats, c):
    """One chunk of ``runs`` runs from the stream ``words``, into that chunk's tallies."""
    n = thresholds.shape[0]
    n_buckets = alpha.shape[1]
    n_named = named_idx.shape[0]
    n_split = split_idx.shape[0]
    n_coal = coalition_members.shape[0]
    st = stream_state(words)
    work = block_work(n)
    src, sb = work[0][0], work[0][2]  # lists x BLOCK: one run per column
    bb = work[1][0]
    bb[:] = base
    gb = np.empty((n_buckets, BLOCK))  # gammas of the poll buckets
    gs = np.empty((max(n_split, 1), BLOCK))  # gammas of the lists inside "others"
    pending = np.empty(BLOCK, np.int64)
    keep_a = np.empty(BLOCK)
    keep_b = np.empty(BLOCK)
    inv = np.empty(BLOCK)
    cs = np.empty(BLOCK)
    prow = np.zeros(BLOCK, np.int64)  # each run's poll (row of alpha)
    recording = record_seats.shape[0] > 0
    for start in range(0, runs, BLOCK):
        nr = min(BLOCK, runs - start)
        if cum_probs.shape[0] == 1:  # one Dirichlet: each bucket's gammas in one go
            for k in range(n_buckets):
                st = fill_gamma(st, alpha[0, k], gd[0, k], gc[0, k], gb[k], nr, pending, keep_a,
                                keep_b)
        else:  # a mixture: each run picks its poll first
            for r in range(nr):
                u, st = uniform(st)
                row = 0
                while row < cum_probs.shape[0] - 1 and cum_probs[row] <= u:
                    row += 1
                prow[r] = row
                for k in range(n_buckets):
                    gb[k, r], st = gamma_prepared(st, alpha[row, k], gd[row, k], gc[row, k])
        for j in range(n_split):
            st = fill_gamma(st, split_shape[j], sd[j], sc[j], gs[j], nr, pending, keep_a, keep_b)
        # shares: bucket gammas over their total; "others" split in proportion to its gammas.
        # Lists in neither group stay 0 (src starts zeroed).
        for r in range(nr):
            inv[r] = 0.0
            cs[r] = 0.0
        for k in range(n_buckets):
            for r in range(nr):
                inv[r] += gb[k, r]
        for r in range(nr):
            if inv[r] < _TINY:  # only with tiny shapes: see _rescue
                inv[r], st = _rescue(st, gb, r, alpha[prow[r]])
            inv[r] = 1.0 / inv[r]
        for i in range(n_named):
            k = named_bucket[i]
            for r in range(nr):
                src[named_idx[i], r] = gb[k, r] * inv[r]
        if n_split > 0:
            for j in range(n_split):
                for r in range(nr):
                    cs[r] += gs[j, r]
            for r in range(nr):
                if cs[r] < _TINY:
                    cs[r], st = _rescue(st, gs, r, split_shape)
                cs[r] = gb[others_bucket, r] * inv[r] / cs[r]
            for j in range(n_split):
                for r in range(nr):
                    src[split_idx[j], r] = gs[j, r] * cs[r]
        if blocked:
            allocate_block_t(src, bb, nr, seats, method, thresholds, minority, exempt, cnum, cden,
                             fex, work)
        else:
            for r in range(nr):
                allocate_column(src, r, base, seats, method, thresholds, minority, exempt, cnum,
                                cden, work[3], sb)
        if recording:  # for tests: keep every run's draws and seats
            for r in range(nr):
                for i in range(n):
                    record_votes[c, start + r, i] = src[i, r]
                    record_seats[c, start + r, i] = np.int32(sb[i, r])
        _tally_block(src, sb, nr, base, thresholds, coalition_members, counts, ccounts, cs,
                     thr, share_units)
    for i in range(n):  # majorities from the seat distributions
        maj[i] = np.sum(counts[i, majority:])
    for k in range(n_coal):
        coal_maj[k] = np.sum(ccounts[k, majority:])


@nb.njit(cache=True)
def _rescue(st, g, r, shapes):
    """Gammas g[:, r] of one Dirichlet draw whose total came out below ``_TINY``, which happens
    only when all its shapes are tiny (below about 0.01): rescaled by 2**600 (exactly) so that
    dividing by the total cannot overflow, or, when every gamma underflowed to 0, replaced by the
    Dirichlet's limit as its shapes shrink in proportion: all of the mass on one part, part k
    with probability shapes[k] / sum(shapes). Returns ``(new total, new state)``."""
    total = 0.0
    for k in range(shapes.shape[0]):
        total += g[k, r]
    if total > 0.0:
        total = 0.0
        for k in range(shapes.shape[0]):
            g[k, r] *= 2.0 ** 600
            total += g[k, r]
        return total, st
    u, st = uniform(st)
    u *= np.sum(shapes)
    k = 0
    acc = shapes[0]
    while k < shapes.shape[0] - 1 and acc <= u:
        k += 1
        acc += shapes[k]
    g[k, r] = 1.0
    return 1.0, st


@nb.njit(cache=True, error_model="numpy")
def _tally_block(src, sb, nr, base, thresholds, coalition_members, counts, ccounts, cs, thr,
                 share_units):
    """Add the first nr runs of a block (votes ``src`` and seats ``sb``, lists x runs) to a
    chunk's tallies: seat distributions, threshold passes, share sums (integers, so that any
    grouping of runs sums the same), and coalition seat distributions."""
    n = src.shape[0]
    for r in range(nr):  # run by run: the lists' counters are independent, so no store waits on another
        for i in range(n):
            counts[i, np.int64(sb[i, r])] += 1
    for i in range(n):  # vectorised across runs, in integers
        t = thresholds[i] * base
        passed = 0
        units = 0
        for r in range(nr):
            v = src[i, r]
            passed += (v > 0.0) & (v * 100.0 >= t)
            units += np.int32(v * _UNITS_PER_SHARE + 0.5)  # v <= 1: fits easily
        thr[i] += passed
        share_units[i] += units
    for k in range(coalition_members.shape[0]):
        for r in range(nr):
            cs[r] = 0.0
        for i in range(n):
            if coalition_members[k, i]:
                for r in range(nr):
                    cs[r] += sb[i, r]
        for r in range(nr):
            ccounts[k, np.int64(cs[r])] += 1


def use_threads(threads: int | None) -> int:
    """Set numba's worker threads (None = all cores) after checking the number; return it."""
    cores = nb.config.NUMBA_NUM_THREADS
    if threads is None:
        threads = cores
    if not 1 <= threads <= cores:
        raise InputError(f"threads must be between 1 and {cores} (got {threads})")
    nb.set_num_threads(threads)
    return threads


def threshold_base(election: Election) -> float:
    """The threshold base of a simulated election whose list shares of valid votes sum to 1:
    1 for a threshold on valid votes, 1 / (1 - invalid share) for one on ballots cast."""
    invalid = election.model.invalid_share / 100.0 if election.rules.threshold_base == "cast" else 0.0
    return 1.0 / (1.0 - invalid)


class Engine:
    """A compiled simulation set up for one election; call :meth:`run_chunks` repeatedly."""

    def __init__(self, election: Election, chunk_size: int | None = None):
        self.election = election
        self.poll_model: PollModel = build_poll_model(election)
        self.rules = kernel_rules(election.rules, election.parties)
        self.chunk_size = int(chunk_size or election.simulation.chunk_size)
        ids = election.party_ids
        self.coalition_members = np.zeros((len(election.coalitions), len(ids)), np.bool_)
        for k, coalition in enumerate(election.coalitions):
            for m in coalition.members:
                self.coalition_members[k, ids.index(m)] = True
        self.base = threshold_base(election)

    def empty_tally(self) -> Tally:
        return Tally.empty(len(self.election.parties), self.election.rules.seats,
                           len(self.election.coalitions))

    def run_chunks(self, seed: int, first_chunk: int, chunk_runs: np.ndarray,
                   record: bool = False) -> Tally | tuple[Tally, np.ndarray, np.ndarray]:
        """Simulate chunks first_chunk, first_chunk+1, ... with the given run counts; one tally.

        With ``record`` (for tests and debugging; memory grows with runs) it also returns every
        run's vote shares and seats, as arrays of shape (chunks, max chunk runs, lists).
        """
        count = len(chunk_runs)
        n = len(self.election.parties)
        seats = self.election.rules.seats
        n_coal = self.coalition_members.shape[0]
        seat_counts = np.zeros((count, n, seats + 1), np.int64)
        maj = np.zeros((count, n), np.int64)
        thr = np.zeros((count, n), np.int64)
        coal_maj = np.zeros((count, n_coal), np.int64)
        coal_counts = np.zeros((count, n_coal, seats + 1), np.int64)
        share_units = np.zeros((count, n), np.int64)
        pm = self.poll_model
        kr = self.rules
        rec_shape = (count, int(np.max(chunk_runs)), n) if record else (0, 0, n)
        record_votes = np.zeros(rec_shape, np.float64)
        record_seats = np.zeros(rec_shape, np.int32)
        _simulate_wave(
            chunk_states(seed, first_chunk, count), np.asarray(chunk_runs, np.int64), pm.alpha,
            np.cumsum(pm.poll_probs), pm.bucket_of, pm.others_bucket, pm.split_alpha, self.base,
            kr.seats, kr.method, kr.thresholds, kr.minority, kr.exempt, kr.cnum, kr.cden,
            self.election.rules.majority, self.coalition_members,
            seat_counts, maj, thr, coal_maj, coal_counts, share_units, record_votes, record_seats,
        )
        tally = Tally(
            runs=int(np.sum(chunk_runs)), seat_counts=seat_counts.sum(axis=0), majority=maj.sum(axis=0),
            threshold=thr.sum(axis=0), coalition_majority=coal_maj.sum(axis=0),
            coalition_seat_counts=coal_counts.sum(axis=0), share_units=share_units.sum(axis=0),
        )
        return (tally, record_votes, record_seats) if record else tally


def simulate(
    election: Election,
    runs: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
    target_se: float | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Simulate the election from its polls and return seat and majority probabilities.

    ``runs`` and ``seed`` default to the config's ``[simulation]``; a missing seed is drawn fresh
    and reported in the result. With ``target_se``, waves of chunks run until the largest standard
    error of the headline probabilities is below it, or ``runs`` is reached. ``progress(done,
    total)`` is called after every wave. Ctrl-C (KeyboardInterrupt) stops between waves.
    """
    runs = election.simulation.runs if runs is None else runs
    if not 1 <= runs <= MAX_RUNS:
        raise InputError(f"runs must be between 1 and {MAX_RUNS:,} (got {runs})")
    if target_se is not None and not (0.0 < target_se < 0.5):
        raise InputError(f"target standard error must be between 0 and 0.5 (got {target_se})")
    if threads is not None:
        use_threads(threads)
    seed = election.simulation.seed if seed is None else seed
    if seed is None:
        seed = fresh_seed()
    if seed < 0:
        raise InputError(f"seed must be non-negative (got {seed})")
    engine = Engine(election, chunk_size)
    size = engine.chunk_size
    n_chunks = -(-runs // size)
    tally = engine.empty_tally()
    settings = {
        "chunk_size": size,
        "pooling": election.model.pooling,
        "others": election.model.others,
        "threads": nb.get_num_threads(),
        "target_se": target_se,
    }
    for first in range(0, n_chunks, WAVE_CHUNKS):
        last = min(n_chunks, first + WAVE_CHUNKS)
        chunk_runs = np.full(last - first, size, np.int64)
        if last == n_chunks:
            chunk_runs[-1] = runs - size * (n_chunks - 1)
        tally = tally + engine.run_chunks(seed, first, chunk_runs)
        if progress is not None:
            progress(tally.runs, runs)
        if target_se is not None:
            if result_from_tally(election, tally, seed).max_standard_error() < target_se:
                break
    return result_from_tally(election, tally, seed, settings)
