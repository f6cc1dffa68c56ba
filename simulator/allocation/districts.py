"""Compiled seat allocation by district: every district of every election, in one pass.

An election with districts is allocated district by district, each with its own seats:

* ``threshold_scope = "national"``: lists qualify on their national totals (the sum of their
  district votes, in district order: exact for whole vote counts) against the national base. The
  qualification of every list in every election is settled first, exactly
  (:func:`~simulator.allocation.kernels.product_ge`); each district then allocates among the lists
  that take part nationally (a minority list below the threshold nationally with its coefficient),
  by the block kernel with that qualification as a mask (:func:`_block_weigh_mask`), or the row
  kernel with thresholds of 0 (qualified) and ``_NEVER`` (not) for the elections the block cannot
  settle;
* ``threshold_scope = "district"``: each district is an election of its own, on its own votes and
  base, with the block kernel as the single-district engine uses it.

The slow twin is :func:`simulator.allocation.reference.allocate_reference_districts`.
"""

from __future__ import annotations

from collections import namedtuple

import numba as nb
import numpy as np

from .kernels import (
    _FAST, BLOCK, BLOCK_MAX_LISTS, HARE_NIEMEYER, _block_seats, _block_weigh, allocate_column,
    below_threshold_factor, block_work, product_ge,
)

_NEVER = 1e300  # a threshold no list reaches: "does not qualify" for the row kernel
_TASK_BLOCKS = 8

DistrictStage = namedtuple("DistrictStage", (
    "seats",  # (districts,) int64
    "thresholds",  # (districts x lists) percent: each district's (district scope) or the national
    "national",  # bool: lists qualify on national totals
    "method", "minority", "exempt", "cnum", "cden",  # as the kernels take them
    "fex",  # below_threshold_factor(minority, exempt, cnum)
    "blocked",  # the block kernel applies (a divisor method, at most BLOCK_MAX_LISTS lists)
))


def district_stage(seats, method, thresholds, national, minority, exempt, cnum, cden) -> DistrictStage:
    """The record of :func:`allocate_districts_block`; ``thresholds`` is (districts x lists)."""
    thresholds = np.ascontiguousarray(thresholds, np.float64)
    minority = np.ascontiguousarray(minority, np.bool_)
    return DistrictStage(
        seats=np.ascontiguousarray(seats, np.int64), thresholds=thresholds, national=bool(national),
        method=int(method), minority=minority, exempt=bool(exempt), cnum=float(cnum),
        cden=float(cden), fex=below_threshold_factor(minority, bool(exempt), float(cnum)),
        blocked=bool(method != HARE_NIEMEYER and thresholds.shape[1] <= BLOCK_MAX_LISTS),
    )


def district_work(districts: int, lists: int) -> tuple:
    """Scratch of :func:`allocate_districts_block`: the block kernel's, then national totals,
    qualification (lists x ``BLOCK``), national bases, a row of thresholds."""
    return (block_work(lists), np.empty((lists, BLOCK)), np.empty((lists, BLOCK)),
            np.empty(BLOCK), np.empty(lists))


@nb.njit(**_FAST)
def _block_weigh_mask(src, q, nr, fex, cden, w, tot, mt, mq):
    """:func:`~simulator.allocation.kernels._block_weigh` with the qualification given (``q``,
    1.0 or 0.0 per list and election) instead of tested: weights cden x votes for qualified
    lists, fex x votes for the others (exempt minority lists: cnum; the rest: 0)."""
    n = src.shape[0]
    for r in range(nr):
        tot[r] = 0.0
        mt[r] = 0.0
        mq[r] = 0.0
    for i in range(n):
        fe = fex[i]
        for r in range(nr):
            v = src[i, r]
            qf = q[i, r]
            x = v * (fe + qf * (cden - fe))
            pf = 1.0 if x > 0.0 else 0.0
            w[i, r] = np.float32(x)
            tot[r] += x
            mt[r] += pf
            mq[r] += qf * pf


@nb.njit(cache=True, error_model="numpy")
def allocate_districts_block(dsrc, drest, nr, ds, dw, dseats):
    """Seats of the first nr elections (columns) of ``dsrc`` (districts x lists x ``BLOCK``
    votes; ``drest``: districts x ``BLOCK`` votes in the base that win nothing) into ``dseats``
    (districts x lists x ``BLOCK``, float32). ``dw`` from :func:`district_work`."""
    work, nat, q, nbase, thr = dw
    mats, v64, v32, rows = work
    n_d = dsrc.shape[0]
    n = dsrc.shape[1]
    w, sb = mats[1], mats[2]
    bt, tot, mt, mq = v64[0], v64[1], v64[2], v64[3]
    bad = v32[2]
    if ds.national:  # national totals and bases, and who qualifies on them, exactly
        for r in range(nr):
            nbase[r] = 0.0
        for i in range(n):
            for r in range(nr):
                nat[i, r] = 0.0
        for d in range(n_d):
            for i in range(n):
                for r in range(nr):
                    nat[i, r] += dsrc[d, i, r]
            for r in range(nr):
                nbase[r] += drest[d, r]
        for i in range(n):
            for r in range(nr):
                nbase[r] += nat[i, r]
        for i in range(n):
            t = ds.thresholds[0, i]
            for r in range(nr):
                v = nat[i, r]
                q[i, r] = 1.0 if (v > 0.0) and product_ge(v, 100.0, t, nbase[r]) else 0.0
    for d in range(n_d):
        src = dsrc[d]
        seats = ds.seats[d]
        if not ds.national:
            for r in range(nr):
                bt[r] = drest[d, r]
            for i in range(n):
                for r in range(nr):
                    bt[r] += src[i, r]
        if ds.blocked:
            if ds.national:
                _block_weigh_mask(src, q, nr, ds.fex, ds.cden, w, tot, mt, mq)
            else:
                _block_weigh(src, bt, nr, ds.thresholds[d], ds.fex, ds.cden, w, tot, mt, mq)
            _block_seats(w, nr, seats, ds.method, tot, mt, mq, work)
        for r in range(nr):
            if ds.blocked and bad[r] == np.float32(0.0):
                continue
            if ds.national:  # the row kernel with the national qualification as thresholds
                for i in range(n):
                    thr[i] = 0.0 if q[i, r] > 0.0 else _NEVER
                allocate_column(src, r, 1.0, seats, ds.method, thr, ds.minority, ds.exempt,
                                ds.cnum, ds.cden, rows, sb)
            else:
                allocate_column(src, r, bt[r], seats, ds.method, ds.thresholds[d], ds.minority,
                                ds.exempt, ds.cnum, ds.cden, rows, sb)
        for i in range(n):
            for r in range(nr):
                dseats[d, i, r] = sb[i, r]


@nb.njit(cache=True, parallel=True, error_model="numpy")
def allocate_districts_batch_kernel(votes, rest, ds, out):
    """Seats (elections x districts x lists, int32, into ``out``) of elections given as votes
    (elections x districts x lists) and ``rest`` (elections x districts), in parallel over groups
    of ``BLOCK`` elections."""
    runs, n_d, n = votes.shape
    blocks = (runs + BLOCK - 1) // BLOCK
    per = _TASK_BLOCKS
    for g in nb.prange((blocks + per - 1) // per):
        dsrc = np.empty((n_d, n, BLOCK))
        drest = np.empty((n_d, BLOCK))
        dseats = np.empty((n_d, n, BLOCK), np.float32)
        dw = (block_work(n), np.empty((n, BLOCK)), np.empty((n, BLOCK)), np.empty(BLOCK),
              np.empty(n))
        for b in range(g * per, min(blocks, (g + 1) * per)):
            r0 = b * BLOCK
            nr = min(BLOCK, runs - r0)
            for r in range(nr):
                for d in range(n_d):
                    drest[d, r] = rest[r0 + r, d]
                    for i in range(n):
                        dsrc[d, i, r] = votes[r0 + r, d, i]
            allocate_districts_block(dsrc, drest, nr, ds, dw, dseats)
            for r in range(nr):
                for d in range(n_d):
                    for i in range(n):
                        out[r0 + r, d, i] = np.int32(dseats[d, i, r])
