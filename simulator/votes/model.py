"""The vote model of one election, assembled: polls -> house effects and overdispersion -> pooled
Dirichlet -> the split of ``others`` -> the shared polling error, as arrays for the compiled stage
(:mod:`simulator.votes.draws`) and as facts for reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import OTHERS, Election
from ..districts import baseline_shares
from ..errors import ConfigError
from .draws import VoteStage
from .error import ErrorParams, shock_scales
from .house import PollErrors, fit_poll_errors
from .polls import PollTable, pool, poll_table

MIN_POLLS_FOR_DEFF = 3


@dataclass(frozen=True)
class VoteModel:
    """Everything the draws need, and what a report says about how they were made."""

    buckets: tuple[str, ...]  # party ids the polls name, then OTHERS if present
    alpha: np.ndarray  # (rows x buckets) Dirichlet parameters; one row unless mixture
    poll_probs: np.ndarray  # probability of each row per run (sums to 1)
    theta: np.ndarray  # (buckets,) pooled mean shares (after house effects)
    bucket_of: np.ndarray  # per list: its bucket index, or -1 for lists inside "others"
    others_bucket: int  # bucket index of OTHERS, or -1
    split_alpha: np.ndarray  # per list: Dirichlet parameter of its part of "others" (0 if named)
    split_fill: float  # the part of "others" the lists inside it share (the rest: no list's)
    shock_scale: np.ndarray  # (buckets,) scale of the shared error on the log-ratio scale (0: off)
    shock_df: float  # its Student-t degrees of freedom (inf: normal)
    days: float  # days from the pooled polls to the election (NaN: unknown)
    design_effect: float  # the one used (estimated or given)
    poll_weights: np.ndarray  # per config poll: time-decay weight (0 outside the window)
    effective_sizes: np.ndarray  # per config poll: sample size / deff x house-effect factor
    errors: PollErrors | None  # the house-effect fit, when one was made
    deff_fallback: bool = False  # design_effect = "estimate" with too few polls: 1 was used

    def stage(self) -> VoteStage:
        """The compiled stage's record of this model (see :mod:`simulator.votes.draws`)."""
        from .draws import vote_stage

        return vote_stage(self)

    def describe(self) -> str:
        """One line: which error model the draws carry."""
        if not self.shock_scale.any():
            error = "sampling error only (polling_error = 0)"
        else:
            tails = "normal" if math.isinf(self.shock_df) else f"Student t, {self.shock_df:g} df"
            ten = self.shock_scale[np.argmin(np.abs(self.theta - 0.10))] if self.theta.size else 0
            error = (f"sampling error plus a shared polling error ({tails}; scale {ten:.3f} on the "
                     f"log scale for the list nearest 10 %, {self._days_text()})")
        deff = f"design effect {self.design_effect:.2f}" + (
            " (too few polls to estimate)" if self.deff_fallback else "")
        house = ("house effects for " + ", ".join(self.errors.firms)
                 if self.errors is not None and self.errors.firms else "no house effects")
        return f"{error}; {deff}; {house}"

    def _days_text(self) -> str:
        return "polls' age unknown" if not np.isfinite(self.days) else f"polls {self.days:.0f} days old"


def build_vote_model(election: Election) -> VoteModel:
    """Assemble the vote model of ``election`` from its polls and ``[model]``."""
    model = election.model
    table = poll_table(election)
    n = table.sample_size
    # "estimate" needs MIN_POLLS_FOR_DEFF polls; with fewer, the design effect is its floor, 1
    # (config.py warns when the config asked for it explicitly)
    estimate = model.design_effect == "estimate" and len(election.polls) >= MIN_POLLS_FOR_DEFF
    deff = float(model.design_effect) if model.design_effect != "estimate" else 1.0
    shares = table.shares
    errors = None
    if model.house_effects or estimate:
        anchors = [(_days(election, pr.date), _anchor_shares(table, pr.shares))
                   for pr in election.past_results]
        errors = fit_poll_errors(shares, n, table.days, table.firms, len(table.buckets),
                                 house=model.house_effects, estimate_deff=estimate, deff=deff,
                                 anchors=anchors)
        deff = errors.deff
        if model.house_effects:
            shares = errors.correct(shares, table.grouped)
    n_eff = n / deff
    if errors is not None and model.house_effects:
        n_eff = n_eff * errors.weight_factor(table.shares, n)
    pooled = pool(election, table, shares, n_eff)
    bucket_of, split_alpha, fill = _others_split(election, table, pooled.theta)
    if not (bucket_of >= 0).any() and (not (split_alpha > 0).any() or fill <= 0.0):
        raise ConfigError(election.path, "poll", "no poll names a list of the config, and the "
                          f"lists inside 'others' get none of it (model.others = {model.others!r}, "
                          f"unnamed_share = {model.unnamed_share:g}): every seat would go unfilled")
    params = ErrorParams.of(model)
    scales = (shock_scales(pooled.theta, pooled.days, params) if params.scale > 0
              else np.zeros(len(table.buckets)))
    return VoteModel(
        buckets=table.buckets, alpha=pooled.alpha, poll_probs=pooled.probs, theta=pooled.theta,
        bucket_of=bucket_of, others_bucket=table.others_bucket, split_alpha=split_alpha,
        split_fill=fill, shock_scale=np.ascontiguousarray(scales, np.float64),
        shock_df=float(model.error_df), days=pooled.days, design_effect=float(deff),
        poll_weights=table.weights * table.window, effective_sizes=n_eff, errors=errors,
        deff_fallback=model.design_effect == "estimate" and not estimate,
    )


def _days(election: Election, date) -> float:
    return float((election.date - date).days) if election.date else float("nan")


def _anchor_shares(table: PollTable, shares: dict[str, float]) -> np.ndarray:
    return np.array([shares[b] / 100.0 if b in shares and b != OTHERS else np.nan
                     for b in table.buckets])


def _others_split(election: Election, table: PollTable, theta: np.ndarray):
    """How ``others`` reaches the lists no poll names: each such list expects ``unnamed_share`` x
    its ``others_weight`` percent, or with a ``[baseline]`` its share there if it had one. When
    those add up to less than the bucket's mean, the lists share that fraction of the bucket in
    every run (the fill) and the rest is unassigned (ballots for lists that win nothing); when to
    more, they share the whole bucket. Among themselves they split it by a Dirichlet of
    concentration ``others_concentration``, in proportion to their weights (with a baseline:
    their expected shares). Returns ``(bucket of each list, its Dirichlet parameter, fill)``."""
    model = election.model
    ids = election.party_ids
    bucket_of = np.array([table.buckets.index(p) if p in table.buckets else -1 for p in ids],
                         np.int64)
    unnamed = [p for p in ids if p not in table.buckets]
    split_alpha = np.zeros(len(ids))
    if not unnamed or model.others != "split":
        return bucket_of, split_alpha, 1.0
    w = np.array([election.party(p).others_weight for p in unnamed])
    if w.sum() <= 0:
        raise ConfigError(election.path, "party.others_weight",
                          "the lists inside 'others' all have weight 0")
    want = model.unnamed_share / 100.0 * w  # each list's expected share
    if election.baseline is not None:  # a previous result says more: each list's share there
        b = election.baseline
        shares, weight = baseline_shares(b.votes, b.rest, list(b.parties), b.mapping, list(ids))
        national = (weight @ shares)[[ids.index(p) for p in unnamed]]
        want = np.where(national > 0, national, want)
        w = want  # and they split what they fill in those proportions
    for p, wi in zip(unnamed, w):
        split_alpha[ids.index(p)] = model.others_concentration * wi / w.sum()
    want = want.sum()  # the lists' expected share, together
    bucket = float(theta[table.others_bucket])
    return bucket_of, split_alpha, (1.0 if want >= bucket else want / bucket)


def expected_shares(election: Election, vm: VoteModel | None = None) -> dict[str, float]:
    """Mean vote share (percent) of each list under the vote model, for checks and reports."""
    vm = vm or build_vote_model(election)
    bucket_mean = (vm.poll_probs[:, None] * (vm.alpha / vm.alpha.sum(axis=1, keepdims=True))).sum(0)
    out = {}
    total_split = vm.split_alpha.sum()
    for i, pid in enumerate(election.party_ids):
        k = vm.bucket_of[i]
        if k >= 0:
            out[pid] = 100.0 * bucket_mean[k]
        elif vm.others_bucket >= 0 and total_split > 0 and vm.split_alpha[i] > 0:
            out[pid] = (100.0 * bucket_mean[vm.others_bucket] * vm.split_fill * vm.split_alpha[i]
                        / total_split)
        else:
            out[pid] = 0.0
    return out
