"""Poll pooling: from the config's polls to the Dirichlet parameters the engine draws from.

One poll gives Dirichlet(alpha) with alpha_k = share_k / 100 x effective sample size + prior, over
*buckets*: the parties the polls name, plus ``others`` (the method of R's ``coalitions``). Several
polls are combined by ``[model] pooling``:

* ``pooled``: the weighted counts of all polls are summed into one Dirichlet;
* ``mixture``: each run picks one poll, with probability proportional to its weighted effective
  sample size, and draws from that poll's Dirichlet, so disagreement between pollsters widens the
  forecast;
* ``latest``: the newest poll only (the last one listed among equal or missing dates).

A poll's weight is 0.5 ** (days before the election / half_life_days), or 1 without a half-life.
A party a poll does not name counts as part of that poll's ``others``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .config import OTHERS, Election
from .errors import ConfigError


@dataclass(frozen=True)
class PollModel:
    buckets: tuple[str, ...]  # party ids named by polls, then OTHERS if present
    alpha: np.ndarray  # (polls x buckets) Dirichlet parameters; one row unless mixture
    poll_probs: np.ndarray  # probability of each row per run (sums to 1)
    bucket_of: np.ndarray  # per list: its bucket index, or -1 for lists inside "others"
    others_bucket: int  # bucket index of OTHERS, or -1
    split_alpha: np.ndarray  # per list: Dirichlet parameter of its part of "others" (0 if named)
    poll_weights: np.ndarray  # per config poll: its weight after decay


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
            raise ConfigError(election.path, f"poll[{i}].date", "needed when model.half_life_days > 0")
        days = (election.date - poll.date).days
        weights[i] = 0.5 ** (max(days, 0) / half_life)
    return weights


def build_poll_model(election: Election) -> PollModel:
    """Dirichlet parameters and list-to-bucket mapping for the election's polls and model."""
    if not election.polls:
        raise ConfigError(election.path, "poll", "simulation needs at least one [[poll]]")
    model = election.model
    ids = election.party_ids
    named = [p for p in ids if any(p in poll.shares for poll in election.polls)]
    unnamed = [p for p in ids if p not in named]
    has_others = bool(unnamed) or any(OTHERS in poll.shares for poll in election.polls)
    buckets = tuple(named) + ((OTHERS,) if has_others else ())
    weights = poll_weights(election)

    counts = np.zeros((len(election.polls), len(buckets)))
    for r, poll in enumerate(election.polls):
        n_eff = poll.sample_size / model.design_effect
        for k, b in enumerate(buckets):
            counts[r, k] = poll.shares.get(b, 0.0) / 100.0 * n_eff

    if model.pooling == "pooled":
        alpha = (weights[:, None] * counts).sum(axis=0, keepdims=True) + model.prior
        probs = np.ones(1)
    elif model.pooling == "mixture":
        alpha = counts + model.prior
        sizes = weights * np.array([p.sample_size / model.design_effect for p in election.polls])
        probs = sizes / sizes.sum()
    else:  # latest
        def newness(i: int) -> tuple:
            d = election.polls[i].date
            return (d is not None, d or dt.date.min, i)

        newest = max(range(len(election.polls)), key=newness)
        alpha = counts[newest : newest + 1] + model.prior
        probs = np.ones(1)

    bucket_of = np.array([buckets.index(p) if p in named else -1 for p in ids], np.int64)
    split_alpha = np.zeros(len(ids))
    if unnamed and model.others == "split":
        w = np.array([election.party(p).others_weight for p in unnamed])
        if w.sum() <= 0:
            raise ConfigError(election.path, "party.others_weight",
                              "the lists inside 'others' all have weight 0")
        for p, wi in zip(unnamed, w):
            split_alpha[ids.index(p)] = model.others_concentration * wi / w.sum()
    return PollModel(
        buckets=buckets,
        alpha=np.ascontiguousarray(alpha, np.float64),
        poll_probs=probs,
        bucket_of=bucket_of,
        others_bucket=buckets.index(OTHERS) if has_others else -1,
        split_alpha=split_alpha,
        poll_weights=weights,
    )


def expected_shares(election: Election, pm: PollModel | None = None) -> dict[str, float]:
    """Mean vote share (percent) of each list under the poll model, for checks and reports."""
    pm = pm or build_poll_model(election)
    bucket_mean = (pm.poll_probs[:, None] * (pm.alpha / pm.alpha.sum(axis=1, keepdims=True))).sum(0)
    out = {}
    total_split = pm.split_alpha.sum()
    for i, pid in enumerate(election.party_ids):
        k = pm.bucket_of[i]
        if k >= 0:
            out[pid] = 100.0 * bucket_mean[k]
        elif pm.others_bucket >= 0 and total_split > 0 and pm.split_alpha[i] > 0:
            out[pid] = 100.0 * bucket_mean[pm.others_bucket] * pm.split_alpha[i] / total_split
        else:
            out[pid] = 0.0
    return out
