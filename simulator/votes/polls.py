"""Polls as arrays, and their pooling into the Dirichlet parameters the vote model draws from.

A poll's *buckets* are the parties the polls name, plus ``others``. A party a poll does not name is
part of that poll's ``others``: the poll says nothing about it alone, so it is not evidence of zero
support. Pooling therefore treats each poll as a multinomial sample with its unnamed buckets
grouped, and finds the buckets' shares by maximum likelihood over all polls (the EM algorithm for
grouped counts: each poll's group is split in proportion to the current estimate, until nothing
moves). Each poll's counts, its group split that way, then give (after R's ``coalitions``)
Dirichlet(alpha) with alpha_k = share_k x effective sample size + prior, combined by
``[model] pooling``:

* ``pooled``: the weighted counts of all polls are summed into one Dirichlet;
* ``mixture``: each run picks one poll, with probability proportional to its weighted effective
  sample size, and draws from that poll's Dirichlet, so disagreement between pollsters widens the
  forecast;
* ``latest``: the newest poll only (the last one listed among equal or missing dates).

A poll's weight is 0.5 ** (days before the election / half_life_days), or 1 without a half-life.
With ``window_days``, only polls whose fieldwork ended at most that many days before the newest
poll are pooled; older ones inform the house effects and overdispersion only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ..config import OTHERS, Election
from ..errors import ConfigError


@dataclass(frozen=True)
class PollTable:
    """The config's polls as arrays over buckets: what pooling and the error layers work on."""

    buckets: tuple[str, ...]  # party ids the pooled polls name (config order), then OTHERS if any
    shares: np.ndarray  # (polls x buckets) fractions; NaN where the poll does not name the bucket
    grouped: np.ndarray  # (polls,) the fraction the poll leaves to its unnamed buckets
    sample_size: np.ndarray  # (polls,)
    days: np.ndarray  # (polls,) days from fieldwork end to the election; NaN when not known
    firms: tuple[str, ...]  # per poll
    weights: np.ndarray  # (polls,) time-decay weight
    window: np.ndarray  # (polls,) bool: pooled for the forecast (else house effects only)

    @property
    def others_bucket(self) -> int:
        return len(self.buckets) - 1 if self.buckets and self.buckets[-1] == OTHERS else -1


def poll_weights(election: Election) -> np.ndarray:
    """Time-decay weight of each poll (1.0 without a half-life)."""
    half_life = election.model.half_life_days
    weights = np.ones(len(election.polls))
    if half_life <= 0:
        return weights
    if election.date is None:
        raise ConfigError(election.path, "model.half_life_days", "needs election.date to age polls")
    for i, poll in enumerate(election.polls):
        if poll.date is None:
            raise ConfigError(election.path, f"poll {i + 1} ({poll.firm}).date",
                              "needed when model.half_life_days > 0")
        days = (election.date - poll.date).days
        weights[i] = 0.5 ** (max(days, 0) / half_life)
    return weights


def poll_window(election: Election) -> np.ndarray:
    """Which polls are pooled: those ending within ``window_days`` of the newest poll (all of
    them when the window is 0 or a poll has no date)."""
    polls = election.polls
    window = election.model.window_days
    if window <= 0 or any(p.date is None for p in polls):
        return np.ones(len(polls), bool)
    newest = max(p.date for p in polls)
    return np.array([(newest - p.date).days <= window for p in polls], bool)


def poll_table(election: Election) -> PollTable:
    """The polls as arrays. Buckets are the parties named by at least one pooled poll (in config
    order), then ``others`` when some list is named by none or a poll has an ``others`` share."""
    if not election.polls:
        raise ConfigError(election.path, "poll", "simulation needs at least one [[poll]]")
    polls = election.polls
    window = poll_window(election)
    pooled = [p for p, w in zip(polls, window) if w]
    named = [pid for pid in election.party_ids if any(pid in p.shares for p in pooled)]
    has_others = len(named) < len(election.parties) or any(OTHERS in p.shares for p in polls)
    buckets = tuple(named) + ((OTHERS,) if has_others else ())
    shares = np.full((len(polls), len(buckets)), np.nan)
    grouped = np.zeros(len(polls))
    for r, poll in enumerate(polls):
        for pid, v in poll.shares.items():
            if pid in named:
                shares[r, buckets.index(pid)] = v / 100.0
            else:  # others, or a party only older polls name: part of this poll's unnamed group
                grouped[r] += v / 100.0
    days = np.array([(election.date - p.date).days if election.date and p.date else np.nan
                     for p in polls], float)
    return PollTable(buckets=buckets, shares=shares, grouped=grouped,
                     sample_size=np.array([p.sample_size for p in polls], float), days=days,
                     firms=tuple(p.firm for p in polls), weights=poll_weights(election),
                     window=window)


def pool_shares(shares: np.ndarray, grouped: np.ndarray, weights: np.ndarray,
                iterations: int = 500, tol: float = 1e-13) -> np.ndarray:
    """Maximum-likelihood bucket shares from polls that each name some buckets (``shares``, NaN
    elsewhere) and leave ``grouped`` to the rest, with each poll weighing ``weights`` (weighted
    sample sizes): EM for multinomial counts with grouped categories."""
    named = ~np.isnan(shares)
    y = np.where(named, shares, 0.0)
    free = ~named  # each poll's unnamed buckets
    theta = np.full(shares.shape[1], 1.0 / shares.shape[1])
    total = weights.sum()
    for _ in range(iterations):
        split = grouped_split(theta, free, grouped)
        new = (weights[:, None] * (y + split)).sum(axis=0) / total
        done = np.max(np.abs(new - theta)) < tol
        theta = new
        if done:
            break
    return theta / theta.sum()


def grouped_split(theta: np.ndarray, free: np.ndarray, grouped: np.ndarray) -> np.ndarray:
    """Each poll's grouped fraction split over its unnamed buckets in proportion to ``theta``
    (polls x buckets); equally where theta gives the group no mass."""
    mass = np.where(free, theta[None, :], 0.0)
    tot = mass.sum(axis=1, keepdims=True)
    even = free / np.maximum(free.sum(axis=1, keepdims=True), 1)
    share = np.where(tot > 0, mass / np.where(tot > 0, tot, 1.0), even)
    return grouped[:, None] * share


def poll_counts(table: PollTable, theta: np.ndarray, n_eff: np.ndarray) -> np.ndarray:
    """Each poll's counts over every bucket (polls x buckets): its named shares, its group split by
    ``theta``, times its effective sample size."""
    named = ~np.isnan(table.shares)
    y = np.where(named, table.shares, 0.0) + grouped_split(theta, ~named, table.grouped)
    return y * n_eff[:, None]


@dataclass(frozen=True)
class Pooled:
    """The Dirichlet rows the draws pick from, and what the layers above need to know of them."""

    alpha: np.ndarray  # (rows x buckets): one row, or one per pooled poll with mixture pooling
    probs: np.ndarray  # (rows,) probability of each row per run
    theta: np.ndarray  # (buckets,) pooled mean shares
    days: float  # days from the polls to the election (their weighted mean date); NaN if unknown


def pool(election: Election, table: PollTable, shares: np.ndarray, n_eff: np.ndarray) -> Pooled:
    """Pool the window's polls (``shares`` after any house-effect correction, ``n_eff`` their
    effective sample sizes) by ``[model] pooling``."""
    model = election.model
    keep = np.flatnonzero(table.window)
    w = table.weights[keep] * n_eff[keep]
    # weights that age the polls to nothing would leave every share its prior (and 0 / 0)
    if model.half_life_days > 0 and not w.sum() >= 1.0:
        raise ConfigError(election.path, "model.half_life_days",
                          f"= {model.half_life_days:g} leaves the polls less than one respondent "
                          "in all (a poll's weight is 0.5 ** (days before the election / "
                          f"half-life), and the newest poll ends {np.nanmin(table.days[keep]):.0f} "
                          "days before it)")
    if not w.sum() > 0.0:
        raise ConfigError(election.path, "poll", "the polls' effective sample sizes add up to "
                          f"nothing ({w.sum():.3g}): check sample_size")
    theta = pool_shares(shares[keep], table.grouped[keep], w)
    sub = PollTable(table.buckets, shares[keep], table.grouped[keep], table.sample_size[keep],
                    table.days[keep], tuple(table.firms[i] for i in keep), table.weights[keep],
                    table.window[keep])
    counts = poll_counts(sub, theta, n_eff[keep])
    if model.pooling == "pooled":
        alpha = (sub.weights[:, None] * counts).sum(axis=0, keepdims=True) + model.prior
        probs = np.ones(1)
        mix = w / w.sum()
    elif model.pooling == "mixture":
        alpha = counts + model.prior
        probs = mix = w / w.sum()
    else:  # latest
        polls = [election.polls[i] for i in keep]

        def newness(i: int) -> tuple:
            d = polls[i].date
            return (d is not None, d or dt.date.min, i)

        newest = max(range(len(polls)), key=newness)
        alpha = counts[newest: newest + 1] + model.prior
        probs = np.ones(1)
        mix = np.zeros(len(polls))
        mix[newest] = 1.0
    days = float(np.sum(mix * sub.days)) if not np.isnan(sub.days).any() else float("nan")
    return Pooled(alpha=np.ascontiguousarray(alpha, np.float64), probs=probs, theta=theta,
                  days=days)
