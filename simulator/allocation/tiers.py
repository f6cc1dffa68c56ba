"""Compiled tier laws: one election (districts x lists of votes) at a time through the plan of
:mod:`simulator.laws`, in the order bonus -> district tier -> remainder -> levelling.

The record (:class:`LawStage`, built by :mod:`simulator.allocation.plan`) holds each method as a
row of ``methods``: ``[quota code, d(0), a, b]`` with the divisors scaled to whole numbers (a first
divisor p/q gives d(0) = p, d(k) = q * (a + b*k)), so quotients are compared exactly by
cross-multiplication (:func:`_beats`, with Dekker's product error on equal rounded products).
Largest-remainder methods form their quota as ``V / k`` (Hare k = S, Hagenbach-Bischoff S + 1,
Imperiali S + 2; Droop an integer quota over k = 1) and find whole quotas exactly
(:func:`~simulator.allocation.kernels.product_ge`); remainders and the relative quotients that
place levelling seats are compared as floats, each formed with one rounding from exact products
of whole vote counts, so they are exact for vote counts below about 2**53 / seats.

The slow twin is :func:`simulator.allocation.tiers_reference.allocate_law_reference`; ties follow
its rules.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba as nb
import numpy as np

from .districts import allocate_districts_block
from .kernels import BLOCK, _product_error, product_ge

LawStage = namedtuple("LawStage", (
    "active",  # bool: the election's seats go through this plan
    "house",  # int64: the seats of the house
    "dseats",  # (districts,) int64: each district's fixed seats (one district: a national law)
    "thresholds",  # (lists,) percent of the national valid votes: the district tier's
    "route",  # percent of a district's valid votes that lets a list take part there; < 0: none
    "methods",  # (4, 4): the district tier's, the remainder tier's, the levelling placement's,
    # and (assign by regions) the placement's within a region
    "remainder",  # bool: whole quotas in districts, the rest by a national second scrutiny
    "levelling",  # bool
    "lev_method",  # (4,): the levelling entitlement's method
    "lev_thresholds",  # (lists,) percent
    "lev_seats_route",  # int64: or this many district seats won (0: no such route)
    "lev_regions_route",  # int64: or in this many regions votes >= the region's votes per seat
    "regions",  # (districts,) int64 region index
    "n_regions",  # int64
    "assign",  # int64: ASSIGN_QUOTIENT or ASSIGN_RELATIVE
    "caps",  # (districts,) int64 levelling seats per district (relative quotient)
    "region_caps",  # (regions,) int64 levelling seats per region (assign by regions)
    "bonus",  # bool
    "bonus_shares",  # (k,) percent, increasing
    "bonus_seats",  # (k,) int64
    "scale",  # float: simulated shares are multiplied by this (vote counts for a Droop quota)
    "one_tier",  # bool: the engine allocates the district tier with the one-tier district kernel
    "quota_block",  # bool: whole quotas of whole votes and a second scrutiny, by blocks
))
ASSIGN_QUOTIENT = 0
ASSIGN_RELATIVE = 1
ASSIGN_REGIONS = 2
_FAST = dict(cache=True, error_model="numpy")
# Small helpers called in loops are inlined: a call to a compiled function costs an atomic
# reference count per array argument.
_INLINE = dict(cache=True, inline="always", error_model="numpy")


@nb.njit(cache=True, inline="always")
def _div(m, k):
    """The scaled divisor of a list holding k seats under method row m."""
    if k == 0:
        return m[1]
    return m[2] + m[3] * k


@nb.njit(cache=True, inline="always")
def _beats(w1, d1, v1, i1, w2, d2, v2, i2):
    """w1/d1 ranks above w2/d2, exactly; ties to more votes, then to the earlier index."""
    p = w1 * d2
    q = w2 * d1
    if p != q:
        return p > q
    e1 = _product_error(w1, d2, p)
    e2 = _product_error(w2, d1, q)
    if e1 != e2:
        return e1 > e2
    if v1 != v2:
        return v1 > v2
    return i1 < i2


@nb.njit(**_INLINE)
def _best_next(m, w, takes, out):
    best = -1
    for i in range(w.shape[0]):
        if takes[i] and (best < 0 or _beats(w[i], _div(m, out[i]), w[i], i,
                                            w[best], _div(m, out[best]), w[best], best)):
            best = i
    return best


@nb.njit(**_INLINE)
def _worst_held(m, w, takes, out):
    worst = -1
    for i in range(w.shape[0]):
        if takes[i] and out[i] > 0 and (worst < 0 or _beats(
                w[worst], _div(m, out[worst] - 1), w[worst], worst,
                w[i], _div(m, out[i] - 1), w[i], i)):
            worst = i
    return worst


@nb.njit(**_FAST)
def divisor_seats(m, w, takes, seats, out):
    """Divisor method: a jump-start, then corrections until the held quotients are the top
    ``seats``: add the best next quotient or drop the worst held one until ``seats`` are held,
    then swap while an unheld quotient beats a held one.

    Jump-start (Pukelsheim's, for divisors d(k) = a + b*k): x = w * (S + m * (a/b - 1/2)) / W
    seats' worth gives ceil(x - a/b) seats, none when x is not above d(0)/b; its error is a seat
    or two, whatever the method."""
    n = w.shape[0]
    total = 0.0
    m_taking = 0
    for i in range(n):
        out[i] = 0
        if takes[i]:
            total += w[i]
            m_taking += 1
    if total <= 0.0 or seats <= 0:
        return
    ratio = m[2] / m[3]  # a / b
    first = m[1] / m[3]  # d(0) / b
    lam = (seats + m_taking * (ratio - 0.5)) / total
    held = 0
    safe = True  # no estimate within rounding error of a seat boundary
    for i in range(n):
        if takes[i]:
            x = w[i] * lam
            s = 0
            safe &= abs(x - first) > 1e-9 * (x + 1.0)
            if x > first:
                y = x - ratio
                c = math.ceil(y)
                safe &= c - y > 1e-9 * (abs(y) + 1.0) and y - (c - 1.0) > 1e-9 * (abs(y) + 1.0)
                s = max(int(c), 1)
            out[i] = s
            held += s
    # the estimate holds the top quotients for its own count (each list's held quotients are
    # above the common cutoff, its unheld ones below): adding the best next and dropping the
    # worst held keep it so; near a boundary the swaps below settle it
    while held < seats:
        out[_best_next(m, w, takes, out)] += 1
        held += 1
    while held > seats:
        out[_worst_held(m, w, takes, out)] -= 1
        held -= 1
    while not safe:
        best = _best_next(m, w, takes, out)
        worst = _worst_held(m, w, takes, out)
        if worst >= 0 and best != worst and _beats(
                w[best], _div(m, out[best]), w[best], best,
                w[worst], _div(m, out[worst] - 1), w[worst], worst):
            out[best] += 1
            out[worst] -= 1
        else:
            return


@nb.njit(cache=True, inline="always")
def whole_quota(code, total, seats):
    """A quota of whole votes: Droop's floor(V / (S + 1)) + 1 (code 2), or V / k rounded to the
    nearest whole vote, halves up (the largest q with (2q - 1) k <= 2V, at least 1)."""
    if code == 2:
        qf = math.floor(total / (seats + 1))
        while qf * (seats + 1) > total:
            qf -= 1.0
        while (qf + 1.0) * (seats + 1) <= total:
            qf += 1.0
        return qf + 1.0
    k = float(seats + (code == 3) + 2 * (code == 4))
    q = math.floor(total / k + 0.5)
    while q > 1.0 and (2.0 * q - 1.0) * k > 2.0 * total:
        q -= 1.0
    while (2.0 * q + 1.0) * k <= 2.0 * total:
        q += 1.0
    return max(q, 1.0)


@nb.njit(**_FAST)
def quota_whole(m, w, takes, seats, out, rem):
    """Whole quotas (cut back smallest remainder first when they exceed ``seats``); ``rem``: the
    remainders in votes. Returns the quota's denominator k (remainders compare as rem)."""
    n = w.shape[0]
    total = 0.0
    for i in range(n):
        out[i] = 0
        rem[i] = 0.0
        if takes[i]:
            total += w[i]
    if total <= 0.0 or seats <= 0:
        return
    code = int(m[0])
    if code == 2 or m[1] == 1.0:  # a quota of whole votes
        num = whole_quota(code, total, seats)
        k = 1.0
    else:  # the quota V / k
        num = total
        k = float(seats + (code == 3) + 2 * (code == 4))
    held = 0
    if k == 1.0:  # a quota of whole votes: f * q is exact, and so is w - f * q (Sterbenz)
        for i in range(n):
            if takes[i]:
                f = math.floor(w[i] / num)
                while f > 0.0 and f * num > w[i]:
                    f -= 1.0
                while (f + 1.0) * num <= w[i]:
                    f += 1.0
                out[i] = int(f)
                held += int(f)
                rem[i] = w[i] - f * num
        k = 0.0  # done
    for i in range(n if k != 0.0 else 0):
        if takes[i]:
            f = math.floor(w[i] * k / num)
            while f > 0 and not product_ge(w[i], k, f, num):
                f -= 1.0
            while product_ge(w[i], k, f + 1.0, num):
                f += 1.0
            out[i] = int(f)
            held += int(f)
            p1 = w[i] * k
            p2 = f * num
            rem[i] = ((p1 - p2) + (_product_error(w[i], k, p1) - _product_error(f, num, p2))) / k
    if held > seats:
        cut_excess(w, takes, out, rem, held, seats, num / k if k != 0.0 else num)


@nb.njit(**_FAST)
def cut_excess(w, takes, out, rem, held, seats, quota):
    """Smallest-remainder-loses, once per list and round, until ``seats`` are held; a loser's
    remainder grows by the ``quota`` (in votes) it no longer fills."""
    n = w.shape[0]
    cut = np.zeros(n, np.bool_)
    while held > seats:
        loser = -1
        for i in range(n):
            if takes[i] and out[i] > 0 and not cut[i]:
                if loser < 0 or rem[i] < rem[loser] or (rem[i] == rem[loser] and (
                        w[i] < w[loser] or (w[i] == w[loser] and i > loser))):
                    loser = i
        if loser < 0:  # every holder lost one: another round
            cut[:] = False
            continue
        out[loser] -= 1
        rem[loser] += quota
        cut[loser] = True
        held -= 1


@nb.njit(**_FAST)
def quota_seats(m, w, takes, seats, out, rem, used):
    """Largest remainder: whole quotas, then one seat each to the largest remainders (rounds)."""
    n = w.shape[0]
    quota_whole(m, w, takes, seats, out, rem)
    held = 0
    any_votes = False
    for i in range(n):
        held += out[i]
        any_votes |= takes[i] and w[i] > 0.0
    if not any_votes:
        return
    while held < seats:
        for i in range(n):
            used[i] = False
        for _ in range(n):
            if held >= seats:
                break
            best = -1
            for i in range(n):
                if takes[i] and not used[i] and (best < 0 or rem[i] > rem[best] or (
                        rem[i] == rem[best] and (w[i] > w[best] or (w[i] == w[best] and i < best)))):
                    best = i
            if best < 0:
                break
            used[best] = True
            out[best] += 1
            held += 1


@nb.njit(**_FAST)
def method_seats(m, w, takes, seats, out, rem, used):
    if m[0] == 0:
        divisor_seats(m, w, takes, seats, out)
    else:
        quota_seats(m, w, takes, seats, out, rem, used)


@nb.njit(cache=True)
def law_scratch(p, lists):
    """Scratch of :func:`allocate_law_block` and :func:`allocate_law_national` (once per chunk):
    the row kernel's, and one election's votes, rest and seats."""
    D = max(p.dseats.shape[0], 1)
    n = lists
    work = (np.zeros(n), np.zeros(n, np.bool_), np.zeros(n, np.int64), np.zeros(n),
            np.zeros(n, np.bool_), np.zeros((D, n)), np.zeros(D), np.zeros(n, np.int64),
            np.zeros(n, np.int64), np.zeros((D, n), np.bool_), np.zeros(D, np.int64),
            np.zeros(D), np.zeros(n, np.bool_), np.zeros(D))
    B = BLOCK
    block = (np.zeros((n, B)), np.zeros(B), np.zeros((n, B), np.bool_), np.zeros((D, n, B)),
             np.zeros(n), np.zeros(n, np.bool_), np.zeros(n, np.int64), np.zeros(n),
             np.zeros(B, np.bool_), np.zeros(B), np.zeros(B), np.zeros(B, np.int64))
    return work, np.zeros((D, n)), np.zeros(D), np.zeros((D, n), np.int64), block


@nb.njit(**_FAST)
def allocate_law_block(dsrc, drest, nr, p, scratch, dseats, ds, dw):
    """The first nr elections of a block of district votes (districts x lists x runs) and rests
    (districts x runs) through the plan: seats into ``dseats`` (districts x lists x runs). With
    ``p.one_tier`` the district tier is the one-tier district kernel's (``ds``, ``dw``: its record
    and scratch), vectorised across the block, and the rest of the plan goes run by run."""
    work, V, R, S, block = scratch
    D, n = V.shape
    if p.quota_block:
        _whole_quotas_block(dsrc, drest, nr, p, scratch, dseats)
        return
    if p.one_tier:
        allocate_districts_block(dsrc, drest, nr, ds, dw, dseats)
    for r in range(nr):
        for d in range(D):
            R[d] = drest[d, r] * p.scale
            for i in range(n):
                V[d, i] = dsrc[d, i, r] * p.scale
                if p.one_tier:
                    S[d, i] = np.int64(dseats[d, i, r])
        allocate_law_row(V, R, p, work, S, p.one_tier)
        for d in range(D):
            for i in range(n):
                dseats[d, i, r] = S[d, i]


@nb.njit(**_FAST)
def allocate_law_national(src, nr, base, p, scratch, sb):
    """The first nr elections of a block of national shares (lists x runs, threshold base
    ``base``) through a national plan (one district): seats into ``sb`` (lists x runs)."""
    work, V, R, S, _ = scratch
    n = V.shape[1]
    for r in range(nr):
        t = 0.0
        for i in range(n):
            V[0, i] = src[i, r] * p.scale
            t += src[i, r]
        R[0] = max(base - t, 0.0) * p.scale
        allocate_law_row(V, R, p, work, S)
        for i in range(n):
            sb[i, r] = S[0, i]


@nb.njit(**_FAST)
def _whole_quotas_block(dsrc, drest, nr, p, scratch, dseats):
    """A law of whole quotas of whole votes in districts and a second scrutiny (Czechia) for a
    block: qualification and the districts' whole quotas vectorised across the block, in the
    order of operations of :func:`allocate_law_row` (so the same floats, the same seats); the
    second scrutiny run by run."""
    work, V, R, S, block = scratch
    nat, base, qual, rems, w, tk, out, rem = block[:8]
    D, n = V.shape
    sc = p.scale
    for r in range(nr):
        base[r] = 0.0
    for i in range(n):
        for r in range(nr):
            nat[i, r] = 0.0
        for d in range(D):
            for r in range(nr):
                nat[i, r] += dsrc[d, i, r] * sc
        for r in range(nr):
            base[r] += nat[i, r]
    for d in range(D):
        for r in range(nr):
            base[r] += drest[d, r] * sc
    for r in range(nr):
        anyq = False
        for i in range(n):
            qual[i, r] = nat[i, r] > 0.0 and product_ge(nat[i, r], 100.0, p.thresholds[i], base[r])
            anyq |= qual[i, r]
        if not anyq:
            for i in range(n):
                qual[i, r] = nat[i, r] > 0.0
    m0 = p.methods[0]
    code = int(m0[0])
    here, total, num, held = block[8], block[9], block[10], block[11]
    for d in range(D):  # loops over the block innermost, so that they vectorise
        seats = p.dseats[d]
        for r in range(nr):
            here[r] = False
            total[r] = 0.0
            held[r] = 0
        for i in range(n):
            for r in range(nr):
                here[r] |= qual[i, r] & (dsrc[d, i, r] > 0.0)
        for i in range(n):
            for r in range(nr):
                v = dsrc[d, i, r] * sc
                if v > 0.0 and (qual[i, r] or not here[r]):
                    total[r] += v
        for r in range(nr):
            t = total[r]
            num[r] = whole_quota(code, t, seats) if t > 0.0 and seats > 0 else 0.0
        for i in range(n):
            for r in range(nr):
                v = dsrc[d, i, r] * sc
                q = num[r]
                takes = q > 0.0 and v > 0.0 and (qual[i, r] or not here[r])
                f = math.floor(v / q) if takes else 0.0
                # a correctly rounded quotient floors to the whole quotas or one off
                f -= 1.0 if takes and f > 0.0 and f * q > v else 0.0
                f += 1.0 if takes and (f + 1.0) * q <= v else 0.0
                dseats[d, i, r] = f
                rems[d, i, r] = v - f * q if takes else 0.0
                held[r] += int(f)
        for r in range(nr):
            if held[r] > seats:  # rare: the cut, on this district's column
                for i in range(n):
                    w[i] = dsrc[d, i, r] * sc
                    tk[i] = w[i] > 0.0 and (qual[i, r] or not here[r])
                    out[i] = int(dseats[d, i, r])
                    rem[i] = rems[d, i, r]
                cut_excess(w, tk, out, rem, held[r], seats, num[r])
                for i in range(n):
                    dseats[d, i, r] = out[i]
                    rems[d, i, r] = rem[i]
    # the second scrutiny, run by run, on the block's columns (as _second_scrutiny does on rows)
    unfilled = held  # reused: the seats each run's districts left
    for r in range(nr):
        unfilled[r] = 0
    for d in range(D):
        for r in range(nr):
            unfilled[r] += p.dseats[d]
        for i in range(n):
            for r in range(nr):
                unfilled[r] -= int(dseats[d, i, r])
    natrem = work[0]
    takes = work[4]
    row_out, rem_row, extra, used2, used = work[2], work[3], work[8], work[9], work[12]
    for i in range(n):  # the qualified lists' national remainders (nat is free now), by block
        for r in range(nr):
            nat[i, r] = 0.0
        for d in range(D):
            for r in range(nr):
                nat[i, r] += rems[d, i, r] if qual[i, r] else 0.0
    for r in range(nr):
        left = unfilled[r]
        if left <= 0:
            continue
        anyt = False
        for i in range(n):
            t = nat[i, r]
            natrem[i] = t
            takes[i] = qual[i, r] and t > 0.0
            anyt |= takes[i]
        if not anyt:  # no remainder anywhere: by the qualified lists' votes
            for i in range(n):
                t = 0.0
                if qual[i, r]:
                    for d in range(D):
                        t += dsrc[d, i, r] * sc
                natrem[i] = t
                takes[i] = t > 0.0
        method_seats(p.methods[1], natrem, takes, left, row_out, rem_row, used)
        for i in range(n):  # to the districts of its largest remainders, one each (rounds)
            for k in range(row_out[i]):
                if k % D == 0:
                    for d in range(D):
                        used2[d, i] = False
                bd = -1
                for d in range(D):
                    if used2[d, i]:
                        continue
                    if bd < 0 or rems[d, i, r] > rems[bd, i, r]:
                        bd = d
                    elif rems[d, i, r] == rems[bd, i, r]:
                        vd, vb = dsrc[d, i, r] * sc, dsrc[bd, i, r] * sc  # the row's votes
                        if vd > vb:
                            bd = d
                dseats[bd, i, r] += 1
                used2[bd, i] = True


@nb.njit(**_FAST)
def allocate_law_row(V, R, p, work, seats, given=False):
    """Seats (districts x lists, int64, into ``seats``) of one election: votes ``V`` (districts x
    lists), ``R`` each district's valid votes that win nothing, by the plan ``p``. With ``given``,
    ``seats`` already holds the district tier's seats (the one-tier kernel's)."""
    nat, qual, row_out, rem_row, takes, rems, dvotes, won, extra, used2, unfilled, dtmp, used, _ = work
    D, n = V.shape
    base = 0.0
    for i in range(n):
        s = 0.0
        for d in range(D):
            s += V[d, i]
        nat[i] = s
        base += s
    for d in range(D):
        base += R[d]
        t = R[d]
        for i in range(n):
            t += V[d, i]
        dvotes[d] = t
    first = -1
    bonus = 0
    if p.bonus:
        first = 0
        for i in range(1, n):
            if nat[i] > nat[first]:
                first = i
        if nat[first] > 0.0:
            for k in range(p.bonus_shares.shape[0]):
                if product_ge(nat[first], 100.0, p.bonus_shares[k], base):
                    bonus = p.bonus_seats[k]
    # the district tier
    anyq = False
    for i in range(n):
        qual[i] = nat[i] > 0.0 and product_ge(nat[i], 100.0, p.thresholds[i], base)
        anyq |= qual[i]
    if not anyq:
        for i in range(n):
            qual[i] = nat[i] > 0.0
    m0 = p.methods[0]
    for d in range(D if not given else 0):
        here = False
        for i in range(n):
            takes[i] = V[d, i] > 0.0 and (qual[i] or (p.route >= 0.0 and product_ge(
                V[d, i], 100.0, p.route, dvotes[d])))
            here |= takes[i]
        if not here:  # nobody qualified has votes here: every list with votes takes part
            for i in range(n):
                takes[i] = V[d, i] > 0.0
        sd = p.dseats[d] - (bonus if d == 0 else 0)
        if p.remainder:
            quota_whole(m0, V[d], takes, sd, row_out, rem_row)
            for i in range(n):
                rems[d, i] = rem_row[i]
        else:
            method_seats(m0, V[d], takes, sd, row_out, rem_row, used)
        for i in range(n):
            seats[d, i] = row_out[i]
    if p.remainder:
        _second_scrutiny(V, p, seats, rems, qual, work)
    if p.levelling:
        _levelling(V, R, p, seats, nat, base, dvotes, work)
    if p.bonus and bonus > 0:
        seats[0, first] += bonus


@nb.njit(**_FAST)
def _second_scrutiny(V, p, seats, rems, qual, work):
    nat, _, row_out, rem_row, takes, _, _, _, _, used2, unfilled, _, used, _ = work
    D, n = V.shape
    left = 0
    for d in range(D):
        u = p.dseats[d]
        for i in range(n):
            u -= seats[d, i]
        unfilled[d] = u
        left += u
    if left <= 0:
        return
    anyt = False
    for i in range(n):
        s = 0.0
        if qual[i]:
            for d in range(D):
                s += rems[d, i]
        nat[i] = s  # nat now holds the national remainders
        takes[i] = qual[i] and s > 0.0
        anyt |= takes[i]
    if not anyt:  # no remainder anywhere: by the qualified lists' votes
        for i in range(n):
            s = 0.0
            if qual[i]:
                for d in range(D):
                    s += V[d, i]
            nat[i] = s
            takes[i] = s > 0.0
    method_seats(p.methods[1], nat, takes, left, row_out, rem_row, used)
    for i in range(n):  # to the districts of its largest remainders, one each (rounds)
        for k in range(row_out[i]):
            if k % D == 0:
                for d in range(D):
                    used2[d, i] = False
            bd = -1
            for d in range(D):
                if not used2[d, i] and (bd < 0 or rems[d, i] > rems[bd, i] or (
                        rems[d, i] == rems[bd, i] and (V[d, i] > V[bd, i] or (
                            V[d, i] == V[bd, i] and d < bd)))):
                    bd = d
            seats[bd, i] += 1
            used2[bd, i] = True


@nb.njit(**_FAST)
def _levelling(V, R, p, seats, nat, base, dvotes, work):
    _, qual, row_out, rem_row, active, _, _, won, extra, _, _, dtmp, used, _ = work
    D, n = V.shape
    for i in range(n):
        s = 0
        for d in range(D):
            s += seats[d, i]
        won[i] = s
        q = nat[i] > 0.0 and product_ge(nat[i], 100.0, p.lev_thresholds[i], base)
        if p.lev_seats_route > 0 and s >= p.lev_seats_route:
            q = True
        qual[i] = q
    if p.lev_regions_route > 0:
        k = p.n_regions
        rt = np.zeros(k)  # each region's valid votes and district seats
        rs = np.zeros(k)
        for d in range(D):
            r = p.regions[d]
            rt[r] += dvotes[d]
            for j in range(n):
                rs[r] += seats[d, j]
        for i in range(n):
            if qual[i] or nat[i] <= 0.0:
                continue
            hits = 0
            for r in range(k):
                rv = 0.0
                for d in range(D):
                    if p.regions[d] == r:
                        rv += V[d, i]
                if rs[r] > 0 and rv > 0.0 and product_ge(rv, rs[r], rt[r], 1.0):
                    hits += 1
            qual[i] = hits >= p.lev_regions_route
    anyq = False
    for i in range(n):
        anyq |= qual[i]
    if not anyq:  # nobody qualified: every list with votes takes part
        for i in range(n):
            qual[i] = nat[i] > 0.0
    avail = p.house
    for i in range(n):
        active[i] = qual[i]
        if not qual[i]:
            avail -= won[i]
    while True:
        method_seats(p.lev_method, nat, active, avail, row_out, rem_row, used)
        over = False
        for i in range(n):
            if active[i] and won[i] > row_out[i]:
                over = True
        if not over:
            break
        for i in range(n):
            if active[i] and won[i] > row_out[i]:
                active[i] = False
                avail -= won[i]
    total = 0
    for i in range(n):
        extra[i] = row_out[i] - won[i] if active[i] else 0
        total += extra[i]
    m = p.methods[2]
    if p.assign == ASSIGN_REGIONS:
        _assign_regions(V, p, seats, extra, total)
        return
    if p.assign == ASSIGN_QUOTIENT:
        for i in range(n):
            if extra[i] <= 0:
                continue
            bd = 0
            for d in range(1, D):
                if _beats(V[d, i], _div(m, seats[d, i]), 0.0, d,
                          V[bd, i], _div(m, seats[bd, i]), 0.0, bd):
                    bd = d
            for _ in range(extra[i]):
                seats[bd, i] += 1
                if _ < extra[i] - 1:  # only the district that took the seat has a new quotient
                    nd = 0
                    for d in range(1, D):
                        if _beats(V[d, i], _div(m, seats[d, i]), 0.0, d,
                                  V[nd, i], _div(m, seats[nd, i]), 0.0, nd):
                            nd = d
                    bd = nd
        return
    # relative quotient: every (district, list) key once; each open district keeps its best list
    # (a key changes only in the district that takes a seat), and each seat goes to the best of
    # the districts' bests; a district's best is sought again only when its list runs out
    keys = work[5]  # the remainder tier's scratch (a law has one of the two tiers)
    best = work[10]  # (districts,) int64: the second scrutiny's scratch, free here
    for d in range(D):
        dtmp[d] = p.caps[d] if dvotes[d] > 0.0 else 0
        for i in range(n):
            if extra[i] > 0:
                keys[d, i] = (V[d, i] * p.dseats[d]) / (_div(m, seats[d, i]) * dvotes[d])
    bkey = work[13]  # each district's best key (-1: closed or none)
    for d in range(D):
        bkey[d] = -1.0
        if dtmp[d] > 0:
            _district_best(V, keys, extra, d, best, bkey)
    for _ in range(total):
        bd = -1
        bk = -1.0
        for d in range(D):  # the highest best key; equal keys by the full order
            k = bkey[d]
            if k > bk or (k == bk and k >= 0.0 and _relative_above(V, keys, d, best[d], bd, best[bd])):
                bd = d
                bk = k
        if bd < 0:
            return
        bi = best[bd]
        seats[bd, bi] += 1
        dtmp[bd] -= 1
        extra[bi] -= 1
        if dtmp[bd] > 0:
            keys[bd, bi] = (V[bd, bi] * p.dseats[bd]) / (_div(m, seats[bd, bi]) * dvotes[bd])
            _district_best(V, keys, extra, bd, best, bkey)
        else:
            bkey[bd] = -1.0
        if extra[bi] == 0:
            for d in range(D):
                if dtmp[d] > 0 and best[d] == bi:
                    _district_best(V, keys, extra, d, best, bkey)


@nb.njit(cache=True, inline="always")
def _relative_above(V, keys, d, i, bd, bi):
    """(d, i) ranks above (bd, bi): a higher key, then more votes in the district, then the
    earlier list, then the earlier district."""
    k, bk = keys[d, i], keys[bd, bi]
    if k != bk:
        return k > bk
    if V[d, i] != V[bd, bi]:
        return V[d, i] > V[bd, bi]
    if i != bi:
        return i < bi
    return d < bd


@nb.njit(**_INLINE)
def _district_best(V, keys, extra, d, best, bkey):
    b = -1
    for i in range(V.shape[1]):
        if extra[i] > 0 and (b < 0 or _relative_above(V, keys, d, i, d, b)):
            b = i
    best[d] = b
    bkey[d] = keys[d, b] if b >= 0 else -1.0


@nb.njit(**_FAST)
def _assign_regions(V, p, seats, extra, total):
    """Levelling seats to regions by one ranking of (region, list) quotients, then within each
    region to its districts (see the reference's ``_assign_regions``)."""
    D, n = V.shape
    k = p.n_regions
    rv = np.zeros((k, n))
    held = np.zeros((k, n), np.int64)
    got = np.zeros((k, n), np.int64)
    caps = p.region_caps.copy()
    for d in range(D):
        r = p.regions[d]
        for i in range(n):
            rv[r, i] += V[d, i]
            held[r, i] += seats[d, i]
    m = p.methods[2]
    q = np.empty((k, n))  # each (region, list) quotient after the seats it holds there
    for r in range(k):
        for i in range(n):
            q[r, i] = rv[r, i] / _div(m, held[r, i])
    for _ in range(total):
        br = -1
        bi = -1
        for r in range(k):
            if caps[r] <= 0:
                continue
            for i in range(n):
                if extra[i] <= 0 or rv[r, i] <= 0.0:
                    continue
                if br < 0 or q[r, i] > q[br, bi]:
                    br, bi = r, i
                    continue
                if q[r, i] < q[br, bi]:
                    continue
                wa, da = rv[r, i], _div(m, held[r, i])  # equal floats: exactly
                wb, db = rv[br, bi], _div(m, held[br, bi])
                pa = wa * db
                pb = wb * da
                if pa == pb:
                    ea = _product_error(wa, db, pa)
                    eb = _product_error(wb, da, pb)
                    if ea != eb:
                        better = ea > eb
                    else:
                        better = wa > wb or (wa == wb and (i < bi or (i == bi and r < br)))
                else:
                    better = pa > pb
                if better:
                    br, bi = r, i
        if br < 0:
            return
        got[br, bi] += 1
        held[br, bi] += 1
        q[br, bi] = rv[br, bi] / _div(m, held[br, bi])
        caps[br] -= 1
        extra[bi] -= 1
    dm = p.methods[3]
    for r in range(k):
        for i in range(n):
            for _ in range(got[r, i]):
                bd = -1
                for d in range(D):
                    if p.regions[d] != r:
                        continue
                    if bd < 0 or _beats(V[d, i], _div(dm, seats[d, i]), 0.0, d,
                                        V[bd, i], _div(dm, seats[bd, i]), 0.0, bd):
                        bd = d
                seats[bd, i] += 1
