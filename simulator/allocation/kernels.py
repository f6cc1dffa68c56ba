"""Compiled seat allocation: one row (one election) at a time, and whole batches in parallel.

The kernels assume clean input (finite, non-negative float64 votes, contiguous arrays); the wrappers in
:mod:`simulator.allocation` check and convert. They follow exactly the rules of
:mod:`simulator.allocation.reference` and are tested to equal it, ties included.

Exactness without fractions: the minority coefficient is passed as an integer ratio ``cnum/cden``
and every list's votes are scaled by ``cnum`` (minority lists below their threshold) or ``cden``
(all others); divisors are scaled to integers too (modified Sainte-Lague's first divisor 1.4 becomes
7 against 5, 15, 25, ...). Quotients are compared by cross-multiplication, ``wa * db > wb * da``, so
for integer vote counts (up to about 1e11 at 1,000 seats) every comparison is exact in float64.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

DHONDT = 0
SAINTE_LAGUE = 1
MODIFIED_SAINTE_LAGUE = 2
HARE_NIEMEYER = 3
METHOD_CODES = {
    "dhondt": DHONDT,
    "sainte-lague": SAINTE_LAGUE,
    "modified-sainte-lague": MODIFIED_SAINTE_LAGUE,
    "hare-niemeyer": HARE_NIEMEYER,
}
# Rows per parallel task in batch kernels: scratch buffers are allocated once per block, not per row.
_BLOCK = 512


@nb.njit(cache=True, inline="always")
def _divisor(method, held):
    """Integer-scaled divisor for a list holding ``held`` seats (see module docstring)."""
    if method == DHONDT:
        return held + 1.0
    if method == SAINTE_LAGUE:
        return 2.0 * held + 1.0
    # modified Sainte-Lague, everything x5: 1.4 -> 7, then 3, 5, 7, ... -> 15, 25, 35, ...
    if held == 0:
        return 7.0
    return 10.0 * held + 5.0


@nb.njit(cache=True, inline="always")
def _ranks_above(wa, da, va, ia, wb, db, vb, ib):
    """True when quotient wa/da beats wb/db; ties go to more votes, then to the earlier list."""
    left = wa * db
    right = wb * da
    if left != right:
        return left > right
    if va != vb:
        return va > vb
    return ia < ib


@nb.njit(cache=True, inline="always")
def _ranks_above_exact(wa, sa, va, ia, wb, sb, vb, ib, method):
    """Order of two quotients whose float values came out equal: exact, then votes, then index."""
    return _ranks_above(wa, _divisor(method, sa), va, ia, wb, _divisor(method, sb), vb, ib)


@nb.njit(cache=True, inline="always")
def prepare_row(votes, base, thresholds, minority, exempt, cnum, cden, weights, takers):
    """Find the lists that take part and their (coefficient-scaled) weights for one election.

    Writes the indices of the lists taking part to ``takers`` (length 2n: the back half is scratch)
    and returns how many; ``weights`` is filled for those lists only.
    """
    n = votes.shape[0]
    m = 0
    k = 0
    for i in range(n):  # branch-free compaction: write always, advance when it counts
        v = votes[i]
        qualified = (v > 0.0) & (v * 100.0 >= thresholds[i] * base)
        takers[m] = i
        takers[n + k] = i
        m += qualified
        k += exempt & minority[i] & (v > 0.0) & (not qualified)
    if m == 0:  # nobody reached the threshold: every list with votes takes part
        for i in range(n):
            v = votes[i]
            if v > 0.0:
                takers[m] = i
                weights[i] = v * (cnum if minority[i] else cden)
                m += 1
        return m
    for j in range(m):
        i = takers[j]
        weights[i] = votes[i] * cden
    for j in range(k):  # exempt minority lists below their threshold
        i = takers[n + j]
        takers[m] = i
        weights[i] = votes[i] * cnum
        m += 1
    return m


@nb.njit(cache=True, inline="always")
def _divisor_row(votes, weights, takers, m, seats, method, out):
    """Divisor method: jump-start, then one-seat corrections until the seat set is the top ``seats``.

    Jump-start (Pukelsheim): D'Hondt gives floor(x) seats with x = w * (S + m/2) / W, the
    Sainte-Lague variants round(x) with x = w * S / W (modified: 0 below 0.7). Every quotient held
    is then >= every quotient not held, so the estimate is exactly the top of the quotient order for
    its own seat count; when no x lies within rounding error of its boundary we know this without a
    check. Corrections add the best next quotient (or drop the worst held one) until S seats are
    held, which keeps the set exactly the top S, i.e. what the seat-by-seat loop gives. When some x
    lies near a boundary, a final pass swaps while an unheld quotient beats a held one.
    Quotients are compared as floats (division is monotone, so float order never contradicts exact
    order) and only equal floats go to the exact comparison. Cost: O(m) for the estimate plus O(m)
    per correction; the estimate's total is within a seat or two of S.
    """
    total_w = 0.0
    for j in range(m):
        total_w += weights[takers[j]]
    if method == DHONDT:
        lam = (seats + 0.5 * m) / total_w
        shift = 0.0
    else:
        lam = seats / total_w
        shift = 0.5
    held = 0
    safe = True
    for j in range(m):
        i = takers[j]
        x = weights[i] * lam
        s = int(x + shift)  # x >= 0: truncation is floor
        if method == MODIFIED_SAINTE_LAGUE and x < 0.7:
            s = 0
            safe &= 0.7 - x > 1e-9
        else:
            frac = x + shift - s  # distance above the boundary of the s-th seat
            safe &= (s == 0 or frac > 1e-9 * x) and 1.0 - frac > 1e-9 * (x + 1.0)
            if method == MODIFIED_SAINTE_LAGUE and s == 1:
                safe &= x - 0.7 > 1e-9
        out[i] = s
        held += s
    if safe:
        while held < seats:
            best = _best_next(votes, weights, takers, m, method, out)
            out[best] += 1
            held += 1
        while held > seats:
            worst = _worst_held(votes, weights, takers, m, method, out)
            out[worst] -= 1
            held -= 1
        return
    while True:  # near a boundary: correct the count, then swap until no unheld quotient wins
        best = _best_next(votes, weights, takers, m, method, out)
        worst = _worst_held(votes, weights, takers, m, method, out)
        if held < seats:
            out[best] += 1
            held += 1
        elif held > seats:
            out[worst] -= 1
            held -= 1
        elif worst >= 0 and _ranks_above(
                weights[best], _divisor(method, out[best]), votes[best], best,
                weights[worst], _divisor(method, out[worst] - 1), votes[worst], worst):
            out[best] += 1
            out[worst] -= 1
        else:
            return


@nb.njit(cache=True, inline="always")
def _best_next(votes, weights, takers, m, method, out):
    """The list whose next quotient is highest (float compare; exact order on equal floats)."""
    best = takers[0]
    best_q = weights[best] / _divisor(method, out[best])
    for j in range(1, m):
        i = takers[j]
        q = weights[i] / _divisor(method, out[i])
        if q > best_q or (q == best_q and _ranks_above_exact(
                weights[i], out[i], votes[i], i, weights[best], out[best], votes[best], best, method)):
            best = i
            best_q = q
    return best


@nb.njit(cache=True, inline="always")
def _worst_held(votes, weights, takers, m, method, out):
    """The list whose last held quotient is lowest; -1 when nobody holds a seat."""
    worst = -1
    worst_q = np.inf
    for j in range(m):
        i = takers[j]
        s = out[i]
        if s > 0:
            q = weights[i] / _divisor(method, s - 1)
            if q < worst_q or (q == worst_q and _ranks_above_exact(
                    weights[worst], out[worst] - 1, votes[worst], worst,
                    weights[i], s - 1, votes[i], i, method)):
                worst = i
                worst_q = q
    return worst


@nb.njit(cache=True, inline="always")
def _hare_row(votes, weights, takers, m, seats, remainders, out):
    """Largest remainder (Hare quota): floor of each exact quota, then the largest remainders.

    Remainders are kept as ``w*S - floor*W`` (same denominator W for all), so comparing them is
    exact for integer votes. Cost: O(m * leftover seats), leftover < m.
    """
    total_w = 0.0
    for j in range(m):
        total_w += weights[takers[j]]
    held = 0
    for j in range(m):
        i = takers[j]
        q = weights[i] * seats
        f = math.floor(q / total_w)
        r = q - f * total_w
        if r < 0.0:  # q / total_w rounded up across an integer
            f -= 1.0
            r += total_w
        elif r >= total_w:
            f += 1.0
            r -= total_w
        out[i] = int(f)
        remainders[j] = r
        held += int(f)
    while held < seats:
        best = -1
        for j in range(m):
            i = takers[j]
            if remainders[j] < 0.0:
                continue
            if best < 0 or _ranks_above(
                remainders[j], 1.0, votes[i], i, remainders[best], 1.0, votes[takers[best]], takers[best]
            ):
                best = j
        out[takers[best]] += 1
        remainders[best] = -1.0
        held += 1


@nb.njit(cache=True, inline="always")
def allocate_row(votes, base, seats, method, thresholds, minority, exempt, cnum, cden,
                 weights, takers, scratch, out):
    """Allocate one election into ``out``; buffers: ``weights``, ``scratch`` n long, ``takers`` 2n."""
    for i in range(votes.shape[0]):
        out[i] = 0
    m = prepare_row(votes, base, thresholds, minority, exempt, cnum, cden, weights, takers)
    if m == 0:
        return
    if method == HARE_NIEMEYER:
        _hare_row(votes, weights, takers, m, seats, scratch, out)
    else:
        _divisor_row(votes, weights, takers, m, seats, method, out)


@nb.njit(cache=True, parallel=True)
def allocate_batch_kernel(votes, bases, seats, method, thresholds, minority, exempt, cnum, cden, out):
    """Allocate every row of ``votes`` (runs x lists) into ``out``, rows in parallel (blocks of 512)."""
    runs, n = votes.shape
    blocks = (runs + _BLOCK - 1) // _BLOCK
    for b in nb.prange(blocks):
        weights = np.empty(n, np.float64)
        scratch = np.empty(n, np.float64)
        takers = np.empty(2 * n, np.int64)
        stop = min(runs, (b + 1) * _BLOCK)
        for r in range(b * _BLOCK, stop):
            allocate_row(votes[r], bases[r], seats, method, thresholds, minority, exempt, cnum,
                         cden, weights, takers, scratch, out[r])
