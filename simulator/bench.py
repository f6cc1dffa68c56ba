"""Benchmarks of the allocation kernel and the whole pipeline against baselines, timed honestly.

Every implementation gets the same inputs; results are checked equal to the kernel's before timing
(the kernel itself is checked against the plain-Python reference). Compilation happens outside the
timed region; each timing is repeated and the median and spread reported. Slow implementations are
timed on a subsample, and the report says so.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field

import numba
import numpy as np

from .allocation import KernelRules, kernel_rules
from .allocation.baselines import numpy_batch, seat_by_seat_batch
from .allocation.kernels import HARE_NIEMEYER, allocate_batch_kernel
from .allocation.reference import allocate_reference
from .config import Party, Rules
from .engine import simulate, threshold_base, use_threads
from .errors import InputError

# name: (lists, seats); Belgrade's rules (3 % of ballots cast, exempt minority lists x 1.35) for all.
PRESETS = {
    "belgrade": (14, 110),
    "national": (20, 250),
    "assembly": (50, 750),
}
INVALID_SHARE = 0.025  # share of ballots cast that are invalid, for the cast-based threshold


@dataclass
class Timing:
    """One implementation's timing on one input."""

    name: str
    allocations_per_s: float
    ns_per_allocation: float
    spread: tuple[float, float]  # min and max allocations/s over the repeats
    runs_timed: int
    matched_reference: bool
    subsample: bool = False
    speedup_vs_seat_by_seat: float | None = None


@dataclass
class KernelBench:
    lists: int
    seats: int
    method: str
    runs: int
    threads: int
    timings: list[Timing] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The ``electsim bench --json`` document: the settings, every timing, and per
        implementation (by name) its ``allocations_per_s`` and the rest of its figures."""
        doc = asdict(self)
        doc["implementations"] = {
            t.name: {"allocations_per_s": t.allocations_per_s, "ns_per_allocation": t.ns_per_allocation,
                     "speedup_vs_seat_by_seat": t.speedup_vs_seat_by_seat,
                     "matched_reference": t.matched_reference, "runs_timed": t.runs_timed,
                     "subsample": t.subsample, "spread": list(t.spread)}
            for t in self.timings
        }
        return doc


def bench_rules(lists: int, seats: int, method: str = "dhondt") -> tuple[Rules, list[Party]]:
    """Belgrade-like rules for a synthetic election of ``lists`` lists (every 7th list a minority)."""
    if lists < 2 or seats < 1:
        raise InputError(f"a benchmark needs at least 2 lists and 1 seat (got {lists} lists, {seats} seats)")
    parties = [Party(id=f"p{i}", name=f"p{i}", minority=(i % 7 == 4)) for i in range(lists)]
    rules = Rules(seats=seats, majority=seats // 2 + 1, method=method, threshold=3.0,
                  threshold_base="cast", minority_exempt=True, minority_coefficient=1.35)
    return rules, parties


def synthetic_shares(lists: int, runs: int, seed: int = 1) -> np.ndarray:
    """Vote shares shaped like real party systems: Dirichlet around a Zipf profile (a few big
    lists, a long tail near the threshold), concentration 300, so runs vary as polls do."""
    profile = 1.0 / np.arange(1, lists + 1) ** 1.1
    alpha = 300.0 * profile / profile.sum()
    return np.random.default_rng(seed).dirichlet(alpha, size=runs)


def _time(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _timing(name: str, seconds: list[float], runs: int, matched: bool, subsample: bool) -> Timing:
    rates = [runs / s for s in seconds]
    med = statistics.median(rates)
    return Timing(name=name, allocations_per_s=med, ns_per_allocation=1e9 / med,
                  spread=(min(rates), max(rates)), runs_timed=runs, matched_reference=matched,
                  subsample=subsample)


def bench_kernel(
    lists: int = 14,
    seats: int = 110,
    runs: int = 1_000_000,
    method: str = "dhondt",
    threads: int | None = None,
    repeats: int = 5,
    reference_runs: int = 2_000,
    numpy_runs: int = 200_000,
    seat_loop_runs: int | None = None,
    include_apportionment: bool = True,
    seed: int = 1,
) -> KernelBench:
    """Time the kernel and its baselines on the same synthetic shares; check results first.

    The kernel and the seat-by-seat loop are timed in ``repeats`` alternating rounds; the kernel's
    speed-up is the median of the rounds' ratios (on a machine whose speed drifts, a ratio of two
    medians taken minutes apart mixes the drift in). Every other speed-up is its rate over the
    loop's median rate."""
    threads = use_threads(threads)
    rules, parties = bench_rules(lists, seats, method)
    kr = kernel_rules(rules, parties)
    shares = synthetic_shares(lists, runs, seed)
    bases = shares.sum(axis=1) / (1.0 - INVALID_SHARE)
    out = np.ones(shares.shape, np.int32)  # touch the pages before timing
    result = KernelBench(lists=lists, seats=seats, method=method, runs=runs, threads=threads)

    allocate_batch_kernel(shares[:64], bases[:64], *kr.args(), out[:64])  # compile / load cache
    ref_n = min(reference_runs, runs)
    matched = _matches_reference(shares[:ref_n], bases[:ref_n], rules, parties, kr)
    loop_n = min(seat_loop_runs or runs, runs)
    loop_out = np.ones((loop_n, lists), np.int32)
    seat_by_seat_batch(shares[:64], bases[:64], *kr.args(), loop_out[:64])
    # the kernel and the seat-by-seat loop timed in turns, so that each round's ratio compares the
    # two on the machine as it was at that moment
    kernel_s, loop_s = [], []
    for _ in range(repeats):
        kernel_s += _time(lambda: allocate_batch_kernel(shares, bases, *kr.args(), out), 1)
        loop_s += _time(lambda: seat_by_seat_batch(shares[:loop_n], bases[:loop_n], *kr.args(), loop_out), 1)
    kernel_seats = out.copy()
    result.timings.append(_timing("kernel", kernel_s, runs, matched, False))
    result.timings.append(_timing("seat-by-seat (numba)", loop_s, loop_n,
                                  bool((loop_out == kernel_seats[:loop_n]).all()), loop_n < runs))
    paired = statistics.median((runs / k) / (loop_n / lp) for k, lp in zip(kernel_s, loop_s))

    if kr.method != HARE_NIEMEYER:
        np_n = min(numpy_runs, runs)
        np_seats = numpy_batch(shares[:np_n], bases[:np_n], *kr.args())
        np_s = _time(lambda: numpy_batch(shares[:np_n], bases[:np_n], *kr.args()), 1)
        result.timings.append(_timing("numpy (vectorised)", np_s, np_n,
                                      bool((np_seats == kernel_seats[:np_n]).all()), np_n < runs))

    ref_s = _time(lambda: _reference_batch(shares[:ref_n], bases[:ref_n], rules, parties), 1)
    result.timings.append(_timing("python reference", ref_s, ref_n, True, ref_n < runs))

    if include_apportionment:
        t = _bench_apportionment(shares, kernel_seats, rules, kr, ref_n)
        if t is not None:
            result.timings.append(t)

    loop_rate = result.timings[1].allocations_per_s
    for t in result.timings:
        t.speedup_vs_seat_by_seat = t.allocations_per_s / loop_rate
    result.timings[0].speedup_vs_seat_by_seat = paired
    return result


def _reference_batch(shares, bases, rules: Rules, parties) -> np.ndarray:
    coef = rules.coefficient_fraction
    thr = [rules.threshold if p.threshold is None else p.threshold for p in parties]
    minority = [p.minority for p in parties]
    return np.array([
        allocate_reference(row.tolist(), rules.seats, rules.method, thr, float(b), minority,
                           rules.minority_exempt, coef)
        for row, b in zip(shares, bases)
    ])


def _matches_reference(shares, bases, rules, parties, kr: KernelRules) -> bool:
    fast = np.empty((shares.shape[0], shares.shape[1]), np.int32)
    allocate_batch_kernel(shares, bases, *kr.args(), fast)
    return bool((fast == _reference_batch(shares, bases, rules, parties)).all())


def _bench_apportionment(shares, kernel_seats, rules: Rules, kr: KernelRules, n: int) -> Timing | None:
    """PyPI `apportionment` on the lists that take part (it has no threshold or minority rules of
    ours, so it gets the eligible lists and their coefficient-scaled votes, which is what a user
    would have to prepare)."""
    try:
        from apportionment.methods import compute
    except ImportError:
        return None
    name = {"dhondt": "dhondt", "sainte-lague": "saintelague",
            "modified-sainte-lague": "modified_saintelague",
            "hare-niemeyer": "largest_remainder"}[rules.method]
    from .allocation.kernels import prepare_row

    lists = shares.shape[1]
    inputs = []
    for row in shares[:n]:
        w = np.zeros(lists)
        takers = np.zeros(2 * lists, np.int64)
        base = row.sum() / (1.0 - INVALID_SHARE)
        m = prepare_row(row, base, kr.thresholds, kr.minority, kr.exempt, kr.cnum, kr.cden, w, takers)
        idx = np.sort(takers[:m])
        inputs.append((idx, [float(w[i]) for i in idx]))

    results = []

    def run():
        results.clear()
        for idx, votes in inputs:
            results.append(compute(name, votes, rules.seats, verbose=False))

    secs = _time(run, 1)
    matched = all(
        list(kernel_seats[r][idx]) == list(seats) for r, ((idx, _), seats) in enumerate(zip(inputs, results))
    )
    return _timing("apportionment (PyPI)", secs, n, matched, n < shares.shape[0])


def numpy_pipeline(election, runs: int, seed: int = 0, batch: int = 100_000) -> np.ndarray:
    """The whole pipeline in plain numpy, as a baseline: Generator.dirichlet draws, the shared
    polling error (when on), the split of "others", seat-by-seat allocation vectorised over runs,
    and seat-count tallies. Returns the (lists x seats+1) seat counts. Single-poll models (pooled
    or latest) only."""
    from .votes.model import build_vote_model

    vm = build_vote_model(election)
    if vm.alpha.shape[0] != 1:
        raise InputError("the numpy pipeline baseline covers pooled and latest polls only")
    kr = kernel_rules(election.rules, election.parties)
    rng = np.random.default_rng(seed)
    n = len(election.parties)
    base = threshold_base(election)
    counts = np.zeros((n, election.rules.seats + 1), np.int64)
    split_idx = np.flatnonzero(vm.split_alpha > 0)
    split_shape = vm.split_alpha[split_idx]
    done = 0
    while done < runs:
        m = min(batch, runs - done)
        draws = rng.dirichlet(vm.alpha[0], size=m)
        if vm.shock_scale.any():
            t = (np.sqrt(vm.shock_df / rng.chisquare(vm.shock_df, size=(m, 1)))
                 if np.isfinite(vm.shock_df) else 1.0)  # a Student-t factor shared by the run's buckets
            draws = draws * np.exp(vm.shock_scale * rng.standard_normal(draws.shape) * t)
            draws /= draws.sum(axis=1, keepdims=True)
        votes = np.zeros((m, n))
        named = vm.bucket_of >= 0
        votes[:, named] = draws[:, vm.bucket_of[named]]
        if split_idx.size and vm.others_bucket >= 0:
            parts = rng.dirichlet(split_shape, size=m)
            votes[:, split_idx] = draws[:, [vm.others_bucket]] * vm.split_fill * parts
        bases = np.full(m, base)
        seats = numpy_batch(votes, bases, *kr.args())
        for i in range(n):
            counts[i] += np.bincount(seats[:, i], minlength=election.rules.seats + 1)
        done += m
    return counts


def _max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_pipeline(election, runs: int = 2_000_000, numpy_runs: int = 100_000, repeats: int = 3,
                   threads: int | None = None, memory_runs: int | None = None) -> dict:
    """Simulated elections per second: the fused engine vs the numpy pipeline, same election.

    With ``memory_runs``, also simulates that many runs and reports peak memory before and after,
    to show that memory does not grow with runs.
    """
    threads = use_threads(threads)
    simulate(election, runs=10_000, seed=0, threads=threads)  # compile / load cache
    engine_s = _time(lambda: simulate(election, runs=runs, seed=1, threads=threads), repeats)
    engine_rate = statistics.median([runs / t for t in engine_s])
    out = {
        "election": election.name,
        "threads": threads,
        "districts": len(election.districts),
        "implementations": {
            "engine": {"runs_per_s": engine_rate, "runs_timed": runs,
                                      "spread": [runs / max(engine_s), runs / min(engine_s)]},
        },
    }
    if not election.districts:  # the numpy baseline knows one national district only
        numpy_pipeline(election, 1_000, 0)
        np_s = _time(lambda: numpy_pipeline(election, numpy_runs, 1), 1)
        np_rate = numpy_runs / np_s[0]
        out["implementations"]["numpy"] = {
            "runs_per_s": np_rate, "runs_timed": numpy_runs, "subsample": numpy_runs < runs}
        out["speedup_vs_numpy"] = engine_rate / np_rate
    if memory_runs:
        before = _max_rss_mb()
        t0 = time.perf_counter()
        simulate(election, runs=memory_runs, seed=2, threads=threads)
        out["memory"] = {"runs": memory_runs, "peak_rss_mb_before": before,
                         "peak_rss_mb_after": _max_rss_mb(),
                         "runs_per_s": memory_runs / (time.perf_counter() - t0)}
    return out


def _alternating(variants: dict, runs: int, rounds: int, threads: int) -> dict[str, list[float]]:
    """Seconds of ``simulate`` for each named election, after a warm-up, timed in alternating
    rounds so that the machine's drift hits every variant alike."""
    for e in variants.values():
        simulate(e, runs=10_000, seed=0, threads=threads)
    seconds = {name: [] for name in variants}
    for _ in range(rounds):
        for name, e in variants.items():
            seconds[name] += _time(lambda e=e: simulate(e, runs=runs, seed=1, threads=threads), 1)
    return seconds


def one_tier(election):
    """The election with its law of tiers replaced by the one-tier kernels' D'Hondt over the same
    districts' fixed seats (no levelling, bonus or second scrutiny): the same draws, allocated by
    the fastest path there is, for :func:`bench_laws` to say what the law's tiers cost."""
    import dataclasses

    seats = sum(d.seats for d in election.districts) or election.rules.seats
    rules = dataclasses.replace(election.rules, method="dhondt", seats=seats,
                                majority=seats // 2 + 1, threshold=0.0)
    return dataclasses.replace(election, law=None, rules=rules)


def bench_laws(elections, runs: int = 2_000_000, rounds: int = 3, threads: int | None = None) -> dict:
    """Simulated elections per second of elections with laws of tiers, and of the same draws
    through the one-tier kernel (:func:`one_tier`), timed in alternating rounds; medians and the
    median ratio round by round (how close a law comes to what the draws alone cost)."""
    threads = use_threads(threads)
    out = {"threads": threads, "runs_timed": runs, "rounds": rounds, "elections": {}}
    for election in elections:
        seconds = _alternating({"law": election, "one-tier": one_tier(election)}, runs, rounds,
                               threads)
        out["elections"][election.name] = {
            "tiers": election.law.tiers if election.law else ["district"],
            "districts": len(election.districts),
            "seats": election.rules.seats,
            "lists": len(election.parties),
            "runs_per_s": statistics.median(runs / t for t in seconds["law"]),
            "one_tier_runs_per_s": statistics.median(runs / t for t in seconds["one-tier"]),
            "ratio_to_one_tier": statistics.median(
                a / b for a, b in zip(seconds["law"], seconds["one-tier"])),
        }
    return out


def error_model_variants(election) -> dict:
    """The election under three vote models, for :func:`bench_error_model`: as configured (the
    calibrated default: every layer), ``polling_error = 0`` (sampling error only, the lists no
    poll names split as configured), and the sampling model of the engine before the error layers
    (``polling_error = 0``, ``unnamed_share = 100``: the whole of "others" split, as before)."""
    import dataclasses

    off = dataclasses.replace(election.model, polling_error=0.0, error_scale=0.0,
                              house_effects=False, design_effect=1.0, window_days=0.0)
    return {
        "as configured": election,
        "polling_error = 0": dataclasses.replace(election, model=off),
        "before the layers": dataclasses.replace(
            election, model=dataclasses.replace(off, unnamed_share=100.0)),
    }


def bench_error_model(election, runs: int = 2_000_000, rounds: int = 5,
                      threads: int | None = None) -> dict:
    """Simulated elections per second of the engine under :func:`error_model_variants`, timed in
    alternating rounds (so that the machine's drift hits every variant alike); medians, and each
    variant's median ratio to "before the layers" round by round."""
    threads = use_threads(threads)
    seconds = _alternating(error_model_variants(election), runs, rounds, threads)
    base = seconds["before the layers"]
    return {
        "election": election.name, "threads": threads, "runs_timed": runs, "rounds": rounds,
        "variants": {
            name: {"runs_per_s": statistics.median([runs / t for t in secs]),
                   "spread": [runs / max(secs), runs / min(secs)],
                   "ratio_to_before": statistics.median([b / t for b, t in zip(base, secs)])}
            for name, secs in seconds.items()
        },
    }


def sweep_variants(election) -> list:
    """Four rule variants for timing a sweep (:mod:`simulator.scenarios`): the threshold 2 points
    higher, Sainte-Laguë (D'Hondt if it is that already), 10 more seats, and the minority rules
    off (Hare-Niemeyer if the election has none)."""
    from .config import Scenario

    rules = election.rules
    other = "dhondt" if rules.method == "sainte-lague" else "sainte-lague"
    fourth = ({"minority_exempt": False, "minority_coefficient": 1.0}
              if any(p.minority for p in election.parties) else {"method": "hare-niemeyer"})
    out = [Scenario("threshold + 2", {"election": {"threshold": rules.threshold + 2.0}}),
           Scenario(other, {"election": {"method": other}}),
           Scenario("no minority rules" if "minority_exempt" in fourth else "hare-niemeyer",
                    {"election": fourth})]
    if election.districts:  # 10 more seats: in the first district
        d = election.districts[0]
        out.append(Scenario("10 more seats", {"district": {d.id: {"seats": d.seats + 10}}}))
    else:
        out.append(Scenario("10 more seats", {"election": {"seats": rules.seats + 10}}))
    return out


def bench_sweep(election, runs: int = 2_000_000, rounds: int = 5, threads: int | None = None) -> dict:
    """A sweep of the baseline and the four rule variants of :func:`sweep_variants` on shared
    draws against one :func:`~simulator.engine.simulate` of the same runs, timed in alternating
    rounds; the median of the rounds' time ratios (target: at most 2.5)."""
    import dataclasses

    from .scenarios import sweep

    threads = use_threads(threads)
    election = dataclasses.replace(election, scenarios=())  # the four variants only
    variants = sweep_variants(election)
    simulate(election, runs=10_000, seed=0, threads=threads)
    sweep(election, variants, runs=10_000, seed=0)
    plain, swept = [], []
    for _ in range(rounds):
        plain += _time(lambda: simulate(election, runs=runs, seed=1, threads=threads), 1)
        swept += _time(lambda: sweep(election, variants, runs=runs, seed=1), 1)
    return {"election": election.name, "threads": threads, "runs_timed": runs, "rounds": rounds,
            "variants": [v.name for v in variants],
            "simulate_runs_per_s": statistics.median([runs / t for t in plain]),
            "sweep_runs_per_s": statistics.median([runs / t for t in swept]),
            "ratio": statistics.median([b / a for a, b in zip(plain, swept)])}


def _engine_seconds(engine, runs: int, seed: int = 1) -> float:
    """Seconds to simulate ``runs`` runs through an :class:`~simulator.engine.Engine` as
    :func:`~simulator.engine.simulate` does (waves of chunks), without building the result."""
    from .engine import WAVE_CHUNKS

    size = engine.chunk_size
    n_chunks = -(-runs // size)
    t0 = time.perf_counter()
    for first in range(0, n_chunks, WAVE_CHUNKS):
        last = min(n_chunks, first + WAVE_CHUNKS)
        chunk_runs = np.full(last - first, size, np.int64)
        if last == n_chunks:
            chunk_runs[-1] = runs - size * (n_chunks - 1)
        engine.run_chunks(seed, first, chunk_runs)
    return time.perf_counter() - t0


def bench_analysis(election, runs: int = 2_000_000, rounds: int = 5, threads: int | None = None) -> dict:
    """The cost of analysing the simulated parliaments (:mod:`simulator.analysis`): the engine
    without analysis, with it but without the power indices, and with everything, in alternating
    rounds. ``power_added`` is the power indices' time over the plain run's (target: at most
    0.3), ``analysis_ratio`` the whole analysis's time ratio."""
    from .engine import Engine

    threads = use_threads(threads)
    engines = {"plain": Engine(election), "analysis without power": Engine(election, analysis=True, power=False),
               "analysis": Engine(election, analysis=True)}
    for e in engines.values():
        _engine_seconds(e, 10_000)
    seconds = {name: [] for name in engines}
    for _ in range(rounds):
        for name, e in engines.items():
            seconds[name].append(_engine_seconds(e, runs))
    plain = seconds["plain"]
    return {
        "election": election.name, "threads": threads, "runs_timed": runs, "rounds": rounds,
        "runs_per_s": {name: statistics.median([runs / t for t in secs]) for name, secs in seconds.items()},
        "power_added": statistics.median([(a - b) / p for a, b, p in zip(
            seconds["analysis"], seconds["analysis without power"], plain)]),
        "analysis_ratio": statistics.median([a / p for a, p in zip(seconds["analysis"], plain)]),
    }


def paired_precision(election, scenario, party: str | None = None, runs: int = 100_000,
                     repeats: int = 20, seed: int = 1) -> dict:
    """How much common random numbers gain: the difference a scenario makes to a list's mean
    seats and P(majority), estimated ``repeats`` times by a sweep (paired, same draws) and by two
    independent simulations of ``runs`` runs each (the baseline, and the scenario's election with
    other seeds). Reports the spread (sd) of each estimator over the repeats, the paired standard
    error the sweep reports, and their ratios. ``party``: the list with most seats by default."""
    import dataclasses

    from .scenarios import sweep, variant_of

    election = dataclasses.replace(election, scenarios=())  # this scenario only
    variant = variant_of(election, scenario)
    paired = {"mean_seats": [], "p_majority": []}
    reported = {"mean_seats": [], "p_majority": []}
    independent = {"mean_seats": [], "p_majority": []}
    for k in range(repeats):
        sw = sweep(election, [scenario], runs=runs, seed=seed + k)
        if party is None:
            party = max(sw.baseline.parties.values(), key=lambda p: p.mean_seats).id
        d = sw.differences[scenario.name]["parties"][party]
        a = simulate(election, runs=runs, seed=seed + 1000 + 2 * k).parties[party]
        b = simulate(variant.election, runs=runs, seed=seed + 1001 + 2 * k).parties[party]
        for key in paired:
            paired[key].append(d[key])
            reported[key].append(d[f"{key}_se"])
            independent[key].append(getattr(b, key) - getattr(a, key))
    out = {"election": election.name, "scenario": scenario.name, "party": party, "runs": runs,
           "repeats": repeats}
    for key in paired:
        sd_p, sd_i = statistics.stdev(paired[key]), statistics.stdev(independent[key])
        out[key] = {"difference": statistics.mean(paired[key]), "paired_sd": sd_p,
                    "paired_se_reported": statistics.mean(reported[key]), "independent_sd": sd_i,
                    "independent_over_paired": sd_i / sd_p if sd_p > 0 else float("inf")}
    return out


def bench_cluster(election, address: str = "local:2", runs: int = 100_000_000, rounds: int = 2) -> dict:
    """The local engine (every core) against a Dask cluster (``local:N``: a ``LocalCluster`` of N
    single-threaded worker processes on this machine; ``tcp://host:port``: a running scheduler),
    :func:`~simulator.engine.simulate` of ``runs`` runs each, in alternating rounds; the cluster's
    start (and its workers' warm-up) is timed apart. On one machine what it measures is the
    cluster's overhead: shipping waves out and tallies back (target: at least 80 % of the local
    throughput for 2 workers on 2 cores)."""
    from .cluster import Cluster, parse_address

    kind, workers = parse_address(address)
    if kind == "local" and workers is None:
        workers = os.cpu_count() or 1
        address = f"local:{workers}"
    use_threads(None)
    simulate(election, runs=10_000, seed=0)
    t0 = time.perf_counter()
    with Cluster(address) as cluster:
        start_s = time.perf_counter() - t0
        simulate(election, runs=1_000_000, seed=0, cluster=cluster)  # every worker's first wave
        info = cluster.client.scheduler_info()["workers"].values()
        here, there = [], []
        for _ in range(rounds):
            here += _time(lambda: simulate(election, runs=runs, seed=1), 1)
            there += _time(lambda: simulate(election, runs=runs, seed=1, cluster=cluster), 1)
    return {"election": election.name, "address": address if kind == "local" else "remote",
            "runs_timed": runs, "rounds": rounds, "workers": len(info),
            "worker_threads": sum(w.get("nthreads", 1) for w in info), "cluster_start_s": start_s,
            "local_runs_per_s": statistics.median([runs / t for t in here]),
            "cluster_runs_per_s": statistics.median([runs / t for t in there]),
            "ratio": statistics.median([a / b for a, b in zip(here, there)])}


def bench_scaling(runs_grid=(10_000, 100_000, 1_000_000), lists_grid=(2, 5, 14, 50, 200),
                  seats_grid=(10, 110, 250, 1000), thread_grid=None, runs: int = 200_000,
                  method: str = "dhondt") -> dict:
    """Kernel allocations/s as runs, lists, seats and threads vary (one at a time, Belgrade size
    otherwise). The runs sweep times a fresh call including everything but compilation."""
    cores = numba.config.NUMBA_NUM_THREADS
    thread_grid = thread_grid or tuple(range(1, cores + 1))
    numba.set_num_threads(cores)

    def rate(lists, seats, n, repeats=3):
        rules, parties = bench_rules(lists, seats, method)
        kr = kernel_rules(rules, parties)
        shares = synthetic_shares(lists, n, seed=3)
        bases = shares.sum(axis=1) / (1.0 - INVALID_SHARE)
        out = np.ones(shares.shape, np.int32)
        allocate_batch_kernel(shares[:8], bases[:8], *kr.args(), out[:8])
        return statistics.median(n / t for t in _time(
            lambda: allocate_batch_kernel(shares, bases, *kr.args(), out), repeats))

    table = {
        "runs": [{"runs": n, "allocations_per_s": rate(14, 110, n)} for n in runs_grid],
        "lists": [{"lists": p, "allocations_per_s": rate(p, 110, runs)} for p in lists_grid],
        "seats": [{"seats": s, "allocations_per_s": rate(14, s, runs)} for s in seats_grid],
        "threads": [],
    }
    for k in thread_grid:
        numba.set_num_threads(k)
        table["threads"].append({"threads": k, "allocations_per_s": rate(14, 110, runs)})
    numba.set_num_threads(cores)
    return table


def plot_scaling(scaling: dict, path) -> None:
    """Four panels (runs, lists, seats, threads) of allocations/s, log scales where they span decades."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), constrained_layout=True)
    for ax, key, label, logx in zip(axes, ("runs", "lists", "seats", "threads"),
                                    ("runs per call", "lists", "seats", "threads"),
                                    (True, True, True, False)):
        xs = [row[key] for row in scaling[key]]
        ys = [row["allocations_per_s"] / 1e6 for row in scaling[key]]
        ax.plot(xs, ys, marker="o", color="#1f4e9c")
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("million allocations / s")
    fig.suptitle("electsim allocation kernel scaling (D'Hondt; 14 lists / 110 seats unless varied)")
    import io

    from .files import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, dpi=120, format="png")
    plt.close(fig)
    write_atomic(path, buf.getvalue())


def machine_info() -> dict:
    """CPU model, cores, and the versions that matter for the figures."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
    }


__all__ = ["PRESETS", "bench_kernel", "bench_pipeline", "bench_scaling", "machine_info", "numpy_pipeline", "plot_scaling", "synthetic_shares"]
