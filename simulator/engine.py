"""The simulation engine: draw vote shares, allocate seats, tally; fused, streaming and parallel.

Runs are cut into chunks of ``chunk_size``; chunk ``c`` draws from its own random stream
(:mod:`simulator.streams`). Chunks are processed in waves of ``WAVE_CHUNKS`` by one compiled
function that runs the chunks of a wave in parallel (``prange``), each into its own slot of the
wave's tallies, which are then summed in chunk order. Nothing depends on the thread count, so the
same config and seed give bit-identical results on 1 thread or 16; memory is one wave's tallies,
whatever the number of runs.

Per run: pick a poll (mixture pooling), draw Dirichlet shares of the poll buckets as normalised
gammas, split the ``others`` bucket among the lists the polls do not name (its own Dirichlet), then
allocate seats with the allocation kernel and count.
"""

from __future__ import annotations

from collections.abc import Callable

import numba as nb
import numpy as np

from .allocation import kernel_rules
from .allocation.kernels import allocate_row
from .config import Election
from .errors import InputError
from .polls import PollModel, build_poll_model
from .results import Result, result_from_tally
from .streams import chunk_states, fresh_seed, gamma, uniform
from .tally import Tally

WAVE_CHUNKS = 32  # chunks per compiled call: enough to keep every core busy, fixed for determinism


@nb.njit(cache=True, parallel=True)
def _simulate_wave(states, chunk_runs, alpha, cum_probs, bucket_of, others_bucket, split_alpha,
                   base, seats, method, thresholds, minority, exempt, cnum, cden, majority,
                   coalition_members, seat_counts, maj, thr, coal_maj, coal_counts, share_sum,
                   record_votes, record_seats):
    chunks = states.shape[0]
    n = bucket_of.shape[0]
    n_buckets = alpha.shape[1]
    n_coal = coalition_members.shape[0]
    for c in nb.prange(chunks):
        state = states[c].copy()
        spare = np.zeros(2)
        draws = np.empty(n_buckets)
        votes = np.empty(n)
        split = np.empty(n)
        weights = np.empty(n)
        scratch = np.empty(n)
        takers = np.empty(2 * n, np.int64)
        out = np.empty(n, np.int32)
        recording = record_seats.shape[0] > 0
        for r in range(chunk_runs[c]):
            row = 0
            if cum_probs.shape[0] > 1:
                u = uniform(state)
                while row < cum_probs.shape[0] - 1 and cum_probs[row] <= u:
                    row += 1
            total = 0.0
            for k in range(n_buckets):
                g = gamma(state, spare, alpha[row, k])
                draws[k] = g
                total += g
            split_total = 0.0
            for i in range(n):
                if bucket_of[i] < 0 and split_alpha[i] > 0.0:
                    g = gamma(state, spare, split_alpha[i])
                    split[i] = g
                    split_total += g
            others = draws[others_bucket] / total if others_bucket >= 0 else 0.0
            for i in range(n):
                k = bucket_of[i]
                if k >= 0:
                    votes[i] = draws[k] / total
                elif split_alpha[i] > 0.0:
                    votes[i] = others * split[i] / split_total
                else:
                    votes[i] = 0.0
            allocate_row(votes, base, seats, method, thresholds, minority, exempt, cnum, cden,
                         weights, takers, scratch, out)
            if recording:  # for tests: keep every run's draws and seats
                record_votes[c, r] = votes
                record_seats[c, r] = out
            for i in range(n):
                s = out[i]
                seat_counts[c, i, s] += 1
                if s >= majority:
                    maj[c, i] += 1
                v = votes[i]
                if v > 0.0 and v * 100.0 >= thresholds[i] * base:
                    thr[c, i] += 1
                share_sum[c, i] += v
            for k in range(n_coal):
                s = 0
                for i in range(n):
                    if coalition_members[k, i]:
                        s += out[i]
                coal_counts[c, k, s] += 1
                if s >= majority:
                    coal_maj[c, k] += 1


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
        share_sum = np.zeros((count, n), np.float64)
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
            seat_counts, maj, thr, coal_maj, coal_counts, share_sum, record_votes, record_seats,
        )
        share_total = np.zeros(n)
        for c in range(count):  # fixed order: float sums come out the same on any thread count
            share_total += share_sum[c]
        tally = Tally(
            runs=int(np.sum(chunk_runs)), seat_counts=seat_counts.sum(axis=0), majority=maj.sum(axis=0),
            threshold=thr.sum(axis=0), coalition_majority=coal_maj.sum(axis=0),
            coalition_seat_counts=coal_counts.sum(axis=0), share_sum=share_total,
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
    if runs < 1:
        raise InputError(f"runs must be at least 1 (got {runs})")
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
