"""Backtests: score a forecast against the actual result in the config's ``[result]``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .allocation import allocate_result
from .config import Election
from .results import Result


@dataclass(frozen=True)
class PartyScore:
    id: str
    name: str
    actual_seats: int
    forecast_mean: float
    seats_p05: int
    seats_p95: int
    percentile: float  # P(seats < actual) + P(seats == actual) / 2, in percent
    in_90_interval: bool
    p_majority: float
    won_majority: bool
    brier: float  # (p - outcome)^2 of the majority call
    log_score: float  # log P(what happened), natural log; p clipped to 1/(runs+1)
    actual_share: float = float("nan")  # percent of valid votes
    share_p05: float = float("nan")
    share_p95: float = float("nan")
    in_share_interval: bool = False


@dataclass(frozen=True)
class Backtest:
    parties: list[PartyScore]
    brier: float  # mean over parties
    log_score: float  # sum over parties
    coverage_90: float  # share of parties whose actual seats fell in their 90 % interval
    share_coverage_90: float = float("nan")  # likewise for the vote share

    def to_json(self) -> dict:
        return {
            "brier": self.brier,
            "log_score": self.log_score,
            "coverage_90": self.coverage_90,
            "share_coverage_90": self.share_coverage_90,
            "parties": {s.id: {k: v for k, v in s.__dict__.items() if k != "id"} for s in self.parties},
        }


def backtest(election: Election, result: Result) -> Backtest | None:
    """Score ``result`` against the seats the actual votes give under the config's rules."""
    if election.result is None:
        return None
    actual = {row.id: row.seats for row in allocate_result(election)}
    valid = election.result.valid_votes
    eps = 1.0 / (result.runs + 1)
    scores = []
    for pid, p in result.parties.items():
        a = actual[pid]
        probs = p.seat_probabilities
        below = sum(probs[:a])
        pct = 100.0 * (below + 0.5 * probs[a])
        won = a >= result.majority
        pm = min(max(p.p_majority, eps), 1.0 - eps)
        scores.append(PartyScore(
            id=pid, name=p.name, actual_seats=a, forecast_mean=p.mean_seats, seats_p05=p.seats_p05,
            seats_p95=p.seats_p95, percentile=pct, in_90_interval=p.seats_p05 <= a <= p.seats_p95,
            p_majority=p.p_majority, won_majority=won, brier=(p.p_majority - float(won)) ** 2,
            log_score=math.log(pm if won else 1.0 - pm),
            actual_share=100.0 * election.result.votes[pid] / valid, share_p05=p.share_p05,
            share_p95=p.share_p95,
            in_share_interval=bool(p.share_p05 <= 100.0 * election.result.votes[pid] / valid <= p.share_p95),
        ))
    return Backtest(
        parties=scores,
        brier=sum(s.brier for s in scores) / len(scores),
        log_score=sum(s.log_score for s in scores),
        coverage_90=sum(s.in_90_interval for s in scores) / len(scores),
        share_coverage_90=sum(s.in_share_interval for s in scores) / len(scores),
    )
