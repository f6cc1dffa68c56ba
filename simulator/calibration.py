"""Calibration: forecast past elections from their own polls, score the forecasts against the
results, and fit the shared polling error (the library of ``electsim calibrate``).

Two models are scored side by side, on the same polls (those whose fieldwork ended in the last
``WINDOW_DAYS`` days before the election; older polls in a config inform the house effects only):

* **sampling**: sampling error only (``polling_error = 0``, no house effects, design effect 1),
  as R's ``coalitions`` package;
* **calibrated**: every layer (house effects, estimated design effect, the shared polling error).

Fitting (``--fit``): for each election, its buckets' log-share errors (log of the actual share
minus the forecast's mean log share) and their sampling variances are the data of
:func:`simulator.votes.error.log_predictive`; the error's scale, size exponent and drift are
fitted by maximum likelihood, with the polls seen as they stood on election day and ``HORIZONS``
days earlier (the drift is what the earlier views teach). The tails (degrees of freedom) are
chosen from ``DF_GRID`` by the leave-one-election-out log score, and each election is then scored
with parameters fitted without it. The fit on every election is written to a fit file (``write_fit``); the shipped default
in ``simulator/data/polling_error.json`` is such a file.

Scores (per list, over all lists of all elections): coverage of the central 50, 80 and 90 %
intervals of the vote share and of the seats, the PIT (probability integral transform: the
forecast's P(share < actual)), the CRPS of the share (``scoringrules``), and Brier and log scores
of P(majority), P(first place by votes) and P(passing the threshold) (``scoringrules``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .allocation import allocate_result
from .config import OTHERS, Election, load_config
from .errors import InputError
from .votes.error import ErrorParams, log_predictive, shock_scales
from .votes.model import build_vote_model

WINDOW_DAYS = 21.0
HORIZONS = (0, 14, 28)  # days before the election at which the polls are seen, for the fit
DF_GRID = (3.0, 5.0, 10.0, 30.0, math.inf)
LEVELS = (0.5, 0.8, 0.9)
MODELS = ("sampling", "calibrated")


def load_history(paths: list[str | Path]) -> list[Election]:
    """Configs from files and directories (every ``*.toml`` in them, sorted); each must have a
    date, polls and a ``[result]``."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.glob("*.toml"))
        elif p.exists():
            files.append(p)
        else:
            raise InputError(f"{p}: no such file or directory")
    if not files:
        raise InputError("no election configs found in " + ", ".join(map(str, paths)))
    elections = []
    for f in files:
        e = load_config(f)
        for what, missing in (("election.date", e.date is None), ("[[poll]]", not e.polls),
                              ("[result]", e.result is None)):
            if missing:
                raise InputError(f"{f}: calibration needs {what}")
        elections.append(e)
    return elections


def as_of(election: Election, days_before: int) -> Election | None:
    """The election as a forecaster saw it ``days_before`` days before election day: the polls
    whose fieldwork had ended by then (None if none of them ended in the window before that)."""
    cut = election.date - dt.timedelta(days=days_before)
    polls = tuple(p for p in election.polls if p.date is not None and p.date < cut)
    if not any((cut - p.date).days <= WINDOW_DAYS for p in polls):
        return None
    return dataclasses.replace(election, polls=polls)


def with_model(election: Election, model: str, params: ErrorParams | None = None) -> Election:
    """The election with one of the two calibration models (``params`` for "calibrated"); both
    pool the polls of the last ``WINDOW_DAYS`` days."""
    m = election.model
    if model == "sampling":
        m = dataclasses.replace(m, polling_error=0.0, error_scale=0.0, house_effects=False,
                                design_effect=1.0, window_days=WINDOW_DAYS)
    else:
        p = params or ErrorParams.of(election.model)
        m = dataclasses.replace(m, polling_error=p.scale, error_scale=p.scale, error_df=p.df,
                                error_size_exponent=p.size_exponent, error_drift=p.drift,
                                house_effects=True, design_effect="estimate",
                                window_days=WINDOW_DAYS)
    return dataclasses.replace(election, model=m)


def actual_shares(election: Election) -> dict[str, float]:
    """Each list's share of the valid votes in the result (fractions)."""
    res = election.result
    return {pid: v / res.valid_votes for pid, v in res.votes.items()}


@dataclass(frozen=True)
class Case:
    """One election seen at one horizon: what the polling-error fit needs."""

    name: str
    horizon: int
    delta: np.ndarray  # per bucket: log actual share - forecast mean log share
    sampling_var: np.ndarray  # per bucket: variance of the forecast's log share (shock off)
    theta: np.ndarray  # per bucket: pooled mean share
    days: float


def fit_case(election: Election, horizon: int) -> Case | None:
    """The data of one election at one horizon for :func:`fit_error` (None: no polls then)."""
    from scipy import special

    seen = as_of(election, horizon)
    if seen is None:
        return None
    vm = build_vote_model(with_model(seen, "calibrated", ErrorParams(0.0)))
    actual = actual_shares(election)
    bucket = np.array([actual[b] if b != OTHERS else 0.0 for b in vm.buckets])
    if vm.others_bucket >= 0:
        bucket[vm.others_bucket] = 1.0 - bucket.sum()
    bucket = np.clip(bucket, 1e-6, 1.0)
    a0 = vm.alpha.sum(axis=1, keepdims=True)
    mean_log = special.digamma(vm.alpha) - special.digamma(a0)  # E log p under each Dirichlet
    var_log = special.polygamma(1, vm.alpha) - special.polygamma(1, a0)
    w = vm.poll_probs[:, None]
    m = (w * mean_log).sum(axis=0)
    v = (w * (var_log + mean_log ** 2)).sum(axis=0) - m ** 2
    return Case(name=election.name, horizon=horizon, delta=np.log(bucket) - m,
                sampling_var=v, theta=vm.theta, days=vm.days)


def total_log_predictive(cases: list[Case], params: ErrorParams) -> float:
    return sum(log_predictive(c.delta, c.sampling_var, shock_scales(c.theta, c.days, params),
                              params.df) for c in cases)


def fit_error(cases: list[Case], df: float) -> ErrorParams:
    """Maximum-likelihood scale, size exponent and drift for Student-t tails with ``df``."""
    from scipy.optimize import minimize

    def unpack(x):
        return ErrorParams(scale=math.exp(x[0]), df=df, size_exponent=x[1], drift=math.exp(x[2]))

    def loss(x):
        return -total_log_predictive(cases, unpack(x))

    best = None
    for start in ([math.log(0.15), 0.5, math.log(0.3)], [math.log(0.3), 0.9, math.log(2.0)]):
        r = minimize(loss, start, method="L-BFGS-B",
                     bounds=[(math.log(1e-3), math.log(3.0)), (0.0, 1.5), (math.log(1e-4), math.log(20.0))])
        if best is None or r.fun < best.fun:
            best = r
    return unpack(best.x)


@dataclass
class Fit:
    """What ``--fit`` chose: the tails by leave-one-election-out, and the parameters."""

    df: float
    params: ErrorParams  # fitted on every election
    folds: dict[str, ErrorParams]  # per election: fitted without it
    loeo_log_score: dict[str, float]  # per df of the grid: held-out log predictive, summed

    def to_json(self) -> dict:
        def p(x: ErrorParams) -> dict:
            return {"scale": x.scale, "df": _df_json(x.df), "size_exponent": x.size_exponent,
                    "drift": x.drift}
        return {"df": _df_json(self.df), "params": p(self.params),
                "folds": {k: p(v) for k, v in self.folds.items()},
                "loeo_log_score": {str(_df_json(k)): v for k, v in self.loeo_log_score.items()}}


def _df_json(df: float) -> float | str:
    return "normal" if math.isinf(df) else df


def _fit_fold(_, cases: list[Case], df: float) -> ErrorParams:
    return fit_error(cases, df)


def fit(elections: list[Election], progress=None, mapper=None) -> Fit:
    """Choose the tails by leave-one-election-out log score, then fit on every election. The fits
    of the folds go through ``mapper`` (:meth:`simulator.cluster.Cluster.map` on a cluster)."""
    from .cluster import local_map

    mapper = mapper or local_map
    cases: dict[str, list[Case]] = {}
    for e in elections:
        cases[e.name] = [c for h in HORIZONS if (c := fit_case(e, h)) is not None]
    names = list(cases)
    folds_wanted = [(df, name) for df in DF_GRID for name in names]
    fitted = mapper(_fit_fold, None, [([c for n in names if n != name for c in cases[n]], df)
                                      for df, name in folds_wanted])
    scores: dict[float, float] = {}
    folds_by_df: dict[float, dict[str, ErrorParams]] = {}
    for (df, name), params in zip(folds_wanted, fitted):
        folds_by_df.setdefault(df, {})[name] = params
        scores[df] = scores.get(df, 0.0) + total_log_predictive(cases[name], params)
    for df in DF_GRID:
        if progress:
            progress(f"tails df {_df_json(df)}: held-out log score {scores[df]:.2f}")
    best = max(scores, key=scores.get)
    everything = [c for n in names for c in cases[n]]
    return Fit(df=best, params=fit_error(everything, best), folds=folds_by_df[best],
               loeo_log_score=scores)


# --- scoring ------------------------------------------------------------------------------------


@dataclass
class ListScore:
    election: str
    id: str
    model: str
    share: float  # actual, percent of valid votes
    share_quantiles: dict[float, float]  # level -> percent (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
    pit: float
    crps: float  # points
    seats: int  # actual (under the config's rules)
    seat_quantiles: dict[float, int]
    p_majority: float
    won_majority: bool
    p_first: float
    first: bool
    p_threshold: float | None  # None where the list has no threshold to pass
    passed: bool

    def covered(self, level: float, seats: bool = False) -> bool:
        lo, hi = round((1 - level) / 2, 6), round((1 + level) / 2, 6)
        q = self.seat_quantiles if seats else self.share_quantiles
        x = self.seats if seats else self.share
        return q[lo] <= x <= q[hi]


_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def score_election(election: Election, model: str, params: ErrorParams | None, runs: int,
                   seed: int) -> list[ListScore]:
    """Simulate ``election`` under one model (``runs`` runs, their draws kept) and score every
    list against the result."""
    import scoringrules as sr

    from .engine import Engine

    e = with_model(election, model, params)
    engine = Engine(e, chunk_size=min(runs, 16_384))
    size = engine.chunk_size
    chunks = np.full(-(-runs // size), size, np.int64)
    chunks[-1] = runs - size * (len(chunks) - 1)
    _, votes, seats = engine.run_chunks(seed, 0, chunks, record=True)
    votes = np.concatenate([votes[c, :n] for c, n in enumerate(chunks)])
    seats = np.concatenate([seats[c, :n] for c, n in enumerate(chunks)])
    actual = actual_shares(election)
    rows = {r.id: r for r in allocate_result(election)}
    majority = election.rules.majority
    ids = election.party_ids
    top = votes.argmax(axis=1)
    winner = max(ids, key=lambda pid: actual[pid])
    eps = 1.0 / (runs + 1)
    crps = sr.crps_ensemble(np.array([100 * actual[p] for p in ids]), 100 * votes.T)
    out = []
    for i, pid in enumerate(ids):
        v = votes[:, i]
        threshold = engine.rules.thresholds[i] / 100.0 * engine.base
        out.append(ListScore(
            election=election.name, id=pid, model=model, share=100 * actual[pid],
            share_quantiles={q: 100 * float(x) for q, x in zip(_QUANTILES, np.quantile(v, _QUANTILES))},
            pit=float(np.mean(v < actual[pid])), crps=float(crps[i]), seats=rows[pid].seats,
            seat_quantiles={q: int(x) for q, x in zip(_QUANTILES, np.quantile(seats[:, i], _QUANTILES,
                                                                         method="inverted_cdf"))},
            p_majority=_clip(np.mean(seats[:, i] >= majority), eps), won_majority=rows[pid].seats >= majority,
            p_first=_clip(np.mean(top == i), eps), first=pid == winner,
            p_threshold=_clip(np.mean(v >= threshold), eps) if threshold > 0 else None,
            passed=rows[pid].qualified,
        ))
    return out


def _clip(p: float, eps: float) -> float:
    return float(min(max(p, eps), 1 - eps))


@dataclass
class Summary:
    """One model's scores over every list of every election."""

    model: str
    lists: int
    elections: int
    share_coverage: dict[float, float]
    seat_coverage: dict[float, float]
    crps: float  # mean, points
    pit_histogram: list[int]  # 10 equal bins
    brier: dict[str, float]  # event -> mean Brier score
    log_score: dict[str, float]  # event -> mean log score (negative log likelihood)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["share_coverage"] = {f"{int(100 * k)}": v for k, v in self.share_coverage.items()}
        d["seat_coverage"] = {f"{int(100 * k)}": v for k, v in self.seat_coverage.items()}
        return d


def summarise(model: str, scores: list[ListScore]) -> Summary:
    import scoringrules as sr

    events = {
        "majority": [(s.p_majority, s.won_majority) for s in scores],
        "first": [(s.p_first, s.first) for s in scores],
        "threshold": [(s.p_threshold, s.passed) for s in scores if s.p_threshold is not None],
    }
    brier, logs = {}, {}
    for name, pairs in events.items():
        if pairs:
            p = np.array([x for x, _ in pairs])
            y = np.array([float(o) for _, o in pairs])
            brier[name] = float(np.mean(sr.brier_score(y, p)))
            logs[name] = float(np.mean(sr.log_score(y, p)))
    pit = np.array([s.pit for s in scores])
    return Summary(
        model=model, lists=len(scores), elections=len({s.election for s in scores}),
        share_coverage={lv: float(np.mean([s.covered(lv) for s in scores])) for lv in LEVELS},
        seat_coverage={lv: float(np.mean([s.covered(lv, True) for s in scores])) for lv in LEVELS},
        crps=float(np.mean([s.crps for s in scores])),
        pit_histogram=np.histogram(pit, bins=10, range=(0, 1))[0].tolist(),
        brier=brier, log_score=logs,
    )


@dataclass
class Calibration:
    """What ``electsim calibrate`` found."""

    elections: list[str]
    runs: int
    seed: int
    fitted: bool  # True: each election scored with parameters fitted without it
    summaries: dict[str, Summary]
    scores: list[ListScore]
    fit: Fit | None = None
    params: ErrorParams | None = None  # the calibrated model's, when not fitted per fold
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        doc = {
            "elections": self.elections, "runs": self.runs, "seed": self.seed,
            "window_days": WINDOW_DAYS, "leave_one_election_out": self.fitted,
            "models": {m: s.to_json() for m, s in self.summaries.items()},
            "lists": [dict(dataclasses.asdict(s),
                           share_quantiles={str(k): v for k, v in s.share_quantiles.items()},
                           seat_quantiles={str(k): v for k, v in s.seat_quantiles.items()})
                      for s in self.scores],
        }
        if self.fit is not None:
            doc["fit"] = self.fit.to_json()
        if self.params is not None:
            doc["params"] = {"scale": self.params.scale, "df": _df_json(self.params.df),
                             "size_exponent": self.params.size_exponent, "drift": self.params.drift}
        return doc


def _score(_, election: Election, model: str, params: ErrorParams | None, runs: int,
           seed: int) -> list[ListScore]:
    return score_election(election, model, params, runs, seed)


def calibrate(paths: list[str | Path], do_fit: bool = False, runs: int = 20_000, seed: int = 1,
              progress=None, cluster=None) -> Calibration:
    """Score the sampling-only and the calibrated model on the elections in ``paths``. With
    ``do_fit``, the calibrated model of each election is fitted without it (leave one election
    out) and the fit on every election is returned in ``.fit``; else it is the shipped one. With
    ``cluster`` (:class:`simulator.cluster.Cluster`), the fits of the folds and the forecasts of
    the elections run on its workers (one election and model a task), to the same result."""
    from .cluster import local_map

    mapper = cluster.map if cluster is not None else local_map
    if not 100 <= runs <= 1_000_000:
        raise InputError(f"calibration runs must be between 100 and 1,000,000 (got {runs})")
    elections = load_history(paths)
    names = [e.name for e in elections]
    if len(set(names)) != len(names):
        raise InputError("two configs have the same election.name")
    fitted = None
    if do_fit:
        if len(elections) < 3:
            raise InputError(f"--fit needs at least 3 elections (got {len(elections)})")
        fitted = fit(elections, progress, mapper)
    units = []
    for k, e in enumerate(elections):
        seen = as_of(e, 0)
        if seen is None:
            raise InputError(f"{e.path}: no poll ended in the {WINDOW_DAYS:g} days before the election")
        params = fitted.folds[e.name] if fitted else None
        units += [(seen, model, params, runs, seed + k) for model in MODELS]
    scores: list[ListScore] = []
    if cluster is not None:
        if progress:
            progress(f"scoring {len(elections)} elections on the cluster")
        for found in mapper(_score, None, units):
            scores += found
    else:
        for unit in units:
            scores += _score(None, *unit)
            if progress and unit[1] == MODELS[-1]:
                progress(f"scored {unit[0].name}")
    summaries = {m: summarise(m, [s for s in scores if s.model == m]) for m in MODELS}
    return Calibration(elections=names, runs=runs, seed=seed, fitted=do_fit, summaries=summaries,
                       scores=scores, fit=fitted,
                       params=None if do_fit else ErrorParams.of(elections[0].model))


def shipped_document(fitted: Fit, calibration: Calibration) -> dict:
    """The content of a fit file (``polling_error.json``, the shipped default's format) for a fit."""
    p = fitted.params
    cal = calibration.summaries["calibrated"]
    return {
        "scale": round(p.scale, 6), "df": _df_json(p.df), "size_exponent": round(p.size_exponent, 6),
        "drift": round(p.drift, 6), "house_effects": True, "window_days": WINDOW_DAYS,
        "design_effect": "estimate",
        "fitted_on": calibration.elections,
        "fitted": dt.date.today().isoformat(),
        "leave_one_election_out": {
            "share_coverage": {f"{int(100 * k)}": round(v, 4) for k, v in cal.share_coverage.items()},
            "lists": cal.lists,
        },
        "note": "written by electsim calibrate --fit; see simulator/calibration.py",
    }


FIT_FILE = "polling_error.json"


def write_fit(doc: dict, path: str | Path) -> Path:
    """Write a fit (:func:`shipped_document`) to ``path``, atomically; returns the path. A config
    reads it with ``model.polling_error = "path/to/polling_error.json"``; copied over the
    package's ``simulator/data/polling_error.json`` it becomes every config's default."""
    from .files import write_atomic

    write_atomic(path, json.dumps(doc, indent=2) + "\n")
    return Path(path)
