"""The vote stage, compiled: a block of simulated vote shares, one run per column.

Per block of runs (lists x runs, as the seat stage takes them):

1. the shared polling error, when on: one normal per bucket and run, times one Student-t factor
   per run (the error capped at +-``SHOCK_CAP``), as multipliers exp(error) of the buckets. It is drawn first, so it does not depend on
   which poll a run picks or how many draws that poll's gammas take: within a run, every poll
   shares it;
2. the buckets' Dirichlet draw, as gammas (a Dirichlet is normalised gammas), a bucket at a time
   with :func:`~simulator.streams.fill_gamma`; with mixture pooling each run first picks its poll
   and draws its gammas one by one. Each gamma is multiplied by its error multiplier;
3. the split of ``others`` among the lists no poll names: its own Dirichlet, of the part of the
   bucket the lists fill (``split_fill``; the rest is no list's);
4. shares: bucket gammas over their total, and the split in proportion to its gammas.

With the error off (``polling_error = 0``), steps 1 and the multiplications are skipped and the
random stream is used exactly as by the sampling-only engine before the error layers existed.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba as nb
import numpy as np

from ..allocation.kernels import BLOCK
from ..streams import (
    exp_block, fill_gamma, fill_normal, gamma_constants, gamma_prepared, uniform,
)

_TINY = 1e-280  # a Dirichlet's gammas summing below this are rescaled first (see _rescue)
# The shared error is capped at +-SHOCK_CAP on the log-ratio scale (a factor of 1e13), and its
# Student-t factor at T_CAP: a cap far beyond anything the polls could mean (a list at 0.1 % made
# the winner), which keeps every multiplier, gamma sum and share finite whatever the tails (1
# degree of freedom is a Cauchy) or the drift over a long campaign.
SHOCK_CAP = 30.0
T_CAP = 1e6

VoteStage = namedtuple("VoteStage", (
    "alpha",  # (rows x buckets) Dirichlet parameters
    "cum_probs",  # (rows,) cumulative probability of each row
    "gd", "gc",  # (rows x buckets) Marsaglia-Tsang constants of alpha
    "named_idx", "named_bucket",  # lists with a bucket of their own, and that bucket
    "others_bucket",  # bucket of "others", or -1
    "split_idx",  # lists inside "others"
    "split_shape", "sd", "sc",  # their Dirichlet parameters and gamma constants
    "split_fill",  # the part of "others" they share
    "shock_scale",  # (buckets,) scale of the log-ratio error; all 0 when off
    "shock_on",  # bool
    "shock_df",  # Student-t degrees of freedom (inf: normal)
    "chi_d", "chi_c",  # gamma constants of the t's chi-square / 2 (shape df / 2)
))

VoteScratch = namedtuple("VoteScratch", (
    "gb",  # (buckets x BLOCK) gammas of the poll buckets
    "gs",  # (split parts x BLOCK) gammas of the lists inside "others"
    "mult",  # (buckets x BLOCK) error multipliers exp(error)
    "tf",  # (BLOCK,) the runs' Student-t factors
    "pending", "keep_a", "keep_b",  # sampler scratch
    "inv", "cs",  # per-run totals
    "prow",  # (BLOCK,) each run's poll
))


def vote_stage(vm) -> VoteStage:
    """The record of a :class:`~simulator.votes.model.VoteModel` that :func:`draw_shares` takes."""
    alpha = np.ascontiguousarray(vm.alpha, np.float64)
    gd = np.empty_like(alpha)
    gc = np.empty_like(alpha)
    for idx in np.ndindex(alpha.shape):
        gd[idx], gc[idx] = gamma_constants(alpha[idx])
    named_idx = np.flatnonzero(vm.bucket_of >= 0).astype(np.int64)
    split_idx = (np.flatnonzero(vm.split_alpha > 0) if vm.others_bucket >= 0
                 else np.zeros(0, np.int64)).astype(np.int64)
    split_shape = vm.split_alpha[split_idx]
    sd = np.empty(split_shape.shape[0])
    sc = np.empty(split_shape.shape[0])
    for j in range(split_shape.shape[0]):
        sd[j], sc[j] = gamma_constants(split_shape[j])
    df = float(vm.shock_df)
    chi_d, chi_c = gamma_constants(df / 2.0) if math.isfinite(df) else (0.0, 0.0)
    return VoteStage(
        alpha=alpha, cum_probs=np.cumsum(vm.poll_probs), gd=gd, gc=gc, named_idx=named_idx,
        named_bucket=vm.bucket_of[named_idx].astype(np.int64), others_bucket=int(vm.others_bucket),
        split_idx=split_idx, split_shape=np.ascontiguousarray(split_shape, np.float64), sd=sd,
        sc=sc, split_fill=float(vm.split_fill), shock_scale=np.ascontiguousarray(vm.shock_scale, np.float64),
        shock_on=bool(np.any(vm.shock_scale > 0)), shock_df=df, chi_d=chi_d, chi_c=chi_c,
    )


@nb.njit(cache=True)
def vote_scratch(vs):
    """Scratch arrays for :func:`draw_shares` (allocate once per chunk)."""
    n_buckets = vs.alpha.shape[1]
    return VoteScratch(
        gb=np.empty((n_buckets, BLOCK)), gs=np.empty((max(vs.split_idx.shape[0], 1), BLOCK)),
        mult=np.ones((n_buckets, BLOCK)), tf=np.ones(BLOCK), pending=np.empty(BLOCK, np.int64),
        keep_a=np.empty(BLOCK), keep_b=np.empty(BLOCK), inv=np.empty(BLOCK), cs=np.empty(BLOCK),
        prow=np.zeros(BLOCK, np.int64),
    )


@nb.njit(cache=True, error_model="numpy")
def draw_shock(st, vs, sc, nr):
    """Step 1: the runs' error multipliers into ``sc.mult`` (buckets x runs); returns the state."""
    n_buckets = vs.alpha.shape[1]
    if math.isfinite(vs.shock_df):  # one Student-t factor per run: sqrt(df / chi-square(df))
        half = vs.shock_df / 2.0
        st = fill_gamma(st, half, vs.chi_d, vs.chi_c, sc.tf, nr, sc.pending, sc.keep_a, sc.keep_b)
        for r in range(nr):
            sc.tf[r] = min(math.sqrt(half / sc.tf[r]), T_CAP)  # a gamma of 0 gives inf: capped
    scratch = sc.pending.view(np.float64)
    for k in range(n_buckets):
        st = fill_normal(st, sc.keep_b, nr, sc.pending, sc.keep_a)
        s = vs.shock_scale[k]
        for r in range(nr):
            sc.keep_b[r] = min(max(s * sc.keep_b[r] * sc.tf[r], -SHOCK_CAP), SHOCK_CAP)
        exp_block(sc.keep_b, sc.mult[k], nr, scratch)
    return st


@nb.njit(cache=True, error_model="numpy")
def draw_shares(st, vs, sc, nr, src):
    """Draw ``nr`` runs' list shares of valid votes into columns 0..nr-1 of ``src`` (lists x
    runs; lists in neither a bucket nor the split keep what ``src`` holds, zeros); returns the
    new state."""
    n_buckets = vs.alpha.shape[1]
    n_split = vs.split_idx.shape[0]
    gb, gs, inv, cs = sc.gb, sc.gs, sc.inv, sc.cs
    if vs.shock_on:
        st = draw_shock(st, vs, sc, nr)
    if vs.cum_probs.shape[0] == 1:  # one Dirichlet: each bucket's gammas in one go
        for k in range(n_buckets):
            st = fill_gamma(st, vs.alpha[0, k], vs.gd[0, k], vs.gc[0, k], gb[k], nr, sc.pending,
                            sc.keep_a, sc.keep_b)
    else:  # a mixture: each run picks its poll first
        for r in range(nr):
            u, st = uniform(st)
            row = 0
            while row < vs.cum_probs.shape[0] - 1 and vs.cum_probs[row] <= u:
                row += 1
            sc.prow[r] = row
            for k in range(n_buckets):
                gb[k, r], st = gamma_prepared(st, vs.alpha[row, k], vs.gd[row, k], vs.gc[row, k])
    if vs.shock_on:
        for k in range(n_buckets):
            for r in range(nr):
                gb[k, r] *= sc.mult[k, r]
    for j in range(n_split):
        st = fill_gamma(st, vs.split_shape[j], vs.sd[j], vs.sc[j], gs[j], nr, sc.pending,
                        sc.keep_a, sc.keep_b)
    for r in range(nr):
        inv[r] = 0.0
        cs[r] = 0.0
    for k in range(n_buckets):
        for r in range(nr):
            inv[r] += gb[k, r]
    for r in range(nr):
        if inv[r] < _TINY:  # only with tiny shapes: see _rescue
            inv[r], st = _rescue(st, gb, r, vs.alpha[sc.prow[r]])
        inv[r] = 1.0 / inv[r]
    for i in range(vs.named_idx.shape[0]):
        k = vs.named_bucket[i]
        li = vs.named_idx[i]
        for r in range(nr):
            src[li, r] = gb[k, r] * inv[r]
    if n_split > 0:
        for j in range(n_split):
            for r in range(nr):
                cs[r] += gs[j, r]
        for r in range(nr):
            if cs[r] < _TINY:
                cs[r], st = _rescue(st, gs, r, vs.split_shape)
            cs[r] = gb[vs.others_bucket, r] * inv[r] * vs.split_fill / cs[r]
        for j in range(n_split):
            li = vs.split_idx[j]
            for r in range(nr):
                src[li, r] = gs[j, r] * cs[r]
    return st


@nb.njit(cache=True)
def _rescue(st, g, r, shapes):
    """Gammas g[:, r] of one Dirichlet draw whose total came out below ``_TINY``, which happens
    only when all its shapes are tiny (below about 0.01): rescaled by 2**600 (exactly) so that
    dividing by the total cannot overflow, or, when every gamma underflowed to 0, replaced by the
    Dirichlet's limit as its shapes shrink in proportion: all of the mass on one part, part k
    with probability shapes[k] / sum(shapes). Returns ``(new total, new state)``."""
    total = 0.0
    for k in range(shapes.shape[0]):
        total += g[k, r]
    if total > 0.0:
        total = 0.0
        for k in range(shapes.shape[0]):
            g[k, r] *= 2.0 ** 600
            total += g[k, r]
        return total, st
    u, st = uniform(st)
    u *= np.sum(shapes)
    k = 0
    acc = shapes[0]
    while k < shapes.shape[0] - 1 and acc <= u:
        k += 1
        acc += shapes[k]
    g[k, r] = 1.0
    return 1.0, st
