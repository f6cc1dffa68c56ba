"""Compiled seat allocation: one row (one election) at a time, and whole batches in parallel.

The kernels assume clean input (finite, non-negative float64 votes, contiguous arrays); the wrappers in
:mod:`simulator.allocation` check and convert. They follow exactly the rules of
:mod:`simulator.allocation.reference` and are tested to equal it, ties included.

Exactness without fractions: the minority coefficient is passed as an integer ratio ``cnum/cden``
and every list's votes are scaled by ``cnum`` (minority lists below their threshold) or ``cden``
(all others); divisors are scaled to integers too (modified Sainte-Lague's first divisor 1.4 becomes
7 against 5, 15, 25, ...). Quotients are compared by cross-multiplication, ``wa * db > wb * da``, so
for integer vote counts (up to about 1e11 at 1,000 seats) every comparison is exact in float64.

Batches of the divisor methods with up to ``BLOCK_MAX_LISTS`` lists go through the block kernel,
which works on ``BLOCK`` elections at once laid out lists x elections, so that the compiler
vectorises across elections: weigh, jump-start, one correction step covering one or two seats.
:func:`allocate_block` turns rows into that layout and back by 4 x 4 tiles
(:mod:`~simulator.allocation.simd`) and computes in float32, eight elections per AVX2 instruction;
the engine draws straight into the layout and calls :func:`allocate_block_t`, which weighs in
float64 and continues in float32.

Exactness in float32: every weight, estimate and key in the block carries a rounding error of at
most 2**-22 relative (three or four roundings of 2**-24), so the two sides of a comparison err by
at most 2**-21 together, and the block trusts a decision only when it is ``_MARGIN`` (2**-18,
eight times that) or further from the line: a threshold, a seat boundary of the jump-start, the next key in
the step. Any election with a decision closer than that (ties included), nobody over the
threshold, three or more seats to correct, or a total weight outside the range where float32 keeps
the seat-winning weights normal, is handed to the exact row kernel :func:`allocate_row`. Election
by election, the result is the same either way (tested against the reference and, on millions of
draws, against the row kernel).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba as nb
import numpy as np

from .simd import tile_in, tile_out

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
# Rows per vectorised block in allocate_block: 14 lists x 128 rows x 8 bytes = 14 KB per work array,
# so a block's work stays in the L1 and L2 caches.
BLOCK = 128
# Beyond about 40 lists corrections of three or more seats become common (the jump-start's error
# grows like the square root of the lists taking part) and whole blocks end in the row kernel: the
# row kernel alone is faster there (measured: 40 lists 7.7M/s by blocks vs 6.5M/s by rows; 50 lists
# and 750 seats 5.6M/s vs 8.4M/s).
BLOCK_MAX_LISTS = 40
# Vectorised blocks per parallel task in allocate_batch_kernel: a task allocates its scratch
# (about thirty arrays) once, so tasks of 4,096 rows make that cost vanish.
_TASK_BLOCKS = 32
_FAST = dict(cache=True, inline="always", error_model="numpy")  # numpy errors: x/0 is inf, no check
# The block kernel computes in float32 (eight elections per AVX2 instruction) and trusts a float32
# result only when it is this far (relative) from a decision: a threshold, a seat boundary,
# another key. Its own rounding error is at most 2**-22 relative per quantity (see the module
# docstring), so anything it trusts is exact; anything closer goes to the exact row kernel.
_MARGIN = np.float32(2.0 ** -18)
# Total weights outside this range go to the row kernel: in it every weight that can win a seat
# (above total / (seats + lists)) is a normal float32 and the jump-start's multiplier fits.
_TOT_MIN = 1e-30
_TOT_MAX = 1e30
# Added to an election's count of lists over the threshold when a float32 threshold test is too
# close to call: any count this high sends the election to the row kernel.
_NEAR = np.float32(1024.0)


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


_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's constant, splits a float64 into two 26-bit halves


@nb.njit(cache=True, inline="always")
def _product_error(a, b, p):
    """The rounding error ``a*b - p`` of ``p = fl(a*b)``, exactly (Dekker's two-product; assumes
    no overflow or underflow)."""
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


@nb.njit(cache=True, inline="always")
def product_ge(a, b, c, d):
    """``a*b >= c*d``, exactly, for finite non-negative floats. Rounding is monotone, so rounded
    products that differ are ordered like the exact ones; equal rounded products are ordered by
    their rounding errors. Used for the threshold test ``votes * 100 >= threshold * base``, which
    rounded float products get wrong when a share lies within an ulp of the line."""
    p = a * b
    q = c * d
    if p != q:
        return p > q
    return _product_error(a, b, p) >= _product_error(c, d, q)


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
        qualified = (v > 0.0) & product_ge(v, 100.0, thresholds[i], base)
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


@nb.njit(cache=True)
def _allocate_row_call(votes, base, seats, method, thresholds, minority, exempt, cnum, cden,
                       weights, takers, scratch, out):
    """:func:`allocate_row` as a real call, for the rare rows a block hands over: inlined into the
    block loop it would only crowd the registers of the common path."""
    allocate_row(votes, base, seats, method, thresholds, minority, exempt, cnum, cden, weights,
                 takers, scratch, out)


@nb.njit(cache=True)
def block_work(n):
    """Scratch arrays for the block kernels with ``n`` lists (allocate once, reuse per block):
    ``(src, w, sb, kk, src32)`` (lists x ``BLOCK``: votes in as float64; weights, seats out, step
    keys and votes in as float32), per-election vectors (float64 base, total, counts; then
    float32), and row buffers for the row kernel."""
    f4 = np.float32
    mats = (np.zeros((n, BLOCK)), np.empty((n, BLOCK), f4), np.empty((n, BLOCK), f4),
            np.empty((n, BLOCK), f4), np.zeros((n, BLOCK), f4))
    v64 = (np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK))
    v32 = (np.empty(BLOCK, f4), np.empty(BLOCK, f4), np.empty(BLOCK, f4), np.empty(BLOCK, f4),
           np.empty(BLOCK, f4), np.empty(BLOCK, f4), np.empty(BLOCK, f4), np.empty(BLOCK, f4),
           np.empty(BLOCK, f4), np.empty(BLOCK, f4), np.empty(BLOCK, f4), np.empty(BLOCK, f4),
           np.empty(BLOCK, f4), np.empty(BLOCK, f4))
    rows = (np.empty(n), np.empty(n), np.empty(2 * n, np.int64), np.empty(n), np.empty(n, np.int32))
    return mats, v64, v32, rows


@nb.njit(**_FAST)
def _block_weigh(src, bt, nr, thresholds, fex, cden, w, tot, mt, mq):
    """Weights w[i, r] (float32) of the lists taking part (0 for the others), their total, their
    count, and the count of lists over their threshold, for the first nr columns of ``src``
    (votes). Threshold tests are float64; a list whose rounded products come out equal (within an
    ulp of the line) adds ``_NEAR`` to mq[r] and so sends the election to the row kernel, whose
    test is exact (:func:`product_ge`)."""
    n = src.shape[0]
    for r in range(nr):
        tot[r] = 0.0
        mt[r] = 0.0
        mq[r] = 0.0
    for i in range(n):
        t = thresholds[i]
        fe = fex[i]  # weight factor below the threshold: cnum for exempt minority lists, else 0
        for r in range(nr):  # float arithmetic only: vectorises across elections
            v = src[i, r]
            a = v * 100.0
            b = t * bt[r]
            qf = 1.0 if a >= b else 0.0
            x = v * (fe + qf * (cden - fe))
            pf = 1.0 if x > 0.0 else 0.0
            w[i, r] = np.float32(x)
            tot[r] += x
            mt[r] += pf
            mq[r] += qf * pf + (_NEAR if (a == b) & (v > 0.0) else 0.0)  # exact test: row kernel


@nb.njit(**_FAST)
def _block_weigh32(src, bt, nr, thresholds, fex, cden, w, tot, mt, mq):
    """:func:`_block_weigh` for float32 votes, bases, thresholds and factors (eight elections per
    instruction), with sums in float32. Float32 cannot settle a threshold test close to the line
    (its rounding error is up to 2**-22 relative), so each list is tested against two lines,
    ``_MARGIN`` above and below its threshold: over the upper one it surely qualifies, under the
    lower one it surely does not, and between them it adds ``_NEAR`` to mq[r], which sends the
    election to the row kernel."""
    n = src.shape[0]
    zero = np.float32(0.0)
    one = np.float32(1.0)
    hundred = np.float32(100.0)
    for r in range(nr):
        tot[r] = zero
        mt[r] = zero
        mq[r] = zero
    for i in range(n):
        hi = thresholds[i] * (one + _MARGIN)
        lo = thresholds[i] * (one - _MARGIN)
        fe = fex[i]
        for r in range(nr):
            v = src[i, r]
            a = v * hundred
            b = bt[r]
            sure = a >= hi * b
            near = (a > lo * b) & ~sure
            x = v * (cden if sure else fe)
            pf = x > zero
            w[i, r] = x
            tot[r] += x
            mt[r] += one if pf else zero
            mq[r] += (one if sure & pf else zero) + (_NEAR if near else zero)


@nb.njit(**_FAST)
def _block_jump(w, nr, seats, method, tot, mt, mq, lam, sb, held, bad):
    """Jump-start seats sb[i, r] = floor(w * lam) (see :func:`_divisor_row`); bad[r] > 0 where an
    estimate lies within ``_MARGIN`` of a seat boundary, where nobody is over the threshold, or
    where the total weight is outside the range float32 keeps exact enough."""
    n = w.shape[0]
    one = np.float32(1.0)
    zero = np.float32(0.0)
    shift = zero if method == DHONDT else np.float32(0.5)
    for r in range(nr):
        t = tot[r]
        x = (seats + 0.5 * mt[r]) / t if method == DHONDT else seats / t
        lam[r] = np.float32(x)
        held[r] = zero
        q = mq[r]
        bad[r] = one if (q == 0.0) | (q >= _NEAR) | (t < _TOT_MIN) | (t > _TOT_MAX) else zero
    for i in range(n):
        for r in range(nr):
            x = w[i, r] * lam[r]
            xs = x + shift
            tol = _MARGIN * x  # x errs by at most 2**-22 x + 2**-24 (x + 1/2): far inside tol
            s = np.floor(xs)
            b = np.floor(xs + tol) - np.floor(xs - tol)  # 1 when a boundary is within tol
            if method == MODIFIED_SAINTE_LAGUE:
                b += one if abs(x - np.float32(0.7)) <= tol else zero
                s = zero if x < np.float32(0.7) else s
            sb[i, r] = s
            held[r] += s
            bad[r] += b


@nb.njit(**_FAST)
def _fdiv(method, k):
    """Integer-scaled divisor of seat k+1 (k seats held), in float32; as :func:`_divisor`."""
    if method == DHONDT:
        return k + np.float32(1.0)
    if method == SAINTE_LAGUE:
        return np.float32(2.0) * k + np.float32(1.0)
    return np.float32(7.0) if k == np.float32(0.0) else np.float32(10.0) * k + np.float32(5.0)


@nb.njit(**_FAST)
def _near(a, b):
    """True when keys a and b are too close for their float32 values to order them for sure
    (equal keys included); false when either is -inf and the other is not."""
    return abs(a - b) <= _MARGIN * min(abs(a), abs(b))


@nb.njit(**_FAST)
def _block_step(w, sb, nr, fs, method, held, kk, k1, k2, k3, sb1, off):
    """One vectorised correction step: for elections short of seats, the best, second and third
    next quotients; for elections over, the same for the negated last held quotients (the worst
    held first); and the seats of the list with the best key. kk[i, r] keeps each list's key for
    :func:`_block_apply`."""
    n = w.shape[0]
    ninf = np.float32(-np.inf)
    zero = np.float32(0.0)
    for r in range(nr):
        off[r] = zero if held[r] < fs else np.float32(-1.0)  # add a seat, or drop one
        k1[r] = ninf
        k2[r] = ninf
        k3[r] = ninf
        sb1[r] = zero
    for i in range(n):
        for r in range(nr):
            o = off[r]
            s = sb[i, r]
            k = s + o
            q = w[i, r] / _fdiv(method, k)
            key = (q if o == zero else -q) if k >= zero else ninf
            kk[i, r] = key
            a = k1[r]
            b = k2[r]
            c = k3[r]
            sb1[r] = (s if key > a else sb1[r]) + zero  # "+ 0": no masked store (slow on AMD)
            k3[r] = max(min(b, key), c) + zero
            k2[r] = max(min(a, key), b)
            k1[r] = max(key, a)


@nb.njit(**_FAST)
def _block_settle(nr, fs, method, held, bad, k1, k2, k3, sb1, cut, inc):
    """Turn the step into seat changes: every list whose key is at least cut[r] gains inc[r]
    seats (negative to take seats away): the best list one or two, or the best and the second
    one each. bad[r] > 0 marks elections for the exact row kernel: keys too close to order for
    sure, or three or more seats to correct. Vectorised: no branches."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    two = np.float32(2.0)
    ninf = np.float32(-np.inf)
    inf = np.float32(np.inf)
    for r in range(nr):
        need = fs - held[r]
        an = abs(need)
        up = need > zero
        step = one if up else -one
        c1 = k1[r]
        c2 = k2[r]
        # The second seat goes to the best list again (its following key) or to the runner-up. The
        # following key is the best key times the ratio of the divisors: two more roundings,
        # still far inside the margin.
        s = sb1[r]
        k = s + one if up else s - two
        again = c1 * (_fdiv(method, s if up else s - one) / _fdiv(method, k)) if k >= zero else ninf
        pair = an == two
        fail = (an > two) | ((an > zero) & _near(c1, c2)) | (pair & _near(c2, k3[r]))
        fail |= pair & _near(again, c2)
        twice = pair & (again > c2)
        bad[r] += one if fail else zero
        cut[r] = inf if an == zero else (c2 if pair & (again <= c2) else c1)
        inc[r] = two * step if twice else step


@nb.njit(**_FAST)
def _block_apply(sb, kk, nr, cut, inc):
    """Make the settled changes: sb[i, r] += inc[r] for the lists whose key kk[i, r] is at least
    cut[r]."""
    n = sb.shape[0]
    zero = np.float32(0.0)
    for i in range(n):
        for r in range(nr):
            sb[i, r] += inc[r] if kk[i, r] >= cut[r] else zero


@nb.njit(**_FAST)
def _block_seats(w, nr, seats, method, tot, mt, mq, work):
    """From the weights ``w`` (lists x ``BLOCK``, float32) and their totals and counts, the seats
    in ``work[0][2]``; returns nothing, but bad[r] (``work[2][2]``) > 0 marks the elections that
    need the row kernel."""
    mats, v64, v32, rows = work
    sb, kk = mats[2], mats[3]
    lam, held, bad, k1, k2, k3, sb1, cut, inc, off = v32[:10]
    fs = np.float32(seats)
    _block_jump(w, nr, seats, method, tot, mt, mq, lam, sb, held, bad)
    stepped = False
    for r in range(nr):
        if held[r] != fs:
            stepped = True
            break
    if stepped:
        _block_step(w, sb, nr, fs, method, held, kk, k1, k2, k3, sb1, off)
        _block_settle(nr, fs, method, held, bad, k1, k2, k3, sb1, cut, inc)
        _block_apply(sb, kk, nr, cut, inc)


@nb.njit(**_FAST)
def allocate_block_t(src, bt, nr, seats, method, thresholds, minority, exempt, cnum, cden, fex,
                     work):
    """Allocate the elections in the first nr columns of ``src`` (float64, lists x ``BLOCK``, one
    election per column; threshold bases ``bt``) with a divisor method, vectorised across
    elections. The seats (as float32) are left in ``work[0][2]``, also lists x ``BLOCK``.
    ``work`` from :func:`block_work`, ``fex`` from :func:`below_threshold_factor`."""
    mats, v64, v32, rows = work
    w, sb = mats[1], mats[2]
    tot, mt, mq = v64[1], v64[2], v64[3]
    bad = v32[2]
    _block_weigh(src, bt, nr, thresholds, fex, cden, w, tot, mt, mq)
    _block_seats(w, nr, seats, method, tot, mt, mq, work)
    for r in range(nr):
        if bad[r] != np.float32(0.0):
            allocate_column(src, r, bt[r], seats, method, thresholds, minority, exempt, cnum, cden,
                            rows, sb)


@nb.njit(**_FAST)
def allocate_column(src, r, base, seats, method, thresholds, minority, exempt, cnum, cden, rows, sb):
    """Allocate the election in column r of ``src`` (lists x elections) into column r of ``sb``
    with the exact row kernel; ``rows`` are the row buffers of :func:`block_work`."""
    weights, scratch, takers, rowv, rowo = rows
    n = src.shape[0]
    for i in range(n):
        rowv[i] = src[i, r]
    _allocate_row_call(rowv, base, seats, method, thresholds, minority, exempt, cnum, cden, weights,
                       takers, scratch, rowo)
    for i in range(n):
        sb[i, r] = rowo[i]


@nb.njit(**_FAST)
def allocate_block(votes, bases, r0, nr, seats, method, thresholds, minority, exempt, cnum, cden,
                   t32, fex32, work, out):
    """Allocate rows r0 .. r0+nr-1 (nr <= BLOCK) of ``votes`` (C-contiguous) into the same rows
    of ``out`` with a divisor method: the rows are turned into float32 columns by 4 x 4 tiles
    (:mod:`~simulator.allocation.simd`), weighed and allocated in float32, and turned back; the
    elections float32 cannot settle are then allocated from ``votes`` by the row kernel. ``t32``
    and ``fex32``: thresholds and :func:`below_threshold_factor` as float32."""
    n = votes.shape[1]
    mats, v64, v32, rows = work
    w, sb, src = mats[1], mats[2], mats[4]
    bad = v32[2]
    bt, tot, mt, mq = v32[10], v32[11], v32[12], v32[13]
    tiled = nr - nr % 4 if n >= 4 else 0
    for r in range(0, tiled, 4):
        for i in range(0, n - 4, 4):
            tile_in(votes, r0 + r, i, src, r)
        tile_in(votes, r0 + r, n - 4, src, r)  # overlaps the previous tile when 4 does not divide n
    for r in range(tiled, nr):
        for i in range(n):
            src[i, r] = np.float32(votes[r0 + r, i])
    for r in range(nr):
        bt[r] = np.float32(bases[r0 + r])
    _block_weigh32(src, bt, nr, t32, fex32, np.float32(cden), w, tot, mt, mq)
    _block_seats(w, nr, seats, method, tot, mt, mq, work)
    for r in range(0, tiled, 4):
        for i in range(0, n - 4, 4):
            tile_out(sb, i, r, out, r0 + r)
        tile_out(sb, n - 4, r, out, r0 + r)
    for r in range(tiled, nr):
        for i in range(n):
            out[r0 + r, i] = np.int32(sb[i, r])
    weights, scratch, takers, rowv, rowo = rows
    for r in range(nr):
        if bad[r] != np.float32(0.0):  # copies, not row views: a view's refcount is an atomic
            for i in range(n):         # write to memory shared with the other threads
                rowv[i] = votes[r0 + r, i]
            _allocate_row_call(rowv, bases[r0 + r], seats, method, thresholds, minority, exempt,
                               cnum, cden, weights, takers, scratch, rowo)
            for i in range(n):
                out[r0 + r, i] = rowo[i]


@nb.njit(cache=True)
def below_threshold_factor(minority, exempt, cnum):
    """Per list, the weight factor below the threshold: cnum for exempt minority lists, else 0."""
    fex = np.zeros(minority.shape[0])
    for i in range(minority.shape[0]):
        if minority[i] and exempt:
            fex[i] = cnum
    return fex


@nb.njit(cache=True, parallel=True)
def allocate_batch_kernel(votes, bases, seats, method, thresholds, minority, exempt, cnum, cden, out):
    """Allocate every row of ``votes`` (runs x lists) into ``out``, in parallel over groups of rows:
    divisor methods by vectorised blocks of ``BLOCK`` rows (up to ``BLOCK_MAX_LISTS`` lists),
    everything else row by row."""
    runs, n = votes.shape
    if method != HARE_NIEMEYER and n <= BLOCK_MAX_LISTS:
        fex32 = below_threshold_factor(minority, exempt, cnum).astype(np.float32)
        t32 = thresholds.astype(np.float32)
        per = _TASK_BLOCKS
        blocks = (runs + BLOCK - 1) // BLOCK
        for g in nb.prange((blocks + per - 1) // per):
            work = block_work(n)
            for b in range(g * per, min(blocks, (g + 1) * per)):
                r0 = b * BLOCK
                allocate_block(votes, bases, r0, min(BLOCK, runs - r0), seats, method, thresholds,
                               minority, exempt, cnum, cden, t32, fex32, work, out)
        return
    blocks = (runs + _BLOCK - 1) // _BLOCK
    for b in nb.prange(blocks):
        weights = np.empty(n, np.float64)
        scratch = np.empty(n, np.float64)
        takers = np.empty(2 * n, np.int64)
        stop = min(runs, (b + 1) * _BLOCK)
        for r in range(b * _BLOCK, stop):
            allocate_row(votes[r], bases[r], seats, method, thresholds, minority, exempt, cnum,
                         cden, weights, takers, scratch, out[r])


# The seat stage of the engine: the rules as one record, and one call per block of elections.
SeatStage = namedtuple("SeatStage", (
    "base",  # threshold base of every simulated election (shares of valid votes sum to 1)
    "seats", "method", "thresholds", "minority", "exempt", "cnum", "cden",  # as the kernels take them
    "fex",  # below_threshold_factor(minority, exempt, cnum)
    "blocked",  # whether the block kernel applies (a divisor method, at most BLOCK_MAX_LISTS lists)
))


def seat_stage(seats, method, thresholds, minority, exempt, cnum, cden, base) -> SeatStage:
    """The seat stage's record (see :func:`simulator.allocation.seat_stage_of` for a config's)."""
    return SeatStage(
        base=float(base), seats=int(seats), method=int(method), thresholds=thresholds,
        minority=minority, exempt=bool(exempt), cnum=float(cnum), cden=float(cden),
        fex=below_threshold_factor(minority, exempt, cnum),
        blocked=bool(method != HARE_NIEMEYER and thresholds.shape[0] <= BLOCK_MAX_LISTS),
    )


@nb.njit(cache=True, error_model="numpy")
def allocate_stage(src, nr, ss, work):
    """Seats of the elections in the first nr columns of ``src`` (lists x ``BLOCK`` shares) into
    ``work[0][2]``: the block kernel for the divisor methods, the row kernel otherwise. ``work``
    from :func:`block_work`, its base vector ``work[1][0]`` filled with ``ss.base``."""
    if ss.blocked:
        allocate_block_t(src, work[1][0], nr, ss.seats, ss.method, ss.thresholds, ss.minority,
                         ss.exempt, ss.cnum, ss.cden, ss.fex, work)
    else:
        for r in range(nr):
            allocate_column(src, r, ss.base, ss.seats, ss.method, ss.thresholds, ss.minority,
                            ss.exempt, ss.cnum, ss.cden, work[3], work[0][2])
