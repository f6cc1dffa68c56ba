"""The simulation engine: a short loop that hands each block of runs from stage to stage.

Runs are cut into chunks of ``chunk_size``; chunk ``c`` draws from its own random stream
(:mod:`simulator.streams`). Chunks are processed in waves of ``WAVE_CHUNKS`` by one compiled
function that runs the chunks of a wave in parallel (``prange``), each into its own slot of the
wave's tallies, which are then summed in chunk order. Nothing depends on the thread count, so the
same config and seed give bit-identical results on 1 thread or 16; memory is one wave's tallies,
whatever the number of runs.

Within a chunk, runs go by blocks of ``BLOCK``, one run per column of a lists x runs matrix, through
three stages, each with its parameters as one typed record:

* **votes** (:mod:`simulator.votes.draws`, record ``VoteStage``): polls -> Dirichlet -> error layers
  -> a block of vote shares;
* **seats** (:func:`~simulator.allocation.kernels.allocate_stage`, record ``SeatStage``): the
  allocation kernel, vectorised across runs;
* **tallies** (:func:`~simulator.tally.tally_block`, record ``TallySpec``): seat and share
  distributions, threshold passes, coalitions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numba as nb
import numpy as np

from .allocation import district_rules, kernel_rules
from .allocation.kernels import BLOCK, allocate_stage, block_work
from . import __version__
from .config import Election, config_document
from .errors import InputError
from .results import Result, result_from_tally
from .streams import chunk_states, fresh_seed, stream_state
from .analysis import AnalysisSpec, analysis_block, analysis_scratch
from .allocation.plan import law_stage
from .allocation.tiers import allocate_law_national, law_scratch
from .districts import district_law_block, district_scratch, district_seats_block, district_votes_record
from .tally import MAX_RUNS, Tally, TallySpec, chunk_tally, tally_block, tally_districts
from .votes.draws import draw_shares, vote_scratch
from .votes.model import VoteModel, build_vote_model

WAVE_CHUNKS = 32  # chunks per compiled call: enough to keep every core busy, fixed for determinism


@nb.njit(cache=True, parallel=True, nogil=True)
def _simulate_wave(states, chunk_runs, votes, seats, dvotes, dseats, law, aspec, spec, slots,
                   record_votes, record_seats, ticks):
    """Chunks in parallel, each counted into the slot of the thread that runs it: integer counts
    add up to the same totals whichever thread ran which chunk. ``ticks[c]``: runs of chunk c
    done so far, for a progress bar to read while the wave runs (the GIL is released)."""
    for c in nb.prange(states.shape[0]):
        s = nb.get_thread_id()
        t = chunk_tally(slots, s, np.empty(BLOCK), np.empty((spec.thresholds.shape[0], BLOCK), np.int32))
        _simulate_chunk(states[c], chunk_runs[c], votes, seats, dvotes, dseats, law, aspec, spec,
                        t, record_votes[c], record_seats[c], ticks[c:c + 1])


@nb.njit(cache=True, error_model="numpy")
def _simulate_chunk(words, runs, votes, seats, dv, ds, law, aspec, spec, t, record_votes,
                    record_seats, tick):
    """One chunk of ``runs`` runs from the stream ``words``, into the tally ``t``. With districts
    (``dv``: DistrictVotes, ``ds``: DistrictStage) the seats stage is the district stage; with a
    law of tiers (``law``: LawStage, active) the tier kernel;
    ``aspec``: the analysis of the simulated parliaments (:mod:`simulator.analysis`); ``tick[0]``
    counts the runs done."""
    st = stream_state(words)
    n = spec.thresholds.shape[0]
    work = block_work(n)
    work[1][0][:] = seats.base
    src, sb = work[0][0], work[0][2]  # lists x BLOCK: one run per column
    scratch = vote_scratch(votes)
    dscratch = district_scratch(dv, n)
    ascratch = analysis_scratch(n, aspec.majority if aspec.enabled else 1)
    lscratch = law_scratch(law, n)
    for start in range(0, runs, BLOCK):
        nr = min(BLOCK, runs - start)
        st = draw_shares(st, votes, scratch, nr, src)
        if law.active:
            if dv.active:
                st = district_law_block(st, src, sb, nr, dv, ds, law, dscratch, lscratch)
                tally_districts(dscratch[2], nr, t)
            else:
                allocate_law_national(src, nr, seats.base, law, lscratch, sb)
        elif dv.active:
            st = district_seats_block(st, src, sb, nr, dv, ds, dscratch)
            tally_districts(dscratch[2], nr, t)
        else:
            allocate_stage(src, nr, seats, work)
        tally_block(src, sb, nr, spec, t)
        if aspec.enabled:
            analysis_block(src, sb, nr, aspec, t, ascratch)
        if record_seats.shape[0] > 0:  # for tests: keep every run's draws and seats
            record_votes[start:start + nr] = src[:, :nr].T
            record_seats[start:start + nr] = sb[:, :nr].T
        tick[0] = start + nr


def use_threads(threads: int | None) -> int:
    """Set numba's worker threads (None = all cores) after checking the number; return it."""
    cores = nb.config.NUMBA_NUM_THREADS
    if threads is None:
        threads = cores
    if not 1 <= threads <= cores:
        raise InputError(f"threads must be between 1 and {cores} (got {threads}): this machine "
                         f"has {cores} core{'s' if cores > 1 else ''} for numba")
    nb.set_num_threads(threads)
    return threads


def check_options(runs: int | None = None, seed: int | None = None, threads: int | None = None,
                  target_se: float | None = None) -> None:
    """The checks :func:`simulate` makes of its options, for callers that want them made before
    they start anything (a progress bar, say)."""
    if runs is not None and not 1 <= runs <= MAX_RUNS:
        raise InputError(f"runs must be between 1 and {MAX_RUNS:,} (got {runs})")
    if target_se is not None and not (0.0 < target_se < 0.5):
        raise InputError(f"target standard error must be between 0 and 0.5 (got {target_se})")
    if seed is not None and seed < 0:
        raise InputError(f"seed must be non-negative (got {seed})")
    if threads is not None:
        use_threads(threads)


def compiled(kernel=None) -> bool:
    """Whether numba's cache already holds the compiled simulation (else the first simulation
    compiles it: about 75 s on a 2-core machine, once), or the compiled ``kernel`` (a numba
    function, e.g. the sweep's)."""
    try:  # an index of compiled versions for the source as it is now (empty when stale)
        return bool((kernel or _simulate_wave)._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001 (numba's internals moved: say nothing rather than something wrong)
        return True


SIMULATION_KERNELS = "the simulation kernels (about 75 s on 2 cores)"
SWEEP_KERNELS = "the sweep kernels (about 25 s on 2 cores)"
COMPILE_NOTE = "compiling the simulation kernels (first run only, about 75 s on 2 cores)"


def warm(say: Callable[[str], None] | None = None, load: bool = False) -> bool:
    """Compile the simulation and sweep kernels into numba's cache unless they are there (``say``
    hears what is about to be compiled: :data:`SIMULATION_KERNELS`, :data:`SWEEP_KERNELS`);
    return whether anything was compiled. With ``load``, also load them into this process when
    they were cached. ``electsim compile``, and every Dask worker before its first task
    (:mod:`simulator.cluster`)."""
    from .config import Scenario, parse_config
    from .scenarios import _sweep_wave, sweep

    tiny = parse_config({"election": {"seats": 3}, "party": [{"id": "a"}, {"id": "b"}],
                         "poll": [{"sample_size": 100, "shares": {"a": 60, "b": 40}}]})
    did = False
    if not compiled() or load:
        if say and not compiled():
            say(SIMULATION_KERNELS)
        did = not compiled()
        simulate(tiny, runs=10, seed=0)
    if not compiled(_sweep_wave) or load:
        if say and not compiled(_sweep_wave):
            say(SWEEP_KERNELS)
        did = did or not compiled(_sweep_wave)
        sweep(tiny, [Scenario("x", {"election": {"seats": 4}})], runs=10, seed=0)
    return did


# Fields that may be infinite by design: a Student t of infinite degrees of freedom is a normal.
_INFINITE_OK = frozenset({"shock_df"})


def check_finite(path: str, *records) -> None:
    """Refuse to hand a compiled kernel a record (a stage's namedtuple) with a NaN or an infinity
    in it: a kernel trusts its input (it would index arrays with garbage), so what a config's
    extreme values could make non-finite is checked here, once, as a one-line error."""
    for record in records:
        for name, value in zip(record._fields, record):
            if name in _INFINITE_OK:
                continue
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                bad = not np.isfinite(value).all()
            elif isinstance(value, float):
                bad = not np.isfinite(value)
            else:
                continue
            if bad:
                raise InputError(f"{path}: the config's values make {type(record).__name__}.{name} "
                                 "not a finite number; nothing was simulated (please report the "
                                 "config: a bound on some value is missing)")


def passing_thresholds(election: Election, default: np.ndarray) -> np.ndarray:
    """The thresholds whose passing the tallies count (P(threshold)), per list: a law's levelling
    threshold where it has one (the seats that make a result proportional), else its district
    tier's (alliance thresholds included), else the one-tier rules'."""
    law = election.law
    if law is None:
        return default
    return np.array(law.levelling.thresholds if law.levelling else law.thresholds, np.float64)


def threshold_base(election: Election) -> float:
    """The threshold base of a simulated election whose list shares of valid votes sum to 1:
    1 for a threshold on valid votes, 1 / (1 - invalid share) for one on ballots cast."""
    invalid = election.model.invalid_share / 100.0 if election.rules.threshold_base == "cast" else 0.0
    return 1.0 / (1.0 - invalid)


class Engine:
    """A compiled simulation set up for one election; call :meth:`run_chunks` repeatedly."""

    def __init__(self, election: Election, chunk_size: int | None = None, analysis: bool = False,
                 power: bool = True):
        self.election = election
        self.vote_model: VoteModel = build_vote_model(election)
        self.rules = kernel_rules(election.rules, election.parties)
        self.chunk_size = int(chunk_size or election.simulation.chunk_size)
        ids = election.party_ids
        members = np.zeros((len(election.coalitions), len(ids)), np.bool_)
        for k, coalition in enumerate(election.coalitions):
            for m in coalition.members:
                members[k, ids.index(m)] = True
        self.base = threshold_base(election)
        self.votes = self.vote_model.stage()
        self.seats = self.rules.stage(self.base)
        self.spec = TallySpec(thresholds=passing_thresholds(election, self.rules.thresholds),
                              base=self.base, coalition_members=members)
        self.districts = (district_votes_record(election), district_rules(election))
        self.law = law_stage(election)
        kr = self.rules
        self.analysis = AnalysisSpec(
            enabled=bool(analysis), majority=int(election.rules.majority), method=kr.method, seats=kr.seats,
            thresholds=kr.thresholds, base=self.base, minority=kr.minority, exempt=kr.exempt,
            cnum=kr.cnum, cden=kr.cden, coalition_members=members,
            last_seat=not election.districts and election.law is None, power=bool(power))
        self.magnitude = max((d.seats for d in election.districts), default=0)
        law = election.law
        if law is not None and election.districts:  # the most seats one district can end with
            self.magnitude += ((law.levelling.seats if law.levelling else 0)
                               + (election.rules.seats if law.remainder else 0))
        check_finite(election.path, self.votes, self.seats, self.spec, *self.districts, self.law,
                     self.analysis)

    def empty_tally(self, slots: int | None = None) -> Tally:
        return Tally.empty(len(self.election.parties), self.election.rules.seats,
                           len(self.election.coalitions), slots, len(self.election.districts),
                           self.magnitude)

    def run_chunks(self, seed: int, first_chunk: int, chunk_runs: np.ndarray,
                   record: bool = False, ticks: np.ndarray | None = None
                   ) -> Tally | tuple[Tally, np.ndarray, np.ndarray]:
        """Simulate chunks first_chunk, first_chunk+1, ... with the given run counts; one tally.

        With ``record`` (for tests and debugging; memory grows with runs) it also returns every
        run's vote shares and seats, as arrays of shape (chunks, max chunk runs, lists).
        ``ticks`` (int64, one per chunk) counts each chunk's runs done, as they are done.
        """
        count = len(chunk_runs)
        n = len(self.election.parties)
        slots = self.empty_tally(slots=nb.config.NUMBA_NUM_THREADS)
        rec_shape = (count, int(np.max(chunk_runs)), n) if record else (count, 0, n)
        record_votes = np.zeros(rec_shape, np.float64)
        record_seats = np.zeros(rec_shape, np.float32)
        _simulate_wave(chunk_states(seed, first_chunk, count), np.asarray(chunk_runs, np.int64),
                       self.votes, self.seats, *self.districts, self.law, self.analysis, self.spec,
                       slots.chunk_tally(), record_votes, record_seats,
                       np.zeros(count, np.int64) if ticks is None else ticks)
        tally = slots.merged(int(np.sum(chunk_runs)), self.election.rules.majority)
        if record:
            return tally, record_votes, record_seats.astype(np.int32)
        return tally


def simulate(
    election: Election,
    runs: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
    target_se: float | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    draws: str | Path | None = None,
    analysis: bool = False,
    cluster=None,
    outputs=None,
) -> Result:
    """Simulate the election from its polls and return seat and majority probabilities.

    ``runs`` and ``seed`` default to the config's ``[simulation]``; a missing seed is drawn fresh
    and reported in the result. With ``target_se``, waves of chunks run until the largest standard
    error of the headline probabilities is below it, or ``runs`` is reached. ``progress(done,
    total)`` is called after every wave. Ctrl-C (KeyboardInterrupt) stops between waves. With
    ``draws``, every run's shares and seats are streamed to that ``.npz`` file
    (:mod:`simulator.draws_file`). With ``analysis``, the simulated parliaments are analysed as
    they stream (:mod:`simulator.analysis`: places, power indices, votes against seats, the last
    seat). With ``cluster`` (a :class:`simulator.cluster.Cluster`) the waves run on its workers,
    to the same result bit for bit. With ``outputs`` (a :class:`simulator.files.Outputs`), the
    draws file joins that set of files instead of being put in place at once.
    """
    runs = election.simulation.runs if runs is None else runs
    seed = election.simulation.seed if seed is None else seed
    check_options(runs, seed, threads, target_se)
    if seed is None:
        seed = fresh_seed()
    engine = Engine(election, chunk_size, analysis)
    if cluster is not None and draws is not None:
        raise InputError("--draws writes every run here: it does not go with --dask")
    check_memory(election, nb.get_num_threads(),
                 record_runs=WAVE_CHUNKS * engine.chunk_size if draws is not None else 0)
    plan = wave_plan(runs, engine.chunk_size)
    tally = engine.empty_tally()
    writer = None
    if draws is not None:
        from .draws_file import DrawsWriter

        writer = DrawsWriter(draws, runs, election.party_ids, election.rules.seats)
    if cluster is None:
        ticker = Ticker(progress, runs)
        waves = (ticker.during(lambda ticks, first=first, chunk_runs=chunk_runs:
                               engine.run_chunks(seed, first, chunk_runs, record=writer is not None,
                                                 ticks=ticks), chunk_runs)
                 for first, chunk_runs in plan)
    else:  # the progress bar follows the waves as they complete, in any order
        finished = [0]

        def done(i):
            finished[0] += int(plan[i][1].sum())
            if progress is not None:
                progress(min(finished[0], runs), runs)

        waves = cluster.ordered(run_wave, engine, [(seed, first, chunk_runs) for first, chunk_runs in plan],
                                on_done=done)
    try:
        for (first, chunk_runs), wave in zip(plan, waves):
            if writer is not None:
                wave, votes, seats = wave
                writer.add(votes, seats, chunk_runs)
            tally = tally + wave
            if progress is not None and cluster is None:
                progress(tally.runs, runs)
            if target_se is not None:
                if result_from_tally(election, tally, seed).max_standard_error() < target_se:
                    break
        if writer is not None:
            writer.close(outputs)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        if cluster is not None:
            waves.close()  # cancels what is still pending
    settings = run_settings(engine, tally.runs, seed, target_se)
    if cluster is not None:  # where it ran: the cluster's threads, not this machine's
        settings.update(cluster.settings())
    return result_from_tally(election, tally, seed, settings, engine.vote_model, analysis)


class Ticker:
    """Progress within a wave: while the compiled wave runs (it releases the GIL), a thread
    reports the runs its chunks have done (their ``ticks``) every ``every`` seconds, so a bar
    moves, and has a rate to estimate the time left from, even when a wave takes minutes."""

    def __init__(self, progress: Callable[[int, int], None] | None, total: int, every: float = 0.25):
        self.progress, self.total, self.every = progress, total, every
        self.done = 0  # runs of the waves finished

    def during(self, wave: Callable[[np.ndarray], object], chunk_runs: np.ndarray):
        """``wave(ticks)``, reporting its progress; returns what it returns."""
        import threading

        ticks = np.zeros(len(chunk_runs), np.int64)
        if self.progress is None:
            return wave(ticks)
        stop = threading.Event()

        def report():
            while not stop.wait(self.every):
                self.progress(min(self.done + int(ticks.sum()), self.total), self.total)

        thread = threading.Thread(target=report, daemon=True)
        thread.start()
        try:
            return wave(ticks)
        finally:
            stop.set()
            thread.join()
            self.done += int(np.sum(chunk_runs))


def memory_estimate(election: Election, threads: int, variants: int = 1, record_runs: int = 0,
                    seats: int | None = None) -> int:
    """Bytes a simulation of ``election`` holds at its peak, roughly: each of ``variants`` rule
    sets keeps a tally per thread plus three being merged (every list's and coalition's seat
    distribution, share histograms, district counts, places), their results as Python numbers,
    and ``record_runs`` recorded runs (``--draws``: one wave's)."""
    from .analysis import MARGIN_BINS
    from .tally import SHARE_BINS

    n = len(election.parties)
    c = len(election.coalitions)
    s = (election.rules.seats if seats is None else seats) + 1
    d = len(election.districts)
    m = max((x.seats for x in election.districts), default=0) + 1
    tally = 8 * ((n + c) * s + n * (SHARE_BINS + 1) + d * n * (m + 2) + n * n + 12 * (n + c)
                 + MARGIN_BINS)
    results = 72 * (n + c) * s  # a tuple of floats and one of ints per list and coalition
    scratch = 8 * threads * (BLOCK * (40 * n + 4 * d * n) + (2 * n + 2) * election.rules.majority)
    return variants * ((threads + 3) * tally + results) + scratch + 12 * record_runs * n


def physical_memory() -> int | None:
    """This machine's memory in bytes, when the system says."""
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(election: Election, threads: int, variants: int = 1, record_runs: int = 0,
                 seats: int | None = None) -> None:
    """Refuse, before allocating anything, a simulation that would need more than 80 % of this
    machine's memory (:func:`memory_estimate`), in one line that says what takes it."""
    need = memory_estimate(election, threads, variants, record_runs, seats)
    have = physical_memory()
    if have is not None and need > 0.8 * have:
        what = (f"{len(election.parties)} lists and {len(election.coalitions)} coalitions x "
                f"{(election.rules.seats if seats is None else seats) + 1:,} seat counts x "
                f"{threads + 3} tallies"
                + (f" x {variants} rule variants" if variants > 1 else ""))
        raise InputError(f"{election.path}: this simulation needs about {need / 2**30:,.1f} GiB of "
                         f"memory ({what}), more than this machine's {have / 2**30:,.1f} GiB allow; "
                         "fewer seats, lists, coalitions or scenarios would fit")


def wave_plan(runs: int, chunk_size: int) -> list[tuple[int, np.ndarray]]:
    """The waves of a simulation of ``runs`` runs: (first chunk, runs of each of its chunks), in
    order; every chunk has ``chunk_size`` runs but the last. The unit of work of a cluster."""
    n_chunks = -(-runs // chunk_size)
    out = []
    for first in range(0, n_chunks, WAVE_CHUNKS):
        last = min(n_chunks, first + WAVE_CHUNKS)
        chunk_runs = np.full(last - first, chunk_size, np.int64)
        if last == n_chunks:
            chunk_runs[-1] = runs - chunk_size * (n_chunks - 1)
        out.append((first, chunk_runs))
    return out


def run_wave(engine: Engine, seed: int, first: int, chunk_runs: np.ndarray) -> Tally:
    """One wave's tally: what a cluster's worker computes (:mod:`simulator.cluster`)."""
    return engine.run_chunks(seed, first, chunk_runs)


def run_settings(engine: Engine, runs: int, seed: int, target_se: float | None) -> dict:
    """What a result records of how it was made: enough to re-run it (``config``: the effective
    config, which ``electsim simulate report.json`` reads back), and the vote model in words."""
    election, vm = engine.election, engine.vote_model
    config = config_document(election)
    config["simulation"].update(runs=runs, seed=seed, chunk_size=engine.chunk_size)
    return {
        "version": __version__,
        "chunk_size": engine.chunk_size,
        "pooling": election.model.pooling,
        "others": election.model.others,
        "threads": nb.get_num_threads(),
        "target_se": target_se,
        "model": election.model.settings(),
        "error_model": vm.describe(),
        "design_effect_used": vm.design_effect,
        "polls": [
            {"firm": p.firm, "date": p.date.isoformat() if p.date else None,
             "sample_size": p.sample_size, "weight": float(vm.poll_weights[i]),
             "effective_size": float(vm.effective_sizes[i])}
            for i, p in enumerate(election.polls)
        ],
        "config": config,
    }
