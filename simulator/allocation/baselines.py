"""Baselines the kernel is measured against: what people write when they do not jump-start.

* :func:`seat_by_seat_batch`: the textbook highest-averages loop (one seat at a time to the best
  quotient), compiled with numba and parallel over runs like the kernel. Cost O(seats x lists).
* :func:`numpy_batch`: the same loop vectorised over runs with numpy (seats iterations of array ops).

Both apply the same eligibility and tie rules as the kernel, and are tested to equal it.
"""

from __future__ import annotations

from fractions import Fraction

import numba as nb
import numpy as np

from .kernels import _BLOCK, HARE_NIEMEYER, MODIFIED_SAINTE_LAGUE, SAINTE_LAGUE, _divisor, _hare_row, _ranks_above, prepare_row


@nb.njit(cache=True)
def seat_by_seat_row(votes, base, seats, method, thresholds, minority, exempt, cnum, cden,
                     weights, takers, scratch, out):
    """One election, one seat at a time (Hare-Niemeyer has no seat loop: it uses the kernel's)."""
    for i in range(votes.shape[0]):
        out[i] = 0
    m = prepare_row(votes, base, thresholds, minority, exempt, cnum, cden, weights, takers)
    if m == 0:
        return
    if method == HARE_NIEMEYER:
        _hare_row(votes, weights, takers, m, seats, scratch, out)
        return
    for _ in range(seats):
        best = -1
        for j in range(m):
            i = takers[j]
            if best < 0 or _ranks_above(weights[i], _divisor(method, out[i]), votes[i], i,
                                        weights[best], _divisor(method, out[best]), votes[best], best):
                best = i
        out[best] += 1


@nb.njit(cache=True, parallel=True)
def seat_by_seat_batch(votes, bases, seats, method, thresholds, minority, exempt, cnum, cden, out):
    """Every row of ``votes`` seat by seat, rows in parallel: the loop the kernel must beat."""
    runs, n = votes.shape
    blocks = (runs + _BLOCK - 1) // _BLOCK
    for b in nb.prange(blocks):
        weights = np.empty(n, np.float64)
        scratch = np.empty(n, np.float64)
        takers = np.empty(2 * n, np.int64)
        for r in range(b * _BLOCK, min(runs, (b + 1) * _BLOCK)):
            seat_by_seat_row(votes[r], bases[r], seats, method, thresholds, minority, exempt, cnum,
                             cden, weights, takers, scratch, out[r])


def numpy_batch(votes, bases, seats, method, thresholds, minority, exempt, cnum, cden):
    """Divisor methods vectorised over runs with numpy: ``seats`` rounds of argmax over lists.

    Ties are broken like everywhere else: quotient, then votes, then the earlier list, by masking
    each row to its maximum quotient, then to its maximum votes, and taking the first.
    """
    if method == HARE_NIEMEYER:
        raise ValueError("numpy baseline covers the divisor methods only")
    votes = np.asarray(votes, np.float64)
    runs, n = votes.shape
    lhs = votes * 100.0
    rhs = thresholds[None, :] * bases[:, None]
    qualified = (votes > 0) & (lhs >= rhs)
    for r, i in zip(*np.nonzero((lhs == rhs) & (votes > 0))):  # within an ulp of the line: exactly
        qualified[r, i] = Fraction(votes[r, i]) * 100 >= Fraction(thresholds[i]) * Fraction(bases[r])
    anyq = qualified.any(axis=1)
    takes = np.where(anyq[:, None], qualified | (exempt & minority[None, :] & (votes > 0)), votes > 0)
    weights = votes * np.where(minority[None, :] & ~qualified, cnum, cden)
    out = np.zeros((runs, n), np.int64)
    rows = np.arange(runs)
    for _ in range(seats):
        if method == SAINTE_LAGUE:
            div = 2.0 * out + 1.0
        elif method == MODIFIED_SAINTE_LAGUE:
            div = np.where(out == 0, 7.0, 10.0 * out + 5.0)
        else:
            div = out + 1.0
        q = np.where(takes, weights / div, -1.0)
        qmax = q.max(axis=1, keepdims=True)
        # Division may round two unequal quotients together; confirm with cross-multiplication.
        cand = q == qmax  # equal quotients of integer votes divide to the same float
        vv = np.where(cand, votes, -1.0)
        best = (vv == vv.max(axis=1, keepdims=True)).argmax(axis=1)  # first list among equals
        has = takes.any(axis=1)
        out[rows[has], best[has]] += 1
    return out
