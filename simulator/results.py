"""Results: probabilities, seat quantiles and Monte Carlo standard errors from a tally."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .config import Election
from .tally import Tally, share_quantile


def standard_error(p: float, n: int) -> float:
    """Monte Carlo standard error of a probability estimated from n independent runs."""
    return math.sqrt(max(p * (1.0 - p), 0.0) / n) if n > 0 else float("nan")


def quantile(probabilities: np.ndarray, q: float, runs: int | None = None) -> int:
    """Smallest k whose cumulative probability reaches q, or comes within three Monte Carlo
    standard errors of it when ``runs`` is given: a seat count whose cumulative probability sits
    on the level (a small list's P(0 seats) at 95 %, say) then gives the same interval in every
    simulation, instead of one that flips with the noise (0-0 in one run, 0-3 in the next).
    Always a value some run took: with few runs the tolerance can exceed q itself, and the answer
    is then the smallest value taken, never a count no run had."""
    probabilities = np.asarray(probabilities)
    cdf = np.cumsum(probabilities)
    tol = 3.0 * math.sqrt(q * (1.0 - q) / runs) if runs else 0.0
    first = int(np.argmax(probabilities > 0))
    return max(int(np.searchsorted(cdf, q - tol - 1e-12)), first)


def _at_least(r, k: int) -> float:
    """P(at least k seats) of a list's or coalition's result: runs counted in integers and
    divided once, so a probability prints as the runs counted it (0.306875, not 0.30687499...)."""
    if k <= 0:
        return 1.0
    if r.seat_counts:
        return sum(r.seat_counts[k:]) / r.runs
    return float(sum(r.seat_probabilities[k:]))


def at_least_all(r) -> list[float]:
    """P(at least k seats) for every k of ``r.seat_probabilities`` at once (the same numbers as
    :func:`_at_least`, in one pass instead of one sum per k)."""
    n = len(r.seat_probabilities)
    if r.seat_counts:
        tails, total = [0] * n, 0
        for k in range(n - 1, -1, -1):
            total += r.seat_counts[k] if k < len(r.seat_counts) else 0
            tails[k] = total / r.runs
        out = tails
    else:  # no counts (a result read back from probabilities): the sums as _at_least adds them
        out = [_at_least(r, k) for k in range(n)]
    if n:
        out[0] = 1.0
    return out


@dataclass(frozen=True)
class PartyResult:
    id: str
    name: str
    mean_seats: float
    seats_p05: int
    seats_p50: int
    seats_p95: int
    p_majority: float
    p_majority_se: float
    p_threshold: float
    p_threshold_se: float
    mean_share: float  # percent of valid votes
    seat_probabilities: tuple[float, ...]  # P(exactly k seats), k = 0 .. seats
    share_p05: float = float("nan")  # percent of valid votes: 5th, 50th, 95th percentiles
    share_p50: float = float("nan")
    share_p95: float = float("nan")
    p_rank: tuple[float, ...] = ()  # P(place k by seats), k = 0 (first) .. lists - 1
    p_first_by_votes: float = float("nan")
    banzhaf: float = float("nan")  # mean normalised Banzhaf index over runs
    shapley_shubik: float = float("nan")
    p_pivotal: float = float("nan")  # P(pivotal in at least one minimal winning coalition)
    p_vote_majority_without_seat_majority: float = float("nan")
    p_seat_majority_without_vote_majority: float = float("nan")
    seat_counts: tuple[int, ...] = ()  # runs in which the list won exactly k seats
    runs: int = 0

    @property
    def share_mean(self) -> float:
        return self.mean_share

    def p_at_least(self, k: int) -> float:
        """P(the list wins at least k seats)."""
        return _at_least(self, k)


@dataclass(frozen=True)
class CoalitionResult:
    name: str
    members: tuple[str, ...]
    p_majority: float
    p_majority_se: float
    mean_seats: float
    seats_p05: int
    seats_p50: int
    seats_p95: int
    seat_probabilities: tuple[float, ...]
    p_vote_majority_without_seat_majority: float = float("nan")
    p_seat_majority_without_vote_majority: float = float("nan")
    seat_counts: tuple[int, ...] = ()
    runs: int = 0
    member_names: tuple[str, ...] = ()  # the members' list names, in the order of ``members``

    def p_at_least(self, k: int) -> float:
        return _at_least(self, k)

    @property
    def member_text(self) -> str:
        """The members for people: their list names joined by " + " (ids when names are unknown)."""
        return " + ".join(self.member_names or self.members)

    @property
    def display_name(self) -> str:
        """The name for people: a coalition named by its members' ids (a discovered one) goes by
        their list names; a configured name stays as it is. Data files keep ``name``."""
        return self.member_text if self.name == " + ".join(self.members) else self.name

    @property
    def label(self) -> str:
        """The display name, with the members by name unless the name lists them already (by id
        or by name, in any order, joined by "+" or ",")."""
        words = {w.strip().casefold() for w in re.split(r"[+,]", self.name)}
        if words in ({m.casefold() for m in self.members},
                     {m.casefold() for m in self.member_names or self.members}):
            return self.display_name
        return f"{self.name} ({self.member_text})"


@dataclass(frozen=True)
class DistrictPartyResult:
    """One list in one district: mean seats, 90 % interval, P(at least one seat)."""

    mean_seats: float
    seats_p05: int
    seats_p95: int
    p_seat: float


@dataclass(frozen=True)
class Result:
    """What a simulation found: per party and per coalition, with the settings that produced it."""

    election: str
    runs: int
    seed: int
    seats: int
    majority: int
    parties: dict[str, PartyResult]
    coalitions: dict[str, CoalitionResult] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    error_model: str = ""  # the vote model in one line (which layers, what scale)
    districts: dict[str, dict[str, DistrictPartyResult]] = field(default_factory=dict)
    last_seat: dict | None = None  # one district: the last seat's margin and who wins and loses it
    power_runs: int = 0  # runs the power indices were counted in (one in POWER_THIN)
    analysis: bool = False  # the analysis of simulator.analysis was tallied

    def max_standard_error(self) -> float:
        """Largest standard error of the headline probabilities (majority, threshold, coalitions)."""
        ses = [p.p_majority_se for p in self.parties.values()]
        ses += [p.p_threshold_se for p in self.parties.values()]
        ses += [c.p_majority_se for c in self.coalitions.values()]
        return max(ses) if ses else 0.0

    def to_json(self) -> dict:
        """The ``simulate --json`` document (keys are a contract; see the README)."""
        return {
            "election": self.election,
            "error_model": self.error_model,
            "runs": self.runs,
            "seed": self.seed,
            "seats": self.seats,
            "majority": self.majority,
            "settings": self.settings,
            "parties": {
                pid: {
                    "name": p.name,
                    "mean_seats": p.mean_seats,
                    "seats_p05": p.seats_p05,
                    "seats_p50": p.seats_p50,
                    "seats_p95": p.seats_p95,
                    "p_majority": p.p_majority,
                    "p_majority_se": p.p_majority_se,
                    "p_threshold": p.p_threshold,
                    "p_threshold_se": p.p_threshold_se,
                    "mean_share": p.mean_share,
                    "share_mean": p.share_mean,
                    "share_p05": p.share_p05,
                    "share_p50": p.share_p50,
                    "share_p95": p.share_p95,
                    **({"p_rank": list(p.p_rank),
                        "p_first_by_votes": p.p_first_by_votes,
                        "banzhaf": p.banzhaf,
                        "shapley_shubik": p.shapley_shubik,
                        "p_pivotal": p.p_pivotal,
                        "p_vote_majority_without_seat_majority": p.p_vote_majority_without_seat_majority,
                        "p_seat_majority_without_vote_majority": p.p_seat_majority_without_vote_majority,
                        } if self.analysis else {}),
                    "seat_probabilities": list(p.seat_probabilities),
                }
                for pid, p in self.parties.items()
            },
            "coalitions": {
                name: {
                    "members": list(c.members),
                    "p_majority": c.p_majority,
                    "p_majority_se": c.p_majority_se,
                    "mean_seats": c.mean_seats,
                    "seats_p05": c.seats_p05,
                    "seats_p50": c.seats_p50,
                    "seats_p95": c.seats_p95,
                    **({"p_vote_majority_without_seat_majority": c.p_vote_majority_without_seat_majority,
                        "p_seat_majority_without_vote_majority": c.p_seat_majority_without_vote_majority,
                        } if self.analysis else {}),
                    "seat_probabilities": list(c.seat_probabilities),
                }
                for name, c in self.coalitions.items()
            },
            **({"last_seat": self.last_seat, "power_runs": self.power_runs} if self.analysis else {}),
            **({"districts": {
                did: {pid: {"mean_seats": x.mean_seats, "seats_p05": x.seats_p05,
                            "seats_p95": x.seats_p95, "p_seat": x.p_seat}
                      for pid, x in parties.items()}
                for did, parties in self.districts.items()}} if self.districts else {}),
        }


def _distribution_stats(counts: np.ndarray, runs: int) -> tuple[np.ndarray, float, int, int, int]:
    probs = counts / runs
    mean = float((np.arange(counts.shape[0]) * probs).sum())
    return (probs, mean, quantile(probs, 0.05, runs), quantile(probs, 0.5, runs),
            quantile(probs, 0.95, runs))


def result_from_tally(election: Election, tally: Tally, seed: int, settings: dict | None = None,
                      vote_model=None, analysis: bool = False) -> Result:
    """Turn counts into probabilities with standard errors (``vote_model`` names the error model)."""
    from .analysis import MARGIN_STEP, POWER_UNIT

    n = tally.runs
    n_lists = len(election.parties)
    power_runs = max(int(tally.power_runs[0]), 1)
    nan = float("nan")
    parties = {}
    for i, party in enumerate(election.parties):
        probs, mean, p05, p50, p95 = _distribution_stats(tally.seat_counts[i], n)
        pm = tally.majority[i] / n
        pt = tally.threshold[i] / n
        parties[party.id] = PartyResult(
            id=party.id, name=party.name, mean_seats=mean, seats_p05=p05, seats_p50=p50,
            seats_p95=p95, p_majority=float(pm), p_majority_se=standard_error(pm, n),
            p_threshold=float(pt), p_threshold_se=standard_error(pt, n),
            mean_share=float(100.0 * tally.share_sum[i] / n),
            seat_probabilities=tuple(float(x) for x in probs),
            seat_counts=tuple(int(x) for x in tally.seat_counts[i]), runs=n,
            share_p05=float(100.0 * share_quantile(tally.share_hist[i], 0.05)),
            share_p50=float(100.0 * share_quantile(tally.share_hist[i], 0.50)),
            share_p95=float(100.0 * share_quantile(tally.share_hist[i], 0.95)),
            **({} if not analysis else dict(
                p_rank=tuple(float(x) for x in tally.rank[i] / n),
                p_first_by_votes=float(tally.first_by_votes[i] / n),
                banzhaf=float(tally.banzhaf[i] * POWER_UNIT / power_runs),
                shapley_shubik=float(tally.shapley[i] * POWER_UNIT / power_runs),
                p_pivotal=float(tally.pivotal[i] / power_runs),
                p_vote_majority_without_seat_majority=float(tally.vote_not_seat[i] / n),
                p_seat_majority_without_vote_majority=float(tally.seat_not_vote[i] / n))),
        )
    coalitions = {}
    names = {p.id: p.name for p in election.parties}
    for k, coalition in enumerate(election.coalitions):
        probs, mean, p05, p50, p95 = _distribution_stats(tally.coalition_seat_counts[k], n)
        pm = tally.coalition_majority[k] / n
        coalitions[coalition.name] = CoalitionResult(
            name=coalition.name, members=coalition.members, p_majority=float(pm),
            p_majority_se=standard_error(pm, n), mean_seats=mean, seats_p05=p05, seats_p50=p50,
            seats_p95=p95, seat_probabilities=tuple(float(x) for x in probs),
            seat_counts=tuple(int(x) for x in tally.coalition_seat_counts[k]), runs=n,
            member_names=tuple(names.get(m, m) for m in coalition.members),
            p_vote_majority_without_seat_majority=float(tally.vote_not_seat[n_lists + k] / n)
            if analysis else nan,
            p_seat_majority_without_vote_majority=float(tally.seat_not_vote[n_lists + k] / n)
            if analysis else nan,
        )
    districts = {}
    if tally.has_districts:
        for k, district in enumerate(election.districts):
            districts[district.id] = {}
            for i, party in enumerate(election.parties):
                hist = tally.district_hist[k, i, : district.seats + 1]
                probs = hist / max(hist.sum(), 1)
                thinned = int(hist.sum())
                districts[district.id][party.id] = DistrictPartyResult(
                    mean_seats=float(tally.district_seats[k, i] / n),
                    seats_p05=quantile(probs, 0.05, thinned), seats_p95=quantile(probs, 0.95, thinned),
                    p_seat=float(tally.district_any[k, i] / n),
                )
    last_seat = None
    decided = int(tally.margin_hist.sum())
    if analysis and not election.districts and decided:
        probs = tally.margin_hist / decided
        last_seat = {
            "runs": decided,
            "margin_points_p05": quantile(probs, 0.05) * MARGIN_STEP,
            "margin_points_p50": quantile(probs, 0.5) * MARGIN_STEP,
            "margin_points_p95": quantile(probs, 0.95) * MARGIN_STEP,
            "p_margin_below_0_1_points": float(tally.margin_hist[: int(round(0.1 / MARGIN_STEP))].sum()
                                               / decided),
            "margin_step_points": MARGIN_STEP,
            "won": {p.id: float(tally.last_won[i] / decided) for i, p in enumerate(election.parties)},
            "lost": {p.id: float(tally.last_lost[i] / decided) for i, p in enumerate(election.parties)},
        }
    return Result(
        election=election.name, runs=n, seed=seed, seats=election.rules.seats,
        majority=election.rules.majority, parties=parties, coalitions=coalitions,
        settings=settings or {}, error_model=vote_model.describe() if vote_model else "",
        districts=districts, last_seat=last_seat, power_runs=int(tally.power_runs[0]),
        analysis=analysis,
    )
