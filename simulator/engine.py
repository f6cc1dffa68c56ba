"""The simulation engine: draw vote shares, allocate seats, tally; fused, streaming and parallel.

Runs are cut into chunks of ``chunk_size``; chunk ``c`` draws from its own random stream
(:mod:`simulator.streams`). Chunks are processed in waves of ``WAVE_CHUNKS`` by one compiled
function that runs the chunks of a wave in parallel (``prange``), each into its own slot of the
wave's tallies, which are then summed in chunk order. Nothing depends on the thread count, so the
same config and seed give bit-identical results on 1 thread or 16; memory is one wave's tallies,
whatever the number of runs.

Per run: pick a poll (mixture pooling), draw Dirichlet shares of the poll buckets as normalised
gammas, split the ``others`` bucket among the lists the polls do not name (its own Dirichlet), then
allocate seats with the allocation kernel and count. Runs are drawn into blocks of ``BLOCK`` rows
so that the divisor methods allocate a block at a time (:func:`allocate_block`, vectorised across
rows); draws stay in run order, so blocking changes nothing in the results.
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np

from .allocation import kernel_rules
from .allocation.kernels import (
    BLOCK, BLOCK_MAX_LISTS, HARE_NIEMEYER, allocate_block, allocate_row, below_threshold_factor,
    block_work,
)
from .config import Election
from .errors import InputError
from .polls import PollModel, build_poll_model
from .results import Result, result_from_tally
from .streams import chunk_states, fresh_seed, gamma_constants, gamma_prepared, uniform
from .tally import MAX_RUNS, SHARE_UNIT, Tally

_UNITS_PER_SHARE = 1.0 / SHARE_UNIT
WAVE_CHUNKS = 32  # chunks per compiled call: enough to keep every core busy, fixed for determinism


@nb.njit(cache=True, parallel=True, error_model="numpy")  # numpy errors: see allocate_block
def _simulate_wave(states, chunk_runs, alpha, cum_probs, bucket_of, others_bucket, split_alpha,
                   base, seats, method, thresholds, minority, exempt, cnum, cden, majority,
                   coalition_members, seat_counts, maj, thr, coal_maj, coal_counts, share_units,
                   record_votes, record_seats):
    chunks = states.shape[0]
    n = bucket_of.shape[0]
    n_buckets = alpha.shape[1]
    n_coal = coalition_members.shape[0]
    fex = below_threshold_factor(minority, exempt, cnum)
    blocked = method != HARE_NIEMEYER and n <= BLOCK_MAX_LISTS
    named_idx = np.flatnonzero(bucket_of >= 0)  # lists with their own poll bucket
    named_bucket = bucket_of[named_idx]
    split_idx = np.flatnonzero(split_alpha > 0.0) if others_bucket >= 0 else np.zeros(0, np.int64)
    n_named = named_idx.shape[0]
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
        state = states[c].copy()
        draws = np.empty(n_buckets)
        split = np.empty(n)
        vb = np.zeros((BLOCK, n))
        bb = np.full(BLOCK, base)
        ob = np.zeros((BLOCK, n), np.int32)
        work = block_work(n)
        weights, scratch, takers = work[2], work[3], work[4]
        recording = record_seats.shape[0] > 0
        for start in range(0, chunk_runs[c], BLOCK):
            nr = min(BLOCK, chunk_runs[c] - start)
            for r in range(nr):
                row = 0
                if cum_probs.shape[0] > 1:
                    u = uniform(state)
                    while row < cum_probs.shape[0] - 1 and cum_probs[row] <= u:
                        row += 1
                total = 0.0
                for k in range(n_buckets):
                    g = gamma_prepared(state, alpha[row, k], gd[row, k], gc[row, k])
                    draws[k] = g
                    total += g
                split_total = 0.0
                for j in range(n_split):
                    g = gamma_prepared(state, split_shape[j], sd[j], sc[j])
                    split[j] = g
                    split_total += g
                inv = 1.0 / total
                for i in range(n):
                    vb[r, i] = 0.0
                for i in range(n_named):
                    vb[r, named_idx[i]] = draws[named_bucket[i]] * inv
                if n_split > 0:
                    scale = draws[others_bucket] * inv / split_total
                    for j in range(n_split):
                        vb[r, split_idx[j]] = split[j] * scale
            if blocked:
                allocate_block(vb, bb, 0, nr, seats, method, thresholds, minority, exempt, cnum, cden,
                               fex, work, ob)
            else:
                for r in range(nr):
                    allocate_row(vb[r], base, seats, method, thresholds, minority, exempt, cnum, cden,
                                 weights, takers, scratch, ob[r])
            for r in range(nr):
                if recording:  # for tests: keep every run's draws and seats
                    for i in range(n):
                        record_votes[c, start + r, i] = vb[r, i]
                        record_seats[c, start + r, i] = ob[r, i]
                for i in range(n):
                    s = ob[r, i]
                    seat_counts[c, i, s] += 1
                    maj[c, i] += s >= majority
                    v = vb[r, i]
                    thr[c, i] += (v > 0.0) & (v * 100.0 >= thresholds[i] * base)
                    share_units[c, i] += np.int64(v * _UNITS_PER_SHARE + 0.5)
                for k in range(n_coal):
                    s = 0
                    for i in range(n):
                        s += ob[r, i] * coalition_members[k, i]
                    coal_counts[c, k, s] += 1
                    coal_maj[c, k] += s >= majority


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
