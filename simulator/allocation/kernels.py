"""Compiled seat allocation: one row (one election) at a time, and whole batches in parallel.

The kernels assume clean input (finite, non-negative float64 votes, contiguous arrays); the wrappers in
:mod:`simulator.allocation` check and convert. They follow exactly the rules of
:mod:`simulator.allocation.reference` and are tested to equal it, ties included.

Exactness without fractions: the minority coefficient is passed as an integer ratio ``cnum/cden``
and every list's votes are scaled by ``cnum`` (minority lists below their threshold) or ``cden``
(all others); divisors are scaled to integers too (modified Sainte-Lague's first divisor 1.4 becomes
7 against 5, 15, 25, ...). Quotients are compared by cross-multiplication, ``wa * db > wb * da``, so
for integer vote counts (up to about 1e11 at 1,000 seats) every comparison is exact in float64.

Batches of the divisor methods with up to ``BLOCK_MAX_LISTS`` lists go through
:func:`allocate_block_t`, which works on ``BLOCK`` elections at once laid out lists x elections
(:func:`allocate_block` turns rows into that layout and back; the engine draws straight into it),
so that the compiler vectorises across elections (four per AVX2 instruction): weigh, jump-start,
one vectorised correction step covering one or two seats. Any election it cannot settle with
certainty (a quotient too close to a boundary or to another quotient, nobody over the threshold,
three or more seats to correct) is handed to the row kernel :func:`allocate_row`, which is exact.
Election by election, the result is the same either way.
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
# Rows per vectorised block in allocate_block: 14 lists x 128 rows x 8 bytes = 14 KB per work array,
# so a block's work stays in the L1 and L2 caches.
BLOCK = 128
# Beyond about 40 lists corrections of three or more seats become common (the jump-start's error
# grows like the square root of the lists taking part) and whole blocks end in the row kernel: the
# row kernel alone is faster there (measured: 40 lists 7.7M/s by blocks vs 6.5M/s by rows; 50 lists
# and 750 seats 5.6M/s vs 8.4M/s).
BLOCK_MAX_LISTS = 40
# Vectorised blocks per parallel task in allocate_batch_kernel: a task allocates its scratch
# (about twenty arrays) once, so tasks of 4,096 rows make that cost vanish.
_TASK_BLOCKS = 32
_FAST = dict(cache=True, inline="always", error_model="numpy")  # numpy errors: x/0 is inf, no check


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


@nb.njit(cache=True)
def _allocate_row_call(votes, base, seats, method, thresholds, minority, exempt, cnum, cden,
                       weights, takers, scratch, out):
    """:func:`allocate_row` as a real call, for the rare rows a block hands over: inlined into the
    block loop it would only crowd the registers of the common path."""
    allocate_row(votes, base, seats, method, thresholds, minority, exempt, cnum, cden, weights,
                 takers, scratch, out)


@nb.njit(cache=True)
def block_work(n):
    """Scratch arrays for :func:`allocate_block_t` with ``n`` lists (allocate once, reuse per block):
    ``(src, w, sb, kk)`` (lists x ``BLOCK``: votes in, weights, seats out, step keys), per-row
    vectors, and row buffers for the row kernel."""
    mats = (np.zeros((n, BLOCK)), np.empty((n, BLOCK)), np.empty((n, BLOCK)), np.empty((n, BLOCK)))
    vecs = (np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK),
            np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK),
            np.empty(BLOCK), np.empty(BLOCK))
    rows = (np.empty(n), np.empty(n), np.empty(2 * n, np.int64), np.empty(n), np.empty(n, np.int32))
    return mats, vecs, rows


@nb.njit(**_FAST)
def _block_weigh(src, bt, nr, thresholds, fex, cden, w, tot, mt, mq):
    """Weights w[i, r] of the lists taking part (0 for the others), their total, their count, and
    the count of lists over their threshold, for the first nr columns of ``src`` (votes)."""
    n = src.shape[0]
    for r in range(nr):
        tot[r] = 0.0
        mt[r] = 0.0
        mq[r] = 0.0
    for i in range(n):
        t = thresholds[i]
        fe = fex[i]  # weight factor below the threshold: cnum for exempt minority lists, else 0
        for r in range(nr):  # float arithmetic only: vectorises across rows
            v = src[i, r]
            qf = 1.0 if v * 100.0 >= t * bt[r] else 0.0
            x = v * (fe + qf * (cden - fe))
            pf = 1.0 if x > 0.0 else 0.0
            w[i, r] = x
            tot[r] += x
            mt[r] += pf
            mq[r] += qf * pf


@nb.njit(**_FAST)
def _block_jump(w, nr, seats, method, tot, mt, sb, held, bad):
    """Jump-start seats sb[i, r] (see :func:`_divisor_row`); bad[r] > 0 where any estimate lies
    within rounding error of a seat boundary."""
    n = w.shape[0]
    shift = 0.0 if method == DHONDT else 0.5
    for r in range(nr):
        held[r] = 0.0
        bad[r] = 0.0
        if method == DHONDT:
            tot[r] = (seats + 0.5 * mt[r]) / tot[r]  # tot becomes lambda
        else:
            tot[r] = seats / tot[r]
    for i in range(n):
        for r in range(nr):
            x = w[i, r] * tot[r]
            s = np.floor(x + shift)  # a float (math.floor gives an int and costs conversions)
            frac = x + shift - s
            b = s * (1.0 if frac <= 1e-9 * x else 0.0) + (1.0 if 1.0 - frac <= 1e-9 * (x + 1.0) else 0.0)
            if method == MODIFIED_SAINTE_LAGUE:
                b += 1.0 if abs(x - 0.7) <= 1e-9 else 0.0
                s = 0.0 if x < 0.7 else s
            sb[i, r] = s
            held[r] += s
            bad[r] += b


@nb.njit(**_FAST)
def _fdiv(method, k):
    """Integer-scaled divisor of seat k+1 (k seats held), in float; as :func:`_divisor`."""
    if method == DHONDT:
        return k + 1.0
    if method == SAINTE_LAGUE:
        return 2.0 * k + 1.0
    return 7.0 if k == 0.0 else 10.0 * k + 5.0


@nb.njit(**_FAST)
def _block_step(w, sb, nr, seats, method, held, kk, k1, k2, k3, off):
    """One vectorised correction step: for rows short of seats, the best, second and third next
    quotients; for rows over, the same for the negated last held quotients (the worst held first).
    kk[i, r] keeps each list's key so that the winners can be found by equality (measured: twice
    as fast as carrying the winners' indices through the step)."""
    n = w.shape[0]
    for r in range(nr):
        off[r] = 0.0 if held[r] < seats else -1.0  # divisor index: s (add a seat) or s-1 (drop one)
        k1[r] = -np.inf
        k2[r] = -np.inf
        k3[r] = -np.inf
    for i in range(n):
        for r in range(nr):
            k = sb[i, r] + off[r]
            q = w[i, r] / _fdiv(method, k)
            key = (q if off[r] == 0.0 else -q) if k >= 0.0 else -np.inf
            kk[i, r] = key
            a = k1[r]
            b = k2[r]
            c = k3[r]
            k3[r] = max(min(b, key), c) + 0.0  # "+ 0.0": no masked store (slow on AMD)
            k2[r] = max(min(a, key), b)
            k1[r] = max(key, a)


@nb.njit(**_FAST)
def _block_find(kk, nr, k1, k2, i1, i2):
    """Indices (as floats) of the lists holding the best and the second key of each row. Equal
    keys send the row to the exact kernel (k2 == k1 or k3 == k2), so which one is found is moot."""
    n = kk.shape[0]
    for r in range(nr):
        i1[r] = 0.0
        i2[r] = 0.0
    for i in range(n):
        fi = float(i)
        for r in range(nr):
            key = kk[i, r]
            i1[r] = fi if key == k1[r] else i1[r]
            i2[r] = fi if key == k2[r] else i2[r]


@nb.njit(**_FAST)
def _block_settle(w, sb, nr, seats, method, held, bad, mq, k1, k2, k3, i1, i2):
    """Turn the step into seat changes and make them: one or two seats to the best list (i1) or
    one to it and one to the second (i2), or the same taken away. bad[r] > 0 marks rows for the
    exact row kernel (a tie, three or more seats to correct, or nobody over the threshold); their
    changes are made too, and overwritten there. Bitwise ``|`` and ``&``: no branches."""
    for r in range(nr):
        need = seats - held[r]
        an = abs(need)
        step = 1.0 if need > 0.0 else -1.0
        b = int(i1[r])
        c2 = k2[r]
        fail = (an > 2.0) | (mq[r] == 0.0) | ((an > 0.0) & (c2 == k1[r])) | ((an == 2.0) & (k3[r] == c2))
        db = step if an > 0.0 else 0.0
        ds = 0.0
        if an == 2.0:  # the second seat: best again (its following quotient) or the runner-up
            s = sb[b, r]
            k = s + 1.0 if need > 0.0 else s - 2.0
            q = w[b, r] / _fdiv(method, k)
            again = (q if need > 0.0 else -q) if k >= 0.0 else -np.inf
            fail |= again == c2
            db = 2.0 * step if again > c2 else step
            ds = 0.0 if again > c2 else step
        bad[r] += 1.0 if fail else 0.0
        sb[b, r] += db
        sb[int(i2[r]), r] += ds


@nb.njit(**_FAST)
def allocate_block_t(src, bt, nr, seats, method, thresholds, minority, exempt, cnum, cden, fex,
                     work):
    """Allocate the elections in the first nr columns of ``src`` (lists x ``BLOCK``, one election
    per column; threshold bases ``bt``) with a divisor method, vectorised across elections. The
    seats (as floats) are left in ``work[0][2]``, also lists x ``BLOCK``. ``work`` from
    :func:`block_work`, ``fex`` from :func:`below_threshold_factor`."""
    mats, vecs, rows = work
    w, sb, kk = mats[1], mats[2], mats[3]
    tot, mt, mq, held, bad, k1, k2, k3, i1, i2, off = vecs[1:]
    _block_weigh(src, bt, nr, thresholds, fex, cden, w, tot, mt, mq)
    _block_jump(w, nr, seats, method, tot, mt, sb, held, bad)
    stepped = False
    for r in range(nr):
        if held[r] != seats:
            stepped = True
            break
    if stepped:
        _block_step(w, sb, nr, seats, method, held, kk, k1, k2, k3, off)
        _block_find(kk, nr, k1, k2, i1, i2)
        _block_settle(w, sb, nr, seats, method, held, bad, mq, k1, k2, k3, i1, i2)
    else:
        for r in range(nr):
            bad[r] += 1.0 if mq[r] == 0.0 else 0.0
    for r in range(nr):
        if bad[r] != 0.0:
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
                   fex, work, out):
    """Allocate rows r0 .. r0+nr-1 (nr <= BLOCK) of ``votes`` into the same rows of ``out`` with a
    divisor method: :func:`allocate_block_t` on the rows turned into columns."""
    n = votes.shape[1]
    src, sb = work[0][0], work[0][2]
    bt = work[1][0]
    for r in range(nr):  # index votes[r0 + r, i] directly: a row view would cost a refcount
        for i in range(n):
            src[i, r] = votes[r0 + r, i]
        bt[r] = bases[r0 + r]
    allocate_block_t(src, bt, nr, seats, method, thresholds, minority, exempt, cnum, cden, fex, work)
    for r in range(nr):
        for i in range(n):
            out[r0 + r, i] = np.int32(sb[i, r])


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
        fex = below_threshold_factor(minority, exempt, cnum)
        per = _TASK_BLOCKS
        blocks = (runs + BLOCK - 1) // BLOCK
        for g in nb.prange((blocks + per - 1) // per):
            work = block_work(n)
            for b in range(g * per, min(blocks, (g + 1) * per)):
                r0 = b * BLOCK
                allocate_block(votes, bases, r0, min(BLOCK, runs - r0), seats, method, thresholds,
                               minority, exempt, cnum, cden, fex, work, out)
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
